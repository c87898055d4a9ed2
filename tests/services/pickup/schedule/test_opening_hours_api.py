"""Opening hours, exceptions and slot settings through the JSON API: who may change them, and
the clear 4xx for what cannot be."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from services.pickup.domain import paris_today
from services.pickup.use_cases import utc_now
from tests.services.pickup.schedule.support import hub_with_admin, put_hours


def hours_url(hub_id: str) -> str:
    return f"/pickup/api/v1/hubs/{hub_id}/opening-hours"


def in_days(days: int) -> str:
    return (paris_today(utc_now()) + timedelta(days=days)).isoformat()


async def test_hub_admins_set_the_weekly_hours_everyone_reads(pickup):
    hub_id, admin = await hub_with_admin(pickup)
    weekly = {"tuesday": [{"opens": "14:00", "closes": "19:00"},
                          {"opens": "09:00", "closes": "12:30"}],
              "saturday": [{"opens": "09:00", "closes": "13:00"}]}

    response = await pickup.client.put(hours_url(hub_id), json=weekly, headers=admin)

    assert response.status_code == 200, response.text
    public = (await pickup.client.get(hours_url(hub_id))).json()
    assert public["weekly"]["tuesday"] == [{"opens": "09:00", "closes": "12:30"},
                                           {"opens": "14:00", "closes": "19:00"}]
    assert public["weekly"]["monday"] == []
    assert public["settings"] == {"slot_minutes": 30, "capacity": 5, "lead_time_hours": 0,
                                  "horizon_days": 14}


async def test_a_hub_without_hours_reads_as_closed_and_an_unknown_hub_is_not_found(pickup):
    hub_id = await pickup.open_hub()
    assert (await pickup.client.get(hours_url(hub_id))).json()["weekly"]["friday"] == []
    assert (await pickup.client.get(hours_url(str(uuid4())))).status_code == 404


@pytest.mark.parametrize(("weekly", "message"), [
    ({"tuesday": [{"opens": "09:00", "closes": "12:30"}, {"opens": "12:00", "closes": "19:00"}]},
     "se chevauchent"),
    ({"monday": [{"opens": "19:00", "closes": "14:00"}]}, "doit venir après"),
    ({"funday": [{"opens": "09:00", "closes": "10:00"}]}, "Extra inputs"),
    ({"monday": [{"opens": "9 heures", "closes": "10:00"}]}, "time"),
])
async def test_impossible_hours_are_refused_and_change_nothing(pickup, weekly, message):
    hub_id, admin = await hub_with_admin(pickup)
    await put_hours(pickup, hub_id, admin)

    response = await pickup.client.put(hours_url(hub_id), json=weekly, headers=admin)

    assert response.status_code == 422
    assert message in response.text
    assert (await pickup.client.get(hours_url(hub_id))).json()["weekly"]["monday"] == [
        {"opens": "09:00", "closes": "10:00"}]


async def test_only_the_hubs_admins_change_its_hours(pickup):
    hub_id, _ = await hub_with_admin(pickup)
    staff = await pickup.hub_member(hub_id, "staff")
    url = hours_url(hub_id)

    assert (await pickup.client.put(url, json={}, headers=staff)).status_code == 403
    assert (await pickup.client.put(url, json={}, headers=pickup.headers())).status_code == 403
    assert (await pickup.client.put(url, json={})).status_code == 401
    assert (await pickup.client.put(url, json={}, headers=pickup.admin)).status_code == 200


async def test_slot_settings_are_checked(pickup):
    hub_id, admin = await hub_with_admin(pickup)
    url = f"/pickup/api/v1/hubs/{hub_id}/slot-settings"
    good = {"slot_minutes": 20, "capacity": 8, "lead_time_hours": 24, "horizon_days": 21}

    assert (await pickup.client.put(url, json=good, headers=admin)).json()["settings"] == good
    for bad in ({"slot_minutes": 2}, {"capacity": 0}, {"lead_time_hours": -1},
                {"horizon_days": 365}):
        response = await pickup.client.put(url, json={**good, **bad}, headers=admin)
        assert response.status_code == 422, bad
    assert (await pickup.client.get(hours_url(hub_id))).json()["settings"] == good


async def test_exceptions_are_added_listed_and_removed(pickup):
    hub_id, admin = await hub_with_admin(pickup)
    url = f"{hours_url(hub_id)}/exceptions"

    closed = await pickup.client.post(url, headers=admin, json={
        "first_day": in_days(3), "last_day": in_days(4), "label": "Noël"})
    special = await pickup.client.post(url, headers=admin, json={
        "first_day": in_days(10), "label": "Inventaire",
        "hours": [{"opens": "16:00", "closes": "18:00"}]})

    assert (closed.status_code, special.status_code) == (201, 201), special.text
    assert special.json()["last_day"] == in_days(10)
    listed = (await pickup.client.get(hours_url(hub_id))).json()["exceptions"]
    assert [(e["label"], e["hours"]) for e in listed] == [
        ("Noël", []), ("Inventaire", [{"opens": "16:00", "closes": "18:00"}])]

    removed = await pickup.client.delete(f"{url}/{closed.json()['id']}", headers=admin)
    assert removed.status_code == 204
    assert [e["label"] for e in (await pickup.client.get(hours_url(hub_id))).json()["exceptions"]
            ] == ["Inventaire"]
    again = await pickup.client.delete(f"{url}/{closed.json()['id']}", headers=admin)
    assert again.status_code == 404


async def test_exceptions_that_cannot_be_are_refused(pickup):
    hub_id, admin = await hub_with_admin(pickup)
    url = f"{hours_url(hub_id)}/exceptions"
    await pickup.client.post(url, headers=admin, json={
        "first_day": in_days(3), "last_day": in_days(5), "label": "Noël"})

    overlapping = await pickup.client.post(url, headers=admin, json={
        "first_day": in_days(5), "last_day": in_days(6), "label": "Pont"})
    backwards = await pickup.client.post(url, headers=admin, json={
        "first_day": in_days(9), "last_day": in_days(8), "label": "Pont"})
    past = await pickup.client.post(url, headers=admin, json={
        "first_day": in_days(-3), "last_day": in_days(-2), "label": "Hier"})
    overlapping_hours = await pickup.client.post(url, headers=admin, json={
        "first_day": in_days(12), "label": "Fête", "hours": [
            {"opens": "10:00", "closes": "12:00"}, {"opens": "11:00", "closes": "13:00"}]})
    by_staff = await pickup.client.post(url, headers=await pickup.hub_member(hub_id), json={
        "first_day": in_days(20), "label": "Fête"})

    assert overlapping.status_code == 409 and "Noël" in overlapping.json()["error"]["message"]
    assert backwards.status_code == 422 and "ne peut pas précéder" in backwards.text
    assert past.status_code == 422 and "passée" in past.text
    assert overlapping_hours.status_code == 422 and "se chevauchent" in overlapping_hours.text
    assert by_staff.status_code == 403
    assert len((await pickup.client.get(hours_url(hub_id))).json()["exceptions"]) == 1


async def test_another_hubs_exception_cannot_be_removed(pickup):
    hub_id, admin = await hub_with_admin(pickup)
    other_id, other_admin = await hub_with_admin(pickup)
    created = await pickup.client.post(f"{hours_url(hub_id)}/exceptions", headers=admin,
                                       json={"first_day": in_days(3), "label": "Noël"})

    response = await pickup.client.delete(
        f"{hours_url(other_id)}/exceptions/{created.json()['id']}", headers=other_admin)

    assert response.status_code == 404
    assert len((await pickup.client.get(hours_url(hub_id))).json()["exceptions"]) == 1
