"""Every table the payment service owns, in its own database."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import CheckConstraint, Index
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from libs.messaging.inbox import inbox_table
from libs.messaging.outbox import outbox_table
from libs.sqltypes import UtcDateTime


class PaymentTable(SQLModel, registry=registry()):
    """Base of the payment service's tables; its metadata is the payment database."""


class Payment(PaymentTable, table=True):
    """One payment: for an order's whole basket (``order_id``), or for a resident's membership
    fee to a hub (``membership_id``, no shares, no commission); exactly one of the two.

    ``provider`` and ``provider_reference`` are set once the provider has opened it (the
    provider step, after the request was recorded); the commission (the sum of its shares') once
    the money is in; ``fee_recorded`` once its processor fee is."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("(order_id IS NULL) <> (membership_id IS NULL)",
                        name="payment_has_one_purpose"),
        # The provider step's rounds look for the few payments of one status with work left
        # (a fee to learn, a cancellation to tell the provider), not through all of that status.
        Index("payments_status_fee_recorded", "status", "fee_recorded"),
        Index("payments_status_provider_cancelled_at", "status", "provider_cancelled_at"),
    )

    id: UUID = Field(primary_key=True)
    order_id: UUID | None = Field(default=None, unique=True)
    membership_id: UUID | None = Field(default=None, unique=True)
    hub_id: UUID
    resident_id: UUID = Field(index=True)
    amount_cents: int
    currency: str = Field(max_length=3)
    pay_by: datetime = Field(sa_type=UtcDateTime)
    status: str = Field(max_length=20)
    failure_reason: str | None = Field(default=None, max_length=500)
    order_cancelled: bool = False
    provider: str | None = Field(default=None, max_length=20)
    provider_reference: str | None = Field(default=None, max_length=255)
    provider_cancelled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    commission_cents: int | None = None
    fee_recorded: bool = False
    refunded_cents: int = 0
    correlation_id: str = Field(max_length=200)
    caused_by: str | None = Field(default=None, max_length=36)
    created_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)


class Refund(PaymentTable, table=True):
    """Money promised back to the resident (``due``), given back (``issued``), or refused by the
    provider (``refused``, for someone to look at). A refund of a payment not yet made waits,
    due, until the money is in."""

    __tablename__ = "refunds"

    id: UUID = Field(primary_key=True)
    payment_id: UUID = Field(foreign_key="payments.id", index=True)
    shop_id: UUID | None = None
    amount_cents: int
    status: str = Field(max_length=20, index=True)
    provider_reference: str | None = Field(default=None, max_length=255)
    failure_reason: str | None = Field(default=None, max_length=500)
    reason: str | None = Field(default=None, max_length=500)
    caused_by: str | None = Field(default=None, max_length=36)
    asked_at: datetime = Field(sa_type=UtcDateTime)
    issued_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Share(PaymentTable, table=True):
    """One shop's part of a payment and the commission rate on it, fixed at checkout."""

    __tablename__ = "payment_shares"

    payment_id: UUID = Field(foreign_key="payments.id", primary_key=True)
    shop_id: UUID = Field(primary_key=True)
    amount_cents: int
    commission_bps: int
    commission_cents: int


class RefundShare(PaymentTable, table=True):
    """The part of a refund taken out of one shop's share; ``commission_back_cents``, the
    commission the platform gives up on it, is known once the refund is issued."""

    __tablename__ = "refund_shares"

    refund_id: UUID = Field(foreign_key="refunds.id", primary_key=True)
    shop_id: UUID = Field(primary_key=True)
    amount_cents: int
    commission_back_cents: int | None = None


class ProcessorFee(PaymentTable, table=True):
    """What the provider kept of a payment."""

    __tablename__ = "processor_fees"

    payment_id: UUID = Field(foreign_key="payments.id", primary_key=True)
    fee_cents: int
    recorded_at: datetime = Field(sa_type=UtcDateTime)


class Transfer(PaymentTable, table=True):
    """A shop's share of a completed order on its way to its payout account. ``amount_cents``
    and ``destination`` are fixed when it becomes due (TransferStatus says the rest)."""

    __tablename__ = "transfers"

    id: UUID = Field(primary_key=True)
    payment_id: UUID = Field(foreign_key="payments.id", index=True)
    order_id: UUID
    shop_id: UUID = Field(index=True)
    status: str = Field(max_length=20, index=True)
    amount_cents: int | None = None
    destination: str | None = Field(default=None, max_length=255)
    provider_reference: str | None = Field(default=None, max_length=255)
    failure_reason: str | None = Field(default=None, max_length=500)
    caused_by: str | None = Field(default=None, max_length=36)
    created_at: datetime = Field(sa_type=UtcDateTime)
    made_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Reversal(PaymentTable, table=True):
    """Part of a shop's transfer taken back to cover a refund issued after the transfer was
    fixed; made once the transfer is."""

    __tablename__ = "transfer_reversals"

    id: UUID = Field(primary_key=True)
    transfer_id: UUID = Field(foreign_key="transfers.id", index=True)
    refund_id: UUID = Field(foreign_key="refunds.id")
    shop_id: UUID
    amount_cents: int
    status: str = Field(max_length=20, index=True)
    provider_reference: str | None = Field(default=None, max_length=255)
    failure_reason: str | None = Field(default=None, max_length=500)
    caused_by: str | None = Field(default=None, max_length=36)
    created_at: datetime = Field(sa_type=UtcDateTime)
    made_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class PayoutAccount(PaymentTable, table=True):
    """A shop's account at the provider, where its transfers go once payouts are enabled."""

    __tablename__ = "payout_accounts"

    shop_id: UUID = Field(primary_key=True)
    provider: str = Field(max_length=20)
    reference: str = Field(max_length=255, unique=True)
    details_submitted: bool = False
    payouts_enabled: bool = False
    created_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)


class Shop(PaymentTable, table=True):
    """A shop (catalog's ShopOpened), with its own commission rate when it has one."""

    __tablename__ = "shops"

    id: UUID = Field(primary_key=True)
    hub_id: UUID = Field(index=True)
    name: str = Field(max_length=200)
    owner_id: UUID
    owner_email: str = Field(max_length=320)
    commission_bps: int | None = None


class HubTerms(PaymentTable, table=True):
    """A hub's commission rate and no-show refund policy, where they differ from the defaults."""

    __tablename__ = "hub_terms"

    hub_id: UUID = Field(primary_key=True)
    commission_bps: int | None = None
    no_show_refund_bps: int | None = None


class HubAdmin(PaymentTable, table=True):
    """Someone who runs a hub (pickup's HubStaffAssigned with the admin role)."""

    __tablename__ = "hub_admins"

    hub_id: UUID = Field(primary_key=True)
    user_id: UUID = Field(primary_key=True)


class ProviderNoticeSeen(PaymentTable, table=True):
    """A webhook event already applied: a redelivery is acknowledged and changes nothing."""

    __tablename__ = "provider_notices"

    event_id: str = Field(primary_key=True, max_length=255)
    kind: str = Field(max_length=100)
    received_at: datetime = Field(sa_type=UtcDateTime)


outbox = outbox_table(PaymentTable.metadata)
inbox = inbox_table(PaymentTable.metadata)
