"""What the payment service does: load, change, write the outbox, commit.

Event handlers and requests only record what was decided (a payment to open, one to call off, a
refund due). The provider step, ``sync_with_provider``, then makes the provider match, outside any
database transaction, and writes each result with its event. It runs as soon as a handler's
transaction has committed, on a clock to retry what failed, and at once after a request that made
a refund due.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from uuid import UUID, uuid4

from sqlalchemy import event, func, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.auth.tokens import Principal
from libs.contracts.base import Event
from libs.contracts.order import OrderCancelled, OrderPartCancelled, PaymentRequested
from libs.contracts.payment import PaymentFailed, PaymentStarted, PaymentSucceeded, RefundIssued
from libs.correlation import correlation_id
from libs.kit.errors import NotFound
from libs.kit.runtime import ServiceRuntime, UnitOfWork
from services.payment.domain import (
    Outcome,
    PaymentProvider,
    PaymentStatus,
    ProviderPayment,
    ProviderRefund,
    ProviderRefused,
    RefundStatus,
    commission_cents,
    ensure_simulatable,
    may_see,
    part_refund_id,
    refundable_cents,
    status_after_order_cancelled,
    status_after_outcome,
    whole_refund_id,
)
from services.payment.providers import StripeProvider
from services.payment.tables import Payment, Refund

log = logging.getLogger(__name__)

PROVIDER_BATCH = 100
SIMULATED_REFUSAL = "paiement refusé (simulation)"


def provider_of(runtime: ServiceRuntime) -> PaymentProvider:
    return runtime.adapters["provider"]


# --- what the order service tells us (inside the inbox transaction: no provider call here)


async def record_payment_request(requested: PaymentRequested, uow: UnitOfWork, *,
                                 provider_step: ProviderStep) -> None:
    """The order asks for its basket's payment; the provider step opens it."""
    known = await uow.session.exec(
        select(Payment.id).where(Payment.order_id == requested.order_id)
    )
    if known.first() is not None:
        return
    now = _now()
    uow.session.add(Payment(
        id=uuid4(), order_id=requested.order_id, hub_id=requested.hub_id,
        resident_id=requested.resident_id, amount_cents=requested.total_cents,
        currency=requested.currency, pay_by=requested.pay_by, status=PaymentStatus.PENDING,
        correlation_id=uow.correlation_id, caused_by=_cause(uow), created_at=now, updated_at=now,
    ))
    provider_step.run_after_commit(uow.session)


async def call_off_payment(cancelled: OrderCancelled, uow: UnitOfWork, *,
                           provider_step: ProviderStep) -> None:
    """The order is undone: a payment not made is cancelled, one made is refunded in full (less
    what its cancelled parts already got back)."""
    payment = await _lock_order_payment(uow.session, cancelled.order_id)
    if payment is None:
        return
    payment.order_cancelled, payment.updated_at = True, _now()
    status = status_after_order_cancelled(payment.status)
    if status is not None:
        payment.status = status
    elif payment.status == PaymentStatus.SUCCEEDED:
        await _promise_refund(uow, payment, whole_refund_id(payment.id), payment.amount_cents)
    provider_step.run_after_commit(uow.session)


async def refund_cancelled_part(cancelled: OrderPartCancelled, uow: UnitOfWork, *,
                                provider_step: ProviderStep) -> None:
    """A shop's part is gone: its amount goes back, as soon as the money is in."""
    payment = await _lock_order_payment(uow.session, cancelled.order_id)
    if payment is None or payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED):
        return
    await _promise_refund(uow, payment, part_refund_id(payment.id, cancelled.shop_id),
                          cancelled.amount_cents, shop_id=cancelled.shop_id)
    provider_step.run_after_commit(uow.session)


# --- requests


async def get_payment(runtime: ServiceRuntime, payment_id: UUID, principal: Principal) -> Payment:
    async with runtime.database.sessions() as session:
        payment = await session.get(Payment, payment_id)
    return _visible(payment, payment_id, principal)


