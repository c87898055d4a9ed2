"""What the pickup service does: load, change, write the outbox, commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.auth.tokens import Principal
from libs.contracts.accounts import UserRegistered
from libs.contracts.catalog import ShopOpened, StockReservationFailed
from libs.contracts.order import (
    OrderCancelled,
    OrderConfirmed,
    OrderPartCancelled,
    OrderPartPrepared,
    OrderPlaced,
    OrderRejected,
)
from libs.contracts.pickup import (
    HubOpened,
    HubStaffAssigned,
    PartDroppedOff,
    PickedUp,
    PickupReady,
    PickupScheduled,
    SlotHeld,
    SlotOpened,
    SlotReleased,
    SlotUnavailable,
)
from libs.kit.errors import Forbidden, NotFound, Unprocessable
from libs.kit.i18n import gettext as _
from libs.kit.runtime import ServiceRuntime, UnitOfWork
from libs.sqltypes import conflict_insert
from services.pickup.desk.domain import shelf_location
from services.pickup.domain import (
    CANCELLED,
    DROPPED_OFF,
    HANDED_OVER,
    HELD,
    PENDING,
    PICKED_UP,
    READY,
    RELEASED,
    SCHEDULED,
    HubDetails,
    HubRole,
    SlotDetails,
    StaffAssignment,
    every_part_in,
    may_act_as,
    new_pickup_code,
    paris_day,
    refuse_drop_off,
    refuse_handover,
    slot_refusal,
)
from services.pickup.schedule.tables import HubSchedule
from services.pickup.tables import (
    Booking,
    Hub,
    HubStaff,
    KnownShop,
    KnownUser,
    Pickup,
    PickupPart,
    Slot,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


# --- views: what the API and the pages show ---------------------------------------------


@dataclass(frozen=True)
class AssignedStaff:
    hub_id: UUID
    user_id: UUID
    email: str
    name: str
    role: str


@dataclass(frozen=True)
class PartView:
    shop_id: UUID
    shop_name: str | None
    status: str
    dropped_off_at: datetime | None
    shelf: str = ""
    prepared_at: datetime | None = None


@dataclass(frozen=True)
class PickupView:
    order_id: UUID
    hub_id: UUID
    slot_id: UUID
    status: str
    ready_at: datetime | None
    picked_up_at: datetime | None
    parts: list[PartView]
    resident_name: str | None = None
    held_until: datetime | None = None


@dataclass(frozen=True)
class SlotSheet:
    slot: Slot
    pickups: list[PickupView]


@dataclass(frozen=True)
class DaySheet:
    hub: Hub
    day: date
    slots: list[SlotSheet]


# --- hubs and their staff ---------------------------------------------------------------


async def open_hub(runtime: ServiceRuntime, details: HubDetails) -> Hub:
    hub = Hub(id=uuid4(), opened_at=utc_now(), **details.model_dump())
    async with runtime.unit_of_work() as uow:
        uow.session.add(hub)
        await uow.emit(HubOpened(hub_id=hub.id, **details.model_dump()))
    return hub


async def list_hubs(runtime: ServiceRuntime) -> list[Hub]:
    async with runtime.database.sessions() as session:
        return list((await session.exec(select(Hub).order_by(Hub.town, Hub.name))).all())


async def get_hub(runtime: ServiceRuntime, hub_id: UUID) -> Hub:
    async with runtime.database.sessions() as session:
        return await _hub(session, hub_id)


async def desk_hubs(runtime: ServiceRuntime, principal: Principal) -> list[Hub]:
    """The hubs whose desk this person may run."""
    query = select(Hub).order_by(Hub.town, Hub.name)
    if not principal.is_platform_admin:
        query = query.join(HubStaff).where(HubStaff.user_id == principal.user_id)
    async with runtime.database.sessions() as session:
        return list((await session.exec(query)).all())


async def assign_staff(
    runtime: ServiceRuntime, principal: Principal, hub_id: UUID, assignment: StaffAssignment
) -> tuple[AssignedStaff, bool]:
    """Adds someone to the hub's staff or changes their role; True when they were added."""
    async with runtime.unit_of_work() as uow:
        await require_role(uow.session, principal, hub_id, "admin")
        user = (
            await uow.session.exec(select(KnownUser).where(KnownUser.email == assignment.email))
        ).first()
        if user is None:
            raise Unprocessable(_("aucun compte n'existe pour l'adresse %(email)s")
                                % {"email": assignment.email})
        assigned = AssignedStaff(hub_id, user.id, user.email, user.name, assignment.role)
        staff = await uow.session.get(HubStaff, (hub_id, user.id), with_for_update=True)
        added = staff is None
        if added:
            uow.session.add(HubStaff(hub_id=hub_id, user_id=user.id, role=assignment.role,
                                     assigned_at=utc_now()))
        elif staff.role == assignment.role:
            return assigned, added
        else:
            staff.role = assignment.role
        await uow.emit(HubStaffAssigned(hub_id=hub_id, user_id=user.id, email=user.email,
                                        role=assignment.role))
    return assigned, added


