"""Races decided by the database, on real PostgreSQL, with every racer in flight at once: each
holds its own connection and its own open transaction, and waits at a gate until all the others
have got there too (tests/reliability/concurrency.py). Then they are let go together:

- 50 orders for the last unit of a product: one reservation, 49 clear refusals;
- 50 taps on « Payer » for one basket (one idempotency key): one order;
- 50 refunds of one shop's share asked at once: never more given back than the share;
- the shop's owner taking units out while orders reserve them: never fewer on hand than
  reserved;
- 50 checkouts for a pickup slot, with cancellations freeing places at the same time: never
  more places held than the slot has, and the slot's count matches its bookings;
- 50 sign-ups for a gathering, some residents twice: exactly its capacity, nobody twice;
- the same order handed over twice at once, or handed over while it is declared a no-show by
  hand and by the chase: one of them happens, the others are refused."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy import func, select, text

from libs.auth.tokens import Principal
from libs.contracts.catalog import StockLevelChanged, StockReservationFailed, StockReserved
from libs.contracts.order import OrderCancelled, OrderPlaced
from libs.contracts.payment import RefundIssued
from libs.contracts.pickup import (
    NoShowRecorded,
    PickedUp,
    PickupOverdue,
    ResidentSignedUp,
    SlotHeld,
    SlotReleased,
    SlotUnavailable,
)
from libs.messaging.port import Record
from services.catalog.bootstrap import CatalogSettings
from services.pickup.domain import HELD, SLOT_FULL
from services.pickup.no_show.use_cases import chase_overdue_pickups
from services.pickup.tables import Booking, Slot
from tests.reliability.concurrency import Gate, gate_handlers, gate_units_of_work, wide_pool
from tests.services.catalog.support import order_placed, running_catalog
from tests.services.order.conftest import open_town, place, running_order_service
from tests.services.payment.support import (
    basket,
    hub_admin_of,
    payment_settings,
    running_payment,
)
from tests.services.pickup.conftest import placed, running_pickup
from tests.services.pickup.desk.support import (
    cookie_of,
    hours_ago,
    move_slot,
    open_shop,
    ready_order,
)
from tests.services.pickup.gatherings.conftest import schedule, team_of_a_new_hub
from tests.support.waiting import eventually

pytestmark = pytest.mark.postgres

IN_FLIGHT = 50


@pytest.fixture
async def catalog(tmp_path, fresh_postgres_url, monkeypatch):
    wide_pool(monkeypatch, IN_FLIGHT + 5)
    settings = CatalogSettings(data_dir=tmp_path, database_url=fresh_postgres_url,
                               outbox_relay=False)
    async with running_catalog(settings) as running:
        yield running


@pytest.fixture
async def pickup(tmp_path, fresh_postgres_url, monkeypatch):
    wide_pool(monkeypatch, IN_FLIGHT + 5)
    async with running_pickup(tmp_path, fresh_postgres_url) as running:
        yield running


async def shop_with_product(catalog, stock: int) -> tuple[UUID, Principal, dict]:
    hub_id = await catalog.open_hub()
    owner = await catalog.register("yann@cave.test")
    shop = await catalog.open_shop(hub_id, owner, "La Cave du Port")
    return hub_id, owner, await catalog.list_product(shop, owner, "Chouchen", stock=stock)


async def available_to_order(catalog, hub_id: UUID, product: dict) -> int:
    [listed] = [p for p in await catalog.products(hub_id) if p["id"] == product["id"]]
    return listed["stock_available"]


# --- stock ------------------------------------------------------------------------------


async def test_fifty_orders_in_flight_for_the_last_unit_reserve_it_exactly_once(catalog):
    hub_id, _, last_one = await shop_with_product(catalog, stock=1)
    orders = [order_placed(hub_id, [(last_one, 1)]) for _ in range(IN_FLIGHT)]
    announced_before = len(await catalog.events(StockLevelChanged))
    gate_handlers(catalog.runtime, OrderPlaced, Gate(IN_FLIGHT))

    await asyncio.gather(*(catalog.feed(order) for order in orders))

    reserved = await catalog.events(StockReserved)
    refused = await catalog.events(StockReservationFailed)
    assert (len(reserved), len(refused)) == (1, IN_FLIGHT - 1)
    assert {e.order_id for e in reserved + refused} == {o.order_id for o in orders}
    # Each refusal says why, in words the order shows the resident.
    assert {(s.requested, s.available, s.reason) for e in refused for s in e.shortages} == {
        (1, 0, "plus en stock")}
    assert await catalog.stock(last_one) == (1, 1)
    assert [e.available for e in (await catalog.events(StockLevelChanged))[announced_before:]] == [0]
    assert await available_to_order(catalog, hub_id, last_one) == 0


async def test_two_batches_reserving_the_same_variants_in_opposite_orders_do_not_deadlock(catalog):
    """A consumer applies the events it fetched together in one transaction. Two partitions'
    batches, each reserving the same two variants but in the opposite order, would each hold
    one and wait for the other, were a batch's variants not locked first, all at once."""
    hub_id = await catalog.open_hub()
    owner = await catalog.register("yann@cave.test")
    shop = await catalog.open_shop(hub_id, owner, "La Cave du Port")
    cider, mead = [await catalog.list_product(shop, owner, name, stock=10)
                   for name in ("Cidre", "Chouchen")]
    batches = [[order_placed(hub_id, [(cider, 1)]), order_placed(hub_id, [(mead, 1)])],
               [order_placed(hub_id, [(mead, 1)]), order_placed(hub_id, [(cider, 1)])]]
    firsts, arrived = {batch[0].order_id for batch in batches}, []

    async def lock_waits() -> int:
        async with catalog.runtime.database.sessions() as session:
            return (await session.execute(text(
                "select count(*) from pg_stat_activity "
                "where wait_event_type = 'Lock' and datname = current_database()"))).scalar()

    async def after_first_order_of_its_batch(event, uow) -> None:
        # Each batch holds its first order's variant here until the other batch has taken its
        # own, or is waiting for a lock: the interleaving that deadlocks.
        if event.order_id in firsts:
            arrived.append(event.order_id)
            await eventually(lambda: len(arrived) == 2 or lock_waits(), timeout=15,
                             message="the other batch to reserve, or to wait for a lock")

    subscriptions = dict(catalog.runtime.definition.subscriptions)
    subscriptions[OrderPlaced] = [*subscriptions[OrderPlaced], after_first_order_of_its_batch]
    catalog.runtime.definition = replace(catalog.runtime.definition, subscriptions=subscriptions)

    await asyncio.gather(*(catalog.runtime.handle_batch([
        Record(OrderPlaced.topic, partition, offset, str(order.order_id),
               order.envelope(correlation_id="t").to_bytes())
        for offset, order in enumerate(batch)]) for partition, batch in enumerate(batches)))

    assert len(await catalog.events(StockReserved)) == 4
    assert [await available_to_order(catalog, hub_id, p) for p in (cider, mead)] == [8, 8]