async def simulate_outcome(runtime: ServiceRuntime, payment_id: UUID, outcome: Outcome,
                           principal: Principal) -> Payment:
    """The resident pays, or is refused, with the simulated provider."""
    if provider_of(runtime).name != "simulated":
        raise NotFound("payments are simulated only with the simulated provider")
    async with _payment_work(runtime, payment_id) as (uow, payment):
        _visible(payment, payment_id, principal)
        ensure_simulatable(payment.status, opened=payment.provider_reference is not None)
        await _apply_outcome(uow, payment, outcome, SIMULATED_REFUSAL,
                             runtime.settings.commission_bps)
    await _give_back_due(runtime, payment.id)
    return payment


async def record_provider_notice(runtime: ServiceRuntime, payload: bytes,
                                 signature: str | None) -> bool:
    """Applies the outcome Stripe's webhook reports; False when it is not about the outcome of
    one of our payments."""
    provider = provider_of(runtime)
    if not isinstance(provider, StripeProvider):
        raise NotFound("this service does not use Stripe: it has no Stripe webhook")
    verdict = provider.read_notice(payload, signature)
    if verdict is None:
        return False
    async with _payment_work(runtime, verdict.payment_id) as (uow, payment):
        if payment is None:
            return False
        await _apply_outcome(uow, payment, verdict.outcome, verdict.reason,
                             runtime.settings.commission_bps)
    await _give_back_due(runtime, payment.id)
    return True


def _visible(payment: Payment | None, payment_id: UUID, principal: Principal) -> Payment:
    # Someone else's payment is as good as absent: its existence is nobody else's business.
    if payment is None or not may_see(principal, payment.resident_id):
        raise NotFound(f"no payment {payment_id}")
    return payment


async def _apply_outcome(uow: UnitOfWork, payment: Payment, outcome: Outcome, reason: str,
                         commission_bps: int) -> None:
    status = status_after_outcome(payment.status, outcome)
    if status is None:
        return
    payment.status, payment.updated_at = status, _now()
    if status == PaymentStatus.FAILED:
        payment.failure_reason = reason
        await uow.emit(PaymentFailed(payment_id=payment.id, order_id=payment.order_id,
                                     reason=reason))
        return
    payment.commission_bps = commission_bps
    payment.commission_cents = commission_cents(payment.amount_cents, commission_bps)
    await uow.emit(PaymentSucceeded(payment_id=payment.id, order_id=payment.order_id,
                                    amount_cents=payment.amount_cents,
                                    commission_cents=payment.commission_cents))
    if payment.order_cancelled:
        await _promise_refund(uow, payment, whole_refund_id(payment.id), payment.amount_cents)


async def _promise_refund(uow: UnitOfWork, payment: Payment, refund_id: UUID, asked_cents: int,
                          shop_id: UUID | None = None) -> None:
    """Makes a refund due, once per cause, never beyond what is left of the payment (the caller
    holds the payment's row lock, so two causes cannot both count the same cents)."""
    if await uow.session.get(Refund, refund_id) is not None:
        return
    promised = (await uow.session.exec(
        select(func.coalesce(func.sum(Refund.amount_cents), 0))
        .where(Refund.payment_id == payment.id, Refund.status != RefundStatus.REFUSED)
    )).one()
    amount = refundable_cents(asked_cents, payment.amount_cents, promised)
    if amount > 0:
        uow.session.add(Refund(id=refund_id, payment_id=payment.id, shop_id=shop_id,
                               amount_cents=amount, status=RefundStatus.DUE,
                               caused_by=_cause(uow), asked_at=_now()))


# --- the provider step (outside any transaction)


