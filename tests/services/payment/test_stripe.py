"""The Stripe provider against stripe-mock (Stripe's own API mock), and Stripe's webhook: one
PaymentIntent per basket, cancelled or refunded with idempotency keys, outcomes taken only from
correctly signed, recent notices."""

from __future__ import annotations

import time
from urllib.parse import parse_qs
from uuid import uuid4

import pytest
from pydantic import ValidationError

from libs.contracts.payment import PaymentFailed, PaymentStarted, PaymentSucceeded, RefundIssued
from libs.kit.pages import money
from services.payment.bootstrap import PaymentSettings
from services.payment.domain import ProviderPayment, ProviderRefund
from services.payment.providers import StripeProvider
from tests.services.payment.support import (
    STRIPE_TEST_KEY,
    WEBHOOK_SECRET,
    basket,
    intent_event,
    running_payment,
    stripe_settings,
    stripe_signature,
)

pytestmark = [
    pytest.mark.stripe,
    # stripe's own HTTPX client hands its form body to httpx as ``data=``.
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]


@pytest.fixture
async def stripe_provider(stripe_api_base):
    provider = StripeProvider(api_key=STRIPE_TEST_KEY, api_base=stripe_api_base,
                              webhook_secret=WEBHOOK_SECRET)
    await provider.start()
    yield provider
    await provider.stop()


@pytest.fixture
async def stripe_payments(tmp_path, stripe_api_base):
    async with running_payment(stripe_settings(tmp_path, stripe_api_base)) as running:
        yield running


async def test_the_stripe_provider_opens_cancels_and_refunds_a_payment_intent(stripe_provider):
    payment = ProviderPayment(payment_id=uuid4(), order_id=uuid4(), amount_cents=1234,
                              currency="eur")
    intent = await stripe_provider.create_payment(payment)
    assert intent.startswith("pi_")
    assert (await stripe_provider.create_payment(payment)).startswith("pi_")  # same key, no error

    await stripe_provider.cancel_payment(intent, payment.payment_id)
    await stripe_provider.cancel_payment(intent, payment.payment_id)

    refund = ProviderRefund(refund_id=uuid4(), payment_id=payment.payment_id,
                            order_id=payment.order_id, shop_id=uuid4(), payment_reference=intent,
                            amount_cents=234)
    assert (await stripe_provider.refund(refund)).startswith("re_")
    assert (await stripe_provider.refund(refund)).startswith("re_")


async def test_every_stripe_call_carries_an_idempotency_key_from_our_ids(stripe_provider):
    sent = []

    async def record(request):
        sent.append((request.url.path, request.headers.get("idempotency-key"),
                     parse_qs(request.content.decode())))

    # Listening on the wire, below stripe's client, is the only way to see what it sent.
    stripe_provider._http._client_async.event_hooks["request"] = [record]
    payment = ProviderPayment(payment_id=uuid4(), order_id=uuid4(), amount_cents=1234,
                              currency="eur")
    intent = await stripe_provider.create_payment(payment)
    await stripe_provider.cancel_payment(intent, payment.payment_id)
    refund = ProviderRefund(refund_id=uuid4(), payment_id=payment.payment_id,
                            order_id=payment.order_id, shop_id=None, payment_reference=intent,
                            amount_cents=1234)
    await stripe_provider.refund(refund)

    (create_path, create_key, create), (cancel_path, cancel_key, _), (_, refund_key, refunded) = sent
    assert create_path == "/v1/payment_intents"
    assert create_key == f"payment-{payment.payment_id}-create"
    assert create["amount"] == ["1234"] and create["currency"] == ["eur"]
    assert create["transfer_group"] == [str(payment.order_id)]
    assert create["metadata[payment_id]"] == [str(payment.payment_id)]
    assert create["metadata[order_id]"] == [str(payment.order_id)]
    assert cancel_path == f"/v1/payment_intents/{intent}/cancel"
    assert cancel_key == f"payment-{payment.payment_id}-cancel"
    assert refund_key == f"refund-{refund.refund_id}"
    assert refunded["payment_intent"] == [intent] and refunded["amount"] == ["1234"]


async def test_a_payment_request_opens_a_stripe_payment_intent(stripe_payments):
    order = basket(1000, 234)
    payment_id = await stripe_payments.open(order)

    [started] = await stripe_payments.events(PaymentStarted)
    assert (started.payment_id, started.amount_cents, started.provider) == (
        payment_id, 1234, "stripe")
    assert (await stripe_payments.payment_of(order.order_id)).provider_reference.startswith("pi_")
    assert (await stripe_payments.get(payment_id, order.buyer)).json()["provider"] == "stripe"


async def test_payments_are_not_simulated_with_stripe(stripe_payments):
    order = basket(1234)
    payment_id = await stripe_payments.open(order)

    simulated = await stripe_payments.simulate(payment_id, "succeeded", order.buyer)
    assert simulated.status_code == 404
    assert "simulated provider" in simulated.json()["error"]["message"]
    page = await stripe_payments.client.get(f"/payments/pay/{payment_id}",
                                            headers=stripe_payments.session(order.buyer))
    assert page.status_code == 200
    assert money(1234) in page.text
    assert "géré par Stripe" in page.text
    assert "Simuler un refus" not in page.text
    assert (await stripe_payments.get(payment_id, order.buyer)).json()["status"] == "pending"


