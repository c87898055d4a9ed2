"""Events the order service publishes: the order saga, from placed to completed or undone."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from libs.contracts.base import Event


class OrderLine(BaseModel):
    """One variant of a product, at the price it had when the order was placed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: UUID
    variant_id: UUID
    shop_id: UUID
    name: str
    variant_label: str
    quantity: int = Field(gt=0)
    unit_price_cents: int = Field(ge=0)


class OrderPart(BaseModel):
    """What one shop prepares for the order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shop_id: UUID
    total_cents: int = Field(ge=0)
    lines: list[OrderLine]


class OrderEvent(Event, abstract=True):
    topic = "order.order"
    key_field = "order_id"


class OrderPlaced(OrderEvent):
    """A resident checked out: stock and slot are asked for."""

    order_id: UUID
    hub_id: UUID
    slot_id: UUID
    resident_id: UUID
    resident_email: str
    parts: list[OrderPart]
    total_cents: int = Field(ge=0)


class OrderRejected(OrderEvent):
    """Stock or slot could not be had; whatever was held is to be released."""

    order_id: UUID
    reasons: list[str]


class PaymentRequested(OrderEvent):
    """Stock and slot are held: the resident is to pay before ``pay_by``."""

    order_id: UUID
    hub_id: UUID
    resident_id: UUID
    total_cents: int = Field(ge=0)
    currency: str = "eur"
    parts: list[OrderPart]
    pay_by: AwareDatetime


class OrderConfirmed(OrderEvent):
    """Paid: each shop prepares its part, the hub expects them."""

    order_id: UUID
    hub_id: UUID
    slot_id: UUID
    resident_id: UUID
    parts: list[OrderPart]
    total_cents: int


class OrderPartCancelled(OrderEvent):
    """A shop cannot supply its part: its stock is released and its amount refunded."""

    order_id: UUID
    shop_id: UUID
    amount_cents: int = Field(ge=0)
    lines: list[OrderLine]
    reason: str


class OrderLinesCancelled(OrderEvent):
    """A shop cannot supply some of its lines (or some units of them) but prepares the rest:
    ``lines`` hold the quantities withdrawn, released from stock and refunded
    (``amount_cents``); the part stays expected at the hub."""

    order_id: UUID
    shop_id: UUID
    amount_cents: int = Field(gt=0)
    lines: list[OrderLine] = Field(min_length=1)
    reason: str


class OrderPartPrepared(OrderEvent):
    """A shop says its part is ready to be dropped off at the hub (staff may still check in a
    part its shop never marked)."""

    order_id: UUID
    shop_id: UUID
    prepared_at: AwareDatetime


class OrderReady(OrderEvent):
    """Every part is at the hub: the resident can come."""

    order_id: UUID


class OrderCompleted(OrderEvent):
    """Handed over: the shops are owed their shares."""

    order_id: UUID
    completed_at: datetime


class OrderCancelled(OrderEvent):
    """Undone before completion: stock and slot go back, any payment is refunded."""

    order_id: UUID
    reason: str
