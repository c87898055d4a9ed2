"""The catalog's pages: a shop's products for its owner, a hub's shops for those who run it."""

from __future__ import annotations

from html import unescape
from uuid import uuid4

import pytest

from libs.auth.tokens import Principal
from libs.contracts.catalog import ProductListed, ShopOpened
from tests.services.catalog.support import order_placed

PLATFORM_ADMIN = Principal(user_id=uuid4(), email="root@adopte.test", name="Root",
                           roles=frozenset({"platform_admin"}))


@pytest.fixture
async def shop(catalog):
    hub_id = await catalog.open_hub()
    owner = await catalog.register("marie@fournil.test")
    return hub_id, owner, await catalog.open_shop(hub_id, owner)


async def test_the_owner_sees_their_products_with_stock_and_price(catalog, shop):
    hub_id, owner, opened = shop
    bread = await catalog.list_product(opened, owner, "Pain de campagne", price_cents=450, stock=10)
    await catalog.feed(order_placed(hub_id, [(bread, 3)]))

    page = await catalog.client.get(f"/catalog/shops/{opened['id']}",
                                    headers=catalog.session_cookie(owner))

    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "Pain de campagne" in page.text
    assert "4,50\u00a0€" in page.text
    assert "<td>7 " in page.text  # 10 on hand, 3 reserved
    assert "(3 réservés)" in page.text
    assert 'value="10"' in page.text
    assert "marie" in page.text  # who is signed in


async def test_a_product_added_by_form_has_its_price_in_exact_cents(catalog, shop):
    hub_id, owner, opened = shop

    added = await catalog.client.post(f"/catalog/shops/{opened['id']}/products",
                                      headers=catalog.session_cookie(owner),
                                      data={"name": "Kouign-amann", "price": "4,50", "stock": "6"})

    assert added.status_code == 303
    assert added.headers["location"] == f"/catalog/shops/{opened['id']}?fait=produit"
    [product] = await catalog.products(hub_id)
    assert (product["name"], product["price_cents"], product["stock_available"]) == (
        "Kouign-amann", 450, 6)
    page = await catalog.client.get(added.headers["location"], headers=catalog.session_cookie(owner))
    assert "Produit ajouté." in page.text


async def test_a_faulty_product_form_comes_back_with_every_problem_and_adds_nothing(catalog, shop):
    hub_id, owner, opened = shop

    refused = await catalog.client.post(f"/catalog/shops/{opened['id']}/products",
                                        headers=catalog.session_cookie(owner),
                                        data={"name": "Kouign-amann", "price": "4,505", "stock": "-1"})

    assert refused.status_code == 422
    assert "Prix invalide" in refused.text
    assert "Stock invalide" in refused.text
    assert 'value="Kouign-amann"' in refused.text
    assert await catalog.products(hub_id) == []
    assert await catalog.events(ProductListed) == []


async def test_the_stock_on_hand_is_set_by_form_but_never_below_reservations(catalog, shop):
    hub_id, owner, opened = shop
    bread = await catalog.list_product(opened, owner, stock=10)
    await catalog.feed(order_placed(hub_id, [(bread, 3)]))
    action = f"/catalog/shops/{opened['id']}/variants/{bread['variants'][0]['id']}/stock"

    restocked = await catalog.client.post(action, headers=catalog.session_cookie(owner),
                                          data={"stock": "20", "reason": "fournée du matin"})
    counted = await catalog.client.post(action, headers=catalog.session_cookie(owner),
                                        data={"stock": "18", "reason": ""})
    too_low = await catalog.client.post(action, headers=catalog.session_cookie(owner),
                                        data={"stock": "2"})
    page = await catalog.client.get(restocked.headers["location"],
                                    headers=catalog.session_cookie(owner))

    assert restocked.status_code == counted.status_code == 303
    assert too_low.status_code == 409
    assert "ne peut pas descendre sous les unités réservées" in too_low.text
    assert await catalog.stock(bread) == (18, 3)
    assert "Stock mis à jour." in page.text
    movements = page.text[page.text.index("Derniers mouvements de stock"):]
    assert movements.index("Inventaire") < movements.index("fournée du matin")
    assert "+10" in movements and "-2" in movements and "marie@fournil.test" in movements


async def test_the_owner_sees_each_variant_with_its_own_stock_form(catalog, shop):
    hub_id, owner, opened = shop
    honey = (await catalog.client.post(
        f"/catalog/api/v1/shops/{opened['id']}/products", headers=catalog.headers(owner),
        json={"name": "Miel", "unit": "piece", "categories": ["epicerie"], "variants": [
            {"label": "250 g", "price_cents": 650, "stock": 10},
            {"label": "500 g", "price_cents": 1150, "stock": 4}]})).json()

    page = await catalog.client.get(f"/catalog/shops/{opened['id']}",
                                    headers=catalog.session_cookie(owner))

    html = page.text
    assert "Épicerie" in html and "TVA 5,5 %" in html
    for variant, price in zip(honey["variants"], ("6,50\u00a0€", "11,50\u00a0€"), strict=True):
        assert f'action="/catalog/shops/{opened["id"]}/variants/{variant["id"]}/stock"' in html
        assert variant["label"] in html and variant["sku"] in html and price in html
    assert f'action="/catalog/shops/{opened["id"]}/products/{honey["id"]}/variants"' in html


