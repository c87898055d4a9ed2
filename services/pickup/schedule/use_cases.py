"""Opening hours and exceptions, slot settings, and the slots made from them or for gatherings."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.auth.tokens import Principal
from libs.contracts.pickup import SlotClosed
from libs.kit.errors import Conflict, Forbidden, NotFound, Unprocessable
from libs.kit.i18n import gettext as _
from libs.kit.runtime import ServiceRuntime, UnitOfWork
from services.pickup.domain import paris_today
from services.pickup.schedule.domain import (
    DURING_GATHERING,
    FROM_OPENING_HOURS,
    ExceptionDays,
    ExceptionDetails,
    GeneratedSlot,
    SlotSettings,
    TimeRange,
    WeeklyHours,
    gathering_slot_label,
    plan_slots,
)
from services.pickup.schedule.tables import HubSchedule, ScheduleException
from services.pickup.tables import Hub, Slot
from services.pickup.use_cases import get_hub, lead_time, require_role, slot_opened, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Schedule:
    """A hub's hours as residents and its admins see them."""

    hub: Hub
    weekly: WeeklyHours
    settings: SlotSettings
    exceptions: list[ScheduleException]


@dataclass(frozen=True)
class Generation:
    """What generating a hub's slots did."""

    opened: list[Slot]
    closed: list[Slot]
    kept_held: list[Slot]


# --- hours and settings -----------------------------------------------------------------


async def schedule_of(runtime: ServiceRuntime, hub_id: UUID) -> Schedule:
    """The hub's weekly hours, slot settings, and the exceptions not yet over."""
    hub = await get_hub(runtime, hub_id)
    async with runtime.database.sessions() as session:
        row = await session.get(HubSchedule, hub_id)
        exceptions = await _exceptions(session, hub_id, since=paris_today(utc_now()))
    return _schedule(hub, row, exceptions)


async def set_schedule(runtime: ServiceRuntime, principal: Principal, hub_id: UUID, *,
                       weekly: WeeklyHours | None = None, settings: SlotSettings | None = None
                       ) -> Schedule:
    """Replaces the weekly hours, the slot settings, or both. Slots follow at the next
    generation; a new lead time reaches the slots already open at once."""
    async with runtime.unit_of_work() as uow:
        hub = await require_role(uow.session, principal, hub_id, "admin")
        row = await _schedule_row(uow.session, hub_id)
        former_lead = row.lead_time_hours
        if weekly is not None:
            row.weekly_hours = weekly.model_dump(mode="json")
        if settings is not None:
            for name, value in settings.model_dump().items():
                setattr(row, name, value)
        row.updated_at = utc_now()
        if row.lead_time_hours != former_lead:
            await _restate_open_slots(uow, hub_id, timedelta(hours=row.lead_time_hours))
        exceptions = await _exceptions(uow.session, hub_id, since=paris_today(utc_now()))
    return _schedule(hub, row, exceptions)


async def add_exception(runtime: ServiceRuntime, principal: Principal, hub_id: UUID,
                        details: ExceptionDetails) -> ScheduleException:
    if details.last_day < paris_today(utc_now()):
        raise Unprocessable(_("cette exception est entièrement passée"))
    async with runtime.unit_of_work() as uow:
        await require_role(uow.session, principal, hub_id, "admin")
        await _schedule_row(uow.session, hub_id)  # locks the hub's schedule: no overlap sneaks in
        for other in await _exceptions(uow.session, hub_id, since=details.first_day):
            if _days(other).overlaps(details):
                raise Conflict(_("ces jours recoupent l'exception « %(label)s » du %(first)s au "
                                 "%(last)s") % {"label": other.label,
                                                "first": f"{other.first_day:%d/%m/%Y}",
                                                "last": f"{other.last_day:%d/%m/%Y}"})
        exception = ScheduleException(
            id=uuid4(), hub_id=hub_id, first_day=details.first_day, last_day=details.last_day,
            label=details.label, hours=[r.model_dump(mode="json") for r in details.hours],
            created_at=utc_now())
        uow.session.add(exception)
    return exception


async def remove_exception(runtime: ServiceRuntime, principal: Principal, hub_id: UUID,
                           exception_id: UUID) -> None:
    async with runtime.unit_of_work() as uow:
        await require_role(uow.session, principal, hub_id, "admin")
        exception = await uow.session.get(ScheduleException, exception_id)
        if exception is None or exception.hub_id != hub_id:
            raise NotFound(_("aucune exception %(id)s pour ce tiers-lieu") % {"id": exception_id})
        await uow.session.delete(exception)


async def may_edit(runtime: ServiceRuntime, principal: Principal, hub_id: UUID) -> bool:
    async with runtime.database.sessions() as session:
        try:
            await require_role(session, principal, hub_id, "admin")
        except Forbidden:
            return False
    return True


