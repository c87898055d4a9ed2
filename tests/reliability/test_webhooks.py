"""Stripe's webhooks under attack and under bad delivery, on PostgreSQL against stripe-mock: a
forged, tampered, missing or stale signature and a signed body that is no Stripe event are
refused with a 400 and change nothing; a notice delivered again (one after the other, or twice
at once) takes effect once; notices delivered out of order leave the state Stripe holds. The
same for the Connect endpoint's notices about the shops' payout accounts."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select

from libs.contracts.order import OrderCancelled
from libs.contracts.payment import (
    PaymentFailed,
    PaymentSucceeded,
    PayoutAccountUpdated,
    ProcessorFeeCharged,
    RefundIssued,
)
from services.payment.tables import Payment, PayoutAccount, ProviderNoticeSeen, Refund
from tests.reliability.concurrency import Gate, gate_handlers, gate_units_of_work
from tests.services.payment.support import (
    WEBHOOK_SECRET,
    account_event,
    basket,
    intent_event,
    running_payment,
    shop_owner,
    stripe_settings,
    stripe_signature,
)
from tests.services.payment.test_stripe_payouts import StripeAsItIsNow

pytestmark = [
    pytest.mark.stripe,
    pytest.mark.postgres,
    # stripe's own HTTPX client hands its form body to httpx as ``data=``.
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

CONNECT_SECRET = "whsec_connect_adopte"
WEBHOOK = "/payments/api/v1/stripe/webhook"
TOLERANCE_S = 300


@pytest.fixture
async def stripe_payments(tmp_path, stripe_api_base, fresh_postgres_url):
    settings = stripe_settings(tmp_path, stripe_api_base, database_url=fresh_postgres_url,
                               stripe_connect_webhook_secret=CONNECT_SECRET)
    async with running_payment(settings) as service:
        # Stripe's requests carry no cookie and no form token: a client of their own, so that
        # the webhook is tested as Stripe reaches it.
        async with httpx.AsyncClient(transport=service.client._transport,
                                     base_url=service.client.base_url) as stripe_side:
            service.stripe_side = stripe_side
            yield service


async def deliver(service, payload: str | bytes, signature: str | None = "sign"):
    """One delivery, as Stripe makes it, signed now with our endpoint's secret unless told
    otherwise."""
    if signature == "sign":
        signature = stripe_signature(payload if isinstance(payload, str) else payload.decode())
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Stripe/1.0"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return await service.stripe_side.post(WEBHOOK, content=payload, headers=headers)


@dataclass(frozen=True)
class Footprint:
    """Everything a notice can change: what the service published, the notices it took, its
    payments and refunds."""

    published: int
    notices: frozenset[str]
    payments: frozenset[tuple]
    refunds: int


async def footprint(service) -> Footprint:
    outbox = service.runtime.definition.metadata.tables["outbox"]
    async with service.runtime.database.sessions() as session:
        published = (await session.execute(select(func.count()).select_from(outbox))).scalar_one()
        notices = (await session.exec(select(ProviderNoticeSeen.event_id))).all()
        payments = (await session.exec(select(
            Payment.id, Payment.status, Payment.refunded_cents, Payment.failure_reason,
            Payment.commission_cents))).all()
        refunds = (await session.execute(select(func.count()).select_from(Refund))).scalar_one()
    return Footprint(published, frozenset(notices), frozenset(map(tuple, payments)), refunds)


def with_event_id(payload: str, event_id: str) -> str:
    event = json.loads(payload)
    event["id"] = event_id
    return json.dumps(event)


async def test_forged_tampered_missing_and_stale_signatures_are_refused_and_change_nothing(
    stripe_payments,
):
    service = stripe_payments
    order = basket(1000, 234)
    payment_id = await service.open(order)
    payload = intent_event("payment_intent.succeeded", payment_id)
    before = await footprint(service)

    now = int(time.time())
    attempts = {
        "another endpoint's secret": stripe_signature(payload, secret="whsec_someone_else"),
        "signed for another body": stripe_signature(payload.replace("1234", "1")),
        "stale by one second": stripe_signature(payload, at=now - TOLERANCE_S - 1),
        "stale by a day": stripe_signature(payload, at=now - 86_400),
        "no v1 signature": f"t={now}",
        "not the scheme": "oops",
        "missing": None,
    }
    for attempt, signature in attempts.items():
        refused = await deliver(service, payload, signature)
        assert refused.status_code == 400, attempt
        error = refused.json()["error"]
        assert error["code"] == "invalid_signature", attempt
        assert "Stripe-Signature" in error["message"], attempt
    assert await footprint(service) == before
    assert (await service.get(payment_id, order.buyer)).json()["status"] == "pending"

    # None of them used the event up: Stripe's own delivery of it still counts, even signed
    # well within the tolerance.
    genuine = await deliver(service, payload, stripe_signature(payload, at=now - 240))
    assert (genuine.status_code, genuine.json()) == (200, {"applied": True})
    assert len(await service.events(PaymentSucceeded)) == 1


NOT_EVENTS = {
    "a list": b"[]",
    "null": b"null",
    "a string": b'"evt_1"',
    "an empty object": b"{}",
    "not JSON": b"not json at all",
    "not UTF-8": b"\xff\xfe{}",
    "a numeric id": b'{"id": 3, "type": "payment_intent.succeeded", "data": {"object": {}}}',
    "a list for a type":
        b'{"id": "evt_1", "type": ["payment_intent.succeeded"], "data": {"object": {}}}',
    "a list for data": b'{"id": "evt_1", "type": "payment_intent.succeeded", "data": []}',
    "a string for metadata":
        b'{"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {"metadata": "x"}}}',
    "a string for the error": b'{"id": "evt_1", "type": "payment_intent.payment_failed", '
                              b'"data": {"object": {"id": "pi_1", "last_payment_error": "no"}}}',
    "an id longer than any Stripe's":
        b'{"id": "' + b"e" * 300 + b'", "type": "payment_intent.succeeded", "data": {"object": {}}}',
}


async def test_a_signed_body_that_is_no_stripe_event_is_refused_and_changes_nothing(
    stripe_payments,
):
    service = stripe_payments
    await service.open(basket(1234))
    before = await footprint(service)

    for shape, body in NOT_EVENTS.items():
        refused = await deliver(service, body, signed_bytes(body))
        assert refused.status_code == 400, (shape, refused.text)
        assert "not a Stripe event" in refused.json()["error"]["message"], shape
    assert await footprint(service) == before


def signed_bytes(body: bytes) -> str:
    """Stripe's signature over a body that may not even be text."""
    timestamp = int(time.time())
    digest = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