async def test_units_taken_out_by_hand_during_a_rush_never_leave_fewer_on_hand_than_reserved(
    catalog,
):
    """30 on hand, 50 orders of one, and the owner takes 20 out for breakage, all at once:
    either the breakage goes first (10 left, 10 reserved) or it comes too late and is refused
    (30 reserved); never fewer units on hand than are reserved."""
    hub_id, owner, product = await shop_with_product(catalog, stock=30)
    variant_id = product["variants"][0]["id"]
    orders = [order_placed(hub_id, [(product, 1)]) for _ in range(IN_FLIGHT)]
    gate = Gate(IN_FLIGHT + 1)
    gate_handlers(catalog.runtime, OrderPlaced, gate)
    gate_units_of_work(catalog.runtime, gate)

    breakage, *_ = await asyncio.gather(
        catalog.client.post(f"/catalog/api/v1/variants/{variant_id}/stock-adjustments",
                            json={"delta": -20, "reason": "casse"},
                            headers=catalog.headers(owner)),
        *(catalog.feed(order) for order in orders))

    reserved = await catalog.events(StockReserved)
    refused = await catalog.events(StockReservationFailed)
    assert len(reserved) + len(refused) == IN_FLIGHT
    on_hand, held = await catalog.stock(product)
    if breakage.status_code == 201:
        assert (on_hand, held, len(reserved)) == (10, 10, 10)
    else:
        assert breakage.status_code == 409, breakage.text
        assert "reserved for orders in progress" in breakage.json()["error"]["message"]
        assert (on_hand, held, len(reserved)) == (30, 30, 30)
    assert await available_to_order(catalog, hub_id, product) == 0


