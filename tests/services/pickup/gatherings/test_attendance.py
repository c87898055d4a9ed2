"""Staff see who signed up and record who came, walk-ins with an account included."""

from __future__ import annotations

from uuid import uuid4

from libs.contracts.pickup import AttendanceRecorded
from tests.services.pickup.gatherings.conftest import schedule, starting_soon, team_of_a_new_hub


async def test_staff_see_who_signed_up_and_record_who_came(pickup, team):
    gathering = await starting_soon(pickup, team)
    one = f"{team.gatherings}/{gathering['id']}"
    anne, bruno = uuid4(), uuid4()
    for user_id, email in ((anne, "anne@example.org"), (bruno, "bruno@example.org")):
        await pickup.client.post(f"{one}/sign-ups",
                                 headers=pickup.headers(user_id=user_id, email=email))

    seen = await pickup.client.post(f"{one}/attendance", json={"user_id": str(anne)},
                                    headers=team.staff)
    seen_again = await pickup.client.post(f"{one}/attendance", json={"user_id": str(anne)},
                                          headers=team.staff)
    sheet = await pickup.client.get(f"{one}/sign-ups", headers=team.staff)

    assert (seen.status_code, seen_again.status_code) == (201, 200)
    assert seen.json() == {"user_id": str(anne), "name": "Someone", "email": "anne@example.org",
                           "signed_up": True, "attended": True}
    body = sheet.json()
    assert body["attendance_closed"] is None
    assert [(p["email"], p["signed_up"], p["attended"]) for p in body["participants"]] == [
        ("anne@example.org", True, True), ("bruno@example.org", True, False)]
    [event] = await pickup.published(AttendanceRecorded)
    assert (str(event.gathering_id), str(event.hub_id), event.user_id) == (
        gathering["id"], team.hub_id, anne)


async def test_a_walk_in_is_recorded_by_the_email_of_their_account(pickup, team):
    gathering = await starting_soon(pickup, team, capacity=0)
    one = f"{team.gatherings}/{gathering['id']}"
    walk_in = await pickup.register("claire@example.org", "Claire")

    seen = await pickup.client.post(f"{one}/attendance", json={"email": " Claire@Example.org "},
                                    headers=team.staff)
    stranger = await pickup.client.post(f"{one}/attendance", json={"email": "nobody@example.org"},
                                        headers=team.staff)
    neither = await pickup.client.post(f"{one}/attendance", json={}, headers=team.staff)
    sheet = (await pickup.client.get(f"{one}/sign-ups", headers=team.staff)).json()

    assert seen.status_code == 201
    assert (seen.json()["user_id"], seen.json()["signed_up"]) == (str(walk_in), False)
    assert (stranger.status_code, neither.status_code) == (422, 422)
    assert [(p["name"], p["signed_up"], p["attended"]) for p in sheet["participants"]] == [
        ("Claire", False, True)]
    assert [e.user_id for e in await pickup.published(AttendanceRecorded)] == [walk_in]


async def test_the_list_and_attendance_are_for_the_hubs_staff_only(pickup, team):
    gathering = await starting_soon(pickup, team)
    one = f"{team.gatherings}/{gathering['id']}"
    resident_id = uuid4()
    resident = pickup.headers(user_id=resident_id)
    await pickup.client.post(f"{one}/sign-ups", headers=resident)
    other_team = await team_of_a_new_hub(pickup)

    refused = {
        "resident": resident, "staff of another hub": other_team.staff,
        "admin of another hub": other_team.admin}
    for who, headers in refused.items():
        listed = await pickup.client.get(f"{one}/sign-ups", headers=headers)
        recorded = await pickup.client.post(f"{one}/attendance",
                                            json={"user_id": str(resident_id)}, headers=headers)
        assert (listed.status_code, recorded.status_code) == (403, 403), who
    by_admin = await pickup.client.get(f"{one}/sign-ups", headers=team.admin)
    anonymous = await pickup.client.get(f"{one}/sign-ups")

    assert by_admin.status_code == 200
    assert anonymous.status_code == 401
    assert await pickup.published(AttendanceRecorded) == []


async def test_attendance_waits_for_the_day_and_never_for_a_cancelled_gathering(pickup, team):
    later = await schedule(pickup, team)
    cancelled = await starting_soon(pickup, team)
    await pickup.client.post(f"{team.gatherings}/{cancelled['id']}/cancellation",
                             json={"reason": "pluie"}, headers=team.admin)
    someone = await pickup.register("dan@example.org")

    answers = [
        await pickup.client.post(f"{team.gatherings}/{g['id']}/attendance",
                                 json={"user_id": str(someone)}, headers=team.staff)
        for g in (later, cancelled)]
    sheet = (await pickup.client.get(f"{team.gatherings}/{later['id']}/sign-ups",
                                     headers=team.staff)).json()

    assert [a.status_code for a in answers] == [409, 409]
    assert "une heure avant" in answers[0].json()["error"]["message"]
    assert "annulée" in answers[1].json()["error"]["message"]
    assert "une heure avant" in sheet["attendance_closed"]
    assert await pickup.published(AttendanceRecorded) == []
