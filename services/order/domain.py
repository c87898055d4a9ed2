"""The order service's rules, free of I/O: what a basket may hold, how it is priced and split into
one part per shop, who may read an order and who may act for a shop, the state machines of an
order and of its parts, and how a shop's sales add up month by month (in Paris time).

Events answer with "no change" (None) when a transition no longer applies, so a late or repeated
event is harmless; people asking for what the rules forbid get a DomainError.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from libs.auth.tokens import Principal
from libs.kit.errors import Conflict, DomainError
from libs.kit.months import Month

MAX_QUANTITY = 99
MAX_LINES = 100
LOW_STOCK = 5  # from this many left down, residents are told how many remain
HUB_ADMIN_ROLE = "admin"  # HubStaffAssigned's role for those who run the hub
PARIS = ZoneInfo("Europe/Paris")
MAX_SALES_MONTHS = 24
BEST_SELLERS = 5


class OrderStatus(StrEnum):
    PLACED = "placed"
    AWAITING_PAYMENT = "awaiting_payment"
    CONFIRMED = "confirmed"
    READY = "ready"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"  # ready, never collected: the goods went back to the shops


class PartStatus(StrEnum):
    PENDING = "pending"
    PREPARED = "prepared"  # the shop says so; staff may check in a part never marked
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
    NOT_COLLECTED = "not_collected"


class PartTrigger(StrEnum):
    PREPARED = "prepared"
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
    Trigger.NOT_COLLECTED: {OrderStatus.READY: OrderStatus.NO_SHOW},
}

_PART_TRANSITIONS: dict[PartTrigger, dict[PartStatus, PartStatus]] = {
    PartTrigger.PREPARED: {PartStatus.PENDING: PartStatus.PREPARED},
    PartTrigger.DROPPED_OFF: {PartStatus.PENDING: PartStatus.DROPPED_OFF,
                              PartStatus.PREPARED: PartStatus.DROPPED_OFF},
    PartTrigger.HANDED_OVER: {PartStatus.PENDING: PartStatus.HANDED_OVER,
                              PartStatus.PREPARED: PartStatus.HANDED_OVER,
                              PartStatus.DROPPED_OFF: PartStatus.HANDED_OVER},
    PartTrigger.CANCELLED: {PartStatus.PENDING: PartStatus.CANCELLED,
                            PartStatus.PREPARED: PartStatus.CANCELLED,
                            PartStatus.DROPPED_OFF: PartStatus.CANCELLED},
}
# Parts the shop may still give up or withdraw lines from: not yet at the hub.
PARTS_AT_THE_SHOP = (PartStatus.PENDING, PartStatus.PREPARED)

SHOP_VISIBLE_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.READY, OrderStatus.COMPLETED)

REASON_PAYMENT_FAILED = "paiement refusé"
REASON_PAYMENT_OVERDUE = "délai de paiement dépassé"
REASON_EVERY_PART_CANCELLED = "les commerçants ont annulé toutes les parts de la commande"


def order_after(status: str, trigger: Trigger) -> OrderStatus | None:
    """The status ``trigger`` leads to, or None when it no longer applies."""
    return _ORDER_TRANSITIONS[trigger].get(OrderStatus(status))


def part_after(status: str, trigger: PartTrigger) -> PartStatus | None:
    return _PART_TRANSITIONS[trigger].get(PartStatus(status))


def part_moves(trigger: PartTrigger) -> Mapping[PartStatus, PartStatus]:
    """Each status ``trigger`` applies to, and the status it leads to."""
    return _PART_TRANSITIONS[trigger]


def is_payment_overdue(status: str, pay_by: datetime | None, now: datetime) -> bool:
    return status == OrderStatus.AWAITING_PAYMENT and pay_by is not None and pay_by <= now


def payment_after_refund(paid_cents: int | None, refunded_cents: int) -> PaymentStatus:
    if paid_cents is not None and refunded_cents < paid_cents:
        return PaymentStatus.PARTIALLY_REFUNDED
    return PaymentStatus.REFUNDED


def check_part_cancellable(order_status: str, part_status: str) -> None:
    """A shop may drop its part of a paid order only while the part is still at the shop."""
    if order_status != OrderStatus.CONFIRMED:
        raise Conflict(f"a part can only be cancelled while the order is confirmed; "
                       f"this order is {order_status}")
    if part_status not in PARTS_AT_THE_SHOP:
        raise Conflict(f"only a pending or prepared part can be cancelled; this part is "
                       f"{part_status}")


def newly_prepared(order_status: str, part_status: str) -> bool:
    """Whether marking the part prepared changes it: False when it already is (marking twice is
    harmless); Conflict once the part left the shop or the order is not confirmed."""
    if part_status == PartStatus.PREPARED:
        return False
    if order_status != OrderStatus.CONFIRMED:
        raise Conflict(f"a part can only be marked prepared while the order is confirmed; "
                       f"this order is {order_status}")
    if part_status != PartStatus.PENDING:
        raise Conflict(f"only a pending part can be marked prepared; this part is {part_status}")
    return True


def check_lines_withdrawable(order_status: str, part_status: str) -> None:
    """Lines are withdrawn when their part could be cancelled: paid, not yet dropped off."""
    if order_status != OrderStatus.CONFIRMED:
        raise Conflict(f"lines can only be withdrawn while the order is confirmed; "
                       f"this order is {order_status}")
    if part_status not in PARTS_AT_THE_SHOP:
        raise Conflict(f"lines can only be withdrawn from a pending or prepared part; this "
                       f"part is {part_status}")


def withdrawal_digest(asked: Iterable[tuple[UUID, int]], reason: str) -> str:
    """The same withdrawal asked again, whatever the order of its lines, has the same digest."""
    wanted: dict[UUID, int] = defaultdict(int)
    for variant_id, quantity in asked:
        wanted[variant_id] += quantity
    canonical = {"lines": sorted([str(v), q] for v, q in wanted.items()), "reason": reason}
    return hashlib.sha256(json.dumps(canonical).encode()).hexdigest()


class InvalidWithdrawal(DomainError):
    status, code = 422, "invalid_withdrawal"


@dataclass(frozen=True)
class LineLeft:
    """A line of a part as it stands: what is still to be supplied of it, at its price."""

    variant_id: UUID
    article: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class Withdrawal:
    """Units withdrawn per variant, what they are refunded, and whether nothing of the part is
    left (then the part is cancelled instead)."""

    quantities: dict[UUID, int]
    amount_cents: int
    empties_part: bool


def withdraw(lines: Sequence[LineLeft], asked: Iterable[tuple[UUID, int]]) -> Withdrawal:
    """The units ``asked`` (variant, quantity; one variant named twice counts once, summed) out
    of a part's ``lines``; InvalidWithdrawal names every line that cannot give them."""
    wanted: dict[UUID, int] = defaultdict(int)
    for variant_id, quantity in asked:
        wanted[variant_id] += quantity
    by_variant = {line.variant_id: line for line in lines}
    problems = []
    for variant_id, quantity in wanted.items():
        line = by_variant.get(variant_id)
        if line is None:
            problems.append(f"no line of variant {variant_id} in this part")
        elif quantity > line.quantity:
            problems.append(f"only {line.quantity} of {line.article} left to withdraw: "
                            f"{quantity} asked for")
    if problems:
        raise InvalidWithdrawal("; ".join(problems), details=problems)
    amount = sum(quantity * by_variant[v].unit_price_cents for v, quantity in wanted.items())
    empties = all(wanted.get(line.variant_id, 0) == line.quantity for line in lines)
    if amount == 0 and not empties:
        # OrderLinesCancelled refunds something by definition; free lines go with their part.
        raise InvalidWithdrawal("free lines are given up with the whole part only")
    return Withdrawal(dict(wanted), amount, empties)


