"""The order service's JSON API, under /orders/api/v1."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, ConfigDict, Field

from libs.auth.web import CurrentUser
from libs.kit.app import Runtime
from libs.kit.errors import DomainError
from libs.kit.months import Month
from services.order import use_cases
from services.order.domain import MAX_LINES, MAX_QUANTITY, Basket, MonthSales, statement_url
from services.order.tables import LineWithdrawal, OrderLine, OrderPart, Slot
from services.order.use_cases import OrderView, ShopPartView, utc_now

router = APIRouter(prefix="/api/v1", tags=["orders"])

MAX_KEY_LENGTH = 200


class PlacedOut(BaseModel):
    id: UUID
    status: str


class LineOut(BaseModel):
    product_id: UUID
    variant_id: UUID
    name: str
    variant_label: str = Field(description="Empty for a product sold one way only.")
    quantity: int = Field(description="Units the shop supplies.")
    unit_price_cents: int
    withdrawn_quantity: int = Field(default=0, description="Units the shop withdrew (refunded).")


class PartOut(BaseModel):
    shop_id: UUID
    shop_name: str
    status: str
    total_cents: int
    lines: list[LineOut]


class PaymentOut(BaseModel):
    id: UUID
    status: str


class PickupOut(BaseModel):
    slot_id: UUID
    code: str


class SlotOut(BaseModel):
    id: UUID
    starts_at: datetime
    ends_at: datetime
    label: str = Field(default="", description="the gathering it is held during, if any")


class OrderOut(BaseModel):
    id: UUID
    hub_id: UUID
    status: str
    total_cents: int
    parts: list[PartOut]
    payment: PaymentOut | None
    pickup: PickupOut | None = Field(description="Known once the hub scheduled the pickup.")
    slot: SlotOut | None
    reasons: list[str]
    placed_at: datetime
    pay_by: datetime | None


class CancellationOut(BaseModel):
    at: datetime
    by_user_id: UUID
    by_name: str
    for_shop: bool = Field(description="Given up by someone acting for the shop (an "
                                       "administrator of its hub or of the platform), not its "
                                       "owner.")
    reason: str


class WithdrawnLineOut(BaseModel):
    variant_id: UUID
    quantity: int


class WithdrawalOut(BaseModel):
    at: datetime
    by_user_id: UUID
    by_name: str
    for_shop: bool
    reason: str
    amount_cents: int = Field(description="Refunded to the resident.")
    lines: list[WithdrawnLineOut]
    whole_part: bool = Field(description="Nothing of the part was left: it was cancelled.")


class ShopPartOut(BaseModel):
    order_id: UUID
    order_status: str
    shop_id: UUID
    status: str
    total_cents: int
    slot: SlotOut | None
    lines: list[LineOut]
    cancellation: CancellationOut | None = Field(description="Who gave the part up, when and "
                                                             "why; null unless the shop did.")
    withdrawals: list[WithdrawalOut] = Field(default_factory=list,
                                             description="Lines the shop withdrew, oldest first.")


class BestSellerOut(BaseModel):
    product_id: UUID
    name: str
    quantity: int
    sales_cents: int


class MonthSalesOut(BaseModel):
    month: str = Field(description="YYYY-MM, in Paris time.")
    orders: int = Field(description="Orders with a part from the shop counted in the month: "
                                    "collected then, given up then, or paid then and still to "
                                    "be collected.")
    items_sold: int = Field(description="Units in the parts collected in the month.")
    gross_sales_cents: int = Field(description="What the parts collected in the month came to, "
                                               "before commission.")
    cancelled_parts: int
    cancelled_cents: int
    parts_in_progress: int = Field(description="Parts paid in the month, not collected yet.")
    in_progress_cents: int
    average_part_cents: int | None = Field(description="Mean amount of a collected part.")
    average_basket_share: float | None = Field(
        description="Mean fraction (0 to 1) of their whole basket the collected parts made.")
    best_sellers: list[BestSellerOut] = Field(description="At most 5 products, most units "
                                                          "collected first.")
    statement_url: str = Field(description="The payment service's statement of the month: "
                                           "commission and payouts.")


class SalesOut(BaseModel):
    shop_id: UUID
    months: list[MonthSalesOut]


class PartCancellation(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class LineToWithdraw(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variant_id: UUID
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class LinesWithdrawal(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    lines: list[LineToWithdraw] = Field(min_length=1, max_length=MAX_LINES)
    reason: str = Field(min_length=1, max_length=500)


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key",
                                              description="Required: one key per basket.")]
WithdrawalKey = Annotated[str | None, Header(
    alias="Idempotency-Key",
    description="Optional: the same key gives back the withdrawal it made, once.")]


@router.post("/orders", status_code=202, response_model=PlacedOut)
async def place_order(basket: Basket, runtime: Runtime, resident: CurrentUser,
                      idempotency_key: IdempotencyKey = None):
    """Check out a basket: lines of {product_id, variant_id, quantity}, ``variant_id`` required
    when the product comes in several variants. Lines naming one variant twice are merged (at
    most 99 in all). Repeating a request with the same Idempotency-Key returns the order it
    placed."""
    if not idempotency_key or len(idempotency_key) > MAX_KEY_LENGTH:
        raise DomainError(f"an Idempotency-Key header of 1 to {MAX_KEY_LENGTH} characters is "
                          "required, so that a repeated request places one order")
    order = await use_cases.place_order(runtime, resident, basket, idempotency_key)
    return PlacedOut(id=order.id, status=order.status)


@router.get("/orders", response_model=list[OrderOut])
async def list_my_orders(runtime: Runtime, resident: CurrentUser):
    """The caller's own orders, newest first (the latest 100)."""
    return [_order_out(view) for view in await use_cases.list_orders_of(runtime, resident)]


