"""What must be undone, refused or kept once, end to end on the embedded runtime: failed and
late payments release stock and slot, the last unit is sold once, a repeated order is placed
once, and nobody reads or writes what is not theirs."""

from __future__ import annotations

import asyncio
import uuid

from tests.e2e.hub import Hub
from tests.e2e.test_journey import open_hub_with_two_shops, wait_for_order, wait_for_payment
from tests.support.waiting import eventually


async def stock_of(hub: Hub, hub_id: str, product_id: str) -> int:
    found = await hub.request("GET", "/catalog/api/v1/products", params={"hub_id": hub_id})
    return next(p["stock_available"] for p in found.json() if p["id"] == product_id)


async def slot_remaining(hub: Hub, hub_id: str, slot_id: str) -> int:
    slots = await hub.request("GET", f"/pickup/api/v1/hubs/{hub_id}/slots")
    return next(s["remaining"] for s in slots.json() if s["id"] == slot_id)


async def place(hub: Hub, town: dict, token: str, lines: list[dict], key: str | None = None):
    return await hub.eventually_ok(
        "POST", "/orders/api/v1/orders", expect=202, token=token,
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
        json={"hub_id": town["hub_id"], "slot_id": town["slot_id"], "lines": lines})


async def assert_released(hub: Hub, town: dict, shop: dict) -> None:
    async def released() -> bool:
        return (await stock_of(hub, town["hub_id"], shop["product_id"]) == shop["stock"]
                and await slot_remaining(hub, town["hub_id"], town["slot_id"]) == 5)

    await eventually(released, message="stock and slot released")


async def test_a_failed_payment_cancels_the_order_and_releases_stock_and_slot(embedded_hub):
    hub = embedded_hub
    town = await open_hub_with_two_shops(hub)
    shop = next(iter(town["shops"].values()))
    _, resident = await hub.sign_up("Noa")
    order_id = (await place(hub, town, resident,
                            [{"product_id": shop["product_id"], "quantity": 3}])).json()["id"]
    order = await wait_for_payment(hub, order_id, resident)
    assert await stock_of(hub, town["hub_id"], shop["product_id"]) == shop["stock"] - 3
    assert await slot_remaining(hub, town["hub_id"], town["slot_id"]) == 4

    refused = await hub.request("POST",
                                f"/payments/api/v1/payments/{order['payment']['id']}/simulate",
                                token=resident, json={"outcome": "failed"})
    assert refused.status_code == 200, refused.text
    await wait_for_order(hub, order_id, resident, "cancelled")
    await assert_released(hub, town, shop)


async def test_an_unpaid_order_times_out_and_releases_stock_and_slot(impatient_hub):
    hub = impatient_hub
    town = await open_hub_with_two_shops(hub)
    shop = next(iter(town["shops"].values()))
    _, resident = await hub.sign_up("Sacha")
    order_id = (await place(hub, town, resident,
                            [{"product_id": shop["product_id"], "quantity": 1}])).json()["id"]
    await wait_for_order(hub, order_id, resident, "cancelled", timeout=30)
    await assert_released(hub, town, shop)


async def test_twenty_residents_racing_for_the_last_unit_buy_it_once(embedded_hub):
    hub = embedded_hub
    town = await open_hub_with_two_shops(hub)
    cheese = next(s for s in town["shops"].values() if s["stock"] == 3)
    _, buyer = await hub.sign_up("Avant")
    first = (await place(hub, town, buyer,
                         [{"product_id": cheese["product_id"], "quantity": 2}])).json()["id"]
    await wait_for_order(hub, first, buyer, "awaiting_payment")

    residents = [(await hub.sign_up(f"Client{n}"))[1] for n in range(20)]
    answers = await asyncio.gather(*(
        hub.request("POST", "/orders/api/v1/orders", token=token,
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                    json={"hub_id": town["hub_id"], "slot_id": town["slot_id"],
                          "lines": [{"product_id": cheese["product_id"], "quantity": 1}]})
        for token in residents))
    # Once the order service has heard the last unit went, it refuses at checkout; before, the
    # catalog's reservation decides. Either way one resident gets it.
    turned_away = [a for a in answers if a.status_code in (409, 422)]
    assert all("sold out" in a.text for a in turned_away), [a.text for a in turned_away]
    orders = [(answer.json()["id"], token) for answer, token in zip(answers, residents, strict=True)
              if answer.status_code == 202]
    assert len(orders) + len(turned_away) == 20, [a.status_code for a in answers]
    outcomes: dict[str, str] = {}

    async def all_settled() -> bool:
        for order_id, token in orders:
            answer = await hub.request("GET", f"/orders/api/v1/orders/{order_id}", token=token)
            outcomes[order_id] = answer.json()["status"]
        return all(s in {"awaiting_payment", "rejected"} for s in outcomes.values())

    await eventually(all_settled, timeout=60, message="every order accepted or rejected")
    assert list(outcomes.values()).count("awaiting_payment") == 1, outcomes
    assert list(outcomes.values()).count("rejected") == len(orders) - 1
    assert await stock_of(hub, town["hub_id"], cheese["product_id"]) == 0


