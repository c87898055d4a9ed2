"""Products sold in several variants (250 g, 500 g): the read model follows the catalog, checkout
names the variant when there is a choice, each variant is priced and shown on its own."""

from __future__ import annotations

import re
import uuid

import pytest

from libs.contracts.catalog import ShortLine, StockReservationFailed
from libs.contracts.order import OrderPlaced
from tests.services.order.conftest import (
    OrderService,
    Town,
    product_changed,
    product_listed,
    read_order,
)
from tests.services.order.test_saga import slot_held


@pytest.fixture
async def honey(service: OrderService, town: Town):
    """Honey from the cheese shop, in 250 g (6,50 €) and 500 g (11,50 €)."""
    listed = product_listed(town.cheese.id, town.hub_id, "Miel de bruyère",
                            [("250 g", 650), ("500 g", 1150)])
    await service.feed(listed)
    return listed


def line(listed, quantity: int, variant: int | None = None) -> dict:
    chosen = {} if variant is None else {"variant_id": str(listed.variants[variant].variant_id)}
    return {"product_id": str(listed.product_id), **chosen, "quantity": quantity}


async def checkout(service: OrderService, town: Town, *lines: dict):
    return await service.client.post(
        "/orders/api/v1/orders",
        json={"hub_id": str(town.hub_id), "slot_id": str(town.slot_id), "lines": list(lines)},
        headers={**service.auth(town.resident), "Idempotency-Key": uuid.uuid4().hex})


async def test_each_variant_is_a_line_at_its_own_price(service, town, honey):
    placed = await checkout(service, town, line(honey, 2, variant=0), line(honey, 1, variant=1))

    assert placed.status_code == 202, placed.text
    order = (await read_order(service, placed.json()["id"], town.resident)).json()
    assert order["total_cents"] == 2 * 650 + 1150
    [part] = order["parts"]
    assert [(li["variant_label"], li["quantity"], li["unit_price_cents"]) for li in part["lines"]] == [
        ("250 g", 2, 650), ("500 g", 1, 1150)]
    [event] = await service.published(OrderPlaced)
    assert {(li.variant_id, li.name, li.variant_label) for li in event.parts[0].lines} == {
        (honey.variants[0].variant_id, "Miel de bruyère", "250 g"),
        (honey.variants[1].variant_id, "Miel de bruyère", "500 g")}


async def test_the_variant_must_be_named_when_there_is_a_choice(service, town, honey):
    unnamed = await checkout(service, town, line(honey, 1))
    unknown = await checkout(service, town, {**line(honey, 1), "variant_id": str(uuid.uuid4())})
    of_another_product = await checkout(service, town, {
        **line(honey, 1), "variant_id": str(town.bakery.variant("Baguette"))})

    assert unnamed.status_code == unknown.status_code == of_another_product.status_code == 422
    assert ("Miel de bruyère) comes in several variants (250 g, 500 g): name one with variant_id"
            in unnamed.json()["error"]["message"])
    assert "unknown variant" in unknown.json()["error"]["message"]
    assert "unknown variant" in of_another_product.json()["error"]["message"]
    assert await service.published(OrderPlaced) == []


async def test_the_only_variant_may_go_unnamed_and_lines_for_it_are_merged(service, town):
    bread = town.bakery.products["Pain de campagne"]

    placed = await checkout(service, town, line(bread, 2), line(bread, 3, variant=0))
    too_many = await checkout(service, town, line(bread, 50), line(bread, 50, variant=0))

    assert placed.status_code == 202, placed.text
    [event] = await service.published(OrderPlaced)
    assert [(li.variant_id, li.quantity) for li in event.parts[0].lines] == [
        (bread.variants[0].variant_id, 5)]
    assert too_many.status_code == 422
    assert "at most 99" in too_many.json()["error"]["message"]


