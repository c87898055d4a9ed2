"""A shop withdraws units of some lines of its part and prepares the rest: the order and the part
shrink by their amount, OrderLinesCancelled says what to release and refund, the resident sees
the withdrawn lines struck through. Withdrawing all that is left cancels the part instead."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from libs.contracts.order import (
    OrderCancelled,
    OrderLinesCancelled,
    OrderPartCancelled,
)
from libs.contracts.payment import PaymentStarted
from libs.contracts.pickup import HubStaffAssigned, PartDroppedOff
from tests.services.order.conftest import (
    OrderService,
    Town,
    open_town,
    payment_succeeded,
    person,
    read_order,
    running_order_service,
)
from tests.services.order.test_pages import session
from tests.services.order.test_saga import placed_order, slot_held, stock_reserved

BREAD, BAGUETTE, TOMME = 420, 110, 1290


async def paid_order(service: OrderService, town: Town) -> uuid.UUID:
    """3 loaves and 2 baguettes from the bakery, a tomme from the cheese shop: paid."""
    order_id = await placed_order(service, town, bread=3, baguette=2, tomme=1)
    await service.feed(stock_reserved(order_id))
    await service.feed(slot_held(town, order_id))
    payment_id, total = uuid.uuid4(), 3 * BREAD + 2 * BAGUETTE + TOMME
    await service.feed(PaymentStarted(payment_id=payment_id, order_id=order_id,
                                      amount_cents=total, provider="simulated"))
    await service.feed(payment_succeeded(order_id, payment_id, total))
    return order_id


async def withdraw(service: OrderService, order_id, shop, lines: list[tuple[uuid.UUID, int]],
                   who=None, reason="farine épuisée", key: str | None = None):
    headers = service.auth(who or shop.owner)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await service.client.post(
        f"/orders/api/v1/orders/{order_id}/parts/{shop.id}/lines/cancel",
        json={"lines": [{"variant_id": str(v), "quantity": q} for v, q in lines],
              "reason": reason}, headers=headers)


def quantities(part: dict) -> dict[str, tuple[int, int]]:
    return {line["name"]: (line["quantity"], line["withdrawn_quantity"]) for line in part["lines"]}


async def test_the_owner_withdraws_one_of_two_lines_and_the_rest_goes_on(service, town):
    order_id = await paid_order(service, town)
    bread, baguette = town.bakery.variant("Pain de campagne"), town.bakery.variant("Baguette")

    done = await withdraw(service, order_id, town.bakery, [(baguette, 2)])

    assert done.status_code == 200, done.text
    part = done.json()
    assert (part["status"], part["total_cents"]) == ("pending", 3 * BREAD)
    assert quantities(part) == {"Pain de campagne": (3, 0), "Baguette": (0, 2)}
    [withdrawal] = part["withdrawals"]
    assert (withdrawal["by_user_id"], withdrawal["for_shop"], withdrawal["amount_cents"],
            withdrawal["whole_part"]) == (str(town.bakery.owner.user_id), False, 2 * BAGUETTE,
                                          False)
    [event] = await service.published(OrderLinesCancelled)
    assert (event.order_id, event.shop_id, event.amount_cents, event.reason) == (
        order_id, town.bakery.id, 2 * BAGUETTE, "farine épuisée")
    assert [(line.variant_id, line.quantity, line.unit_price_cents) for line in event.lines] == [
        (baguette, 2, BAGUETTE)]
    assert await service.published(OrderPartCancelled) == []

    order = (await read_order(service, order_id, town.resident)).json()
    assert (order["status"], order["total_cents"]) == ("confirmed", 3 * BREAD + TOMME)
    assert bread in {uuid.UUID(line["variant_id"]) for p in order["parts"] for line in p["lines"]}


async def test_some_units_of_a_line_are_withdrawn_then_more_of_them(service, town):
    order_id = await paid_order(service, town)
    bread = town.bakery.variant("Pain de campagne")

    first = await withdraw(service, order_id, town.bakery, [(bread, 1)])
    second = await withdraw(service, order_id, town.bakery, [(bread, 1)], reason="four froid")

    assert (first.status_code, second.status_code) == (200, 200), second.text
    assert quantities(second.json())["Pain de campagne"] == (1, 2)
    assert second.json()["total_cents"] == BREAD + 2 * BAGUETTE
    events = await service.published(OrderLinesCancelled)
    assert [(e.amount_cents, e.lines[0].quantity, e.reason) for e in events] == [
        (BREAD, 1, "farine épuisée"), (BREAD, 1, "four froid")]
    too_many = await withdraw(service, order_id, town.bakery, [(bread, 2)])
    assert too_many.status_code == 422
    assert "only 1 of Pain de campagne left" in too_many.json()["error"]["message"]
    assert len(await service.published(OrderLinesCancelled)) == 2


async def test_the_same_key_withdraws_once_and_another_request_under_it_conflicts(service, town):
    order_id = await paid_order(service, town)
    bread = town.bakery.variant("Pain de campagne")

    answers = [await withdraw(service, order_id, town.bakery, [(bread, 2)], key="k-1")
               for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert len(await service.published(OrderLinesCancelled)) == 1

    other = await withdraw(service, order_id, town.bakery, [(bread, 1)], key="k-1")
    assert other.status_code == 409
    assert len(await service.published(OrderLinesCancelled)) == 1


async def test_withdrawing_all_that_is_left_cancels_the_part(service, town):
    order_id = await paid_order(service, town)
    bread, baguette = town.bakery.variant("Pain de campagne"), town.bakery.variant("Baguette")
    await withdraw(service, order_id, town.bakery, [(bread, 1)])

    done = await withdraw(service, order_id, town.bakery, [(bread, 2), (baguette, 2)],
                          reason="boulangerie fermée")

    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["withdrawals"][-1]["whole_part"]) == (
        "cancelled", True)
    assert len(await service.published(OrderLinesCancelled)) == 1
    [event] = await service.published(OrderPartCancelled)
    assert event.amount_cents == 2 * BREAD + 2 * BAGUETTE
    assert sorted((line.name, line.quantity) for line in event.lines) == [
        ("Baguette", 2), ("Pain de campagne", 2)]
    order = (await read_order(service, order_id, town.resident)).json()
    assert (order["status"], order["total_cents"]) == ("confirmed", TOMME)
    assert await service.published(OrderCancelled) == []


async def test_a_part_left_with_fewer_units_is_what_a_later_cancellation_refunds(service, town):
    order_id = await paid_order(service, town)
    await withdraw(service, order_id, town.bakery, [(town.bakery.variant("Baguette"), 2)])

    cancelled = await service.client.post(
        f"/orders/api/v1/orders/{order_id}/parts/{town.bakery.id}/cancel",
        json={"reason": "four en panne"}, headers=service.auth(town.bakery.owner))

    assert cancelled.status_code == 200, cancelled.text
    [event] = await service.published(OrderPartCancelled)
    assert event.amount_cents == 3 * BREAD
    assert [(line.name, line.quantity) for line in event.lines] == [("Pain de campagne", 3)]


@pytest.mark.parametrize("lines, message", [
    ("unknown", "no line of variant"),
    ("other shop", "no line of variant"),
    ("too many", "only 3 of Pain de campagne left"),
])
async def test_lines_not_in_the_part_or_beyond_it_are_refused(service, town, lines, message):
    order_id = await paid_order(service, town)
    asked = {"unknown": [(uuid.uuid4(), 1)],
             "other shop": [(town.cheese.variant("Tomme de Bretagne"), 1)],
             "too many": [(town.bakery.variant("Pain de campagne"), 4)]}[lines]

    refused = await withdraw(service, order_id, town.bakery, asked)

    assert refused.status_code == 422, refused.text
    assert message in refused.json()["error"]["message"]
    assert await service.published(OrderLinesCancelled) == []


async def test_malformed_requests_and_parts_not_open_are_refused(service, town):
    order_id = await paid_order(service, town)
    bread = town.bakery.variant("Pain de campagne")
    url = f"/orders/api/v1/orders/{order_id}/parts/{town.bakery.id}/lines/cancel"
    auth = service.auth(town.bakery.owner)
    for body in ({"lines": [], "reason": "x"}, {"lines": [{"variant_id": str(bread),
                                                            "quantity": 0}], "reason": "x"},
                 {"lines": [{"variant_id": str(bread), "quantity": 1}], "reason": "  "}):
        answer = await service.client.post(url, json=body, headers=auth)
        assert answer.status_code == 422, body
    missing = await withdraw(service, uuid.uuid4(), town.bakery, [(bread, 1)])
    assert missing.status_code == 404

    unpaid = await placed_order(service, town, bread=1, baguette=1)
    early = await withdraw(service, unpaid, town.bakery, [(bread, 1)])
    assert early.status_code == 409
    assert "confirmed" in early.json()["error"]["message"]
    await service.feed(PartDroppedOff(order_id=order_id, shop_id=town.bakery.id))
    late = await withdraw(service, order_id, town.bakery, [(bread, 1)])
    assert late.status_code == 409
    assert "pending" in late.json()["error"]["message"]
    assert await service.published(OrderLinesCancelled) == []


async def test_a_hub_admin_withdraws_for_the_shop_and_nobody_else_may(service, town):
    order_id = await paid_order(service, town)
    bread = town.bakery.variant("Pain de campagne")
    claude = person("Claude")
    await service.feed(HubStaffAssigned(hub_id=town.hub_id, user_id=claude.user_id,
                                        email=claude.email, role="admin"))

    for intruder in (town.cheese.owner, town.staff, town.other_staff, town.resident):
        refused = await withdraw(service, order_id, town.bakery, [(bread, 1)], who=intruder)
        assert refused.status_code == 403, refused.text
    done = await withdraw(service, order_id, town.bakery, [(bread, 1)], who=claude)

    assert done.status_code == 200, done.text
    [withdrawal] = done.json()["withdrawals"]
    assert (withdrawal["by_user_id"], withdrawal["by_name"], withdrawal["for_shop"]) == (
        str(claude.user_id), "Claude", True)
    assert len(await service.published(OrderLinesCancelled)) == 1


async def test_the_shop_withdraws_from_its_page_and_the_resident_sees_it_struck_through(
        service, town):
    order_id = await paid_order(service, town)
    baguette = town.bakery.variant("Baguette")
    owner = session(service, town.bakery.owner)
    page = await service.client.get(f"/orders/shops/{town.bakery.id}", headers=owner)
    assert "Retirer : Baguette" in page.text
    action = f"/orders/shops/{town.bakery.id}/parts/{order_id}/lines/{baguette}/withdraw"
    assert action in page.text
    token = page.text.split('name="form_token" value="')[1].split('"')[0]

    empty = await service.client.post(action, data={"quantity": "1", "reason": " ",
                                                    "form_token": token}, headers=owner)
    assert empty.status_code == 422
    assert "motif" in empty.text
    form = {"quantity": "1", "reason": "plus de levain", "form_token": token}
    done = await service.client.post(action, data=form, headers=owner)
    again = await service.client.post(action, data=form, headers=owner)

    assert (done.status_code, again.status_code) == (303, 303)
    assert len(await service.published(OrderLinesCancelled)) == 1
    shown = await service.client.get(done.headers["location"], headers=owner)
    assert "Le produit a été retiré de la commande" in shown.text
    assert "1 retiré : plus de levain" in shown.text
    resident = await service.client.get(f"/orders/{order_id}",
                                        headers=session(service, town.resident))
    assert "<del>Baguette</del>" in resident.text
    assert "remboursé 1,10" in resident.text
    too_many = await service.client.post(action, data={**form, "quantity": "5",
                                                       "form_token": "new"}, headers=owner)
    assert too_many.status_code == 422
    assert "Retrait impossible" in too_many.text



async def test_concurrent_withdrawals_never_take_more_than_the_line_on_each_database(
        tmp_path, database_url):
    async with running_order_service(tmp_path, database_url) as service:
        town = await open_town(service)
        order_id = await paid_order(service, town)
        bread = town.bakery.variant("Pain de campagne")

        racing = await asyncio.gather(*(withdraw(service, order_id, town.bakery, [(bread, 2)])
                                        for _ in range(4)))
        keyed = await asyncio.gather(*(withdraw(service, order_id, town.bakery, [(bread, 1)],
                                                key="same") for _ in range(4)))

        assert sorted(a.status_code for a in racing) == [200, 422, 422, 422]
        assert [a.status_code for a in keyed] == [200] * 4
        assert [e.amount_cents for e in await service.published(OrderLinesCancelled)] == [
            2 * BREAD, BREAD]
        part = keyed[0].json()
        assert quantities(part)["Pain de campagne"] == (0, 3)
        assert part["total_cents"] == 2 * BAGUETTE
