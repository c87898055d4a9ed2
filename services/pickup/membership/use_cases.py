"""What the hubs' memberships do: load, change, write the outbox, commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.auth.tokens import Principal
from libs.contracts.payment import MembershipFeeFailed, MembershipFeePaid
from libs.contracts.pickup import MembershipEnded, MembershipFeeRequested, MembershipStarted
from libs.kit.errors import Conflict, NotFound, Unprocessable
from libs.kit.runtime import ServiceRuntime, UnitOfWork
from services.pickup.membership.domain import (
    ACTIVE,
    AWAITING_PAYMENT,
    CURRENT,
    ENDED,
    EXPIRED,
    LAPSE_GRACE,
    LAPSED,
    LEFT,
    PAY_WITHIN,
    RENEWED,
    UNPAID,
    MembershipTermsDetails,
    expiry,
    is_valid,
    may_renew,
    member_number,
    number_prefix,
    refuse_joining,
    renewal_start,
    sought_number,
)
from services.pickup.membership.tables import Member, Membership, MembershipTerms
from services.pickup.tables import Hub
from services.pickup.use_cases import require_role, utc_now

# --- views: what the API and the pages show ---------------------------------------------


@dataclass(frozen=True)
class TermsView:
    hub_id: UUID
    open: bool
    fee_cents: int
    duration_months: int | None
    benefits: str


@dataclass(frozen=True)
class MembershipView:
    id: UUID
    hub_id: UUID
    resident_id: UUID
    name: str
    status: str
    fee_cents: int
    number: str | None
    member_since: datetime | None
    requested_at: datetime
    pay_by: datetime | None
    started_at: datetime | None
    expires_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    valid: bool


@dataclass(frozen=True)
class MembershipPage:
    """A hub's membership as one resident (or a visitor) sees it."""

    hub: Hub
    terms: TermsView
    membership: MembershipView | None
    may_join: bool
    may_renew: bool
    # A renewal asked for while the membership shown still runs, waiting for its fee.
    pending_renewal: MembershipView | None = None


@dataclass(frozen=True)
class MemberRow:
    number: str
    resident_id: UUID
    name: str
    email: str
    since: datetime
    status: str
    expires_at: datetime | None
    valid: bool


@dataclass(frozen=True)
class MemberList:
    hub: Hub
    members: list[MemberRow]

    @property
    def valid_count(self) -> int:
        return sum(member.valid for member in self.members)


@dataclass(frozen=True)
class MemberCheck:
    hub: Hub
    member: MemberRow


# --- the hub's terms --------------------------------------------------------------------


async def membership_terms(runtime: ServiceRuntime, hub_id: UUID) -> TermsView:
    async with runtime.database.sessions() as session:
        await _hub(session, hub_id)
        return _terms_view(hub_id, await session.get(MembershipTerms, hub_id))


async def editing_terms(runtime: ServiceRuntime, principal: Principal, hub_id: UUID
                        ) -> tuple[Hub, TermsView]:
    async with runtime.database.sessions() as session:
        hub = await require_role(session, principal, hub_id, "admin")
        return hub, _terms_view(hub_id, await session.get(MembershipTerms, hub_id))


async def set_terms(runtime: ServiceRuntime, principal: Principal, hub_id: UUID,
                    details: MembershipTermsDetails) -> TermsView:
    """The hub's admins decide; memberships already asked for or running keep their terms."""
    async with runtime.unit_of_work() as uow:
        await require_role(uow.session, principal, hub_id, "admin")
        terms = await uow.session.get(MembershipTerms, hub_id, with_for_update=True)
        if terms is None:
            terms = MembershipTerms(hub_id=hub_id, updated_at=utc_now())
            uow.session.add(terms)
        for name, value in details.model_dump().items():
            setattr(terms, name, value)
        terms.updated_at = utc_now()
        return _terms_view(hub_id, terms)


# --- residents: joining, renewing, leaving ----------------------------------------------


