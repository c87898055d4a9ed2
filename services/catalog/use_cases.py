"""What the catalog service does: load, change, write the outbox, commit."""

from __future__ import annotations

from sqlmodel import select

from libs.contracts.pickup import HubOpened
from libs.kit.runtime import ServiceRuntime, UnitOfWork
from services.catalog.tables import KnownHub


async def record_opened_hub(event: HubOpened, uow: UnitOfWork) -> None:
    hub = await uow.session.get(KnownHub, event.hub_id)
    if hub is None:
        uow.session.add(KnownHub(id=event.hub_id, name=event.name, town=event.town))
    else:
        hub.name, hub.town = event.name, event.town


async def list_known_hubs(runtime: ServiceRuntime) -> list[KnownHub]:
    async with runtime.database.sessions() as session:
        return list((await session.exec(select(KnownHub).order_by(KnownHub.town))).all())
