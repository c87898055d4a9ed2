"""Listing and changing products, and finding them in a hub's catalogue."""

from __future__ import annotations

from uuid import uuid4

import pytest

from libs.contracts.catalog import ProductChanged, ProductListed, StockReserved
from tests.services.catalog.support import order_placed


@pytest.fixture
async def shop(catalog):
    hub_id = await catalog.open_hub()
    owner = await catalog.register("marie@fournil.test")
    return hub_id, owner, await catalog.open_shop(hub_id, owner)


async def test_the_owner_lists_a_product(catalog, shop):
    hub_id, owner, opened = shop

    listed = await catalog.client.post(
        f"/catalog/api/v1/shops/{opened['id']}/products", headers=catalog.headers(owner),
        json={"name": " Pain  de campagne ", "price_cents": 450, "stock": 12},
    )

    assert listed.status_code == 201, listed.text
    product = listed.json()
    assert product == {"id": product["id"], "shop_id": opened["id"], "name": "Pain de campagne",
                       "price_cents": 450, "stock_available": 12}
    [event] = await catalog.events(ProductListed)
    assert (str(event.product_id), event.hub_id, event.price_cents) == (product["id"], hub_id, 450)
    assert await catalog.products(hub_id) == [product]


async def test_only_the_owner_lists_products_in_a_shop(catalog, shop):
    hub_id, owner, opened = shop
    neighbour = await catalog.register("paul@cave.test")
    await catalog.open_shop(hub_id, neighbour, "La Cave")
    body = {"name": "Cidre", "price_cents": 600, "stock": 5}

    foreign = await catalog.client.post(f"/catalog/api/v1/shops/{opened['id']}/products",
                                        headers=catalog.headers(neighbour), json=body)
    unknown = await catalog.client.post(f"/catalog/api/v1/shops/{uuid4()}/products",
                                        headers=catalog.headers(owner), json=body)
    anonymous = await catalog.client.post(f"/catalog/api/v1/shops/{opened['id']}/products", json=body)

    assert (foreign.status_code, unknown.status_code, anonymous.status_code) == (403, 404, 401)
    assert await catalog.events(ProductListed) == []


@pytest.mark.parametrize("body, field", [
    ({"name": "Cidre", "price_cents": -1, "stock": 5}, "price_cents"),
    ({"name": "Cidre", "price_cents": 4.5, "stock": 5}, "price_cents"),
    ({"name": "Cidre", "price_cents": 600, "stock": -2}, "stock"),
    ({"name": "", "price_cents": 600, "stock": 5}, "name"),
    ({"name": "Cidre", "stock": 5}, "price_cents"),
])
async def test_a_product_needs_a_name_a_price_and_a_stock(catalog, shop, body, field):
    _, owner, opened = shop

    invalid = await catalog.client.post(f"/catalog/api/v1/shops/{opened['id']}/products",
                                        headers=catalog.headers(owner), json=body)

    assert invalid.status_code == 422
    assert [d["field"] for d in invalid.json()["error"]["details"]] == [f"body.{field}"]
    assert await catalog.events(ProductListed) == []


async def test_the_owner_changes_name_price_and_availability(catalog, shop):
    hub_id, owner, opened = shop
    product = await catalog.list_product(opened, owner)

    changed = await catalog.client.patch(f"/catalog/api/v1/products/{product['id']}",
                                         headers=catalog.headers(owner),
                                         json={"name": "Pain au levain", "price_cents": 520})
    withdrawn = await catalog.client.patch(f"/catalog/api/v1/products/{product['id']}",
                                           headers=catalog.headers(owner), json={"available": False})

    assert changed.status_code == 200, changed.text
    assert changed.json() | {"available": True} == {
        "id": product["id"], "shop_id": opened["id"], "name": "Pain au levain", "price_cents": 520,
        "stock_available": 10, "available": True, "stock_on_hand": 10, "stock_reserved": 0,
    }
    assert withdrawn.json()["available"] is False
    events = await catalog.events(ProductChanged)
    assert [(e.name, e.price_cents, e.available) for e in events] == [
        ("Pain au levain", 520, True), ("Pain au levain", 520, False)]
    assert {e.hub_id for e in events} == {hub_id}
    assert await catalog.products(hub_id) == []