class ProviderStep:
    """When ``sync_with_provider`` runs: as soon as a transaction that left it work has committed
    (event handlers run inside the inbox transaction, so they cannot call the provider
    themselves), and every ``every_s`` regardless, to retry what failed. ``run`` is the service's
    Periodic work, ticking every ``tick_s``; a tick with nothing to do touches nothing."""

    tick_s = 0.05

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self._woken = False
        self._last_run = float("-inf")

    def run_after_commit(self, session: AsyncSession) -> None:
        event.listen(session.sync_session, "after_commit", self._wake, once=True)

    def _wake(self, _session) -> None:
        # Runs on the event loop's thread (SQLAlchemy's greenlet), like the outbox's wake-up.
        self._woken = True

    async def run(self, runtime: ServiceRuntime) -> None:
        if not self._woken and time.monotonic() - self._last_run < self.every_s:
            return
        self._woken, self._last_run = False, time.monotonic()
        await sync_with_provider(runtime)


async def sync_with_provider(runtime: ServiceRuntime) -> None:
    """Opens requested payments, cancels called-off ones and gives back due refunds at the
    provider. Each call is safe to repeat (idempotency keys from our ids) and its result is
    written only if nobody wrote it first, so replicas and retries agree; a call that fails is
    made again at the next sync."""
    provider = provider_of(runtime)
    async with runtime.database.sessions() as session:
        to_open = await _first(session, select(Payment).where(
            Payment.status == PaymentStatus.PENDING, Payment.provider_reference.is_(None)
        ).order_by(Payment.created_at))
        to_cancel = await _first(session, select(Payment).where(
            Payment.status == PaymentStatus.CANCELLED, Payment.provider_reference.is_not(None),
            Payment.provider_cancelled_at.is_(None),
        ).order_by(Payment.updated_at))
        to_refund = await _first(session, _due_refunds())
    for payment in to_open:
        await _attempt(_open(runtime, provider, payment), "open payment", payment.id)
    for payment in to_cancel:
        await _attempt(_cancel(runtime, provider, payment), "cancel payment", payment.id)
    for refund, payment in to_refund:
        await _attempt(_give_back(runtime, provider, refund, payment), "refund", refund.id)


async def _open(runtime: ServiceRuntime, provider: PaymentProvider, payment: Payment) -> None:
    request = ProviderPayment(payment.id, payment.order_id, payment.amount_cents, payment.currency)
    try:
        reference = await provider.create_payment(request)
    except ProviderRefused as refusal:
        await _fail_unopened(runtime, payment.id, f"paiement refusé par le prestataire : {refusal}")
        return
    async with _payment_work(runtime, payment.id) as (uow, current):
        if current.provider_reference is not None:
            return
        current.provider, current.provider_reference = provider.name, reference
        current.updated_at = _now()
        if current.status == PaymentStatus.PENDING:
            await _emit_caused(uow, PaymentStarted(
                payment_id=current.id, order_id=current.order_id,
                amount_cents=current.amount_cents, provider=provider.name,
            ), current.caused_by)


async def _fail_unopened(runtime: ServiceRuntime, payment_id: UUID, reason: str) -> None:
    async with _payment_work(runtime, payment_id) as (uow, payment):
        if payment.status != PaymentStatus.PENDING or payment.provider_reference is not None:
            return
        payment.status, payment.failure_reason = PaymentStatus.FAILED, reason
        payment.updated_at = _now()
        await _emit_caused(uow, PaymentFailed(payment_id=payment.id, order_id=payment.order_id,
                                              reason=reason), payment.caused_by)


async def _cancel(runtime: ServiceRuntime, provider: PaymentProvider, payment: Payment) -> None:
    try:
        await provider.cancel_payment(payment.provider_reference, payment.id)
    except ProviderRefused as refusal:
        # Most likely the resident paid just before: the provider's verdict will say so, and a
        # payment that succeeds after its order was cancelled is refunded.
        log.warning("the provider kept payment %s open: %s", payment.id, refusal)
    async with runtime.database.sessions() as session, session.begin():
        await session.execute(
            update(Payment)
            .where(Payment.id == payment.id, Payment.provider_cancelled_at.is_(None))
            .values(provider_cancelled_at=_now())
        )