async def test_a_product_is_added_by_form_with_its_details_and_first_variant(catalog, shop):
    hub_id, owner, opened = shop

    added = await catalog.client.post(f"/catalog/shops/{opened['id']}/products",
                                      headers=catalog.session_cookie(owner), data={
                                          "name": "Cidre brut", "description": "Du Trégor.",
                                          "category": "boissons", "unit": "litre",
                                          "vat_rate_bps": "2000", "label": "75 cl",
                                          "price": "6,20", "stock": "12"})

    assert added.status_code == 303
    [product] = await catalog.products(hub_id)
    assert (product["name"], product["description"], product["categories"], product["unit"],
            product["vat_rate_bps"]) == ("Cidre brut", "Du Trégor.", ["boissons"], "litre", 2000)
    assert [(v["label"], v["price_cents"], v["stock_available"]) for v in product["variants"]] == [
        ("75 cl", 620, 12)]


async def test_a_variant_is_added_by_form_and_a_taken_label_is_told(catalog, shop):
    hub_id, owner, opened = shop
    bread = await catalog.list_product(opened, owner, "Pain de campagne", price_cents=450)
    action = f"/catalog/shops/{opened['id']}/products/{bread['id']}/variants"

    added = await catalog.client.post(action, headers=catalog.session_cookie(owner),
                                      data={"label": "1 kg", "price": "8", "stock": "5"})
    taken = await catalog.client.post(action, headers=catalog.session_cookie(owner),
                                      data={"label": "1 KG", "price": "9", "stock": "1"})
    faulty = await catalog.client.post(action, headers=catalog.session_cookie(owner),
                                       data={"label": "2 kg", "price": "huit", "stock": "1"})

    assert added.status_code == 303
    assert added.headers["location"] == f"/catalog/shops/{opened['id']}?fait=variante"
    assert taken.status_code == 409
    assert "déjà une variante de ce nom" in unescape(taken.text)
    assert faulty.status_code == 422
    assert "Prix invalide" in faulty.text
    assert 'value="huit"' in faulty.text and "<details open>" in faulty.text
    [product] = await catalog.products(hub_id)
    assert [(v["label"], v["price_cents"]) for v in product["variants"]] == [("", 450),
                                                                            ("1 kg", 800)]


async def test_only_the_owner_reaches_the_shop_page(catalog, shop):
    hub_id, owner, opened = shop
    stranger = await catalog.register("paul@cave.test")

    foreign = await catalog.client.get(f"/catalog/shops/{opened['id']}",
                                       headers=catalog.session_cookie(stranger))
    foreign_post = await catalog.client.post(f"/catalog/shops/{opened['id']}/products",
                                             headers=catalog.session_cookie(stranger),
                                             data={"name": "Cidre", "price": "6", "stock": "1"})
    unknown = await catalog.client.get(f"/catalog/shops/{uuid4()}", headers=catalog.session_cookie(owner))
    anonymous = await catalog.client.get(f"/catalog/shops/{opened['id']}")
    expired = await catalog.client.get(f"/catalog/shops/{opened['id']}",
                                       headers={"Cookie": "adopte_session=not-a-token"})

    assert (foreign.status_code, foreign_post.status_code, unknown.status_code) == (403, 403, 404)
    assert "Vous n'avez pas accès à cette page." in unescape(foreign.text)
    assert anonymous.status_code == expired.status_code == 303
    assert anonymous.headers["location"].startswith("/accounts/login?next=%2Fcatalog%2Fshops%2F")
    assert await catalog.events(ProductListed) == []


async def test_a_hub_admin_opens_a_shop_from_the_hubs_page(catalog):
    hub_id = await catalog.open_hub()
    admin = await catalog.register("anne@grenier.test")
    await catalog.assign(admin, hub_id)
    await catalog.register("marie@fournil.test")

    opened = await catalog.client.post(f"/catalog/hubs/{hub_id}/shops",
                                       headers=catalog.session_cookie(admin),
                                       data={"name": "Le Fournil", "owner_email": "marie@fournil.test"})
    page = await catalog.client.get(opened.headers["location"], headers=catalog.session_cookie(admin))

    assert opened.status_code == 303
    assert page.status_code == 200
    assert "Boutique ouverte." in page.text
    assert "Le Fournil" in page.text and "marie@fournil.test" in page.text
    assert len(await catalog.events(ShopOpened)) == 1


