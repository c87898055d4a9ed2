"""A shop withdraws one unit of a line and prepares the rest, end to end on the embedded hub
(simulated provider): the resident gets that unit's price back, the unit is free to order
again, the order is collected with the rest and the shop is sent its reduced share less
commission."""

from __future__ import annotations

from tests.e2e.test_compensations import place, stock_of
from tests.e2e.test_journey import open_hub_with_two_shops, wait_for_order, wait_for_payment
from tests.e2e.test_payouts import net_share, open_payout_accounts, transfers_of
from tests.support.waiting import eventually


async def test_a_unit_withdrawn_is_refunded_released_and_left_out_of_the_shops_transfer(
    embedded_hub,
):
    hub = embedded_hub
    town = await open_hub_with_two_shops(hub)
    await open_payout_accounts(hub, town)
    (bakery_id, bakery), (dairy_id, dairy) = town["shops"].items()
    _, resident = await hub.sign_up("Yann")
    order_id = (await place(hub, town, resident, [
        {"product_id": bakery["product_id"], "quantity": 3},
        {"product_id": dairy["product_id"], "quantity": 1}])).json()["id"]
    order = await wait_for_payment(hub, order_id, resident)
    payment_id = order["payment"]["id"]
    paid = await hub.request("POST", f"/payments/api/v1/payments/{payment_id}/simulate",
                             token=resident, json={"outcome": "succeeded"})
    assert paid.status_code == 200, paid.text
    order = await wait_for_order(hub, order_id, resident, "confirmed",
                                 until=lambda order: order["pickup"] is not None)
    [bread] = next(p["lines"] for p in order["parts"] if p["shop_id"] == bakery_id)

    withdrawn = await hub.request(
        "POST", f"/orders/api/v1/orders/{order_id}/parts/{bakery_id}/lines/cancel",
        token=bakery["owner"], json={"lines": [{"variant_id": bread["variant_id"], "quantity": 1}],
                                     "reason": "une fournée ratée"})
    assert withdrawn.status_code == 200, withdrawn.text

    async def refunded() -> bool:
        payment = await hub.request("GET", f"/payments/api/v1/payments/{payment_id}",
                                    token=resident)
        return payment.json()["refunded_cents"] == bakery["price"]

    await eventually(refunded, message="the withdrawn loaf refunded")

    async def released() -> bool:
        return await stock_of(hub, town["hub_id"], bakery["product_id"]) == bakery["stock"] - 2

    await eventually(released, message="the withdrawn loaf back in stock")
    order = await wait_for_order(hub, order_id, resident, "confirmed")
    assert order["total_cents"] == 2 * bakery["price"] + dairy["price"]
    [line] = next(p["lines"] for p in order["parts"] if p["shop_id"] == bakery_id)
    assert (line["quantity"], line["withdrawn_quantity"]) == (2, 1)

    for shop_id in town["shops"]:
        dropped = await hub.request("POST", f"/pickup/api/v1/pickups/{order_id}/drop-offs",
                                    token=town["staff"], json={"shop_id": shop_id})
        assert dropped.status_code == 200, dropped.text
    await wait_for_order(hub, order_id, resident, "ready")
    handed = await hub.request("POST", f"/pickup/api/v1/pickups/{order_id}/handover",
                               token=town["staff"], json={"code": order["pickup"]["code"]})
    assert handed.status_code == 200, handed.text
    await wait_for_order(hub, order_id, resident, "completed")

    transfers = await transfers_of(hub, town, order_id,
                                   until=lambda found: all(t["status"] == "made"
                                                           for t in found.values()))
    # The bakery: 840 left of 1260, less 67 (67.2); the dairy: 1290 less 103 (103.2).
    assert {shop: t["amount_cents"] for shop, t in transfers.items()} == {
        bakery_id: net_share(2 * bakery["price"]), dairy_id: net_share(dairy["price"])}
    assert [transfers[bakery_id]["amount_cents"], transfers[bakery_id]["reversed_cents"]] == [
        773, 0]
    page = await hub.request("GET", f"/orders/{order_id}", token=resident)
    assert "<del>Pain de campagne</del>" in page.text
