"""Stock levels in the read model (StockLevelChanged): the highest revision wins whatever the
order of arrival, a level may come before its product and survives the product's later events;
the basket says « Épuisé » and « Plus que N », and checkout refuses what the read model knows
cannot be had, naming it. The catalog's reservation still decides in the end (test_saga)."""

from __future__ import annotations

from libs.contracts.catalog import ProductListed, StockLevelChanged
from libs.contracts.order import OrderPlaced
from tests.services.order.conftest import (
    OrderService,
    Town,
    open_town,
    place,
    product_changed,
    product_listed,
    running_order_service,
)
from tests.services.order.test_pages import form_token, session


def level(product: ProductListed, available: int, revision: int, variant: int = 0):
    return StockLevelChanged(product_id=product.product_id,
                             variant_id=product.variants[variant].variant_id,
                             shop_id=product.shop_id, hub_id=product.hub_id,
                             available=available, revision=revision)


def field(product: ProductListed, variant: int = 0) -> str:
    return f"qty-{product.product_id}.{product.variants[variant].variant_id}"


async def basket_page(service: OrderService, town: Town) -> str:
    page = await service.client.get(f"/orders/hubs/{town.hub_id}")
    assert page.status_code == 200
    return page.text


def offer_of(html: str, product: ProductListed, variant: int = 0) -> str:
    """The line of the basket page that names one variant: its label, or its sold-out notice."""
    name = field(product, variant)
    start = html.find(f'<label for="{name}"')
    start = start if start >= 0 else html.index(f'<p id="{name}"')
    return html[start:html.index("\n", start)]


async def test_the_basket_says_sold_out_and_how_few_are_left(service, town):
    bread, baguette = (town.bakery.products[n] for n in ("Pain de campagne", "Baguette"))
    tomme = town.cheese.products["Tomme de Bretagne"]
    await service.feed(level(bread, 0, revision=4))
    await service.feed(level(baguette, 3, revision=2))
    await service.feed(level(tomme, 40, revision=7))

    html = await basket_page(service, town)
    assert "Épuisé" in offer_of(html, bread)
    assert f'name="{field(bread)}"' not in html
    assert f'name="{field(baguette)}"' in html
    assert "Plus que 3" in html and 'max="3"' in html
    assert "Épuisé" not in html.replace(offer_of(html, bread), "")
    assert "Plus que 40" not in html

    await service.feed(level(bread, 12, revision=5))
    html = await basket_page(service, town)
    assert f'name="{field(bread)}"' in html and "Épuisé" not in html


async def test_checkout_refuses_a_sold_out_variant_or_more_than_is_left_naming_it(service, town):
    await service.feed(level(town.bakery.products["Pain de campagne"], 0, revision=1))
    await service.feed(level(town.cheese.products["Tomme de Bretagne"], 2, revision=1))

    sold_out = await place(service, town, bread=1, tomme=1)
    assert sold_out.status_code == 422, sold_out.text
    message = sold_out.json()["error"]["message"]
    assert "(Pain de campagne) is sold out" in message
    too_many = await place(service, town, tomme=3)
    assert too_many.status_code == 422
    assert "only 2 left of product" in too_many.json()["error"]["message"]
    assert "(Tomme de Bretagne): 3 asked for" in too_many.json()["error"]["message"]
    assert await service.published(OrderPlaced) == []

    enough = await place(service, town, tomme=2, baguette=5)  # no level known: the catalog decides
    assert enough.status_code == 202, enough.text


async def test_the_checkout_form_with_a_sold_out_variant_shows_the_basket_again(service, town):
    bread = town.bakery.products["Pain de campagne"]
    page = await service.client.get(f"/orders/hubs/{town.hub_id}",
                                    headers=session(service, town.resident))
    await service.feed(level(bread, 0, revision=1))  # sold out while the resident chose

    answer = await service.client.post(
        f"/orders/hubs/{town.hub_id}/checkout", headers=session(service, town.resident),
        data={"form_token": form_token(page.text), "slot_id": str(town.slot_id),
              field(bread): "2"})
    assert answer.status_code == 422
    assert "Commande impossible" in answer.text and "(Pain de campagne) is sold out" in answer.text
    assert await service.published(OrderPlaced) == []


async def test_the_highest_revision_wins_and_a_level_may_come_before_its_product(
        tmp_path, database_url):
    async with running_order_service(tmp_path, database_url) as service:
        town = await open_town(service)
        honey = product_listed(town.cheese.id, town.hub_id, "Miel de bruyère",
                               [("250 g", 650), ("500 g", 1150)])
        await service.feed(level(honey, 0, revision=3, variant=1))  # before ProductListed
        await service.feed(honey)
        await service.feed(level(honey, 9, revision=2, variant=1))  # late: older than 3
        await service.feed(level(honey, 4, revision=5, variant=0))
        await service.feed(level(honey, 1, revision=4, variant=0))  # late again
        await service.feed(product_changed(honey, name="Miel de bruyère du Trégor"))

        html = await basket_page(service, town)
        assert "Plus que 4" in offer_of(html, honey, variant=0)
        assert "Épuisé" in offer_of(html, honey, variant=1)
        assert "Miel de bruyère du Trégor · 500 g" in offer_of(html, honey, variant=1)

        await service.feed(level(honey, 20, revision=6, variant=1))
        html = await basket_page(service, town)
        assert f'name="{field(honey, 1)}"' in html