async def post_notice(service, payload: str, signature: str | None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return await service.client.post("/payments/api/v1/stripe/webhook", content=payload,
                                     headers=headers)


async def test_a_signed_success_notice_settles_the_payment_once(stripe_payments):
    order = basket(1234)
    payment_id = await stripe_payments.open(order)
    payload = intent_event("payment_intent.succeeded", payment_id)

    received = await post_notice(stripe_payments, payload, stripe_signature(payload))
    assert received.status_code == 200, received.text
    assert received.json() == {"applied": True}
    assert await stripe_payments.events(PaymentSucceeded) == [
        PaymentSucceeded(payment_id=payment_id, order_id=order.order_id, hub_id=order.hub_id,
                         amount_cents=1234, commission_cents=99, shares=order.shares())
    ]
    again = await post_notice(stripe_payments, payload, stripe_signature(payload))
    assert again.status_code == 200
    assert len(await stripe_payments.events(PaymentSucceeded)) == 1


async def test_a_signed_failure_notice_fails_the_payment(stripe_payments):
    order = basket(1234)
    payment_id = await stripe_payments.open(order)
    payload = intent_event("payment_intent.payment_failed", payment_id,
                           last_payment_error={"message": "Your card was declined."})

    assert (await post_notice(stripe_payments, payload, stripe_signature(payload))).status_code == 200
    assert await stripe_payments.events(PaymentFailed) == [
        PaymentFailed(payment_id=payment_id, order_id=order.order_id,
                      reason="Your card was declined.")
    ]


async def test_forged_missing_and_stale_signatures_are_refused(stripe_payments):
    order = basket(1234)
    payment_id = await stripe_payments.open(order)
    payload = intent_event("payment_intent.succeeded", payment_id)

    forged = stripe_signature(payload, secret="whsec_someone_else")
    tampered = stripe_signature(payload.replace("1234", "1"))
    stale = stripe_signature(payload, at=int(time.time()) - 301)
    for signature in (forged, tampered, stale, "t=oops", None):
        refused = await post_notice(stripe_payments, payload, signature)
        assert refused.status_code == 400, signature
        assert refused.json()["error"]["code"] == "invalid_signature"
    assert await stripe_payments.events(PaymentSucceeded) == []
    assert (await stripe_payments.get(payment_id, order.buyer)).json()["status"] == "pending"


async def test_notices_about_anything_else_are_acknowledged_and_ignored(stripe_payments):
    order = basket(1234)
    payment_id = await stripe_payments.open(order)

    for payload in (intent_event("payment_intent.created", payment_id),
                    intent_event("charge.refunded", payment_id),
                    intent_event("payment_intent.succeeded", uuid4()),
                    intent_event("payment_intent.succeeded", "not-ours", metadata={})):
        answer = await post_notice(stripe_payments, payload, stripe_signature(payload))
        assert answer.status_code == 200, payload
        assert answer.json() == {"applied": False}
    assert await stripe_payments.events(PaymentSucceeded) == []


async def test_a_success_after_the_order_was_cancelled_is_refunded_at_once(stripe_payments):
    order = basket(1000, 234)
    payment_id = await stripe_payments.open(order)
    await stripe_payments.feed(order.cancelled())
    await stripe_payments.sync()  # the intent is cancelled at Stripe
    assert (await stripe_payments.payment_of(order.order_id)).provider_cancelled_at is not None

    # The resident's card went through just before the cancellation reached Stripe.
    payload = intent_event("payment_intent.succeeded", payment_id)
    assert (await post_notice(stripe_payments, payload, stripe_signature(payload))).status_code == 200

    assert len(await stripe_payments.events(PaymentSucceeded)) == 1
    [refund] = await stripe_payments.events(RefundIssued)
    assert (refund.payment_id, refund.shop_id, refund.amount_cents) == (payment_id, None, 1234)
    payment = (await stripe_payments.get(payment_id, order.buyer)).json()
    assert (payment["status"], payment["refunded_cents"]) == ("succeeded", 1234)


async def test_a_cancelled_part_is_refunded_through_stripe(stripe_payments):
    order = basket(1000, 234)
    first, _ = order.shops
    payment_id = await stripe_payments.open(order)
    payload = intent_event("payment_intent.succeeded", payment_id)
    await post_notice(stripe_payments, payload, stripe_signature(payload))

    await stripe_payments.feed(order.part_cancelled(first, 1000))
    await stripe_payments.sync()
    [refund] = await stripe_payments.events(RefundIssued)
    assert (refund.shop_id, refund.amount_cents) == (first, 1000)
    stored = await stripe_payments.payment_of(order.order_id)
    assert stored.refunded_cents == 1000


async def test_the_stripe_provider_needs_its_keys(tmp_path):
    with pytest.raises(ValidationError, match="stripe_api_key and stripe_webhook_secret"):
        PaymentSettings(data_dir=tmp_path, provider="stripe", stripe_api_key=STRIPE_TEST_KEY)
