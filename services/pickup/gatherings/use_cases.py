"""What the hubs' gatherings do: load, change, write the outbox, commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy import delete, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.auth.tokens import Principal
from libs.contracts.pickup import (
    AttendanceRecorded,
    GatheringCancelled,
    GatheringScheduled,
    ResidentSignedUp,
    SignUpCancelled,
)
from libs.kit.errors import Conflict, NotFound, Unprocessable
from libs.kit.i18n import gettext as _
from libs.kit.runtime import ServiceRuntime, UnitOfWork
from services.pickup.domain import HubRole, may_act_as
from services.pickup.gatherings.domain import (
    CANCELLED,
    SCHEDULED,
    SIGN_UP_CANCELLED,
    SIGNED_UP,
    GatheringChanges,
    GatheringDetails,
    attendance_refusal,
    places_left,
    refuse_change,
    refuse_schedule,
    refuse_sign_up,
    refuse_sign_up_cancellation,
)
from services.pickup.gatherings.tables import Attendance, Gathering, GatheringShop, SignUp
from services.pickup.schedule.use_cases import close_gathering_slots, open_gathering_slot
from services.pickup.tables import Hub, HubStaff, KnownShop, KnownUser
from services.pickup.use_cases import require_role, utc_now

# How far back the staff's list and the calendar feed reach, so a gathering just over can still
# have its attendance completed and stays in subscribers' calendars for a while.
RECENT = timedelta(days=30)


# --- views: what the API and the pages show ---------------------------------------------


@dataclass(frozen=True)
class LinkedShop:
    id: UUID
    name: str


@dataclass(frozen=True)
class GatheringView:
    id: UUID
    hub_id: UUID
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    taken: int
    places_left: int | None
    status: str
    cancel_reason: str | None
    slot_id: UUID | None
    shops: list[LinkedShop]
    revision: int
    updated_at: datetime


@dataclass(frozen=True)
class Calendar:
    hub: Hub
    gatherings: list[GatheringView]
    role: HubRole | None


@dataclass(frozen=True)
class GatheringPage:
    hub: Hub
    gathering: GatheringView
    signed_up: bool
    role: HubRole | None


@dataclass(frozen=True)
class Editing:
    """What the admin's form needs: the hub, its shops, and the gathering being changed."""

    hub: Hub
    shops: list[KnownShop]
    gathering: GatheringView | None


@dataclass(frozen=True)
class Participant:
    """Someone on the staff's list: signed up, seen at the gathering, or both."""

    user_id: UUID
    name: str
    email: str
    signed_up: bool
    attended: bool


@dataclass(frozen=True)
class SignUpSheet:
    hub: Hub
    gathering: GatheringView
    participants: list[Participant]
    attendance_closed: str | None
    """Why attendance cannot be recorded now, if it cannot."""


# --- hub admins: scheduling, changing, cancelling ----------------------------------------


async def schedule_gathering(runtime: ServiceRuntime, principal: Principal, hub_id: UUID,
                             details: GatheringDetails) -> GatheringView:
    now = utc_now()
    refuse_schedule(details.starts_at, now)
    async with runtime.unit_of_work() as uow:
        await require_role(uow.session, principal, hub_id, "admin")
        await _require_hub_shops(uow.session, hub_id, details.shop_ids)
        gathering = Gathering(
            id=uuid4(), hub_id=hub_id, title=details.title, description=details.description,
            starts_at=details.starts_at, ends_at=details.ends_at, capacity=details.capacity,
            status=SCHEDULED, scheduled_at=now, updated_at=now)
        uow.session.add(gathering)
        uow.session.add_all(GatheringShop(gathering_id=gathering.id, shop_id=shop_id)
                            for shop_id in details.shop_ids)
        if details.collection_capacity:
            await _open_collection_slot(uow, gathering, details.collection_capacity)
        await uow.emit(_scheduled(gathering, details.shop_ids))
        return (await _views(uow.session, [gathering]))[0]


