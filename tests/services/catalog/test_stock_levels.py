"""StockLevelChanged, on SQLite and PostgreSQL: published with every change of a variant's units
free to order, in the change's own transaction, once per variant, its revision growing with
each change even under concurrent reservations."""

from __future__ import annotations

import asyncio
from uuid import UUID

import pytest

from libs.contracts.catalog import StockLevelChanged
from libs.contracts.order import OrderCancelled, OrderCompleted, OrderPartCancelled
from tests.services.catalog.support import Catalog, order_placed
from tests.services.catalog.test_csv import HEADER, send


@pytest.fixture
async def bakery(catalog_on_each_database):
    catalog = catalog_on_each_database
    hub_id = await catalog.open_hub()
    baker = await catalog.register("marie@fournil.test")
    shop = await catalog.open_shop(hub_id, baker, "Le Fournil")
    return catalog, hub_id, baker, shop


async def levels(catalog: Catalog, variant_id: str | UUID | None = None
                 ) -> list[tuple[int, int]]:
    """(revision, available) of each StockLevelChanged of the variant (of any), oldest first."""
    return [(event.revision, event.available) for event in await catalog.events(StockLevelChanged)
            if variant_id is None or str(event.variant_id) == str(variant_id)]


async def test_a_listed_product_and_an_added_variant_announce_their_stock(bakery):
    catalog, hub_id, baker, shop = bakery

    bread = await catalog.list_product(shop, baker, "Pain", stock=10)
    added = await catalog.client.post(f"/catalog/api/v1/products/{bread['id']}/variants",
                                      headers=catalog.headers(baker),
                                      json={"label": "1 kg", "price_cents": 800, "stock": 3})

    assert added.status_code == 201, added.text
    first, second = await catalog.events(StockLevelChanged)
    assert (first.product_id, first.variant_id, first.shop_id, first.hub_id) == (
        UUID(bread["id"]), UUID(bread["variants"][0]["id"]), UUID(shop["id"]), hub_id)
    assert (first.available, first.revision) == (10, 1)
    assert (str(second.variant_id), second.available, second.revision) == (
        added.json()["id"], 3, 1)
    assert second.key == str(bread["id"])


async def test_stock_adjusted_or_counted_by_hand_is_announced(bakery):
    catalog, _, baker, shop = bakery
    bread = await catalog.list_product(shop, baker, "Pain", stock=10)
    variant_id = bread["variants"][0]["id"]
    as_baker = catalog.headers(baker)

    adjusted = await catalog.client.post(
        f"/catalog/api/v1/variants/{variant_id}/stock-adjustments", headers=as_baker,
        json={"delta": -3, "reason": "casse"})
    counted = await catalog.client.post(
        f"/catalog/shops/{shop['id']}/variants/{variant_id}/stock",
        headers=catalog.session_cookie(baker), data={"stock": "12"})
    same_count = await catalog.client.post(
        f"/catalog/shops/{shop['id']}/variants/{variant_id}/stock",
        headers=catalog.session_cookie(baker), data={"stock": "12"})
    refused = await catalog.client.post(
        f"/catalog/api/v1/variants/{variant_id}/stock-adjustments", headers=as_baker,
        json={"delta": -13, "reason": "trop"})

    assert adjusted.status_code == 201, adjusted.text
    assert (counted.status_code, same_count.status_code) == (303, 303)
    assert refused.status_code == 409
    assert await levels(catalog, variant_id) == [(1, 10), (2, 7), (3, 12)]


