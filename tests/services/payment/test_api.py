"""Who may read and settle a payment through the JSON API, and the errors everyone else gets."""

from __future__ import annotations

from uuid import uuid4

from libs.contracts.payment import PaymentSucceeded
from tests.services.payment.support import basket, platform_admin, resident


async def test_the_paying_resident_and_platform_admins_read_a_payment(payments):
    order = basket(1234)
    payment_id = await payments.open(order)

    mine = await payments.get(payment_id, order.buyer)
    assert mine.status_code == 200, mine.text
    assert mine.json() == {"id": str(payment_id), "order_id": str(order.order_id),
                           "membership_id": None, "status": "pending",
                           "amount_cents": 1234, "commission_cents": None,
                           "refunded_cents": 0, "provider": "simulated"}
    assert (await payments.get(payment_id, platform_admin())).json() == mine.json()


async def test_nobody_else_learns_that_a_payment_exists(payments):
    order = basket(1234)
    payment_id = await payments.open(order)

    anonymous = await payments.client.get(f"/payments/api/v1/payments/{payment_id}")
    assert anonymous.status_code == 401
    stranger = await payments.get(payment_id, resident("Camille"))
    unknown = await payments.get(uuid4(), order.buyer)
    assert stranger.status_code == unknown.status_code == 404
    assert stranger.json()["error"]["message"] == f"no payment {payment_id}"


async def test_only_the_paying_resident_or_an_admin_settles_a_payment(payments):
    order = basket(1234)
    payment_id = await payments.open(order)

    assert (await payments.simulate(payment_id, "succeeded", resident("Camille"))).status_code == 404
    anonymous = await payments.client.post(f"/payments/api/v1/payments/{payment_id}/simulate",
                                           json={"outcome": "succeeded"})
    assert anonymous.status_code == 401
    assert await payments.events(PaymentSucceeded) == []

    assert (await payments.simulate(payment_id, "succeeded", platform_admin())).status_code == 200
    assert len(await payments.events(PaymentSucceeded)) == 1


async def test_an_unknown_outcome_is_refused(payments):
    order = basket(1234)
    payment_id = await payments.open(order)

    for body in ({"outcome": "maybe"}, {}, {"outcome": "succeeded", "amount_cents": 1}):
        invalid = await payments.client.post(
            f"/payments/api/v1/payments/{payment_id}/simulate", json=body,
            headers=payments.headers(order.buyer))
        assert invalid.status_code == 422, body
        assert invalid.json()["error"]["code"] == "validation_error"
    assert (await payments.get(payment_id, order.buyer)).json()["status"] == "pending"


async def test_the_stripe_webhook_is_absent_with_the_simulated_provider(payments):
    answer = await payments.client.post("/payments/api/v1/stripe/webhook", content=b"{}",
                                        headers={"Stripe-Signature": "t=1,v1=00"})
    assert answer.status_code == 404
    assert "does not use Stripe" in answer.json()["error"]["message"]