async def membership_page(runtime: ServiceRuntime, principal: Principal | None, hub_id: UUID
                          ) -> MembershipPage:
    now = utc_now()
    async with runtime.database.sessions() as session:
        hub = await _hub(session, hub_id)
        terms = _terms_view(hub_id, await session.get(MembershipTerms, hub_id))
        shown = (None if principal is None
                 else await _shown_membership(session, hub_id, principal.user_id))
        if shown is None:
            return MembershipPage(hub, terms, None, may_join=terms.open, may_renew=False)
        view = await _view(session, shown, now)
        awaiting = next((m for m in await _current(session, hub_id, principal.user_id)
                         if m.status == AWAITING_PAYMENT and m.id != shown.id), None)
        renewing = awaiting is None and may_renew(status=shown.status,
                                                  expires_at=shown.expires_at, now=now)
        may_join = terms.open and (shown.status not in CURRENT or renewing)
        return MembershipPage(
            hub, terms, view, may_join=may_join, may_renew=terms.open and renewing,
            pending_renewal=None if awaiting is None else await _view(session, awaiting, now))


async def join(runtime: ServiceRuntime, principal: Principal, hub_id: UUID) -> MembershipView:
    """A free membership starts at once; one with a fee waits for it (``MembershipFeeRequested``:
    the payment service takes it on its page). Joining again renews, within the rules."""
    now = utc_now()
    async with runtime.unit_of_work() as uow:
        await _hub(uow.session, hub_id)
        # Locked so one resident's two clicks at once are seen one after the other (PostgreSQL;
        # SQLite serialises writers anyway).
        terms = await uow.session.get(MembershipTerms, hub_id, with_for_update=True)
        current = await _current(uow.session, hub_id, principal.user_id)
        awaiting = next((m for m in current if m.status == AWAITING_PAYMENT), None)
        active = next((m for m in current if m.status == ACTIVE), None)
        shown = awaiting or active
        refuse_joining(hub_open=terms is not None and terms.open,
                       current_status=shown.status if shown else None,
                       current_expires_at=shown.expires_at if shown else None, now=now)
        membership = Membership(
            id=uuid4(), hub_id=hub_id, resident_id=principal.user_id,
            name=principal.name or principal.email, email=principal.email,
            status=AWAITING_PAYMENT, fee_cents=terms.fee_cents,
            duration_months=terms.duration_months, renews=active.id if active else None,
            requested_at=now)
        uow.session.add(membership)
        if terms.fee_cents == 0:
            await _start(uow, membership, now)
        else:
            membership.pay_by = now + PAY_WITHIN
            await uow.session.flush()
            await uow.emit(MembershipFeeRequested(
                membership_id=membership.id, hub_id=hub_id, resident_id=principal.user_id,
                amount_cents=terms.fee_cents, pay_by=membership.pay_by))
        return await _view(uow.session, membership, now)


async def leave(runtime: ServiceRuntime, principal: Principal, hub_id: UUID) -> MembershipView:
    now = utc_now()
    async with runtime.unit_of_work() as uow:
        await _hub(uow.session, hub_id)
        active = next((m for m in await _current(uow.session, hub_id, principal.user_id,
                                                 for_update=True)
                       if m.status == ACTIVE), None)
        if active is None:
            raise Conflict("vous n'êtes pas adhérent·e de ce tiers-lieu")
        await _end(uow, active, LEFT, now)
        return await _view(uow.session, active, now)


async def my_membership(runtime: ServiceRuntime, principal: Principal, hub_id: UUID
                        ) -> MembershipView:
    """The resident's membership at the hub: the running one, else the one awaiting its fee,
    else the last one."""
    async with runtime.database.sessions() as session:
        await _hub(session, hub_id)
        shown = await _shown_membership(session, hub_id, principal.user_id)
        if shown is None:
            raise NotFound("vous n'avez jamais adhéré à ce tiers-lieu")
        return await _view(session, shown, utc_now())


# --- the payment service's word on a fee ------------------------------------------------


async def start_paid_membership(event: MembershipFeePaid, uow: UnitOfWork) -> None:
    """The fee is in: the membership starts. One given up on a moment too early starts all the
    same (the resident paid), unless another has begun since; that one's fee is then for the
    hub to give back."""
    membership = await uow.session.get(Membership, event.membership_id, with_for_update=True)
    if membership is None or membership.status not in (AWAITING_PAYMENT, LAPSED):
        return
    if membership.status == LAPSED:
        current = await _current(uow.session, membership.hub_id, membership.resident_id)
        if any(other.id != membership.renews for other in current):
            return
        membership.status, membership.ended_at, membership.end_reason = AWAITING_PAYMENT, None, None
        await uow.session.flush()
    await _start(uow, membership, utc_now())