async def test_the_hubs_page_refuses_unknown_owners_and_outsiders(catalog):
    hub_id = await catalog.open_hub()
    resident = await catalog.register("jean@exemple.test")

    unknown_owner = await catalog.client.post(
        f"/catalog/hubs/{hub_id}/shops", headers=catalog.session_cookie(PLATFORM_ADMIN),
        data={"name": "Le Fournil", "owner_email": "personne@nulle-part.test"})
    outsider = await catalog.client.get(f"/catalog/hubs/{hub_id}/shops",
                                        headers=catalog.session_cookie(resident))
    unknown_hub = await catalog.client.get(f"/catalog/hubs/{uuid4()}/shops",
                                           headers=catalog.session_cookie(PLATFORM_ADMIN))

    assert unknown_owner.status_code == 422
    assert "Aucun compte n'a cette adresse e-mail" in unescape(unknown_owner.text)
    assert 'value="personne@nulle-part.test"' in unknown_owner.text
    assert (outsider.status_code, unknown_hub.status_code) == (403, 404)
    assert await catalog.events(ShopOpened) == []


async def test_my_shops_lists_the_owners_shops_with_their_back_office_and_orders(catalog, shop):
    hub_id, owner, opened = shop
    cave = await catalog.open_shop(hub_id, await catalog.register("paul@cave.test"), "La Cave")

    page = await catalog.client.get("/catalog/shops", headers=catalog.session_cookie(owner))

    assert page.status_code == 200
    html = page.text
    assert "Boulangerie Le Fournil" in html and "Le Grenier Partagé" in html
    assert f'href="/catalog/shops/{opened["id"]}"' in html
    assert f'href="/orders/shops/{opened["id"]}"' in html
    assert "La Cave" not in html and cave["id"] not in html
    assert "administrez" not in html


async def test_my_shops_shows_a_hub_admin_their_hubs_shops_and_a_platform_admin_every_hub(catalog):
    grenier, fabrique = await catalog.open_hub(), await catalog.open_hub("La Fabrique", "Lannion")
    anne = await catalog.register("anne@grenier.test")
    await catalog.assign(anne, grenier)
    fournil = await catalog.open_shop(grenier, await catalog.register("marie@fournil.test"))
    port = await catalog.open_shop(fabrique, await catalog.register("yves@port.test"),
                                   "Épicerie du Port")

    as_hub_admin = (await catalog.client.get("/catalog/shops",
                                             headers=catalog.session_cookie(anne))).text
    as_platform_admin = (await catalog.client.get(
        "/catalog/shops", headers=catalog.session_cookie(PLATFORM_ADMIN))).text

    assert "Boulangerie Le Fournil" in as_hub_admin and "marie@fournil.test" in as_hub_admin
    assert f'href="/catalog/hubs/{grenier}/shops"' in as_hub_admin
    assert "Épicerie du Port" not in as_hub_admin and str(fabrique) not in as_hub_admin
    # Only a shop's owner may open its back office: no link that would lead to a refusal.
    assert f'href="/catalog/shops/{fournil["id"]}"' not in as_hub_admin
    assert as_platform_admin.index("Lannion") < as_platform_admin.index("Paimpol")
    assert "Épicerie du Port" in as_platform_admin and port["id"] not in as_platform_admin
    assert f'href="/catalog/hubs/{fabrique}/shops"' in as_platform_admin


async def test_my_shops_asks_to_sign_in_and_says_when_there_is_none(catalog):
    nobody = await catalog.register("jean@exemple.test")

    anonymous = await catalog.client.get("/catalog/shops")
    expired = await catalog.client.get("/catalog/shops",
                                       headers={"Cookie": "adopte_session=not-a-token"})
    empty = await catalog.client.get("/catalog/shops", headers=catalog.session_cookie(nobody))

    assert anonymous.status_code == expired.status_code == 303
    assert anonymous.headers["location"] == "/accounts/login?next=%2Fcatalog%2Fshops"
    assert empty.status_code == 200
    assert "Vous n'avez pas encore de boutique" in unescape(empty.text)


async def test_the_shop_page_leads_to_its_orders_and_a_signed_out_form_back_to_it(catalog, shop):
    _, owner, opened = shop

    page = await catalog.client.get(f"/catalog/shops/{opened['id']}",
                                    headers=catalog.session_cookie(owner))
    signed_out = await catalog.client.post(f"/catalog/shops/{opened['id']}/products",
                                           data={"name": "Cidre", "price": "6", "stock": "1"})

    assert f'href="/orders/shops/{opened["id"]}"' in page.text
    assert "Commandes à préparer" in unescape(page.text)
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == (
        f"/accounts/login?next=%2Fcatalog%2Fshops%2F{opened['id']}")