async def editing(runtime: ServiceRuntime, principal: Principal, hub_id: UUID,
                  gathering_id: UUID | None = None) -> Editing:
    async with runtime.database.sessions() as session:
        hub = await require_role(session, principal, hub_id, "admin")
        shops = (await session.exec(
            select(KnownShop).where(KnownShop.hub_id == hub_id).order_by(KnownShop.name)
        )).all()
        gathering = None
        if gathering_id is not None:
            gathering = (await _views(session, [await _gathering(session, hub_id, gathering_id)]))[0]
        return Editing(hub, list(shops), gathering)


async def change_gathering(runtime: ServiceRuntime, principal: Principal, hub_id: UUID,
                           gathering_id: UUID, changes: GatheringChanges) -> GatheringView:
    """Changes what the admin sent and announces the gathering again as now scheduled
    (GatheringScheduled, same id); sending what it already is changes nothing."""
    async with runtime.unit_of_work() as uow:
        await require_role(uow.session, principal, hub_id, "admin")
        gathering = await _gathering(uow.session, hub_id, gathering_id, for_update=True)
        shop_ids = await _shop_ids(uow.session, gathering.id)
        current = _details(gathering, shop_ids)
        wanted = changes.applied_to(current)
        moves = (wanted.starts_at, wanted.ends_at) != (current.starts_at, current.ends_at)
        refuse_change(status=gathering.status, starts_at=gathering.starts_at, now=utc_now(),
                      taken=gathering.taken, new_capacity=wanted.capacity, moves=moves,
                      has_collection_slot=gathering.slot_id is not None)
        opens_slot = bool(wanted.collection_capacity) and gathering.slot_id is None
        if wanted.model_dump(exclude={"collection_capacity"}) == current.model_dump(
                exclude={"collection_capacity"}) and not opens_slot:
            return (await _views(uow.session, [gathering]))[0]
        if moves:
            refuse_schedule(wanted.starts_at, utc_now())
        if wanted.shop_ids != shop_ids:
            await _require_hub_shops(uow.session, hub_id, wanted.shop_ids)
            await _link_shops(uow.session, gathering.id, wanted.shop_ids)
        for name in ("title", "description", "starts_at", "ends_at", "capacity"):
            setattr(gathering, name, getattr(wanted, name))
        gathering.revision += 1
        gathering.updated_at = utc_now()
        if opens_slot:
            await _open_collection_slot(uow, gathering, wanted.collection_capacity)
        await uow.emit(_scheduled(gathering, wanted.shop_ids))
        return (await _views(uow.session, [gathering]))[0]


async def cancel_gathering(runtime: ServiceRuntime, principal: Principal, hub_id: UUID,
                           gathering_id: UUID, reason: str) -> GatheringView:
    """Cancels it once; the notifications service tells those signed up (GatheringCancelled)."""
    async with runtime.unit_of_work() as uow:
        await require_role(uow.session, principal, hub_id, "admin")
        gathering = await _gathering(uow.session, hub_id, gathering_id, for_update=True)
        if gathering.status == CANCELLED:
            return (await _views(uow.session, [gathering]))[0]
        if gathering.starts_at <= utc_now():
            raise Conflict(_("cette animation a commencé : elle ne peut plus être annulée"))
        gathering.status, gathering.cancel_reason = CANCELLED, reason
        gathering.revision += 1
        gathering.updated_at = utc_now()
        await close_gathering_slots(uow, gathering.id, f"animation annulée : {reason}")
        await uow.emit(GatheringCancelled(gathering_id=gathering.id, hub_id=hub_id, reason=reason))
        return (await _views(uow.session, [gathering]))[0]


# --- the public calendar ----------------------------------------------------------------


async def hub_calendar(runtime: ServiceRuntime, principal: Principal | None, hub_id: UUID,
                       *, since: datetime | None = None) -> Calendar:
    """The hub's gatherings not over yet (or over after ``since``), soonest first; cancelled
    ones included, so those who meant to come see it."""
    async with runtime.database.sessions() as session:
        hub = await _hub(session, hub_id)
        gatherings = (await session.exec(
            select(Gathering)
            .where(Gathering.hub_id == hub_id, Gathering.ends_at > (since or utc_now()))
            .order_by(Gathering.starts_at, Gathering.title)
        )).all()
        return Calendar(hub, await _views(session, gatherings),
                        await _role(session, principal, hub_id))