# --- slots ------------------------------------------------------------------------------


async def open_slot(
    runtime: ServiceRuntime, principal: Principal, hub_id: UUID, details: SlotDetails
) -> Slot:
    if details.starts_at <= utc_now():
        raise Unprocessable(_("le créneau doit commencer dans le futur"))
    slot = Slot(id=uuid4(), hub_id=hub_id, **details.model_dump())
    async with runtime.unit_of_work() as uow:
        await require_role(uow.session, principal, hub_id, "staff")
        uow.session.add(slot)
        await uow.emit(slot_opened(slot, await lead_time(uow.session, hub_id)))
    return slot


async def upcoming_slots(runtime: ServiceRuntime, hub_id: UUID) -> list[Slot]:
    """The slots residents can still choose: open, and starting after the hub's lead time."""
    async with runtime.database.sessions() as session:
        await _hub(session, hub_id)
        query = (
            select(Slot)
            .where(Slot.hub_id == hub_id, col(Slot.closed_at).is_(None),
                   Slot.starts_at > utc_now() + await lead_time(session, hub_id))
            .order_by(Slot.starts_at)
        )
        return list((await session.exec(query)).all())


async def lead_time(session: AsyncSession, hub_id: UUID) -> timedelta:
    """How long before a slot starts orders stop choosing it (none for a hub without hours)."""
    hours = (await session.exec(_lead_time_hours(hub_id))).first()
    return timedelta(hours=hours or 0)


def _lead_time_hours(hub_id: UUID):
    return select(HubSchedule.lead_time_hours).where(HubSchedule.hub_id == hub_id)


def slot_opened(slot: Slot, lead: timedelta) -> SlotOpened:
    return SlotOpened(slot_id=slot.id, hub_id=slot.hub_id, starts_at=slot.starts_at,
                      ends_at=slot.ends_at, capacity=slot.capacity,
                      gathering_id=slot.gathering_id, label=slot.label,
                      bookable_until=slot.starts_at - lead)


# --- pickups at the desk ----------------------------------------------------------------


async def pickup_of(runtime: ServiceRuntime, principal: Principal, order_id: UUID) -> PickupView:
    async with runtime.database.sessions() as session:
        pickup = await find_pickup(session, order_id)
        await require_role(session, principal, pickup.hub_id, "staff")
        return (await pickup_views(session, [pickup]))[0]