# --- generating slots -------------------------------------------------------------------


async def generate_hub_slots(runtime: ServiceRuntime, principal: Principal, hub_id: UUID
                             ) -> Generation:
    """The hub admin's « generate now »."""
    async with runtime.unit_of_work() as uow:
        await require_role(uow.session, principal, hub_id, "admin")
        if await uow.session.get(HubSchedule, hub_id) is None:
            raise Conflict(_("ce tiers-lieu n'a pas encore d'horaires d'ouverture"))
        return await generate_slots(uow, hub_id, utc_now())


async def generate_every_hubs_slots(runtime: ServiceRuntime) -> None:
    """The periodic job: each hub with hours gets its slots for the horizon, one transaction per
    hub so that one hub's trouble does not hold the others back."""
    async with runtime.database.sessions() as session:
        hub_ids = (await session.exec(select(HubSchedule.hub_id))).all()
    for hub_id in hub_ids:
        try:
            async with runtime.unit_of_work() as uow:
                await generate_slots(uow, hub_id, utc_now())
        except Exception:
            log.exception("slot generation failed", extra={"hub_id": str(hub_id)})


async def generate_slots(uow: UnitOfWork, hub_id: UUID, now: datetime) -> Generation:
    """Opens the slots the hours make over the horizon that are not open yet, and closes the
    hours' slots that no longer fit them, unless orders hold places there (those are kept and
    reported). Running it twice changes nothing the second time."""
    row = await _schedule_row(uow.session, hub_id)  # locked: one generation per hub at a time
    settings = _settings(row)
    existing = (await uow.session.exec(
        select(Slot).where(Slot.hub_id == hub_id, Slot.origin == FROM_OPENING_HOURS,
                           col(Slot.closed_at).is_(None), Slot.starts_at > now)
    )).all()
    plan = plan_slots(
        today=paris_today(now), now=now, settings=settings,
        weekly=WeeklyHours.model_validate(row.weekly_hours),
        exceptions=[_days(e) for e in await _exceptions(uow.session, hub_id,
                                                        since=paris_today(now))],
        existing=[GeneratedSlot(s.id, s.starts_at, s.ends_at, s.held) for s in existing])
    lead = timedelta(hours=settings.lead_time_hours)
    opened = []
    for starts_at, ends_at in plan.to_open:
        slot = Slot(id=uuid4(), hub_id=hub_id, starts_at=starts_at, ends_at=ends_at,
                    capacity=settings.capacity, origin=FROM_OPENING_HOURS)
        uow.session.add(slot)
        await uow.emit(slot_opened(slot, lead))
        opened.append(slot)
    by_id = {slot.id: slot for slot in existing}
    closed, kept = [], [by_id[slot_id] for slot_id in plan.kept_held]
    for slot_id, reason in plan.to_close.items():
        # A place taken since the plan was made keeps the slot open, like the others held.
        closing = await close_slot(uow, by_id[slot_id], reason, now, only_unheld=True)
        (closed if closing else kept).append(by_id[slot_id])
    row.generated_at = now
    return Generation(opened, closed, sorted(kept, key=lambda s: s.starts_at))


async def close_slot(uow: UnitOfWork, slot: Slot, reason: str, now: datetime, *,
                     only_unheld: bool = False) -> bool:
    """No new order may choose the slot; False if it was closed already (or, ``only_unheld``,
    holds a place: a conditional update, so a hold racing with it either wins or is refused)."""
    condition = [col(Slot.id) == slot.id, col(Slot.closed_at).is_(None)]
    if only_unheld:
        condition.append(col(Slot.held) == 0)
    changed = (await uow.session.execute(
        update(Slot).where(*condition).values(closed_at=now)
        .execution_options(synchronize_session=False)
    )).rowcount
    if not changed:
        return False
    slot.closed_at = now
    await uow.emit(SlotClosed(slot_id=slot.id, hub_id=slot.hub_id, reason=reason))
    return True


async def close_hub_slot(runtime: ServiceRuntime, principal: Principal, hub_id: UUID,
                         slot_id: UUID, reason: str) -> Slot:
    """Staff withdraw a slot; places already held there stay held."""
    async with runtime.unit_of_work() as uow:
        await require_role(uow.session, principal, hub_id, "staff")
        slot = await uow.session.get(Slot, slot_id)
        if slot is None or slot.hub_id != hub_id:
            raise NotFound(_("aucun créneau %(id)s dans ce tiers-lieu") % {"id": slot_id})
        if not await close_slot(uow, slot, reason, utc_now()):
            raise Conflict(_("ce créneau est déjà fermé"))
    return slot


