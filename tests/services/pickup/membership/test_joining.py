"""Joining a hub: free at once, or once the payment service says the fee is in; failed fees,
joining twice, leaving; what goes to the outbox each time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from libs.contracts.pickup import MembershipEnded, MembershipFeeRequested, MembershipStarted
from tests.services.pickup.membership.conftest import (
    fee_failed,
    fee_paid,
    hub_with_terms,
    join,
    resident,
    set_terms,
)

PARIS = ZoneInfo("Europe/Paris")


async def test_a_free_membership_starts_at_once_with_a_number_of_the_hub(pickup, free_hub):
    camille = resident(pickup)

    membership = await join(pickup, free_hub, camille)

    assert (membership["status"], membership["number"], membership["valid"]) == (
        "active", "PAI-0001", True)
    assert membership["pay_url"] is None
    started = datetime.fromisoformat(membership["started_at"])
    assert started.utcoffset() == timedelta(0)
    [event] = await pickup.published(MembershipStarted)
    assert (str(event.membership_id), event.resident_id, event.number, event.fee_cents) == (
        membership["id"], camille.user_id, "PAI-0001", 0)
    # Twelve months on the Paris calendar, at the same time of day.
    on_paris_clock = event.started_at.astimezone(PARIS)
    assert event.expires_at.astimezone(PARIS) == on_paris_clock.replace(
        year=on_paris_clock.year + 1)
    assert event.expires_at.isoformat() == membership["expires_at"].replace("Z", "+00:00")
    assert await pickup.published(MembershipFeeRequested) == []
    mine = await pickup.client.get(f"{free_hub.api}/memberships/mine", headers=camille.headers)
    assert mine.json()["id"] == membership["id"]


async def test_a_membership_without_end_never_expires(pickup):
    hub = await hub_with_terms(pickup, duration_months=None)

    membership = await join(pickup, hub, resident(pickup))

    assert (membership["status"], membership["expires_at"]) == ("active", None)
    [event] = await pickup.published(MembershipStarted)
    assert event.expires_at is None


async def test_a_fee_is_asked_of_the_payment_service_then_the_membership_starts_when_paid(
        pickup, paying_hub):
    camille = resident(pickup)
    before = datetime.now(UTC)

    asked = await join(pickup, paying_hub, camille)

    assert (asked["status"], asked["number"], asked["valid"]) == ("awaiting_payment", None, False)
    assert asked["pay_url"] == f"/payments/memberships/{asked['id']}"
    [request] = await pickup.published(MembershipFeeRequested)
    assert (str(request.membership_id), request.resident_id, request.amount_cents,
            request.currency) == (asked["id"], camille.user_id, 1000, "eur")
    assert before + timedelta(minutes=29) < request.pay_by <= datetime.now(UTC) + timedelta(
        minutes=30)
    assert await pickup.published(MembershipStarted) == []

    await fee_paid(pickup, asked)
    await fee_paid(pickup, asked)  # told twice: one membership, started once

    [started] = await pickup.published(MembershipStarted)
    assert (str(started.membership_id), started.number, started.fee_cents) == (
        asked["id"], "PAI-0001", 1000)
    mine = (await pickup.client.get(f"{paying_hub.api}/memberships/mine",
                                    headers=camille.headers)).json()
    assert (mine["status"], mine["valid"], mine["pay_url"]) == ("active", True, None)


async def test_a_failed_fee_lapses_the_membership_without_announcing_anything(pickup,
                                                                              paying_hub):
    camille = resident(pickup)
    asked = await join(pickup, paying_hub, camille)

    await fee_failed(pickup, asked)

    mine = (await pickup.client.get(f"{paying_hub.api}/memberships/mine",
                                    headers=camille.headers)).json()
    assert (mine["status"], mine["end_reason"], mine["valid"]) == ("lapsed", "unpaid", False)
    assert await pickup.published(MembershipStarted, MembershipEnded) == []
    again = await join(pickup, paying_hub, camille)
    assert again["status"] == "awaiting_payment" and again["id"] != asked["id"]


async def test_a_fee_paid_after_the_hub_gave_up_on_it_still_makes_a_member(pickup, paying_hub):
    asked = await join(pickup, paying_hub, resident(pickup))
    await fee_failed(pickup, asked)

    await fee_paid(pickup, asked)

    [started] = await pickup.published(MembershipStarted)
    assert str(started.membership_id) == asked["id"]


async def test_joining_twice_is_refused_while_a_membership_runs_or_awaits_its_fee(
        pickup, free_hub, paying_hub):
    camille = resident(pickup)
    await join(pickup, free_hub, camille)
    await join(pickup, paying_hub, camille)

    running = await join(pickup, free_hub, camille, status=409)
    awaiting = await join(pickup, paying_hub, camille, status=409)

    assert "déjà adhérent" in running["error"]["message"]
    assert "attend déjà son paiement" in awaiting["error"]["message"]
    assert len(await pickup.published(MembershipStarted)) == 1
    assert len(await pickup.published(MembershipFeeRequested)) == 1


async def test_nobody_joins_a_hub_whose_membership_is_closed_or_was_never_opened(pickup,
                                                                                 free_hub):
    never = await pickup.open_hub()
    await set_terms(pickup, free_hub, open=False)

    closed = await join(pickup, free_hub, resident(pickup), status=409)
    unset = await pickup.client.post(f"/pickup/api/v1/hubs/{never}/memberships",
                                     headers=resident(pickup).headers)
    unknown = await pickup.client.post(
        "/pickup/api/v1/hubs/00000000-0000-0000-0000-000000000000/memberships",
        headers=resident(pickup).headers)

    assert "ne prend pas de nouvelles adhésions" in closed["error"]["message"]
    assert unset.status_code == 409
    assert unknown.status_code == 404
    anonymous = await pickup.client.post(f"{free_hub.api}/memberships")
    assert anonymous.status_code == 401
    assert await pickup.published(MembershipStarted) == []


async def test_a_member_leaves_and_the_end_is_announced(pickup, free_hub):
    camille = resident(pickup)
    membership = await join(pickup, free_hub, camille)

    response = await pickup.client.delete(f"{free_hub.api}/memberships/mine",
                                          headers=camille.headers)

    assert response.status_code == 200, response.text
    left = response.json()
    assert (left["status"], left["end_reason"], left["valid"]) == ("ended", "left", False)
    [ended] = await pickup.published(MembershipEnded)
    assert (str(ended.membership_id), ended.reason, ended.resident_id) == (
        membership["id"], "left", camille.user_id)
    again = await pickup.client.delete(f"{free_hub.api}/memberships/mine",
                                       headers=camille.headers)
    assert again.status_code == 409


async def test_a_member_who_comes_back_keeps_their_number(pickup, free_hub):
    camille, dominique = resident(pickup), resident(pickup, "Dominique")
    first = await join(pickup, free_hub, camille)
    await join(pickup, free_hub, dominique)
    await pickup.client.delete(f"{free_hub.api}/memberships/mine", headers=camille.headers)

    back = await join(pickup, free_hub, camille)

    assert (first["number"], back["number"]) == ("PAI-0001", "PAI-0001")
    assert back["member_since"] == first["member_since"]
    numbers = [e.number for e in await pickup.published(MembershipStarted)]
    assert numbers == ["PAI-0001", "PAI-0002", "PAI-0001"]
