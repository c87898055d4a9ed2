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
    action = f"/catalog/shops/{opened['id']}/products/{bread['id']}/stock"

    restocked = await catalog.client.post(action, headers=catalog.session_cookie(owner),
                                          data={"stock": "20"})
    too_low = await catalog.client.post(action, headers=catalog.session_cookie(owner),
                                        data={"stock": "2"})

    assert restocked.status_code == 303
    assert too_low.status_code == 409
    assert "ne peut pas descendre sous les unités réservées" in too_low.text
    assert await catalog.stock(bread["id"]) == (20, 3)


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
