"""What the pickup service does: load, change, write the outbox, commit."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

from sqlmodel import select

from libs.contracts.pickup import HubOpened
from libs.kit.errors import NotFound
from libs.kit.runtime import ServiceRuntime
from services.pickup.domain import HubDetails
from services.pickup.tables import Hub


async def open_hub(runtime: ServiceRuntime, details: HubDetails) -> Hub:
    hub = Hub(id=uuid4(), opened_at=datetime.now(UTC), **details.model_dump())
    async with runtime.unit_of_work() as uow:
        uow.session.add(hub)
        await uow.emit(HubOpened(hub_id=hub.id, **details.model_dump()))
    return hub


async def list_hubs(runtime: ServiceRuntime) -> list[Hub]:
    async with runtime.database.sessions() as session:
        return list((await session.exec(select(Hub).order_by(Hub.town, Hub.name))).all())


async def get_hub(runtime: ServiceRuntime, hub_id: UUID) -> Hub:
    async with runtime.database.sessions() as session:
        hub = await session.get(Hub, hub_id)
    if hub is None:
        raise NotFound(f"no hub {hub_id}")
    return hub
