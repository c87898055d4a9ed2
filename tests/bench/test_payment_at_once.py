"""The benchmark's resident who pays at once: with simulated_payments_succeed_at_once, the
simulated provider takes an order's payment as soon as it opens it."""

from __future__ import annotations

from libs.contracts.payment import PaymentStarted, PaymentSucceeded, ProcessorFeeCharged
from services.payment.domain import simulated_fee_cents
from tests.services.payment.support import basket, payment_settings, running_payment


async def test_an_order_s_payment_succeeds_as_soon_as_it_is_opened(tmp_path):
    settings = payment_settings(tmp_path, simulated_payments_succeed_at_once=True)
    async with running_payment(settings) as service:
        order = basket(1000, 234)
        await service.feed(order.payment_requested(), correlation_id="bench-1")
        await service.runtime.settle()

        payment = await service.payment_of(order.order_id)
        assert payment.status == "succeeded"
        [(started_envelope, _)] = await service.published(PaymentStarted)
        [(succeeded_envelope, succeeded)] = await service.published(PaymentSucceeded)
        assert succeeded.amount_cents == 1234
        assert succeeded_envelope.correlation_id == started_envelope.correlation_id == "bench-1"
        [(_, fee)] = await service.published(ProcessorFeeCharged)
        assert fee.fee_cents == simulated_fee_cents(1234)


async def test_by_default_the_payment_waits_for_the_resident(tmp_path):
    async with running_payment(payment_settings(tmp_path)) as service:
        order = basket(500)
        await service.feed(order.payment_requested())
        await service.runtime.settle()

        assert (await service.payment_of(order.order_id)).status == "pending"
        assert len(await service.published(PaymentStarted)) == 1
        assert await service.published(PaymentSucceeded) == []