def remaining_total(parts: Iterable[tuple[str, int]]) -> int:
    """The order's total over its (status, total) parts still to be supplied."""
    return sum(total for status, total in parts if status != PartStatus.CANCELLED)


def may_read_order(viewer: Principal, resident_id: UUID, works_at_its_hub: bool) -> bool:
    return viewer.user_id == resident_id or works_at_its_hub or viewer.is_platform_admin


def may_act_for_shop(viewer: Principal, owner_id: UUID, runs_its_hub: bool) -> bool:
    """The merchants' association runs shops on their behalf: the administrators of the shop's
    hub and of the platform see and act on its parts as its owner does."""
    return viewer.user_id == owner_id or runs_its_hub or viewer.is_platform_admin


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
    """A variant as the read models last heard of it; ``stock`` is None while its level is not
    known (the catalog's reservation decides then, as it always does in the end)."""

    id: UUID
    label: str
    price_cents: int
    available: bool
    stock: int | None = None
    member_price_cents: int | None = None

    def price_for(self, member: bool) -> int:
        """What one unit costs a member of the hub, or anyone else."""
        if member and self.member_price_cents is not None:
            return min(self.member_price_cents, self.price_cents)
        return self.price_cents

    @property
    def sold_out(self) -> bool:
        return self.stock == 0

    @property
    def few_left(self) -> bool:
        return self.stock is not None and 0 < self.stock <= LOW_STOCK

    @property
    def max_quantity(self) -> int:
        return MAX_QUANTITY if self.stock is None else min(MAX_QUANTITY, self.stock)


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
    bookable_until: datetime | None
    closed: bool


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
                 offers: Mapping[UUID, ProductOffer], now: datetime,
                 member: bool = False) -> list[PricedPart]:
    """The basket priced from the read models and split by shop, in the order of its lines, at
    the member prices for a ``member`` of the hub; InvalidBasket names everything wrong with it
    at once."""
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
        elif quantity > variant.max_quantity:
            problems.append(f"only {variant.stock} left of product {offer.id} "
                            f"({article(offer.name, variant.label)}): {quantity} asked for")
        lines[variant.id] = PricedLine(offer.id, variant.id, offer.shop_id, offer.name,
                                       variant.label, quantity, variant.price_for(member))
    if problems:
        raise InvalidBasket("; ".join(problems), details=problems)
    return _split_by_shop(list(lines.values()))


