"""Hub admins schedule, change and cancel gatherings; everyone reads the calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from libs.contracts.pickup import GatheringCancelled, GatheringScheduled, SlotClosed, SlotOpened
from tests.services.pickup.gatherings.conftest import (
    PARIS,
    gathering_body,
    open_shop,
    paris_evening,
    schedule,
    team_of_a_new_hub,
)


async def test_an_admin_schedules_a_gathering_in_paris_time_with_shops_of_the_hub(pickup, team):
    cheese = await open_shop(pickup, team.hub_id, "Fromagerie du Trégor")
    bakery = await open_shop(pickup, team.hub_id, "Boulangerie Le Fournil")
    starts = paris_evening()

    gathering = await schedule(pickup, team, starts_at=starts.isoformat(),
                               ends_at=(starts + timedelta(hours=2)).isoformat(),
                               shop_ids=[str(cheese), str(bakery), str(cheese)])

    expected_start = starts.replace(tzinfo=PARIS).astimezone(UTC)
    assert datetime.fromisoformat(gathering["starts_at"]) == expected_start
    assert datetime.fromisoformat(gathering["ends_at"]) == expected_start + timedelta(hours=2)
    assert [shop["name"] for shop in gathering["shops"]] == ["Boulangerie Le Fournil",
                                                              "Fromagerie du Trégor"]
    assert (gathering["capacity"], gathering["taken"], gathering["places_left"]) == (12, 0, 12)
    assert (gathering["status"], gathering["slot_id"]) == ("scheduled", None)
    [scheduled] = await pickup.published(GatheringScheduled)
    assert str(scheduled.gathering_id) == gathering["id"]
    assert (scheduled.starts_at, scheduled.capacity) == (expected_start, 12)
    assert scheduled.shop_ids == [cheese, bakery]


async def test_a_time_with_an_offset_is_taken_as_given(pickup, team):
    gathering = await schedule(pickup, team, starts_at="2099-03-01T18:00:00+00:00",
                               ends_at="2099-03-01T20:00:00+00:00")

    assert datetime.fromisoformat(gathering["starts_at"]) == datetime(2099, 3, 1, 18, tzinfo=UTC)


async def test_what_cannot_be_scheduled_is_refused_and_nothing_is_written(pickup, team):
    other_team = await team_of_a_new_hub(pickup)
    foreign_shop = await open_shop(pickup, other_team.hub_id, "Ailleurs")
    past = datetime.now(PARIS).replace(tzinfo=None) - timedelta(hours=1)

    answers = [
        await pickup.client.post(team.gatherings, json=body, headers=team.admin)
        for body in (
            gathering_body(ends_at=paris_evening(hour=17).isoformat()),
            gathering_body(starts_at="2099-03-29T02:30:00", ends_at="2099-03-29T04:00:00"),
            gathering_body(shop_ids=[str(foreign_shop)]),
            gathering_body(capacity=-1),
            gathering_body(title="  "),
            gathering_body(starts_at=past.isoformat(),
                           ends_at=(past + timedelta(minutes=30)).isoformat()),
        )
    ]

    assert [a.status_code for a in answers] == [422, 422, 422, 422, 422, 409]
    assert "changement d'heure" in answers[1].text
    assert str(foreign_shop) in answers[2].json()["error"]["details"]
    assert await pickup.published(GatheringScheduled) == []
    assert (await pickup.client.get(team.gatherings)).json() == []


async def test_only_the_hubs_admins_schedule_change_and_cancel(pickup, team):
    other_team = await team_of_a_new_hub(pickup)
    gathering = await schedule(pickup, team)
    one = f"{team.gatherings}/{gathering['id']}"
    people = {"resident": pickup.headers(), "staff": team.staff,
              "admin of another hub": other_team.admin}

    for who, headers in people.items():
        created = await pickup.client.post(team.gatherings, json=gathering_body(), headers=headers)
        changed = await pickup.client.patch(one, json={"title": "Autre"}, headers=headers)
        cancelled = await pickup.client.post(f"{one}/cancellation", json={"reason": "non"},
                                             headers=headers)
        assert [created.status_code, changed.status_code, cancelled.status_code] == [403] * 3, who
    anonymous = await pickup.client.post(team.gatherings, json=gathering_body())
    platform_admin = await pickup.client.patch(one, json={"title": "Autre"}, headers=pickup.admin)

    assert anonymous.status_code == 401
    assert platform_admin.status_code == 200
    assert len(await pickup.published(GatheringScheduled)) == 2


async def test_a_change_is_announced_again_as_the_gathering_now_scheduled(pickup, team):
    cheese = await open_shop(pickup, team.hub_id, "Fromagerie du Trégor")
    gathering = await schedule(pickup, team, shop_ids=[str(cheese)])
    one = f"{team.gatherings}/{gathering['id']}"
    later = paris_evening(days=4, hour=19)

    changed = await pickup.client.patch(one, headers=team.admin, json={
        "title": "Dégustation de beurres", "capacity": 20, "shop_ids": [],
        "starts_at": later.isoformat(), "ends_at": (later + timedelta(hours=1)).isoformat()})
    unchanged = await pickup.client.patch(one, headers=team.admin,
                                          json={"title": "Dégustation de beurres"})
    backwards = await pickup.client.patch(one, headers=team.admin,
                                          json={"ends_at": later.isoformat()})

    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["title"], body["capacity"], body["description"], body["shops"]) == (
        "Dégustation de beurres", 20, "Tommes et beurres du Trégor.", [])
    assert unchanged.json() == body
    assert backwards.status_code == 422
    first, second = await pickup.published(GatheringScheduled)
    assert first.gathering_id == second.gathering_id
    assert (second.title, second.capacity, second.shop_ids) == ("Dégustation de beurres", 20, [])
    assert second.starts_at == later.replace(tzinfo=PARIS).astimezone(UTC)


async def test_capacity_never_goes_below_those_signed_up(pickup, team):
    gathering = await schedule(pickup, team, capacity=3)
    one = f"{team.gatherings}/{gathering['id']}"
    for _ in range(2):
        assert (await pickup.client.post(f"{one}/sign-ups", headers=pickup.headers())
                ).status_code == 201

    too_small = await pickup.client.patch(one, json={"capacity": 1}, headers=team.admin)
    free_entry = await pickup.client.patch(one, json={"capacity": 0}, headers=team.admin)
    just_enough = await pickup.client.patch(one, json={"capacity": 2}, headers=team.admin)

    assert (too_small.status_code, free_entry.status_code) == (409, 409)
    assert (just_enough.status_code, just_enough.json()["places_left"]) == (200, 0)


async def test_cancelling_announces_it_once_and_keeps_it_on_the_calendar(pickup, team):
    gathering = await schedule(pickup, team)
    one = f"{team.gatherings}/{gathering['id']}"

    cancelled = await pickup.client.post(f"{one}/cancellation", json={"reason": "Fromager malade"},
                                         headers=team.admin)
    again = await pickup.client.post(f"{one}/cancellation", json={"reason": "encore"},
                                     headers=team.admin)
    changed = await pickup.client.patch(one, json={"title": "Autre"}, headers=team.admin)
    signing_up = await pickup.client.post(f"{one}/sign-ups", headers=pickup.headers())

    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["cancel_reason"]) == (
        "cancelled", "Fromager malade")
    assert again.json() == cancelled.json()
    assert (changed.status_code, signing_up.status_code) == (409, 409)
    [event] = await pickup.published(GatheringCancelled)
    assert (str(event.gathering_id), event.reason) == (gathering["id"], "Fromager malade")
    listed = (await pickup.client.get(team.gatherings)).json()
    assert [(g["id"], g["status"]) for g in listed] == [(gathering["id"], "cancelled")]


async def test_collection_during_a_gathering_opens_its_slot_and_cancelling_closes_it(pickup, team):
    gathering = await schedule(pickup, team, collection_capacity=15)
    one = f"{team.gatherings}/{gathering['id']}"

    [opened] = await pickup.published(SlotOpened)
    assert gathering["slot_id"] == str(opened.slot_id)
    assert (opened.gathering_id, opened.capacity) == (UUID(gathering["id"]), 15)
    assert "Dégustation de fromages" in opened.label
    assert opened.starts_at == datetime.fromisoformat(gathering["starts_at"])
    moved = await pickup.client.patch(one, headers=team.admin, json={
        "starts_at": paris_evening(days=5).isoformat(),
        "ends_at": paris_evening(days=5, hour=20).isoformat()})
    assert moved.status_code == 409

    await pickup.client.post(f"{one}/cancellation", json={"reason": "pluie"}, headers=team.admin)

    [closed] = await pickup.published(SlotClosed)
    assert closed.slot_id == opened.slot_id
    assert "pluie" in closed.reason


async def test_collection_can_be_added_to_a_gathering_later_once(pickup, team):
    gathering = await schedule(pickup, team)
    one = f"{team.gatherings}/{gathering['id']}"

    added = await pickup.client.patch(one, json={"collection_capacity": 10}, headers=team.admin)
    again = await pickup.client.patch(one, json={"collection_capacity": 30}, headers=team.admin)

    assert added.json()["slot_id"] is not None
    assert again.json()["slot_id"] == added.json()["slot_id"]
    assert len(await pickup.published(SlotOpened)) == 1


async def test_the_calendar_lists_what_is_not_over_yet_soonest_first(pickup, team):
    late = await schedule(pickup, team, title="Atelier pain",
                          starts_at=paris_evening(days=9).isoformat(),
                          ends_at=paris_evening(days=9, hour=20).isoformat())
    soon = await schedule(pickup, team, title="Causerie circuits courts", capacity=0)
    other_team = await team_of_a_new_hub(pickup)
    await schedule(pickup, other_team, title="Ailleurs")

    listed = (await pickup.client.get(team.gatherings)).json()
    one = await pickup.client.get(f"{team.gatherings}/{soon['id']}")
    elsewhere = await pickup.client.get(f"/pickup/api/v1/hubs/{other_team.hub_id}/gatherings/"
                                        f"{soon['id']}")
    unknown_hub = await pickup.client.get(f"/pickup/api/v1/hubs/{uuid4()}/gatherings")

    assert [g["id"] for g in listed] == [soon["id"], late["id"]]
    assert (one.json()["places_left"], one.json()["signed_up"]) == (None, None)
    assert (elsewhere.status_code, unknown_hub.status_code) == (404, 404)