async def held_outside_hours(runtime: ServiceRuntime, principal: Principal, hub_id: UUID
                             ) -> list[Slot]:
    """The hours' slots still open though they no longer fit the hours, because orders hold
    places there: for the admin to deal with."""
    now = utc_now()
    async with runtime.database.sessions() as session:
        await require_role(session, principal, hub_id, "admin")
        row = await session.get(HubSchedule, hub_id)
        if row is None:
            return []
        existing = (await session.exec(
            select(Slot).where(Slot.hub_id == hub_id, Slot.origin == FROM_OPENING_HOURS,
                               col(Slot.closed_at).is_(None), Slot.starts_at > now, Slot.held > 0)
            .order_by(Slot.starts_at)
        )).all()
        plan = plan_slots(
            today=paris_today(now), now=now, settings=_settings(row),
            weekly=WeeklyHours.model_validate(row.weekly_hours),
            exceptions=[_days(e) for e in await _exceptions(session, hub_id,
                                                            since=paris_today(now))],
            existing=[GeneratedSlot(s.id, s.starts_at, s.ends_at, s.held) for s in existing])
    return [slot for slot in existing if slot.id in plan.kept_held]


# --- slots attached to gatherings -------------------------------------------------------


async def open_gathering_slot(uow: UnitOfWork, hub_id: UUID, gathering_id: UUID, title: str,
                              starts_at: datetime, ends_at: datetime, capacity: int) -> Slot:
    """A slot for collecting orders during a gathering (« Retrait pendant : Dégustation de
    fromages »), in the caller's transaction. The gathering's slot still open is returned rather
    than opened twice."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise Unprocessable("les heures du créneau doivent préciser leur fuseau horaire")
    if ends_at <= starts_at:
        raise Unprocessable("la fin du créneau doit venir après son début")
    if capacity < 1:
        raise Unprocessable("le créneau doit pouvoir accueillir au moins une commande")
    existing = (await uow.session.exec(
        select(Slot).where(Slot.gathering_id == gathering_id, col(Slot.closed_at).is_(None))
    )).first()
    if existing is not None:
        return existing
    slot = Slot(id=uuid4(), hub_id=hub_id, starts_at=starts_at, ends_at=ends_at,
                capacity=capacity, origin=DURING_GATHERING, gathering_id=gathering_id,
                label=gathering_slot_label(title))
    uow.session.add(slot)
    await uow.emit(slot_opened(slot, await lead_time(uow.session, hub_id)))
    return slot


async def close_gathering_slots(uow: UnitOfWork, gathering_id: UUID, reason: str) -> None:
    """The gathering is off: its slots take no new order (those held stay held)."""
    slots = (await uow.session.exec(
        select(Slot).where(Slot.gathering_id == gathering_id, col(Slot.closed_at).is_(None))
    )).all()
    for slot in slots:
        await close_slot(uow, slot, reason, utc_now())


# --- helpers ----------------------------------------------------------------------------


async def _schedule_row(session: AsyncSession, hub_id: UUID) -> HubSchedule:
    """The hub's schedule, locked for the transaction; made with default settings if new."""
    row = await session.get(HubSchedule, hub_id, with_for_update=True)
    if row is None:
        row = HubSchedule(hub_id=hub_id, weekly_hours={}, updated_at=utc_now(),
                          **SlotSettings().model_dump())
        session.add(row)
        await session.flush()
    return row


async def _restate_open_slots(uow: UnitOfWork, hub_id: UUID, lead: timedelta) -> None:
    """Every open slot yet to start, opened again with the moment orders stop choosing it."""
    slots = (await uow.session.exec(
        select(Slot).where(Slot.hub_id == hub_id, col(Slot.closed_at).is_(None),
                           Slot.starts_at > utc_now())
    )).all()
    for slot in slots:
        await uow.emit(slot_opened(slot, lead))


async def _exceptions(session: AsyncSession, hub_id: UUID, *, since: date
                      ) -> list[ScheduleException]:
    return list((await session.exec(
        select(ScheduleException)
        .where(ScheduleException.hub_id == hub_id, ScheduleException.last_day >= since)
        .order_by(ScheduleException.first_day)
    )).all())


def _days(exception: ScheduleException) -> ExceptionDays:
    return ExceptionDays(exception.first_day, exception.last_day, exception.label,
                         tuple(TimeRange.model_validate(r) for r in exception.hours))


def _settings(row: HubSchedule | None) -> SlotSettings:
    if row is None:
        return SlotSettings()
    return SlotSettings(slot_minutes=row.slot_minutes, capacity=row.capacity,
                        lead_time_hours=row.lead_time_hours, horizon_days=row.horizon_days)


def _schedule(hub: Hub, row: HubSchedule | None, exceptions: list[ScheduleException]
              ) -> Schedule:
    weekly = WeeklyHours.model_validate(row.weekly_hours if row else {})
    return Schedule(hub, weekly, _settings(row), exceptions)
