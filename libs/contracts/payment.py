"""Events the payment service publishes: payments, the fees and refunds on them, the transfers
of each shop's share to its payout account, and the state of those accounts.

Every money movement is one of these events, with all its amounts: the ledger is written from
them."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from libs.contracts.base import Event

Provider = Literal["simulated", "stripe"]


class PaymentEvent(Event, abstract=True):
    topic = "payment.payment"
    key_field = "payment_id"


class PaymentStarted(PaymentEvent):
    """The provider expects the resident's payment for the whole basket."""

    payment_id: UUID
    order_id: UUID
    amount_cents: int = Field(ge=0)
    provider: Provider


class ShopShare(BaseModel):
    """One shop's part of a payment, and what the platform keeps of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shop_id: UUID
    amount_cents: int = Field(ge=0)
    commission_cents: int = Field(ge=0)


class PaymentSucceeded(PaymentEvent):
    """The resident's money is in: ``shares`` say what each shop is owed before commission;
    ``commission_cents`` is their commissions' sum."""

    payment_id: UUID
    order_id: UUID
    hub_id: UUID
    amount_cents: int = Field(ge=0)
    commission_cents: int = Field(ge=0)
    shares: list[ShopShare]


class ProcessorFeeCharged(PaymentEvent):
    """What the payment processor kept of a payment (Stripe's fee); the platform bears it. The
    payment is an order's (``order_id``) or a membership fee's (``membership_id``)."""

    payment_id: UUID
    order_id: UUID | None = None
    membership_id: UUID | None = None
    fee_cents: int = Field(ge=0)


class PaymentFailed(PaymentEvent):
    payment_id: UUID
    order_id: UUID
    reason: str


class MembershipFeePaid(PaymentEvent):
    """A resident's membership fee is in (``MembershipFeeRequested``); the hub is owed it, less
    nothing: memberships carry no commission."""

    payment_id: UUID
    membership_id: UUID
    hub_id: UUID
    resident_id: UUID
    amount_cents: int = Field(gt=0)


class MembershipFeeFailed(PaymentEvent):
    """The membership fee could not be taken (refused, abandoned, or not paid in time)."""

    payment_id: UUID
    membership_id: UUID
    reason: str


class RefundIssued(PaymentEvent):
    """Money went back to the resident: the whole payment, or part of one shop's share.

    ``shares`` say whose share it comes out of, and how much commission the platform gives up
    on it: the amounts sum to ``amount_cents``."""

    refund_id: UUID
    payment_id: UUID
    order_id: UUID
    shop_id: UUID | None = None
    amount_cents: int = Field(gt=0)
    shares: list[ShopShare]


class TransferMade(PaymentEvent):
    """A shop's share of a completed order, less commission and refunds, went to its payout
    account."""

    transfer_id: UUID
    payment_id: UUID
    order_id: UUID
    shop_id: UUID
    amount_cents: int = Field(gt=0)
    provider_reference: str


class TransferReversed(PaymentEvent):
    """Part of a transfer came back from the shop's payout account to cover a refund made after
    it."""

    reversal_id: UUID
    transfer_id: UUID
    payment_id: UUID
    order_id: UUID
    shop_id: UUID
    amount_cents: int = Field(gt=0)


class PayoutAccountEvent(Event, abstract=True):
    topic = "payment.account"
    key_field = "shop_id"


class PayoutAccountUpdated(PayoutAccountEvent):
    """Where a shop stands in opening its payout account: it can be paid once
    ``payouts_enabled``."""

    shop_id: UUID
    account_reference: str
    details_submitted: bool
    payouts_enabled: bool
