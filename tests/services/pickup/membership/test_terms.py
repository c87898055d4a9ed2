"""The hub's membership terms: set by its admins, read by anyone, checked with clear 4xx."""

from __future__ import annotations

import pytest

from tests.services.pickup.membership.conftest import join, resident, set_terms


async def test_admins_set_the_terms_and_anyone_reads_them(pickup, free_hub):
    await set_terms(pickup, free_hub, fee_cents=1200, duration_months=None,
                    benefits="  Des prix solidaires.  ")

    response = await pickup.client.get(f"{free_hub.api}/membership-terms")

    assert response.status_code == 200
    assert response.json() == {"hub_id": free_hub.hub_id, "open": True, "fee_cents": 1200,
                               "duration_months": None, "benefits": "Des prix solidaires."}


async def test_a_hub_without_terms_takes_no_members(pickup):
    hub_id = await pickup.open_hub()

    terms = (await pickup.client.get(f"/pickup/api/v1/hubs/{hub_id}/membership-terms")).json()

    assert (terms["open"], terms["fee_cents"]) == (False, 0)


async def test_only_the_hubs_admins_set_the_terms(pickup, free_hub):
    body = {"open": False, "fee_cents": 0, "duration_months": 12, "benefits": ""}
    for headers, status in ((resident(pickup).headers, 403), (free_hub.staff, 403), ({}, 401)):
        response = await pickup.client.put(f"{free_hub.api}/membership-terms", json=body,
                                           headers=headers)
        assert response.status_code == status, response.text
    assert (await pickup.client.get(f"{free_hub.api}/membership-terms")).json()["open"] is True


@pytest.mark.parametrize("wrong", [
    {"fee_cents": -1}, {"fee_cents": 100_001}, {"duration_months": 0},
    {"duration_months": 121}, {"benefits": "x" * 1001}, {"open": "peut-être"},
    {"surprise": True},
])
async def test_wrong_terms_are_refused_and_nothing_changes(pickup, free_hub, wrong):
    body = {"open": True, "fee_cents": 500, "duration_months": 12, "benefits": "", **wrong}

    response = await pickup.client.put(f"{free_hub.api}/membership-terms", json=body,
                                       headers=free_hub.admin)

    assert response.status_code == 422
    assert (await pickup.client.get(f"{free_hub.api}/membership-terms")).json()["fee_cents"] == 0


async def test_a_new_fee_leaves_memberships_already_asked_for_as_they_were(pickup, paying_hub):
    asked = await join(pickup, paying_hub, resident(pickup))

    await set_terms(pickup, paying_hub, fee_cents=2500)

    later = await join(pickup, paying_hub, resident(pickup))
    assert (asked["fee_cents"], later["fee_cents"]) == (1000, 2500)
