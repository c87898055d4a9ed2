"""The report's read model of orders: sales counted on completion, each event once, and events
for orders it does not know or that no longer apply changing nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from libs.contracts.order import (
    OrderCancelled,
    OrderCompleted,
    OrderConfirmed,
    OrderPartCancelled,
)
from tests.services.pickup.conftest import part_of

MAY = "?from=2026-05&to=2026-05"
IN_MAY = datetime(2026, 5, 12, 10, tzinfo=UTC)


async def may_sales(pickup, history) -> tuple[int, int, list]:
    report = (await pickup.client.get(history.report + MAY, headers=history.admin)).json()
    return (report["headline"]["orders"], report["headline"]["sales_cents"],
            [(shop["name"], shop["sales_cents"]) for shop in report["shops"]])


async def test_an_order_counts_once_its_events_are_delivered_again(pickup, history):
    order_id, buyer = uuid4(), uuid4()
    parts = [part_of(history.bakery, 700), part_of(history.cheese, 300)]
    confirmed = OrderConfirmed(order_id=order_id, hub_id=history.hub_id, slot_id=uuid4(),
                               resident_id=buyer, parts=parts, total_cents=1000)
    completed = OrderCompleted(order_id=order_id, completed_at=IN_MAY)
    before = await may_sales(pickup, history)

    for event in (confirmed, confirmed, completed, completed):
        await pickup.feed(event)

    assert before == (1, 900, [("Boulangerie Le Fournil", 900)])
    assert await may_sales(pickup, history) == (
        2, 1900, [("Boulangerie Le Fournil", 1600), ("Fromagerie du Trégor", 300)])


async def test_what_no_longer_applies_changes_nothing(pickup, history):
    before = await may_sales(pickup, history)
    unknown = uuid4()
    await pickup.feed(OrderCompleted(order_id=unknown, completed_at=IN_MAY))
    await pickup.feed(OrderPartCancelled(order_id=unknown, shop_id=history.bakery,
                                         amount_cents=500, lines=part_of(history.bakery).lines,
                                         reason="rupture"))
    cancelled = uuid4()
    await pickup.feed(OrderConfirmed(order_id=cancelled, hub_id=history.hub_id, slot_id=uuid4(),
                                     resident_id=uuid4(), parts=[part_of(history.cheese, 400)],
                                     total_cents=400))
    await pickup.feed(OrderCancelled(order_id=cancelled, reason="paiement refusé"))
    await pickup.feed(OrderCompleted(order_id=cancelled, completed_at=IN_MAY))
    handed_over = uuid4()
    await pickup.feed(OrderConfirmed(order_id=handed_over, hub_id=history.hub_id,
                                     slot_id=uuid4(), resident_id=uuid4(),
                                     parts=[part_of(history.cheese, 600)], total_cents=600))
    await pickup.feed(OrderCompleted(order_id=handed_over, completed_at=IN_MAY))
    await pickup.feed(OrderCancelled(order_id=handed_over, reason="trop tard"))
    await pickup.feed(OrderPartCancelled(order_id=handed_over, shop_id=history.cheese,
                                         amount_cents=600, lines=part_of(history.cheese).lines,
                                         reason="trop tard"))

    assert before == (1, 900, [("Boulangerie Le Fournil", 900)])
    assert await may_sales(pickup, history) == (
        2, 1500, [("Boulangerie Le Fournil", 900), ("Fromagerie du Trégor", 600)])


async def test_an_order_whose_every_part_was_cancelled_sells_nothing(pickup, history):
    order_id = uuid4()
    await pickup.feed(OrderConfirmed(order_id=order_id, hub_id=history.hub_id, slot_id=uuid4(),
                                     resident_id=uuid4(), parts=[part_of(history.cheese, 800)],
                                     total_cents=800))
    await pickup.feed(OrderPartCancelled(order_id=order_id, shop_id=history.cheese,
                                         amount_cents=800, lines=part_of(history.cheese).lines,
                                         reason="rupture"))
    await pickup.feed(OrderCompleted(order_id=order_id, completed_at=IN_MAY))

    assert await may_sales(pickup, history) == (1, 900, [("Boulangerie Le Fournil", 900)])


async def test_another_hubs_orders_stay_out_of_the_report(pickup, history):
    elsewhere = await pickup.open_hub()
    order_id = uuid4()
    await pickup.feed(OrderConfirmed(order_id=order_id, hub_id=elsewhere, slot_id=uuid4(),
                                     resident_id=uuid4(), parts=[part_of(uuid4(), 5000)],
                                     total_cents=5000))
    await pickup.feed(OrderCompleted(order_id=order_id, completed_at=IN_MAY))

    assert await may_sales(pickup, history) == (1, 900, [("Boulangerie Le Fournil", 900)])