@router.get("/orders/{order_id}", response_model=OrderOut)
async def get_order(order_id: UUID, runtime: Runtime, viewer: CurrentUser):
    """For the order's resident, the staff of its hub and platform admins; 404 to anyone else."""
    return _order_out(await use_cases.get_order(runtime, viewer, order_id))


@router.get("/shops/{shop_id}/parts", response_model=list[ShopPartOut])
async def list_parts_to_prepare(shop_id: UUID, runtime: Runtime, viewer: CurrentUser):
    """The shop's parts of paid orders (confirmed, ready, completed): for its owner, the
    administrators of its hub and platform administrators."""
    shop_parts = await use_cases.parts_to_prepare(runtime, viewer, shop_id)
    return [_shop_part_out(view) for view in shop_parts.parts]


@router.post("/orders/{order_id}/parts/{shop_id}/prepared", response_model=ShopPartOut)
async def mark_part_prepared(order_id: UUID, shop_id: UUID, runtime: Runtime,
                             actor: CurrentUser):
    """The shop says its part is ready to be dropped off, while the order is confirmed and the
    part pending: its owner, or an administrator of its hub or of the platform acting for it.
    Saying it again changes nothing; once the part is dropped off, handed over or cancelled, or
    the order no longer confirmed: 409."""
    return _shop_part_out(await use_cases.mark_part_prepared(runtime, actor, order_id, shop_id))


@router.post("/orders/{order_id}/parts/{shop_id}/cancel", response_model=ShopPartOut)
async def cancel_part(order_id: UUID, shop_id: UUID, cancellation: PartCancellation,
                      runtime: Runtime, actor: CurrentUser):
    """The shop gives up its part while the order is confirmed and the part not yet dropped off
    (pending or prepared): its owner, or an administrator of its hub or of the platform acting
    for it (recorded on the part)."""
    view = await use_cases.cancel_part(runtime, actor, order_id, shop_id, cancellation.reason)
    return _shop_part_out(view)


@router.post("/orders/{order_id}/parts/{shop_id}/lines/cancel", response_model=ShopPartOut)
async def withdraw_lines(order_id: UUID, shop_id: UUID, withdrawal: LinesWithdrawal,
                         runtime: Runtime, actor: CurrentUser,
                         idempotency_key: WithdrawalKey = None):
    """The shop withdraws units of some lines of its part (the rest is prepared) while the order
    is confirmed and the part pending or prepared: its owner, or an administrator of its hub or of the
    platform acting for it (recorded on the part). The units are refunded and released.
    Withdrawing all that is left of the part cancels the part. More than is left of a line, or a
    line not in the part: 422."""
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_KEY_LENGTH:
        raise DomainError(f"an Idempotency-Key has 1 to {MAX_KEY_LENGTH} characters")
    view = await use_cases.withdraw_lines(
        runtime, actor, order_id, shop_id,
        [(line.variant_id, line.quantity) for line in withdrawal.lines], withdrawal.reason,
        idempotency_key)
    return _shop_part_out(view)


