"""On the clock: memberships whose time is up end (``expired``), fees left unpaid are given up on;
and renewing, which keeps the member's number and loses them no day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from libs.contracts.pickup import MembershipEnded, MembershipFeeRequested, MembershipStarted
from services.pickup.membership.domain import LAPSE_GRACE, expiry
from services.pickup.membership.use_cases import end_lapsed_memberships
from tests.services.pickup.membership.conftest import (
    backdate,
    fee_failed,
    fee_paid,
    hub_with_terms,
    join,
    resident,
)


async def mine(pickup, hub, who) -> dict:
    response = await pickup.client.get(f"{hub.api}/memberships/mine", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_periodic_job_ends_memberships_whose_time_is_up(pickup_on_each_engine):
    pickup = pickup_on_each_engine
    free_hub = await hub_with_terms(pickup)
    camille, dominique = resident(pickup), resident(pickup, "Dominique")
    over = await join(pickup, free_hub, camille)
    running = await join(pickup, free_hub, dominique)
    ended_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    await backdate(pickup, over["id"], expires_at=ended_at)

    await end_lapsed_memberships(pickup.runtime)
    await end_lapsed_memberships(pickup.runtime)  # a second round finds nothing more to do

    [ended] = await pickup.published(MembershipEnded)
    assert (str(ended.membership_id), ended.reason, ended.ended_at) == (
        over["id"], "expired", ended_at)
    assert (await mine(pickup, free_hub, camille))["status"] == "ended"
    assert (await mine(pickup, free_hub, dominique))["status"] == "active"
    assert running["id"] != over["id"]


async def test_a_fee_still_unpaid_after_pay_by_and_a_grace_lapses_quietly(pickup, paying_hub):
    late, on_time = resident(pickup), resident(pickup, "Dominique")
    given_up = await join(pickup, paying_hub, late)
    waiting = await join(pickup, paying_hub, on_time)
    now = datetime.now(UTC)
    await backdate(pickup, given_up["id"], pay_by=now - LAPSE_GRACE - timedelta(seconds=5))
    await backdate(pickup, waiting["id"], pay_by=now - LAPSE_GRACE + timedelta(minutes=2))

    await end_lapsed_memberships(pickup.runtime)

    assert (await mine(pickup, paying_hub, late))["status"] == "lapsed"
    assert (await mine(pickup, paying_hub, on_time))["status"] == "awaiting_payment"
    assert await pickup.published(MembershipEnded) == []


async def test_a_membership_in_its_last_30_days_renews_from_its_end_keeping_the_number(
        pickup, free_hub):
    camille = resident(pickup)
    first = await join(pickup, free_hub, camille)
    ends = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10)
    await backdate(pickup, first["id"], expires_at=ends)

    renewed = await join(pickup, free_hub, camille)

    assert (renewed["status"], renewed["number"]) == ("active", first["number"])
    assert datetime.fromisoformat(renewed["expires_at"]) == expiry(ends, 12)
    ended, = await pickup.published(MembershipEnded)
    assert (str(ended.membership_id), ended.reason) == (first["id"], "renewed")
    events = await pickup.published(MembershipStarted, MembershipEnded)
    # The old one ends before the new one starts: consumers never see two at once.
    assert [type(e).__name__ for e in events] == [
        "MembershipStarted", "MembershipEnded", "MembershipStarted"]
    assert (await mine(pickup, free_hub, camille))["id"] == renewed["id"]


async def test_renewing_too_early_is_refused(pickup, free_hub):
    camille = resident(pickup)
    first = await join(pickup, free_hub, camille)
    await backdate(pickup, first["id"], expires_at=datetime.now(UTC) + timedelta(days=45))

    refused = await join(pickup, free_hub, camille, status=409)

    assert "30 jours avant" in refused["error"]["message"]


async def test_a_paid_renewal_starts_when_its_fee_is_in_and_ends_the_running_one(pickup):
    hub = await hub_with_terms(pickup, fee_cents=1500, duration_months=6)
    camille = resident(pickup)
    first = await join(pickup, hub, camille)
    await fee_paid(pickup, first)
    number = (await mine(pickup, hub, camille))["number"]
    ends = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    await backdate(pickup, first["id"], expires_at=ends)

    asked = await join(pickup, hub, camille)
    assert (await mine(pickup, hub, camille))["id"] == first["id"]  # still the card shown
    card = (await pickup.client.get(hub.card, headers=camille.headers)).text
    assert f'href="/payments/memberships/{asked["id"]}"' in card
    assert "Renouveler mon adhésion" not in card
    await fee_paid(pickup, asked)

    assert len(await pickup.published(MembershipFeeRequested)) == 2
    now_mine = await mine(pickup, hub, camille)
    assert (now_mine["id"], now_mine["status"], now_mine["number"]) == (
        asked["id"], "active", number)
    assert datetime.fromisoformat(now_mine["expires_at"]) == expiry(ends, 6)
    [ended] = await pickup.published(MembershipEnded)
    assert (str(ended.membership_id), ended.reason) == (first["id"], "renewed")


async def test_an_expired_member_joins_again_with_their_number(pickup, free_hub):
    camille = resident(pickup)
    first = await join(pickup, free_hub, camille)
    await backdate(pickup, first["id"], expires_at=datetime.now(UTC) - timedelta(days=1))
    await end_lapsed_memberships(pickup.runtime)

    again = await join(pickup, free_hub, camille)

    assert (again["status"], again["number"]) == ("active", first["number"])
    assert [e.reason for e in await pickup.published(MembershipEnded)] == ["expired"]


async def test_a_renewal_paid_after_the_hub_gave_up_on_its_fee_still_renews(pickup):
    hub = await hub_with_terms(pickup, fee_cents=1500)
    camille = resident(pickup)
    first = await join(pickup, hub, camille)
    await fee_paid(pickup, first)
    await backdate(pickup, first["id"], expires_at=datetime.now(UTC) + timedelta(days=3))
    renewal = await join(pickup, hub, camille)
    await fee_failed(pickup, renewal)

    await fee_paid(pickup, renewal)

    assert (await mine(pickup, hub, camille))["id"] == renewal["id"]
    assert [(str(e.membership_id), e.reason) for e in await pickup.published(MembershipEnded)] == [
        (first["id"], "renewed")]
