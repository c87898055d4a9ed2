"""Residents sign up and cancel: capacity holds under concurrency, twice is once, a cancelled
place is free again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from libs.contracts.pickup import ResidentSignedUp, SignUpCancelled
from services.pickup.gatherings.tables import Gathering
from tests.services.pickup.gatherings.conftest import schedule, team_of_a_new_hub


async def test_concurrent_sign_ups_never_exceed_capacity(pickup_on_each_engine):
    pickup = pickup_on_each_engine
    team = await team_of_a_new_hub(pickup)
    gathering = await schedule(pickup, team, capacity=4)
    sign_ups = f"{team.gatherings}/{gathering['id']}/sign-ups"
    residents = [uuid4() for _ in range(12)]

    answers = await asyncio.gather(*(
        pickup.client.post(sign_ups, headers=pickup.headers(user_id=resident))
        for resident in residents))

    assert sorted(a.status_code for a in answers) == [201] * 4 + [409] * 8
    assert {a.json()["error"]["message"] for a in answers if a.status_code == 409} == {
        "cette animation est complète"}
    signed_up = {event.user_id for event in await pickup.published(ResidentSignedUp)}
    assert len(signed_up) == 4 and signed_up <= set(residents)
    after = (await pickup.client.get(f"{team.gatherings}/{gathering['id']}")).json()
    assert (after["taken"], after["places_left"]) == (4, 0)


async def test_one_resident_signing_up_at_once_twice_takes_one_place(pickup_on_each_engine):
    pickup = pickup_on_each_engine
    team = await team_of_a_new_hub(pickup)
    gathering = await schedule(pickup, team, capacity=5)
    sign_ups = f"{team.gatherings}/{gathering['id']}/sign-ups"
    resident = pickup.headers(user_id=uuid4())

    answers = await asyncio.gather(*(pickup.client.post(sign_ups, headers=resident)
                                     for _ in range(6)))

    assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
    assert len(await pickup.published(ResidentSignedUp)) == 1
    assert (await pickup.client.get(f"{team.gatherings}/{gathering['id']}")).json()["taken"] == 1


async def test_signing_up_twice_is_once_and_says_so(pickup, team):
    gathering = await schedule(pickup, team)
    one = f"{team.gatherings}/{gathering['id']}"
    resident_id = uuid4()
    resident = pickup.headers(user_id=resident_id)

    first = await pickup.client.post(f"{one}/sign-ups", headers=resident)
    second = await pickup.client.post(f"{one}/sign-ups", headers=resident)
    seen_by_them = await pickup.client.get(one, headers=resident)
    seen_by_another = await pickup.client.get(one, headers=pickup.headers())

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["taken"] == 1
    assert (seen_by_them.json()["signed_up"], seen_by_another.json()["signed_up"]) == (True, False)
    [event] = await pickup.published(ResidentSignedUp)
    assert (str(event.gathering_id), str(event.hub_id), event.user_id) == (
        gathering["id"], team.hub_id, resident_id)


async def test_cancelling_frees_the_place_and_signing_up_again_takes_it(pickup, team):
    gathering = await schedule(pickup, team, capacity=1)
    one = f"{team.gatherings}/{gathering['id']}"
    first, second = pickup.headers(user_id=uuid4()), pickup.headers(user_id=uuid4())
    await pickup.client.post(f"{one}/sign-ups", headers=first)
    full = await pickup.client.post(f"{one}/sign-ups", headers=second)

    cancelled = await pickup.client.delete(f"{one}/sign-ups/me", headers=first)
    cancelled_again = await pickup.client.delete(f"{one}/sign-ups/me", headers=first)
    never_signed_up = await pickup.client.delete(f"{one}/sign-ups/me", headers=pickup.headers())
    taken_by_second = await pickup.client.post(f"{one}/sign-ups", headers=second)
    back_for_first = await pickup.client.post(f"{one}/sign-ups", headers=first)

    assert full.status_code == 409
    assert (cancelled.status_code, cancelled.json()["places_left"]) == (200, 1)
    assert cancelled.json()["signed_up"] is False
    assert cancelled_again.json()["places_left"] == never_signed_up.json()["places_left"] == 1
    assert (taken_by_second.status_code, back_for_first.status_code) == (201, 409)
    assert len(await pickup.published(SignUpCancelled)) == 1
    assert len(await pickup.published(ResidentSignedUp)) == 2


async def test_a_resident_cancelled_then_back_is_signed_up_once_more(pickup, team):
    gathering = await schedule(pickup, team)
    one = f"{team.gatherings}/{gathering['id']}"
    resident_id = uuid4()
    resident = pickup.headers(user_id=resident_id)

    await pickup.client.post(f"{one}/sign-ups", headers=resident)
    await pickup.client.delete(f"{one}/sign-ups/me", headers=resident)
    back = await pickup.client.post(f"{one}/sign-ups", headers=resident)

    assert (back.status_code, back.json()["taken"]) == (201, 1)
    assert [e.user_id for e in await pickup.published(ResidentSignedUp)] == [resident_id] * 2


async def test_no_sign_up_for_free_entry_started_or_cancelled_gatherings(pickup, team):
    free_entry = await schedule(pickup, team, capacity=0)
    cancelled = await schedule(pickup, team)
    await pickup.client.post(f"{team.gatherings}/{cancelled['id']}/cancellation",
                             json={"reason": "pluie"}, headers=team.admin)
    started = await schedule(pickup, team)
    async with pickup.runtime.database.sessions() as session, session.begin():
        row = await session.get(Gathering, UUID(started["id"]))
        row.starts_at = datetime.now(UTC) - timedelta(minutes=5)

    answers = {
        name: await pickup.client.post(f"{team.gatherings}/{g['id']}/sign-ups",
                                       headers=pickup.headers())
        for name, g in {"free": free_entry, "cancelled": cancelled, "started": started}.items()}
    anonymous = await pickup.client.post(f"{team.gatherings}/{free_entry['id']}/sign-ups")
    elsewhere = await pickup.client.post(
        f"{(await team_of_a_new_hub(pickup)).gatherings}/{free_entry['id']}/sign-ups",
        headers=pickup.headers())

    assert {name: a.status_code for name, a in answers.items()} == {
        "free": 409, "cancelled": 409, "started": 409}
    assert "entrée libre" in answers["free"].json()["error"]["message"]
    assert "commencé" in answers["started"].json()["error"]["message"]
    assert (anonymous.status_code, elsewhere.status_code) == (401, 404)
    assert await pickup.published(ResidentSignedUp) == []


async def test_no_cancelling_a_sign_up_once_the_gathering_has_started(pickup, team):
    gathering = await schedule(pickup, team)
    one = f"{team.gatherings}/{gathering['id']}"
    resident = pickup.headers(user_id=uuid4())
    await pickup.client.post(f"{one}/sign-ups", headers=resident)
    async with pickup.runtime.database.sessions() as session, session.begin():
        row = await session.get(Gathering, UUID(gathering["id"]))
        row.starts_at = datetime.now(UTC) - timedelta(minutes=5)

    late = await pickup.client.delete(f"{one}/sign-ups/me", headers=resident)

    assert late.status_code == 409
    assert await pickup.published(SignUpCancelled) == []
