"""The order service's rules, free of I/O: what a basket may hold, how it is priced and split into
one part per shop, who may read an order, and the state machines of an order and of its parts.

Events answer with "no change" (None) when a transition no longer applies, so a late or repeated
event is harmless; people asking for what the rules forbid get a DomainError.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from libs.auth.tokens import Principal
from libs.kit.errors import Conflict, DomainError

MAX_QUANTITY = 99
MAX_LINES = 100


class OrderStatus(StrEnum):
    PLACED = "placed"
    AWAITING_PAYMENT = "awaiting_payment"
    CONFIRMED = "confirmed"
    READY = "ready"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class PartStatus(StrEnum):
    PENDING = "pending"
    DROPPED_OFF = "dropped_off"
    HANDED_OVER = "handed_over"
    CANCELLED = "cancelled"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class Trigger(StrEnum):
    """What happens to an order, as the saga reports it."""

    HELD = "held"  # stock and slot are both held
    REFUSED = "refused"  # stock or slot could not be had
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_OVERDUE = "payment_overdue"
    EVERY_PART_CANCELLED = "every_part_cancelled"
    EVERY_PART_IN = "every_part_in"
    PICKED_UP = "picked_up"


class PartTrigger(StrEnum):
    DROPPED_OFF = "dropped_off"
    HANDED_OVER = "handed_over"
    CANCELLED = "cancelled"


_ORDER_TRANSITIONS: dict[Trigger, dict[OrderStatus, OrderStatus]] = {
    Trigger.HELD: {OrderStatus.PLACED: OrderStatus.AWAITING_PAYMENT},
    Trigger.REFUSED: {OrderStatus.PLACED: OrderStatus.REJECTED},
    Trigger.PAID: {OrderStatus.AWAITING_PAYMENT: OrderStatus.CONFIRMED},
    Trigger.PAYMENT_FAILED: {OrderStatus.AWAITING_PAYMENT: OrderStatus.CANCELLED},
    Trigger.PAYMENT_OVERDUE: {OrderStatus.AWAITING_PAYMENT: OrderStatus.CANCELLED},
    Trigger.EVERY_PART_CANCELLED: {OrderStatus.CONFIRMED: OrderStatus.CANCELLED},
    Trigger.EVERY_PART_IN: {OrderStatus.CONFIRMED: OrderStatus.READY},
    Trigger.PICKED_UP: {OrderStatus.READY: OrderStatus.COMPLETED},
}

_PART_TRANSITIONS: dict[PartTrigger, dict[PartStatus, PartStatus]] = {
    PartTrigger.DROPPED_OFF: {PartStatus.PENDING: PartStatus.DROPPED_OFF},
    PartTrigger.HANDED_OVER: {PartStatus.PENDING: PartStatus.HANDED_OVER,
                              PartStatus.DROPPED_OFF: PartStatus.HANDED_OVER},
    PartTrigger.CANCELLED: {PartStatus.PENDING: PartStatus.CANCELLED,
                            PartStatus.DROPPED_OFF: PartStatus.CANCELLED},
}

SHOP_VISIBLE_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.READY, OrderStatus.COMPLETED)

REASON_PAYMENT_FAILED = "paiement refusé"
REASON_PAYMENT_OVERDUE = "délai de paiement dépassé"
REASON_EVERY_PART_CANCELLED = "les commerçants ont annulé toutes les parts de la commande"


def order_after(status: str, trigger: Trigger) -> OrderStatus | None:
    """The status ``trigger`` leads to, or None when it no longer applies."""
    return _ORDER_TRANSITIONS[trigger].get(OrderStatus(status))


def part_after(status: str, trigger: PartTrigger) -> PartStatus | None:
    return _PART_TRANSITIONS[trigger].get(PartStatus(status))


def is_payment_overdue(status: str, pay_by: datetime | None, now: datetime) -> bool:
    return status == OrderStatus.AWAITING_PAYMENT and pay_by is not None and pay_by <= now


def payment_after_refund(paid_cents: int | None, refunded_cents: int) -> PaymentStatus:
    if paid_cents is not None and refunded_cents < paid_cents:
        return PaymentStatus.PARTIALLY_REFUNDED
    return PaymentStatus.REFUNDED


def check_part_cancellable(order_status: str, part_status: str) -> None:
    """A shop may drop its part of a paid order only while the part is still to be prepared."""
    if order_status != OrderStatus.CONFIRMED:
        raise Conflict(f"a part can only be cancelled while the order is confirmed; "
                       f"this order is {order_status}")
    if part_status != PartStatus.PENDING:
        raise Conflict(f"only a pending part can be cancelled; this part is {part_status}")


def remaining_total(parts: Iterable[tuple[str, int]]) -> int:
    """The order's total over its (status, total) parts still to be supplied."""
    return sum(total for status, total in parts if status != PartStatus.CANCELLED)


def may_read_order(viewer: Principal, resident_id: UUID, works_at_its_hub: bool) -> bool:
    return viewer.user_id == resident_id or works_at_its_hub or viewer.is_platform_admin


class InvalidBasket(DomainError):
    status, code = 422, "invalid_basket"


