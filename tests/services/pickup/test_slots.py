"""Opening collection slots, and the slots residents can choose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from libs.contracts.pickup import SlotOpened

TOMORROW = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)


def slot_body(starts_at, ends_at, capacity=4) -> dict:
    return {"starts_at": starts_at, "ends_at": ends_at, "capacity": capacity}


async def test_staff_open_a_slot_that_residents_then_see(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    later = await pickup.client.post(
        f"/pickup/api/v1/hubs/{hub_id}/slots", headers=staff,
        json=slot_body("2999-06-07T17:00:00+02:00", "2999-06-07T18:30:00+02:00", capacity=8))
    sooner = await pickup.open_slot(hub_id, capacity=2)

    assert later.status_code == 201, later.text
    slot = later.json()
    assert slot["hub_id"] == hub_id
    assert datetime.fromisoformat(slot["starts_at"]) == datetime(2999, 6, 7, 15, tzinfo=UTC)
    assert (slot["capacity"], slot["remaining"]) == (8, 8)
    listed = (await pickup.client.get(f"/pickup/api/v1/hubs/{hub_id}/slots")).json()
    assert [s["id"] for s in listed] == [sooner["id"], slot["id"]]
    opened = [e for e in await pickup.published(SlotOpened) if str(e.slot_id) == slot["id"]]
    assert [(e.capacity, e.starts_at) for e in opened] == [(8, datetime(2999, 6, 7, 15, tzinfo=UTC))]


async def test_bad_slots_are_refused_with_a_reason_and_nothing_is_written(pickup):
    hub_id = await pickup.open_hub()
    url = f"/pickup/api/v1/hubs/{hub_id}/slots"
    start, end = TOMORROW, TOMORROW + timedelta(hours=1)
    cases = {
        "naive": slot_body(start.replace(tzinfo=None).isoformat(), end.isoformat()),
        "ends before it starts": slot_body(end.isoformat(), start.isoformat()),
        "no capacity": slot_body(start.isoformat(), end.isoformat(), capacity=0),
        "in the past": slot_body((start - timedelta(days=2)).isoformat(),
                                 (end - timedelta(days=2)).isoformat()),
    }
    messages = {}
    for case, body in cases.items():
        response = await pickup.client.post(url, json=body, headers=pickup.admin)
        assert response.status_code == 422, (case, response.text)
        messages[case] = response.json()["error"]["message"]

    assert "fuseau horaire" in messages["naive"]
    assert "après son début" in messages["ends before it starts"]
    assert "capacity" in messages["no capacity"]
    assert "futur" in messages["in the past"]
    assert (await pickup.client.get(f"/pickup/api/v1/hubs/{hub_id}/slots")).json() == []
    assert await pickup.published(SlotOpened) == []


async def test_only_the_hubs_own_staff_open_its_slots(pickup):
    hub_id, other_hub_id = await pickup.open_hub(), await pickup.open_hub()
    other_staff = await pickup.hub_member(other_hub_id)
    body = slot_body(TOMORROW.isoformat(), (TOMORROW + timedelta(hours=1)).isoformat())

    refused = await pickup.client.post(f"/pickup/api/v1/hubs/{hub_id}/slots", json=body,
                                       headers=other_staff)
    resident = await pickup.client.post(f"/pickup/api/v1/hubs/{hub_id}/slots", json=body,
                                        headers=pickup.headers())

    assert (refused.status_code, resident.status_code) == (403, 403)
    assert await pickup.published(SlotOpened) == []


async def test_slots_of_an_unknown_hub_are_not_found(pickup):
    response = await pickup.client.get("/pickup/api/v1/hubs/7f1d1f39-9b8e-4f0e-a3f4-8c1d0e0c9a11/slots")
    assert response.status_code == 404