async def test_a_failure_with_a_reason_longer_than_a_payment_keeps_still_fails_it(
    stripe_payments,
):
    service = stripe_payments
    order = basket(1234)
    payment_id = await service.open(order)
    long_reason = "Your card was declined. " * 40
    refused = intent_event("payment_intent.payment_failed", payment_id,
                           last_payment_error={"message": long_reason})

    answered = await deliver(service, refused)

    assert (answered.status_code, answered.json()) == (200, {"applied": True})
    [failed] = await service.events(PaymentFailed)
    assert long_reason.startswith(failed.reason) and len(failed.reason) == 500


async def test_a_notice_delivered_again_takes_effect_once(stripe_payments):
    service = stripe_payments
    paid_order, refused_order = basket(1234), basket(567)
    paid = intent_event("payment_intent.succeeded", await service.open(paid_order))
    refused = intent_event("payment_intent.payment_failed", await service.open(refused_order),
                           last_payment_error={"message": "Your card was declined."})

    for payload in (paid, refused):
        first = await deliver(service, payload)
        assert (first.status_code, first.json()) == (200, {"applied": True})
        after_first = await footprint(service)
        for _ in range(2):  # Stripe signs each retry anew
            again = await deliver(service, payload)
            assert (again.status_code, again.json()) == (200, {"applied": False})
        assert await footprint(service) == after_first

    assert [e.order_id for e in await service.events(PaymentSucceeded)] == [paid_order.order_id]
    assert [e.order_id for e in await service.events(ProcessorFeeCharged)] == [paid_order.order_id]
    assert [(e.order_id, e.reason) for e in await service.events(PaymentFailed)] == [
        (refused_order.order_id, "Your card was declined.")]