async def test_a_variant_withdrawn_or_dropped_by_the_catalog_cannot_be_ordered(service, town, honey):
    small, large = honey.variants
    await service.feed(product_changed(honey, variants=[
        small.model_copy(update={"available": False}), large]))
    withdrawn = await checkout(service, town, line(honey, 1, variant=0))
    still_sold = await checkout(service, town, line(honey, 1, variant=1))

    await service.feed(product_changed(honey, variants=[large.model_copy(update={"price_cents": 1200})]))
    dropped = await checkout(service, town, line(honey, 1, variant=0))
    alone = await checkout(service, town, line(honey, 1))

    assert withdrawn.status_code == dropped.status_code == 422
    assert "(Miel de bruyère · 250 g) is not available" in withdrawn.json()["error"]["message"]
    assert "unknown variant" in dropped.json()["error"]["message"]
    assert (still_sold.status_code, alone.status_code) == (202, 202)
    totals = [e.total_cents for e in await service.published(OrderPlaced)]
    assert totals == [1150, 1200]


async def test_a_shortage_names_the_variant(service, town, honey):
    placed = await checkout(service, town, line(honey, 3, variant=1))
    order_id = uuid.UUID(placed.json()["id"])
    await service.feed(slot_held(town, order_id))
    await service.feed(StockReservationFailed(order_id=order_id, shortages=[ShortLine(
        product_id=honey.product_id, variant_id=honey.variants[1].variant_id, requested=3,
        available=1, reason="plus que 1 en stock")]))

    order = (await read_order(service, order_id, town.resident)).json()
    assert order["status"] == "rejected"
    assert order["reasons"] == ["Miel de bruyère · 500 g : plus que 1 en stock"]


async def test_the_basket_page_offers_each_variant_on_sale_with_its_label_and_price(
        service, town, honey):
    small, large = honey.variants
    await service.feed(product_changed(honey, variants=[
        small, large, large.model_copy(update={"variant_id": uuid.uuid4(), "label": "1 kg",
                                               "available": False})]))
    cookie = {"Cookie": f"adopte_session={service.issuer.issue(town.resident)}"}

    page = await service.client.get(f"/orders/hubs/{town.hub_id}", headers=cookie)

    assert "Miel de bruyère · 250 g · 6,50\xa0€" in page.text
    assert "Miel de bruyère · 500 g · 11,50\xa0€" in page.text
    assert "1 kg" not in page.text
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', page.text).group(1)
    ordered = await service.client.post(f"/orders/hubs/{town.hub_id}/checkout", headers=cookie, data={
        "form_token": token, "slot_id": str(town.slot_id),
        f"qty-{honey.product_id}.{small.variant_id}": "2",
        f"qty-{honey.product_id}.{large.variant_id}": "1"})
    assert ordered.status_code == 303
    order_page = await service.client.get(ordered.headers["location"], headers=cookie)
    assert "<td>Miel de bruyère · 250 g</td><td>2</td>" in order_page.text
    assert "<td>Miel de bruyère · 500 g</td><td>1</td>" in order_page.text
    [event] = await service.published(OrderPlaced)
    assert event.total_cents == 2 * 650 + 1150


async def test_a_checkout_form_leaving_a_choice_unmade_comes_back_with_the_problem(
        service, town, honey):
    cookie = {"Cookie": f"adopte_session={service.issuer.issue(town.resident)}"}

    refused = await service.client.post(f"/orders/hubs/{town.hub_id}/checkout", headers=cookie,
                                        data={"form_token": "t", "slot_id": str(town.slot_id),
                                              f"qty-{honey.product_id}": "1"})

    assert refused.status_code == 422
    assert "several variants" in refused.text
    assert await service.published(OrderPlaced) == []


async def test_an_order_keeps_the_label_and_price_its_variant_had(service, town, honey):
    placed = await checkout(service, town, line(honey, 1, variant=1))
    small, large = honey.variants
    await service.feed(product_changed(honey, variants=[
        small, large.model_copy(update={"label": "demi-kilo", "price_cents": 1300})]))

    order = (await read_order(service, placed.json()["id"], town.resident)).json()

    [kept] = order["parts"][0]["lines"]
    assert (kept["variant_id"], kept["variant_label"], kept["unit_price_cents"]) == (
        str(large.variant_id), "500 g", 1150)
