"""The payment service's rules, free of I/O: what moves a payment from one status to another,
the platform's commission, how a refund is shared among the shops and what it takes back from
them, what each shop is transferred, and the port every payment provider implements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
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


class TransferStatus(StrEnum):
    """A shop's transfer for a completed order: ``held`` until its payout account can be paid
    (its amount is fixed only then), ``due`` with its amount fixed, ``made``; ``not_needed`` when
    nothing is owed; ``refused`` by the provider (for someone to look at)."""

    HELD = "held"
    DUE = "due"
    MADE = "made"
    NOT_NEEDED = "not_needed"
    REFUSED = "refused"


class ReversalStatus(StrEnum):
    DUE = "due"
    MADE = "made"
    REFUSED = "refused"


MAX_COMMISSION_BPS = 5_000
FULL_BPS = 10_000


def portion_cents(cents: int, bps: int) -> int:
    """``bps`` basis points (hundredths of a percent) of ``cents``, rounded half up to the cent,
    in integers only: ``(cents * bps + 5000) // 10000``."""
    if cents < 0 or bps < 0:
        raise ValueError("an amount and a rate are never negative")
    return (cents * bps + 5_000) // FULL_BPS


def commission_cents(total_cents: int, bps: int) -> int:
    """The platform's commission on ``total_cents`` at ``bps``: ``portion_cents``, rounded half
    up on each shop's share separately.

    So 1234 cents at 800 bps (98.72) is 99, 1 cent at 5000 bps (0.5) is 1, and 1 cent at 4999 bps
    (0.4999) is 0."""
    return portion_cents(total_cents, bps)


def commission_bps_for(shop_bps: int | None, hub_bps: int | None, default_bps: int) -> int:
    """The shop's own rate when it has one, else its hub's, else the platform's default."""
    if shop_bps is not None:
        return shop_bps
    return hub_bps if hub_bps is not None else default_bps


def commission_given_back(share_cents: int, bps: int, refunded_before: int, refunded_now: int
                          ) -> int:
    """The commission the platform gives up when ``refunded_now`` more cents of a shop's share
    go back to the resident.

    The platform always keeps exactly the commission on what is left of the share
    (``commission_cents(share - refunded, bps)``); what it gives back is the difference, so
    the cents given back over all refunds add up with no rounding drift."""
    left_before = share_cents - refunded_before
    return (commission_cents(left_before, bps)
            - commission_cents(left_before - refunded_now, bps))


def transfer_cents(share_cents: int, bps: int, refunded_cents: int) -> int:
    """What a shop is transferred for its share: what is left of it once refunded, less the
    commission on that (= share − commission − refunded + commission given back)."""
    left = share_cents - refunded_cents
    return left - commission_cents(left, bps)


def reversal_cents(refunded_cents: int, commission_back_cents: int) -> int:
    """What a refund made after the transfer takes back from the shop: the refunded part of
    its share less the commission the platform gives back on it."""
    return refunded_cents - commission_back_cents


def simulated_fee_cents(amount_cents: int) -> int:
    """The simulated provider's fee, Stripe's European card pricing: 1.5 % + 25 c."""
    return portion_cents(amount_cents, 150) + 25 if amount_cents > 0 else 0


def refund_shares(asked_cents: int, left_by_shop: Mapping[UUID, int],
                  shop_id: UUID | None = None) -> dict[UUID, int]:
    """How a refund is taken out of the shops' shares: all of it from ``shop_id``'s when it is
    one shop's, else spread over the shops in order, each up to what is left of its share;
    never beyond what is left (shops with nothing taken are left out)."""
    if shop_id is not None:
        taken = refundable_cents(asked_cents, left_by_shop.get(shop_id, 0), 0)
        return {shop_id: taken} if taken > 0 else {}
    shares, wanted = {}, asked_cents
    for shop, left in left_by_shop.items():
        taken = min(wanted, left)
        if taken > 0:
            shares[shop] = taken
            wanted -= taken
    return shares


def no_show_refund_shares(left_by_shop: Mapping[UUID, int], refund_bps: int) -> dict[UUID, int]:
    """The hub's no-show policy: ``refund_bps`` of what is left of each shop's share goes back
    (0 keeps the money, 10000 gives it all back), rounded half up per share."""
    shares = {shop: portion_cents(left, refund_bps) for shop, left in left_by_shop.items()}
    return {shop: cents for shop, cents in shares.items() if cents > 0}


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