async def test_the_same_notice_delivered_several_times_at_once_takes_effect_once(
    stripe_payments,
):
    service = stripe_payments
    order = basket(1000, 234)
    payload = intent_event("payment_intent.succeeded", await service.open(order))
    deliveries = 5
    # Each delivery waits, its transaction begun, until all are in flight: each has found the
    # event not taken yet, and they race for it.
    gate_units_of_work(service.runtime, Gate(deliveries))

    answers = await asyncio.gather(*(deliver(service, payload) for _ in range(deliveries)))

    assert [a.status_code for a in answers] == [200] * deliveries
    assert sorted(a.json()["applied"] for a in answers) == [False] * (deliveries - 1) + [True]
    await service.runtime.settle()
    assert len(await service.events(PaymentSucceeded)) == 1
    assert len(await service.events(ProcessorFeeCharged)) == 1
    assert len((await footprint(service)).notices) == 1


async def test_the_same_payment_reported_by_different_notices_at_once_succeeds_once(
    stripe_payments,
):
    """Stripe may send a success under two event ids (an API version upgrade, a resend from its
    dashboard): the payment's row lock, not the event id, makes it one success."""
    service = stripe_payments
    order = basket(1000, 234)
    payload = intent_event("payment_intent.succeeded", await service.open(order))
    copies = [with_event_id(payload, f"evt_copy_{n}") for n in range(4)]
    gate_units_of_work(service.runtime, Gate(len(copies)))

    answers = await asyncio.gather(*(deliver(service, copy) for copy in copies))

    assert sorted(a.json()["applied"] for a in answers) == [False] * 3 + [True]
    await service.runtime.settle()
    assert len(await service.events(PaymentSucceeded)) == 1
    assert len((await footprint(service)).notices) == len(copies)


async def test_a_failure_delivered_after_the_success_it_preceded_changes_nothing(stripe_payments):
    service = stripe_payments
    order = basket(1234)
    payment_id = await service.open(order)
    failed = intent_event("payment_intent.payment_failed", payment_id,
                          last_payment_error={"message": "Your card was declined."})
    paid = intent_event("payment_intent.succeeded", payment_id)

    assert (await deliver(service, paid)).json() == {"applied": True}
    settled = await footprint(service)
    late = await deliver(service, failed)

    assert (late.status_code, late.json()) == (200, {"applied": False})
    assert (await footprint(service)).published == settled.published
    assert await service.events(PaymentFailed) == []
    assert (await service.get(payment_id, order.buyer)).json()["status"] == "succeeded"


FAILED, CANCELLED, SUCCEEDED = "failure notice", "order cancelled", "success notice"


async def test_a_success_is_refunded_once_whatever_order_failure_cancellation_and_it_come_in(
    stripe_payments,
):
    """The resident's first card was refused, the order was called off, and a second attempt
    went through anyway: whatever order the three reach the service in, the money taken is
    recorded once and given back once, in full."""
    service = stripe_payments
    runs = []
    for arrival in itertools.permutations((FAILED, CANCELLED, SUCCEEDED)):
        order = basket(1000, 234)
        payment_id = await service.open(order)
        for step in arrival:
            if step == CANCELLED:
                await service.feed(order.cancelled())
                continue
            kind = ("payment_intent.succeeded" if step == SUCCEEDED
                    else "payment_intent.payment_failed")
            answered = await deliver(service, intent_event(kind, payment_id))
            assert answered.status_code == 200, answered.text
        # Redeliveries of everything change nothing more.
        await service.feed(order.cancelled())
        await deliver(service, intent_event("payment_intent.succeeded", payment_id))
        await service.sync()
        runs.append((arrival, order, payment_id))

    succeeded = await service.events(PaymentSucceeded)
    refunds = await service.events(RefundIssued)
    for arrival, order, payment_id in runs:
        assert [e.amount_cents for e in succeeded if e.payment_id == payment_id] == [1234], arrival
        assert [(r.shop_id, r.amount_cents) for r in refunds
                if r.payment_id == payment_id] == [(None, 1234)], arrival
        payment = (await service.get(payment_id, order.buyer)).json()
        assert (payment["status"], payment["refunded_cents"]) == ("succeeded", 1234), arrival


