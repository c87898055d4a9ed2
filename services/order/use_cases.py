"""What the order service does: place orders, move them along the saga as events arrive, expire
the unpaid ones, let shops (or the association acting for them) mark their parts prepared or
cancel them; and the reads its API and pages show, a shop's sales among them.

Every change to an order first locks the order's row (SELECT ... FOR UPDATE on PostgreSQL, or
the UPDATE ... RETURNING that makes the change and reads the order back; SQLite serialises writers
anyway), so two events racing for one order (StockReserved and SlotHeld, or a payment and the
expiry sweep) apply one after the other and only one transition wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy import and_, case, delete, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.auth.tokens import Principal
from libs.contracts.catalog import (
    ProductChanged,
    ProductListed,
    ShopOpened,
    ShopStatusChanged,
    StockLevelChanged,
    StockReservationFailed,
    StockReserved,
)
from libs.contracts.order import (
    OrderCancelled,
    OrderCompleted,
    OrderConfirmed,
    OrderLinesCancelled,
    OrderPartCancelled,
    OrderPartPrepared,
    OrderPlaced,
    OrderReady,
    OrderRejected,
    PaymentRequested,
)
from libs.contracts.order import OrderLine as LineContract
from libs.contracts.order import OrderPart as PartContract
from libs.contracts.payment import PaymentFailed, PaymentStarted, PaymentSucceeded, RefundIssued
from libs.contracts.pickup import (
    HubOpened,
    HubStaffAssigned,
    MembershipEnded,
    MembershipStarted,
    NoShowRecorded,
    PartDroppedOff,
    PickedUp,
    PickupReady,
    PickupScheduled,
    SlotClosed,
    SlotHeld,
    SlotOpened,
    SlotUnavailable,
)
from libs.kit.errors import Conflict, Forbidden, NotFound
from libs.kit.months import months_from
from libs.kit.runtime import ServiceRuntime, UnitOfWork
from libs.sqltypes import conflict_insert
from services.order.domain import (
    HUB_ADMIN_ROLE,
    MAX_SALES_MONTHS,
    REASON_EVERY_PART_CANCELLED,
    REASON_PAYMENT_FAILED,
    REASON_PAYMENT_OVERDUE,
    SHOP_VISIBLE_STATUSES,
    Basket,
    InvalidBasket,
    LineLeft,
    Month,
    MonthSales,
    OrderStatus,
    PartStatus,
    PartTrigger,
    PaymentStatus,
    PricedPart,
    ProductOffer,
    SoldLine,
    SoldPart,
    Trigger,
    VariantOffer,
    Withdrawal,
    article,
    check_lines_withdrawable,
    check_part_cancellable,
    is_member,
    is_payment_overdue,
    may_act_for_shop,
    may_read_order,
    newly_prepared,
    order_after,
    part_after,
    part_moves,
    part_outcome,
    payment_after_refund,
    price_basket,
    remaining_total,
    sales_by_month,
    shortage_reasons,
    withdraw,
    withdrawal_digest,
)
from services.order.metrics import count_once_committed, note_waiting
from services.order.tables import (
    Hub,
    HubStaff,
    LineWithdrawal,
    Membership,
    Order,
    OrderLine,
    OrderPart,
    Product,
    ProductVariant,
    Shop,
    Slot,
    VariantStock,
)

MAX_LISTED_ORDERS = 100
LINE_ORDER = (OrderLine.name, OrderLine.variant_label)
MAX_OFFERED_SLOTS = 50
SWEEP_BATCH = 500


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PartView:
    part: OrderPart
    shop_name: str
    lines: list[OrderLine]


@dataclass(frozen=True)
class OrderView:
    order: Order
    slot: Slot | None
    parts: list[PartView]


@dataclass(frozen=True)
class ShopPartView:
    """One shop's part of an order, as the shop prepares it, with the lines it withdrew."""

    order: Order
    slot: Slot | None
    part: OrderPart
    lines: list[OrderLine]
    withdrawals: list[LineWithdrawal] = field(default_factory=list)


@dataclass(frozen=True)
class ShopParts:
    """A shop's parts of paid orders; ``for_shop`` when the viewer acts for the shop rather than
    owning it."""

    shop: Shop
    for_shop: bool
    parts: list[ShopPartView]


@dataclass(frozen=True)
class ShopSales:
    shop: Shop
    for_shop: bool
    months: list[MonthSales]


@dataclass(frozen=True)
class ShopOffer:
    shop_id: UUID
    shop_name: str
    products: list[ProductOffer]


@dataclass(frozen=True)
class HubOffer:
    """What a resident may put in a basket at a hub, and when they may collect it; ``member``
    when they are a member of the hub (they pay its member prices)."""

    hub: Hub
    shops: list[ShopOffer]
    slots: list[Slot]
    member: bool = False


# --- read models ---------------------------------------------------------------------------


async def record_hub(event: HubOpened, uow: UnitOfWork) -> None:
    await _upsert(uow.session, Hub, event.hub_id, id=event.hub_id, name=event.name,
                  town=event.town)


async def record_hub_staff(event: HubStaffAssigned, uow: UnitOfWork) -> None:
    await _upsert(uow.session, HubStaff, (event.hub_id, event.user_id), hub_id=event.hub_id,
                  user_id=event.user_id, role=event.role)


async def record_slot(event: SlotOpened, uow: UnitOfWork) -> None:
    await _upsert(uow.session, Slot, event.slot_id, id=event.slot_id, hub_id=event.hub_id,
                  starts_at=event.starts_at, ends_at=event.ends_at,
                  bookable_until=event.bookable_until, gathering_id=event.gathering_id,
                  label=event.label)


