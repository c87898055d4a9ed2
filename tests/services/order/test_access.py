"""Who may read an order: its resident, the staff of its hub, platform admins; to anyone else
the order does not exist (404)."""

from __future__ import annotations

import uuid

from libs.contracts.pickup import PickupScheduled
from tests.services.order.conftest import place, read_order
from tests.services.order.test_saga import placed_order


async def test_an_order_is_read_by_its_resident_its_hubs_staff_and_admins_only(service, town):
    order_id = await placed_order(service, town)
    await service.feed(PickupScheduled(order_id=order_id, hub_id=town.hub_id,
                                       slot_id=town.slot_id, code="K7Q2PM"))

    for reader in (town.resident, town.staff, town.admin):
        answer = await read_order(service, order_id, reader)
        assert answer.status_code == 200, answer.text
        assert answer.json()["pickup"]["code"] == "K7Q2PM"
    for stranger in (town.neighbour, town.other_staff, town.bakery.owner):
        answer = await read_order(service, order_id, stranger)
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["message"] == f"no order {order_id}"
    assert (await read_order(service, uuid.uuid4(), town.admin)).status_code == 404
    anonymous = await service.client.get(f"/orders/api/v1/orders/{order_id}")
    assert anonymous.status_code == 401
    forged = await service.client.get(f"/orders/api/v1/orders/{order_id}",
                                      headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401


async def test_a_resident_lists_their_own_orders_newest_first(service, town):
    first = (await place(service, town, bread=1)).json()["id"]
    second = (await place(service, town, tomme=1)).json()["id"]
    await place(service, town, who=town.neighbour, baguette=1)

    mine = await service.client.get("/orders/api/v1/orders", headers=service.auth(town.resident))
    assert mine.status_code == 200
    assert [o["id"] for o in mine.json()] == [second, first]
    assert [o["total_cents"] for o in mine.json()] == [1290, 420]