async def test_a_success_arriving_while_its_order_is_cancelled_is_refunded_once(stripe_payments):
    """The notice and the order's cancellation race for the payment, in flight at once: whichever
    takes the payment's lock first, the money taken is recorded once and given back once."""
    service = stripe_payments
    orders = [basket(1000, 234) for _ in range(5)]
    payment_ids = [await service.open(order) for order in orders]
    gate = Gate(2 * len(orders))
    gate_units_of_work(service.runtime, gate)
    gate_handlers(service.runtime, OrderCancelled, gate)

    await asyncio.gather(
        *(deliver(service, intent_event("payment_intent.succeeded", payment_id))
          for payment_id in payment_ids),
        *(service.feed(order.cancelled()) for order in orders))
    await service.sync()

    succeeded = await service.events(PaymentSucceeded)
    refunds = await service.events(RefundIssued)
    for order, payment_id in zip(orders, payment_ids, strict=True):
        assert [e.payment_id for e in succeeded].count(payment_id) == 1
        assert [(r.shop_id, r.amount_cents) for r in refunds if r.payment_id == payment_id] == [
            (None, 1234)]
        payment = (await service.get(payment_id, order.buyer)).json()
        assert (payment["status"], payment["refunded_cents"]) == ("succeeded", 1234)


@pytest.fixture
async def connect_payments(stripe_payments, stripe_api_base):
    """The service, with Stripe's word on an account taken as the test says it stands now."""
    stripe = StripeAsItIsNow(api_key="sk_test_123", api_base=stripe_api_base,
                             webhook_secret=WEBHOOK_SECRET, connect_webhook_secret=CONNECT_SECRET)
    await stripe.start()
    stripe_payments.runtime.adapters["provider"] = stripe
    try:
        yield stripe_payments, stripe
    finally:
        await stripe.stop()


async def shop_account(service, order) -> str:
    [shop] = order.shops
    owner = shop_owner()
    await service.feed(order.shop_opened(shop, owner))
    opened = await service.open_payout_account(shop, owner)
    assert opened.status_code == 200, opened.text
    return opened.json()["account_reference"]


async def test_connect_notices_are_verified_taken_once_and_read_as_stripe_holds_the_account(
    connect_payments,
):
    service, stripe = connect_payments
    order = basket(1000)
    account = await shop_account(service, order)
    enabled = account_event(account, payouts_enabled=True)
    disabled = account_event(account, payouts_enabled=False)
    before = await footprint(service)

    for secret in ("whsec_forged", WEBHOOK_SECRET + "x", CONNECT_SECRET[:-1]):
        forged = await deliver(service, enabled, stripe_signature(enabled, secret=secret))
        assert forged.status_code == 400, secret
    stale = await deliver(service, enabled, stripe_signature(
        enabled, secret=CONNECT_SECRET, at=int(time.time()) - TOLERANCE_S - 1))
    assert stale.status_code == 400
    assert await footprint(service) == before

    # Sent in this order by Stripe (disabled, then enabled), delivered the other way round and
    # again: the account ends as Stripe holds it now, announced once.
    stripe.enabled_accounts.add(account)
    for payload in (enabled, disabled, enabled, disabled):
        answered = await deliver(service, payload, stripe_signature(payload, secret=CONNECT_SECRET))
        assert answered.status_code == 200, answered.text
    updates = await service.events(PayoutAccountUpdated)
    assert [u.payouts_enabled for u in updates] == [False, True]
    async with service.runtime.database.sessions() as session:
        stored = await session.get(PayoutAccount, order.shops[0])
    assert (stored.reference, stored.payouts_enabled) == (account, True)