async def drop_off(
    runtime: ServiceRuntime, principal: Principal, order_id: UUID, shop_id: UUID,
    shelf: str = "",
) -> PickupView:
    """Checks in one shop's part, on a shelf if staff say which; checking it in again only
    moves it to the shelf named, if any."""
    shelf = shelf_location(shelf)
    async with runtime.unit_of_work() as uow:
        pickup = await find_pickup(uow.session, order_id, for_update=True)
        await require_role(uow.session, principal, pickup.hub_id, "staff")
        carry_on_saga(uow, pickup)
        part = await uow.session.get(PickupPart, (order_id, shop_id))
        refuse_drop_off(pickup.status, part.status if part else None, shop_id)
        if shelf:
            part.shelf = shelf
        if part.status == PENDING:
            part.status, part.dropped_off_at = DROPPED_OFF, utc_now()
            await uow.emit(PartDroppedOff(order_id=order_id, shop_id=shop_id))
            await _ready_when_every_part_is_in(uow, pickup)
        return (await pickup_views(uow.session, [pickup]))[0]


async def hand_over(
    runtime: ServiceRuntime, principal: Principal, order_id: UUID, code: str
) -> PickupView:
    async with runtime.unit_of_work() as uow:
        pickup = await find_pickup(uow.session, order_id, for_update=True)
        await require_role(uow.session, principal, pickup.hub_id, "staff")
        refuse_handover(pickup.status, pickup.code, code)
        carry_on_saga(uow, pickup)
        pickup.status, pickup.picked_up_at = PICKED_UP, utc_now()
        await uow.session.execute(
            update(PickupPart)
            .where(col(PickupPart.order_id) == order_id, col(PickupPart.status) == DROPPED_OFF)
            .values(status=HANDED_OVER)
            .execution_options(synchronize_session=False)
        )
        await uow.emit(PickedUp(order_id=order_id))
        return (await pickup_views(uow.session, [pickup]))[0]


def carry_on_saga(uow: UnitOfWork, pickup: Pickup) -> None:
    """The events of what is done with a pickup belong to its order's saga, not to the request
    (or the clock) that did it."""
    uow.correlation_id = pickup.correlation_id or uow.correlation_id


async def day_sheet(
    runtime: ServiceRuntime, principal: Principal, hub_id: UUID, day: date
) -> DaySheet:
    """The hub's slots of one Europe/Paris day, each with the pickups booked on it."""
    start, end = paris_day(day)
    async with runtime.database.sessions() as session:
        hub = await require_role(session, principal, hub_id, "staff")
        slots = (await session.exec(
            select(Slot)
            .where(Slot.hub_id == hub_id, Slot.starts_at >= start, Slot.starts_at < end)
            .order_by(Slot.starts_at)
        )).all()
        pickups = (await session.exec(
            select(Pickup)
            .where(col(Pickup.slot_id).in_([slot.id for slot in slots]))
            .order_by(Pickup.scheduled_at)
        )).all()
        views = await pickup_views(session, pickups)
    return DaySheet(hub, day, [
        SlotSheet(slot, [view for view in views if view.slot_id == slot.id]) for slot in slots
    ])


# --- the saga ---------------------------------------------------------------------------


async def hold_place(event: OrderPlaced, uow: UnitOfWork) -> None:
    booked, lead_hours = (await uow.session.execute(select(
        select(Booking.order_id).where(Booking.order_id == event.order_id).exists(),
        _lead_time_hours(event.hub_id).scalar_subquery()))).one()
    if booked:
        return
    now, lead = utc_now(), timedelta(hours=lead_hours or 0)
    # One statement checks and takes the place, so concurrent orders never exceed capacity.
    held = (await uow.session.execute(
        update(Slot)
        .where(col(Slot.id) == event.slot_id, col(Slot.hub_id) == event.hub_id,
               col(Slot.closed_at).is_(None), col(Slot.starts_at) > now + lead,
               col(Slot.held) < col(Slot.capacity))
        .values(held=col(Slot.held) + 1)
        .returning(col(Slot.starts_at), col(Slot.ends_at))
        .execution_options(synchronize_session=False)
    )).first()
    if held is None:
        slot = await uow.session.get(Slot, event.slot_id)
        reason = slot_refusal(slot_hub_id=slot.hub_id if slot else None, order_hub_id=event.hub_id,
                              starts_at=slot.starts_at if slot else None, now=now,
                              closed=bool(slot and slot.closed_at), lead_time=lead)
        await uow.emit(SlotUnavailable(order_id=event.order_id, slot_id=event.slot_id,
                                       reason=reason))
        return
    # Written now rather than at the next flush: the check above flushes nothing, and a later
    # event of the same transaction must see this booking.
    await uow.session.execute(conflict_insert(uow.session, Booking).values(
        order_id=event.order_id, slot_id=event.slot_id, status=HELD, held_at=now))
    await uow.emit(SlotHeld(order_id=event.order_id, slot_id=event.slot_id, hub_id=event.hub_id,
                            starts_at=held.starts_at, ends_at=held.ends_at))


