"""Products sold in variants (250 g, 500 g), each with its SKU, price and stock: listed and
changed by the shop's owner, stock adjusted by hand with its history, reserved per variant."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from uuid import uuid4

import pytest

from libs.contracts.catalog import (
    ProductChanged,
    ProductListed,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)
from libs.contracts.order import OrderCancelled, OrderCompleted
from tests.services.catalog.support import Catalog, order_placed, variant_of

HONEY = {"name": "Miel de bruyère", "description": "Récolté dans les landes de Menez-Hom.",
         "unit": "piece", "vat_rate_bps": 550, "categories": ["epicerie"], "tags": ["local"],
         "variants": [{"label": "250 g", "sku": "MIEL-250", "price_cents": 650, "stock": 10},
                      {"label": "500 g", "price_cents": 1150, "stock": 4}]}


@pytest.fixture
async def shop(catalog):
    hub_id = await catalog.open_hub()
    owner = await catalog.register("marie@fournil.test")
    return hub_id, owner, await catalog.open_shop(hub_id, owner)


async def list_honey(catalog: Catalog, shop: dict, owner, **changes) -> dict:
    listed = await catalog.client.post(f"/catalog/api/v1/shops/{shop['id']}/products",
                                       headers=catalog.headers(owner), json=HONEY | changes)
    assert listed.status_code == 201, listed.text
    return listed.json()


async def test_a_product_is_listed_with_its_variants(catalog, shop):
    hub_id, owner, opened = shop

    honey = await list_honey(catalog, opened, owner)

    assert [(v["label"], v["sku"], v["price_cents"], v["stock_available"])
            for v in honey["variants"]] == [("250 g", "MIEL-250", 650, 10),
                                            ("500 g", "MIEL-DE-BRUYERE-500-G", 1150, 4)]
    assert (honey["price_cents"], honey["stock_available"]) == (650, 14)
    assert (honey["categories"], honey["tags"], honey["unit"]) == (["epicerie"], ["local"], "piece")
    [event] = await catalog.events(ProductListed)
    assert (event.description, event.categories, event.vat_rate_bps) == (
        HONEY["description"], ["epicerie"], 550)
    assert [(str(v.variant_id), v.label, v.sku, v.price_cents, v.available)
            for v in event.variants] == [
        (v["id"], v["label"], v["sku"], v["price_cents"], True) for v in honey["variants"]]
    [found] = await catalog.products(hub_id, q="miel")
    assert [v["label"] for v in found["variants"]] == ["250 g", "500 g"]


@pytest.mark.parametrize("changes, field", [
    ({"variants": []}, "body.variants"),
    ({"variants": [{"label": f"{i} g", "price_cents": 1, "stock": 1} for i in range(21)]},
     "body.variants"),
    ({"variants": [{"label": "250 g", "price_cents": 1, "stock": 1},
                   {"label": "250 G", "price_cents": 2, "stock": 1}]}, "body.variants"),
    ({"variants": [{"label": "a", "sku": "X1", "price_cents": 1, "stock": 1},
                   {"label": "b", "sku": "X1", "price_cents": 2, "stock": 1}]}, "body.variants"),
    ({"variants": [{"label": "a", "sku": "pas de blanc", "price_cents": 1, "stock": 1}]},
     "body.variants.0.sku"),
    ({"variants": [{"label": "x" * 51, "price_cents": 1, "stock": 1}]}, "body.variants.0.label"),
    ({"variants": [{"label": "a", "price_cents": -1, "stock": 1}]}, "body.variants.0.price_cents"),
    ({"price_cents": 500, "stock": 3}, "body"),
    ({"description": "x" * 2001}, "body.description"),
    ({"vat_rate_bps": 700}, "body.vat_rate_bps"),
    ({"unit": "douzaine"}, "body.unit"),
    ({"categories": ["bijouterie"]}, "body.categories.0"),
    ({"tags": [f"t{i}" for i in range(11)]}, "body.tags"),
])
async def test_bad_variants_or_details_are_refused_and_nothing_is_listed(catalog, shop, changes,
                                                                          field):
    hub_id, owner, opened = shop

    refused = await catalog.client.post(f"/catalog/api/v1/shops/{opened['id']}/products",
                                        headers=catalog.headers(owner), json=HONEY | changes)

    assert refused.status_code == 422, refused.text
    assert field in [d["field"] for d in refused.json()["error"]["details"]]
    assert await catalog.events(ProductListed) == []
    assert await catalog.products(hub_id) == []


async def test_a_sku_names_one_variant_of_the_shop(catalog, shop):
    hub_id, owner, opened = shop
    await list_honey(catalog, opened, owner)
    neighbour = await catalog.register("paul@cave.test")
    cellar = await catalog.open_shop(hub_id, neighbour, "La Cave")

    taken = await catalog.client.post(f"/catalog/api/v1/shops/{opened['id']}/products",
                                      headers=catalog.headers(owner), json=HONEY | {"name": "Autre"})
    elsewhere = await list_honey(catalog, cellar, neighbour)
    again = await list_honey(catalog, opened, owner, variants=[
        {"label": "500 g", "price_cents": 1100, "stock": 1}])

    assert taken.status_code == 409
    assert "MIEL-250" in taken.json()["error"]["message"]
    assert elsewhere["variants"][0]["sku"] == "MIEL-250"
    assert again["variants"][0]["sku"] == "MIEL-DE-BRUYERE-500-G-2"  # made, and not taken
    assert len(await catalog.events(ProductListed)) == 3


async def test_the_owner_adds_a_variant_and_it_is_announced(catalog, shop):
    hub_id, owner, opened = shop
    honey = await list_honey(catalog, opened, owner)
    url = f"/catalog/api/v1/products/{honey['id']}/variants"

    added = await catalog.client.post(url, headers=catalog.headers(owner),
                                      json={"label": "1 kg", "price_cents": 2100, "stock": 2})
    same_label = await catalog.client.post(url, headers=catalog.headers(owner),
                                           json={"label": "1 KG", "price_cents": 1, "stock": 1})
    same_sku = await catalog.client.post(url, headers=catalog.headers(owner), json={
        "label": "2 kg", "sku": "MIEL-250", "price_cents": 1, "stock": 1})
    foreign = await catalog.client.post(url, headers=catalog.headers(
        await catalog.register("paul@cave.test")), json={"label": "2 kg", "price_cents": 1, "stock": 1})

    assert added.status_code == 201, added.text
    assert {k: added.json()[k] for k in ("product_id", "label", "sku", "stock_on_hand")} == {
        "product_id": honey["id"], "label": "1 kg", "sku": "MIEL-DE-BRUYERE-1-KG",
        "stock_on_hand": 2}
    assert (same_label.status_code, same_sku.status_code, foreign.status_code) == (409, 409, 403)
    [event] = await catalog.events(ProductChanged)
    assert [v.label for v in event.variants] == ["250 g", "500 g", "1 kg"]
    [found] = await catalog.products(hub_id)
    assert (found["price_cents"], found["stock_available"]) == (650, 16)


async def test_a_product_has_at_most_twenty_variants(catalog, shop):
    _, owner, opened = shop
    honey = await list_honey(catalog, opened, owner, variants=[
        {"label": f"{i} g", "price_cents": 100 + i, "stock": 1} for i in range(20)])

    refused = await catalog.client.post(f"/catalog/api/v1/products/{honey['id']}/variants",
                                        headers=catalog.headers(owner),
                                        json={"label": "1 kg", "price_cents": 2100, "stock": 2})

    assert refused.status_code == 409
    assert "at most 20 variants" in refused.json()["error"]["message"]


async def test_the_owner_changes_a_variant_and_it_is_announced(catalog, shop):
    hub_id, owner, opened = shop
    honey = await list_honey(catalog, opened, owner)
    small, large = honey["variants"]
    url = f"/catalog/api/v1/variants/{small['id']}"

    repriced = await catalog.client.patch(url, headers=catalog.headers(owner),
                                          json={"price_cents": 700, "sku": "MIEL-250-B"})
    unchanged = await catalog.client.patch(url, headers=catalog.headers(owner),
                                           json={"price_cents": 700, "label": "250 g"})
    withdrawn = await catalog.client.patch(url, headers=catalog.headers(owner),
                                           json={"available": False})
    label_taken = await catalog.client.patch(url, headers=catalog.headers(owner),
                                             json={"label": "500 G"})
    sku_taken = await catalog.client.patch(url, headers=catalog.headers(owner),
                                           json={"sku": large["sku"]})
    unknown = await catalog.client.patch(f"/catalog/api/v1/variants/{uuid4()}",
                                         headers=catalog.headers(owner), json={"price_cents": 1})

    assert (repriced.status_code, unchanged.status_code, withdrawn.status_code) == (200, 200, 200)
    assert (repriced.json()["price_cents"], repriced.json()["sku"]) == (700, "MIEL-250-B")
    assert (label_taken.status_code, sku_taken.status_code, unknown.status_code) == (409, 409, 404)
    first, second = await catalog.events(ProductChanged)
    assert [(v.sku, v.price_cents, v.available) for v in first.variants] == [
        ("MIEL-250-B", 700, True), (large["sku"], 1150, True)]
    assert [v.available for v in second.variants] == [False, True]
    [found] = await catalog.products(hub_id)
    assert [v["label"] for v in found["variants"]] == ["500 g"]
    assert (found["price_cents"], found["stock_available"]) == (1150, 4)


async def test_stock_is_adjusted_by_hand_with_its_history(catalog, shop):
    hub_id, owner, opened = shop
    honey = await list_honey(catalog, opened, owner)
    url = f"/catalog/api/v1/variants/{honey['variants'][1]['id']}/stock-adjustments"

    delivered = await catalog.client.post(url, headers=catalog.headers(owner),
                                          json={"delta": 6, "reason": "récolte d'août"})
    broken = await catalog.client.post(url, headers=catalog.headers(owner),
                                       json={"delta": -3, "reason": "pots cassés"})
    history = await catalog.client.get(url, headers=catalog.headers(owner))

    assert (delivered.status_code, broken.status_code, history.status_code) == (201, 201, 200)
    assert delivered.json()["on_hand_after"] == 10
    assert [(a["delta"], a["reason"], a["on_hand_after"], a["by_email"]) for a in history.json()] == [
        (-3, "pots cassés", 7, "marie@fournil.test"), (6, "récolte d'août", 10, "marie@fournil.test")]
    assert datetime.fromisoformat(history.json()[0]["at"]).utcoffset() == timedelta(0)
    assert await catalog.stock(honey, 1) == (7, 0)
    assert await catalog.stock(honey, 0) == (10, 0)
    assert (await catalog.products(hub_id))[0]["stock_available"] == 17


async def test_stock_never_goes_below_what_orders_hold(catalog, shop):
    hub_id, owner, opened = shop
    honey = await list_honey(catalog, opened, owner)
    await catalog.feed(order_placed(hub_id, [(variant_of(honey, "500 g"), 3)]))
    url = f"/catalog/api/v1/variants/{honey['variants'][1]['id']}/stock-adjustments"

    too_many_out = await catalog.client.post(url, headers=catalog.headers(owner),
                                             json={"delta": -2, "reason": "casse"})
    just_enough = await catalog.client.post(url, headers=catalog.headers(owner),
                                            json={"delta": -1, "reason": "casse"})

    assert too_many_out.status_code == 409
    assert "3 are reserved" in too_many_out.json()["error"]["message"]
    assert just_enough.status_code == 201
    assert await catalog.stock(honey, 1) == (3, 3)
    history = await catalog.client.get(url, headers=catalog.headers(owner))
    assert [a["delta"] for a in history.json()] == [-1]


@pytest.mark.parametrize("body", [
    {"delta": 0, "reason": "rien"}, {"delta": 3}, {"delta": 3, "reason": ""},
    {"delta": 1.5, "reason": "x"}, {"delta": 2_000_000, "reason": "x"},
])
async def test_an_adjustment_moves_whole_units_and_says_why(catalog, shop, body):
    _, owner, opened = shop
    honey = await list_honey(catalog, opened, owner)

    refused = await catalog.client.post(
        f"/catalog/api/v1/variants/{honey['variants'][0]['id']}/stock-adjustments",
        headers=catalog.headers(owner), json=body)

    assert refused.status_code == 422
    assert await catalog.stock(honey) == (10, 0)


async def test_only_the_owner_adjusts_or_reads_a_variants_stock(catalog, shop):
    hub_id, owner, opened = shop
    honey = await list_honey(catalog, opened, owner)
    neighbour = await catalog.register("paul@cave.test")
    await catalog.open_shop(hub_id, neighbour, "La Cave")
    url = f"/catalog/api/v1/variants/{honey['variants'][0]['id']}/stock-adjustments"
    body = {"delta": -10, "reason": "vol"}

    adjusted = await catalog.client.post(url, headers=catalog.headers(neighbour), json=body)
    read = await catalog.client.get(url, headers=catalog.headers(neighbour))
    changed = await catalog.client.patch(f"/catalog/api/v1/variants/{honey['variants'][0]['id']}",
                                         headers=catalog.headers(neighbour), json={"price_cents": 1})
    anonymous = await catalog.client.get(url)
    unknown = await catalog.client.get(f"/catalog/api/v1/variants/{uuid4()}/stock-adjustments",
                                       headers=catalog.headers(owner))

    assert (adjusted.status_code, read.status_code, changed.status_code) == (403, 403, 403)
    assert (anonymous.status_code, unknown.status_code) == (401, 404)
    assert await catalog.stock(honey) == (10, 0)
    assert await catalog.events(ProductChanged) == []


async def test_each_variant_is_reserved_released_and_sold_on_its_own(catalog, shop):
    hub_id, owner, opened = shop
    honey = await list_honey(catalog, opened, owner)
    small, large = variant_of(honey, "250 g"), variant_of(honey, "500 g")
    kept, undone = order_placed(hub_id, [(small, 2), (large, 1)]), order_placed(hub_id, [(large, 3)])

    await catalog.feed(kept)
    await catalog.feed(undone)
    assert [await catalog.stock(honey, i) for i in (0, 1)] == [(10, 2), (4, 4)]
    await catalog.feed(OrderCancelled(order_id=undone.order_id, reason="paiement refusé"))
    await catalog.feed(OrderCompleted(order_id=kept.order_id, completed_at="2026-11-21T17:00:00Z"))

    reserved = await catalog.events(StockReserved)
    assert [{(str(li.variant_id), li.quantity) for li in e.lines} for e in reserved] == [
        {(small["variant"]["id"], 2), (large["variant"]["id"], 1)}, {(large["variant"]["id"], 3)}]
    [released] = await catalog.events(StockReleased)
    assert [(str(li.variant_id), li.quantity) for li in released.lines] == [
        (large["variant"]["id"], 3)]
    assert [await catalog.stock(honey, i) for i in (0, 1)] == [(8, 0), (3, 0)]


async def test_one_short_variant_reserves_nothing_of_the_order(catalog, shop):
    hub_id, owner, opened = shop
    honey = await list_honey(catalog, opened, owner)
    withdrawn = await list_honey(catalog, opened, owner, name="Miel de sarrasin", variants=[
        {"label": "250 g", "price_cents": 700, "stock": 5}])
    await catalog.client.patch(f"/catalog/api/v1/variants/{withdrawn['variants'][0]['id']}",
                               headers=catalog.headers(owner), json={"available": False})
    mismatched = {**honey, "variant": variant_of(withdrawn, "250 g")["variant"]}
    order = order_placed(hub_id, [(variant_of(honey, "250 g"), 2), (variant_of(honey, "500 g"), 5),
                                  (variant_of(withdrawn, "250 g"), 1), (mismatched, 1)])

    await catalog.feed(order)

    assert await catalog.events(StockReserved) == []
    [failed] = await catalog.events(StockReservationFailed)
    assert sorted((str(s.product_id), str(s.variant_id), s.available, s.reason)
                  for s in failed.shortages) == sorted([
        (honey["id"], honey["variants"][1]["id"], 4, "plus que 4 en stock"),
        (withdrawn["id"], withdrawn["variants"][0]["id"], 0, "produit indisponible"),
        (honey["id"], withdrawn["variants"][0]["id"], 0, "produit inconnu")])
    assert [await catalog.stock(honey, i) for i in (0, 1)] == [(10, 0), (4, 0)]


async def test_concurrent_adjustments_and_orders_never_take_the_stock_below_zero(
        catalog_on_each_database):
    catalog = catalog_on_each_database
    hub_id = await catalog.open_hub()
    owner = await catalog.register("marie@fournil.test")
    honey = await list_honey(catalog, await catalog.open_shop(hub_id, owner), owner)
    url = f"/catalog/api/v1/variants/{honey['variants'][1]['id']}/stock-adjustments"
    large = variant_of(honey, "500 g")

    async def take_one_out():
        return await catalog.client.post(url, headers=catalog.headers(owner),
                                         json={"delta": -1, "reason": "dégustation"})

    outcomes = await asyncio.gather(*[take_one_out() for _ in range(4)],
                                    *[catalog.feed(order_placed(hub_id, [(large, 1)]))
                                      for _ in range(4)])

    taken_out = sum(1 for answer in outcomes[:4] if answer.status_code == 201)
    assert {answer.status_code for answer in outcomes[:4]} <= {201, 409}
    reserved = len(await catalog.events(StockReserved))
    assert taken_out + reserved == 4
    on_hand, held = await catalog.stock(honey, 1)
    assert (on_hand, held) == (4 - taken_out, reserved)