async def test_fifty_taps_on_pay_with_one_key_place_one_order(tmp_path, fresh_postgres_url,
                                                             monkeypatch):
    """A resident taps « Payer » again and again (a slow network): every request carries the
    basket's key, all are in flight at once, and one order is placed, so one payment asked."""
    wide_pool(monkeypatch, IN_FLIGHT + 5)
    async with running_order_service(tmp_path, fresh_postgres_url) as service:
        town = await open_town(service)
        gate_units_of_work(service.runtime, Gate(IN_FLIGHT))

        answers = await asyncio.gather(*(place(service, town, key="panier-du-samedi", bread=1)
                                         for _ in range(IN_FLIGHT)))

        assert {a.status_code for a in answers} == {202}, {a.text for a in answers}
        assert len({a.json()["id"] for a in answers}) == 1
        assert len(await service.published(OrderPlaced)) == 1


# --- money given back -------------------------------------------------------------------


@pytest.fixture
async def payments(tmp_path, fresh_postgres_url, monkeypatch):
    wide_pool(monkeypatch, IN_FLIGHT + 5)
    async with running_payment(payment_settings(tmp_path, database_url=fresh_postgres_url)
                               ) as running:
        yield running


async def test_refunds_asked_at_once_never_give_back_more_than_a_shops_share(payments):
    """Of a 1000-cent share, 25 refunds of 600 asked at once under their own keys, and 25 of 300
    under one key: one of each is made (900 in all), the other 600s are told how little is
    left, and the 300's key answers the same refund to all."""
    order = basket(1000, 234)
    shop, _ = order.shops
    admin, made_admin = hub_admin_of(order.hub_id)
    await payments.feed(made_admin)
    payment_id = await payments.pay(order)
    half = IN_FLIGHT // 2
    gate_units_of_work(payments.runtime, Gate(IN_FLIGHT))

    answers = await asyncio.gather(
        *(payments.ask_refund(payment_id, admin, f"manque-{n}", shop_id=str(shop),
                              amount_cents=600) for n in range(half)),
        *(payments.ask_refund(payment_id, admin, "pesee-fausse", shop_id=str(shop), amount_cents=300)
          for _ in range(half)))

    own_keys, one_key = answers[:half], answers[half:]
    made = [a for a in own_keys if a.status_code == 201]
    others = [a for a in own_keys if a.status_code != 201]
    # 600 + 300 fit in 1000 whichever goes first; a second 600 never does.
    assert len(made) == 1 and all(a.status_code == 409 for a in others)
    assert {a.json()["error"]["message"] for a in others} <= {
        "only 400 cents of this shop's share are left to refund",
        "only 100 cents of this shop's share are left to refund"}
    assert sorted(a.status_code for a in one_key) == [200] * (half - 1) + [201]
    assert len({a.json()["id"] for a in one_key}) == 1
    refunded = [(r.shop_id, r.amount_cents) for r in await payments.events(RefundIssued)]
    assert sorted(refunded) == [(shop, 300), (shop, 600)]
    assert (await payments.payment_of(order.order_id)).refunded_cents == 900


