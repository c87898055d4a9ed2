"""Searching a hub's catalogue: French words (accents, case, plurals, feminine endings), filters,
sorts, pages and totals, alike on SQLite (FTS5) and PostgreSQL (french text search); and the
catalogue following every change to what a product shows."""

from __future__ import annotations

from uuid import UUID

import pytest

from services.catalog.storefront import search
from services.catalog.storefront.search_text import fts5_match, query_terms, stem, terms, ts_query
from services.catalog.tables import Shop

# --- the words, without a database ---------------------------------------------------------


@pytest.mark.parametrize("one, other", [
    ("pâtés", "Pate"),
    ("PÂTÉ", "pâtés"),
    ("fromages", "Fromage"),
    ("chèvres", "CHEVRE"),
    ("crêpes", "Crêpe"),
    ("fermières", "fermier"),
    ("savoureuses", "savoureux"),
    ("italiennes", "italien"),
    ("naturelles", "naturel"),
    ("sportives", "sportif"),
    ("gâteaux", "gâteau"),
    ("bocaux", "bocal"),
    ("fumées", "fumé"),
    ("Œufs", "oeuf"),
])
def test_a_word_and_its_forms_fold_to_one_stem(one, other):
    assert terms(one) == terms(other) != ""


@pytest.mark.parametrize("word, stemmed", [
    ("pates", "pat"), ("fromage", "fromag"), ("pain", "pain"), ("jus", "jus"), ("noix", "noi"),
    ("250", "250"), ("bio", "bio"),
])
def test_the_stemmer_is_light(word, stemmed):
    assert stem(word) == stemmed


def test_stop_words_punctuation_and_single_letters_are_not_words():
    assert terms("Pâté de campagne à l'ancienne, 250 g !") == "pat campagn ancien 250"
    assert query_terms("de la %") == []


def test_a_word_the_stemmer_left_alone_also_matches_as_a_prefix():
    words = query_terms("pâtés choco Choco")

    assert [(word.stem, word.prefix) for word in words] == [("pat", False), ("choco", True)]
    assert fts5_match(words) == '"pat" AND ("choco" OR "choco"*)'
    assert ts_query(words) == "'pat' & ('choco' | 'choco':*)"


# --- a hub's catalogue, on each database -----------------------------------------------------


@pytest.fixture
async def market(catalog_on_each_database):
    """Two shops of one hub, and a shop of another hub with a pâté of its own."""
    catalog = catalog_on_each_database
    hub_id = await catalog.open_hub()
    cheese_owner = await catalog.register("anne@fromagerie.test")
    bread_owner = await catalog.register("marie@fournil.test")
    cheese = await catalog.open_shop(hub_id, cheese_owner, "Fromagerie du Port")
    bread = await catalog.open_shop(hub_id, bread_owner, "Boulangerie Le Fournil")
    products = {}
    for shop, owner, body in [
        (cheese, cheese_owner, {"name": "Fromage de chèvre", "price_cents": 650, "stock": 8,
                                "categories": ["fromagerie"], "tags": ["bio"],
                                "description": "Lait cru, affiné trois semaines."}),
        (cheese, cheese_owner, {"name": "Tomme de Savoie", "price_cents": 1200, "stock": 3,
                                "categories": ["fromagerie"]}),
        (cheese, cheese_owner, {"name": "Crème fraîche", "price_cents": 300, "stock": 0,
                                "categories": ["fromagerie"]}),
        (bread, bread_owner, {"name": "Pâté de campagne", "price_cents": 550, "stock": 5,
                              "categories": ["epicerie"]}),
        (bread, bread_owner, {"name": "Pâtisseries du dimanche", "price_cents": 900, "stock": 4,
                              "categories": ["boulangerie"]}),
        (bread, bread_owner, {"name": "Pain au chocolat", "price_cents": 120, "stock": 30,
                              "categories": ["boulangerie"]}),
        (bread, bread_owner, {"name": "Brioche", "price_cents": 700, "stock": 6,
                              "description": "Aux pépites de chocolat noir."}),
        (bread, bread_owner, {"name": "Miel de fleurs", "variants": [
            {"label": "250 g", "price_cents": 600, "stock": 2},
            {"label": "500 g", "price_cents": 1100, "stock": 2}]}),
    ]:
        products[body["name"]] = await _list(catalog, shop, owner, body)
    elsewhere = await catalog.open_hub("La Fabrique", "Lannion")
    stranger = await catalog.register("paul@ailleurs.test")
    await _list(catalog, await catalog.open_shop(elsewhere, stranger, "Ailleurs"), stranger,
                {"name": "Pâté", "price_cents": 400, "stock": 9})
    return catalog, hub_id, {"cheese": (cheese, cheese_owner), "bread": (bread, bread_owner)}, products


