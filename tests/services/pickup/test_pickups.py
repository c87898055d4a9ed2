"""Pickups: the code made on confirmation, drop-offs until ready, the hand-over, and what undoes
them (a shop cancelling its part, the order cancelled)."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from libs.contracts.order import OrderCancelled, OrderConfirmed, OrderPartCancelled
from libs.contracts.pickup import (
    PartDroppedOff,
    PickedUp,
    PickupReady,
    PickupScheduled,
    SlotReleased,
)
from services.pickup.domain import CODE_ALPHABET
from tests.services.pickup.conftest import part_of

BAKER, CHEESEMONGER = uuid4(), uuid4()


def drop_off_url(order_id) -> str:
    return f"/pickup/api/v1/pickups/{order_id}/drop-offs"


def handover_url(order_id) -> str:
    return f"/pickup/api/v1/pickups/{order_id}/handover"


async def test_confirmation_makes_a_code_and_expects_a_part_per_shop(pickup):
    hub_id = await pickup.open_hub()
    slot = await pickup.open_slot(hub_id)
    staff = await pickup.hub_member(hub_id)

    order_id = await pickup.confirmed_order(hub_id, [BAKER, CHEESEMONGER], slot=slot)

    [scheduled] = await pickup.published(PickupScheduled)
    assert (scheduled.order_id, str(scheduled.hub_id), str(scheduled.slot_id)) == (
        order_id, hub_id, slot["id"])
    assert len(scheduled.code) == 6 and set(scheduled.code) <= set(CODE_ALPHABET)
    shown = (await pickup.client.get(f"/pickup/api/v1/pickups/{order_id}", headers=staff)).json()
    assert shown["status"] == "scheduled"
    assert sorted((p["shop_id"], p["dropped_off_at"]) for p in shown["parts"]) == sorted(
        [(str(BAKER), None), (str(CHEESEMONGER), None)])


async def test_a_confirmation_delivered_again_keeps_the_first_code(pickup):
    hub_id = await pickup.open_hub()
    order_id = await pickup.confirmed_order(hub_id, [BAKER])
    [first] = await pickup.published(PickupScheduled)

    await pickup.feed(OrderConfirmed(order_id=order_id, hub_id=hub_id, slot_id=first.slot_id,
                                     resident_id=uuid4(), parts=[part_of(BAKER)], total_cents=1250))

    assert await pickup.published(PickupScheduled) == [first]


async def test_parts_dropped_off_make_the_pickup_ready_once(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    order_id = await pickup.confirmed_order(hub_id, [BAKER, CHEESEMONGER])

    first = await pickup.client.post(drop_off_url(order_id), json={"shop_id": str(BAKER)},
                                     headers=staff)
    again = await pickup.client.post(drop_off_url(order_id), json={"shop_id": str(BAKER)},
                                     headers=staff)
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["status"] == "scheduled"
    assert await pickup.published(PickupReady) == []

    last = await pickup.client.post(drop_off_url(order_id), json={"shop_id": str(CHEESEMONGER)},
                                    headers=staff)
    assert last.status_code == 200
    assert last.json()["status"] == "ready"
    assert all(p["dropped_off_at"] for p in last.json()["parts"])
    dropped = await pickup.published(PartDroppedOff)
    assert [e.shop_id for e in dropped] == [BAKER, CHEESEMONGER]
    assert [e.order_id for e in await pickup.published(PickupReady)] == [order_id]

    await pickup.client.post(drop_off_url(order_id), json={"shop_id": str(BAKER)}, headers=staff)
    assert len(await pickup.published(PickupReady)) == 1


async def test_parts_dropped_off_at_once_make_the_pickup_ready(pickup_on_each_engine):
    pickup = pickup_on_each_engine
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    shops = [uuid4() for _ in range(4)]
    order_id = await pickup.confirmed_order(hub_id, shops)

    responses = await asyncio.gather(*(
        pickup.client.post(drop_off_url(order_id), json={"shop_id": str(shop)}, headers=staff)
        for shop in shops
    ))

    assert [r.status_code for r in responses] == [200] * 4
    assert len(await pickup.published(PartDroppedOff)) == 4
    assert [e.order_id for e in await pickup.published(PickupReady)] == [order_id]


async def test_drop_offs_of_unknown_pickups_or_shops_or_by_other_hubs_are_refused(pickup):
    hub_id, other_hub_id = await pickup.open_hub(), await pickup.open_hub()
    staff, other_staff = await pickup.hub_member(hub_id), await pickup.hub_member(other_hub_id)
    order_id = await pickup.confirmed_order(hub_id, [BAKER])

    unknown_pickup = await pickup.client.post(drop_off_url(uuid4()), json={"shop_id": str(BAKER)},
                                              headers=staff)
    stranger_shop = await pickup.client.post(drop_off_url(order_id), headers=staff,
                                             json={"shop_id": str(uuid4())})
    other_hub = await pickup.client.post(drop_off_url(order_id), json={"shop_id": str(BAKER)},
                                         headers=other_staff)
    resident = await pickup.client.post(drop_off_url(order_id), json={"shop_id": str(BAKER)},
                                        headers=pickup.headers())

    assert [unknown_pickup.status_code, stranger_shop.status_code, other_hub.status_code,
            resident.status_code] == [404, 404, 403, 403]
    assert await pickup.published(PartDroppedOff) == []


async def test_a_ready_pickup_is_handed_over_against_its_code_only_once(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    order_id = await pickup.confirmed_order(hub_id, [BAKER])
    code = await pickup.code_of(order_id)

    too_early = await pickup.client.post(handover_url(order_id), json={"code": code}, headers=staff)
    assert too_early.status_code == 409
    await pickup.client.post(drop_off_url(order_id), json={"shop_id": str(BAKER)}, headers=staff)

    wrong_code = "AAAAAA" if code != "AAAAAA" else "CCCCCC"
    wrong = await pickup.client.post(handover_url(order_id), json={"code": wrong_code},
                                     headers=staff)
    assert wrong.status_code == 422
    assert wrong.json()["error"]["message"] == "code de retrait incorrect"
    unchanged = (await pickup.client.get(f"/pickup/api/v1/pickups/{order_id}", headers=staff)).json()
    assert unchanged["status"] == "ready" and unchanged["picked_up_at"] is None
    assert await pickup.published(PickedUp) == []

    typed_as_read = f" {code[:3].lower()} {code[3:]} "
    handed = await pickup.client.post(handover_url(order_id), json={"code": typed_as_read},
                                      headers=staff)
    twice = await pickup.client.post(handover_url(order_id), json={"code": code}, headers=staff)

    assert handed.status_code == 200, handed.text
    assert handed.json()["status"] == "picked_up"
    assert [p["status"] for p in handed.json()["parts"]] == ["handed_over"]
    assert twice.status_code == 409
    assert [e.order_id for e in await pickup.published(PickedUp)] == [order_id]


async def test_staff_of_another_hub_cannot_hand_over(pickup):
    hub_id, other_hub_id = await pickup.open_hub(), await pickup.open_hub()
    staff, other_staff = await pickup.hub_member(hub_id), await pickup.hub_member(other_hub_id)
    order_id = await pickup.confirmed_order(hub_id, [BAKER])
    await pickup.client.post(drop_off_url(order_id), json={"shop_id": str(BAKER)}, headers=staff)

    refused = await pickup.client.post(handover_url(order_id), headers=other_staff,
                                       json={"code": await pickup.code_of(order_id)})

    assert refused.status_code == 403
    assert await pickup.published(PickedUp) == []


async def test_a_cancelled_part_is_no_longer_expected(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    order_id = await pickup.confirmed_order(hub_id, [BAKER, CHEESEMONGER])
    await pickup.client.post(drop_off_url(order_id), json={"shop_id": str(BAKER)}, headers=staff)

    await pickup.feed(OrderPartCancelled(order_id=order_id, shop_id=CHEESEMONGER, amount_cents=1250,
                                         lines=part_of(CHEESEMONGER).lines, reason="rupture"))

    assert [e.order_id for e in await pickup.published(PickupReady)] == [order_id]
    late = await pickup.client.post(drop_off_url(order_id), json={"shop_id": str(CHEESEMONGER)},
                                    headers=staff)
    assert late.status_code == 409
    assert [e.shop_id for e in await pickup.published(PartDroppedOff)] == [BAKER]


async def test_a_pickup_whose_every_part_is_cancelled_never_gets_ready(pickup):
    hub_id = await pickup.open_hub()
    order_id = await pickup.confirmed_order(hub_id, [BAKER])

    await pickup.feed(OrderPartCancelled(order_id=order_id, shop_id=BAKER, amount_cents=1250,
                                         lines=part_of(BAKER).lines, reason="rupture"))

    assert await pickup.published(PickupReady) == []


async def test_a_cancelled_order_frees_its_place_and_refuses_drop_offs_and_handover(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    slot = await pickup.open_slot(hub_id, capacity=1)
    order_id = await pickup.confirmed_order(hub_id, [BAKER, CHEESEMONGER], slot=slot)
    await pickup.client.post(drop_off_url(order_id), json={"shop_id": str(BAKER)}, headers=staff)

    await pickup.feed(OrderCancelled(order_id=order_id, reason="annulée par le résident"))

    drop = await pickup.client.post(drop_off_url(order_id), json={"shop_id": str(CHEESEMONGER)},
                                    headers=staff)
    handover = await pickup.client.post(handover_url(order_id), headers=staff,
                                        json={"code": await pickup.code_of(order_id)})
    assert (drop.status_code, handover.status_code) == (409, 409)
    shown = (await pickup.client.get(f"/pickup/api/v1/pickups/{order_id}", headers=staff)).json()
    assert shown["status"] == "cancelled"
    assert [e.order_id for e in await pickup.published(SlotReleased)] == [order_id]
    slots = (await pickup.client.get(f"/pickup/api/v1/hubs/{hub_id}/slots")).json()
    assert [s["remaining"] for s in slots if s["id"] == slot["id"]] == [1]
    assert await pickup.published(PickupReady, PickedUp) == []
