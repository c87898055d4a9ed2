"""Member prices: the order service keeps each variant's member price (ProductListed,
ProductChanged) and each resident's memberships of hubs (MembershipStarted, MembershipEnded, in
any order, delivered any number of times); a resident who is a member of the order's hub at
checkout pays the member prices, fixed in OrderPlaced and PaymentRequested; the basket page says
which price applies, and invites the others to join."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from libs.contracts.order import OrderPlaced, PaymentRequested
from libs.contracts.pickup import MembershipEnded, MembershipStarted
from services.order.domain import is_member as is_member_at
from services.order.tables import Membership
from tests.services.order.conftest import (
    OrderService,
    Town,
    open_town,
    place,
    product_changed,
    read_order,
    running_order_service,
)
from tests.services.order.test_saga import slot_held, stock_reserved

NOW = datetime.now(UTC).replace(microsecond=0)
BREAD, MEMBER_BREAD = 420, 350  # « Pain de campagne » at the bakery of the town
TOMME = 1290  # the cheese shop's tomme has no member price


async def give_bread_a_member_price(service: OrderService, town: Town,
                                    member_price_cents: int | None = MEMBER_BREAD) -> None:
    listed = town.bakery.products["Pain de campagne"]
    [variant] = listed.variants
    await service.feed(product_changed(listed, variants=[
        variant.model_copy(update={"member_price_cents": member_price_cents})]))


@pytest.fixture
async def priced_town(service: OrderService, town: Town) -> Town:
    await give_bread_a_member_price(service, town)
    return town


def started(town: Town, membership_id=None, *, hub_id=None, at: datetime | None = None,
            expires_at: datetime | None = None, resident=None) -> MembershipStarted:
    return MembershipStarted(
        membership_id=membership_id or uuid.uuid4(), hub_id=hub_id or town.hub_id,
        resident_id=(resident or town.resident).user_id, number="A-0001", fee_cents=1000,
        started_at=at or NOW - timedelta(days=30), expires_at=expires_at)


def ended(membership: MembershipStarted, *, at: datetime | None = None,
          reason: str = "left") -> MembershipEnded:
    return MembershipEnded(membership_id=membership.membership_id, hub_id=membership.hub_id,
                           resident_id=membership.resident_id, reason=reason,
                           ended_at=at or NOW - timedelta(days=1))


async def total_placed(service: OrderService, town: Town, **quantities: int) -> int:
    placed = await place(service, town, **quantities)
    assert placed.status_code == 202, placed.text
    order = (await read_order(service, placed.json()["id"], town.resident)).json()
    return order["total_cents"]


async def is_member(service: OrderService, town: Town) -> bool:
    """Whether the town's resident would pay the bread's member price now."""
    return await total_placed(service, town, bread=1) == MEMBER_BREAD


# --- checkout ----------------------------------------------------------------------------------


async def test_a_member_pays_the_member_prices_fixed_in_the_events(service, priced_town):
    town = priced_town
    await service.feed(started(town, expires_at=NOW + timedelta(days=300)))

    placed = await place(service, town, bread=2, tomme=1)
    order_id = placed.json()["id"]
    await service.feed(stock_reserved(order_id))
    await service.feed(slot_held(town, order_id))

    order = (await read_order(service, order_id, town.resident)).json()
    assert order["total_cents"] == 2 * MEMBER_BREAD + TOMME
    prices = {line["name"]: line["unit_price_cents"]
              for part in order["parts"] for line in part["lines"]}
    assert prices == {"Pain de campagne": MEMBER_BREAD, "Tomme de Bretagne": TOMME}
    [placed_event] = await service.published(OrderPlaced)
    [requested] = await service.published(PaymentRequested)
    for event in (placed_event, requested):
        assert event.total_cents == 2 * MEMBER_BREAD + TOMME
        assert {(line.name, line.unit_price_cents) for part in event.parts
                for line in part.lines} == {("Pain de campagne", MEMBER_BREAD),
                                            ("Tomme de Bretagne", TOMME)}


async def test_others_pay_the_price(service, priced_town):
    town = priced_town
    await service.feed(started(town, resident=town.neighbour))
    await service.feed(started(town, hub_id=town.other_hub_id))

    assert await total_placed(service, town, bread=2, tomme=1) == 2 * BREAD + TOMME


@pytest.mark.parametrize("membership", [
    pytest.param(lambda town: [started(town, expires_at=NOW - timedelta(days=1))], id="expired"),
    pytest.param(lambda town: [started(town, at=NOW + timedelta(days=1))], id="not-yet-started"),
    pytest.param(lambda town: [(s := started(town)), ended(s)], id="ended"),
    pytest.param(lambda town: [(s := started(town)), ended(s, reason="unpaid")][::-1],
                 id="ended-before-started-arrived"),
])
async def test_a_membership_over_or_not_begun_gives_the_price(service, priced_town, membership):
    for event in membership(priced_town):
        await service.feed(event)

    assert not await is_member(service, priced_town)


async def test_without_a_member_price_members_pay_the_price(service, town):
    await service.feed(started(town))
    await give_bread_a_member_price(service, town, None)

    assert await total_placed(service, town, bread=1) == BREAD


@pytest.mark.parametrize(("started_at", "expires_at", "ended_at", "member"), [
    (NOW, None, None, True),
    (NOW + timedelta(seconds=1), None, None, False),
    (NOW - timedelta(days=1), NOW, None, False),  # expired at this very moment
    (NOW - timedelta(days=1), NOW + timedelta(seconds=1), None, True),
    (NOW - timedelta(days=1), None, NOW - timedelta(days=1), False),  # ended as it started
    (NOW - timedelta(days=1), None, NOW - timedelta(days=2), True),  # an earlier term's end
    (None, None, NOW - timedelta(days=2), False),  # an end whose start is still to come
])
def test_a_membership_holds_from_its_latest_start_until_it_expires_or_ends(
        started_at, expires_at, ended_at, member):
    terms = Membership(id=uuid.uuid4(), hub_id=uuid.uuid4(), resident_id=uuid.uuid4(),
                       started_at=started_at, expires_at=expires_at, ended_at=ended_at)

    assert is_member_at([terms], NOW) is member


# --- the read model of memberships -------------------------------------------------------------


def renewed_terms(town: Town) -> list:
    """One membership id over two terms: started, ended, started again (a renewal)."""
    membership_id = uuid.uuid4()
    first = started(town, membership_id, at=NOW - timedelta(days=400),
                    expires_at=NOW - timedelta(days=35))
    return [first, ended(first, at=NOW - timedelta(days=35), reason="expired"),
            started(town, membership_id, at=NOW - timedelta(days=2),
                    expires_at=NOW + timedelta(days=363))]


@pytest.mark.parametrize("arrival", list(itertools.permutations(range(3))))
async def test_the_latest_term_holds_whatever_order_the_events_arrive_in(service, priced_town,
                                                                         arrival):
    terms = renewed_terms(priced_town)
    for index in arrival:
        await service.feed(terms[index])

    assert await is_member(service, priced_town)


@pytest.mark.parametrize("arrival", list(itertools.permutations(range(2))))
async def test_a_membership_ended_stays_ended_whatever_order_the_events_arrive_in(
        service, priced_town, arrival):
    membership = started(priced_town)
    events = [membership, ended(membership, at=NOW - timedelta(minutes=5))]
    for index in arrival:
        await service.feed(events[index])

    assert not await is_member(service, priced_town)


async def test_the_membership_read_model_is_idempotent(service, priced_town):
    membership = started(priced_town, expires_at=NOW + timedelta(days=300))
    envelope = membership.envelope(correlation_id="test").to_bytes()

    for _ in range(3):
        await service.deliver(envelope, membership)
        await service.feed(started(priced_town, membership.membership_id,
                                   at=membership.started_at - timedelta(days=10)))

    async with service.runtime.database.sessions() as session:
        stored = await session.get(Membership, membership.membership_id)
    assert (stored.started_at, stored.expires_at, stored.ended_at) == (
        membership.started_at, membership.expires_at, None)
    assert await is_member(service, priced_town)


async def test_memberships_and_member_prices_on_each_database(tmp_path, database_url):
    async with running_order_service(tmp_path, database_url) as service:
        town = await open_town(service)
        await give_bread_a_member_price(service, town)
        terms = renewed_terms(town)
        for event in (terms[2], terms[1], terms[0], terms[2]):
            await service.feed(event)
        member_total = await total_placed(service, town, bread=2)
        await service.feed(ended(terms[2], at=NOW - timedelta(minutes=1)))
        await service.feed(ended(terms[2], at=NOW - timedelta(minutes=2)))  # older: no effect

        assert member_total == 2 * MEMBER_BREAD
        assert await total_placed(service, town, bread=2) == 2 * BREAD


# --- the basket page ---------------------------------------------------------------------------


async def basket_page(service: OrderService, town: Town, who=None) -> str:
    headers = {"Cookie": f"adopte_session={service.issuer.issue(who)}"} if who else {}
    page = await service.client.get(f"/orders/hubs/{town.hub_id}", headers=headers)
    assert page.status_code == 200
    return unescape(page.text)


async def test_the_basket_page_shows_a_member_the_member_price_applied(service, priced_town):
    await service.feed(started(priced_town))

    page = await basket_page(service, priced_town, priced_town.resident)

    assert "Pain de campagne · 3,50\xa0€ (prix adhérent, au lieu de 4,20\xa0€)" in page
    assert "adhérez au tiers-lieu" not in page
    assert "Tomme de Bretagne · 12,90\xa0€" in page


@pytest.mark.parametrize("who", ["neighbour", None])
async def test_the_basket_page_invites_the_others_to_join(service, priced_town, who):
    await service.feed(started(priced_town))

    page = await basket_page(service, priced_town,
                             getattr(priced_town, who) if who else None)

    assert "Pain de campagne · 4,20\xa0€" in page
    assert "Prix adhérent : 3,50\xa0€," in page
    assert page.count(f'<a href="/pickup/hubs/{priced_town.hub_id}/adhesion">adhérez au '
                      'tiers-lieu</a>') == 1  # the bread only: the tomme has no member price