async def gathering_page(runtime: ServiceRuntime, principal: Principal | None, hub_id: UUID,
                         gathering_id: UUID) -> GatheringPage:
    async with runtime.database.sessions() as session:
        hub = await _hub(session, hub_id)
        gathering = await _gathering(session, hub_id, gathering_id)
        signed_up = False
        if principal is not None:
            sign_up = await session.get(SignUp, (gathering_id, principal.user_id))
            signed_up = sign_up is not None and sign_up.status == SIGNED_UP
        return GatheringPage(hub, (await _views(session, [gathering]))[0], signed_up,
                             await _role(session, principal, hub_id))


# --- residents: signing up and cancelling -----------------------------------------------


async def sign_up(runtime: ServiceRuntime, principal: Principal, hub_id: UUID,
                  gathering_id: UUID) -> tuple[GatheringView, bool]:
    """Takes a place for the resident; True when they were not signed up already."""
    now = utc_now()
    async with runtime.unit_of_work() as uow:
        # Locked first so one resident signing up twice at once is seen signed up the second
        # time (PostgreSQL; SQLite serialises writers anyway).
        gathering = await _gathering(uow.session, hub_id, gathering_id, for_update=True)
        key = (gathering_id, principal.user_id)
        existing = await uow.session.get(SignUp, key)
        if existing is not None and existing.status == SIGNED_UP:
            return (await _views(uow.session, [gathering]))[0], False
        refuse_sign_up(status=gathering.status, starts_at=gathering.starts_at,
                       capacity=gathering.capacity, now=now)
        # One statement checks and takes the place: capacity holds whatever runs alongside.
        taken = (await uow.session.execute(
            update(Gathering)
            .where(col(Gathering.id) == gathering_id, col(Gathering.status) == SCHEDULED,
                   col(Gathering.starts_at) > now, col(Gathering.taken) < col(Gathering.capacity))
            .values(taken=col(Gathering.taken) + 1)
            .returning(col(Gathering.taken))
            .execution_options(synchronize_session=False)
        )).first()
        if taken is None:
            raise Conflict(_("cette animation est complète"))
        set_committed_value(gathering, "taken", taken.taken)
        if existing is None:
            uow.session.add(SignUp(gathering_id=gathering_id, user_id=principal.user_id,
                                   email=principal.email, name=principal.name or principal.email,
                                   status=SIGNED_UP, signed_up_at=now))
        else:
            existing.status, existing.signed_up_at, existing.cancelled_at = SIGNED_UP, now, None
        await uow.emit(ResidentSignedUp(gathering_id=gathering_id, hub_id=hub_id,
                                        user_id=principal.user_id))
        return (await _views(uow.session, [gathering]))[0], True


async def cancel_sign_up(runtime: ServiceRuntime, principal: Principal, hub_id: UUID,
                         gathering_id: UUID) -> GatheringView:
    """Gives the place back; cancelling what is not (or no longer) a sign-up changes nothing."""
    now = utc_now()
    async with runtime.unit_of_work() as uow:
        gathering = await _gathering(uow.session, hub_id, gathering_id, for_update=True)
        sign_up = await uow.session.get(SignUp, (gathering_id, principal.user_id))
        if sign_up is None or sign_up.status != SIGNED_UP or gathering.status == CANCELLED:
            return (await _views(uow.session, [gathering]))[0]
        refuse_sign_up_cancellation(starts_at=gathering.starts_at, now=now)
        sign_up.status, sign_up.cancelled_at = SIGN_UP_CANCELLED, now
        freed = (await uow.session.execute(
            update(Gathering)
            .where(col(Gathering.id) == gathering_id, col(Gathering.taken) > 0)
            .values(taken=col(Gathering.taken) - 1)
            .returning(col(Gathering.taken))
            .execution_options(synchronize_session=False)
        )).first()
        if freed is not None:
            set_committed_value(gathering, "taken", freed.taken)
        await uow.emit(SignUpCancelled(gathering_id=gathering_id, hub_id=hub_id,
                                       user_id=principal.user_id))
        return (await _views(uow.session, [gathering]))[0]


# --- staff: the list and who came --------------------------------------------------------