async def _list(catalog, shop: dict, owner, body: dict) -> dict:
    listed = await catalog.client.post(f"/catalog/api/v1/shops/{shop['id']}/products",
                                       headers=catalog.headers(owner), json=body)
    assert listed.status_code == 201, listed.text
    return listed.json()


async def _search(catalog, hub_id, **params) -> tuple[list[str], int]:
    """The names found, in order, and the total the API counts."""
    found = await catalog.client.get("/catalog/api/v1/products",
                                     params={"hub_id": str(hub_id), **params})
    assert found.status_code == 200, found.text
    return [product["name"] for product in found.json()], int(found.headers["x-total-count"])


async def _names(catalog, hub_id, **params) -> list[str]:
    return (await _search(catalog, hub_id, **params))[0]


async def test_words_match_whatever_their_accents_case_and_plurals(market):
    catalog, hub_id, _, _ = market

    assert await _names(catalog, hub_id, q="pâtés") == ["Pâté de campagne"]
    assert await _names(catalog, hub_id, q="PATE") == ["Pâté de campagne"]
    assert await _names(catalog, hub_id, q="fromages") == ["Fromage de chèvre"]
    assert await _names(catalog, hub_id, q="chevres fromage") == ["Fromage de chèvre"]
    assert await _names(catalog, hub_id, q="pâtisserie") == ["Pâtisseries du dimanche"]
    assert await _names(catalog, hub_id, q="crème fraiche") == ["Crème fraîche"]


async def test_every_word_must_match_somewhere_in_what_the_product_shows(market):
    catalog, hub_id, _, _ = market

    assert await _names(catalog, hub_id, q="lait cru") == ["Fromage de chèvre"]  # description
    assert await _names(catalog, hub_id, q="bio") == ["Fromage de chèvre"]  # tag
    assert await _names(catalog, hub_id, q="épicerie") == ["Pâté de campagne"]  # category
    assert await _names(catalog, hub_id, q="miel 500") == ["Miel de fleurs"]  # variant
    assert set(await _names(catalog, hub_id, q="fournil")) == {  # the shop's name
        "Pâté de campagne", "Pâtisseries du dimanche", "Pain au chocolat", "Brioche",
        "Miel de fleurs"}
    assert await _names(catalog, hub_id, q="pâté fournil") == ["Pâté de campagne"]
    assert await _names(catalog, hub_id, q="pâté fromagerie") == []


async def test_a_word_being_typed_finds_longer_ones_and_the_name_weighs_most(market):
    catalog, hub_id, _, _ = market

    assert await _names(catalog, hub_id, q="choco") == ["Pain au chocolat", "Brioche"]
    assert await _names(catalog, hub_id, q="chocolat") == ["Pain au chocolat", "Brioche"]
    assert await _names(catalog, hub_id, q="chocolat", sort="price_desc") == [
        "Brioche", "Pain au chocolat"]


async def test_nothing_is_found_for_stop_words_punctuation_or_another_hubs_products(market):
    catalog, hub_id, _, _ = market

    assert await _search(catalog, hub_id, q="de la") == ([], 0)
    assert await _search(catalog, hub_id, q="% * \" '") == ([], 0)
    assert await _search(catalog, hub_id, q="saucisson") == ([], 0)
    assert await _search(catalog, hub_id, q="   ") == (await _search(catalog, hub_id))