async def release_place(
    event: StockReservationFailed | OrderRejected | OrderCancelled, uow: UnitOfWork
) -> None:
    released = (await uow.session.execute(
        update(Booking)
        .where(col(Booking.order_id) == event.order_id, col(Booking.status) == HELD)
        .values(status=RELEASED)
        .returning(col(Booking.slot_id))
        .execution_options(synchronize_session=False)
    )).first()
    if released is None:
        return
    await uow.session.execute(
        update(Slot)
        .where(col(Slot.id) == released.slot_id, col(Slot.held) > 0)
        .values(held=col(Slot.held) - 1)
        .execution_options(synchronize_session=False)
    )
    await uow.emit(SlotReleased(order_id=event.order_id, slot_id=released.slot_id))


async def schedule_pickup(event: OrderConfirmed, uow: UnitOfWork) -> None:
    """One pickup per order, whose key is the guard: a pickup made before (and not knowing its
    resident) only learns who the resident is."""
    session, code = uow.session, new_pickup_code()
    made = await session.execute(
        conflict_insert(session, Pickup).values(
            order_id=event.order_id, hub_id=event.hub_id, slot_id=event.slot_id, code=code,
            status=SCHEDULED, scheduled_at=utc_now(), resident_id=event.resident_id,
            correlation_id=uow.correlation_id)
        .on_conflict_do_nothing().returning(Pickup.order_id))
    if made.first() is None:
        await session.execute(
            update(Pickup).where(col(Pickup.order_id) == event.order_id)
            .values(resident_id=func.coalesce(Pickup.resident_id, event.resident_id)))
        return
    session.add_all(PickupPart(order_id=event.order_id, shop_id=shop_id, status=PENDING)
                    for shop_id in dict.fromkeys(part.shop_id for part in event.parts))
    await uow.emit(PickupScheduled(order_id=event.order_id, hub_id=event.hub_id,
                                   slot_id=event.slot_id, code=code))


async def stop_expecting_part(event: OrderPartCancelled, uow: UnitOfWork) -> None:
    pickup = await uow.session.get(Pickup, event.order_id, with_for_update=True)
    if pickup is None or pickup.status not in (SCHEDULED, READY):
        return
    part = await uow.session.get(PickupPart, (event.order_id, event.shop_id))
    if part is None or part.status not in (PENDING, DROPPED_OFF):
        return
    part.status = CANCELLED
    await _ready_when_every_part_is_in(uow, pickup)


async def note_part_prepared(event: OrderPartPrepared, uow: UnitOfWork) -> None:
    """The first word of the shop stands; a part this pickup does not expect is not ours."""
    part = await uow.session.get(PickupPart, (event.order_id, event.shop_id))
    if part is not None and part.prepared_at is None:
        part.prepared_at = event.prepared_at


async def cancel_pickup(event: OrderCancelled, uow: UnitOfWork) -> None:
    pickup = await uow.session.get(Pickup, event.order_id, with_for_update=True)
    if pickup is None or pickup.status not in (SCHEDULED, READY):
        return
    pickup.status, pickup.cancelled_at = CANCELLED, utc_now()