async def staff_gatherings(runtime: ServiceRuntime, principal: Principal, hub_id: UUID
                           ) -> Calendar:
    """The gatherings staff keep the lists of: those of the last weeks and those to come."""
    async with runtime.database.sessions() as session:
        await require_role(session, principal, hub_id, "staff")
    return await hub_calendar(runtime, principal, hub_id, since=utc_now() - RECENT)


async def sign_up_sheet(runtime: ServiceRuntime, principal: Principal, hub_id: UUID,
                        gathering_id: UUID) -> SignUpSheet:
    async with runtime.database.sessions() as session:
        hub = await require_role(session, principal, hub_id, "staff")
        gathering = await _gathering(session, hub_id, gathering_id)
        signed_up = (await session.exec(
            select(SignUp).where(SignUp.gathering_id == gathering_id, SignUp.status == SIGNED_UP)
        )).all()
        attended = (await session.exec(
            select(Attendance).where(Attendance.gathering_id == gathering_id)
        )).all()
        came = {attendance.user_id for attendance in attended}
        people = {row.user_id: (row.name, row.email) for row in [*attended, *signed_up]}
        listed = {row.user_id for row in signed_up}
        participants = sorted(
            (Participant(user_id, name, email, user_id in listed, user_id in came)
             for user_id, (name, email) in people.items()),
            key=lambda person: (person.name.casefold(), person.email))
        closed = attendance_refusal(status=gathering.status, starts_at=gathering.starts_at,
                                    now=utc_now())
        return SignUpSheet(hub, (await _views(session, [gathering]))[0], participants,
                           attendance_closed=closed)


async def record_attendance(runtime: ServiceRuntime, principal: Principal, hub_id: UUID,
                            gathering_id: UUID, *, user_id: UUID | None = None,
                            email: str | None = None) -> tuple[Participant, bool]:
    """Staff saw someone signed up (``user_id``) or who walked in (their account's ``email``);
    True when it was not recorded already."""
    async with runtime.unit_of_work() as uow:
        await require_role(uow.session, principal, hub_id, "staff")
        # Locked so two people ticking the same resident at once record them once.
        gathering = await _gathering(uow.session, hub_id, gathering_id, for_update=True)
        if refusal := attendance_refusal(status=gathering.status, starts_at=gathering.starts_at,
                                         now=utc_now()):
            raise Conflict(refusal)
        person = await _person(uow.session, gathering_id, user_id=user_id, email=email)
        sign_up = await uow.session.get(SignUp, (gathering_id, person.user_id))
        signed_up = sign_up is not None and sign_up.status == SIGNED_UP
        seen = Participant(person.user_id, person.name, person.email, signed_up, True)
        if await uow.session.get(Attendance, (gathering_id, person.user_id)) is not None:
            return seen, False
        uow.session.add(Attendance(gathering_id=gathering_id, user_id=person.user_id,
                                   email=person.email, name=person.name,
                                   recorded_by=principal.user_id, recorded_at=utc_now()))
        await uow.emit(AttendanceRecorded(gathering_id=gathering_id, hub_id=hub_id,
                                          user_id=person.user_id))
        return seen, True


# --- helpers ----------------------------------------------------------------------------


async def _hub(session: AsyncSession, hub_id: UUID) -> Hub:
    hub = await session.get(Hub, hub_id)
    if hub is None:
        raise NotFound(_("aucun tiers-lieu %(id)s") % {"id": hub_id})
    return hub


async def _gathering(session: AsyncSession, hub_id: UUID, gathering_id: UUID, *,
                     for_update: bool = False) -> Gathering:
    gathering = await session.get(Gathering, gathering_id, with_for_update=for_update)
    if gathering is None or gathering.hub_id != hub_id:
        raise NotFound(_("aucune animation %(id)s dans ce tiers-lieu") % {"id": gathering_id})
    return gathering


async def _role(session: AsyncSession, principal: Principal | None, hub_id: UUID
                ) -> HubRole | None:
    """What the visitor may do at the hub, so pages offer it: admin, staff, or nothing."""
    if principal is None:
        return None
    staff = await session.get(HubStaff, (hub_id, principal.user_id))
    held = staff.role if staff else None
    for role in ("admin", "staff"):
        if may_act_as(held, role, platform_admin=principal.is_platform_admin):
            return role
    return None


