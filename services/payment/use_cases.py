"""What the payment service does: load, change, write the outbox, commit.

Event handlers and requests only record what was decided (a payment to open, one to call off, a
refund due). The provider step, ``sync_with_provider``, then makes the provider match, outside any
database transaction, and writes each result with its event. It runs for the payment at hand as
soon as a handler's transaction has committed (``uow.after_commit``) and at once after a request
that made a refund due; and for every payment on the service's clock, to retry what failed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from uuid import UUID, uuid4

from sqlalchemy import func, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.auth.tokens import Principal
from libs.contracts.base import Event
from libs.contracts.order import OrderCancelled, OrderPartCancelled, PaymentRequested
from libs.contracts.payment import PaymentFailed, PaymentStarted, PaymentSucceeded, RefundIssued
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


async def record_payment_request(requested: PaymentRequested, uow: UnitOfWork) -> None:
    """The order asks for its basket's payment; the provider step opens it."""
    known = await uow.session.exec(
        select(Payment.id).where(Payment.order_id == requested.order_id)
    )
    if known.first() is not None:
        return
    now, payment_id = _now(), uuid4()
    uow.session.add(Payment(
        id=payment_id, order_id=requested.order_id, hub_id=requested.hub_id,
        resident_id=requested.resident_id, amount_cents=requested.total_cents,
        currency=requested.currency, pay_by=requested.pay_by, status=PaymentStatus.PENDING,
        correlation_id=uow.correlation_id, caused_by=_cause(uow), created_at=now, updated_at=now,
    ))
    _sync_after_commit(uow, payment_id)


async def call_off_payment(cancelled: OrderCancelled, uow: UnitOfWork) -> None:
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
    _sync_after_commit(uow, payment.id)


async def refund_cancelled_part(cancelled: OrderPartCancelled, uow: UnitOfWork) -> None:
    """A shop's part is gone: its amount goes back, as soon as the money is in."""
    payment = await _lock_order_payment(uow.session, cancelled.order_id)
    if payment is None or payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED):
        return
    await _promise_refund(uow, payment, part_refund_id(payment.id, cancelled.shop_id),
                          cancelled.amount_cents, shop_id=cancelled.shop_id)
    _sync_after_commit(uow, payment.id)


def _sync_after_commit(uow: UnitOfWork, payment_id: UUID) -> None:
    """The provider step for this payment, once the handler's transaction has committed."""
    uow.after_commit(partial(sync_with_provider, payment_id=payment_id))


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
        await _apply_outcome(uow, payment, outcome, SIMULATED_REFUSAL)
    await sync_with_provider(runtime, payment.id)  # a refund it made due, at once
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
        await _apply_outcome(uow, payment, verdict.outcome, verdict.reason)
    await sync_with_provider(runtime, payment.id)  # a refund it made due, at once
    return True


def _visible(payment: Payment | None, payment_id: UUID, principal: Principal) -> Payment:
    # Someone else's payment is as good as absent: its existence is nobody else's business.
    if payment is None or not may_see(principal, payment.resident_id):
        raise NotFound(f"no payment {payment_id}")
    return payment


async def _apply_outcome(uow: UnitOfWork, payment: Payment, outcome: Outcome, reason: str
                         ) -> None:
    status = status_after_outcome(payment.status, outcome)
    if status is None:
        return
    payment.status, payment.updated_at = status, _now()
    if status == PaymentStatus.FAILED:
        payment.failure_reason = reason
        await uow.emit(PaymentFailed(payment_id=payment.id, order_id=payment.order_id,
                                     reason=reason))
        return
    payment.commission_bps = uow.settings.commission_bps
    payment.commission_cents = commission_cents(payment.amount_cents, payment.commission_bps)
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


async def sync_with_provider(runtime: ServiceRuntime, payment_id: UUID | None = None) -> None:
    """Opens requested payments, cancels called-off ones and gives back due refunds at the
    provider: every payment's, or only ``payment_id``'s. Each call is safe to repeat (idempotency
    keys from our ids) and its result is written only if nobody wrote it first, so replicas and
    retries agree; a call that fails is made again at the next sync."""
    provider = provider_of(runtime)
    async with runtime.database.sessions() as session:
        to_open = await _first(session, payment_id, select(Payment).where(
            Payment.status == PaymentStatus.PENDING, Payment.provider_reference.is_(None)
        ).order_by(Payment.created_at))
        to_cancel = await _first(session, payment_id, select(Payment).where(
            Payment.status == PaymentStatus.CANCELLED, Payment.provider_reference.is_not(None),
            Payment.provider_cancelled_at.is_(None),
        ).order_by(Payment.updated_at))
        to_refund = await _first(session, payment_id, select(Refund, Payment)
                                 .join(Payment, Payment.id == Refund.payment_id)
                                 .where(Refund.status == RefundStatus.DUE,
                                        Payment.status == PaymentStatus.SUCCEEDED,
                                        Payment.provider_reference.is_not(None))
                                 .order_by(Refund.asked_at))
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
    async with runtime.unit_of_work() as uow:
        payment = (await uow.session.exec(
            select(Payment).where(Payment.id == payment_id).with_for_update()
        )).first()
        if payment is not None:
            uow.correlation_id = payment.correlation_id
        yield uow, payment


async def _lock_order_payment(session: AsyncSession, order_id: UUID) -> Payment | None:
    return (await session.exec(
        select(Payment).where(Payment.order_id == order_id).with_for_update()
    )).first()


async def _first(session: AsyncSession, payment_id: UUID | None, statement) -> list:
    """The first batch of what ``statement`` selects, of one payment when ``payment_id`` is given."""
    if payment_id is not None:
        statement = statement.where(Payment.id == payment_id)
    return list((await session.exec(statement.limit(PROVIDER_BATCH))).all())


async def _emit_caused(uow: UnitOfWork, fact: Event, caused_by: str | None) -> None:
    """Emits on behalf of the event that asked for this work before the provider was called."""
    await uow.outbox.add(uow.session, fact, correlation_id=uow.correlation_id,
                         causation_id=caused_by)


def _cause(uow: UnitOfWork) -> str | None:
    return str(uow.cause.event_id) if uow.cause is not None else None


def _now() -> datetime:
    return datetime.now(UTC)