async def lapse_unpaid_membership(event: MembershipFeeFailed, uow: UnitOfWork) -> None:
    membership = await uow.session.get(Membership, event.membership_id, with_for_update=True)
    if membership is not None and membership.status == AWAITING_PAYMENT:
        _lapse(membership, utc_now())


# --- on the clock -----------------------------------------------------------------------


async def end_lapsed_memberships(runtime: ServiceRuntime) -> None:
    """Ends the memberships whose time is up, and gives up on fees left unpaid."""
    now = utc_now()
    async with runtime.unit_of_work() as uow:
        # Locked, then checked again by PostgreSQL: two instances never end one twice.
        expired = (await uow.session.exec(
            select(Membership)
            .where(Membership.status == ACTIVE, col(Membership.expires_at) <= now)
            .with_for_update()
        )).all()
        for membership in expired:
            await _end(uow, membership, EXPIRED, membership.expires_at)
        unpaid = (await uow.session.exec(
            select(Membership)
            .where(Membership.status == AWAITING_PAYMENT,
                   col(Membership.pay_by) <= now - LAPSE_GRACE)
            .with_for_update()
        )).all()
        for membership in unpaid:
            _lapse(membership, now)


# --- hub side: members and the desk's check ---------------------------------------------


async def hub_members(runtime: ServiceRuntime, principal: Principal, hub_id: UUID) -> MemberList:
    """Everyone who has been a member of the hub, by number, for its admins."""
    now = utc_now()
    async with runtime.database.sessions() as session:
        hub = await require_role(session, principal, hub_id, "admin")
        members = (await session.exec(
            select(Member).where(Member.hub_id == hub_id).order_by(Member.sequence)
        )).all()
        latest = await _latest_started(session, hub_id)
        return MemberList(hub, [_row(member, latest.get(member.resident_id), now)
                                for member in members])


async def staff_hub(runtime: ServiceRuntime, principal: Principal, hub_id: UUID) -> Hub:
    async with runtime.database.sessions() as session:
        return await require_role(session, principal, hub_id, "staff")


async def check_member(runtime: ServiceRuntime, principal: Principal, hub_id: UUID, typed: str
                       ) -> MemberCheck:
    """For the hub's staff: whose number it is, and whether their card is valid now."""
    number, sequence = sought_number(typed)
    if number is None and sequence is None:
        raise Unprocessable("tapez un numéro d'adhérent, par exemple LAN-0042 ou 42")
    async with runtime.database.sessions() as session:
        hub = await require_role(session, principal, hub_id, "staff")
        query = select(Member).where(Member.hub_id == hub_id)
        query = query.where(Member.number == number if number else Member.sequence == sequence)
        member = (await session.exec(query)).first()
        if member is None:
            raise NotFound(f"aucun adhérent n'a le numéro {typed.strip()} à {hub.name}")
        latest = await _latest_started(session, hub_id, member.resident_id)
        return MemberCheck(hub, _row(member, latest.get(member.resident_id), utc_now()))


# --- helpers ----------------------------------------------------------------------------


async def _start(uow: UnitOfWork, membership: Membership, now: datetime) -> None:
    """Makes the membership active (ending the one it renews) and announces it."""
    base = now
    if membership.renews is not None:
        previous = await uow.session.get(Membership, membership.renews, with_for_update=True)
        if previous is not None and previous.status == ACTIVE:
            base = renewal_start(now, previous.expires_at)
            await _end(uow, previous, RENEWED, now)
            # Ended before the new one is active: one active membership at a time.
            await uow.session.flush()
    member = await _member(uow, membership, now)
    membership.status, membership.started_at = ACTIVE, now
    membership.expires_at = expiry(base, membership.duration_months)
    await uow.session.flush()
    await uow.emit(MembershipStarted(
        membership_id=membership.id, hub_id=membership.hub_id,
        resident_id=membership.resident_id, number=member.number, fee_cents=membership.fee_cents,
        started_at=now, expires_at=membership.expires_at))


