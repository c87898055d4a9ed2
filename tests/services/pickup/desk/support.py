"""What the desk's and the no-show's tests share: a resident's confirmed order, a slot moved
into the past, staff's session cookie."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy import update

from libs.contracts.catalog import ShopOpened
from libs.contracts.order import OrderConfirmed
from services.pickup.tables import Pickup, Slot
from tests.services.pickup.conftest import part_of, placed


async def residents_order(pickup, hub_id: str, shop_ids: list[UUID], resident_id: UUID, *,
                          slot: dict | None = None) -> UUID:
    """An order placed and paid by ``resident_id``: the hub expects one part per shop."""
    slot = slot or await pickup.open_slot(hub_id)
    order_id = uuid4()
    parts = [part_of(shop_id) for shop_id in shop_ids]
    await pickup.feed(placed(order_id, hub_id, slot["id"], parts))
    await pickup.feed(OrderConfirmed(order_id=order_id, hub_id=hub_id, slot_id=slot["id"],
                                     resident_id=resident_id, parts=parts,
                                     total_cents=sum(p.total_cents for p in parts)))
    return order_id


async def ready_order(pickup, hub_id: str, staff: dict, shop_ids: list[UUID], *,
                      resident_id: UUID | None = None, slot: dict | None = None) -> UUID:
    """A confirmed order whose every part is on the shelves."""
    order_id = await residents_order(pickup, hub_id, shop_ids, resident_id or uuid4(), slot=slot)
    for shop_id in shop_ids:
        dropped = await pickup.client.post(f"/pickup/api/v1/pickups/{order_id}/drop-offs",
                                           json={"shop_id": str(shop_id)}, headers=staff)
        assert dropped.status_code == 200, dropped.text
    return order_id


async def move_slot(pickup, slot_id: str, *, ends_at: datetime) -> None:
    """The slot took place already (no API opens a slot in the past), and the goods of its
    ready pickups were in before it started."""
    starts_at = ends_at - timedelta(hours=1)
    async with pickup.runtime.unit_of_work() as uow:
        await uow.session.execute(update(Slot).where(Slot.id == UUID(slot_id))
                                  .values(starts_at=starts_at, ends_at=ends_at))
        await uow.session.execute(update(Pickup).where(Pickup.slot_id == UUID(slot_id),
                                                       Pickup.ready_at.is_not(None))
                                  .values(ready_at=starts_at - timedelta(hours=1)))


def hours_ago(hours: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)


async def open_shop(pickup, hub_id: str, name: str) -> UUID:
    shop_id = uuid4()
    await pickup.feed(ShopOpened(shop_id=shop_id, hub_id=hub_id, name=name, owner_id=uuid4(),
                                 owner_email=f"{shop_id.hex[:6]}@example.org"))
    return shop_id


def cookie_of(headers: dict[str, str]) -> dict[str, str]:
    """The same person, signed in on the pages (session cookie) rather than the API."""
    return {"Cookie": "adopte_session=" + headers["Authorization"].removeprefix("Bearer ")}
