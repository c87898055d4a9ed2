"""Events the payment service publishes: payments, and refunds of them."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

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


class PaymentSucceeded(PaymentEvent):
    payment_id: UUID
    order_id: UUID
    amount_cents: int = Field(ge=0)
    commission_cents: int = Field(ge=0)


class PaymentFailed(PaymentEvent):
    payment_id: UUID
    order_id: UUID
    reason: str


class RefundIssued(PaymentEvent):
    """Money went back to the resident: the whole payment, or one shop's part of it."""

    refund_id: UUID
    payment_id: UUID
    order_id: UUID
    shop_id: UUID | None = None
    amount_cents: int = Field(gt=0)