async def test_reservations_releases_and_sales_are_announced(bakery):
    catalog, hub_id, baker, shop = bakery
    bread = await catalog.list_product(shop, baker, "Pain", stock=10)
    cake = await catalog.list_product(shop, baker, "Far breton", stock=2)
    bread_id, cake_id = bread["variants"][0]["id"], cake["variants"][0]["id"]

    sold = order_placed(hub_id, [(bread, 4), (cake, 1)])
    await catalog.feed(sold)
    await catalog.feed(order_placed(hub_id, [(bread, 1), (cake, 5)]))  # short: nothing moves
    cancelled = order_placed(hub_id, [(bread, 2)])
    await catalog.feed(cancelled)
    await catalog.feed(OrderCancelled(order_id=cancelled.order_id, reason="paiement refusé"))
    await catalog.feed(OrderCancelled(order_id=cancelled.order_id, reason="again"))
    await catalog.feed(OrderCompleted(order_id=sold.order_id,
                                      completed_at="2026-11-21T17:00:00+00:00"))

    # Reserved (4 of 10), reserved (2 more), released (the 2), sold (the 4, no longer reserved).
    assert await levels(catalog, bread_id) == [(1, 10), (2, 6), (3, 4), (4, 6), (5, 6)]
    assert await levels(catalog, cake_id) == [(1, 2), (2, 1), (3, 1)]
    assert await catalog.stock(bread) == (6, 0)


async def test_a_cancelled_part_announces_the_stock_it_releases(bakery):
    catalog, hub_id, baker, shop = bakery
    cellarman = await catalog.register("paul@cave.test")
    cellar = await catalog.open_shop(hub_id, cellarman, "La Cave")
    bread = await catalog.list_product(shop, baker, "Pain", stock=10)
    cider = await catalog.list_product(cellar, cellarman, "Cidre", stock=5)
    order = order_placed(hub_id, [(bread, 3), (cider, 2)])
    await catalog.feed(order)
    [bakery_part] = [part for part in order.parts if str(part.shop_id) == shop["id"]]

    await catalog.feed(OrderPartCancelled(
        order_id=order.order_id, shop_id=bakery_part.shop_id,
        amount_cents=bakery_part.total_cents, lines=bakery_part.lines, reason="four en panne"))

    assert await levels(catalog, bread["variants"][0]["id"]) == [(1, 10), (2, 7), (3, 10)]
    assert await levels(catalog, cider["variants"][0]["id"]) == [(1, 5), (2, 3)]


async def test_an_import_announces_each_variant_whose_stock_it_sets_once(bakery):
    catalog, _, baker, shop = bakery
    first = (HEADER + "MIEL-250;Miel;250 g;6,50;12;piece;5,5;;;;oui\n"
             + "MIEL-500;Miel;500 g;11,50;4;piece;5,5;;;;oui\n")

    await send(catalog, shop, baker, first, dry_run=False)
    created = await catalog.events(StockLevelChanged)
    await send(catalog, shop, baker, first, dry_run=False)
    await send(catalog, shop, baker, first.replace("6,50", "7,00"), dry_run=False)
    assert await catalog.events(StockLevelChanged) == created
    restocked = await send(catalog, shop, baker, first.replace("11,50;4", "11,50;9"),
                           dry_run=False)
    await send(catalog, shop, baker, first.replace("11,50;4", "11,50;1"), dry_run=True)

    assert restocked.json()["updated"] == 2, restocked.text
    announced = await catalog.events(StockLevelChanged)
    assert [(e.available, e.revision) for e in created] == [(12, 1), (4, 1)]
    [changed] = announced[2:]
    assert changed.variant_id == created[1].variant_id
    assert (changed.available, changed.revision) == (9, 2)


async def test_revisions_strictly_increase_under_concurrent_reservations(bakery):
    catalog, hub_id, baker, shop = bakery
    bread = await catalog.list_product(shop, baker, "Pain", stock=10)
    orders = [order_placed(hub_id, [(bread, 1)]) for _ in range(12)]

    await asyncio.gather(*(catalog.feed(order) for order in orders))

    announced = await levels(catalog, bread["variants"][0]["id"])
    assert sorted(announced) == [(revision, 11 - revision) for revision in range(1, 12)]
    assert await catalog.stock(bread) == (10, 10)
