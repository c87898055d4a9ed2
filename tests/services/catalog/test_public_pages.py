"""The catalogue's public pages: a hub's page (its shops, its latest products in stock, a search
form with filters and pages) and a shop's window, for anyone, without JavaScript."""

from __future__ import annotations

import re
from html import unescape
from io import BytesIO
from uuid import uuid4

import pytest
from PIL import Image

from libs.auth.tokens import Principal
from tests.support.forms import form_to


@pytest.fixture
async def hub(catalog):
    hub_id = await catalog.open_hub("La Fabrique du Centre", "Lannion")
    cheese_owner = await catalog.register("anne@fromagerie.test")
    bread_owner = await catalog.register("marie@fournil.test")
    cheese = await catalog.open_shop(hub_id, cheese_owner, "Fromagerie du Port")
    bread = await catalog.open_shop(hub_id, bread_owner, "Boulangerie Le Fournil")
    await catalog.open_shop(hub_id, await catalog.register("paul@cave.test"), "La Cave")
    listed = {}
    for shop, owner, body in [
        (cheese, cheese_owner, {"name": "Fromage de chèvre", "categories": ["fromagerie"],
                                "unit": "kg", "description": "Lait cru, affiné trois semaines.",
                                "variants": [{"label": "250 g", "price_cents": 650, "stock": 4},
                                             {"label": "500 g", "price_cents": 1200, "stock": 2}]}),
        (cheese, cheese_owner, {"name": "Crème fraîche", "price_cents": 300, "stock": 0,
                                "unit": "litre", "categories": ["fromagerie"]}),
        (bread, bread_owner, {"name": "Pâté de campagne", "price_cents": 550, "stock": 5,
                              "categories": ["epicerie"]}),
        (bread, bread_owner, {"name": "Pâtisseries du dimanche", "price_cents": 900, "stock": 4,
                              "categories": ["boulangerie"]}),
    ]:
        answer = await catalog.client.post(f"/catalog/api/v1/shops/{shop['id']}/products",
                                           headers=catalog.headers(owner), json=body)
        assert answer.status_code == 201, answer.text
        listed[body["name"]] = answer.json()
    return hub_id, {"cheese": (cheese, cheese_owner), "bread": (bread, bread_owner)}, listed


async def _page(catalog, path: str, **params) -> str:
    page = await catalog.client.get(path, params=params or None)  # None keeps the path's query
    assert page.status_code == 200, page.text
    assert "text/html" in page.headers["content-type"]
    return unescape(page.text)


def _products_on(html: str) -> list[str]:
    return re.findall(r'<h3 id="product-[^"]+"[^>]*>([^<]+)</h3>', html)


async def test_the_hub_page_shows_its_shops_and_its_latest_products_in_stock(catalog, hub):
    hub_id, shops, listed = hub
    cheese, _ = shops["cheese"]
    bread, _ = shops["bread"]
    goat = listed["Fromage de chèvre"]

    html = await _page(catalog, f"/catalog/hubs/{hub_id}")

    assert "<h1>La Fabrique du Centre" in html
    assert _products_on(html) == ["Pâtisseries du dimanche", "Pâté de campagne",
                                  "Fromage de chèvre"]  # newest first; the cream is sold out
    assert "dès 6,50\u00a0€</strong>" in html  # the variants' labels say the weight
    assert "250 g · 500 g" in html
    assert "Lait cru, affiné trois semaines." in html
    assert f'href="/orders/hubs/{hub_id}"' in html
    assert f'href="/orders/hubs/{hub_id}#qty-{goat["id"]}.{goat["variants"][0]["id"]}"' in html
    assert f'<a href="/catalog/shops/{cheese["id"]}/vitrine">Fromagerie du Port</a>' in html
    assert f'<a href="/catalog/shops/{bread["id"]}/vitrine">Boulangerie Le Fournil</a></li>' in html
    assert ">La Cave</a></li>" in html  # a shop with nothing on sale yet is listed all the same
    assert "Se connecter" in html  # anyone may read it


async def test_the_hub_page_shows_who_is_signed_in(catalog, hub):
    hub_id, shops, _ = hub
    _, owner = shops["cheese"]

    page = await catalog.client.get(f"/catalog/hubs/{hub_id}", headers=catalog.session_cookie(owner))

    assert page.status_code == 200
    assert "anne" in page.text and "Se déconnecter" in page.text


async def test_the_search_form_finds_products_by_their_french_words(catalog, hub):
    hub_id, _, _ = hub
    html = await _page(catalog, f"/catalog/hubs/{hub_id}")
    form = form_to(html, f"/catalog/hubs/{hub_id}")
    assert form.method == "get"
    assert {"q", "category", "sort", "in_stock"} <= set(form.fields) | set(form.options)
    assert "fromagerie" in form.options["category"] and "price_asc" in form.options["sort"]

    found = await _page(catalog, form.action, **{**form.fields, "q": "pâtés"})
    none = await _page(catalog, form.action, q="saucisson")

    assert _products_on(found) == ["Pâté de campagne"]
    assert "Résultats pour « pâtés »" in found and "1 produit<" in found
    assert 'value="pâtés"' in found  # the form keeps what was asked
    assert _products_on(none) == [] and "Aucun produit ne correspond" in none