async def test_filters_narrow_the_catalogue(market):
    catalog, hub_id, shops, _ = market
    cheese, _ = shops["cheese"]

    assert await _names(catalog, hub_id, shop_id=cheese["id"]) == [
        "Crème fraîche", "Fromage de chèvre", "Tomme de Savoie"]
    assert await _names(catalog, hub_id, category="boulangerie") == [
        "Pain au chocolat", "Pâtisseries du dimanche"]
    assert await _names(catalog, hub_id, min_price_cents=600, max_price_cents=900) == [
        "Brioche", "Fromage de chèvre", "Miel de fleurs", "Pâtisseries du dimanche"]
    assert await _names(catalog, hub_id, shop_id=cheese["id"], in_stock="true") == [
        "Fromage de chèvre", "Tomme de Savoie"]
    assert await _names(catalog, hub_id, q="fromage", category="epicerie") == []


async def test_in_stock_reads_the_stock_as_it_is_now(market):
    catalog, hub_id, shops, products = market
    _, owner = shops["cheese"]
    [tomme] = products["Tomme de Savoie"]["variants"]

    sold_out = await catalog.client.post(
        f"/catalog/api/v1/variants/{tomme['id']}/stock-adjustments",
        headers=catalog.headers(owner), json={"delta": -3, "reason": "vendues en boutique"})

    assert sold_out.status_code == 201, sold_out.text
    assert "Tomme de Savoie" not in await _names(catalog, hub_id, in_stock="true")
    assert "Tomme de Savoie" in await _names(catalog, hub_id)


async def test_sorts(market):
    catalog, hub_id, _, _ = market

    everything = await _names(catalog, hub_id)
    assert everything == ["Brioche", "Crème fraîche", "Fromage de chèvre", "Miel de fleurs",
                          "Pain au chocolat", "Pâté de campagne", "Pâtisseries du dimanche",
                          "Tomme de Savoie"]  # by name, accents aside, without q
    assert await _names(catalog, hub_id, sort="price_asc") == [
        "Pain au chocolat", "Crème fraîche", "Pâté de campagne", "Miel de fleurs",
        "Fromage de chèvre", "Brioche", "Pâtisseries du dimanche", "Tomme de Savoie"]
    assert await _names(catalog, hub_id, sort="price_desc") == [
        "Tomme de Savoie", "Pâtisseries du dimanche", "Brioche", "Fromage de chèvre",
        "Miel de fleurs", "Pâté de campagne", "Crème fraîche", "Pain au chocolat"]
    newest = await _names(catalog, hub_id, sort="newest")
    assert newest[:2] == ["Miel de fleurs", "Brioche"]
    assert await _names(catalog, hub_id, sort="relevance") == everything  # nothing to rank by


async def test_pages_and_totals(market):
    catalog, hub_id, _, _ = market

    first = await _search(catalog, hub_id, limit=3)
    third = await _search(catalog, hub_id, limit=3, offset=6)
    beyond = await _search(catalog, hub_id, limit=3, offset=30)

    assert first == (["Brioche", "Crème fraîche", "Fromage de chèvre"], 8)
    assert third == (["Pâtisseries du dimanche", "Tomme de Savoie"], 8)
    assert beyond == ([], 8)
    assert await _search(catalog, hub_id, q="chocolat", limit=1) == (["Pain au chocolat"], 2)
    assert await _search(catalog, hub_id, q="chocolat", limit=1, offset=1) == (["Brioche"], 2)
    assert await _search(catalog, hub_id, q="chocolat", offset=5) == ([], 2)