async def record_slot_closed(event: SlotClosed, uow: UnitOfWork) -> None:
    slot = await uow.session.get(Slot, event.slot_id)
    if slot is not None:
        slot.closed = True


async def record_shop(event: ShopOpened, uow: UnitOfWork) -> None:
    await _upsert(uow.session, Shop, event.shop_id, id=event.shop_id, hub_id=event.hub_id,
                  name=event.name, owner_id=event.owner_id)


async def record_shop_status(event: ShopStatusChanged, uow: UnitOfWork) -> None:
    """Events of one shop arrive in order, after its ShopOpened: an unknown shop is not ours."""
    shop = await uow.session.get(Shop, event.shop_id)
    if shop is not None:
        shop.status = event.status


async def record_product(event: ProductListed | ProductChanged, uow: UnitOfWork) -> None:
    """The product as the catalog describes it, its variants exactly those the event names."""
    session = uow.session
    await _upsert(session, Product, event.product_id, id=event.product_id, shop_id=event.shop_id,
                  hub_id=event.hub_id, name=event.name, available=event.available)
    named = [variant.variant_id for variant in event.variants]
    await session.execute(delete(ProductVariant).where(
        col(ProductVariant.product_id) == event.product_id,
        col(ProductVariant.id).not_in(named)))
    for position, variant in enumerate(event.variants):
        await _upsert(session, ProductVariant, variant.variant_id, id=variant.variant_id,
                      product_id=event.product_id, label=variant.label,
                      price_cents=variant.price_cents,
                      member_price_cents=variant.member_price_cents,
                      available=variant.available, position=position)


async def record_stock_level(event: StockLevelChanged, uow: UnitOfWork) -> None:
    """The highest revision wins, whatever order the levels arrive in (one statement, so two
    deliveries racing on PostgreSQL cannot both insert); a level for a variant not known yet is
    kept for when its product is."""
    await uow.session.execute(_STOCK_LEVEL_UPSERTS[uow.session.bind.dialect.name], {
        "variant_id": event.variant_id, "product_id": event.product_id,
        "available": event.available, "revision": event.revision})


def _stock_level_upsert(dialect):
    table = VariantStock.__table__
    statement = dialect.insert(table)
    return statement.on_conflict_do_update(
        index_elements=[table.c.variant_id],
        set_={"available": statement.excluded.available, "revision": statement.excluded.revision},
        where=table.c.revision < statement.excluded.revision)


# Built once (two per checkout, one per variant): only the values change.
_STOCK_LEVEL_UPSERTS = {"postgresql": _stock_level_upsert(postgresql),
                        "sqlite": _stock_level_upsert(sqlite)}


async def record_membership_started(event: MembershipStarted, uow: UnitOfWork) -> None:
    """The latest start wins with its expiry, whatever came before (an end included: it stays,
    and tells whether it closed this term or an earlier one)."""
    table = Membership.__table__
    statement = conflict_insert(uow.session, table).values(
        id=event.membership_id, hub_id=event.hub_id, resident_id=event.resident_id,
        started_at=event.started_at, expires_at=event.expires_at)
    await uow.session.execute(statement.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={"started_at": statement.excluded.started_at,
              "expires_at": statement.excluded.expires_at},
        where=or_(table.c.started_at.is_(None),
                  table.c.started_at <= statement.excluded.started_at)))


async def record_membership_ended(event: MembershipEnded, uow: UnitOfWork) -> None:
    """The latest end is kept; one arriving before its start is kept for it."""
    table = Membership.__table__
    statement = conflict_insert(uow.session, table).values(
        id=event.membership_id, hub_id=event.hub_id, resident_id=event.resident_id,
        ended_at=event.ended_at)
    await uow.session.execute(statement.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={"ended_at": statement.excluded.ended_at},
        where=or_(table.c.ended_at.is_(None), table.c.ended_at < statement.excluded.ended_at)))


async def _member_of_hub(session: AsyncSession, resident_id: UUID, hub_id: UUID,
                       now: datetime) -> bool:
    memberships = (await session.exec(select(Membership).where(
        Membership.resident_id == resident_id, Membership.hub_id == hub_id))).all()
    return is_member(memberships, now)


async def _upsert(session: AsyncSession, model: type, key, **values) -> None:
    row = await session.get(model, key)
    if row is None:
        session.add(model(**values))
        return
    for name, value in values.items():
        setattr(row, name, value)


# --- placing an order ----------------------------------------------------------------------


async def place_order(runtime: ServiceRuntime, resident: Principal, basket: Basket,
                      idempotency_key: str) -> Order:
    """The order placed under ``idempotency_key`` by this resident: placed now, or the one placed
    before with the same basket (a repeated request); the same key with another basket is a
    conflict."""
    digest = basket.digest()
    try:
        async with runtime.unit_of_work() as uow:
            return await _new_order(uow, resident, basket, idempotency_key, digest)
    except (IntegrityError, InvalidBasket):
        # The key is looked for only when the order cannot be placed: the unique key refused it
        # (a repeated request, or on PostgreSQL a concurrent one), or the basket is no longer
        # valid (a repeated request finds its order all the same).
        async with runtime.database.sessions() as session:
            placed = await _order_by_key(session, resident.user_id, idempotency_key)
        if placed is None:
            raise
        return _same_basket(placed, digest)