async def test_setting_the_stock_or_changing_nothing_announces_nothing(catalog, shop):
    hub_id, owner, opened = shop
    product = await catalog.list_product(opened, owner, stock=10)

    restocked = await catalog.client.patch(f"/catalog/api/v1/products/{product['id']}",
                                           headers=catalog.headers(owner), json={"stock": 25})
    same_price = await catalog.client.patch(f"/catalog/api/v1/products/{product['id']}",
                                            headers=catalog.headers(owner), json={"price_cents": 450})

    assert restocked.status_code == same_price.status_code == 200
    assert [p["stock_available"] for p in await catalog.products(hub_id)] == [25]
    assert await catalog.events(ProductChanged) == []


async def test_the_stock_cannot_go_below_what_orders_hold(catalog, shop):
    hub_id, owner, opened = shop
    product = await catalog.list_product(opened, owner, stock=10)
    await catalog.feed(order_placed(hub_id, [(product, 4)]))
    assert len(await catalog.events(StockReserved)) == 1

    too_low = await catalog.client.patch(f"/catalog/api/v1/products/{product['id']}",
                                         headers=catalog.headers(owner), json={"stock": 3, "name": "X"})
    just_enough = await catalog.client.patch(f"/catalog/api/v1/products/{product['id']}",
                                             headers=catalog.headers(owner), json={"stock": 4})

    assert too_low.status_code == 409
    assert "4 units are reserved" in too_low.json()["error"]["message"]
    assert just_enough.status_code == 200
    assert (just_enough.json()["stock_on_hand"], just_enough.json()["stock_available"]) == (4, 0)
    assert await catalog.events(ProductChanged) == []
    assert (await catalog.products(hub_id))[0]["name"] == "Pain de campagne"


async def test_only_the_owner_changes_a_product(catalog, shop):
    hub_id, owner, opened = shop
    product = await catalog.list_product(opened, owner)
    neighbour = await catalog.register("paul@cave.test")
    await catalog.open_shop(hub_id, neighbour, "La Cave")

    foreign = await catalog.client.patch(f"/catalog/api/v1/products/{product['id']}",
                                         headers=catalog.headers(neighbour), json={"price_cents": 1})
    unknown = await catalog.client.patch(f"/catalog/api/v1/products/{uuid4()}",
                                         headers=catalog.headers(owner), json={"price_cents": 1})
    negative = await catalog.client.patch(f"/catalog/api/v1/products/{product['id']}",
                                          headers=catalog.headers(owner), json={"stock": -1})

    assert (foreign.status_code, unknown.status_code, negative.status_code) == (403, 404, 422)
    assert (await catalog.products(hub_id))[0]["price_cents"] == 450


async def test_search_finds_the_hubs_products_ignoring_case_and_accents(catalog, shop):
    hub_id, owner, opened = shop
    pate = await catalog.list_product(opened, owner, "Pate de campagne", stock=3)
    terrine = await catalog.list_product(opened, owner, "Terrine au PÂTÉ", stock=0)
    await catalog.list_product(opened, owner, "Crêpes")
    elsewhere = await catalog.open_hub("La Fabrique", "Lannion")
    other_owner = await catalog.register("paul@cave.test")
    await catalog.list_product(await catalog.open_shop(elsewhere, other_owner), other_owner, "Pâté")

    found = await catalog.products(hub_id, q="pâté")

    assert [p["id"] for p in found] == [pate["id"], terrine["id"]]
    assert [p["stock_available"] for p in found] == [3, 0]
    assert [p["name"] for p in await catalog.products(hub_id, q="CREPE")] == ["Crêpes"]
    assert len(await catalog.products(hub_id)) == 3
    assert await catalog.products(hub_id, q="%") == []
    assert await catalog.products(uuid4()) == []


async def test_search_needs_a_hub(catalog):
    missing = await catalog.client.get("/catalog/api/v1/products", params={"q": "pain"})

    assert missing.status_code == 422
    assert missing.json()["error"]["details"][0]["field"] == "query.hub_id"