class BasketLine(BaseModel):
    """A quantity of one variant of a product; the variant may go unnamed when the product is
    sold one way only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: UUID
    variant_id: UUID | None = None
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class Basket(BaseModel):
    """What a resident checks out. Lines naming the same variant are merged into one, whose
    quantity must still be at most MAX_QUANTITY."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hub_id: UUID
    slot_id: UUID
    lines: list[BasketLine] = Field(min_length=1, max_length=MAX_LINES)

    @field_validator("lines")
    @classmethod
    def _merge_duplicates(cls, lines: list[BasketLine]) -> list[BasketLine]:
        quantities: dict[tuple[UUID, UUID | None], int] = {}
        for line in lines:
            key = (line.product_id, line.variant_id)
            quantities[key] = quantities.get(key, 0) + line.quantity
        too_many = [str(v or p) for (p, v), q in quantities.items() if q > MAX_QUANTITY]
        if too_many:
            raise ValueError(f"at most {MAX_QUANTITY} of one product: {', '.join(too_many)}")
        return [BasketLine(product_id=p, variant_id=v, quantity=q)
                for (p, v), q in quantities.items()]

    def digest(self) -> str:
        """The same basket, whatever the order of its lines, has the same digest."""
        canonical = {"hub_id": str(self.hub_id), "slot_id": str(self.slot_id),
                     "lines": sorted([str(line.product_id), str(line.variant_id or ""),
                                      line.quantity] for line in self.lines)}
        return hashlib.sha256(json.dumps(canonical).encode()).hexdigest()


@dataclass(frozen=True)
class VariantOffer:
    id: UUID
    label: str
    price_cents: int
    available: bool


@dataclass(frozen=True)
class ProductOffer:
    """A product as the catalog last described it, with every variant of it."""

    id: UUID
    shop_id: UUID
    hub_id: UUID
    name: str
    available: bool
    variants: tuple[VariantOffer, ...]

    def on_sale(self) -> ProductOffer:
        """The product with its variants on sale only."""
        return replace(self, variants=tuple(v for v in self.variants if v.available))


class SlotChoice(Protocol):
    id: UUID
    hub_id: UUID
    starts_at: datetime


def article(name: str, variant_label: str) -> str:
    """A variant as residents and shops read it: "Miel · 500 g", or the product's name alone."""
    return f"{name} · {variant_label}" if variant_label else name


@dataclass(frozen=True)
class PricedLine:
    product_id: UUID
    variant_id: UUID
    shop_id: UUID
    name: str
    variant_label: str
    quantity: int
    unit_price_cents: int

    @property
    def total_cents(self) -> int:
        return self.quantity * self.unit_price_cents


@dataclass(frozen=True)
class PricedPart:
    shop_id: UUID
    lines: tuple[PricedLine, ...]

    @property
    def total_cents(self) -> int:
        return sum(line.total_cents for line in self.lines)


def price_basket(basket: Basket, *, hub_known: bool, slot: SlotChoice | None,
                 offers: Mapping[UUID, ProductOffer], now: datetime) -> list[PricedPart]:
    """The basket priced from the read models and split by shop, in the order of its lines;
    InvalidBasket names everything wrong with it at once."""
    if not hub_known:
        raise InvalidBasket(f"unknown hub {basket.hub_id}")
    problems = _slot_problems(basket, slot, now)
    lines: dict[UUID, PricedLine] = {}
    for wanted in basket.lines:
        offer = offers.get(wanted.product_id)
        variant, problem = _chosen_variant(basket.hub_id, wanted, offer)
        if problem:
            problems.append(problem)
            continue
        # A line naming the variant and one leaving it unnamed are the same variant.
        quantity = wanted.quantity + (lines[variant.id].quantity if variant.id in lines else 0)
        if quantity > MAX_QUANTITY:
            problems.append(f"at most {MAX_QUANTITY} of one product: {variant.id}")
        lines[variant.id] = PricedLine(offer.id, variant.id, offer.shop_id, offer.name,
                                       variant.label, quantity, variant.price_cents)
    if problems:
        raise InvalidBasket("; ".join(problems), details=problems)
    return _split_by_shop(list(lines.values()))


def _slot_problems(basket: Basket, slot: SlotChoice | None, now: datetime) -> list[str]:
    if slot is None:
        return [f"unknown slot {basket.slot_id}"]
    if slot.hub_id != basket.hub_id:
        return [f"slot {slot.id} is not a slot of hub {basket.hub_id}"]
    if slot.starts_at <= now:
        return [f"slot {slot.id} has already started"]
    return []


def _chosen_variant(hub_id: UUID, wanted: BasketLine,
                    offer: ProductOffer | None) -> tuple[VariantOffer | None, str | None]:
    """The variant the line asks for, or why it cannot be had."""
    product_id = wanted.product_id
    if offer is None:
        return None, f"unknown product {product_id}"
    if offer.hub_id != hub_id:
        return None, f"product {product_id} ({offer.name}) is not sold at hub {hub_id}"
    if not offer.available or not offer.variants:
        return None, f"product {product_id} ({offer.name}) is not available"
    if wanted.variant_id is None:
        if len(offer.variants) > 1:
            labels = ", ".join(variant.label for variant in offer.variants)
            return None, (f"product {product_id} ({offer.name}) comes in several variants "
                          f"({labels}): name one with variant_id")
        variant = offer.variants[0]
    else:
        variant = next((v for v in offer.variants if v.id == wanted.variant_id), None)
        if variant is None:
            return None, f"unknown variant {wanted.variant_id} of product {product_id} ({offer.name})"
    if not variant.available:
        return None, (f"variant {variant.id} ({article(offer.name, variant.label)}) "
                      "is not available")
    return variant, None


def _split_by_shop(lines: Sequence[PricedLine]) -> list[PricedPart]:
    by_shop: dict[UUID, list[PricedLine]] = {}
    for line in lines:
        by_shop.setdefault(line.shop_id, []).append(line)
    return [PricedPart(shop_id, tuple(shop_lines)) for shop_id, shop_lines in by_shop.items()]


def shortage_reasons(shortages: Iterable[tuple[UUID, str]], names: Mapping[UUID, str]) -> list[str]:
    """Each (variant id, reason) a reservation failed for, in words a resident can read."""
    return [f"{names.get(variant_id, 'un produit')} : {reason}" for variant_id, reason in shortages]