async def _order_by_key(session: AsyncSession, resident_id: UUID, key: str) -> Order | None:
    query = select(Order).where(Order.resident_id == resident_id, Order.idempotency_key == key)
    return (await session.exec(query)).first()


def _same_basket(order: Order, digest: str) -> Order:
    if order.basket_digest != digest:
        raise Conflict("this Idempotency-Key was already used for another basket; "
                       "use a new key for a new order")
    return order


async def _new_order(uow: UnitOfWork, resident: Principal, basket: Basket, key: str,
                     digest: str) -> Order:
    session, now = uow.session, utc_now()
    offers = {offer.id: offer for offer in await _offers(
        session, col(Product.id).in_({line.product_id for line in basket.lines}))}
    hub_known, slot, memberships = await _hub_slot_and_memberships(session, basket,
                                                                   resident.user_id)
    parts = price_basket(basket, hub_known=hub_known, slot=slot, offers=offers, now=now,
                         member=is_member(memberships, now))
    order = Order(id=uuid4(), hub_id=basket.hub_id, slot_id=basket.slot_id,
                  resident_id=resident.user_id, resident_email=resident.email,
                  idempotency_key=key, basket_digest=digest, correlation_id=uow.correlation_id,
                  status=OrderStatus.PLACED, total_cents=sum(p.total_cents for p in parts),
                  placed_at=now, updated_at=now)
    # Inserted at the commit, the order before its parts (the unit of work follows the keys).
    session.add(order)
    count_once_committed(order, now)
    session.add_all(_part_rows(order.id, parts))
    await uow.emit(OrderPlaced(
        order_id=order.id, hub_id=order.hub_id, slot_id=order.slot_id,
        resident_id=order.resident_id, resident_email=order.resident_email,
        parts=[_priced_contract(p) for p in parts], total_cents=order.total_cents))
    return order


async def _hub_slot_and_memberships(
        session: AsyncSession, basket: Basket,
        resident_id: UUID) -> tuple[bool, Slot | None, list[Membership]]:
    """Whether the basket's hub is known, its slot, and the resident's memberships of the hub:
    one query, a row per membership (one with none when there is none)."""
    rows = (await session.exec(
        select(Hub.id, Slot, Membership).select_from(Hub)
        .outerjoin(Slot, col(Slot.id) == basket.slot_id)
        .outerjoin(Membership, and_(col(Membership.hub_id) == Hub.id,
                                    col(Membership.resident_id) == resident_id))
        .where(Hub.id == basket.hub_id))).all()
    if not rows:
        return False, None, []
    return True, rows[0][1], [membership for _, _, membership in rows if membership is not None]


def _part_rows(order_id: UUID, parts: Sequence[PricedPart]) -> list[OrderPart | OrderLine]:
    rows: list[OrderPart | OrderLine] = []
    for part in parts:
        rows.append(OrderPart(order_id=order_id, shop_id=part.shop_id, status=PartStatus.PENDING,
                              total_cents=part.total_cents))
        rows.extend(OrderLine(order_id=order_id, product_id=line.product_id,
                              variant_id=line.variant_id, shop_id=line.shop_id, name=line.name,
                              variant_label=line.variant_label, quantity=line.quantity,
                              unit_price_cents=line.unit_price_cents) for line in part.lines)
    return rows


def _priced_contract(part: PricedPart) -> PartContract:
    return PartContract(shop_id=part.shop_id, total_cents=part.total_cents, lines=[
        LineContract(product_id=line.product_id, variant_id=line.variant_id, shop_id=line.shop_id,
                     name=line.name, variant_label=line.variant_label, quantity=line.quantity,
                     unit_price_cents=line.unit_price_cents)
        for line in part.lines])


# --- the saga ------------------------------------------------------------------------------


async def note_stock_reserved(event: StockReserved, uow: UnitOfWork) -> None:
    await _request_payment_once_held(uow, event.order_id, stock_reserved=True)


async def note_slot_held(event: SlotHeld, uow: UnitOfWork) -> None:
    await _request_payment_once_held(uow, event.order_id, slot_held=True)


async def _request_payment_once_held(uow: UnitOfWork, order_id: UUID, **held: bool) -> None:
    """Notes one hold; the second asks for the payment. The update locks the row, so of two holds
    racing on PostgreSQL the later sees the other committed."""
    order = await _update_order(uow.session, order_id, **held)
    if (order is None or not (order.stock_reserved and order.slot_held)
            or not _move(order, Trigger.HELD)):
        return
    order.pay_by = order.updated_at + timedelta(seconds=uow.settings.payment_delay_s)
    await uow.emit(PaymentRequested(
        order_id=order.id, hub_id=order.hub_id, resident_id=order.resident_id,
        total_cents=order.total_cents, parts=await _live_parts(uow.session, order.id),
        pay_by=order.pay_by))


async def reject_for_shortages(event: StockReservationFailed, uow: UnitOfWork) -> None:
    order = await _order_for_update(uow.session, event.order_id)
    if order is None:
        return
    names = {line.variant_id: article(line.name, line.variant_label)
             for line in await _lines(uow.session, order.id)}
    shortages = [(short.variant_id, short.reason) for short in event.shortages]
    await _reject(order, uow, shortage_reasons(shortages, names))


async def reject_for_unavailable_slot(event: SlotUnavailable, uow: UnitOfWork) -> None:
    order = await _order_for_update(uow.session, event.order_id)
    if order is not None:
        await _reject(order, uow, [f"créneau indisponible : {event.reason}"])


