"""Residents joining at the same moment get distinct numbers, one after the other; one resident
clicking « Adhérer » several times at once becomes one member. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from libs.contracts.pickup import MembershipStarted
from tests.services.pickup.membership.conftest import hub_with_terms, resident

RESIDENTS, CLICKS = 12, 5


async def test_concurrent_joins_number_the_members_one_by_one(pickup_on_each_engine):
    pickup = pickup_on_each_engine
    hub = await hub_with_terms(pickup)
    residents = [resident(pickup, f"Habitant {n}") for n in range(RESIDENTS)]

    responses = await asyncio.gather(*(
        pickup.client.post(f"{hub.api}/memberships", headers=who.headers) for who in residents))

    assert [r.status_code for r in responses] == [201] * RESIDENTS
    numbers = sorted(r.json()["number"] for r in responses)
    assert numbers == [f"PAI-{n:04d}" for n in range(1, RESIDENTS + 1)]
    started = await pickup.published(MembershipStarted)
    assert sorted(e.number for e in started) == numbers
    members = (await pickup.client.get(f"{hub.api}/members", headers=hub.admin)).json()
    assert len(members) == RESIDENTS


async def test_one_resident_clicking_many_times_at_once_joins_once(pickup_on_each_engine):
    pickup = pickup_on_each_engine
    hub = await hub_with_terms(pickup)
    camille = resident(pickup)

    responses = await asyncio.gather(*(
        pickup.client.post(f"{hub.api}/memberships", headers=camille.headers)
        for _ in range(CLICKS)))

    assert sorted(r.status_code for r in responses) == [201] + [409] * (CLICKS - 1)
    [started] = await pickup.published(MembershipStarted)
    assert started.number == "PAI-0001"
