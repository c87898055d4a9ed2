"""Every table the payment service owns, in its own database."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from libs.messaging.inbox import inbox_table
from libs.messaging.outbox import outbox_table
from libs.sqltypes import UtcDateTime


class PaymentTable(SQLModel, registry=registry()):
    """Base of the payment service's tables; its metadata is the payment database."""


class Payment(PaymentTable, table=True):
    """One payment for an order's whole basket.

    ``provider`` and ``provider_reference`` are set once the provider has opened it (the
    provider step, after the request was recorded); the commission once the money is in."""

    __tablename__ = "payments"

    id: UUID = Field(primary_key=True)
    order_id: UUID = Field(unique=True)
    hub_id: UUID
    resident_id: UUID = Field(index=True)
    amount_cents: int
    currency: str = Field(max_length=3)
    pay_by: datetime = Field(sa_type=UtcDateTime)
    status: str = Field(max_length=20, index=True)
    failure_reason: str | None = Field(default=None, max_length=500)
    order_cancelled: bool = False
    provider: str | None = Field(default=None, max_length=20)
    provider_reference: str | None = Field(default=None, max_length=255)
    provider_cancelled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    commission_bps: int | None = None
    commission_cents: int | None = None
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
    caused_by: str | None = Field(default=None, max_length=36)
    asked_at: datetime = Field(sa_type=UtcDateTime)
    issued_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


outbox = outbox_table(PaymentTable.metadata)
inbox = inbox_table(PaymentTable.metadata)