# --- read models ------------------------------------------------------------------------


async def record_registered_user(event: UserRegistered, uow: UnitOfWork) -> None:
    user = await uow.session.get(KnownUser, event.user_id)
    if user is None:
        uow.session.add(KnownUser(id=event.user_id, email=event.email.lower(), name=event.name))
    else:
        user.email, user.name = event.email.lower(), event.name


async def record_opened_shop(event: ShopOpened, uow: UnitOfWork) -> None:
    shop = await uow.session.get(KnownShop, event.shop_id)
    if shop is None:
        uow.session.add(KnownShop(id=event.shop_id, hub_id=event.hub_id, name=event.name))
    else:
        shop.hub_id, shop.name = event.hub_id, event.name


# --- helpers ----------------------------------------------------------------------------


async def _hub(session: AsyncSession, hub_id: UUID) -> Hub:
    hub = await session.get(Hub, hub_id)
    if hub is None:
        raise NotFound(f"no hub {hub_id}")
    return hub


async def require_role(
    session: AsyncSession, principal: Principal, hub_id: UUID, needed: HubRole
) -> Hub:
    hub = await _hub(session, hub_id)
    staff = await session.get(HubStaff, (hub_id, principal.user_id))
    if not may_act_as(staff.role if staff else None, needed,
                      platform_admin=principal.is_platform_admin):
        refusal = (_("réservé aux administrateurs du tiers-lieu %(hub)s") if needed == "admin"
                   else _("réservé à l'équipe du tiers-lieu %(hub)s"))
        raise Forbidden(refusal % {"hub": hub.name})
    return hub


async def find_pickup(session: AsyncSession, order_id: UUID, *, for_update: bool = False) -> Pickup:
    # Locking the pickup serialises its changes on PostgreSQL: two parts checked in at once
    # must not each miss the other and leave the pickup never ready.
    pickup = await session.get(Pickup, order_id, with_for_update=for_update)
    if pickup is None:
        raise NotFound(_("aucun retrait n'est prévu pour la commande %(id)s") % {"id": order_id})
    return pickup


async def _ready_when_every_part_is_in(uow: UnitOfWork, pickup: Pickup) -> None:
    await uow.session.flush()
    statuses = (await uow.session.exec(
        select(PickupPart.status).where(PickupPart.order_id == pickup.order_id)
    )).all()
    if pickup.status == SCHEDULED and every_part_in(list(statuses)):
        pickup.status, pickup.ready_at = READY, utc_now()
        await uow.emit(PickupReady(order_id=pickup.order_id))


async def pickup_views(session: AsyncSession, pickups: Sequence[Pickup]) -> list[PickupView]:
    order_ids = [pickup.order_id for pickup in pickups]
    residents = dict((await session.exec(
        select(KnownUser.id, KnownUser.name)
        .where(col(KnownUser.id).in_({pickup.resident_id for pickup in pickups}))
    )).all())
    rows = (await session.exec(
        select(PickupPart, KnownShop.name)
        .join(KnownShop, col(KnownShop.id) == col(PickupPart.shop_id), isouter=True)
        .where(col(PickupPart.order_id).in_(order_ids))
        .order_by(KnownShop.name, PickupPart.shop_id)
    )).all()
    parts: dict[UUID, list[PartView]] = {order_id: [] for order_id in order_ids}
    for part, shop_name in rows:
        parts[part.order_id].append(
            PartView(part.shop_id, shop_name, part.status, part.dropped_off_at, part.shelf,
                     part.prepared_at)
        )
    return [
        PickupView(pickup.order_id, pickup.hub_id, pickup.slot_id, pickup.status, pickup.ready_at,
                   pickup.picked_up_at, parts[pickup.order_id],
                   residents.get(pickup.resident_id), pickup.held_until)
        for pickup in pickups
    ]