async def test_the_same_order_sent_twice_is_placed_once(embedded_hub):
    hub = embedded_hub
    town = await open_hub_with_two_shops(hub)
    shop = next(iter(town["shops"].values()))
    _, resident = await hub.sign_up("Eli")
    lines = [{"product_id": shop["product_id"], "quantity": 1}]
    first = await place(hub, town, resident, lines, key="panier-42")
    again = await place(hub, town, resident, lines, key="panier-42")
    assert again.json()["id"] == first.json()["id"]
    await wait_for_order(hub, first.json()["id"], resident, "awaiting_payment")
    mine = await hub.request("GET", "/orders/api/v1/orders", token=resident)
    assert [o["id"] for o in mine.json()] == [first.json()["id"]]
    assert await stock_of(hub, town["hub_id"], shop["product_id"]) == shop["stock"] - 1


async def test_nobody_reads_or_writes_what_is_not_theirs(embedded_hub):
    hub = embedded_hub
    town = await open_hub_with_two_shops(hub)
    (first_shop, first), (second_shop, second) = town["shops"].items()
    _, resident = await hub.sign_up("Jo")
    _, neighbour = await hub.sign_up("Max")
    order_id = (await place(hub, town, resident,
                            [{"product_id": first["product_id"], "quantity": 1}])).json()["id"]

    peek = await hub.request("GET", f"/orders/api/v1/orders/{order_id}", token=neighbour)
    assert peek.status_code in {403, 404}
    assert "error" in peek.json()
    tamper = await hub.request("POST", f"/catalog/api/v1/shops/{second_shop}/products",
                               token=first["owner"],
                               json={"name": "Intrus", "price_cents": 1, "stock": 1})
    assert tamper.status_code == 403, tamper.text
    anonymous = await hub.request("GET", f"/orders/api/v1/orders/{order_id}")
    assert anonymous.status_code == 401


async def test_a_shop_cancelling_its_part_refunds_it_and_releases_its_stock(embedded_hub):
    hub = embedded_hub
    town = await open_hub_with_two_shops(hub)
    (bakery_id, bakery), (dairy_id, dairy) = town["shops"].items()
    _, resident = await hub.sign_up("Yann")
    order_id = (await place(hub, town, resident, [
        {"product_id": bakery["product_id"], "quantity": 2},
        {"product_id": dairy["product_id"], "quantity": 1}])).json()["id"]
    order = await wait_for_payment(hub, order_id, resident)
    payment_id = order["payment"]["id"]
    paid = await hub.request("POST", f"/payments/api/v1/payments/{payment_id}/simulate",
                             token=resident, json={"outcome": "succeeded"})
    assert paid.status_code == 200, paid.text
    await wait_for_order(hub, order_id, resident, "confirmed")

    cancelled = await hub.request("POST", f"/orders/api/v1/orders/{order_id}/parts/{dairy_id}/cancel",
                                  token=dairy["owner"], json={"reason": "Fromage pas affiné"})
    assert cancelled.status_code == 200, cancelled.text

    async def refunded() -> bool:
        payment = await hub.request("GET", f"/payments/api/v1/payments/{payment_id}",
                                    token=resident)
        return payment.json()["refunded_cents"] == dairy["price"]

    await eventually(refunded, message="the dairy's part refunded")
    await eventually(lambda: _stock_is(hub, town, dairy, dairy["stock"]),
                     message="the dairy's stock released")
    order = await wait_for_order(hub, order_id, resident, "confirmed")
    assert order["total_cents"] == 2 * bakery["price"]
    assert {p["shop_id"]: p["status"] for p in order["parts"]} == {
        bakery_id: "pending", dairy_id: "cancelled"}
    assert await stock_of(hub, town["hub_id"], bakery["product_id"]) == bakery["stock"] - 2


async def _stock_is(hub: Hub, town: dict, shop: dict, expected: int) -> bool:
    return await stock_of(hub, town["hub_id"], shop["product_id"]) == expected
