"""What the schedule's tests share: a hub with an admin, hours put through the API, slots read
back from the database."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from uuid import UUID

import httpx
from sqlmodel import select

from services.pickup.bootstrap import PickupSettings
from services.pickup.main import create_app
from services.pickup.schedule.tables import HubSchedule
from services.pickup.schedule.use_cases import generate_slots
from services.pickup.tables import Slot
from tests.services.pickup.conftest import Pickup
from tests.support.csrf import csrf_ready

EVERY_DAY = {day: [{"opens": "09:00", "closes": "10:00"}]
             for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                         "sunday")}


async def hub_with_admin(pickup) -> tuple[str, dict[str, str]]:
    hub_id = await pickup.open_hub()
    return hub_id, await pickup.hub_member(hub_id, "admin")


async def put_hours(pickup, hub_id: str, admin: dict[str, str], weekly: dict | None = None,
                    **settings) -> dict:
    response = await pickup.client.put(f"/pickup/api/v1/hubs/{hub_id}/opening-hours",
                                       json=EVERY_DAY if weekly is None else weekly,
                                       headers=admin)
    assert response.status_code == 200, response.text
    if settings:
        current = response.json()["settings"]
        response = await pickup.client.put(f"/pickup/api/v1/hubs/{hub_id}/slot-settings",
                                           json={**current, **settings}, headers=admin)
        assert response.status_code == 200, response.text
    return response.json()


async def generate_at(pickup, hub_id: str, now: datetime):
    """Generation as if it ran at ``now`` (the periodic job and the admin run it at the real
    time)."""
    async with pickup.runtime.unit_of_work() as uow:
        return await generate_slots(uow, UUID(hub_id), now)


async def slots_of(pickup, hub_id: str) -> list[Slot]:
    async with pickup.runtime.database.sessions() as session:
        return list((await session.exec(
            select(Slot).where(Slot.hub_id == UUID(hub_id)).order_by(Slot.starts_at))).all())


async def generated_at(pickup, hub_id: str) -> datetime | None:
    async with pickup.runtime.database.sessions() as session:
        return (await session.get(HubSchedule, UUID(hub_id))).generated_at


@contextlib.asynccontextmanager
async def pickup_with(settings: PickupSettings) -> AsyncIterator[Pickup]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with csrf_ready(httpx.AsyncClient(transport=transport, base_url="http://hub")) as client:
            yield Pickup(client, app.state.runtime)