async def _require_hub_shops(session: AsyncSession, hub_id: UUID, shop_ids: list[UUID]) -> None:
    if not shop_ids:
        return
    known = set((await session.exec(
        select(KnownShop.id).where(col(KnownShop.id).in_(shop_ids), KnownShop.hub_id == hub_id)
    )).all())
    if unknown := [str(shop_id) for shop_id in shop_ids if shop_id not in known]:
        raise Unprocessable(_("ces boutiques ne sont pas du tiers-lieu : %(shops)s")
                            % {"shops": ", ".join(unknown)}, details=unknown)


async def _shop_ids(session: AsyncSession, gathering_id: UUID) -> list[UUID]:
    return list((await session.exec(
        select(GatheringShop.shop_id).where(GatheringShop.gathering_id == gathering_id)
    )).all())


async def _link_shops(session: AsyncSession, gathering_id: UUID, shop_ids: list[UUID]) -> None:
    await session.execute(delete(GatheringShop).where(col(GatheringShop.gathering_id) == gathering_id))
    session.add_all(GatheringShop(gathering_id=gathering_id, shop_id=shop_id) for shop_id in shop_ids)


async def _person(session: AsyncSession, gathering_id: UUID, *, user_id: UUID | None,
                  email: str | None) -> Participant:
    """Who staff name: someone signed up by their id, anyone with an account by e-mail."""
    if user_id is not None:
        sign_up = await session.get(SignUp, (gathering_id, user_id))
        if sign_up is not None:
            return Participant(user_id, sign_up.name, sign_up.email, True, False)
        user = await session.get(KnownUser, user_id)
    else:
        user = (await session.exec(
            select(KnownUser).where(KnownUser.email == (email or "").strip().lower())
        )).first()
    if user is None:
        raise Unprocessable(_("aucun compte n'existe pour %(who)s") % {"who": email or user_id})
    return Participant(user.id, user.name, user.email, False, False)


async def _open_collection_slot(uow: UnitOfWork, gathering: Gathering, capacity: int) -> None:
    slot = await open_gathering_slot(uow, gathering.hub_id, gathering.id, gathering.title,
                                     gathering.starts_at, gathering.ends_at, capacity)
    gathering.slot_id = slot.id


def _details(gathering: Gathering, shop_ids: list[UUID]) -> GatheringDetails:
    return GatheringDetails(title=gathering.title, description=gathering.description,
                            starts_at=gathering.starts_at, ends_at=gathering.ends_at,
                            capacity=gathering.capacity, shop_ids=shop_ids)


def _scheduled(gathering: Gathering, shop_ids: list[UUID]) -> GatheringScheduled:
    return GatheringScheduled(
        gathering_id=gathering.id, hub_id=gathering.hub_id, title=gathering.title,
        description=gathering.description, starts_at=gathering.starts_at,
        ends_at=gathering.ends_at, capacity=gathering.capacity, shop_ids=shop_ids)


async def _views(session: AsyncSession, gatherings: Sequence[Gathering]) -> list[GatheringView]:
    ids = [gathering.id for gathering in gatherings]
    rows = (await session.exec(
        select(GatheringShop.gathering_id, KnownShop.id, KnownShop.name)
        .join(KnownShop, col(KnownShop.id) == col(GatheringShop.shop_id))
        .where(col(GatheringShop.gathering_id).in_(ids))
        .order_by(KnownShop.name)
    )).all()
    shops: dict[UUID, list[LinkedShop]] = {gathering_id: [] for gathering_id in ids}
    for gathering_id, shop_id, name in rows:
        shops[gathering_id].append(LinkedShop(shop_id, name))
    return [
        GatheringView(
            id=g.id, hub_id=g.hub_id, title=g.title, description=g.description,
            starts_at=g.starts_at, ends_at=g.ends_at, capacity=g.capacity, taken=g.taken,
            places_left=places_left(g.capacity, g.taken), status=g.status,
            cancel_reason=g.cancel_reason, slot_id=g.slot_id, shops=shops[g.id],
            revision=g.revision, updated_at=g.updated_at)
        for g in gatherings
    ]