@router.get("/shops/{shop_id}/sales", response_model=SalesOut)
async def shop_sales(shop_id: UUID, runtime: Runtime, viewer: CurrentUser,
                     first: Annotated[str | None, Query(alias="from", examples=["2026-01"])] = None,
                     last: Annotated[str | None, Query(alias="to", examples=["2026-03"])] = None):
    """The shop's sales month by month, ``from`` to ``to`` (YYYY-MM, Paris time, at most 24
    months; both default to this month): for its owner, the administrators of its hub and
    platform administrators. A part counts in one month: the month its order was collected
    (sold), the month the shop gave it up (cancelled), or, while it waits to be collected, the
    month it was paid (in progress). Commission and payouts are the payment service's."""
    last_month = Month.parse(last) if last else Month.of(utc_now())
    first_month = Month.parse(first) if first else last_month
    sales = await use_cases.shop_sales(runtime, viewer, shop_id, first_month, last_month)
    return SalesOut(shop_id=shop_id, months=[_month_sales_out(shop_id, m) for m in sales.months])


def _order_out(view: OrderView) -> OrderOut:
    order = view.order
    return OrderOut(
        id=order.id, hub_id=order.hub_id, status=order.status, total_cents=order.total_cents,
        parts=[PartOut(shop_id=p.part.shop_id, shop_name=p.shop_name, status=p.part.status,
                       total_cents=p.part.total_cents, lines=_lines_out(p.lines))
               for p in view.parts],
        payment=(PaymentOut(id=order.payment_id, status=order.payment_status)
                 if order.payment_id else None),
        pickup=(PickupOut(slot_id=order.slot_id, code=order.pickup_code)
                if order.pickup_code else None),
        slot=_slot_out(view.slot), reasons=order.reasons, placed_at=order.placed_at,
        pay_by=order.pay_by,
    )


def _shop_part_out(view: ShopPartView) -> ShopPartOut:
    return ShopPartOut(order_id=view.order.id, order_status=view.order.status,
                       shop_id=view.part.shop_id, status=view.part.status,
                       total_cents=view.part.total_cents, slot=_slot_out(view.slot),
                       lines=_lines_out(view.lines), cancellation=_cancellation_out(view.part),
                       withdrawals=[_withdrawal_out(w) for w in view.withdrawals])


def _withdrawal_out(withdrawal: LineWithdrawal) -> WithdrawalOut:
    return WithdrawalOut(
        at=withdrawal.at, by_user_id=withdrawal.by_id, by_name=withdrawal.by_name,
        for_shop=withdrawal.for_shop, reason=withdrawal.reason,
        amount_cents=withdrawal.amount_cents, whole_part=withdrawal.whole_part,
        lines=[WithdrawnLineOut(variant_id=UUID(variant_id), quantity=quantity)
               for variant_id, quantity in withdrawal.quantities.items()])


def _cancellation_out(part: OrderPart) -> CancellationOut | None:
    if part.cancelled_by_id is None:
        return None
    return CancellationOut(at=part.cancelled_at, by_user_id=part.cancelled_by_id,
                           by_name=part.cancelled_by_name, for_shop=part.cancelled_for_shop,
                           reason=part.cancellation_reason)


def _month_sales_out(shop_id: UUID, sales: MonthSales) -> MonthSalesOut:
    return MonthSalesOut(
        month=str(sales.month), orders=sales.orders, items_sold=sales.items_sold,
        gross_sales_cents=sales.gross_sales_cents, cancelled_parts=sales.cancelled_parts,
        cancelled_cents=sales.cancelled_cents, parts_in_progress=sales.parts_in_progress,
        in_progress_cents=sales.in_progress_cents, average_part_cents=sales.average_part_cents,
        average_basket_share=sales.average_basket_share,
        best_sellers=[BestSellerOut(product_id=b.product_id, name=b.name, quantity=b.quantity,
                                    sales_cents=b.sales_cents) for b in sales.best_sellers],
        statement_url=statement_url(shop_id, sales.month))


def _lines_out(lines: list[OrderLine]) -> list[LineOut]:
    return [LineOut(product_id=line.product_id, variant_id=line.variant_id, name=line.name,
                    variant_label=line.variant_label, quantity=line.quantity,
                    unit_price_cents=line.unit_price_cents,
                    withdrawn_quantity=line.withdrawn_quantity) for line in lines]


def _slot_out(slot: Slot | None) -> SlotOut | None:
    if slot is None:
        return None
    return SlotOut(id=slot.id, starts_at=slot.starts_at, ends_at=slot.ends_at, label=slot.label)
