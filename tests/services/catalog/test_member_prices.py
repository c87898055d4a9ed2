"""Member prices: a shop sets what the hub's members pay for a variant (below its price) by the
API, the back office's forms or the CSV import; the catalog publishes it with the product and
shows it on the public pages. A member price at or above the price is refused, with nothing
written."""

from __future__ import annotations

from html import unescape

import pytest

from libs.contracts.catalog import ProductChanged, ProductListed
from services.catalog.csv_catalogue.file_format import parse_catalogue

HEADER = "sku;produit;variante;prix;prix_adherent;stock\n"


@pytest.fixture
async def shop(catalog):
    hub_id = await catalog.open_hub()
    owner = await catalog.register("marie@fournil.test")
    return hub_id, owner, await catalog.open_shop(hub_id, owner)


async def list_product(catalog, shop: dict, owner, body: dict):
    return await catalog.client.post(f"/catalog/api/v1/shops/{shop['id']}/products",
                                     headers=catalog.headers(owner), json=body)


async def change_variant(catalog, variant_id: str, owner, body: dict):
    return await catalog.client.patch(f"/catalog/api/v1/variants/{variant_id}",
                                      headers=catalog.headers(owner), json=body)


def member_prices(event: ProductListed | ProductChanged) -> list[tuple[str, int, int | None]]:
    return [(v.label, v.price_cents, v.member_price_cents) for v in event.variants]


# --- the JSON API ----------------------------------------------------------------------------


async def test_a_product_listed_with_member_prices_carries_them_everywhere(catalog, shop):
    hub_id, owner, opened = shop

    one_way = await list_product(catalog, opened, owner, {
        "name": "Pain de campagne", "price_cents": 450, "stock": 10, "member_price_cents": 380})
    honey = await list_product(catalog, opened, owner, {"name": "Miel", "variants": [
        {"label": "250 g", "price_cents": 650, "stock": 5, "member_price_cents": 590},
        {"label": "500 g", "price_cents": 1150, "stock": 5}]})

    assert one_way.status_code == honey.status_code == 201, (one_way.text, honey.text)
    assert one_way.json()["variants"][0]["member_price_cents"] == 380
    assert [v["member_price_cents"] for v in honey.json()["variants"]] == [590, None]
    bread_event, honey_event = await catalog.events(ProductListed)
    assert member_prices(bread_event) == [("", 450, 380)]
    assert member_prices(honey_event) == [("250 g", 650, 590), ("500 g", 1150, None)]
    found = {p["name"]: [v["member_price_cents"] for v in p["variants"]]
             for p in await catalog.products(hub_id)}
    assert found == {"Miel": [590, None], "Pain de campagne": [380]}


@pytest.mark.parametrize("body", [
    {"name": "Pain", "price_cents": 450, "stock": 1, "member_price_cents": 450},
    {"name": "Pain", "price_cents": 450, "stock": 1, "member_price_cents": 500},
    {"name": "Pain", "price_cents": 450, "stock": 1, "member_price_cents": -1},
    {"name": "Pain", "variants": [{"price_cents": 450, "stock": 1, "member_price_cents": 451}]},
])
async def test_a_member_price_not_below_the_price_is_refused(catalog, shop, body):
    hub_id, owner, opened = shop

    refused = await list_product(catalog, opened, owner, body)

    assert refused.status_code == 422
    assert "member_price_cents" in refused.text
    assert await catalog.products(hub_id) == []
    assert await catalog.events(ProductListed) == []


async def test_a_variant_gets_changes_and_loses_its_member_price(catalog, shop):
    _, owner, opened = shop
    bread = await catalog.list_product(opened, owner, "Pain de campagne", price_cents=450)
    variant_id = bread["variants"][0]["id"]

    given = await change_variant(catalog, variant_id, owner, {"member_price_cents": 400})
    repriced = await change_variant(catalog, variant_id, owner, {"price_cents": 500})
    taken_away = await change_variant(catalog, variant_id, owner, {"member_price_cents": None})

    assert [r.json()["member_price_cents"] for r in (given, repriced, taken_away)] == [
        400, 400, None]
    assert [member_prices(event) for event in await catalog.events(ProductChanged)] == [
        [("", 450, 400)], [("", 500, 400)], [("", 500, None)]]