async def _reject(order: Order, uow: UnitOfWork, reasons: list[str]) -> None:
    if not _move(order, Trigger.REFUSED):
        return
    order.reasons = reasons
    await _close_parts(uow.session, order.id)
    await uow.emit(OrderRejected(order_id=order.id, reasons=reasons))


async def note_payment_started(event: PaymentStarted, uow: UnitOfWork) -> None:
    await _update_order(uow.session, event.order_id, payment_id=event.payment_id,
                        payment_amount_cents=event.amount_cents,
                        payment_status=func.coalesce(Order.payment_status, PaymentStatus.PENDING))


async def confirm_paid_order(event: PaymentSucceeded, uow: UnitOfWork) -> None:
    order = await _update_order(uow.session, event.order_id, payment_id=event.payment_id,
                                payment_amount_cents=event.amount_cents,
                                payment_status=PaymentStatus.SUCCEEDED)
    if order is not None and _move(order, Trigger.PAID):
        order.confirmed_at = order.updated_at
        await uow.emit(OrderConfirmed(
            order_id=order.id, hub_id=order.hub_id, slot_id=order.slot_id,
            resident_id=order.resident_id, parts=await _live_parts(uow.session, order.id),
            total_cents=order.total_cents))


async def cancel_for_failed_payment(event: PaymentFailed, uow: UnitOfWork) -> None:
    order = await _update_order(uow.session, event.order_id, payment_id=event.payment_id,
                                payment_status=PaymentStatus.FAILED)
    if order is not None:
        await _cancel(order, uow, Trigger.PAYMENT_FAILED, REASON_PAYMENT_FAILED)


async def note_refund(event: RefundIssued, uow: UnitOfWork) -> None:
    order = await _order_for_update(uow.session, event.order_id)
    if order is None:
        return
    order.refunded_cents += event.amount_cents
    order.payment_status = payment_after_refund(order.payment_amount_cents, order.refunded_cents)


async def note_pickup_code(event: PickupScheduled, uow: UnitOfWork) -> None:
    await _update_order(uow.session, event.order_id, pickup_code=event.code)


async def note_part_dropped_off(event: PartDroppedOff, uow: UnitOfWork) -> None:
    order = await _order_for_update(uow.session, event.order_id)
    part = await uow.session.get(OrderPart, (event.order_id, event.shop_id)) if order else None
    if part is not None:
        part.status = part_after(part.status, PartTrigger.DROPPED_OFF) or part.status


async def make_order_ready(event: PickupReady, uow: UnitOfWork) -> None:
    order = await _order_for_update(uow.session, event.order_id)
    if order is not None and _move(order, Trigger.EVERY_PART_IN):
        await uow.emit(OrderReady(order_id=order.id))


async def complete_order(event: PickedUp, uow: UnitOfWork) -> None:
    order = await _order_for_update(uow.session, event.order_id)
    if order is None or not _move(order, Trigger.PICKED_UP):
        return
    order.completed_at = order.updated_at
    await _move_parts(uow.session, order.id, PartTrigger.HANDED_OVER)
    await uow.emit(OrderCompleted(order_id=order.id, completed_at=order.updated_at))


async def record_no_show(event: NoShowRecorded, uow: UnitOfWork) -> None:
    """The resident never came: the order is not collected (pickup's policy gives the goods
    back to the shops, payment refunds by the hub's rate)."""
    order = await _order_for_update(uow.session, event.order_id)
    if order is not None:
        _move(order, Trigger.NOT_COLLECTED)


async def expire_unpaid_orders(runtime: ServiceRuntime) -> None:
    """Cancel the orders still awaiting payment after their pay_by, each in its own transaction
    (a PaymentSucceeded racing the sweep for one order waits on the row lock; one of them wins)."""
    now = utc_now()
    async with runtime.database.sessions() as session:
        overdue = (await session.exec(
            select(Order.id)
            .where(Order.status == OrderStatus.AWAITING_PAYMENT, col(Order.pay_by) <= now)
            .order_by(col(Order.pay_by)).limit(SWEEP_BATCH))).all()
    for order_id in overdue:
        async with runtime.unit_of_work() as uow:
            order = await _order_for_update(uow.session, order_id)
            if order is not None and is_payment_overdue(order.status, order.pay_by, now):
                uow.correlation_id = order.correlation_id
                await _cancel(order, uow, Trigger.PAYMENT_OVERDUE, REASON_PAYMENT_OVERDUE)


async def measure_waiting_sagas(runtime: ServiceRuntime) -> None:
    """How long the oldest order has waited on the saga: an order stays ``placed`` only until
    catalog and pickup answer, and ``awaiting_payment`` past its pay-by only until the sweep."""
    now = utc_now()
    # One statement; each of its minimums reads one end of an index on (status, time).
    oldest_placed = (select(func.min(Order.placed_at))
                     .where(Order.status == OrderStatus.PLACED).scalar_subquery())
    oldest_overdue = (select(func.min(Order.pay_by))
                      .where(Order.status == OrderStatus.AWAITING_PAYMENT,
                             col(Order.pay_by) <= now).scalar_subquery())
    async with runtime.database.read_sessions() as session:
        oldest_placed, oldest_overdue = (
            await session.execute(select(oldest_placed, oldest_overdue))).one()
    note_waiting("placed", oldest_placed, now)
    note_waiting("payment_overdue", oldest_overdue, now)