async def _member(uow: UnitOfWork, membership: Membership, now: datetime) -> Member:
    """The resident's member record at the hub, with a new number if they never had one."""
    member = await uow.session.get(Member, (membership.hub_id, membership.resident_id))
    if member is not None:
        return member
    # One statement takes the next number: unique whatever runs alongside.
    sequence = (await uow.session.execute(
        update(MembershipTerms)
        .where(col(MembershipTerms.hub_id) == membership.hub_id)
        .values(last_number=col(MembershipTerms.last_number) + 1)
        .returning(col(MembershipTerms.last_number))
        .execution_options(synchronize_session=False)
    )).scalar_one()
    hub = await uow.session.get(Hub, membership.hub_id)
    member = Member(hub_id=membership.hub_id, resident_id=membership.resident_id,
                    number=member_number(number_prefix(hub.town), sequence), sequence=sequence,
                    name=membership.name, email=membership.email, since=now)
    uow.session.add(member)
    return member


async def _end(uow: UnitOfWork, membership: Membership, reason: str, when: datetime) -> None:
    membership.status, membership.ended_at, membership.end_reason = ENDED, when, reason
    await uow.emit(MembershipEnded(
        membership_id=membership.id, hub_id=membership.hub_id,
        resident_id=membership.resident_id, reason=reason, ended_at=when))


def _lapse(membership: Membership, now: datetime) -> None:
    membership.status, membership.ended_at, membership.end_reason = LAPSED, now, UNPAID


async def _hub(session: AsyncSession, hub_id: UUID) -> Hub:
    hub = await session.get(Hub, hub_id)
    if hub is None:
        raise NotFound(f"aucun tiers-lieu {hub_id}")
    return hub


async def _current(session: AsyncSession, hub_id: UUID, resident_id: UUID, *,
                   for_update: bool = False) -> list[Membership]:
    query = select(Membership).where(Membership.hub_id == hub_id,
                                     Membership.resident_id == resident_id,
                                     col(Membership.status).in_(CURRENT))
    return list((await session.exec(query.with_for_update() if for_update else query)).all())


async def _shown_membership(session: AsyncSession, hub_id: UUID, resident_id: UUID
                            ) -> Membership | None:
    memberships = (await session.exec(
        select(Membership)
        .where(Membership.hub_id == hub_id, Membership.resident_id == resident_id)
        .order_by(col(Membership.requested_at).desc())
    )).all()
    for wanted in (ACTIVE, AWAITING_PAYMENT):
        if found := next((m for m in memberships if m.status == wanted), None):
            return found
    return memberships[0] if memberships else None


async def _latest_started(session: AsyncSession, hub_id: UUID, resident_id: UUID | None = None
                          ) -> dict[UUID, Membership]:
    """Each member's running membership, else their last one."""
    query = (select(Membership)
             .where(Membership.hub_id == hub_id, col(Membership.started_at).is_not(None))
             .order_by(col(Membership.started_at)))
    if resident_id is not None:
        query = query.where(Membership.resident_id == resident_id)
    latest: dict[UUID, Membership] = {}
    for membership in (await session.exec(query)).all():
        kept = latest.get(membership.resident_id)
        if kept is None or kept.status != ACTIVE:
            latest[membership.resident_id] = membership
    return latest


async def _view(session: AsyncSession, membership: Membership, now: datetime) -> MembershipView:
    member = await session.get(Member, (membership.hub_id, membership.resident_id))
    return MembershipView(
        id=membership.id, hub_id=membership.hub_id, resident_id=membership.resident_id,
        name=membership.name, status=membership.status, fee_cents=membership.fee_cents,
        number=member.number if member else None, member_since=member.since if member else None,
        requested_at=membership.requested_at, pay_by=membership.pay_by,
        started_at=membership.started_at, expires_at=membership.expires_at,
        ended_at=membership.ended_at, end_reason=membership.end_reason,
        valid=is_valid(membership.status, membership.expires_at, now))


def _row(member: Member, membership: Membership | None, now: datetime) -> MemberRow:
    status = membership.status if membership else ENDED
    expires_at = membership.expires_at if membership else None
    return MemberRow(member.number, member.resident_id, member.name, member.email, member.since,
                     status, expires_at, is_valid(status, expires_at, now))


def _terms_view(hub_id: UUID, terms: MembershipTerms | None) -> TermsView:
    if terms is None:
        return TermsView(hub_id, open=False, fee_cents=0, duration_months=None, benefits="")
    return TermsView(hub_id, terms.open, terms.fee_cents, terms.duration_months, terms.benefits)