async def test_a_change_that_leaves_the_member_price_at_or_above_the_price_is_refused(
        catalog, shop):
    hub_id, owner, opened = shop
    bread = await catalog.list_product(opened, owner, "Pain de campagne", price_cents=450)
    variant_id = bread["variants"][0]["id"]
    await change_variant(catalog, variant_id, owner, {"member_price_cents": 400})

    too_high = await change_variant(catalog, variant_id, owner, {"member_price_cents": 450})
    price_too_low = await change_variant(catalog, variant_id, owner, {"price_cents": 390})

    assert too_high.status_code == price_too_low.status_code == 422
    assert "must be below the price" in price_too_low.json()["error"]["message"]
    assert len(await catalog.events(ProductChanged)) == 1
    [product] = await catalog.products(hub_id)
    assert (product["variants"][0]["price_cents"],
            product["variants"][0]["member_price_cents"]) == (450, 400)


# --- the back office's forms -----------------------------------------------------------------


async def test_a_product_added_by_form_has_its_member_price(catalog, shop):
    hub_id, owner, opened = shop
    cookie = catalog.session_cookie(owner)

    added = await catalog.client.post(f"/catalog/shops/{opened['id']}/products", headers=cookie,
                                      data={"name": "Kouign-amann", "price": "4,50",
                                    "member_price": "3,20", "stock": "6"})

    assert added.status_code == 303
    [product] = await catalog.products(hub_id)
    assert product["variants"][0]["member_price_cents"] == 320
    page = await catalog.client.get(f"/catalog/shops/{opened['id']}", headers=cookie)
    assert 'name="member_price"' in page.text and 'value="3,20"' in page.text


@pytest.mark.parametrize("member_price", ["4,50", "5", "trois euros", "-1"])
async def test_a_faulty_member_price_in_the_form_is_told_and_adds_nothing(catalog, shop,
                                                                         member_price):
    hub_id, owner, opened = shop

    refused = await catalog.client.post(
        f"/catalog/shops/{opened['id']}/products", headers=catalog.session_cookie(owner),
        data={"name": "Kouign-amann", "price": "4,50", "member_price": member_price,
              "stock": "6"})

    assert refused.status_code == 422
    assert "Prix adhérent invalide" in unescape(refused.text)
    assert f'value="{member_price}"' in unescape(refused.text)
    assert await catalog.products(hub_id) == []


async def test_the_member_price_of_a_variant_is_set_and_removed_by_form(catalog, shop):
    hub_id, owner, opened = shop
    bread = await catalog.list_product(opened, owner, "Pain de campagne", price_cents=450)
    action = f"/catalog/shops/{opened['id']}/variants/{bread['variants'][0]['id']}/member-price"
    client, cookie = catalog.client, catalog.session_cookie(owner)

    set_ = await client.post(action, headers=cookie, data={"member_price": "3,80"})
    stored = (await catalog.products(hub_id))[0]["variants"][0]["member_price_cents"]
    too_high = await client.post(action, headers=cookie, data={"member_price": "4,50"})
    kept = (await catalog.products(hub_id))[0]["variants"][0]["member_price_cents"]
    removed = await client.post(action, headers=cookie, data={"member_price": ""})

    assert set_.status_code == removed.status_code == 303
    assert set_.headers["location"].endswith("?fait=prix-adherent")
    assert stored == kept == 380
    assert too_high.status_code == 422
    assert "Le prix adhérent doit être inférieur au prix" in unescape(too_high.text)
    assert (await catalog.products(hub_id))[0]["variants"][0]["member_price_cents"] is None


# --- the CSV import and export ----------------------------------------------------------------


async def send(catalog, shop: dict, owner, text: str, *, dry_run: bool = False):
    return await catalog.client.post(
        f"/catalog/api/v1/shops/{shop['id']}/imports", params={"dry_run": str(dry_run).lower()},
        headers=catalog.headers(owner), files={"file": ("catalogue.csv", text.encode(), "text/csv")})


async def exported(catalog, shop: dict, owner) -> dict[str, tuple[int, int | None]]:
    """Each variant by SKU: (price, member price), as the export writes it."""
    response = await catalog.client.get(f"/catalog/api/v1/shops/{shop['id']}/catalog.csv",
                                        headers=catalog.headers(owner))
    assert response.status_code == 200, response.text
    assert response.text.lstrip("\ufeff").startswith("sku;produit;variante;prix;prix_adherent;")
    return {row.sku: (row.price_cents, row.member_price_cents)
            for row in parse_catalogue(response.content).rows}