async def cancel_part(runtime: ServiceRuntime, actor: Principal, order_id: UUID, shop_id: UUID,
                      reason: str) -> ShopPartView:
    """The shop cannot supply its part: refunded and released; the last part takes the order.
    The part records who gave it up, the owner or someone acting for the shop."""
    async with runtime.unit_of_work() as uow:
        shop, for_shop = await _shop_run_by(uow.session, actor, shop_id)
        order, part = await _part_for_update(uow.session, order_id, shop_id)
        check_part_cancellable(order.status, part.status)
        uow.correlation_id = order.correlation_id
        lines = await _lines(uow.session, order_id, shop_id)
        await _give_up_part(uow, actor, shop, for_shop, order, part, lines, reason)
        slot = await uow.session.get(Slot, order.slot_id)
        withdrawals = await _withdrawals_of(uow.session, [order_id], shop_id)
    return ShopPartView(order, slot, part, lines, withdrawals.get(order_id, []))


async def mark_part_prepared(runtime: ServiceRuntime, actor: Principal, order_id: UUID,
                             shop_id: UUID) -> ShopPartView:
    """The shop says its part is ready to be dropped off at the hub; saying it again changes
    nothing."""
    async with runtime.unit_of_work() as uow:
        await _shop_run_by(uow.session, actor, shop_id)
        order, part = await _part_for_update(uow.session, order_id, shop_id)
        if newly_prepared(order.status, part.status):
            uow.correlation_id = order.correlation_id
            part.status = part_after(part.status, PartTrigger.PREPARED)
            order.updated_at = utc_now()
            await uow.emit(OrderPartPrepared(order_id=order_id, shop_id=shop_id,
                                             prepared_at=order.updated_at))
        lines = await _lines(uow.session, order_id, shop_id)
        slot = await uow.session.get(Slot, order.slot_id)
        withdrawals = await _withdrawals_of(uow.session, [order_id], shop_id)
    return ShopPartView(order, slot, part, lines, withdrawals.get(order_id, []))


async def withdraw_lines(runtime: ServiceRuntime, actor: Principal, order_id: UUID,
                         shop_id: UUID, asked: list[tuple[UUID, int]], reason: str,
                         idempotency_key: str | None) -> ShopPartView:
    """The shop cannot supply some units of its lines but prepares the rest: those units are
    refunded and released, the part stays expected. Withdrawing all that is left of the part
    cancels it (as cancel_part does). The same Idempotency-Key finds the withdrawal it made
    (another request under it is a conflict)."""
    digest = withdrawal_digest(asked, reason)
    async with runtime.unit_of_work() as uow:
        session = uow.session
        shop, for_shop = await _shop_run_by(session, actor, shop_id)
        order, part = await _part_for_update(session, order_id, shop_id)
        made = await _withdrawal_by_key(session, order_id, shop_id, idempotency_key)
        if made is not None and made.request_digest != digest:
            raise Conflict("this Idempotency-Key was already used for another withdrawal; "
                           "use a new key for a new one")
        lines = await _lines(session, order_id, shop_id)
        if made is None:
            check_lines_withdrawable(order.status, part.status)
            withdrawal = withdraw([LineLeft(line.variant_id, article(line.name, line.variant_label),
                                            line.quantity, line.unit_price_cents)
                                   for line in lines if line.quantity > 0], asked)
            uow.correlation_id = order.correlation_id
            session.add(LineWithdrawal(
                id=uuid4(), order_id=order_id, shop_id=shop_id, idempotency_key=idempotency_key,
                request_digest=digest, quantities={str(v): q for v, q in
                                                   withdrawal.quantities.items()},
                amount_cents=withdrawal.amount_cents, whole_part=withdrawal.empties_part,
                reason=reason, at=utc_now(), by_id=actor.user_id,
                by_name=actor.name or actor.email, for_shop=for_shop))
            if withdrawal.empties_part:
                await _give_up_part(uow, actor, shop, for_shop, order, part, lines, reason)
            else:
                await _take_out_units(uow, order, part, lines, withdrawal, reason)
        slot = await session.get(Slot, order.slot_id)
        withdrawals = await _withdrawals_of(session, [order_id], shop_id)
    return ShopPartView(order, slot, part, lines, withdrawals.get(order_id, []))


async def _give_up_part(uow: UnitOfWork, actor: Principal, shop: Shop, for_shop: bool,
                        order: Order, part: OrderPart, lines: list[OrderLine],
                        reason: str) -> None:
    now = utc_now()
    part.status, part.cancelled_at, part.cancellation_reason = PartStatus.CANCELLED, now, reason
    part.cancelled_by_id, part.cancelled_by_name = actor.user_id, actor.name or actor.email
    part.cancelled_for_shop = for_shop
    parts = await _parts(uow.session, order.id)
    order.total_cents = remaining_total((p.status, p.total_cents) for p in parts)
    order.reasons = [*order.reasons, f"{shop.name} : {reason}"]
    order.updated_at = now
    await uow.emit(OrderPartCancelled(order_id=order.id, shop_id=part.shop_id,
                                      amount_cents=part.total_cents,
                                      lines=[_line_contract(line) for line in lines
                                             if line.quantity > 0],
                                      reason=reason))
    if all(p.status == PartStatus.CANCELLED for p in parts):
        await _cancel(order, uow, Trigger.EVERY_PART_CANCELLED, REASON_EVERY_PART_CANCELLED)


