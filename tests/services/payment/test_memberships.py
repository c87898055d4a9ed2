"""Membership fees (issue 6): pickup asks for a resident's fee to a hub, the payment service takes
it on the resident's page (simulated) or through Stripe, and answers MembershipFeePaid, or
MembershipFeeFailed when it is refused or not paid in time; the fee is the hub's in the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs
from uuid import UUID, uuid4

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from libs.auth.tokens import Principal
from libs.contracts.payment import (
    MembershipFeeFailed,
    MembershipFeePaid,
    PaymentStarted,
    ProcessorFeeCharged,
)
from libs.contracts.pickup import HubOpened, MembershipFeeRequested
from libs.kit.pages import money
from services.payment import use_cases
from services.payment.domain import simulated_fee_cents
from services.payment.tables import Payment
from tests.services.payment.ledger.test_posting import balances
from tests.services.payment.support import (
    intent_event,
    platform_admin,
    resident,
    running_payment,
    stripe_settings,
    stripe_signature,
)
from tests.services.payment.test_stripe import post_notice

FEE = 1500


def fee_requested(member: Principal, hub_id: UUID | None = None, *, amount_cents: int = FEE,
                  pay_by: datetime | None = None) -> MembershipFeeRequested:
    return MembershipFeeRequested(
        membership_id=uuid4(), hub_id=hub_id or uuid4(), resident_id=member.user_id,
        amount_cents=amount_cents, pay_by=pay_by or datetime.now(UTC) + timedelta(minutes=30))


def hub_opened(hub_id: UUID) -> HubOpened:
    return HubOpened(hub_id=hub_id, name="La Fabrique du Centre", town="Rennes",
                     address="2 rue de la Paix")


def page_of(requested: MembershipFeeRequested) -> str:
    return f"/payments/memberships/{requested.membership_id}"


async def membership_payment(payments, requested: MembershipFeeRequested) -> Payment:
    async with payments.runtime.database.sessions() as session:
        found = await session.execute(
            select(Payment).where(Payment.membership_id == requested.membership_id))
        return found.scalars().one()


async def pay_on_the_page(payments, requested: MembershipFeeRequested, member: Principal,
                          outcome: str = "succeeded"):
    """The form posted as the signed-in browser does (the test client holds a form token)."""
    return await payments.client.post(page_of(requested), data={"outcome": outcome},
                                      headers=payments.session(member))


async def test_the_resident_pays_the_fee_on_the_page_and_goes_back_to_the_member_card(payments):
    member = resident("Inès")
    requested = fee_requested(member)
    await payments.feed(hub_opened(requested.hub_id))
    await payments.feed(requested)

    page = await payments.client.get(page_of(requested), headers=payments.session(member))
    assert page.status_code == 200, page.text
    assert "Paiement de votre adhésion" in page.text
    assert "La Fabrique du Centre" in page.text
    assert money(FEE) in page.text
    assert f'action="{page_of(requested)}"' in page.text
    assert 'name="csrf_token"' in page.text

    paid = await pay_on_the_page(payments, requested, member)
    assert paid.status_code == 303, paid.text
    assert paid.headers["location"] == f"/pickup/hubs/{requested.hub_id}/adhesion"

    payment = await membership_payment(payments, requested)
    assert await payments.events(MembershipFeePaid) == [MembershipFeePaid(
        payment_id=payment.id, membership_id=requested.membership_id, hub_id=requested.hub_id,
        resident_id=member.user_id, amount_cents=FEE)]
    assert await payments.events(ProcessorFeeCharged) == [ProcessorFeeCharged(
        payment_id=payment.id, membership_id=requested.membership_id,
        fee_cents=simulated_fee_cents(FEE))]
    assert await payments.events(PaymentStarted) == []
    assert (payment.status, payment.commission_cents, payment.order_id) == ("succeeded", 0, None)

    again = await payments.client.get(page_of(requested), headers=payments.session(member))
    assert "Votre adhésion est réglée" in again.text
    assert "Simuler un refus" not in again.text


async def test_the_fee_paid_follows_the_request_s_saga(payments):
    member = resident()
    requested = fee_requested(member)
    await payments.feed(requested, correlation_id="membership-saga")
    payment = await membership_payment(payments, requested)

    assert (await payments.simulate(payment.id, "succeeded", member)).status_code == 200

    [(envelope, _)] = await payments.published(MembershipFeePaid)
    assert envelope.correlation_id == "membership-saga"
    answer = (await payments.get(payment.id, member)).json()
    assert (answer["membership_id"], answer["order_id"]) == (str(requested.membership_id), None)


async def test_a_refused_fee_is_reported_and_explained_on_the_page(payments):
    member = resident()
    requested = fee_requested(member)
    await payments.feed(requested)

    refused = await pay_on_the_page(payments, requested, member, outcome="failed")
    assert refused.status_code == 303
    assert refused.headers["location"] == page_of(requested)

    payment = await membership_payment(payments, requested)
    assert await payments.events(MembershipFeeFailed) == [MembershipFeeFailed(
        payment_id=payment.id, membership_id=requested.membership_id,
        reason=use_cases.SIMULATED_REFUSAL)]
    assert await payments.events(MembershipFeePaid) == []
    page = await payments.client.get(page_of(requested), headers=payments.session(member))
    assert "a été refusé" in page.text
    assert 'value="succeeded"' not in page.text

    too_late = await pay_on_the_page(payments, requested, member)
    assert too_late.status_code == 409
    assert await payments.events(MembershipFeePaid) == []


async def test_a_fee_not_paid_in_time_is_called_off_once(payments_on_each_database):
    payments = payments_on_each_database
    member = resident()
    now = datetime.now(UTC)
    overdue = fee_requested(member, pay_by=now - timedelta(seconds=1))
    in_time = fee_requested(member, pay_by=now + timedelta(minutes=30))
    await payments.feed(overdue)
    await payments.feed(in_time)

    await use_cases.call_off_overdue_memberships(payments.runtime)
    await use_cases.call_off_overdue_memberships(payments.runtime)

    late = await membership_payment(payments, overdue)
    assert await payments.events(MembershipFeeFailed) == [MembershipFeeFailed(
        payment_id=late.id, membership_id=overdue.membership_id, reason=use_cases.OVERDUE)]
    assert late.status == "cancelled"
    assert late.provider_cancelled_at is not None
    assert (await membership_payment(payments, in_time)).status == "pending"

    page = await payments.client.get(page_of(overdue), headers=payments.session(member))
    assert "délai pour régler votre adhésion est dépassé" in page.text
    assert 'value="succeeded"' not in page.text


async def test_a_request_delivered_twice_makes_one_payment(payments_on_each_database):
    payments = payments_on_each_database
    member = resident()
    requested = fee_requested(member)
    envelope = await payments.feed(requested)
    await payments.deliver(envelope)
    await payments.feed(requested)  # the same request, as another event

    async with payments.runtime.database.sessions() as session:
        count = (await session.execute(select(func.count()).select_from(Payment).where(
            Payment.membership_id == requested.membership_id))).scalar_one()
    assert count == 1
    payment = await membership_payment(payments, requested)
    assert payment.provider_reference == f"sim_{payment.id.hex}"


async def test_the_page_is_the_resident_s_only(payments):
    member, neighbour = resident("Inès"), resident("Paul")
    requested = fee_requested(member)
    await payments.feed(requested)

    for someone in (neighbour, platform_admin()):
        seen = await payments.client.get(page_of(requested), headers=payments.session(someone))
        assert seen.status_code == 404
        assert money(FEE) not in seen.text
    posted = await pay_on_the_page(payments, requested, neighbour)
    assert posted.status_code == 404
    assert await payments.events(MembershipFeePaid) == []
    unknown = await payments.client.get(f"/payments/memberships/{uuid4()}",
                                        headers=payments.session(member))
    assert unknown.status_code == 404

    signed_out = await payments.client.get(page_of(requested))
    assert signed_out.status_code == 303
    assert "/accounts/login" in signed_out.headers["location"]


async def test_the_order_pay_page_of_a_membership_payment_leads_to_its_own_page(payments):
    member = resident()
    requested = fee_requested(member)
    await payments.feed(requested)
    payment = await membership_payment(payments, requested)

    page = await payments.client.get(f"/payments/pay/{payment.id}",
                                     headers=payments.session(member))
    assert page.status_code == 303
    assert page.headers["location"] == page_of(requested)


async def test_a_membership_fee_is_the_hub_s_in_the_ledger(payments_on_each_database):
    payments = payments_on_each_database
    member = resident()
    requested = fee_requested(member)
    await payments.feed(hub_opened(requested.hub_id))
    await payments.feed(requested)
    payment = await membership_payment(payments, requested)
    assert (await payments.simulate(payment.id, "succeeded", member)).status_code == 200

    for envelope, _ in await payments.published():
        await payments.deliver(envelope)
        await payments.deliver(envelope)

    fee = simulated_fee_cents(FEE)
    accounts = await balances(payments)
    assert sum(accounts.values()) == 0
    assert accounts[f"hub:{requested.hub_id}:membership_fees"] == -FEE
    assert accounts["processor"] == FEE - fee
    assert accounts["platform:fees"] == fee
    assert "platform:commission" not in accounts

    year = datetime.now(UTC).year
    report = await payments.client.get(f"/payments/api/v1/reports/commission?year={year}",
                                       headers=payments.headers(platform_admin()))
    [line] = report.json()
    assert (line["hub_name"], line["membership_fees_cents"], line["gross_cents"],
            line["fees_cents"], line["net_cents"]) == ("La Fabrique du Centre", FEE, 0, fee, -fee)


# --- Stripe ----------------------------------------------------------------------------------



@pytest.fixture
async def stripe_payments(tmp_path, stripe_api_base):
    async with running_payment(stripe_settings(tmp_path, stripe_api_base)) as running:
        yield running


@pytest.mark.stripe
@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
async def test_stripe_opens_an_intent_for_the_hub_and_its_webhook_settles_it(stripe_payments):
    sent = []

    async def record(request):
        if request.method == "POST" and request.url.path == "/v1/payment_intents":
            sent.append((request.headers.get("idempotency-key"),
                         parse_qs(request.content.decode())))

    provider = use_cases.provider_of(stripe_payments.runtime)
    provider._http._client_async.event_hooks["request"] = [record]
    member = resident()
    requested = fee_requested(member)
    await stripe_payments.feed(requested)

    payment = await membership_payment(stripe_payments, requested)
    assert payment.provider_reference.startswith("pi_")
    [(key, created)] = sent
    assert key == f"payment-{payment.id}-create"
    assert created["amount"] == [str(FEE)]
    assert created["metadata[membership_id]"] == [str(requested.membership_id)]
    assert created["metadata[payment_id]"] == [str(payment.id)]
    assert "transfer_group" not in created and "metadata[order_id]" not in created
    page = await stripe_payments.client.get(page_of(requested),
                                            headers=stripe_payments.session(member))
    assert "géré par Stripe" in page.text and "Simuler un refus" not in page.text

    payload = intent_event("payment_intent.succeeded", payment.id, amount=FEE)
    received = await post_notice(stripe_payments, payload, stripe_signature(payload))
    assert received.json() == {"applied": True}
    again = await post_notice(stripe_payments, payload, stripe_signature(payload))
    assert again.json() == {"applied": False}

    assert await stripe_payments.events(MembershipFeePaid) == [MembershipFeePaid(
        payment_id=payment.id, membership_id=requested.membership_id, hub_id=requested.hub_id,
        resident_id=member.user_id, amount_cents=FEE)]
    [charged] = await stripe_payments.events(ProcessorFeeCharged)
    assert (charged.membership_id, charged.order_id) == (requested.membership_id, None)


@pytest.mark.stripe
@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
async def test_a_stripe_refusal_fails_the_fee(stripe_payments):
    member = resident()
    requested = fee_requested(member)
    await stripe_payments.feed(requested)
    payment = await membership_payment(stripe_payments, requested)

    payload = intent_event("payment_intent.payment_failed", payment.id,
                           last_payment_error={"message": "Your card was declined."})
    assert (await post_notice(stripe_payments, payload, stripe_signature(payload))).json() == {
        "applied": True}

    assert await stripe_payments.events(MembershipFeeFailed) == [MembershipFeeFailed(
        payment_id=payment.id, membership_id=requested.membership_id,
        reason="Your card was declined.")]


async def test_a_payment_is_for_an_order_or_a_membership_never_both_nor_neither(
        payments_on_each_database):
    payments = payments_on_each_database
    now = datetime.now(UTC)

    for purpose in ({}, {"order_id": uuid4(), "membership_id": uuid4()}):
        async with payments.runtime.database.sessions() as session:
            session.add(Payment(id=uuid4(), hub_id=uuid4(), resident_id=uuid4(),
                                amount_cents=FEE, currency="eur", pay_by=now, status="pending",
                                correlation_id="t", created_at=now, updated_at=now, **purpose))
            with pytest.raises(IntegrityError):
                await session.flush()
            await session.rollback()
