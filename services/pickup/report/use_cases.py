"""The report's read model kept from the order service's events, and the report made from it and
from the pickup service's own pickups (handed over or no-show), slots and gatherings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.auth.tokens import Principal
from libs.contracts.order import (
    OrderCancelled,
    OrderCompleted,
    OrderConfirmed,
    OrderPartCancelled,
)
from libs.kit.months import Month
from libs.kit.runtime import ServiceRuntime, UnitOfWork
from libs.sqltypes import conflict_insert
from services.pickup.domain import CANCELLED, NO_SHOW, PICKED_UP
from services.pickup.gatherings.domain import SCHEDULED as GATHERING_SCHEDULED
from services.pickup.gatherings.domain import SIGNED_UP
from services.pickup.gatherings.tables import Attendance, Gathering, SignUp
from services.pickup.membership.tables import Member
from services.pickup.report.domain import (
    GatheringTurnout,
    Period,
    Report,
    Sale,
    SlotUse,
    report_of,
)
from services.pickup.report.tables import SoldOrder, SoldPart
from services.pickup.tables import KnownShop, Pickup, Slot
from services.pickup.use_cases import require_role

CONFIRMED, COMPLETED = "confirmed", "completed"


def utc_now() -> datetime:
    return datetime.now(UTC)


# --- the read model ---------------------------------------------------------------------


async def record_confirmed_sale(event: OrderConfirmed, uow: UnitOfWork) -> None:
    """The sale once, its key the guard (on PostgreSQL a concurrent delivery waits for the first,
    then writes nothing)."""
    recorded = await uow.session.execute(
        conflict_insert(uow.session, SoldOrder).values(
            order_id=event.order_id, hub_id=event.hub_id, buyer_id=event.resident_id,
            status=CONFIRMED, confirmed_at=_occurred_at(uow))
        .on_conflict_do_nothing().returning(SoldOrder.order_id))
    if recorded.first() is None:
        return
    shares = Counter()
    for part in event.parts:
        shares[part.shop_id] += part.total_cents
    uow.session.add_all(SoldPart(order_id=event.order_id, shop_id=shop_id, total_cents=cents)
                        for shop_id, cents in shares.items())


async def record_cancelled_share(event: OrderPartCancelled, uow: UnitOfWork) -> None:
    order = await uow.session.get(SoldOrder, event.order_id, with_for_update=True)
    part = await uow.session.get(SoldPart, (event.order_id, event.shop_id))
    if order is None or order.status != CONFIRMED or part is None:
        return
    part.cancelled = True


async def record_completed_sale(event: OrderCompleted, uow: UnitOfWork) -> None:
    order = await uow.session.get(SoldOrder, event.order_id, with_for_update=True)
    if order is None or order.status != CONFIRMED:
        return
    order.status, order.completed_at = COMPLETED, event.completed_at


async def record_cancelled_sale(event: OrderCancelled, uow: UnitOfWork) -> None:
    order = await uow.session.get(SoldOrder, event.order_id, with_for_update=True)
    if order is not None and order.status == CONFIRMED:
        order.status = CANCELLED


def _occurred_at(uow: UnitOfWork) -> datetime:
    return uow.cause.occurred_at if uow.cause else utc_now()


# --- the report -------------------------------------------------------------------------


async def hub_report(runtime: ServiceRuntime, principal: Principal, hub_id: UUID, period: Period
                     ) -> Report:
    """For the hub's admins (and the platform's)."""
    async with runtime.database.sessions() as session:
        hub = await require_role(session, principal, hub_id, "admin")
        sales = await _sales(session, hub_id, period)
        return report_of(
            hub_id=hub.id, hub_name=hub.name, period=period, sales=sales,
            first_purchases=await _first_purchases(session, hub_id, {s.buyer_id for s in sales}),
            shop_names=await _shop_names(session, {s for sale in sales for s in sale.shares}),
            visits=await _visits(session, hub_id, period),
            slots=await _slot_uses(session, hub_id, period),
            gatherings=await _turnouts(session, hub_id, period),
            members_gained=await _members_gained(session, hub_id, period),
        )


async def _sales(session: AsyncSession, hub_id: UUID, period: Period) -> list[Sale]:
    rows = (await session.exec(
        select(SoldOrder, SoldPart)
        .join(SoldPart, col(SoldPart.order_id) == col(SoldOrder.order_id))
        .where(SoldOrder.hub_id == hub_id, SoldOrder.status == COMPLETED,
               col(SoldOrder.completed_at) >= period.starts_at(),
               col(SoldOrder.completed_at) < period.ends_at(), col(SoldPart.cancelled).is_(False))
        .order_by(SoldOrder.completed_at)
    )).all()
    orders: dict[UUID, SoldOrder] = {}
    shares: dict[UUID, dict[UUID, int]] = {}
    for order, part in rows:
        orders[order.order_id] = order
        shares.setdefault(order.order_id, {})[part.shop_id] = part.total_cents
    return [Sale(order.order_id, order.buyer_id, order.completed_at, shares[order.order_id])
            for order in orders.values()]


async def _first_purchases(session: AsyncSession, hub_id: UUID, buyer_ids: set[UUID]
                           ) -> dict[UUID, datetime]:
    """When each buyer first completed an order at the hub, before the period included."""
    return dict((await session.exec(
        select(SoldOrder.buyer_id, func.min(col(SoldOrder.completed_at)))
        .where(SoldOrder.hub_id == hub_id, SoldOrder.status == COMPLETED,
               col(SoldOrder.buyer_id).in_(buyer_ids))
        .group_by(SoldOrder.buyer_id)
    )).all())


async def _shop_names(session: AsyncSession, shop_ids: set[UUID]) -> dict[UUID, str]:
    rows = (await session.exec(
        select(KnownShop.id, KnownShop.name).where(col(KnownShop.id).in_(shop_ids))
    )).all()
    return dict(rows)


async def _visits(session: AsyncSession, hub_id: UUID, period: Period) -> list[datetime]:
    return list((await session.exec(
        select(Pickup.picked_up_at)
        .where(Pickup.hub_id == hub_id, Pickup.status == PICKED_UP,
               col(Pickup.picked_up_at) >= period.starts_at(),
               col(Pickup.picked_up_at) < period.ends_at())
    )).all())


async def _slot_uses(session: AsyncSession, hub_id: UUID, period: Period) -> list[SlotUse]:
    """The period's slots that had pickups booked, with how many were collected or missed."""
    rows = (await session.exec(
        select(Slot.id, Slot.starts_at, Slot.ends_at, Slot.label, Slot.capacity,
               func.count(col(Pickup.order_id)),
               func.sum(case((col(Pickup.status) == PICKED_UP, 1), else_=0)),
               func.sum(case((col(Pickup.status) == NO_SHOW, 1), else_=0)))
        .join(Pickup, col(Pickup.slot_id) == col(Slot.id))
        .where(Slot.hub_id == hub_id, col(Slot.starts_at) >= period.starts_at(),
               col(Slot.starts_at) < period.ends_at(), col(Pickup.status) != CANCELLED)
        .group_by(Slot.id, Slot.starts_at, Slot.ends_at, Slot.label, Slot.capacity)
    )).all()
    return [SlotUse(*row) for row in rows]


