"""The periodic chase: a ready pickup whose slot is over is reminded once (PickupOverdue), then
given up on once its hold is over (NoShowRecorded), on the hub's policy; time is moved forward
by handing the chase its "now"."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import uuid4

from libs.contracts.order import OrderCancelled, OrderPartCancelled
from libs.contracts.pickup import NoShowRecorded, PickupOverdue
from services.pickup.no_show.use_cases import chase_overdue_pickups
from tests.services.pickup.conftest import part_of
from tests.services.pickup.desk.support import (
    hours_ago,
    move_slot,
    ready_order,
    residents_order,
)


async def overdue_setup(pickup, *, shops: int = 1):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    slot = await pickup.open_slot(hub_id)
    shop_ids = [uuid4() for _ in range(shops)]
    order_id = await ready_order(pickup, hub_id, staff, shop_ids, slot=slot)
    ends_at = hours_ago(1)
    await move_slot(pickup, slot["id"], ends_at=ends_at)
    return hub_id, staff, order_id, ends_at, shop_ids


async def test_a_ready_pickup_is_reminded_once_then_given_up_on_once(pickup_on_each_engine):
    pickup = pickup_on_each_engine
    hub_id, staff, order_id, ends_at, shop_ids = await overdue_setup(pickup)

    too_soon = await chase_overdue_pickups(pickup.runtime, now=ends_at + timedelta(minutes=119))
    reminded = await chase_overdue_pickups(pickup.runtime, now=ends_at + timedelta(hours=2))
    again = await chase_overdue_pickups(pickup.runtime, now=ends_at + timedelta(hours=3))

    assert (too_soon.reminded, reminded.reminded, again.reminded) == ([], [order_id], [])
    [overdue] = await pickup.published(PickupOverdue)
    assert (overdue.order_id, str(overdue.hub_id)) == (order_id, hub_id)
    assert overdue.held_until == ends_at + timedelta(hours=48)
    shown = await pickup.client.get(f"/pickup/api/v1/pickups/{order_id}", headers=staff)
    assert shown.json()["held_until"] is not None and shown.json()["status"] == "ready"

    held = await chase_overdue_pickups(pickup.runtime, now=overdue.held_until - timedelta(seconds=1))
    given_up = await chase_overdue_pickups(pickup.runtime, now=overdue.held_until)
    after = await chase_overdue_pickups(pickup.runtime, now=overdue.held_until + timedelta(days=1))

    assert (held.given_up, given_up.given_up, after.given_up) == ([], [order_id], [])
    [no_show] = await pickup.published(NoShowRecorded)
    assert (no_show.order_id, str(no_show.hub_id), no_show.shop_ids) == (order_id, hub_id, shop_ids)
    assert len(await pickup.published(PickupOverdue)) == 1
    shown = await pickup.client.get(f"/pickup/api/v1/pickups/{order_id}", headers=staff)
    assert shown.json()["status"] == "no_show"
    handover = await pickup.client.post(f"/pickup/api/v1/pickups/{order_id}/handover",
                                        headers=staff, json={"code": await pickup.code_of(order_id)})
    assert handover.status_code == 409 and "pas été retirée" in handover.text


async def test_concurrent_chases_remind_and_give_up_once(pickup_on_each_engine):
    pickup = pickup_on_each_engine
    _, _, order_id, ends_at, _ = await overdue_setup(pickup)

    rounds = await asyncio.gather(*(chase_overdue_pickups(pickup.runtime,
                                                          now=ends_at + timedelta(hours=3))
                                    for _ in range(4)))
    assert sum(len(r.reminded) for r in rounds) == 1
    [overdue] = await pickup.published(PickupOverdue)
    rounds = await asyncio.gather(*(chase_overdue_pickups(pickup.runtime, now=overdue.held_until)
                                    for _ in range(4)))

    assert sum(len(r.given_up) for r in rounds) == 1
    assert [e.order_id for e in await pickup.published(NoShowRecorded)] == [order_id]


async def test_the_hubs_policy_sets_the_delays(pickup):
    hub_id, _, order_id, ends_at, _ = await overdue_setup(pickup)
    admin = await pickup.hub_member(hub_id, "admin")
    set_ = await pickup.client.put(f"/pickup/api/v1/hubs/{hub_id}/no-show-policy", headers=admin,
                                   json={"reminder_after_hours": 0, "hold_hours": 24})
    assert set_.status_code == 200, set_.text

    await chase_overdue_pickups(pickup.runtime, now=ends_at)
    await chase_overdue_pickups(pickup.runtime, now=ends_at + timedelta(hours=24))

    [overdue] = await pickup.published(PickupOverdue)
    assert overdue.held_until == ends_at + timedelta(hours=24)
    assert [e.order_id for e in await pickup.published(NoShowRecorded)] == [order_id]


async def test_what_is_not_ready_or_no_longer_waiting_is_left_alone(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    slot = await pickup.open_slot(hub_id)
    waiting_for_parts = await residents_order(pickup, hub_id, [uuid4()], uuid4(), slot=slot)
    collected = await ready_order(pickup, hub_id, staff, [uuid4()], slot=slot)
    handed = await pickup.client.post(f"/pickup/api/v1/pickups/{collected}/handover",
                                      headers=staff, json={"code": await pickup.code_of(collected)})
    assert handed.status_code == 200
    cancelled = await ready_order(pickup, hub_id, staff, [uuid4()], slot=slot)
    await pickup.feed(OrderCancelled(order_id=cancelled, reason="annulée par le tiers-lieu"))
    upcoming = await ready_order(pickup, hub_id, staff, [uuid4()])
    ends_at = hours_ago(100)
    await move_slot(pickup, slot["id"], ends_at=ends_at)

    chase = await chase_overdue_pickups(pickup.runtime, now=hours_ago(-1))

    assert (chase.reminded, chase.given_up) == ([], [])
    assert await pickup.published(PickupOverdue) == []
    for order_id, status in ((waiting_for_parts, "scheduled"), (upcoming, "ready")):
        shown = await pickup.client.get(f"/pickup/api/v1/pickups/{order_id}", headers=staff)
        assert shown.json()["status"] == status


async def test_a_shop_that_cancelled_its_part_gets_nothing_back(pickup):
    hub_id, staff, order_id, ends_at, (kept, cancelled) = await overdue_setup(pickup, shops=2)
    await pickup.feed(OrderPartCancelled(order_id=order_id, shop_id=cancelled, amount_cents=1250,
                                         lines=part_of(cancelled).lines, reason="rupture"))

    await chase_overdue_pickups(pickup.runtime, now=ends_at + timedelta(hours=2))
    [overdue] = await pickup.published(PickupOverdue)
    await chase_overdue_pickups(pickup.runtime, now=overdue.held_until)

    [no_show] = await pickup.published(NoShowRecorded)
    assert no_show.shop_ids == [kept]