# --- places in a pickup slot --------------------------------------------------------------


async def slot_and_bookings(pickup, slot_id: str) -> tuple[Slot, int]:
    async with pickup.runtime.database.sessions() as session:
        slot = await session.get(Slot, UUID(slot_id))
        booked = (await session.execute(
            select(func.count()).select_from(Booking)
            .where(Booking.slot_id == UUID(slot_id), Booking.status == HELD))).scalar_one()
    return slot, booked


async def test_fifty_checkouts_in_flight_hold_exactly_the_slots_capacity(pickup):
    hub_id = await pickup.open_hub()
    slot = await pickup.open_slot(hub_id, capacity=5)
    orders = [uuid4() for _ in range(IN_FLIGHT)]
    gate_handlers(pickup.runtime, OrderPlaced, Gate(IN_FLIGHT))

    await asyncio.gather(*(pickup.feed(placed(order_id, hub_id, slot["id"]))
                           for order_id in orders))

    held = await pickup.published(SlotHeld)
    refused = await pickup.published(SlotUnavailable)
    assert (len(held), len(refused)) == (5, IN_FLIGHT - 5)
    assert {e.reason for e in refused} == {SLOT_FULL}
    assert {e.order_id for e in held + refused} == set(orders)
    stored, booked = await slot_and_bookings(pickup, slot["id"])
    assert (stored.held, booked) == (5, 5)


async def test_checkouts_racing_cancellations_never_overfill_a_slot(pickup):
    """A full slot of 5; its 5 orders are cancelled while 45 new ones check out, all at once:
    a new order gets a place only once a cancellation freed one, and the slot's count of places
    held is its bookings' count."""
    hub_id = await pickup.open_hub()
    slot = await pickup.open_slot(hub_id, capacity=5)
    holders = [uuid4() for _ in range(5)]
    for order_id in holders:
        await pickup.feed(placed(order_id, hub_id, slot["id"]))
    newcomers = [uuid4() for _ in range(IN_FLIGHT - len(holders))]
    gate = Gate(IN_FLIGHT)
    gate_handlers(pickup.runtime, OrderPlaced, gate)
    gate_handlers(pickup.runtime, OrderCancelled, gate)

    await asyncio.gather(
        *(pickup.feed(OrderCancelled(order_id=order_id, reason="délai de paiement dépassé"))
          for order_id in holders),
        *(pickup.feed(placed(order_id, hub_id, slot["id"])) for order_id in newcomers))

    released = {e.order_id for e in await pickup.published(SlotReleased)}
    taken = {e.order_id for e in await pickup.published(SlotHeld)} - set(holders)
    refused = {e.order_id for e in await pickup.published(SlotUnavailable)}
    assert released == set(holders)
    assert taken | refused == set(newcomers) and not taken & refused
    stored, booked = await slot_and_bookings(pickup, slot["id"])
    assert stored.held == booked == len(taken) <= 5


async def test_fifty_sign_ups_in_flight_take_exactly_a_gatherings_places(pickup):
    """45 residents, 5 of whom tap twice, for 10 places: 10 residents get one place each."""
    team = await team_of_a_new_hub(pickup)
    gathering = await schedule(pickup, team, capacity=10)
    residents = [uuid4() for _ in range(IN_FLIGHT - 5)]
    taps = residents + residents[:5]
    sign_ups = f"{team.gatherings}/{gathering['id']}/sign-ups"
    gate_units_of_work(pickup.runtime, Gate(IN_FLIGHT))

    answers = await asyncio.gather(*(
        pickup.client.post(sign_ups, headers=pickup.headers(user_id=resident,
                                                            email=f"{resident.hex[:8]}@ex.org"))
        for resident in taps))

    statuses = [a.status_code for a in answers]
    assert statuses.count(201) == 10
    assert set(statuses) <= {200, 201, 409}
    assert {a.json()["error"]["message"] for a in answers if a.status_code == 409} == {
        "cette animation est complète"}
    signed_up = [e.user_id for e in await pickup.published(ResidentSignedUp)]
    assert len(signed_up) == len(set(signed_up)) == 10
    shown = await pickup.client.get(f"{team.gatherings}/{gathering['id']}", headers=team.admin)
    assert shown.json()["places_left"] == 0