async def _take_out_units(uow: UnitOfWork, order: Order, part: OrderPart,
                          lines: list[OrderLine], withdrawal: Withdrawal, reason: str) -> None:
    withdrawn = []
    for line in lines:
        quantity = withdrawal.quantities.get(line.variant_id, 0)
        if quantity:
            withdrawn.append(_line_contract(line).model_copy(update={"quantity": quantity}))
            line.quantity -= quantity
            line.withdrawn_quantity += quantity
            line.withdrawal_reason = reason
    part.total_cents -= withdrawal.amount_cents
    order.total_cents -= withdrawal.amount_cents
    order.updated_at = utc_now()
    await uow.emit(OrderLinesCancelled(order_id=order.id, shop_id=part.shop_id,
                                       amount_cents=withdrawal.amount_cents, lines=withdrawn,
                                       reason=reason))


async def _part_for_update(session: AsyncSession, order_id: UUID,
                           shop_id: UUID) -> tuple[Order, OrderPart]:
    order = await _order_for_update(session, order_id)
    part = await session.get(OrderPart, (order_id, shop_id)) if order else None
    if part is None:
        raise NotFound(f"shop {shop_id} has no part in order {order_id}")
    return order, part


async def _withdrawal_by_key(session: AsyncSession, order_id: UUID, shop_id: UUID,
                             key: str | None) -> LineWithdrawal | None:
    if key is None:
        return None
    return (await session.exec(select(LineWithdrawal).where(
        LineWithdrawal.order_id == order_id, LineWithdrawal.shop_id == shop_id,
        LineWithdrawal.idempotency_key == key))).first()


async def _withdrawals_of(session: AsyncSession, order_ids: list[UUID],
                          shop_id: UUID) -> dict[UUID, list[LineWithdrawal]]:
    if not order_ids:
        return {}
    rows = (await session.exec(
        select(LineWithdrawal).where(col(LineWithdrawal.order_id).in_(order_ids),
                                     LineWithdrawal.shop_id == shop_id)
        .order_by(col(LineWithdrawal.at)))).all()
    by_order: dict[UUID, list[LineWithdrawal]] = {}
    for row in rows:
        by_order.setdefault(row.order_id, []).append(row)
    return by_order


async def _cancel(order: Order, uow: UnitOfWork, trigger: Trigger, reason: str) -> None:
    if not _move(order, trigger):
        return
    order.reasons = [*order.reasons, reason]
    await _close_parts(uow.session, order.id)
    await uow.emit(OrderCancelled(order_id=order.id, reason=reason))


def _move(order: Order, trigger: Trigger) -> bool:
    status = order_after(order.status, trigger)
    if status is None:
        return False
    order.status, order.updated_at = status, utc_now()
    count_once_committed(order, order.updated_at)
    return True


async def _close_parts(session: AsyncSession, order_id: UUID) -> None:
    await _move_parts(session, order_id, PartTrigger.CANCELLED)


async def _move_parts(session: AsyncSession, order_id: UUID, trigger: PartTrigger) -> None:
    """Every part of the order ``trigger`` applies to, in one statement."""
    moves = part_moves(trigger)
    await session.execute(
        update(OrderPart)
        .where(col(OrderPart.order_id) == order_id, col(OrderPart.status).in_(list(moves)))
        .values(status=case({str(old): str(new) for old, new in moves.items()},
                            value=OrderPart.status)))


async def _order_for_update(session: AsyncSession, order_id: UUID) -> Order | None:
    query = (select(Order).where(Order.id == order_id).with_for_update()
             .execution_options(populate_existing=True))
    return (await session.exec(query)).first()


async def _update_order(session: AsyncSession, order_id: UUID, **values) -> Order | None:
    """The order once ``values`` are set: one statement that locks the row (as
    _order_for_update does) and gives it back as it now stands."""
    # The row it returns refreshes the order in the session: nothing else to synchronise.
    query = (update(Order).where(col(Order.id) == order_id).values(**values).returning(Order)
             .execution_options(populate_existing=True, synchronize_session=False))
    return (await session.execute(query)).scalars().first()


async def _parts(session: AsyncSession, order_id: UUID) -> list[OrderPart]:
    query = select(OrderPart).where(OrderPart.order_id == order_id).order_by(OrderPart.shop_id)
    return list((await session.exec(query)).all())


async def _lines(session: AsyncSession, order_id: UUID,
                 shop_id: UUID | None = None) -> list[OrderLine]:
    query = select(OrderLine).where(OrderLine.order_id == order_id)
    if shop_id is not None:
        query = query.where(OrderLine.shop_id == shop_id)
    return list((await session.exec(query.order_by(*LINE_ORDER))).all())


async def _live_parts(session: AsyncSession, order_id: UUID) -> list[PartContract]:
    """The order's parts still to be supplied, as the events carry them: one query, whose rows
    are read as they come (no entity loaded)."""
    rows = (await session.exec(
        select(OrderPart.total_cents.label("part_total_cents"), OrderLine.product_id,
               OrderLine.variant_id, OrderLine.shop_id, OrderLine.name, OrderLine.variant_label,
               OrderLine.quantity, OrderLine.unit_price_cents)
        .join(OrderLine, and_(col(OrderLine.order_id) == OrderPart.order_id,
                              col(OrderLine.shop_id) == OrderPart.shop_id))
        .where(OrderPart.order_id == order_id, OrderPart.status != PartStatus.CANCELLED)
        .order_by(OrderPart.shop_id, *LINE_ORDER))).all()
    parts: dict[UUID, tuple[int, list[LineContract]]] = {}
    for row in rows:
        _, lines = parts.setdefault(row.shop_id, (row.part_total_cents, []))
        if row.quantity > 0:
            lines.append(LineContract(
                product_id=row.product_id, variant_id=row.variant_id, shop_id=row.shop_id,
                name=row.name, variant_label=row.variant_label, quantity=row.quantity,
                unit_price_cents=row.unit_price_cents))
    return [PartContract(shop_id=shop_id, total_cents=total_cents, lines=lines)
            for shop_id, (total_cents, lines) in parts.items()]


