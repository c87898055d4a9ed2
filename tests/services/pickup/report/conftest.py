"""A hub with a seeded history over February to April 2026 (Paris time), the months of the
report under test: orders through the order service's events, and pickups, slots and gatherings
written straight into the pickup service's own tables, as months of desk work would have left
them. It crosses month boundaries in Paris time and the change to summer time (29 March 2026).

Expected figures, period 2026-02 to 2026-04:
- sales, counted on completion, per Paris month: February 40,00 € (1 order, buyer Anne, who
  first bought in January: returning); March 40,00 € (3 orders: one completed at 00:30 on
  1 March in Paris, 23:30 UTC the day before; one whose cheese part was cancelled; one at 23:30
  on 31 March in Paris), buyers Bruno and Chloé, both new; April 10,00 € (Chloé at 00:30 on
  1 April in Paris, still 31 March in UTC: returning). An order cancelled, one not yet handed
  over and one in May count nowhere.
- per shop: Fromagerie 25,00 / 20,00 / 10,00 €, Boulangerie 15,00 / 20,00 / 0 €.
- visits (pickups handed over): Thursday 5 February 17h, Saturday 28 March 10h twice, Sunday
  29 March 10h (summer time: 08:15 UTC); one no-show on 28 March; one cancelled pickup and a
  January visit left out.
- gatherings: a tasting on 29 March (2 signed up, a third cancelled; 2 came, one of them signed
  up), a free-entry talk on 2 April (1 came); a cancelled one in February left out.
- members gained, by the Paris month of their first membership: February 1 (Fanny, who renewed
  in April: no new member then); March 2 (Ewen at 00:30 on 1 March in Paris, still February in
  UTC; Jules at 23:00 on 31 March in Paris); April 0. Hélène, a member since January who came
  back in March, Gaël, who joined at 00:30 on 1 May in Paris, and Iris, whose fee never came,
  count nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from libs.contracts.catalog import ShopOpened
from libs.contracts.order import (
    OrderCancelled,
    OrderCompleted,
    OrderConfirmed,
    OrderPartCancelled,
)
from services.pickup.gatherings.tables import Attendance, Gathering, SignUp
from services.pickup.membership.tables import Member, Membership
from services.pickup.tables import Pickup, Slot
from tests.services.pickup.conftest import part_of


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass(frozen=True)
class History:
    hub_id: str
    admin: dict[str, str]
    staff: dict[str, str]
    bakery: UUID
    cheese: UUID
    slots: dict[str, UUID]
    gatherings: dict[str, UUID]

    @property
    def report(self) -> str:
        return f"/pickup/api/v1/hubs/{self.hub_id}/report"

    @property
    def page(self) -> str:
        return f"/pickup/hubs/{self.hub_id}/rapport"


async def seed_history(pickup) -> History:
    hub_id = await pickup.open_hub()
    admin = await pickup.hub_member(hub_id, "admin")
    staff = await pickup.hub_member(hub_id, "staff")
    bakery, cheese = uuid4(), uuid4()
    for shop_id, name in ((bakery, "Boulangerie Le Fournil"), (cheese, "Fromagerie du Trégor")):
        await pickup.feed(ShopOpened(shop_id=shop_id, hub_id=hub_id, name=name, owner_id=uuid4(),
                                     owner_email="owner@example.org"))
    await _seed_orders(pickup, hub_id, bakery, cheese)
    slots = await _seed_pickups(pickup, UUID(hub_id))
    gatherings = await _seed_gatherings(pickup, UUID(hub_id))
    await _seed_memberships(pickup, UUID(hub_id))
    return History(hub_id, admin, staff, bakery, cheese, slots, gatherings)


async def _seed_orders(pickup, hub_id: str, bakery: UUID, cheese: UUID) -> None:
    anne, bruno, chloe, david = uuid4(), uuid4(), uuid4(), uuid4()

    async def confirmed(buyer: UUID, parts: list[tuple[UUID, int]]) -> UUID:
        order_id = uuid4()
        order_parts = [part_of(shop_id, cents) for shop_id, cents in parts]
        await pickup.feed(OrderConfirmed(order_id=order_id, hub_id=hub_id, slot_id=uuid4(),
                                         resident_id=buyer, parts=order_parts,
                                         total_cents=sum(cents for _, cents in parts)))
        return order_id

    async def completed(buyer: UUID, parts: list[tuple[UUID, int]], when: str) -> UUID:
        order_id = await confirmed(buyer, parts)
        await pickup.feed(OrderCompleted(order_id=order_id, completed_at=utc(when)))
        return order_id

    await completed(anne, [(bakery, 1000)], "2026-01-15T10:00:00")
    await completed(anne, [(bakery, 1500), (cheese, 2500)], "2026-02-10T10:00:00")
    await completed(bruno, [(bakery, 800)], "2026-02-28T23:30:00")
    cut = await confirmed(chloe, [(bakery, 1200), (cheese, 3000)])
    await pickup.feed(OrderPartCancelled(order_id=cut, shop_id=cheese, amount_cents=3000,
                                         lines=part_of(cheese, 3000).lines, reason="rupture"))
    await pickup.feed(OrderCompleted(order_id=cut, completed_at=utc("2026-03-10T15:00:00")))
    await completed(bruno, [(cheese, 2000)], "2026-03-31T21:30:00")
    await completed(chloe, [(cheese, 1000)], "2026-03-31T22:30:00")
    undone = await confirmed(david, [(bakery, 5000)])
    await pickup.feed(OrderCancelled(order_id=undone, reason="paiement refusé"))
    await confirmed(david, [(cheese, 700)])
    await completed(anne, [(bakery, 900)], "2026-05-02T10:00:00")


async def _seed_pickups(pickup, hub_id: UUID) -> dict[str, UUID]:
    slots = {
        "thursday": Slot(id=uuid4(), hub_id=hub_id, starts_at=utc("2026-02-05T16:00:00"),
                         ends_at=utc("2026-02-05T17:00:00"), capacity=6),
        "saturday": Slot(id=uuid4(), hub_id=hub_id, starts_at=utc("2026-03-28T09:00:00"),
                         ends_at=utc("2026-03-28T10:00:00"), capacity=4),
        "sunday": Slot(id=uuid4(), hub_id=hub_id, starts_at=utc("2026-03-29T08:00:00"),
                       ends_at=utc("2026-03-29T09:00:00"), capacity=3,
                       label="Dégustation de fromages"),
        "january": Slot(id=uuid4(), hub_id=hub_id, starts_at=utc("2026-01-20T09:00:00"),
                        ends_at=utc("2026-01-20T10:00:00"), capacity=2),
    }
    pickups = [
        ("thursday", "picked_up", "2026-02-05T16:30:00"),
        ("saturday", "picked_up", "2026-03-28T09:20:00"),
        ("saturday", "picked_up", "2026-03-28T09:40:00"),
        ("saturday", "no_show", None),
        ("saturday", "cancelled", None),
        ("sunday", "picked_up", "2026-03-29T08:15:00"),
        ("sunday", "ready", None),
        ("january", "picked_up", "2026-01-20T09:30:00"),
    ]
    async with pickup.runtime.unit_of_work() as uow:
        uow.session.add_all(slots.values())
        await uow.session.flush()
        for slot, status, picked_up_at in pickups:
            uow.session.add(Pickup(
                order_id=uuid4(), hub_id=hub_id, slot_id=slots[slot].id, code="ACDEFG",
                status=status, scheduled_at=slots[slot].starts_at - timedelta(days=2),
                picked_up_at=utc(picked_up_at) if picked_up_at else None))
    return {name: slot.id for name, slot in slots.items()}


async def _seed_gatherings(pickup, hub_id: UUID) -> dict[str, UUID]:
    def gathering(title: str, starts: str, capacity: int, status: str = "scheduled") -> Gathering:
        at = utc(starts)
        return Gathering(id=uuid4(), hub_id=hub_id, title=title, description="", starts_at=at,
                         ends_at=at + timedelta(hours=2), capacity=capacity, status=status,
                         scheduled_at=at - timedelta(days=20), updated_at=at - timedelta(days=20))

    tasting = gathering("Dégustation de fromages", "2026-03-29T16:00:00", 10)
    talk = gathering("Causerie circuits courts", "2026-04-02T17:00:00", 0)
    cancelled = gathering("Atelier pain", "2026-02-12T17:00:00", 8, status="cancelled")
    first, second, third, walk_in, listener = (uuid4() for _ in range(5))

    def signed(gathering: Gathering, user_id: UUID, status: str = "signed_up") -> SignUp:
        return SignUp(gathering_id=gathering.id, user_id=user_id, email=f"{user_id}@example.org",
                      name="Résident", status=status, signed_up_at=gathering.scheduled_at)

    def came(gathering: Gathering, user_id: UUID) -> Attendance:
        return Attendance(gathering_id=gathering.id, user_id=user_id,
                          email=f"{user_id}@example.org", name="Résident", recorded_by=uuid4(),
                          recorded_at=gathering.starts_at)

    async with pickup.runtime.unit_of_work() as uow:
        uow.session.add_all([tasting, talk, cancelled])
        await uow.session.flush()
        taken = [signed(tasting, first), signed(tasting, second),
                 signed(tasting, third, "cancelled"), signed(cancelled, first)]
        uow.session.add_all(taken)
        uow.session.add_all([came(tasting, first), came(tasting, walk_in), came(talk, listener),
                             came(cancelled, first)])
        tasting.taken = 2
        cancelled.taken = 1
    return {"tasting": tasting.id, "talk": talk.id, "cancelled": cancelled.id}


async def _seed_memberships(pickup, hub_id: UUID) -> None:
    members: list[Member] = []
    periods: list[Membership] = []

    def period(resident_id: UUID, started: str, status: str = "ended") -> None:
        at = utc(started)
        periods.append(Membership(
            id=uuid4(), hub_id=hub_id, resident_id=resident_id, name="Résident",
            email=f"{resident_id}@example.org", status=status, fee_cents=1000,
            duration_months=12, requested_at=at, started_at=at,
            expires_at=at + timedelta(days=365)))

    def member(name: str, since: str, *renewed: str) -> None:
        resident_id = uuid4()
        members.append(Member(hub_id=hub_id, resident_id=resident_id,
                              number=f"PAI-{len(members) + 1:04d}", sequence=len(members) + 1,
                              name=name, email=f"{resident_id}@example.org", since=utc(since)))
        for started in (since, *renewed):
            period(resident_id, started)
        periods[-1].status = "active"

    member("Hélène", "2026-01-20T10:00:00", "2026-03-05T10:00:00")
    member("Fanny", "2026-02-14T10:00:00", "2026-04-10T10:00:00")
    member("Ewen", "2026-02-28T23:30:00")
    member("Jules", "2026-03-31T21:00:00")
    member("Gaël", "2026-04-30T22:30:00")
    periods.append(Membership(
        id=uuid4(), hub_id=hub_id, resident_id=uuid4(), name="Iris", email="iris@example.org",
        status="lapsed", fee_cents=1000, duration_months=12,
        requested_at=utc("2026-03-12T10:00:00"), pay_by=utc("2026-03-12T10:30:00"),
        ended_at=utc("2026-03-12T10:40:00"), end_reason="unpaid"))
    async with pickup.runtime.unit_of_work() as uow:
        uow.session.add_all(members)
        await uow.session.flush()
        uow.session.add_all(periods)


@pytest.fixture
async def history(pickup) -> History:
    return await seed_history(pickup)
