"""A shop withdraws some units of its lines (OrderLinesCancelled), on SQLite and PostgreSQL:
those units, and only them, are released once; the rest stays reserved until sold or
released."""

from __future__ import annotations

import asyncio

from libs.contracts.catalog import StockLevelChanged, StockReleased
from libs.contracts.order import OrderCancelled, OrderCompleted, OrderLinesCancelled
from tests.services.catalog.test_reservations import Market, lines
from tests.services.catalog.test_reservations import market as market  # noqa: F401  (the fixture)


def withdrawn(stocked: Market, order, **quantities: int) -> OrderLinesCancelled:
    """The lines of ``order`` named by product, with the quantities withdrawn."""
    ids = {stocked.products[name]["id"]: quantity for name, quantity in quantities.items()}
    taken = [line.model_copy(update={"quantity": ids[str(line.product_id)]})
             for part in order.parts for line in part.lines if str(line.product_id) in ids]
    return OrderLinesCancelled(order_id=order.order_id, shop_id=taken[0].shop_id,
                               amount_cents=sum(line.quantity * line.unit_price_cents
                                                for line in taken),
                               lines=taken, reason="farine épuisée")


async def test_withdrawn_units_are_released_once_and_the_rest_stays_reserved(market):
    order = market.order(bread=3, cake=2, cider=1)
    await market.catalog.feed(order)
    levels_before = len(await market.catalog.events(StockLevelChanged))

    envelope = await market.catalog.feed(withdrawn(market, order, bread=1, cake=2))
    await asyncio.gather(*(market.catalog.deliver(envelope) for _ in range(3)))

    [released] = await market.catalog.events(StockReleased)
    assert lines(released) == {market.products["bread"]["id"]: 1,
                               market.products["cake"]["id"]: 2}
    assert [await market.stock(n) for n in ("bread", "cake", "cider")] == [(10, 2), (2, 0), (5, 1)]
    levels = (await market.catalog.events(StockLevelChanged))[levels_before:]
    assert sorted((str(e.product_id), e.available) for e in levels) == sorted(
        [(market.products["bread"]["id"], 8), (market.products["cake"]["id"], 2)])


async def test_the_units_left_are_what_completion_sells_and_cancellation_releases(market):
    sold, undone = market.order(bread=3, cider=2), market.order(bread=4)
    for order in (sold, undone):
        await market.catalog.feed(order)
    await market.catalog.feed(withdrawn(market, sold, bread=1))
    await market.catalog.feed(withdrawn(market, undone, bread=3))

    await market.catalog.feed(OrderCompleted(order_id=sold.order_id,
                                             completed_at="2026-11-21T17:00:00+00:00"))
    await market.catalog.feed(OrderCancelled(order_id=undone.order_id, reason="plus rien"))

    assert [await market.stock(n) for n in ("bread", "cider")] == [(8, 0), (3, 0)]
    last = (await market.catalog.events(StockReleased))[-1]
    assert (last.order_id, lines(last)) == (undone.order_id, {market.products["bread"]["id"]: 1})


async def test_more_units_than_are_still_reserved_release_nothing(market):
    order = market.order(bread=2)
    await market.catalog.feed(order)
    await market.catalog.feed(OrderCancelled(order_id=order.order_id, reason="plus rien"))

    await market.catalog.feed(withdrawn(market, order, bread=1))
    await market.catalog.feed(withdrawn(market, market.order(bread=1), bread=1))

    assert len(await market.catalog.events(StockReleased)) == 1
    assert await market.stock("bread") == (10, 0)