@pytest.mark.parametrize("params, field", [
    ({"limit": 101}, "query.limit"),
    ({"limit": 0}, "query.limit"),
    ({"offset": -1}, "query.offset"),
    ({"category": "viande"}, "query.category"),
    ({"sort": "random"}, "query.sort"),
    ({"min_price_cents": -1}, "query.min_price_cents"),
    ({"q": "x" * 201}, "query.q"),
])
async def test_a_bad_criterion_is_refused(catalog, params, field):
    refused = await catalog.client.get("/catalog/api/v1/products",
                                       params={"hub_id": str(await catalog.open_hub()), **params})

    assert refused.status_code == 422
    assert [detail["field"] for detail in refused.json()["error"]["details"]] == [field]


async def test_a_price_range_upside_down_is_refused(catalog):
    refused = await catalog.client.get("/catalog/api/v1/products", params={
        "hub_id": str(await catalog.open_hub()), "min_price_cents": 500, "max_price_cents": 100})

    assert refused.status_code == 422
    assert "min_price_cents" in refused.text


# --- the catalogue follows the products ------------------------------------------------------


async def test_the_catalogue_follows_a_products_changes(market):
    catalog, hub_id, shops, products = market
    _, owner = shops["bread"]
    brioche = products["Brioche"]

    async def change(body: dict) -> None:
        changed = await catalog.client.patch(f"/catalog/api/v1/products/{brioche['id']}",
                                             headers=catalog.headers(owner), json=body)
        assert changed.status_code == 200, changed.text

    await change({"name": "Kouign-amann", "description": "Beurre salé.",
                  "categories": ["boulangerie"]})
    assert await _names(catalog, hub_id, q="brioche") == []
    assert await _names(catalog, hub_id, q="kouign") == ["Kouign-amann"]
    assert await _names(catalog, hub_id, q="beurres") == ["Kouign-amann"]
    assert await _names(catalog, hub_id, q="chocolat") == ["Pain au chocolat"]
    assert "Kouign-amann" in await _names(catalog, hub_id, category="boulangerie")

    await change({"available": False})
    assert await _names(catalog, hub_id, q="kouign") == []
    assert "Kouign-amann" not in await _names(catalog, hub_id)

    await change({"available": True})
    assert await _names(catalog, hub_id, q="kouign") == ["Kouign-amann"]


async def test_the_catalogue_follows_the_variants(market):
    catalog, hub_id, shops, products = market
    _, owner = shops["bread"]
    small, large = products["Miel de fleurs"]["variants"]

    async def change(variant: dict, body: dict) -> None:
        changed = await catalog.client.patch(f"/catalog/api/v1/variants/{variant['id']}",
                                             headers=catalog.headers(owner), json=body)
        assert changed.status_code == 200, changed.text

    await change(small, {"available": False})
    assert await _names(catalog, hub_id, max_price_cents=1000, q="miel") == []
    assert await _names(catalog, hub_id, q="miel 250") == []

    await change(large, {"price_cents": 950})
    assert await _names(catalog, hub_id, max_price_cents=1000, q="miel") == ["Miel de fleurs"]

    await change(large, {"available": False})
    assert await _names(catalog, hub_id, q="miel") == []

    added = await catalog.client.post(
        f"/catalog/api/v1/products/{products['Miel de fleurs']['id']}/variants",
        headers=catalog.headers(owner), json={"label": "1 kg", "price_cents": 1800, "stock": 1})
    assert added.status_code == 201, added.text
    assert await _search(catalog, hub_id, q="miel", min_price_cents=1800) == (["Miel de fleurs"], 1)


async def test_a_shop_renamed_is_found_by_its_new_name(market):
    catalog, hub_id, shops, _ = market
    cheese, _ = shops["cheese"]

    async with catalog.runtime.unit_of_work() as uow:
        shop = await uow.session.get(Shop, UUID(cheese["id"]))
        shop.name = "La Cave à Fromages"
        await uow.session.flush()
        await search.reindex_shop(uow.session, shop.id)

    assert await _names(catalog, hub_id, q="cave tomme") == ["Tomme de Savoie"]
    assert await _names(catalog, hub_id, q="port tomme") == []
