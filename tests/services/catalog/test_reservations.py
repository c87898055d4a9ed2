"""Stock in the order saga, on SQLite and PostgreSQL: reserved all or nothing and never oversold,
released when the order or a part of it is undone, sold when it is handed over."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from uuid import UUID, uuid4

import pytest

from libs.auth.tokens import Principal
from libs.contracts.catalog import (
    StockLevelChanged,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)
from libs.contracts.order import (
    OrderCancelled,
    OrderCompleted,
    OrderPartCancelled,
    OrderPlaced,
    OrderRejected,
)
from libs.contracts.pickup import NoShowRecorded, SlotUnavailable
from tests.services.catalog.support import Catalog, order_placed


@dataclass
class Market:
    """A hub with two shops: a bakery (bread 10, cake 2) and a cellar (cider 5)."""

    catalog: Catalog
    hub_id: UUID
    cellarman: Principal
    products: dict[str, dict]

    def order(self, **quantities: int) -> OrderPlaced:
        return order_placed(self.hub_id, [(self.products[n], q) for n, q in quantities.items()])

    async def stock(self, name: str) -> tuple[int, int]:
        return await self.catalog.stock(self.products[name])


@pytest.fixture
async def market(catalog_on_each_database) -> Market:
    catalog = catalog_on_each_database
    hub_id = await catalog.open_hub()
    baker = await catalog.register("marie@fournil.test")
    cellarman = await catalog.register("paul@cave.test")
    bakery = await catalog.open_shop(hub_id, baker, "Le Fournil")
    cellar = await catalog.open_shop(hub_id, cellarman, "La Cave")
    return Market(catalog, hub_id, cellarman, {
        "bread": await catalog.list_product(bakery, baker, "Pain", stock=10),
        "cake": await catalog.list_product(bakery, baker, "Far breton", stock=2),
        "cider": await catalog.list_product(cellar, cellarman, "Cidre", stock=5),
    })


def lines(event) -> dict[str, int]:
    return {str(line.product_id): line.quantity for line in event.lines}


async def test_every_line_of_every_part_is_reserved(market):
    order = market.order(bread=3, cake=2, cider=1)

    await market.catalog.feed(order)

    [reserved] = await market.catalog.events(StockReserved)
    assert reserved.order_id == order.order_id
    ids = {name: product["id"] for name, product in market.products.items()}
    assert lines(reserved) == {ids["bread"]: 3, ids["cake"]: 2, ids["cider"]: 1}
    assert await market.stock("bread") == (10, 3)
    available = {p["name"]: p["stock_available"] for p in await market.catalog.products(market.hub_id)}
    assert available == {"Pain": 7, "Far breton": 0, "Cidre": 4}


async def test_nothing_is_reserved_unless_everything_can_be_and_every_shortage_is_told(market):
    catalog, products = market.catalog, market.products
    withdrawn = await catalog.client.patch(f"/catalog/api/v1/products/{products['cider']['id']}",
                                           headers=catalog.headers(market.cellarman),
                                           json={"available": False})
    assert withdrawn.status_code == 200
    ghost = {"id": str(uuid4()), "shop_id": products["bread"]["shop_id"], "name": "Fantôme",
             "variants": [{"id": str(uuid4()), "label": "", "price_cents": 100}]}
    order = order_placed(market.hub_id, [(products["bread"], 4), (products["cake"], 3),
                                         (products["cider"], 1), (ghost, 1)])

    await catalog.feed(order)

    assert await catalog.events(StockReserved) == []
    [failed] = await catalog.events(StockReservationFailed)
    assert failed.order_id == order.order_id
    assert {str(s.product_id): (s.requested, s.available, s.reason) for s in failed.shortages} == {
        products["cake"]["id"]: (3, 2, "plus que 2 en stock"),
        products["cider"]["id"]: (1, 0, "produit indisponible"),
        ghost["id"]: (1, 0, "produit inconnu"),
    }
    assert await market.stock("bread") == (10, 0)
    assert await market.stock("cake") == (2, 0)


async def test_lines_of_one_product_count_together(market):
    order = market.order(cake=2)
    doubled = order.model_copy(update={"parts": [order.parts[0].model_copy(
        update={"lines": order.parts[0].lines * 2})]})

    await market.catalog.feed(doubled)

    [failed] = await market.catalog.events(StockReservationFailed)
    assert [(s.requested, s.available, s.reason) for s in failed.shortages] == [
        (4, 2, "plus que 2 en stock")]


async def test_twenty_orders_for_the_last_unit_reserve_it_once(market):
    catalog = market.catalog
    last_one = await catalog.list_product(
        {"id": market.products["cider"]["shop_id"]}, market.cellarman, "Chouchen", stock=1)
    orders = [order_placed(market.hub_id, [(last_one, 1)]) for _ in range(20)]

    await asyncio.gather(*(catalog.feed(order) for order in orders))

    reserved = await catalog.events(StockReserved)
    failed = await catalog.events(StockReservationFailed)
    assert (len(reserved), len(failed)) == (1, 19)
    assert {e.order_id for e in reserved + failed} == {o.order_id for o in orders}
    assert {(s.available, s.reason) for e in failed for s in e.shortages} == {(0, "plus en stock")}
    assert await catalog.stock(last_one) == (1, 1)
    [chouchen] = [p for p in await catalog.products(market.hub_id) if p["id"] == last_one["id"]]
    assert chouchen["stock_available"] == 0


async def test_concurrent_orders_for_several_products_never_oversell(market):
    catalog = market.catalog
    orders = [market.order(bread=2, cake=1, cider=1) for _ in range(8)]

    await asyncio.gather(*(catalog.feed(order) for order in reversed(orders)))

    reserved = await catalog.events(StockReserved)
    assert len(reserved) == 2  # the two cakes run out first
    assert len(await catalog.events(StockReservationFailed)) == 6
    assert [await market.stock(n) for n in ("bread", "cake", "cider")] == [(10, 4), (2, 2), (5, 2)]


@pytest.mark.parametrize("undoing", ["slot_unavailable", "rejected", "cancelled", "no_show"])
async def test_an_undone_order_gives_its_stock_back_once(market, undoing):
    order = market.order(bread=3, cider=2)
    await market.catalog.feed(order)
    undo = {
        "slot_unavailable": SlotUnavailable(order_id=order.order_id, slot_id=order.slot_id,
                                            reason="complet"),
        "rejected": OrderRejected(order_id=order.order_id, reasons=["créneau complet"]),
        "cancelled": OrderCancelled(order_id=order.order_id, reason="paiement refusé"),
        "no_show": NoShowRecorded(order_id=order.order_id, hub_id=market.hub_id,
                                  shop_ids=[part.shop_id for part in order.parts]),
    }[undoing]

    await market.catalog.feed(undo)
    await market.catalog.feed(OrderCancelled(order_id=order.order_id, reason="again"))

    [released] = await market.catalog.events(StockReleased)
    assert released.order_id == order.order_id
    assert lines(released) == {market.products["bread"]["id"]: 3, market.products["cider"]["id"]: 2}
    assert [await market.stock(n) for n in ("bread", "cider")] == [(10, 0), (5, 0)]


async def test_undoing_an_order_that_reserved_nothing_releases_nothing(market):
    order = market.order(cake=5)
    await market.catalog.feed(order)
    await market.catalog.feed(OrderRejected(order_id=order.order_id, reasons=["stock"]))
    await market.catalog.feed(OrderCancelled(order_id=uuid4(), reason="never seen"))

    assert await market.catalog.events(StockReleased) == []
    assert await market.stock("cake") == (2, 0)


async def test_undoings_racing_each_other_release_once(market):
    order = market.order(bread=3, cider=2)
    await market.catalog.feed(order)
    undoings = [
        SlotUnavailable(order_id=order.order_id, slot_id=order.slot_id, reason="complet"),
        OrderRejected(order_id=order.order_id, reasons=["créneau complet"]),
        OrderCancelled(order_id=order.order_id, reason="paiement refusé"),
    ]

    await asyncio.gather(*(market.catalog.feed(undo) for undo in undoings * 4))

    assert len(await market.catalog.events(StockReleased)) == 1
    assert [await market.stock(n) for n in ("bread", "cider")] == [(10, 0), (5, 0)]


async def test_a_cancelled_part_gives_back_that_shops_stock_only(market):
    order = market.order(bread=3, cake=1, cider=2)
    await market.catalog.feed(order)
    bakery_part = next(p for p in order.parts if str(p.shop_id) == market.products["bread"]["shop_id"])
    cancelled = OrderPartCancelled(order_id=order.order_id, shop_id=bakery_part.shop_id,
                                   amount_cents=bakery_part.total_cents, lines=bakery_part.lines,
                                   reason="four en panne")

    await market.catalog.feed(cancelled)
    await market.catalog.feed(OrderCancelled(order_id=order.order_id, reason="plus rien"))

    first, second = await market.catalog.events(StockReleased)
    assert lines(first) == {market.products["bread"]["id"]: 3, market.products["cake"]["id"]: 1}
    assert lines(second) == {market.products["cider"]["id"]: 2}
    assert [await market.stock(n) for n in ("bread", "cake", "cider")] == [(10, 0), (2, 0), (5, 0)]


async def test_a_completed_order_sells_its_units(market):
    order = market.order(bread=3, cider=2)
    await market.catalog.feed(order)

    completed = OrderCompleted(order_id=order.order_id, completed_at="2026-11-21T17:00:00+00:00")
    await market.catalog.feed(completed)
    await market.catalog.feed(completed)  # a new delivery with another event id changes nothing
    await market.catalog.feed(OrderCancelled(order_id=order.order_id, reason="too late"))

    assert [await market.stock(n) for n in ("bread", "cider")] == [(7, 0), (3, 0)]
    assert await market.catalog.events(StockReleased) == []
    available = {p["name"]: p["stock_available"] for p in await market.catalog.products(market.hub_id)}
    assert available == {"Pain": 7, "Far breton": 2, "Cidre": 3}


async def test_a_redelivered_order_is_reserved_once(market):
    order = market.order(bread=3)
    envelope = await market.catalog.feed(order)

    await market.catalog.deliver(envelope)
    await asyncio.gather(*(market.catalog.deliver(envelope) for _ in range(3)))

    assert len(await market.catalog.events(StockReserved)) == 1
    assert await market.stock("bread") == (10, 3)


async def test_the_same_order_placed_again_under_another_event_reserves_nothing_more(market):
    order = market.order(bread=3)

    await market.catalog.feed(order)
    await market.catalog.feed(order)

    assert len(await market.catalog.events(StockReserved)) == 1
    assert await market.stock("bread") == (10, 3)


async def test_the_same_order_placed_again_once_its_stock_ran_out_is_not_refused(market):
    order = market.order(cake=2)

    await market.catalog.feed(order)
    await market.catalog.feed(order)

    assert await market.catalog.events(StockReservationFailed) == []
    assert len(await market.catalog.events(StockReserved)) == 1
    assert await market.stock("cake") == (2, 2)


async def test_a_refused_order_leaves_the_stock_and_its_revision_as_they_were(market):
    await market.catalog.feed(market.order(bread=3, cake=3))
    assert len(await market.catalog.events(StockReservationFailed)) == 1

    await market.catalog.feed(market.order(bread=1))

    bread = UUID(market.products["bread"]["id"])
    [level] = [e for e in await market.catalog.events(StockLevelChanged)
               if e.product_id == bread and e.revision > 1]
    assert (level.available, level.revision) == (9, 2)
    assert level.hub_id == market.hub_id
