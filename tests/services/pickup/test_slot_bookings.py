"""The saga's slot step: holding a place on OrderPlaced, releasing it when the order is undone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from libs.contracts.catalog import ShortLine, StockReservationFailed
from libs.contracts.order import OrderCancelled, OrderRejected
from libs.contracts.pickup import SlotHeld, SlotReleased, SlotUnavailable
from libs.messaging.port import Message
from services.pickup.tables import Slot
from tests.services.pickup.conftest import placed
from tests.support.waiting import eventually


async def remaining(pickup, hub_id: str, slot_id: str) -> int:
    slots = (await pickup.client.get(f"/pickup/api/v1/hubs/{hub_id}/slots")).json()
    return next(s["remaining"] for s in slots if s["id"] == slot_id)


async def test_concurrent_holds_never_exceed_capacity(pickup_on_each_engine):
    pickup = pickup_on_each_engine
    hub_id = await pickup.open_hub()
    slot = await pickup.open_slot(hub_id, capacity=3)

    await asyncio.gather(*(pickup.feed(placed(uuid4(), hub_id, slot["id"])) for _ in range(10)))

    held = await pickup.published(SlotHeld)
    unavailable = await pickup.published(SlotUnavailable)
    assert (len(held), len(unavailable)) == (3, 7)
    assert {e.reason for e in unavailable} == {"créneau complet"}
    assert {e.order_id for e in held}.isdisjoint({e.order_id for e in unavailable})
    assert await remaining(pickup, hub_id, slot["id"]) == 0


async def test_a_held_place_says_when_the_slot_is(pickup):
    hub_id = await pickup.open_hub()
    slot = await pickup.open_slot(hub_id)
    order_id = uuid4()

    await pickup.feed(placed(order_id, hub_id, slot["id"]))

    [held] = await pickup.published(SlotHeld)
    assert (held.order_id, str(held.slot_id), str(held.hub_id)) == (order_id, slot["id"], hub_id)
    assert held.starts_at == datetime.fromisoformat(slot["starts_at"])
    assert held.ends_at == datetime.fromisoformat(slot["ends_at"])


async def test_unknown_foreign_and_started_slots_are_unavailable_with_a_reason(pickup):
    hub_id, other_hub_id = await pickup.open_hub(), await pickup.open_hub()
    foreign = await pickup.open_slot(other_hub_id)
    started = Slot(id=uuid4(), hub_id=UUID(hub_id), starts_at=datetime.now(UTC) - timedelta(minutes=5),
                   ends_at=datetime.now(UTC) + timedelta(hours=1), capacity=5)
    async with pickup.runtime.database.sessions() as session, session.begin():
        session.add(started)

    await pickup.feed(placed(uuid4(), hub_id, str(uuid4())))
    await pickup.feed(placed(uuid4(), hub_id, foreign["id"]))
    await pickup.feed(placed(uuid4(), hub_id, str(started.id)))

    reasons = [e.reason for e in await pickup.published(SlotUnavailable)]
    assert reasons == ["créneau inconnu", "créneau inconnu", "créneau passé"]
    assert await pickup.published(SlotHeld) == []
    assert await remaining(pickup, other_hub_id, foreign["id"]) == 5


async def test_an_order_placed_twice_holds_one_place(pickup):
    hub_id = await pickup.open_hub()
    slot = await pickup.open_slot(hub_id)
    order = placed(uuid4(), hub_id, slot["id"])

    await pickup.feed(order)
    await pickup.feed(order)  # a new envelope, so a new event id: the inbox does not see it twice

    assert len(await pickup.published(SlotHeld)) == 1
    assert await remaining(pickup, hub_id, slot["id"]) == 4


async def test_a_held_place_goes_back_once_when_the_order_is_undone(pickup):
    hub_id = await pickup.open_hub()
    slot = await pickup.open_slot(hub_id, capacity=2)
    out_of_stock, cancelled = uuid4(), uuid4()
    await pickup.feed(placed(out_of_stock, hub_id, slot["id"]))
    await pickup.feed(placed(cancelled, hub_id, slot["id"]))
    assert await remaining(pickup, hub_id, slot["id"]) == 0

    shortage = ShortLine(product_id=uuid4(), variant_id=uuid4(), requested=2, available=0,
                         reason="épuisé")
    await pickup.feed(StockReservationFailed(order_id=out_of_stock, shortages=[shortage]))
    await pickup.feed(OrderRejected(order_id=out_of_stock, reasons=["épuisé"]))
    await pickup.feed(OrderCancelled(order_id=cancelled, reason="paiement refusé"))
    await pickup.feed(OrderCancelled(order_id=uuid4(), reason="jamais réservé"))

    released = await pickup.published(SlotReleased)
    assert sorted(e.order_id for e in released) == sorted([out_of_stock, cancelled])
    assert await remaining(pickup, hub_id, slot["id"]) == 2


async def test_orders_placed_on_the_bus_reach_the_slot(pickup):
    hub_id = await pickup.open_hub()
    slot = await pickup.open_slot(hub_id)
    order = placed(uuid4(), hub_id, slot["id"])

    await pickup.runtime.bus.publish([Message(order.topic, order.key,
                                              order.envelope(correlation_id="bus").to_bytes())])

    async def held() -> bool:
        return [e.order_id for e in await pickup.published(SlotHeld)] == [order.order_id]

    await eventually(held, message="SlotHeld after OrderPlaced on the bus")
