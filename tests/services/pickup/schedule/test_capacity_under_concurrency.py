"""Concurrent checkouts never take more places than a slot has, on SQLite and on PostgreSQL,
whether the opening hours made the slot or a gathering offers it, and even while it closes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from libs.contracts.pickup import SlotClosed, SlotHeld, SlotUnavailable
from services.pickup.domain import SLOT_CLOSED, SLOT_FULL
from services.pickup.schedule.use_cases import generate_slots, open_gathering_slot
from services.pickup.use_cases import utc_now
from tests.services.pickup.conftest import placed
from tests.services.pickup.schedule.support import hub_with_admin, put_hours, slots_of

CAPACITY, CHECKOUTS = 4, 15


async def generated_slot(pickup, hub_id: str, admin: dict[str, str]) -> UUID:
    await put_hours(pickup, hub_id, admin, capacity=CAPACITY, horizon_days=3)
    generated = (await pickup.client.post(f"/pickup/api/v1/hubs/{hub_id}/slots/generate",
                                          headers=admin)).json()["opened"]
    return UUID(generated[-1]["id"])


async def gathering_slot(pickup, hub_id: str, _admin: dict[str, str]) -> UUID:
    starts_at = datetime.now(UTC) + timedelta(days=2)
    async with pickup.runtime.unit_of_work() as uow:
        slot = await open_gathering_slot(uow, UUID(hub_id), uuid4(), "Atelier compost",
                                         starts_at, starts_at + timedelta(hours=2), CAPACITY)
    return slot.id


@pytest.mark.parametrize("make_slot", [generated_slot, gathering_slot])
async def test_concurrent_checkouts_hold_exactly_the_slots_capacity(pickup_on_each_engine,
                                                                    make_slot):
    pickup = pickup_on_each_engine
    hub_id, admin = await hub_with_admin(pickup)
    slot_id = await make_slot(pickup, hub_id, admin)
    orders = [uuid4() for _ in range(CHECKOUTS)]

    await asyncio.gather(*(pickup.feed(placed(order_id, hub_id, str(slot_id)))
                           for order_id in orders))

    held = [e for e in await pickup.published(SlotHeld) if e.slot_id == slot_id]
    refused = await pickup.published(SlotUnavailable)
    assert (len(held), len(refused)) == (CAPACITY, CHECKOUTS - CAPACITY)
    assert {e.reason for e in refused} == {SLOT_FULL}
    assert {e.order_id for e in held} | {e.order_id for e in refused} == set(orders)
    [slot] = [s for s in await slots_of(pickup, hub_id) if s.id == slot_id]
    assert slot.held == CAPACITY


async def test_checkouts_racing_new_hours_either_keep_the_slot_open_or_find_it_closed(
        pickup_on_each_engine):
    """Generation closes only slots nobody holds, in one conditional statement: a hold that
    wins the race keeps the slot open; one that loses is refused as closed. Never a hold in a
    slot closed as empty."""
    pickup = pickup_on_each_engine
    hub_id, admin = await hub_with_admin(pickup)
    slot_id = await generated_slot(pickup, hub_id, admin)
    await put_hours(pickup, hub_id, admin, {})  # the slot no longer fits
    orders = [uuid4() for _ in range(CAPACITY)]

    async def regenerate() -> None:
        async with pickup.runtime.unit_of_work() as uow:
            await generate_slots(uow, UUID(hub_id), utc_now())

    await asyncio.gather(regenerate(), *(pickup.feed(placed(o, hub_id, str(slot_id)))
                                         for o in orders))

    [slot] = [s for s in await slots_of(pickup, hub_id) if s.id == slot_id]
    held = [e for e in await pickup.published(SlotHeld) if e.slot_id == slot_id]
    refused = await pickup.published(SlotUnavailable)
    closed = [e for e in await pickup.published(SlotClosed) if e.slot_id == slot_id]
    assert slot.held == len(held)
    assert len(held) + len(refused) == len(orders)
    if closed:
        assert held == [] and {e.reason for e in refused} == {SLOT_CLOSED}
    else:
        assert slot.closed_at is None and held
