"""The payment service's rules, free of I/O: what moves a payment from one status to another,
the platform's commission, how much a refund may give back, and the port every payment provider
implements."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from uuid import UUID, uuid5

from libs.auth.tokens import Principal
from libs.contracts.payment import Provider
from libs.kit.errors import Conflict, DomainError


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Outcome(StrEnum):
    """The provider's verdict on a pending payment."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RefundStatus(StrEnum):
    DUE = "due"
    ISSUED = "issued"
    REFUSED = "refused"


def commission_cents(total_cents: int, bps: int) -> int:
    """The platform's share of ``total_cents`` at ``bps`` basis points (hundredths of a percent),
    rounded half up to the cent, in integers only: ``(total_cents * bps + 5000) // 10000``.

    So 1234 cents at 800 bps (98.72) is 99, 1 cent at 5000 bps (0.5) is 1, and 1 cent at 4999 bps
    (0.4999) is 0."""
    if total_cents < 0 or bps < 0:
        raise ValueError("an amount and a rate are never negative")
    return (total_cents * bps + 5_000) // 10_000


def status_after_outcome(status: PaymentStatus, outcome: Outcome) -> PaymentStatus | None:
    """The status a provider's verdict leads to, or None when it changes nothing.

    Money taken is a fact whatever we had decided: a success after a failure or a cancellation
    still counts (and the caller refunds it, since its order is gone). A refusal only matters
    while the payment is pending."""
    if outcome == Outcome.SUCCEEDED:
        return None if status == PaymentStatus.SUCCEEDED else PaymentStatus.SUCCEEDED
    return PaymentStatus.FAILED if status == PaymentStatus.PENDING else None


def status_after_order_cancelled(status: PaymentStatus) -> PaymentStatus | None:
    """A payment the resident has not made yet is called off; any other keeps its status (a
    succeeded one is refunded instead)."""
    return PaymentStatus.CANCELLED if status == PaymentStatus.PENDING else None


def ensure_simulatable(status: PaymentStatus, opened: bool) -> None:
    if status != PaymentStatus.PENDING:
        raise Conflict(f"this payment is {status}, no longer pending: it cannot be paid or refused")
    if not opened:
        raise Conflict("this payment is not open yet: try again in a moment")


def refundable_cents(asked_cents: int, paid_cents: int, promised_cents: int) -> int:
    """What a refund gives back: what was asked, never more than what is left of the payment
    once the refunds already promised are deducted."""
    return max(0, min(asked_cents, paid_cents - promised_cents))


def whole_refund_id(payment_id: UUID) -> UUID:
    """The one refund of what is left of a payment when its whole order is undone.

    Refund ids are derived from their cause, so asking twice for the same refund (a redelivered
    or repeated cause) finds the first one; the provider's idempotency key is derived from it."""
    return uuid5(payment_id, "order")


def part_refund_id(payment_id: UUID, shop_id: UUID) -> UUID:
    """The one refund of a shop's cancelled part."""
    return uuid5(payment_id, f"part:{shop_id}")


def may_see(principal: Principal, resident_id: UUID) -> bool:
    return principal.user_id == resident_id or principal.is_platform_admin


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    """What the provider is asked to collect: the whole basket, once."""

    payment_id: UUID
    order_id: UUID
    amount_cents: int
    currency: str


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    refund_id: UUID
    payment_id: UUID
    order_id: UUID
    shop_id: UUID | None
    payment_reference: str
    amount_cents: int


@dataclass(frozen=True, slots=True)
class ProviderVerdict:
    """The provider's word on one of our payments, from its webhook."""

    payment_id: UUID
    outcome: Outcome
    reason: str


class ProviderRefused(Exception):
    """The provider said no for good: making the same call again will not help."""


class InvalidProviderNotice(DomainError):
    status, code = 400, "invalid_signature"


class PaymentProvider(Protocol):
    """Where the money moves. Each call is safe to repeat: the same request gives the same result
    (idempotency keys derived from our ids), so a retried step never charges or refunds twice.
    Transient failures raise anything; a definitive refusal raises ProviderRefused."""

    name: Provider

    async def create_payment(self, payment: ProviderPayment) -> str:
        """Opens the payment; returns the provider's reference for it."""

    async def cancel_payment(self, reference: str, payment_id: UUID) -> None:
        """Stops the resident from paying; refused when the payment already went through."""

    async def refund(self, refund: ProviderRefund) -> str:
        """Gives ``refund.amount_cents`` back; returns the provider's reference of the refund."""