async def _give_back_due(runtime: ServiceRuntime, payment_id: UUID) -> None:
    """The provider step for one payment's due refunds, at once rather than at the next sync."""
    async with runtime.database.sessions() as session:
        to_refund = await _first(session, _due_refunds().where(Refund.payment_id == payment_id))
    provider = provider_of(runtime)
    for refund, payment in to_refund:
        await _attempt(_give_back(runtime, provider, refund, payment), "refund", refund.id)


def _due_refunds():
    return (
        select(Refund, Payment)
        .join(Payment, Payment.id == Refund.payment_id)
        .where(Refund.status == RefundStatus.DUE, Payment.status == PaymentStatus.SUCCEEDED,
               Payment.provider_reference.is_not(None))
        .order_by(Refund.asked_at)
    )


async def _give_back(runtime: ServiceRuntime, provider: PaymentProvider, refund: Refund,
                     payment: Payment) -> None:
    request = ProviderRefund(refund.id, payment.id, payment.order_id, refund.shop_id,
                             payment.provider_reference, refund.amount_cents)
    try:
        reference = await provider.refund(request)
    except ProviderRefused as refusal:
        await _refuse_refund(runtime, refund.id, str(refusal))
        return
    async with _payment_work(runtime, payment.id) as (uow, current):
        due = await uow.session.get(Refund, refund.id)
        if due.status != RefundStatus.DUE:
            return
        due.status, due.provider_reference, due.issued_at = RefundStatus.ISSUED, reference, _now()
        current.refunded_cents += due.amount_cents
        current.updated_at = _now()
        await _emit_caused(uow, RefundIssued(
            refund_id=due.id, payment_id=current.id, order_id=current.order_id,
            shop_id=due.shop_id, amount_cents=due.amount_cents,
        ), due.caused_by)


async def _refuse_refund(runtime: ServiceRuntime, refund_id: UUID, reason: str) -> None:
    log.error("the provider refused refund %s: %s", refund_id, reason)
    async with runtime.database.sessions() as session, session.begin():
        await session.execute(
            update(Refund).where(Refund.id == refund_id, Refund.status == RefundStatus.DUE)
            .values(status=RefundStatus.REFUSED, failure_reason=reason[:500])
        )


async def _attempt(step: Awaitable[None], what: str, subject: UUID) -> None:
    try:
        await step
    except Exception:
        # One payment the provider cannot serve now must not hold up the others.
        log.warning("%s %s failed; tried again at the next sync", what, subject, exc_info=True)


# --- helpers


@asynccontextmanager
async def _payment_work(runtime: ServiceRuntime, payment_id: UUID
                        ) -> AsyncIterator[tuple[UnitOfWork, Payment | None]]:
    """One transaction on one payment, its row locked; its events join the payment's saga."""
    async with runtime.database.sessions() as session, session.begin():
        payment = (await session.exec(
            select(Payment).where(Payment.id == payment_id).with_for_update()
        )).first()
        saga = payment.correlation_id if payment is not None else correlation_id()
        yield UnitOfWork(session, runtime.outbox, saga), payment


async def _lock_order_payment(session: AsyncSession, order_id: UUID) -> Payment | None:
    return (await session.exec(
        select(Payment).where(Payment.order_id == order_id).with_for_update()
    )).first()


async def _first(session: AsyncSession, statement) -> list:
    return list((await session.exec(statement.limit(PROVIDER_BATCH))).all())


async def _emit_caused(uow: UnitOfWork, fact: Event, caused_by: str | None) -> None:
    """Emits on behalf of the event that asked for this work before the provider was called."""
    await uow.outbox.add(uow.session, fact, correlation_id=uow.correlation_id,
                         causation_id=caused_by)


def _cause(uow: UnitOfWork) -> str | None:
    return str(uow.cause.event_id) if uow.cause is not None else None


def _now() -> datetime:
    return datetime.now(UTC)
