"""Shops and their parts: each owner sees its parts of paid orders and may give one up while it
is still to prepare; the last part given up cancels the order. (Those acting for a shop:
test_back_office.py.)"""

from __future__ import annotations

import uuid

from libs.contracts.order import OrderCancelled, OrderPartCancelled
from libs.contracts.pickup import PartDroppedOff
from tests.services.order.conftest import (
    OrderService,
    Town,
    payment_succeeded,
    read_order,
)
from tests.services.order.test_saga import awaiting_payment, placed_order


async def confirmed_order(service: OrderService, town: Town) -> uuid.UUID:
    order_id, payment_id = await awaiting_payment(service, town)
    await service.feed(payment_succeeded(order_id, payment_id, 2 * 420 + 1290))
    return order_id


async def cancel(service: OrderService, town: Town, order_id, shop, who=None, reason="four en panne"):
    return await service.client.post(
        f"/orders/api/v1/orders/{order_id}/parts/{shop.id}/cancel", json={"reason": reason},
        headers=service.auth(who or shop.owner))


async def test_an_owner_sees_its_parts_of_paid_orders_only(service, town):
    paid = await confirmed_order(service, town)
    await placed_order(service, town)

    parts = await service.client.get(f"/orders/api/v1/shops/{town.bakery.id}/parts",
                                     headers=service.auth(town.bakery.owner))
    assert parts.status_code == 200, parts.text
    [part] = parts.json()
    assert (part["order_id"], part["order_status"], part["status"]) == (str(paid), "confirmed",
                                                                       "pending")
    assert part["total_cents"] == 2 * 420
    assert [(line["name"], line["quantity"]) for line in part["lines"]] == [("Pain de campagne", 2)]
    assert part["slot"]["id"] == str(town.slot_id)

    for intruder in (town.cheese.owner, town.resident, town.staff, town.other_staff):
        refused = await service.client.get(f"/orders/api/v1/shops/{town.bakery.id}/parts",
                                           headers=service.auth(intruder))
        assert refused.status_code == 403, refused.text
    unknown = await service.client.get(f"/orders/api/v1/shops/{uuid.uuid4()}/parts",
                                       headers=service.auth(town.bakery.owner))
    assert unknown.status_code == 404


async def test_an_owner_cancels_its_pending_part_and_the_order_goes_on(service, town):
    order_id = await confirmed_order(service, town)
    refused = await cancel(service, town, order_id, town.bakery, who=town.cheese.owner)
    assert refused.status_code == 403

    cancelled = await cancel(service, town, order_id, town.bakery)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    [event] = await service.published(OrderPartCancelled)
    assert (event.order_id, event.shop_id, event.amount_cents) == (order_id, town.bakery.id, 840)
    assert [(line.name, line.quantity) for line in event.lines] == [("Pain de campagne", 2)]
    assert event.reason == "four en panne"

    order = (await read_order(service, order_id, town.resident)).json()
    assert (order["status"], order["total_cents"]) == ("confirmed", 1290)
    assert {p["shop_id"]: p["status"] for p in order["parts"]} == {
        str(town.bakery.id): "cancelled", str(town.cheese.id): "pending"}
    assert order["reasons"] == ["Boulangerie Le Fournil : four en panne"]
    again = await cancel(service, town, order_id, town.bakery)
    assert again.status_code == 409
    assert await service.published(OrderCancelled) == []


async def test_the_last_part_cancelled_cancels_the_order(service, town):
    order_id = await confirmed_order(service, town)
    for shop in (town.bakery, town.cheese):
        answer = await cancel(service, town, order_id, shop)
        assert answer.status_code == 200, answer.text

    order = (await read_order(service, order_id, town.resident)).json()
    assert (order["status"], order["total_cents"]) == ("cancelled", 0)
    assert len(await service.published(OrderPartCancelled)) == 2
    [event] = await service.published(OrderCancelled)
    assert event.order_id == order_id


async def test_a_part_cannot_be_cancelled_before_payment_or_after_drop_off(service, town):
    unpaid, _ = await awaiting_payment(service, town)
    early = await cancel(service, town, unpaid, town.bakery)
    assert early.status_code == 409
    assert "confirmed" in early.json()["error"]["message"]

    paid = await confirmed_order(service, town)
    await service.feed(PartDroppedOff(order_id=paid, shop_id=town.bakery.id))
    late = await cancel(service, town, paid, town.bakery)
    assert late.status_code == 409
    assert "pending" in late.json()["error"]["message"]

    empty = await cancel(service, town, paid, town.bakery, reason="  ")
    assert empty.status_code == 422
    missing = await cancel(service, town, uuid.uuid4(), town.bakery)
    assert missing.status_code == 404
    assert await service.published(OrderPartCancelled) == []
