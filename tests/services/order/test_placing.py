"""Checkout: a basket priced from the read models and split by shop, refused clearly when wrong,
and placed once however often it is sent."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from libs.contracts.order import OrderPlaced
from libs.contracts.pickup import SlotClosed, SlotOpened
from tests.services.order.conftest import (
    open_town,
    place,
    product_changed,
    read_order,
    running_order_service,
)


async def test_a_basket_of_two_shops_is_one_order_with_a_part_per_shop(service, town):
    placed = await place(service, town, bread=2, baguette=3, tomme=1)

    assert placed.status_code == 202, placed.text
    assert placed.json()["status"] == "placed"
    order = (await read_order(service, placed.json()["id"], town.resident)).json()
    parts = {p["shop_id"]: p for p in order["parts"]}
    assert parts[str(town.bakery.id)]["total_cents"] == 2 * 420 + 3 * 110
    assert parts[str(town.cheese.id)]["total_cents"] == 1290
    assert {p["status"] for p in parts.values()} == {"pending"}
    assert order["total_cents"] == 2 * 420 + 3 * 110 + 1290
    assert order["payment"] is None and order["pickup"] is None and order["reasons"] == []

    [event] = await service.published(OrderPlaced)
    assert event.order_id == uuid.UUID(order["id"])
    assert (event.hub_id, event.slot_id) == (town.hub_id, town.slot_id)
    assert (event.resident_id, event.resident_email) == (town.resident.user_id, town.resident.email)
    assert event.total_cents == order["total_cents"]
    by_shop = {part.shop_id: part for part in event.parts}
    assert {line.name: (line.quantity, line.unit_price_cents)
            for line in by_shop[town.bakery.id].lines} == {"Pain de campagne": (2, 420),
                                                           "Baguette": (3, 110)}
    assert by_shop[town.cheese.id].total_cents == 1290


async def test_the_price_is_the_catalogs_latest_never_the_clients(service, town):
    bread = town.bakery.products["Pain de campagne"]
    await service.feed(product_changed(bread, name="Pain de campagne bio", variants=[
        bread.variants[0].model_copy(update={"price_cents": 480})]))
    body = town.basket(bread=1)
    body["lines"][0]["unit_price_cents"] = 1
    cheating = await service.client.post("/orders/api/v1/orders", json=body, headers={
        **service.auth(town.resident), "Idempotency-Key": "k"})
    assert cheating.status_code == 422

    placed = await place(service, town, bread=1)
    order = (await read_order(service, placed.json()["id"], town.resident)).json()
    assert order["total_cents"] == 480
    assert order["parts"][0]["lines"][0]["name"] == "Pain de campagne bio"


async def test_lines_naming_one_product_twice_are_merged(service, town):
    body = town.basket(bread=2)
    body["lines"].append({**body["lines"][0], "quantity": 5})
    placed = await service.client.post("/orders/api/v1/orders", json=body, headers={
        **service.auth(town.resident), "Idempotency-Key": "merged"})
    assert placed.status_code == 202, placed.text
    [event] = await service.published(OrderPlaced)
    assert [(line.name, line.quantity) for line in event.parts[0].lines] == [("Pain de campagne", 7)]

    body["lines"][1]["quantity"] = 98
    too_many = await service.client.post("/orders/api/v1/orders", json=body, headers={
        **service.auth(town.resident), "Idempotency-Key": "too-many"})
    assert too_many.status_code == 422
    assert "at most 99" in too_many.json()["error"]["message"]


async def test_a_wrong_basket_is_refused_with_what_is_wrong_and_nothing_is_placed(service, town):
    await service.feed(product_changed(town.cheese.products["Tomme de Bretagne"], available=False))
    past_slot = uuid.uuid4()
    started = datetime.now(UTC) - timedelta(minutes=5)
    await service.feed(SlotOpened(slot_id=past_slot, hub_id=town.hub_id, starts_at=started,
                                  ends_at=started + timedelta(hours=1), capacity=3))
    unknown = str(uuid.uuid4())
    good = town.basket(bread=1)

    def with_(**changes) -> dict:
        return {**good, **changes}

    cases = {
        "unknown hub": (with_(hub_id=unknown), unknown),
        "unknown slot": (with_(slot_id=unknown), unknown),
        "slot of another hub": (with_(hub_id=str(town.other_hub_id),
                                      lines=[{"product_id": str(town.other_product_id),
                                              "quantity": 1}]), "is not a slot of hub"),
        "slot started": (with_(slot_id=str(past_slot)), "has already started"),
        "unknown product": (with_(lines=[{"product_id": unknown, "quantity": 1}]), unknown),
        "product of another hub": (with_(lines=[{"product_id": str(town.other_product_id),
                                                 "quantity": 1}]), "is not sold at hub"),
        "unavailable": (town.basket(tomme=1), "Tomme de Bretagne) is not available"),
        "no line": (with_(lines=[]), "lines"),
        "zero": (town.basket(bread=0), "quantity"),
        "hundred": (town.basket(bread=100), "quantity"),
    }
    for case, (body, named) in cases.items():
        refused = await service.client.post("/orders/api/v1/orders", json=body, headers={
            **service.auth(town.resident), "Idempotency-Key": uuid.uuid4().hex})
        assert refused.status_code == 422, (case, refused.text)
        assert named in refused.json()["error"]["message"], (case, refused.json())

    mine = await service.client.get("/orders/api/v1/orders", headers=service.auth(town.resident))
    assert mine.json() == []
    assert await service.published(OrderPlaced) == []


async def test_checkout_needs_a_signed_in_resident_and_an_idempotency_key(service, town):
    anonymous = await service.client.post("/orders/api/v1/orders", json=town.basket(bread=1),
                                          headers={"Idempotency-Key": "k"})
    assert anonymous.status_code == 401
    keyless = await service.client.post("/orders/api/v1/orders", json=town.basket(bread=1),
                                        headers=service.auth(town.resident))
    assert keyless.status_code == 400
    assert "Idempotency-Key" in keyless.json()["error"]["message"]
    assert await service.published(OrderPlaced) == []


async def test_the_same_key_places_one_order_and_refuses_another_basket(service, town):
    first = await place(service, town, key="panier-42", bread=1, tomme=2)
    again = await place(service, town, key="panier-42", tomme=2, bread=1)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["id"] == first.json()["id"]

    other_basket = await place(service, town, key="panier-42", bread=2)
    assert other_basket.status_code == 409
    assert "Idempotency-Key" in other_basket.json()["error"]["message"]

    neighbours = await place(service, town, who=town.neighbour, key="panier-42", bread=1, tomme=2)
    assert neighbours.status_code == 202
    assert neighbours.json()["id"] != first.json()["id"]
    placed = await service.published(OrderPlaced)
    assert sorted(str(e.order_id) for e in placed) == sorted([first.json()["id"],
                                                              neighbours.json()["id"]])


async def test_the_same_key_finds_its_order_once_the_basket_could_no_longer_be_placed(
        service, town):
    first = await place(service, town, key="panier-43", bread=1)
    await service.feed(SlotClosed(slot_id=town.slot_id, hub_id=town.hub_id, reason="fermé"))

    again = await place(service, town, key="panier-43", bread=1)
    assert again.status_code == 202, again.text
    assert again.json()["id"] == first.json()["id"]
    other_basket = await place(service, town, key="panier-43", bread=2)
    assert other_basket.status_code == 409
    new_key = await place(service, town, key="panier-44", bread=1)
    assert new_key.status_code == 422
    assert "closed" in new_key.json()["error"]["message"]
    assert len(await service.published(OrderPlaced)) == 1


async def test_two_simultaneous_requests_with_one_key_place_one_order(tmp_path, database_url):
    async with running_order_service(tmp_path, database_url) as service:
        town = await open_town(service)
        answers = await asyncio.gather(*(place(service, town, key="double-clic", bread=1)
                                         for _ in range(4)))
        assert {a.status_code for a in answers} == {202}, [a.text for a in answers]
        assert len({a.json()["id"] for a in answers}) == 1
        assert len(await service.published(OrderPlaced)) == 1
