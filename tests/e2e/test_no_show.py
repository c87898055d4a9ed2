"""A resident who never comes, end to end on the embedded host (in this process, so the no-show
chase can be handed a clock moved forward rather than waited for): the order is ready, its slot
ends, the resident is reminded, the hold ends, the order is « non retirée », the goods go back
to the shops' stock and the hub's refund rate is paid back."""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from libs.contracts import registry
from libs.contracts.pickup import NoShowRecorded, PickupOverdue
from services.host import EmbeddedHost
from services.pickup.no_show.use_cases import chase_overdue_pickups
from services.pickup.tables import outbox
from tests.e2e.hub import Hub
from tests.e2e.test_compensations import stock_of
from tests.e2e.test_journey import open_hub_with_two_shops, wait_for_order, wait_for_payment
from tests.support.waiting import eventually

REFUND_BPS = 5000


@contextlib.asynccontextmanager
async def hub_in_this_process(folder):
    data_dir = folder / "data"
    host = EmbeddedHost(data_dir, seed_demo=False)
    async with host.root.router.lifespan_context(host.root):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=host),
                                   base_url="http://hub", timeout=15)
        hub = InProcessHub({}, {"ADOPTE_DATA_DIR": str(data_dir)}, client=client)
        try:
            yield hub, host
        finally:
            await client.aclose()


class InProcessHub(Hub):
    def url(self, path: str) -> str:
        return path


async def ready_order(hub: Hub, town: dict, resident: str) -> dict:
    lines = [{"product_id": s["product_id"], "quantity": 2} for s in town["shops"].values()]
    placed = await hub.eventually_ok(
        "POST", "/orders/api/v1/orders", expect=202, token=resident,
        headers={"Idempotency-Key": str(uuid.uuid4())},
        json={"hub_id": town["hub_id"], "slot_id": town["slot_id"], "lines": lines})
    order_id = placed.json()["id"]
    order = await wait_for_payment(hub, order_id, resident)
    paid = await hub.request("POST", f"/payments/api/v1/payments/{order['payment']['id']}"
                             "/simulate", token=resident, json={"outcome": "succeeded"})
    assert paid.status_code == 200, paid.text
    await wait_for_order(hub, order_id, resident, "confirmed",
                         until=lambda order: order["pickup"] is not None)
    for shop_id in town["shops"]:
        dropped = await hub.request("POST", f"/pickup/api/v1/pickups/{order_id}/drop-offs",
                                    token=town["staff"], json={"shop_id": shop_id,
                                                               "shelf": "étagère B2"})
        assert dropped.status_code == 200, dropped.text
    return await wait_for_order(hub, order_id, resident, "ready")


async def published_by_pickup(host: EmbeddedHost, event_type: type) -> list:
    async with host.runtime("pickup").database.sessions() as session:
        rows = (await session.execute(select(outbox.c.envelope).order_by(outbox.c.id))).all()
    events = [registry.decode_bytes(row.envelope)[1] for row in rows]
    return [event for event in events if isinstance(event, event_type)]


async def test_a_no_show_is_reminded_then_given_back_to_the_shops_and_refunded(tmp_path):
    async with hub_in_this_process(tmp_path) as (hub, host):
        town = await open_hub_with_two_shops(hub)
        hub_id, admin = town["hub_id"], town["admin"]
        refund = await hub.eventually_ok("PUT", f"/payments/api/v1/hubs/{hub_id}/no-show-refund",
                                         token=admin, json={"bps": REFUND_BPS})
        assert refund.json()["no_show_refund_bps"] == REFUND_BPS
        policy = await hub.request("PUT", f"/pickup/api/v1/hubs/{hub_id}/no-show-policy",
                                   token=admin, json={"reminder_after_hours": 2,
                                                      "hold_hours": 48})
        assert policy.status_code == 200, policy.text
        _, resident = await hub.sign_up("Lou")
        order = await ready_order(hub, town, resident)
        order_id = order["id"]
        shops = town["shops"].values()
        for shop in shops:
            assert await stock_of(hub, hub_id, shop["product_id"]) == shop["stock"] - 2
        slots = await hub.request("GET", f"/pickup/api/v1/hubs/{hub_id}/slots")
        slot_ends = next(datetime.fromisoformat(s["ends_at"]) for s in slots.json()
                         if s["id"] == town["slot_id"])
        pickup = host.runtime("pickup")

        reminded = await chase_overdue_pickups(pickup, now=slot_ends + timedelta(hours=2))
        assert [str(found) for found in reminded.reminded] == [order_id]
        [overdue] = await published_by_pickup(host, PickupOverdue)
        assert overdue.held_until == slot_ends + timedelta(hours=48)
        still_held = await chase_overdue_pickups(pickup, now=slot_ends + timedelta(hours=47))
        assert still_held.given_up == []

        given_up = await chase_overdue_pickups(pickup, now=overdue.held_until)

        assert [str(found) for found in given_up.given_up] == [order_id]
        [no_show] = await published_by_pickup(host, NoShowRecorded)
        assert sorted(map(str, no_show.shop_ids)) == sorted(town["shops"])

        async def goods_back_in_stock() -> bool:
            return all([await stock_of(hub, hub_id, shop["product_id"]) == shop["stock"]
                        for shop in shops])

        await eventually(goods_back_in_stock, message="the goods back in the shops' stock")
        half_of_each_share = sum(2 * shop["price"] * REFUND_BPS // 10_000 for shop in shops)

        async def refunded_by_policy() -> bool:
            payment = await hub.request("GET", f"/payments/api/v1/payments/{order['payment']['id']}",
                                        token=resident)
            return payment.json()["refunded_cents"] == half_of_each_share

        await eventually(refunded_by_policy, message="the no-show refund")
        await wait_for_order(hub, order_id, resident, "no_show")
        page = await hub.request("GET", f"/orders/{order_id}", token=resident)
        assert "non retirée" in page.text

