"""The order's side of the saga, driven by the events the other services send: either order of
arrival, late and repeated events, every compensation, and the unpaid-order sweep."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from libs.contracts.catalog import (
    ReservedLine,
    ShortLine,
    StockReservationFailed,
    StockReserved,
)
from libs.contracts.order import (
    OrderCancelled,
    OrderCompleted,
    OrderConfirmed,
    OrderReady,
    OrderRejected,
    PaymentRequested,
)
from libs.contracts.payment import PaymentFailed, PaymentStarted
from libs.contracts.pickup import (
    PartDroppedOff,
    PickedUp,
    PickupReady,
    PickupScheduled,
    SlotHeld,
    SlotUnavailable,
)
from services.order.tables import Order
from services.order.use_cases import (
    confirm_paid_order,
    expire_unpaid_orders,
    note_payment_started,
    note_slot_held,
    note_stock_reserved,
)
from tests.services.order.conftest import (
    OrderService,
    Town,
    open_town,
    payment_succeeded,
    place,
    read_order,
    refund_issued,
    running_order_service,
)


def stock_reserved(order_id) -> StockReserved:
    return StockReserved(order_id=order_id, lines=[ReservedLine(
        product_id=uuid.uuid4(), variant_id=uuid.uuid4(), quantity=1)])


def slot_held(town: Town, order_id) -> SlotHeld:
    return SlotHeld(order_id=order_id, slot_id=town.slot_id, hub_id=town.hub_id,
                    starts_at=town.slot_starts_at, ends_at=town.slot_starts_at + timedelta(hours=2))


async def placed_order(service: OrderService, town: Town, **quantities) -> uuid.UUID:
    answer = await place(service, town, **(quantities or {"bread": 2, "tomme": 1}))
    assert answer.status_code == 202, answer.text
    return uuid.UUID(answer.json()["id"])


async def status_of(service: OrderService, town: Town, order_id) -> dict:
    answer = await read_order(service, order_id, town.resident)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def awaiting_payment(service: OrderService, town: Town) -> tuple[uuid.UUID, uuid.UUID]:
    """An order whose stock and slot are held and whose payment has started."""
    order_id = await placed_order(service, town)
    await service.feed(stock_reserved(order_id))
    await service.feed(slot_held(town, order_id))
    payment_id = uuid.uuid4()
    await service.feed(PaymentStarted(payment_id=payment_id, order_id=order_id,
                                      amount_cents=2 * 420 + 1290, provider="simulated"))
    return order_id, payment_id


@pytest.mark.parametrize("first", ["stock", "slot"])
async def test_the_happy_path_from_placed_to_completed(service, town, first):
    order_id = await placed_order(service, town)
    held = [stock_reserved(order_id), slot_held(town, order_id)]
    await service.feed(held[0] if first == "stock" else held[1])
    assert (await status_of(service, town, order_id))["status"] == "placed"
    assert await service.published(PaymentRequested) == []

    before = datetime.now(UTC)
    await service.feed(held[1] if first == "stock" else held[0])
    order = await status_of(service, town, order_id)
    assert order["status"] == "awaiting_payment"
    [requested] = await service.published(PaymentRequested)
    assert (requested.order_id, requested.hub_id) == (order_id, town.hub_id)
    assert requested.resident_id == town.resident.user_id
    assert requested.total_cents == 2 * 420 + 1290 == sum(p.total_cents for p in requested.parts)
    assert before + timedelta(seconds=899) < requested.pay_by <= datetime.now(UTC) + timedelta(
        seconds=900)
    assert datetime.fromisoformat(order["pay_by"]) == requested.pay_by

    payment_id = uuid.uuid4()
    await service.feed(PaymentStarted(payment_id=payment_id, order_id=order_id,
                                      amount_cents=requested.total_cents, provider="simulated"))
    assert (await status_of(service, town, order_id))["payment"] == {"id": str(payment_id),
                                                                    "status": "pending"}
    await service.feed(payment_succeeded(order_id, payment_id, requested.total_cents))
    order = await status_of(service, town, order_id)
    assert order["status"] == "confirmed"
    assert order["payment"]["status"] == "succeeded"
    [confirmed] = await service.published(OrderConfirmed)
    assert (confirmed.slot_id, confirmed.total_cents) == (town.slot_id, requested.total_cents)
    assert {p.shop_id for p in confirmed.parts} == {town.bakery.id, town.cheese.id}

    await service.feed(PickupScheduled(order_id=order_id, hub_id=town.hub_id,
                                       slot_id=town.slot_id, code="K7Q2PM"))
    assert (await status_of(service, town, order_id))["pickup"] == {"slot_id": str(town.slot_id),
                                                                   "code": "K7Q2PM"}
    for shop in (town.bakery, town.cheese):
        await service.feed(PartDroppedOff(order_id=order_id, shop_id=shop.id))
    order = await status_of(service, town, order_id)
    assert order["status"] == "confirmed"
    assert {p["status"] for p in order["parts"]} == {"dropped_off"}

    await service.feed(PickupReady(order_id=order_id))
    assert (await status_of(service, town, order_id))["status"] == "ready"
    assert [e.order_id for e in await service.published(OrderReady)] == [order_id]

    await service.feed(PickedUp(order_id=order_id))
    order = await status_of(service, town, order_id)
    assert order["status"] == "completed"
    assert {p["status"] for p in order["parts"]} == {"handed_over"}
    [completed] = await service.published(OrderCompleted)
    assert completed.order_id == order_id


async def test_a_redelivered_or_repeated_event_changes_nothing(service, town):
    order_id = await placed_order(service, town)
    reserved = stock_reserved(order_id)
    raw = reserved.envelope(correlation_id="test").to_bytes()
    await service.deliver(raw, reserved)
    await service.deliver(raw, reserved)
    await service.feed(slot_held(town, order_id))
    await service.feed(slot_held(town, order_id))
    await service.feed(stock_reserved(order_id))
    assert len(await service.published(PaymentRequested)) == 1

    await service.feed(PickupReady(order_id=order_id))
    await service.feed(PickedUp(order_id=order_id))
    assert (await status_of(service, town, order_id))["status"] == "awaiting_payment"
    assert await service.published(OrderReady) == await service.published(OrderCompleted) == []


async def test_a_stock_shortage_rejects_the_order_with_its_reasons(service, town):
    order_id = await placed_order(service, town)
    await service.feed(slot_held(town, order_id))
    await service.feed(StockReservationFailed(order_id=order_id, shortages=[ShortLine(
        product_id=town.cheese.product("Tomme de Bretagne"),
        variant_id=town.cheese.variant("Tomme de Bretagne"), requested=1, available=0,
        reason="plus en stock")]))

    order = await status_of(service, town, order_id)
    assert order["status"] == "rejected"
    assert order["reasons"] == ["Tomme de Bretagne : plus en stock"]
    assert {p["status"] for p in order["parts"]} == {"cancelled"}
    [rejected] = await service.published(OrderRejected)
    assert rejected.reasons == order["reasons"]

    await service.feed(stock_reserved(order_id))
    assert (await status_of(service, town, order_id))["status"] == "rejected"
    assert await service.published(PaymentRequested) == []


async def test_an_unavailable_slot_rejects_the_order(service, town):
    order_id = await placed_order(service, town)
    await service.feed(stock_reserved(order_id))
    await service.feed(SlotUnavailable(order_id=order_id, slot_id=town.slot_id,
                                       reason="le créneau est complet"))
    await service.feed(SlotUnavailable(order_id=order_id, slot_id=town.slot_id,
                                       reason="le créneau est complet"))
    order = await status_of(service, town, order_id)
    assert (order["status"], order["reasons"]) == ("rejected",
                                                   ["créneau indisponible : le créneau est complet"])
    assert len(await service.published(OrderRejected)) == 1


async def test_a_failed_payment_cancels_the_order(service, town):
    order_id, payment_id = await awaiting_payment(service, town)
    await service.feed(PaymentFailed(payment_id=payment_id, order_id=order_id,
                                     reason="card_declined"))
    order = await status_of(service, town, order_id)
    assert (order["status"], order["reasons"]) == ("cancelled", ["paiement refusé"])
    assert order["payment"] == {"id": str(payment_id), "status": "failed"}
    assert {p["status"] for p in order["parts"]} == {"cancelled"}
    [cancelled] = await service.published(OrderCancelled)
    assert (cancelled.order_id, cancelled.reason) == (order_id, "paiement refusé")


async def test_an_order_unpaid_past_its_delay_is_cancelled_by_the_sweep(tmp_path):
    async with running_order_service(tmp_path, payment_delay_s=0.001) as service:
        town = await open_town(service)
        order_id, _ = await awaiting_payment(service, town)
        await expire_unpaid_orders(service.runtime)
        order = await status_of(service, town, order_id)
        assert (order["status"], order["reasons"]) == ("cancelled", ["délai de paiement dépassé"])
        [cancelled] = await service.published(OrderCancelled)
        assert cancelled.reason == "délai de paiement dépassé"

        await expire_unpaid_orders(service.runtime)
        assert len(await service.published(OrderCancelled)) == 1


async def test_the_sweep_leaves_orders_within_their_delay(service, town):
    order_id, _ = await awaiting_payment(service, town)
    await expire_unpaid_orders(service.runtime)
    assert (await status_of(service, town, order_id))["status"] == "awaiting_payment"
    assert await service.published(OrderCancelled) == []


async def test_a_payment_succeeding_after_the_cancellation_is_ignored(tmp_path):
    async with running_order_service(tmp_path, payment_delay_s=0.001) as service:
        town = await open_town(service)
        order_id, payment_id = await awaiting_payment(service, town)
        await expire_unpaid_orders(service.runtime)
        await service.feed(payment_succeeded(order_id, payment_id, 2110))
        order = await status_of(service, town, order_id)
        assert order["status"] == "cancelled"
        assert order["payment"]["status"] == "succeeded"
        assert await service.published(OrderConfirmed) == []

        await service.feed(refund_issued(order_id, payment_id, 2110))
        assert (await status_of(service, town, order_id))["payment"]["status"] == "refunded"


async def test_the_sweep_and_a_late_payment_racing_make_one_transition(tmp_path, database_url):
    async with running_order_service(tmp_path, database_url, payment_delay_s=0.001) as service:
        town = await open_town(service)
        orders = [await awaiting_payment(service, town) for _ in range(5)]
        await asyncio.gather(expire_unpaid_orders(service.runtime), *(
            service.feed(payment_succeeded(order_id, payment_id, 2110))
            for order_id, payment_id in orders))

        confirmed = {e.order_id for e in await service.published(OrderConfirmed)}
        cancelled = {e.order_id for e in await service.published(OrderCancelled)}
        assert confirmed | cancelled == {order_id for order_id, _ in orders}
        assert not confirmed & cancelled
        for order_id, _ in orders:
            expected = "confirmed" if order_id in confirmed else "cancelled"
            assert (await status_of(service, town, order_id))["status"] == expected


async def test_stock_and_slot_held_at_once_request_payment_once(tmp_path, database_url):
    async with running_order_service(tmp_path, database_url) as service:
        town = await open_town(service)
        orders = [await placed_order(service, town) for _ in range(5)]
        await asyncio.gather(*(feed for order_id in orders for feed in (
            service.feed(stock_reserved(order_id)), service.feed(slot_held(town, order_id)))))
        requested = [e.order_id for e in await service.published(PaymentRequested)]
        assert sorted(requested) == sorted(orders)


async def test_events_of_one_order_handled_in_one_transaction_see_each_other(
        tmp_path, database_url):
    """As when a batch of records shares a session: each handler reads the order as the ones
    before it left it, whatever the session held of it."""
    async with running_order_service(tmp_path, database_url) as service:
        town = await open_town(service)
        order_id = await placed_order(service, town)
        payment_id = uuid.uuid4()
        async with service.runtime.unit_of_work() as uow:
            assert (await uow.session.get(Order, order_id)).status == "placed"
            await note_stock_reserved(stock_reserved(order_id), uow)
            await note_slot_held(slot_held(town, order_id), uow)
            await note_payment_started(PaymentStarted(
                payment_id=payment_id, order_id=order_id, amount_cents=2 * 420 + 1290,
                provider="simulated"), uow)
            await confirm_paid_order(payment_succeeded(order_id, payment_id, 2 * 420 + 1290), uow)

        order = await status_of(service, town, order_id)
        assert (order["status"], order["payment"]["status"]) == ("confirmed", "succeeded")
        assert [e.order_id for e in await service.published(PaymentRequested)] == [order_id]
        [confirmed] = await service.published(OrderConfirmed)
        assert sorted(len(part.lines) for part in confirmed.parts) == [1, 1]