def is_overdue(status: PaymentStatus, pay_by: datetime, now: datetime) -> bool:
    """A membership fee not paid by its ``pay_by`` is called off (an order's payment is called
    off by its order, which keeps its own clock)."""
    return status == PaymentStatus.PENDING and pay_by <= now


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


def lines_refund_id(payment_id: UUID, event_id: UUID) -> UUID:
    """The one refund of the lines one OrderLinesCancelled withdrew (a shop may withdraw lines
    more than once: each event is its own refund)."""
    return uuid5(payment_id, f"lines:{event_id}")


def no_show_refund_id(payment_id: UUID) -> UUID:
    """The one refund the hub's no-show policy makes."""
    return uuid5(payment_id, "no-show")


def adjustment_refund_id(payment_id: UUID, idempotency_key: str) -> UUID:
    """A refund a hub admin asks for (an item missing), named by the request's Idempotency-Key."""
    return uuid5(payment_id, f"adjustment:{idempotency_key}")


def transfer_id(payment_id: UUID, shop_id: UUID) -> UUID:
    """The one transfer of a shop's share of a payment."""
    return uuid5(payment_id, f"transfer:{shop_id}")


def reversal_id(refund_id: UUID, shop_id: UUID) -> UUID:
    """The one reversal a refund makes of a shop's transfer."""
    return uuid5(refund_id, f"reversal:{shop_id}")


def may_pay_membership(principal: Principal, resident_id: UUID) -> bool:
    """A membership fee's page is its resident's alone."""
    return principal.user_id == resident_id


def may_see(principal: Principal, resident_id: UUID) -> bool:
    return principal.user_id == resident_id or principal.is_platform_admin


def may_run_hub(principal: Principal, hub_admins: set[UUID]) -> bool:
    """Platform admins run every hub; a hub's admins run theirs."""
    return principal.is_platform_admin or principal.user_id in hub_admins


def may_manage_shop(principal: Principal, owner_id: UUID, hub_admins: set[UUID]) -> bool:
    return principal.user_id == owner_id or may_run_hub(principal, hub_admins)


def may_complete_payout_account(principal: Principal, owner_id: UUID) -> bool:
    """Whoever completes the provider's onboarding gives the bank account the shop's money goes
    to: its owner alone, not the hub's admins who may open the account or read its state."""
    return principal.user_id == owner_id


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    """What the provider is asked to collect, once: an order's whole basket, or a membership
    fee (``order_id`` None, ``membership_id`` set)."""

    payment_id: UUID
    order_id: UUID | None
    amount_cents: int
    currency: str
    membership_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    refund_id: UUID
    payment_id: UUID
    order_id: UUID
    shop_id: UUID | None
    payment_reference: str
    amount_cents: int


@dataclass(frozen=True, slots=True)
class ProviderShop:
    """A shop whose payout account the provider is asked to open."""

    shop_id: UUID
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class PayoutAccountState:
    """Where a shop's payout account stands at the provider."""

    reference: str
    details_submitted: bool
    payouts_enabled: bool


@dataclass(frozen=True, slots=True)
class ProviderTransfer:
    transfer_id: UUID
    payment_id: UUID
    order_id: UUID
    shop_id: UUID
    destination: str
    amount_cents: int
    currency: str


@dataclass(frozen=True, slots=True)
class ProviderReversal:
    reversal_id: UUID
    refund_id: UUID
    shop_id: UUID
    transfer_reference: str
    amount_cents: int


@dataclass(frozen=True, slots=True)
class ProviderNotice:
    """A webhook the provider signed: its event id (to take it once), its type and the id of
    the object it is about, with our payment's id when the object carries it."""

    event_id: str
    kind: str
    object_id: str
    payment_id: UUID | None
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

    async def processor_fee(self, payment: ProviderPayment, reference: str) -> int:
        """What the provider kept of the payment, in cents; raises while it does not know yet."""

    async def open_payout_account(self, shop: ProviderShop) -> PayoutAccountState:
        """Opens the shop's payout account (the same one when asked again)."""

    async def onboarding_link(self, account_reference: str, shop_id: UUID, link_id: UUID,
                              back_url: str) -> str:
        """Where the shop's owner gives the provider what it needs to pay the shop; the owner
        comes back to ``back_url``."""

    async def transfer(self, transfer: ProviderTransfer) -> str:
        """Sends a shop its share; returns the provider's reference of the transfer."""

    async def reverse(self, reversal: ProviderReversal) -> str:
        """Takes part of a transfer back; returns the provider's reference of the reversal."""