async def test_the_search_form_filters_and_sorts(catalog, hub):
    hub_id, _, _ = hub
    path = f"/catalog/hubs/{hub_id}"

    cheeses = await _page(catalog, path, category="fromagerie")
    in_stock = await _page(catalog, path, category="fromagerie", in_stock="true")
    by_price = await _page(catalog, path, sort="price_desc")

    assert _products_on(cheeses) == ["Crème fraîche", "Fromage de chèvre"]
    assert "Épuisé pour le moment" in cheeses and "3,00\u00a0€ le litre" in cheeses
    assert '<option value="fromagerie" selected>' in cheeses
    assert _products_on(in_stock) == ["Fromage de chèvre"]
    assert _products_on(by_price) == ["Pâtisseries du dimanche", "Fromage de chèvre",
                                      "Pâté de campagne", "Crème fraîche"]
    assert '<option value="price_desc" selected>' in by_price


async def test_long_lists_come_in_pages(catalog, hub):
    hub_id, shops, _ = hub
    bread, owner = shops["bread"]
    for number in range(1, 27):
        await catalog.list_product(bread, owner, f"Baguette n°{number:02}", price_cents=110, stock=3)
    path = f"/catalog/hubs/{hub_id}"

    first = await _page(catalog, path, q="baguette", sort="name")
    second_url = re.search(r'<a rel="next" href="([^"]+)"', first).group(1)
    second = await _page(catalog, second_url)

    assert len(_products_on(first)) == 24 and "Page 1 sur 2" in first
    assert "26 produits" in first
    assert "q=baguette" in second_url and "sort=name" in second_url and "page=2" in second_url
    assert _products_on(second) == ["Baguette n°25", "Baguette n°26"]
    assert 'rel="prev"' in second and 'rel="next"' not in second


async def test_criteria_that_make_no_sense_are_left_out(catalog, hub):
    hub_id, _, _ = hub

    html = await _page(catalog, f"/catalog/hubs/{hub_id}", category="viande", sort="hasard",
                       page="dix", q="x" * 500)

    assert "Résultats" in html and "0 produit" in html


async def test_a_shop_window_shows_its_products_on_sale(catalog, hub):
    hub_id, shops, listed = hub
    bread, owner = shops["bread"]
    withdrawn = listed["Pâtisseries du dimanche"]
    await catalog.client.patch(f"/catalog/api/v1/products/{withdrawn['id']}",
                               headers=catalog.headers(owner), json={"available": False})

    html = await _page(catalog, f"/catalog/shops/{bread['id']}/vitrine")
    searched = await _page(catalog, f"/catalog/shops/{bread['id']}/vitrine", q="pates")
    empty = await _page(catalog, f"/catalog/shops/{bread['id']}/vitrine", q="fromage")

    assert "<h1>Boulangerie Le Fournil</h1>" in html
    assert _products_on(html) == ["Pâté de campagne"]
    assert f'<a href="/catalog/hubs/{hub_id}">La Fabrique du Centre</a>' in html
    assert f'href="/orders/hubs/{hub_id}#shop-{bread["id"]}"' in html
    assert form_to(html, f"/catalog/shops/{bread['id']}/vitrine").method == "get"
    assert _products_on(searched) == ["Pâté de campagne"]
    assert _products_on(empty) == [] and "Aucun produit de ce commerce" in empty


async def test_a_product_with_a_photo_shows_its_thumbnail(catalog, hub):
    hub_id, shops, listed = hub
    _, owner = shops["bread"]
    buffer = BytesIO()
    Image.new("RGB", (640, 480), (190, 120, 60)).save(buffer, "JPEG")
    photo = await catalog.client.post(
        f"/catalog/api/v1/products/{listed['Pâté de campagne']['id']}/photos",
        headers=catalog.headers(owner), files={"file": ("pate.jpg", buffer.getvalue(), "image/jpeg")})
    assert photo.status_code == 201, photo.text

    html = await _page(catalog, f"/catalog/hubs/{hub_id}", q="pâté")

    assert f'<img src="{photo.json()["thumbnail_url"]}" alt=""' in html


async def test_a_suspended_shop_leaves_the_public_pages_until_it_reopens(catalog, hub):
    hub_id, shops, _ = hub
    bread, _ = shops["bread"]
    admin = Principal(user_id=uuid4(), email="root@adopte.test", name="Root",
                      roles=frozenset({"platform_admin"}))

    async def set_status(status: str) -> None:
        changed = await catalog.client.post(f"/catalog/api/v1/shops/{bread['id']}/status",
                                            headers=catalog.headers(admin), json={"status": status})
        assert changed.status_code == 200, changed.text

    await set_status("suspended")
    suspended = await _page(catalog, f"/catalog/hubs/{hub_id}")
    window = await catalog.client.get(f"/catalog/shops/{bread['id']}/vitrine")
    searched = await _page(catalog, f"/catalog/hubs/{hub_id}", q="pâté")

    assert "Boulangerie Le Fournil" not in suspended
    assert _products_on(suspended) == ["Fromage de chèvre"]
    assert window.status_code == 404
    assert _products_on(searched) == []

    await set_status("active")
    assert _products_on(await _page(catalog, f"/catalog/hubs/{hub_id}", q="pâté")) == [
        "Pâté de campagne"]
    assert "<h1>Boulangerie Le Fournil</h1>" in await _page(
        catalog, f"/catalog/shops/{bread['id']}/vitrine")


@pytest.mark.parametrize("path", ["/catalog/hubs/{unknown}", "/catalog/shops/{unknown}/vitrine"])
async def test_an_unknown_hub_or_shop_is_not_found(catalog, path):
    page = await catalog.client.get(path.format(unknown=uuid4()))

    assert page.status_code == 404
    assert "n'existe pas" in unescape(page.text)