def membership_page(hub_id: UUID) -> str:
    """The pickup service's page where a resident joins the hub (and pays its member prices)."""
    return f"/pickup/hubs/{hub_id}/adhesion"


class MembershipTerms(Protocol):
    started_at: datetime | None
    expires_at: datetime | None
    ended_at: datetime | None


def is_member(memberships: Iterable[MembershipTerms], now: datetime) -> bool:
    """Whether one of the resident's memberships of a hub holds at ``now``: started, not expired,
    and not ended since its latest start (an end before it closed an earlier term)."""
    return any(
        m.started_at is not None and m.started_at <= now
        and (m.expires_at is None or now < m.expires_at)
        and (m.ended_at is None or m.ended_at < m.started_at)
        for m in memberships)


def _slot_problems(basket: Basket, slot: SlotChoice | None, now: datetime) -> list[str]:
    if slot is None:
        return [f"unknown slot {basket.slot_id}"]
    if slot.hub_id != basket.hub_id:
        return [f"slot {slot.id} is not a slot of hub {basket.hub_id}"]
    if slot.closed:
        return [f"slot {slot.id} is closed"]
    if slot.starts_at <= now:
        return [f"slot {slot.id} has already started"]
    if slot.bookable_until is not None and slot.bookable_until <= now:
        return [f"slot {slot.id} starts too soon to be chosen (the hub's lead time)"]
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
    if variant.sold_out:
        return None, f"product {product_id} ({article(offer.name, variant.label)}) is sold out"
    return variant, None


def _split_by_shop(lines: Sequence[PricedLine]) -> list[PricedPart]:
    by_shop: dict[UUID, list[PricedLine]] = {}
    for line in lines:
        by_shop.setdefault(line.shop_id, []).append(line)
    return [PricedPart(shop_id, tuple(shop_lines)) for shop_id, shop_lines in by_shop.items()]


def shortage_reasons(shortages: Iterable[tuple[UUID, str]], names: Mapping[UUID, str]) -> list[str]:
    """Each (variant id, reason) a reservation failed for, in words a resident can read."""
    return [f"{names.get(variant_id, 'un produit')} : {reason}" for variant_id, reason in shortages]


# --- a shop's sales --------------------------------------------------------------------------


def statement_url(shop_id: UUID, month: Month) -> str:
    """The payment service's statement of the shop's month: commission and payouts are its to
    compute, ours to link to."""
    return f"/payments/shops/{shop_id}/statements/{month}"


