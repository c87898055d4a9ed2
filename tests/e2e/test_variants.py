"""Variants end to end, over HTTP on the embedded runtime: a shop lists honey in two jar sizes, a
resident orders both, pays, and each size's stock goes down by what was ordered of it."""

from __future__ import annotations

import uuid

from tests.e2e.hub import Hub
from tests.e2e.test_journey import open_hub_with_two_shops, wait_for_order, wait_for_payment
from tests.support.waiting import eventually


async def test_a_resident_orders_two_variants_of_a_product_and_each_stock_goes_down(
        embedded_hub: Hub):
    hub = embedded_hub
    town = await open_hub_with_two_shops(hub)
    hub_id = town["hub_id"]
    shop_id, shop = next(iter(town["shops"].items()))
    listed = await hub.request("POST", f"/catalog/api/v1/shops/{shop_id}/products",
                               token=shop["owner"], json={
                                   "name": "Miel de bruyère", "categories": ["epicerie"],
                                   "variants": [
                                       {"label": "250 g", "price_cents": 650, "stock": 10},
                                       {"label": "500 g", "price_cents": 1150, "stock": 4}]})
    assert listed.status_code == 201, listed.text
    honey = listed.json()
    small, large = honey["variants"]
    _, resident = await hub.sign_up("Lou")

    unnamed = {"hub_id": hub_id, "slot_id": town["slot_id"],
               "lines": [{"product_id": honey["id"], "quantity": 1}]}

    async def told_to_choose() -> bool:
        """Refused for the choice left unmade, once the order service knows the product."""
        refused = await hub.request("POST", "/orders/api/v1/orders", token=resident,
                                    headers={"Idempotency-Key": str(uuid.uuid4())}, json=unnamed)
        assert refused.status_code == 422, refused.text
        return "comes in several variants (250 g, 500 g)" in refused.json()["error"]["message"]

    await eventually(told_to_choose, message="the honey known to the order service")

    lines = [{"product_id": honey["id"], "variant_id": small["id"], "quantity": 3},
             {"product_id": honey["id"], "variant_id": large["id"], "quantity": 1}]
    placed = await hub.request("POST", "/orders/api/v1/orders", token=resident,
                               headers={"Idempotency-Key": str(uuid.uuid4())},
                               json={"hub_id": hub_id, "slot_id": town["slot_id"], "lines": lines})
    assert placed.status_code == 202, placed.text
    order_id = placed.json()["id"]

    order = await wait_for_payment(hub, order_id, resident)
    assert order["total_cents"] == 3 * 650 + 1150
    [part] = order["parts"]
    assert [(line["variant_label"], line["quantity"], line["unit_price_cents"])
            for line in part["lines"]] == [("250 g", 3, 650), ("500 g", 1, 1150)]
    paid = await hub.request("POST", f"/payments/api/v1/payments/{order['payment']['id']}/simulate",
                             token=resident, json={"outcome": "succeeded"})
    assert paid.status_code == 200, paid.text
    await wait_for_order(hub, order_id, resident, "confirmed")

    async def each_variant_held() -> bool:
        found = await hub.request("GET", "/catalog/api/v1/products", params={"hub_id": hub_id})
        [product] = [p for p in found.json() if p["id"] == honey["id"]]
        left = {v["label"]: v["stock_available"] for v in product["variants"]}
        return left == {"250 g": 7, "500 g": 3}

    await eventually(each_variant_held, message="the stock of each variant")
    parts = await hub.request("GET", f"/orders/api/v1/shops/{shop_id}/parts", token=shop["owner"])
    [to_prepare] = [p for p in parts.json() if p["order_id"] == order_id]
    assert {(line["name"], line["variant_label"]) for line in to_prepare["lines"]} == {
        ("Miel de bruyère", "250 g"), ("Miel de bruyère", "500 g")}