async def test_the_import_reads_member_prices_and_the_export_writes_them_back(catalog, shop):
    hub_id, owner, opened = shop
    text = (HEADER + "MIEL-250;Miel;250 g;6,50;5,90;12\n"
                     "MIEL-500;Miel;500 g;11,50;;4\n")

    imported = await send(catalog, opened, owner, text)

    assert imported.status_code == 200, imported.text
    assert await exported(catalog, opened, owner) == {"MIEL-250": (650, 590), "MIEL-500": (1150, None)}
    [event] = await catalog.events(ProductListed)
    assert member_prices(event) == [("250 g", 650, 590), ("500 g", 1150, None)]
    again = await send(catalog, opened, owner, text)
    assert again.json()["unchanged"] == 2
    assert await catalog.events(ProductChanged) == []


async def test_bad_member_prices_are_told_by_line_and_nothing_is_written(catalog, shop):
    hub_id, owner, opened = shop
    text = (HEADER + "A-1;Pâté;;4,50;3,20;3\n"
                     "A-2;Rillettes;;4,50;quatre;3\n"
                     "A-3;Cidre;;4,50;4,50;3\n"
                     "A-4;Far;;4,50;5;3\n")

    refused = await send(catalog, opened, owner, text)

    assert refused.status_code == 200, refused.text  # a report, every bad row in it
    errors = [(e["line"], e["column"]) for e in refused.json()["errors"]]
    assert errors == [(3, "prix_adherent"), (4, "prix_adherent"), (5, "prix_adherent")]
    assert "prix adhérent invalide 'quatre'" in refused.json()["errors"][0]["message"]
    assert "inférieur au prix" in refused.json()["errors"][1]["message"]
    assert await catalog.products(hub_id) == []
    assert await catalog.events(ProductListed) == []


async def test_a_file_without_the_column_keeps_the_member_prices(catalog, shop):
    _, owner, opened = shop
    await send(catalog, opened, owner, HEADER + "MIEL-250;Miel;250 g;6,50;5,90;12\n")

    restocked = await send(catalog, opened, owner,
                           "sku;produit;variante;prix;stock\nMIEL-250;Miel;250 g;6,80;20\n")
    below = await send(catalog, opened, owner,
                       "sku;produit;variante;prix;stock\nMIEL-250;Miel;250 g;5,90;20\n")

    assert restocked.status_code == 200, restocked.text
    assert [(e["line"], e["column"]) for e in below.json()["errors"]] == [(2, "prix")]
    assert "ajoutez la colonne prix_adherent" in below.json()["errors"][0]["message"]
    assert await exported(catalog, opened, owner) == {"MIEL-250": (680, 590)}
    [changed] = await catalog.events(ProductChanged)
    assert member_prices(changed) == [("250 g", 680, 590)]


async def test_an_emptied_member_price_column_takes_the_member_price_away_on_each_database(
        catalog_on_each_database):
    catalog = catalog_on_each_database
    hub_id = await catalog.open_hub()
    owner = await catalog.register("marie@fournil.test")
    opened = await catalog.open_shop(hub_id, owner)
    await send(catalog, opened, owner, HEADER + "MIEL-250;Miel;250 g;6,50;5,90;12\n")

    emptied = await send(catalog, opened, owner, HEADER + "MIEL-250;Miel;250 g;6,50;;12\n")

    assert emptied.json()["updated"] == 1
    assert await exported(catalog, opened, owner) == {"MIEL-250": (650, None)}
    [changed] = await catalog.events(ProductChanged)
    assert member_prices(changed) == [("250 g", 650, None)]


async def test_the_template_shows_the_member_price_column(catalog, shop):
    _, owner, opened = shop

    template = await catalog.client.get(
        f"/catalog/api/v1/shops/{opened['id']}/catalog-template.csv", headers=catalog.headers(owner))

    assert template.status_code == 200
    [row] = parse_catalogue(template.content).rows
    assert (row.price_cents, row.member_price_cents) == (650, 590)


# --- the public pages ------------------------------------------------------------------------


async def test_the_hub_and_the_shop_window_show_the_member_price_near_the_price(catalog, shop):
    hub_id, owner, opened = shop
    await list_product(catalog, opened, owner, {
        "name": "Pain de campagne", "price_cents": 450, "stock": 10, "member_price_cents": 320})
    await list_product(catalog, opened, owner, {"name": "Baguette", "price_cents": 110, "stock": 10})

    hub = unescape((await catalog.client.get(f"/catalog/hubs/{hub_id}")).text)
    window = unescape((await catalog.client.get(f"/catalog/shops/{opened['id']}/vitrine")).text)

    for page in (hub, window):
        assert "Prix adhérent : 3,20\u00a0€" in page
        assert page.count("Prix adhérent") == 1  # the baguette has none