class PartOutcome(StrEnum):
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    IN_PROGRESS = "in_progress"


def part_outcome(part_status: str, cancelled_at: datetime | None, order_status: str,
                 confirmed_at: datetime | None,
                 completed_at: datetime | None) -> tuple[PartOutcome, datetime] | None:
    """Where a shop's part of an order stands in its sales, and the moment that counts for its
    month: handed over (when the order was collected), given up by the shop (when it was), or
    paid and still to be collected (when it was paid). Parts of orders never paid count for
    nothing."""
    if part_status == PartStatus.CANCELLED:
        return (PartOutcome.CANCELLED, cancelled_at) if cancelled_at else None
    if order_status == OrderStatus.COMPLETED and completed_at:
        return PartOutcome.COMPLETED, completed_at
    if order_status in (OrderStatus.CONFIRMED, OrderStatus.READY) and confirmed_at:
        return PartOutcome.IN_PROGRESS, confirmed_at
    return None


@dataclass(frozen=True)
class SoldLine:
    product_id: UUID
    name: str
    quantity: int
    total_cents: int


@dataclass(frozen=True)
class SoldPart:
    """A shop's part of an order as its sales count it; ``order_total_cents`` is what the whole
    basket came to once parts given up were taken out."""

    outcome: PartOutcome
    counted_at: datetime
    total_cents: int
    order_total_cents: int
    lines: tuple[SoldLine, ...]


@dataclass(frozen=True)
class BestSeller:
    product_id: UUID
    name: str
    quantity: int
    sales_cents: int


@dataclass(frozen=True)
class MonthSales:
    """One month of a shop's sales. Gross sales, items and best sellers count collected parts
    only; ``average_basket_share`` is the mean fraction of their basket a collected part made."""

    month: Month
    orders: int
    items_sold: int
    gross_sales_cents: int
    cancelled_parts: int
    cancelled_cents: int
    parts_in_progress: int
    in_progress_cents: int
    average_part_cents: int | None
    average_basket_share: float | None
    best_sellers: tuple[BestSeller, ...]


def sales_by_month(parts: Iterable[SoldPart], months: Sequence[Month]) -> list[MonthSales]:
    """Every month of ``months``, empty ones included, from the parts counted in it."""
    by_month: dict[Month, list[SoldPart]] = defaultdict(list)
    for part in parts:
        by_month[Month.of(part.counted_at)].append(part)
    return [_month_sales(month, by_month.get(month, [])) for month in months]


def _month_sales(month: Month, parts: list[SoldPart]) -> MonthSales:
    completed = [p for p in parts if p.outcome == PartOutcome.COMPLETED]
    cancelled = [p for p in parts if p.outcome == PartOutcome.CANCELLED]
    in_progress = [p for p in parts if p.outcome == PartOutcome.IN_PROGRESS]
    gross = sum(p.total_cents for p in completed)
    shares = [p.total_cents / p.order_total_cents for p in completed if p.order_total_cents]
    return MonthSales(
        month=month, orders=len(parts),
        items_sold=sum(line.quantity for p in completed for line in p.lines),
        gross_sales_cents=gross,
        cancelled_parts=len(cancelled), cancelled_cents=sum(p.total_cents for p in cancelled),
        parts_in_progress=len(in_progress),
        in_progress_cents=sum(p.total_cents for p in in_progress),
        average_part_cents=round(gross / len(completed)) if completed else None,
        average_basket_share=round(sum(shares) / len(shares), 4) if shares else None,
        best_sellers=_best_sellers(line for p in completed for line in p.lines))


def _best_sellers(lines: Iterable[SoldLine]) -> tuple[BestSeller, ...]:
    """The products sold most (by quantity, then by sales), all their variants together."""
    quantities: dict[UUID, int] = defaultdict(int)
    sales: dict[UUID, int] = defaultdict(int)
    names: dict[UUID, str] = {}
    for line in lines:
        quantities[line.product_id] += line.quantity
        sales[line.product_id] += line.total_cents
        names.setdefault(line.product_id, line.name)
    ranked = sorted(quantities, key=lambda p: (-quantities[p], -sales[p], names[p]))
    return tuple(BestSeller(p, names[p], quantities[p], sales[p]) for p in ranked[:BEST_SELLERS])
