"""Listing and changing products, and finding them in a hub's catalogue."""

from __future__ import annotations

from uuid import uuid4

import pytest

from libs.contracts.catalog import ProductChanged, ProductListed


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
    [variant] = product["variants"]
    assert product == {
        "id": product["id"], "shop_id": opened["id"], "name": "Pain de campagne",
        "price_cents": 450, "stock_available": 12, "description": "", "unit": "piece",
        "vat_rate_bps": 550, "categories": [], "tags": [], "available": True,
        "variants": [{"id": variant["id"], "product_id": product["id"], "label": "",
                      "sku": "PAIN-DE-CAMPAGNE", "price_cents": 450, "member_price_cents": None,
                      "stock_available": 12, "available": True, "stock_on_hand": 12,
                      "stock_reserved": 0}],
    }
    [event] = await catalog.events(ProductListed)
    assert (str(event.product_id), event.hub_id, event.available) == (product["id"], hub_id, True)
    assert [(str(v.variant_id), v.label, v.price_cents) for v in event.variants] == [
        (variant["id"], "", 450)]
    public_variant = {k: variant[k] for k in ("id", "label", "sku", "price_cents",
                                              "member_price_cents", "stock_available")}
    assert await catalog.products(hub_id) == [
        {k: v for k, v in product.items() if k != "available"} | {"variants": [public_variant]}]


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
    ({"name": "Cidre", "stock": 5}, ""),
])
async def test_a_product_needs_a_name_a_price_and_a_stock(catalog, shop, body, field):
    _, owner, opened = shop

    invalid = await catalog.client.post(f"/catalog/api/v1/shops/{opened['id']}/products",
                                        headers=catalog.headers(owner), json=body)

    assert invalid.status_code == 422
    assert [d["field"] for d in invalid.json()["error"]["details"]] == [
        f"body.{field}" if field else "body"]
    assert await catalog.events(ProductListed) == []


async def test_the_owner_changes_the_product_and_announces_it(catalog, shop):
    hub_id, owner, opened = shop
    product = await catalog.list_product(opened, owner)

    changed = await catalog.client.patch(
        f"/catalog/api/v1/products/{product['id']}", headers=catalog.headers(owner),
        json={"name": "Pain au levain", "description": "Levain naturel, cuit au feu de bois.",
              "unit": "kg", "vat_rate_bps": 550, "categories": ["boulangerie"],
              "tags": ["Bio", " levain "]})
    withdrawn = await catalog.client.patch(f"/catalog/api/v1/products/{product['id']}",
                                           headers=catalog.headers(owner), json={"available": False})

    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["name"], body["unit"], body["categories"], body["tags"]) == (
        "Pain au levain", "kg", ["boulangerie"], ["bio", "levain"])
    assert withdrawn.json()["available"] is False
    events = await catalog.events(ProductChanged)
    assert [(e.name, e.unit, e.categories, e.available) for e in events] == [
        ("Pain au levain", "kg", ["boulangerie"], True),
        ("Pain au levain", "kg", ["boulangerie"], False)]
    assert events[0].description == "Levain naturel, cuit au feu de bois."
    assert {e.hub_id for e in events} == {hub_id}
    assert await catalog.products(hub_id) == []


async def test_changing_only_what_residents_do_not_see_announces_nothing(catalog, shop):
    hub_id, owner, opened = shop
    product = await catalog.list_product(opened, owner, stock=10)
    url = f"/catalog/api/v1/products/{product['id']}"

    tagged = await catalog.client.patch(url, headers=catalog.headers(owner), json={"tags": ["bio"]})
    same_name = await catalog.client.patch(url, headers=catalog.headers(owner),
                                           json={"name": "Pain de campagne"})
    restocked = await catalog.client.post(
        f"/catalog/api/v1/variants/{product['variants'][0]['id']}/stock-adjustments",
        headers=catalog.headers(owner), json={"delta": 15, "reason": "livraison du matin"})

    assert (tagged.status_code, same_name.status_code, restocked.status_code) == (200, 200, 201)
    assert [p["stock_available"] for p in await catalog.products(hub_id)] == [25]
    assert await catalog.events(ProductChanged) == []


@pytest.mark.parametrize("body, field", [
    ({"description": "x" * 2001}, "description"),
    ({"unit": "dozen"}, "unit"),
    ({"vat_rate_bps": 1900}, "vat_rate_bps"),
    ({"categories": ["bijouterie"]}, "categories.0"),
    ({"tags": [f"t{i}" for i in range(11)]}, "tags"),
    ({"tags": [" "]}, "tags.0"),
    ({"price_cents": 500}, "price_cents"),
])
async def test_a_product_change_is_checked_field_by_field(catalog, shop, body, field):
    _, owner, opened = shop
    product = await catalog.list_product(opened, owner)

    refused = await catalog.client.patch(f"/catalog/api/v1/products/{product['id']}",
                                         headers=catalog.headers(owner), json=body)

    assert refused.status_code == 422
    assert [d["field"] for d in refused.json()["error"]["details"]] == [f"body.{field}"]
    assert await catalog.events(ProductChanged) == []


async def test_only_the_owner_changes_a_product(catalog, shop):
    hub_id, owner, opened = shop
    product = await catalog.list_product(opened, owner)
    neighbour = await catalog.register("paul@cave.test")
    await catalog.open_shop(hub_id, neighbour, "La Cave")

    foreign = await catalog.client.patch(f"/catalog/api/v1/products/{product['id']}",
                                         headers=catalog.headers(neighbour), json={"name": "X"})
    unknown = await catalog.client.patch(f"/catalog/api/v1/products/{uuid4()}",
                                         headers=catalog.headers(owner), json={"name": "X"})
    anonymous = await catalog.client.patch(f"/catalog/api/v1/products/{product['id']}",
                                           json={"name": "X"})

    assert (foreign.status_code, unknown.status_code, anonymous.status_code) == (403, 404, 401)
    assert (await catalog.products(hub_id))[0]["name"] == "Pain de campagne"
    assert await catalog.events(ProductChanged) == []


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