def _line_contract(line: OrderLine) -> LineContract:
    return LineContract(product_id=line.product_id, variant_id=line.variant_id,
                        shop_id=line.shop_id, name=line.name, variant_label=line.variant_label,
                        quantity=line.quantity, unit_price_cents=line.unit_price_cents)


# --- reads ---------------------------------------------------------------------------------


async def get_order(runtime: ServiceRuntime, viewer: Principal, order_id: UUID) -> OrderView:
    """The order, for its resident, its hub's staff and platform admins; to anyone else it does
    not exist (404 rather than 403, so order ids reveal nothing)."""
    async with runtime.database.sessions() as session:
        order = await session.get(Order, order_id)
        if order is None or not await _may_read(session, viewer, order):
            raise NotFound(f"no order {order_id}")
        return (await _views(session, [order]))[0]


async def list_orders_of(runtime: ServiceRuntime, resident: Principal) -> list[OrderView]:
    """The resident's latest orders, newest first."""
    async with runtime.database.sessions() as session:
        orders = (await session.exec(
            select(Order).where(Order.resident_id == resident.user_id)
            .order_by(col(Order.placed_at).desc()).limit(MAX_LISTED_ORDERS))).all()
        return await _views(session, list(orders))


async def parts_to_prepare(runtime: ServiceRuntime, viewer: Principal,
                           shop_id: UUID) -> ShopParts:
    """The shop's parts of paid orders, soonest slot first."""
    async with runtime.database.sessions() as session:
        shop, for_shop = await _shop_run_by(session, viewer, shop_id)
        rows = (await session.exec(
            select(OrderPart, Order, Slot)
            .join(Order, col(Order.id) == OrderPart.order_id)
            .outerjoin(Slot, col(Slot.id) == Order.slot_id)
            .where(OrderPart.shop_id == shop_id,
                   col(Order.status).in_([str(s) for s in SHOP_VISIBLE_STATUSES]))
            .order_by(col(Slot.starts_at), col(Order.placed_at)))).all()
        order_ids = [order.id for _, order, _ in rows]
        lines = await _lines_of(session, order_ids, shop_id)
        withdrawals = await _withdrawals_of(session, order_ids, shop_id)
    return ShopParts(shop, for_shop, [ShopPartView(order, slot, part, lines.get(order.id, []),
                                                   withdrawals.get(order.id, []))
                                      for part, order, slot in rows])


async def shop_sales(runtime: ServiceRuntime, viewer: Principal, shop_id: UUID, first: Month,
                     last: Month) -> ShopSales:
    """The shop's sales, month by month from ``first`` to ``last`` (Paris time)."""
    months = months_from(first, last, at_most=MAX_SALES_MONTHS)
    counted = _counted_in(shop_id, months[0].starts_at, months[-1].ends_at)
    async with runtime.database.sessions() as session:
        shop, for_shop = await _shop_run_by(session, viewer, shop_id)
        rows = (await session.exec(
            select(OrderPart, Order).join(Order, col(Order.id) == OrderPart.order_id)
            .where(counted))).all()
        lines = (await session.exec(
            select(OrderLine).join(Order, col(Order.id) == OrderLine.order_id)
            .join(OrderPart, and_(col(OrderPart.order_id) == OrderLine.order_id,
                                  col(OrderPart.shop_id) == OrderLine.shop_id))
            .where(counted))).all()
    sold_lines: dict[UUID, list[SoldLine]] = {}
    for line in (line for line in lines if line.quantity > 0):
        sold_lines.setdefault(line.order_id, []).append(SoldLine(
            line.product_id, line.name, line.quantity, line.quantity * line.unit_price_cents))
    parts = []
    for part, order in rows:
        outcome = part_outcome(part.status, part.cancelled_at, order.status, order.confirmed_at,
                               order.completed_at)
        if outcome is not None:
            parts.append(SoldPart(*outcome, part.total_cents, order.total_cents,
                                  tuple(sold_lines.get(order.id, []))))
    parts.sort(key=lambda sold: sold.counted_at, reverse=True)
    return ShopSales(shop, for_shop, sales_by_month(parts, months))


def _counted_in(shop_id: UUID, start: datetime, end: datetime):
    """The shop's parts whose moment in its sales (see domain.part_outcome) falls in
    [start, end): narrows the rows, part_outcome decides."""
    def within(moment):
        return and_(moment >= start, moment < end)

    return and_(col(OrderPart.shop_id) == shop_id, or_(
        within(col(OrderPart.cancelled_at)),
        and_(col(OrderPart.status) != PartStatus.CANCELLED, or_(
            within(col(Order.completed_at)), within(col(Order.confirmed_at))))))


