"""The payment's part of the order saga (docs/saga.md), with the simulated provider, on SQLite
and PostgreSQL: PaymentRequested opens a payment, the resident's verdict settles it, and a
cancelled order or part gets its money back, never more than was paid."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from libs.contracts.payment import (
    PaymentFailed,
    PaymentStarted,
    PaymentSucceeded,
    ProcessorFeeCharged,
    RefundIssued,
)
from services.payment.domain import ProviderRefused, simulated_fee_cents
from services.payment.providers import SimulatedProvider
from services.payment.tables import Payment
from tests.services.payment.support import basket, payment_settings, running_payment
from tests.support.waiting import eventually


async def test_a_payment_request_opens_one_payment_with_the_provider(payments_on_each_database):
    service = payments_on_each_database
    order = basket(1000, 234)
    request = await service.feed(order.payment_requested(), correlation_id="saga-42")

    [(envelope, started)] = await service.published(PaymentStarted)
    payment = await service.payment_of(order.order_id)
    assert started == PaymentStarted(payment_id=payment.id, order_id=order.order_id,
                                     amount_cents=1234, provider="simulated")
    assert envelope.key == str(payment.id)
    assert envelope.correlation_id == "saga-42"
    assert envelope.causation_id == str(request.event_id)
    assert payment.provider_reference == f"sim_{payment.id.hex}"

    await service.deliver(request)
    await service.feed(order.payment_requested())
    await service.sync()
    assert len(await service.published(PaymentStarted)) == 1
    assert (await service.payment_of(order.order_id)).id == payment.id


async def test_the_provider_is_asked_once_the_request_is_committed_and_outside_any_transaction(
    payments_on_each_database,
):
    service = payments_on_each_database
    provider = service.runtime.adapters["provider"] = HeldProvider()
    order = basket(1234)
    request = order.payment_requested().envelope(correlation_id="saga-1")
    await asyncio.wait_for(service.deliver(request), timeout=10)  # while the provider thinks
    await asyncio.wait_for(provider.asked.wait(), timeout=10)

    # Meanwhile the payment is committed, and nobody holds it (PostgreSQL: its row lock; SQLite:
    # the database's write lock).
    async with asyncio.timeout(10), service.runtime.unit_of_work() as uow:
        payment = (await uow.session.exec(
            select(Payment).where(Payment.order_id == order.order_id).with_for_update(nowait=True)
        )).one()
        assert (payment.status, payment.provider_reference) == ("pending", None)
    assert await service.events(PaymentStarted) == []

    provider.answer.set()
    await service.runtime.settle()
    assert len(await service.events(PaymentStarted)) == 1


async def test_paying_succeeds_and_keeps_the_platforms_commission(payments_on_each_database):
    service = payments_on_each_database
    order = basket(1000, 234)
    payment_id = await service.open(order)

    paid = await service.simulate(payment_id, "succeeded", order.buyer)
    assert paid.status_code == 200, paid.text
    assert paid.json() == {"id": str(payment_id), "order_id": str(order.order_id),
                           "membership_id": None, "status": "succeeded",
                           "amount_cents": 1234, "commission_cents": 99,
                           "refunded_cents": 0, "provider": "simulated"}
    [(envelope, succeeded)] = await service.published(PaymentSucceeded)
    # 8 % of each share, rounded half up: 80 + 18.72 → 19.
    assert succeeded == PaymentSucceeded(payment_id=payment_id, order_id=order.order_id,
                                         hub_id=order.hub_id, amount_cents=1234,
                                         commission_cents=99, shares=order.shares())
    assert sorted(s.commission_cents for s in succeeded.shares) == [19, 80]
    assert envelope.correlation_id == "saga-1"  # the saga's, not the request's
    assert (await service.get(payment_id, order.buyer)).json()["status"] == "succeeded"


async def test_a_payment_taken_as_it_opens_is_written_with_its_fee_and_never_charged_again(
    tmp_path, database_url,
):
    settings = payment_settings(tmp_path, database_url=database_url,
                                simulated_payments_succeed_at_once=True)
    async with running_payment(settings) as service:
        provider = service.runtime.adapters["provider"] = CountingFeesProvider()
        order = basket(1000, 234)
        request = await service.feed(order.payment_requested())
        await service.sync()
        await service.sync()

        payment = await service.payment_of(order.order_id)
        assert (payment.status, payment.commission_cents, payment.fee_recorded) == (
            "succeeded", 99, True)
        published = await service.published()
        assert [type(event) for _, event in published] == [
            PaymentStarted, PaymentSucceeded, ProcessorFeeCharged]
        assert published[1][1].shares == order.shares()
        assert published[2][1] == ProcessorFeeCharged(
            payment_id=payment.id, order_id=order.order_id, fee_cents=simulated_fee_cents(1234))
        assert published[2][0].causation_id == str(request.event_id)
        assert provider.fees_asked == 1


async def test_a_refused_payment_fails(payments):
    order = basket(1500)
    payment_id = await payments.open(order)

    refused = await payments.simulate(payment_id, "failed", order.buyer)
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "failed"
    assert refused.json()["commission_cents"] is None
    assert await payments.events(PaymentFailed) == [
        PaymentFailed(payment_id=payment_id, order_id=order.order_id,
                      reason="paiement refusé (simulation)")
    ]
    assert await payments.events(PaymentSucceeded) == []


async def test_only_a_pending_open_payment_can_be_simulated(payments):
    order = basket(800)
    payments.runtime.adapters["provider"] = UnavailableProvider()
    await payments.feed(order.payment_requested())
    unopened = await payments.payment_of(order.order_id)
    not_yet = await payments.simulate(unopened.id, "succeeded", order.buyer)
    assert not_yet.status_code == 409
    assert "not open yet" in not_yet.json()["error"]["message"]

    payments.runtime.adapters["provider"] = SimulatedProvider()
    await payments.sync()
    assert (await payments.simulate(unopened.id, "succeeded", order.buyer)).status_code == 200
    for outcome in ("succeeded", "failed"):
        again = await payments.simulate(unopened.id, outcome, order.buyer)
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "conflict"
    assert len(await payments.events(PaymentSucceeded)) == 1
    assert await payments.events(PaymentFailed) == []


async def test_a_cancellation_before_payment_cancels_it_without_refund(payments_on_each_database):
    service = payments_on_each_database
    order = basket(1234)
    payment_id = await service.open(order)

    await service.feed(order.cancelled())
    await service.sync()
    payment = (await service.get(payment_id, order.buyer)).json()
    assert payment["status"] == "cancelled"
    assert payment["refunded_cents"] == 0
    assert (await service.payment_of(order.order_id)).provider_cancelled_at is not None
    assert (await service.simulate(payment_id, "succeeded", order.buyer)).status_code == 409
    assert await service.events(RefundIssued) == []
    assert await service.events(PaymentFailed) == []


async def test_a_payment_cancelled_before_the_provider_opened_it_is_never_opened(payments):
    order = basket(1234)
    payments.runtime.adapters["provider"] = UnavailableProvider()
    await payments.feed(order.payment_requested())
    await payments.feed(order.cancelled())
    payments.runtime.adapters["provider"] = SimulatedProvider()
    await payments.sync()

    payment = await payments.payment_of(order.order_id)
    assert payment.status == "cancelled"
    assert payment.provider_reference is None
    assert await payments.events(PaymentStarted) == []


async def test_a_cancellation_after_success_refunds_in_full_once(payments_on_each_database):
    service = payments_on_each_database
    order = basket(1000, 234)
    payment_id = await service.open(order)
    await service.simulate(payment_id, "succeeded", order.buyer)

    cancellation = await service.feed(order.cancelled(), correlation_id="saga-1")
    await service.sync()
    [(envelope, refund)] = await service.published(RefundIssued)
    assert (refund.payment_id, refund.order_id, refund.shop_id, refund.amount_cents) == (
        payment_id, order.order_id, None, 1234)
    assert envelope.causation_id == str(cancellation.event_id)
    assert (await service.get(payment_id, order.buyer)).json()["refunded_cents"] == 1234

    await service.deliver(cancellation)
    await service.feed(order.cancelled())
    await service.sync()
    assert len(await service.events(RefundIssued)) == 1


async def test_a_cancelled_part_is_refunded_and_refunds_never_exceed_the_payment(
    payments_on_each_database,
):
    service = payments_on_each_database
    order = basket(1000, 234)
    first, second = order.shops
    payment_id = await service.open(order)
    await service.simulate(payment_id, "succeeded", order.buyer)

    await service.feed(order.part_cancelled(first, 1000))
    await service.sync()
    assert [(r.shop_id, r.amount_cents) for r in await service.events(RefundIssued)] == [
        (first, 1000)]

    await service.feed(order.part_cancelled(second, 900))  # more than is left
    await service.feed(order.cancelled())                  # the last part went: the order too
    await service.sync()
    refunds = await service.events(RefundIssued)
    assert [(r.shop_id, r.amount_cents) for r in refunds] == [(first, 1000), (second, 234)]
    assert (await service.get(payment_id, order.buyer)).json()["refunded_cents"] == 1234


async def test_a_part_cancelled_and_then_the_order_refunds_what_is_left(payments):
    order = basket(1000, 234)
    first, _ = order.shops
    payment_id = await payments.open(order)
    await payments.simulate(payment_id, "succeeded", order.buyer)

    await payments.feed(order.part_cancelled(first, 1000))
    await payments.feed(order.cancelled())
    await payments.sync()
    assert [(r.shop_id, r.amount_cents) for r in await payments.events(RefundIssued)] == [
        (first, 1000), (None, 234)]


async def test_a_part_cancelled_before_payment_is_refunded_as_soon_as_the_money_is_in(payments):
    order = basket(1000, 234)
    first, _ = order.shops
    payment_id = await payments.open(order)
    await payments.feed(order.part_cancelled(first, 1000))
    await payments.sync()
    assert await payments.events(RefundIssued) == []

    await payments.simulate(payment_id, "succeeded", order.buyer)
    # At once, in the request: no provider step needed.
    assert [(r.shop_id, r.amount_cents) for r in await payments.events(RefundIssued)] == [
        (first, 1000)]


async def test_refunds_asked_at_the_same_time_never_exceed_the_payment(payments_on_each_database):
    service = payments_on_each_database
    order = basket(1000, 234)
    first, second = order.shops
    payment_id = await service.open(order)
    await service.simulate(payment_id, "succeeded", order.buyer)

    await asyncio.gather(
        service.feed(order.part_cancelled(first, 1000)),
        service.feed(order.part_cancelled(second, 1000)),
        service.feed(order.cancelled()),
        service.sync(),
        service.sync(),
    )
    await service.sync()
    refunds = await service.events(RefundIssued)
    assert sum(r.amount_cents for r in refunds) == 1234
    assert len({r.refund_id for r in refunds}) == len(refunds)
    assert (await service.get(payment_id, order.buyer)).json()["refunded_cents"] == 1234


async def test_the_provider_step_runs_as_soon_as_a_request_is_recorded(tmp_path):
    settings = payment_settings(tmp_path, provider_sync_every_s=3600)
    async with running_payment(settings, retry_clock=True) as service:
        for opened in (1, 2):  # the second long after the clock's first tick, at start
            await service.feed(basket(1234).payment_requested())

            async def started(count=opened) -> bool:
                return len(await service.events(PaymentStarted)) == count

            await eventually(started, timeout=5, message=f"PaymentStarted number {opened}")


async def test_the_provider_step_retries_on_its_clock(tmp_path):
    settings = payment_settings(tmp_path, provider_sync_every_s=0.1)
    async with running_payment(settings, retry_clock=True) as service:
        attempts = []
        service.runtime.adapters["provider"] = UnavailableProvider(attempts)
        await service.feed(basket(1234).payment_requested())
        await eventually(lambda: len(attempts) >= 2, message="a second attempt")
        assert await service.events(PaymentStarted) == []

        service.runtime.adapters["provider"] = SimulatedProvider()

        async def started() -> bool:
            return len(await service.events(PaymentStarted)) == 1

        await eventually(started, message="PaymentStarted once the provider answers")


class RefusingProvider:
    name = "simulated"

    async def create_payment(self, payment):
        raise ProviderRefused("amount below the minimum")


class UnavailableProvider:
    name = "simulated"

    def __init__(self, attempts: list | None = None) -> None:
        self.attempts = [] if attempts is None else attempts

    async def create_payment(self, payment):
        self.attempts.append(payment.payment_id)
        raise ConnectionError("the provider does not answer")


class CountingFeesProvider(SimulatedProvider):
    """Counts the times it is asked for a payment's fee."""

    def __init__(self) -> None:
        self.fees_asked = 0

    async def processor_fee(self, payment, reference):
        self.fees_asked += 1
        return await super().processor_fee(payment, reference)


class HeldProvider(SimulatedProvider):
    """Opens a payment only once the test lets it answer."""

    def __init__(self) -> None:
        self.asked, self.answer = asyncio.Event(), asyncio.Event()

    async def create_payment(self, payment):
        self.asked.set()
        await self.answer.wait()
        return await super().create_payment(payment)


async def test_a_payment_the_provider_refuses_to_open_fails(payments):
    payments.runtime.adapters["provider"] = RefusingProvider()
    order = basket(10)
    await payments.feed(order.payment_requested())
    await payments.sync()

    [failed] = await payments.events(PaymentFailed)
    assert failed.order_id == order.order_id
    assert "amount below the minimum" in failed.reason
    assert await payments.events(PaymentStarted) == []


async def test_a_provider_that_does_not_answer_is_asked_again_later(payments):
    payments.runtime.adapters["provider"] = UnavailableProvider()
    order = basket(1234)
    await payments.feed(order.payment_requested())
    await payments.sync()
    assert (await payments.payment_of(order.order_id)).status == "pending"
    assert await payments.events(PaymentStarted) == []

    payments.runtime.adapters["provider"] = SimulatedProvider()
    await payments.sync()
    assert len(await payments.events(PaymentStarted)) == 1