async def _turnouts(session: AsyncSession, hub_id: UUID, period: Period
                    ) -> list[GatheringTurnout]:
    """The period's gatherings that took place (not cancelled): who signed up, who came."""
    gatherings = (await session.exec(
        select(Gathering)
        .where(Gathering.hub_id == hub_id, Gathering.status == GATHERING_SCHEDULED,
               col(Gathering.starts_at) >= period.starts_at(),
               col(Gathering.starts_at) < period.ends_at())
    )).all()
    ids = [gathering.id for gathering in gatherings]
    signed_up = await _count_by_gathering(session, select(SignUp.gathering_id, func.count())
                                          .where(SignUp.status == SIGNED_UP), ids)
    attended = await _count_by_gathering(session, select(Attendance.gathering_id, func.count()),
                                         ids)
    attended_signed_up = await _count_by_gathering(
        session,
        select(Attendance.gathering_id, func.count())
        .join(SignUp, (col(SignUp.gathering_id) == col(Attendance.gathering_id))
              & (col(SignUp.user_id) == col(Attendance.user_id)))
        .where(SignUp.status == SIGNED_UP),
        ids)
    return [GatheringTurnout(g.id, g.title, g.starts_at, g.capacity, signed_up.get(g.id, 0),
                             attended.get(g.id, 0), attended_signed_up.get(g.id, 0))
            for g in gatherings]


async def _count_by_gathering(session: AsyncSession, query, ids: list[UUID]) -> dict[UUID, int]:
    gathering_id = query.selected_columns[0]
    return dict((await session.exec(
        query.where(gathering_id.in_(ids)).group_by(gathering_id)
    )).all())


async def _members_gained(session: AsyncSession, hub_id: UUID, period: Period
                          ) -> Mapping[Month, int]:
    """Residents who became members of the hub, per Paris month of their first membership's
    start: a renewal, or a return after a break, is no new member."""
    since = (await session.exec(
        select(Member.since)
        .where(Member.hub_id == hub_id, col(Member.since) >= period.starts_at(),
               col(Member.since) < period.ends_at())
    )).all()
    return Counter(Month.of(moment) for moment in since)