async def hub_offer(runtime: ServiceRuntime, hub_id: UUID,
                    viewer: Principal | None = None) -> HubOffer:
    async with runtime.database.sessions() as session:
        hub = await session.get(Hub, hub_id)
        if hub is None:
            raise NotFound(f"no hub {hub_id}")
        member = viewer is not None and await _member_of_hub(session, viewer.user_id, hub_id,
                                                           utc_now())
        offers = [offer.on_sale() for offer in await _offers(
            session, Product.hub_id == hub_id, col(Product.available).is_(True))
                  if offer.available]
        names = await _shop_names(session, {offer.shop_id for offer in offers})
        slots = (await session.exec(
            select(Slot).where(Slot.hub_id == hub_id, col(Slot.closed).is_(False),
                               func.coalesce(Slot.bookable_until, Slot.starts_at) > utc_now())
            .order_by(Slot.starts_at).limit(MAX_OFFERED_SLOTS))).all()
    by_shop: dict[UUID, list[ProductOffer]] = {}
    for offer in offers:
        if offer.variants:
            by_shop.setdefault(offer.shop_id, []).append(offer)
    shops = sorted((ShopOffer(shop_id, names.get(shop_id, ""), shop_products)
                    for shop_id, shop_products in by_shop.items()), key=lambda s: s.shop_name)
    return HubOffer(hub, shops, list(slots), member)


async def _offers(session: AsyncSession, *where) -> list[ProductOffer]:
    """The products ``where`` picks, by name, with their variants in the catalog's order: one
    query, whose rows are read as they come (no entity loaded)."""
    rows = (await session.exec(
        select(Product.id, Product.shop_id, Product.hub_id, Product.name, Product.available,
               Shop.status.label("shop_status"), ProductVariant.id.label("variant_id"),
               ProductVariant.label, ProductVariant.price_cents,
               ProductVariant.available.label("variant_available"),
               VariantStock.available.label("stock"), ProductVariant.member_price_cents)
        .outerjoin(Shop, col(Shop.id) == Product.shop_id)
        .outerjoin(ProductVariant, col(ProductVariant.product_id) == Product.id)
        .outerjoin(VariantStock, col(VariantStock.variant_id) == ProductVariant.id)
        .where(*where).order_by(Product.name, Product.id, ProductVariant.position))).all()
    products: dict[UUID, tuple] = {}
    variants: dict[UUID, list[VariantOffer]] = {}
    for row in rows:
        products.setdefault(row.id, row)
        offered = variants.setdefault(row.id, [])
        if row.variant_id is not None:
            offered.append(VariantOffer(row.variant_id, row.label, row.price_cents,
                                        row.variant_available, row.stock,
                                        row.member_price_cents))
    # A shop not heard of yet is not known to be closed.
    return [ProductOffer(row.id, row.shop_id, row.hub_id, row.name,
                         row.available and row.shop_status in (None, "active"),
                         tuple(variants[product_id]))
            for product_id, row in products.items()]


async def _may_read(session: AsyncSession, viewer: Principal, order: Order) -> bool:
    if may_read_order(viewer, order.resident_id, works_at_its_hub=False):
        return True
    staff = await session.get(HubStaff, (order.hub_id, viewer.user_id))
    return may_read_order(viewer, order.resident_id, works_at_its_hub=staff is not None)


async def _shop_run_by(session: AsyncSession, viewer: Principal,
                       shop_id: UUID) -> tuple[Shop, bool]:
    """The shop and whether ``viewer`` acts for it rather than owning it; Forbidden to anyone
    else."""
    shop = await session.get(Shop, shop_id)
    if shop is None:
        raise NotFound(f"no shop {shop_id}")
    if shop.owner_id == viewer.user_id:
        return shop, False
    staff = await session.get(HubStaff, (shop.hub_id, viewer.user_id))
    if not may_act_for_shop(viewer, shop.owner_id,
                            runs_its_hub=staff is not None and staff.role == HUB_ADMIN_ROLE):
        raise Forbidden("only the shop's owner, its hub's administrators or a platform "
                        "administrator may see or act on its orders")
    return shop, True


async def _views(session: AsyncSession, orders: list[Order]) -> list[OrderView]:
    if not orders:
        return []
    ids = [order.id for order in orders]
    parts = (await session.exec(select(OrderPart).where(col(OrderPart.order_id).in_(ids))
                                .order_by(OrderPart.shop_id))).all()
    lines = (await session.exec(select(OrderLine).where(col(OrderLine.order_id).in_(ids))
                                .order_by(*LINE_ORDER))).all()
    names = await _shop_names(session, {part.shop_id for part in parts})
    slots = {slot.id: slot for slot in (await session.exec(
        select(Slot).where(col(Slot.id).in_({order.slot_id for order in orders})))).all()}
    return [OrderView(order, slots.get(order.slot_id), sorted((
        PartView(part, names.get(part.shop_id, ""),
                 [line for line in lines if (line.order_id, line.shop_id) == (order.id, part.shop_id)])
        for part in parts if part.order_id == order.id), key=lambda view: view.shop_name))
        for order in orders]


async def _lines_of(session: AsyncSession, order_ids: list[UUID],
                    shop_id: UUID) -> dict[UUID, list[OrderLine]]:
    if not order_ids:
        return {}
    lines = (await session.exec(
        select(OrderLine).where(col(OrderLine.order_id).in_(order_ids),
                                OrderLine.shop_id == shop_id).order_by(*LINE_ORDER))).all()
    by_order: dict[UUID, list[OrderLine]] = {}
    for line in lines:
        by_order.setdefault(line.order_id, []).append(line)
    return by_order


async def _shop_names(session: AsyncSession, shop_ids: set[UUID]) -> dict[UUID, str]:
    if not shop_ids:
        return {}
    shops = (await session.exec(select(Shop).where(col(Shop.id).in_(shop_ids)))).all()
    return {shop.id: shop.name for shop in shops}


async def list_hubs(runtime: ServiceRuntime) -> list[Hub]:
    """The hubs residents may order from, by town."""
    async with runtime.database.sessions() as session:
        return list((await session.exec(select(Hub).order_by(Hub.town, Hub.name))).all())
