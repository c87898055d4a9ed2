"""The shops are paid, end to end on the embedded hub (simulated provider): each shop opens its
payout account, a resident orders from both, pays and collects; each shop is then sent its share
less the platform's commission, and a refund after that takes the shop's net part back."""

from __future__ import annotations

import uuid

from tests.e2e.hub import Hub
from tests.e2e.test_journey import open_hub_with_two_shops, wait_for_order, wait_for_payment
from tests.support.waiting import eventually

COMMISSION_BPS = 800


async def open_payout_accounts(hub: Hub, town: dict) -> None:
    """Each owner opens the shop's payout account and goes through the simulated onboarding."""
    for shop_id, shop in town["shops"].items():
        opened = await hub.eventually_ok("POST", f"/payments/api/v1/shops/{shop_id}/payout-account",
                                         token=shop["owner"])
        onboarding = opened.json()["onboarding_url"]
        assert onboarding == f"/payments/shops/{shop_id}/payouts/onboarding"
        done = await hub.request("POST", onboarding, token=shop["owner"])
        assert done.status_code == 303, done.text


async def completed_order(hub: Hub, town: dict, quantity: int) -> dict:
    """A resident's order of ``quantity`` of each shop's product, paid, dropped off, collected."""
    _, resident = await hub.sign_up("Lou")
    lines = [{"product_id": s["product_id"], "quantity": quantity} for s in town["shops"].values()]
    placed = await hub.eventually_ok(
        "POST", "/orders/api/v1/orders", expect=202, token=resident,
        headers={"Idempotency-Key": str(uuid.uuid4())},
        json={"hub_id": town["hub_id"], "slot_id": town["slot_id"], "lines": lines})
    order_id = placed.json()["id"]
    order = await wait_for_payment(hub, order_id, resident)
    paid = await hub.request("POST", f"/payments/api/v1/payments/{order['payment']['id']}/simulate",
                             token=resident, json={"outcome": "succeeded"})
    assert paid.status_code == 200, paid.text
    order = await wait_for_order(hub, order_id, resident, "confirmed",
                                 until=lambda order: order["pickup"] is not None)
    for shop_id in town["shops"]:
        dropped = await hub.request("POST", f"/pickup/api/v1/pickups/{order_id}/drop-offs",
                                    token=town["staff"], json={"shop_id": shop_id})
        assert dropped.status_code == 200, dropped.text
    await wait_for_order(hub, order_id, resident, "ready")
    handed = await hub.request("POST", f"/pickup/api/v1/pickups/{order_id}/handover",
                               token=town["staff"], json={"code": order["pickup"]["code"]})
    assert handed.status_code == 200, handed.text
    return await wait_for_order(hub, order_id, resident, "completed")


async def transfers_of(hub: Hub, town: dict, order_id: str, until) -> dict[str, dict]:
    """Each shop's transfer for the order, once ``until(transfers)`` holds."""
    found: dict[str, dict] = {}

    async def reached() -> bool:
        for shop_id, shop in town["shops"].items():
            listed = await hub.request("GET", f"/payments/api/v1/shops/{shop_id}/transfers",
                                       token=shop["owner"])
            assert listed.status_code == 200, listed.text
            found[shop_id] = next((t for t in listed.json() if t["order_id"] == order_id), None)
        return all(found.values()) and until(found)

    await eventually(reached, message="the shops' transfers")
    return found


def net_share(cents: int) -> int:
    return cents - (cents * COMMISSION_BPS + 5_000) // 10_000


async def test_a_completed_two_shop_order_sends_each_shop_its_share_less_commission(
    embedded_hub,
):
    hub = embedded_hub
    town = await open_hub_with_two_shops(hub)
    await open_payout_accounts(hub, town)
    order = await completed_order(hub, town, quantity=2)

    transfers = await transfers_of(hub, town, order["id"],
                                   until=lambda found: all(t["status"] == "made"
                                                           for t in found.values()))
    # 840 less 67 (67.2), and 2580 less 206 (206.4).
    assert {shop: t["amount_cents"] for shop, t in transfers.items()} == {
        shop_id: net_share(2 * shop["price"]) for shop_id, shop in town["shops"].items()}
    assert sorted(t["amount_cents"] for t in transfers.values()) == [773, 2374]


async def test_a_missing_item_refunded_after_the_transfer_is_taken_back_from_its_shop(
    embedded_hub,
):
    hub = embedded_hub
    town = await open_hub_with_two_shops(hub)
    await open_payout_accounts(hub, town)
    order = await completed_order(hub, town, quantity=2)
    await transfers_of(hub, town, order["id"],
                       until=lambda found: all(t["status"] == "made" for t in found.values()))

    bakery_id = next(k for k, s in town["shops"].items() if s["price"] == 420)
    refund = {"shop_id": bakery_id, "amount_cents": 420, "reason": "un pain manquant"}
    asked = await hub.request("POST", f"/payments/api/v1/payments/{order['payment']['id']}/refunds",
                              token=town["admin"], headers={"Idempotency-Key": "pain-manquant"},
                              json=refund)
    assert asked.status_code == 201, asked.text
    again = await hub.request("POST", f"/payments/api/v1/payments/{order['payment']['id']}/refunds",
                              token=town["admin"], headers={"Idempotency-Key": "pain-manquant"},
                              json=refund)
    assert (again.status_code, again.json()["id"]) == (200, asked.json()["id"])

    transfers = await transfers_of(hub, town, order["id"],
                                   until=lambda found: found[bakery_id]["reversed_cents"] > 0)
    # The shop gives back the 420 less the commission the platform returns: 67 kept on 840,
    # 34 (33.6) on the 420 left, so 33 back and 387 taken from the bakery's transfer.
    assert transfers[bakery_id]["reversed_cents"] == 387
    assert transfers[bakery_id]["amount_cents"] - 387 == net_share(420)
    cheese_id = next(k for k in town["shops"] if k != bakery_id)
    assert transfers[cheese_id]["reversed_cents"] == 0
    payment = await hub.request("GET", f"/payments/api/v1/payments/{order['payment']['id']}",
                                token=town["admin"])
    assert payment.json()["refunded_cents"] == 420
