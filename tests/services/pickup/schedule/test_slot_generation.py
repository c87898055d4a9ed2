"""Slots made from opening hours: across clock changes, once only, following changed hours and
exceptions, by the admin's action and by the periodic job."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from libs.contracts.pickup import SlotClosed, SlotHeld, SlotOpened
from services.pickup.bootstrap import PickupSettings
from services.pickup.domain import PARIS, paris_today
from services.pickup.schedule.domain import CLOSED_BY_NEW_HOURS, FROM_OPENING_HOURS
from services.pickup.use_cases import utc_now
from tests.services.pickup.conftest import placed
from tests.services.pickup.schedule.support import (
    EVERY_DAY,
    generate_at,
    generated_at,
    hub_with_admin,
    pickup_with,
    put_hours,
    slots_of,
)
from tests.support.waiting import eventually

SUNDAYS = {"sunday": [{"opens": "01:00", "closes": "04:00"},
                      {"opens": "09:00", "closes": "12:00"}]}


def paris(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%H:%M %Z")


def on_day(slots, day: str) -> list:
    return [s for s in slots if s.starts_at.astimezone(PARIS).date().isoformat() == day]


async def test_slots_on_the_spring_forward_sunday_are_paris_times(pickup_on_each_engine):
    pickup = pickup_on_each_engine
    hub_id, admin = await hub_with_admin(pickup)
    await put_hours(pickup, hub_id, admin, SUNDAYS, horizon_days=7)

    await generate_at(pickup, hub_id, datetime(2026, 3, 23, 8, tzinfo=UTC))

    slots = on_day(await slots_of(pickup, hub_id), "2026-03-29")
    assert [paris(s.starts_at) for s in slots] == [
        "01:00 CET", "01:30 CET", "03:00 CEST", "03:30 CEST",
        "09:00 CEST", "09:30 CEST", "10:00 CEST", "10:30 CEST", "11:00 CEST", "11:30 CEST"]
    assert slots[4].starts_at == datetime(2026, 3, 29, 7, tzinfo=UTC)
    assert all(s.ends_at - s.starts_at == timedelta(minutes=30) for s in slots)
    opened = {e.slot_id: e for e in await pickup.published(SlotOpened)}
    assert {s.id for s in slots} <= set(opened)
    assert opened[slots[4].id].starts_at == slots[4].starts_at


async def test_slots_on_the_fall_back_sunday_are_paris_times(pickup_on_each_engine):
    pickup = pickup_on_each_engine
    hub_id, admin = await hub_with_admin(pickup)
    await put_hours(pickup, hub_id, admin, SUNDAYS, horizon_days=7)

    await generate_at(pickup, hub_id, datetime(2026, 10, 19, 8, tzinfo=UTC))

    slots = on_day(await slots_of(pickup, hub_id), "2026-10-25")
    assert [paris(s.starts_at) for s in slots] == [
        "01:00 CEST", "01:30 CEST", "02:00 CEST", "02:30 CEST",
        "02:00 CET", "02:30 CET", "03:00 CET", "03:30 CET",
        "09:00 CET", "09:30 CET", "10:00 CET", "10:30 CET", "11:00 CET", "11:30 CET"]
    assert slots[8].starts_at == datetime(2026, 10, 25, 8, tzinfo=UTC)
    assert len({s.starts_at for s in slots}) == len(slots)


async def test_generating_again_opens_nothing_new(pickup):
    hub_id, admin = await hub_with_admin(pickup)
    await put_hours(pickup, hub_id, admin, horizon_days=5)
    now = datetime(2030, 1, 7, 6, tzinfo=UTC)

    first = await generate_at(pickup, hub_id, now)
    second = await generate_at(pickup, hub_id, now + timedelta(minutes=10))

    assert len(first.opened) == 10  # 5 days of 9:00 and 9:30
    assert (second.opened, second.closed) == ([], [])
    assert len(await pickup.published(SlotOpened)) == 10


async def test_concurrent_generations_never_make_a_slot_twice(pickup_on_each_engine):
    pickup = pickup_on_each_engine
    hub_id, admin = await hub_with_admin(pickup)
    await put_hours(pickup, hub_id, admin, horizon_days=3)
    now = datetime(2030, 1, 7, 6, tzinfo=UTC)

    runs = await asyncio.gather(*(generate_at(pickup, hub_id, now) for _ in range(5)))

    assert sorted(len(run.opened) for run in runs) == [0, 0, 0, 0, 6]
    slots = await slots_of(pickup, hub_id)
    assert len(slots) == len({s.starts_at for s in slots}) == 6


async def test_a_moving_horizon_adds_the_days_it_reaches(pickup):
    hub_id, admin = await hub_with_admin(pickup)
    await put_hours(pickup, hub_id, admin, horizon_days=2)
    monday = datetime(2030, 1, 7, 6, tzinfo=UTC)
    await generate_at(pickup, hub_id, monday)

    tuesday = await generate_at(pickup, hub_id, monday + timedelta(days=1))

    assert [s.starts_at.astimezone(PARIS).strftime("%d %H:%M") for s in tuesday.opened] == [
        "09 09:00", "09 09:30"]


async def test_new_hours_close_unheld_slots_and_keep_held_ones_for_the_admin(pickup):
    hub_id, admin = await hub_with_admin(pickup)
    await put_hours(pickup, hub_id, admin, horizon_days=4)
    generated = (await pickup.client.post(f"/pickup/api/v1/hubs/{hub_id}/slots/generate",
                                          headers=admin)).json()
    day_after = (paris_today(utc_now()) + timedelta(days=2)).isoformat()
    held_slot, free_slot = (s for s in generated["opened"]
                            if s["starts_at"].startswith(day_after))
    order_id = uuid4()
    await pickup.feed(placed(order_id, hub_id, held_slot["id"]))
    assert [e.order_id for e in await pickup.published(SlotHeld)] == [order_id]
    later = {day: [{"opens": "14:00", "closes": "15:00"}] for day in EVERY_DAY}
    await put_hours(pickup, hub_id, admin, later)

    response = await pickup.client.post(f"/pickup/api/v1/hubs/{hub_id}/slots/generate",
                                        headers=admin)

    assert response.status_code == 200
    result = response.json()
    assert [s["id"] for s in result["kept_held"]] == [held_slot["id"]]
    assert free_slot["id"] in {s["id"] for s in result["closed"]}
    assert len(result["closed"]) == len(generated["opened"]) - 1
    assert {e.reason for e in await pickup.published(SlotClosed)} == {CLOSED_BY_NEW_HOURS}
    assert {e.slot_id for e in await pickup.published(SlotClosed)} == {
        UUID(s["id"]) for s in result["closed"]}
    offered = {s["id"] for s in (await pickup.client.get(
        f"/pickup/api/v1/hubs/{hub_id}/slots")).json()}
    assert held_slot["id"] in offered and free_slot["id"] not in offered
    assert {s["id"] for s in result["opened"]} <= offered
    again = (await pickup.client.post(f"/pickup/api/v1/hubs/{hub_id}/slots/generate",
                                      headers=admin)).json()
    assert (again["opened"], again["closed"]) == ([], [])
    assert [s["id"] for s in again["kept_held"]] == [held_slot["id"]]


async def test_a_closed_day_closes_its_slots_with_the_exceptions_name(pickup_on_each_engine):
    pickup = pickup_on_each_engine
    hub_id, admin = await hub_with_admin(pickup)
    await put_hours(pickup, hub_id, admin, horizon_days=6)
    await pickup.client.post(f"/pickup/api/v1/hubs/{hub_id}/slots/generate", headers=admin)
    christmas = (paris_today(utc_now()) + timedelta(days=3)).isoformat()
    await pickup.client.post(f"/pickup/api/v1/hubs/{hub_id}/opening-hours/exceptions",
                             headers=admin, json={"first_day": christmas, "label": "Noël"})

    result = (await pickup.client.post(f"/pickup/api/v1/hubs/{hub_id}/slots/generate",
                                       headers=admin)).json()

    assert [s["starts_at"][:10] for s in result["closed"]] == [christmas, christmas]
    assert {e.reason for e in await pickup.published(SlotClosed)} == {"tiers-lieu fermé : Noël"}
    assert result["opened"] == []


async def test_slots_opened_by_hand_are_left_alone(pickup):
    hub_id, admin = await hub_with_admin(pickup)
    by_hand = await pickup.open_slot(hub_id)
    await put_hours(pickup, hub_id, admin, {}, horizon_days=3)

    result = (await pickup.client.post(f"/pickup/api/v1/hubs/{hub_id}/slots/generate",
                                       headers=admin)).json()

    assert (result["opened"], result["closed"]) == ([], [])
    assert [s["id"] for s in (await pickup.client.get(
        f"/pickup/api/v1/hubs/{hub_id}/slots")).json()] == [by_hand["id"]]


async def test_only_admins_generate_and_only_once_there_are_hours(pickup):
    hub_id, admin = await hub_with_admin(pickup)
    url = f"/pickup/api/v1/hubs/{hub_id}/slots/generate"

    no_hours = await pickup.client.post(url, headers=admin)
    by_staff = await pickup.client.post(url, headers=await pickup.hub_member(hub_id))
    unknown = await pickup.client.post(f"/pickup/api/v1/hubs/{uuid4()}/slots/generate",
                                       headers=pickup.admin)

    assert no_hours.status_code == 409 and "horaires" in no_hours.json()["error"]["message"]
    assert (by_staff.status_code, unknown.status_code) == (403, 404)


async def test_the_periodic_job_generates_every_hubs_slots(tmp_path):
    settings = PickupSettings(data_dir=tmp_path, bus="embedded", outbox_relay=False,
                              slot_generation_interval_s=0.05)
    async with pickup_with(settings) as pickup:
        hub_id, admin = await hub_with_admin(pickup)
        await put_hours(pickup, hub_id, admin, horizon_days=3)

        async def generated() -> bool:
            return await generated_at(pickup, hub_id) is not None

        await eventually(generated, message="slots made by the periodic job")
        slots = await slots_of(pickup, hub_id)
        assert len(slots) >= 4 and {s.origin for s in slots} == {FROM_OPENING_HOURS}
        first_round = await generated_at(pickup, hub_id)

        async def ran_again() -> bool:
            return await generated_at(pickup, hub_id) != first_round

        await eventually(ran_again, message="another round of the periodic job")
        assert len(await slots_of(pickup, hub_id)) == len(slots)
