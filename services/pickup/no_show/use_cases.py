"""The hubs' no-show policies, and applying them: the periodic chase of ready pickups whose slot
is over (reminder, then no-show) and the no-show staff record by hand."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from sqlalchemy import update
from sqlmodel import col, select

from libs.auth.tokens import Principal
from libs.contracts.pickup import NoShowRecorded, PickupOverdue
from libs.kit.runtime import ServiceRuntime, UnitOfWork
from services.pickup.domain import CANCELLED, NO_SHOW, READY, may_act_as
from services.pickup.no_show.domain import (
    DEFAULT_TERMS,
    NoShowTerms,
    Step,
    hold_end,
    next_step,
    refuse_no_show,
)
from services.pickup.no_show.tables import NoShowPolicy
from services.pickup.tables import Hub, HubStaff, Pickup, PickupPart, Slot
from services.pickup.use_cases import (
    PickupView,
    carry_on_saga,
    find_pickup,
    pickup_views,
    require_role,
    utc_now,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HubNoShowPolicy:
    hub: Hub
    terms: NoShowTerms
    is_default: bool


@dataclass
class Chase:
    """What one round of the chase did."""

    reminded: list[UUID] = field(default_factory=list)
    given_up: list[UUID] = field(default_factory=list)


# --- the policy -------------------------------------------------------------------------


async def policy_of(runtime: ServiceRuntime, principal: Principal, hub_id: UUID
                    ) -> HubNoShowPolicy:
    async with runtime.database.sessions() as session:
        hub = await require_role(session, principal, hub_id, "staff")
        return _policy(hub, await session.get(NoShowPolicy, hub_id))


async def set_policy(runtime: ServiceRuntime, principal: Principal, hub_id: UUID,
                     terms: NoShowTerms) -> HubNoShowPolicy:
    """For pickups reminded from now on: a reminder already sent keeps the hold it announced."""
    async with runtime.unit_of_work() as uow:
        hub = await require_role(uow.session, principal, hub_id, "admin")
        policy = await uow.session.get(NoShowPolicy, hub_id, with_for_update=True)
        if policy is None:
            policy = NoShowPolicy(hub_id=hub_id, **terms.model_dump(), updated_at=utc_now(),
                                  updated_by=principal.user_id)
            uow.session.add(policy)
        else:
            policy.sqlmodel_update({**terms.model_dump(), "updated_at": utc_now(),
                                    "updated_by": principal.user_id})
        return _policy(hub, policy)


async def may_set_policy(runtime: ServiceRuntime, principal: Principal, hub_id: UUID) -> bool:
    async with runtime.database.sessions() as session:
        staff = await session.get(HubStaff, (hub_id, principal.user_id))
    return may_act_as(staff.role if staff else None, "admin",
                      platform_admin=principal.is_platform_admin)


def _policy(hub: Hub, policy: NoShowPolicy | None) -> HubNoShowPolicy:
    return HubNoShowPolicy(hub, _terms(policy), is_default=policy is None)


def _terms(policy: NoShowPolicy | None) -> NoShowTerms:
    if policy is None:
        return DEFAULT_TERMS
    return NoShowTerms(reminder_after_hours=policy.reminder_after_hours,
                       hold_hours=policy.hold_hours)


# --- the chase --------------------------------------------------------------------------


async def chase_overdue_pickups(runtime: ServiceRuntime, now: datetime | None = None) -> Chase:
    """Reminds the residents of ready pickups whose slot is over by the hub's reminder delay
    (PickupOverdue, once), and gives up on those whose hold is over (NoShowRecorded, once).
    The periodic work runs it on the real clock; tests hand it ``now`` to move time forward."""
    now = now or utc_now()
    chase = Chase()
    async with runtime.database.sessions() as session:
        rows = (await session.exec(
            select(Pickup, Slot.ends_at, NoShowPolicy)
            .join(Slot, col(Slot.id) == col(Pickup.slot_id))
            .join(NoShowPolicy, col(NoShowPolicy.hub_id) == col(Pickup.hub_id), isouter=True)
            .where(Pickup.status == READY, Slot.ends_at <= now)
        )).all()
    for pickup, slot_ends_at, policy in rows:
        terms = _terms(policy)
        step = next_step(terms, slot_ends_at=slot_ends_at, ready_at=pickup.ready_at,
                         reminded=pickup.overdue_at is not None, held_until=pickup.held_until,
                         now=now)
        if step == Step.REMIND:
            held_until = hold_end(terms, slot_ends_at=slot_ends_at, ready_at=pickup.ready_at,
                                  now=now)
            if await _remind(runtime, pickup, held_until, now):
                chase.reminded.append(pickup.order_id)
        elif step == Step.GIVE_UP:
            async with runtime.unit_of_work() as uow:
                if await _give_up(uow, pickup, now):
                    chase.given_up.append(pickup.order_id)
    if chase.reminded or chase.given_up:
        log.info("no-show chase", extra={"reminded": len(chase.reminded),
                                          "given_up": len(chase.given_up)})
    return chase


async def _remind(runtime: ServiceRuntime, pickup: Pickup, held_until: datetime,
                  now: datetime) -> bool:
    # Conditional, so two rounds (or two replicas) racing remind once.
    async with runtime.unit_of_work() as uow:
        marked = await uow.session.execute(
            update(Pickup)
            .where(col(Pickup.order_id) == pickup.order_id, col(Pickup.status) == READY,
                   col(Pickup.overdue_at).is_(None))
            .values(overdue_at=now, held_until=held_until)
            .execution_options(synchronize_session=False)
        )
        if marked.rowcount != 1:
            return False
        carry_on_saga(uow, pickup)
        await uow.emit(PickupOverdue(order_id=pickup.order_id, hub_id=pickup.hub_id,
                                     held_until=held_until))
    return True


async def _give_up(uow: UnitOfWork, pickup: Pickup, now: datetime) -> bool:
    """The goods go back to their shops: one NoShowRecorded, whoever races to say it."""
    marked = await uow.session.execute(
        update(Pickup)
        .where(col(Pickup.order_id) == pickup.order_id, col(Pickup.status) == READY)
        .values(status=NO_SHOW, no_show_at=now)
        .execution_options(synchronize_session=False)
    )
    if marked.rowcount != 1:
        return False
    carry_on_saga(uow, pickup)
    shop_ids = (await uow.session.exec(
        select(PickupPart.shop_id)
        .where(PickupPart.order_id == pickup.order_id, PickupPart.status != CANCELLED)
        .order_by(PickupPart.shop_id)
    )).all()
    await uow.emit(NoShowRecorded(order_id=pickup.order_id, hub_id=pickup.hub_id,
                                  shop_ids=list(shop_ids)))
    return True


# --- by hand, at the desk ---------------------------------------------------------------


async def record_no_show(runtime: ServiceRuntime, principal: Principal, order_id: UUID,
                         now: datetime | None = None) -> PickupView:
    """Staff say the resident will not come (once the slot is over), without waiting for the
    hold to end."""
    now = now or utc_now()
    async with runtime.unit_of_work() as uow:
        pickup = await find_pickup(uow.session, order_id, for_update=True)
        await require_role(uow.session, principal, pickup.hub_id, "staff")
        slot = await uow.session.get(Slot, pickup.slot_id)
        refuse_no_show(pickup.status, slot.ends_at, now)
        await _give_up(uow, pickup, now)
        await uow.session.refresh(pickup)
        return (await pickup_views(uow.session, [pickup]))[0]
