"""The journey that must always work (DESIGN.md), over HTTP, on both runtimes: two shops list
products, a resident orders from both, pays, the shops prepare their parts and they are dropped
off, the resident collects with the code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.hub import Hub
from tests.support.waiting import eventually


@pytest.fixture(params=["embedded", "distributed"])
def hub(request) -> Hub:
    return request.getfixturevalue(f"{request.param}_hub")


async def open_hub_with_two_shops(hub: Hub) -> dict:
    """Admin, hub, staff, a slot, two shops with their products: what a hub has before orders."""
    hub.create_admin()
    admin = await hub.token(hub.admin_email, hub.admin_password)
    opened = await hub.eventually_ok(
        "POST", "/pickup/api/v1/hubs", expect=201, token=admin,
        json={"name": "La Fabrique", "town": "Lannion", "address": "12 rue des Halles"})
    hub_id = opened.json()["id"]

    staff_email, staff = await hub.sign_up("Camille")
    await hub.eventually_ok("POST", f"/pickup/api/v1/hubs/{hub_id}/staff", expect=201,
                            token=admin, json={"email": staff_email, "role": "staff"})
    starts = datetime.now(UTC) + timedelta(days=1)
    slot = await hub.request("POST", f"/pickup/api/v1/hubs/{hub_id}/slots", token=staff, json={
        "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "capacity": 5})
    assert slot.status_code == 201, slot.text

    shops = {}
    for shop_name, product, price, stock in (("Boulangerie Le Fournil", "Pain de campagne", 420, 10),
                                             ("Fromagerie du Trégor", "Tomme de Bretagne", 1290, 3)):
        owner_email, owner = await hub.sign_up(shop_name.split()[0])
        shop = await hub.eventually_ok(
            "POST", "/catalog/api/v1/shops", expect=201, token=admin,
            json={"hub_id": hub_id, "name": shop_name, "owner_email": owner_email})
        shop_id = shop.json()["id"]
        listed = await hub.request("POST", f"/catalog/api/v1/shops/{shop_id}/products",
                                   token=owner, json={"name": product, "price_cents": price,
                                                      "stock": stock})
        assert listed.status_code == 201, listed.text
        shops[shop_id] = {"owner": owner, "product_id": listed.json()["id"], "price": price,
                          "stock": stock}
    return {"hub_id": hub_id, "slot_id": slot.json()["id"], "staff": staff, "admin": admin,
            "shops": shops}


async def wait_for_order(hub: Hub, order_id: str, token: str, status: str, timeout=30,
                         until=lambda order: True) -> dict:
    """The order once it has ``status`` (and ``until`` holds: the saga's later facts, such as
    the payment's id, reach the order by events of their own)."""
    answers = []

    async def reached() -> bool:
        answer = await hub.request("GET", f"/orders/api/v1/orders/{order_id}", token=token)
        assert answer.status_code == 200, answer.text
        answers.append(answer.json())
        assert answers[-1]["status"] not in {"rejected", "cancelled"} - {status}, answers[-1]
        return answers[-1]["status"] == status and until(answers[-1])

    await eventually(reached, timeout=timeout, interval=0.1, message=f"order {status}")
    return answers[-1]


async def wait_for_payment(hub: Hub, order_id: str, token: str) -> dict:
    return await wait_for_order(hub, order_id, token, "awaiting_payment",
                                until=lambda order: order["payment"] is not None)


async def test_a_resident_orders_from_two_shops_and_collects_at_the_hub(hub: Hub):
    town = await open_hub_with_two_shops(hub)
    hub_id, shops = town["hub_id"], town["shops"]
    _, resident = await hub.sign_up("Lou")

    async def both_products_listed() -> bool:
        found = await hub.request("GET", "/catalog/api/v1/products", params={"hub_id": hub_id})
        return {p["id"] for p in found.json()} == {s["product_id"] for s in shops.values()}

    await eventually(both_products_listed, message="the hub's catalogue")
    lines = [{"product_id": s["product_id"], "quantity": 2} for s in shops.values()]
    saga = f"journey-{uuid.uuid4().hex}"
    placed = await hub.eventually_ok(
        "POST", "/orders/api/v1/orders", expect=202, token=resident,
        headers={"Idempotency-Key": str(uuid.uuid4()), "X-Correlation-ID": saga},
        json={"hub_id": hub_id, "slot_id": town["slot_id"], "lines": lines})
    order_id = placed.json()["id"]

    order = await wait_for_payment(hub, order_id, resident)
    assert order["total_cents"] == sum(2 * s["price"] for s in shops.values())
    assert sorted(p["shop_id"] for p in order["parts"]) == sorted(shops)
    paid = await hub.request("POST", f"/payments/api/v1/payments/{order['payment']['id']}/simulate",
                             token=resident, json={"outcome": "succeeded"})
    assert paid.status_code == 200, paid.text

    order = await wait_for_order(hub, order_id, resident, "confirmed",
                                 until=lambda order: order["pickup"] is not None)
    code = order["pickup"]["code"]
    assert order["pickup"]["slot_id"] == town["slot_id"]
    for shop_id, shop in shops.items():
        parts = await hub.request("GET", f"/orders/api/v1/shops/{shop_id}/parts",
                                  token=shop["owner"])
        assert parts.status_code == 200, parts.text
        assert order_id in {p["order_id"] for p in parts.json()}
        prepared = await hub.request(
            "POST", f"/orders/api/v1/orders/{order_id}/parts/{shop_id}/prepared",
            token=shop["owner"])
        assert prepared.status_code == 200, prepared.text
        assert prepared.json()["status"] == "prepared"

    staff = town["staff"]

    async def desk_knows_both_parts_prepared() -> bool:
        pickup = await hub.request("GET", f"/pickup/api/v1/pickups/{order_id}", token=staff)
        return all(part["prepared_at"] for part in pickup.json()["parts"])

    await eventually(desk_knows_both_parts_prepared, message="both parts prepared at the desk")
    for shop_id in shops:
        dropped = await hub.request("POST", f"/pickup/api/v1/pickups/{order_id}/drop-offs",
                                    token=staff, json={"shop_id": shop_id})
        assert dropped.status_code == 200, dropped.text
    await wait_for_order(hub, order_id, resident, "ready")

    wrong = await hub.request("POST", f"/pickup/api/v1/pickups/{order_id}/handover",
                              token=staff, json={"code": "ZZZZZZ" if code != "ZZZZZZ" else "YYYYYY"})
    assert 400 <= wrong.status_code < 500
    handed = await hub.request("POST", f"/pickup/api/v1/pickups/{order_id}/handover",
                               token=staff, json={"code": code})
    assert handed.status_code == 200, handed.text
    await wait_for_order(hub, order_id, resident, "completed")

    async def stock_sold() -> bool:
        found = await hub.request("GET", "/catalog/api/v1/products", params={"hub_id": hub_id})
        left = {p["id"]: p["stock_available"] for p in found.json()}
        return all(left[s["product_id"]] == s["stock"] - 2 for s in shops.values())

    await eventually(stock_sold, message="stock sold")
    await eventually(lambda: JOURNEY_SAGA <= handled_in(hub, saga), interval=0.2,
                     message=f"every step of the saga logged with {saga}")


# Each step of the order's saga, from checkout to hand-over: (the service that acts, the event
# it acts on). The staff's drop-offs and hand-over carry the order's id on, not their request's.
JOURNEY_SAGA = {("catalog", "OrderPlaced"), ("pickup", "OrderPlaced"),
                ("order", "StockReserved"), ("order", "SlotHeld"),
                ("payment", "PaymentRequested"), ("order", "PaymentStarted"),
                ("order", "PaymentSucceeded"), ("pickup", "OrderConfirmed"),
                ("order", "PickupScheduled"), ("notification", "OrderConfirmed"),
                ("pickup", "OrderPartPrepared"),
                ("order", "PartDroppedOff"), ("order", "PickupReady"),
                ("notification", "PickupReady"), ("order", "PickedUp"),
                ("catalog", "OrderCompleted"), ("payment", "OrderCompleted")}


def handled_in(hub: Hub, correlation_id: str) -> set[tuple[str, str]]:
    """The (service, event type) pairs the processes' logs say were handled in one saga."""
    return {(entry["service"], entry["event_type"]) for entry in hub.logged()
            if entry.get("message") == "event handled"
            and entry.get("correlation_id") == correlation_id}