# --- hand-overs --------------------------------------------------------------------------


async def ready_pickup(pickup) -> tuple[str, dict[str, str], UUID, str]:
    """A hub, its staff, and a ready order of one shop's part whose slot ended an hour ago;
    its code."""
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    slot = await pickup.open_slot(hub_id)
    order_id = await ready_order(pickup, hub_id, staff, [await open_shop(pickup, hub_id, "Fournil")],
                                 slot=slot)
    await move_slot(pickup, slot["id"], ends_at=hours_ago(1))
    return hub_id, staff, order_id, await pickup.code_of(order_id)


ALREADY_HANDED_OVER = "cette commande a déjà été remise"


def handover(pickup, order_id: UUID, staff: dict[str, str], code: str):
    return pickup.client.post(f"/pickup/api/v1/pickups/{order_id}/handover", headers=staff,
                              json={"code": code})


async def test_the_same_order_handed_over_twice_at_once_is_handed_over_once(pickup):
    """Two desks, one on the API and one on the desk's page, hand the same order over at once:
    one does, the other is told it was handed over already; and so is a later try."""
    hub_id, staff, order_id, code = await ready_pickup(pickup)
    other_desk = cookie_of(await pickup.hub_member(hub_id))
    gate_units_of_work(pickup.runtime, Gate(2))

    by_api, by_page = await asyncio.gather(
        handover(pickup, order_id, staff, code),
        pickup.client.post(f"/pickup/desk/{hub_id}/pickups/{order_id}/handover",
                           headers=other_desk, data={"code": code}))

    assert sorted([by_api.status_code, by_page.status_code]) in ([200, 409], [303, 409])
    if by_api.status_code == 409:
        assert by_api.json()["error"]["message"] == ALREADY_HANDED_OVER
    else:
        assert ALREADY_HANDED_OVER in by_page.text
    later = await handover(pickup, order_id, staff, code)
    assert (later.status_code, later.json()["error"]["message"]) == (409, ALREADY_HANDED_OVER)
    assert [e.order_id for e in await pickup.published(PickedUp)] == [order_id]


async def test_a_hand_over_racing_a_no_show_by_hand_and_by_the_chase_lets_one_of_them_win(
    pickup,
):
    _, staff, order_id, code = await ready_pickup(pickup)
    now = hours_ago(0)
    await chase_overdue_pickups(pickup.runtime, now=now + timedelta(hours=3))  # reminded
    [overdue] = await pickup.published(PickupOverdue)
    gate_units_of_work(pickup.runtime, Gate(3))

    handed, by_hand, chase = await asyncio.gather(
        handover(pickup, order_id, staff, code),
        pickup.client.post(f"/pickup/api/v1/pickups/{order_id}/no-show", headers=staff),
        chase_overdue_pickups(pickup.runtime, now=overdue.held_until))

    picked_up = await pickup.published(PickedUp)
    no_shows = await pickup.published(NoShowRecorded)
    assert len(picked_up) + len(no_shows) == 1
    winners = [handed.status_code == 200, by_hand.status_code == 200, bool(chase.given_up)]
    assert winners.count(True) == 1, (handed.text, by_hand.text, chase)
    assert {handed.status_code, by_hand.status_code} <= {200, 409}
    status = (await pickup.client.get(f"/pickup/api/v1/pickups/{order_id}",
                                      headers=staff)).json()["status"]
    assert status == ("picked_up" if picked_up else "no_show")
