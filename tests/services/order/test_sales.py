"""A shop's sales month by month, in Paris time, over a seeded history: collected parts are
sales in the month they were collected (23:30 UTC on 31 March is April in Paris), parts the shop
gave up count in the month it did, paid parts not yet collected in the month they were paid;
orders never paid count for nothing. Commission is the payment service's: linked, not computed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from libs.contracts.pickup import HubStaffAssigned, PartDroppedOff, PickedUp, PickupReady
from libs.kit.errors import Unprocessable
from libs.kit.months import Month, months_from
from services.order import use_cases
from services.order.domain import (
    PartOutcome,
    part_outcome,
)
from tests.services.order.conftest import (
    OrderService,
    Town,
    payment_succeeded,
    person,
    product_listed,
    running_order_service,
)
from tests.services.order.test_pages import session
from tests.services.order.test_parts import cancel
from tests.services.order.test_saga import (
    awaiting_payment,
    placed_order,
    slot_held,
    stock_reserved,
)


@pytest.fixture
async def service(tmp_path, database_url):
    """The sales are a query over months of parts: on SQLite and on PostgreSQL."""
    async with running_order_service(tmp_path, database_url) as running:
        yield running


class Clock:
    now = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(use_cases, "utc_now", lambda: clock.now)
    return clock


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def paid_order(service: OrderService, town: Town, clock: Clock, paid_at: str,
                     **quantities) -> uuid.UUID:
    clock.now = at(paid_at)
    order_id = await placed_order(service, town, **quantities)
    await service.feed(stock_reserved(order_id))
    await service.feed(slot_held(town, order_id))
    await service.feed(payment_succeeded(order_id, uuid.uuid4(), 1))
    return order_id


async def collect(service: OrderService, town: Town, clock: Clock, order_id,
                  collected_at: str) -> None:
    clock.now = at(collected_at)
    for shop in (town.bakery, town.cheese):
        await service.feed(PartDroppedOff(order_id=order_id, shop_id=shop.id))
    await service.feed(PickupReady(order_id=order_id))
    await service.feed(PickedUp(order_id=order_id))


@pytest.fixture
async def history(service: OrderService, town: Town, clock: Clock) -> dict[str, uuid.UUID]:
    """The bakery's spring: bread at 4,20 €, baguettes at 1,10 €, with the cheese shop's tomme
    at 12,90 € in every basket."""
    orders = {
        # Collected at 23:30 on 31 March in Paris: March.
        "march": await paid_order(service, town, clock, "2026-03-20T10:00", bread=1,
                                  baguette=3, tomme=1),
        # Collected at 01:30 on 1 April in Paris: April, though paid in March.
        "april": await paid_order(service, town, clock, "2026-03-25T10:00", bread=2, tomme=1),
        "given_up": await paid_order(service, town, clock, "2026-04-05T09:00", bread=5,
                                     tomme=1),
        "waiting": await paid_order(service, town, clock, "2026-04-28T18:00", baguette=4,
                                    tomme=1),
    }
    await collect(service, town, clock, orders["march"], "2026-03-31T21:30")
    await collect(service, town, clock, orders["april"], "2026-03-31T23:30")
    clock.now = at("2026-04-06T08:00")
    assert (await cancel(service, town, orders["given_up"], town.bakery)).status_code == 200
    await collect(service, town, clock, orders["given_up"], "2026-04-07T16:00")
    clock.now = at("2026-04-10T12:00")
    unpaid, _ = await awaiting_payment(service, town)
    await service.feed(stock_reserved(await placed_order(service, town, bread=9)))
    return {**orders, "unpaid": unpaid}


async def sales(service: OrderService, shop, who, **period: str):
    return await service.client.get(f"/orders/api/v1/shops/{shop.id}/sales", params=period,
                                    headers=service.auth(who))


async def test_each_month_counts_the_parts_settled_in_it_in_paris_time(service, town, history):
    answer = await sales(service, town.bakery, town.bakery.owner, **{"from": "2026-02",
                                                                     "to": "2026-05"})
    assert answer.status_code == 200, answer.text
    february, march, april, may = answer.json()["months"]

    assert [m["month"] for m in (february, march, april, may)] == [
        "2026-02", "2026-03", "2026-04", "2026-05"]
    assert (february["orders"], february["gross_sales_cents"], february["best_sellers"]) == (
        0, 0, [])
    assert february["average_basket_share"] is None and february["average_part_cents"] is None
    assert may["orders"] == 0

    assert (march["orders"], march["items_sold"], march["gross_sales_cents"]) == (1, 4, 750)
    assert (march["cancelled_parts"], march["parts_in_progress"]) == (0, 0)
    assert march["average_part_cents"] == 750
    assert march["average_basket_share"] == round(750 / (750 + 1290), 4)
    assert [(b["name"], b["quantity"], b["sales_cents"]) for b in march["best_sellers"]] == [
        ("Baguette", 3, 330), ("Pain de campagne", 1, 420)]

    assert (april["orders"], april["items_sold"], april["gross_sales_cents"]) == (3, 2, 840)
    assert (april["cancelled_parts"], april["cancelled_cents"]) == (1, 5 * 420)
    assert (april["parts_in_progress"], april["in_progress_cents"]) == (1, 4 * 110)
    assert april["average_basket_share"] == round(840 / (840 + 1290), 4)
    assert [(b["name"], b["quantity"]) for b in april["best_sellers"]] == [("Pain de campagne", 2)]
    assert april["statement_url"] == f"/payments/shops/{town.bakery.id}/statements/2026-04"

    cheese = await sales(service, town.cheese, town.cheese.owner, **{"from": "2026-04",
                                                                     "to": "2026-04"})
    [cheese_april] = cheese.json()["months"]
    assert (cheese_april["orders"], cheese_april["gross_sales_cents"]) == (3, 2 * 1290)
    assert cheese_april["average_basket_share"] == round(
        (1290 / 2130 + 1290 / 1290) / 2, 4)  # the given-up bread left the tomme alone


async def test_the_best_sellers_are_five_products_most_sold_first(service, town, clock):
    for name in ("Far breton", "Kouign-amann", "Galette", "Crêpes", "Fougasse", "Brioche"):
        town.bakery.products[name] = product_listed(town.bakery.id, town.hub_id, name,
                                                    [("", 100)])
        await service.feed(town.bakery.products[name])
    baskets = [{"Brioche": 6}, {"Fougasse": 5, "Galette": 2}, {"Crêpes": 4},
               {"Kouign-amann": 3, "Galette": 1}, {"Far breton": 1}]
    for basket in baskets:
        clock.now = at("2026-06-02T10:00")
        answer = await service.client.post("/orders/api/v1/orders", headers={
            **service.auth(town.resident), "Idempotency-Key": uuid.uuid4().hex}, json={
            "hub_id": str(town.hub_id), "slot_id": str(town.slot_id),
            "lines": [{"product_id": str(town.bakery.product(n)), "quantity": q}
                      for n, q in basket.items()]})
        order_id = uuid.UUID(answer.json()["id"])
        await service.feed(stock_reserved(order_id))
        await service.feed(slot_held(town, order_id))
        await service.feed(payment_succeeded(order_id, uuid.uuid4(), 1))
        clock.now = at("2026-06-03T10:00")
        await service.feed(PartDroppedOff(order_id=order_id, shop_id=town.bakery.id))
        await service.feed(PickupReady(order_id=order_id))
        await service.feed(PickedUp(order_id=order_id))

    [june] = (await sales(service, town.bakery, town.bakery.owner,
                          **{"from": "2026-06", "to": "2026-06"})).json()["months"]
    assert [(b["name"], b["quantity"]) for b in june["best_sellers"]] == [
        ("Brioche", 6), ("Fougasse", 5), ("Crêpes", 4), ("Galette", 3), ("Kouign-amann", 3)]
    assert june["average_basket_share"] == 1.0  # the bakery alone in every basket


async def test_the_hub_admin_reads_the_sales_and_strangers_do_not(service, town, history):
    claude = person("Claude")
    await service.feed(HubStaffAssigned(hub_id=town.hub_id, user_id=claude.user_id,
                                        email=claude.email, role="admin"))
    period = {"from": "2026-04", "to": "2026-04"}
    for reader in (claude, town.admin):
        answer = await sales(service, town.bakery, reader, **period)
        assert answer.status_code == 200, answer.text
        assert answer.json()["months"][0]["gross_sales_cents"] == 840
    for stranger in (town.cheese.owner, town.other_staff, town.staff):
        assert (await sales(service, town.bakery, stranger, **period)).status_code == 403
    unknown = await service.client.get(f"/orders/api/v1/shops/{uuid.uuid4()}/sales",
                                       headers=service.auth(town.admin))
    assert unknown.status_code == 404


@pytest.mark.parametrize(("period", "complaint"), [
    ({"from": "2026-13", "to": "2026-12"}, "YYYY-MM"),
    ({"from": "mars", "to": "2026-03"}, "YYYY-MM"),
    ({"from": "2026-04", "to": "2026-03"}, "ends (2026-03) before it starts (2026-04)"),
    ({"from": "2024-01", "to": "2026-01"}, "at most 24 months"),
])
async def test_a_wrong_period_is_refused(service, town, period, complaint):
    answer = await sales(service, town.bakery, town.bakery.owner, **period)
    assert answer.status_code == 422
    assert complaint in answer.json()["error"]["message"]


async def test_this_month_by_default(service, town):
    answer = await sales(service, town.bakery, town.bakery.owner)
    assert answer.status_code == 200
    assert [m["month"] for m in answer.json()["months"]] == [
        str(Month.of(datetime.now(UTC)))]


async def test_the_sales_page_shows_a_month_and_the_year_up_to_it(service, town, history):
    owner = session(service, town.bakery.owner)
    orders_page = await service.client.get(f"/orders/shops/{town.bakery.id}", headers=owner)
    assert f'href="/orders/shops/{town.bakery.id}/ventes"' in orders_page.text

    page = await service.client.get(f"/orders/shops/{town.bakery.id}/ventes?mois=2026-04",
                                    headers=owner)
    assert page.status_code == 200
    html = page.text
    assert "<h2 id=\"month-title\">Avril 2026</h2>" in html
    assert "8,40\xa0€" in html and "21,00\xa0€" in html and "4,40\xa0€" in html
    assert "<td>39\xa0%</td>" in html  # of their basket: 8,40 € of 21,30 €
    assert "<td>Pain de campagne</td><td>2</td>" in html
    assert f'href="/payments/shops/{town.bakery.id}/statements/2026-04"' in html
    assert '<select id="mois" name="mois">' in html and 'method="get"' in html
    assert f'href="/orders/shops/{town.bakery.id}/ventes?mois=2026-03"' in html
    assert html.count("/ventes?mois=") >= 12
    assert "mai 2025" in html  # the twelve months up to April 2026

    bad = await service.client.get(f"/orders/shops/{town.bakery.id}/ventes?mois=avril",
                                   headers=owner)
    assert bad.status_code == 422 and "YYYY-MM" in bad.text
    stranger = await service.client.get(f"/orders/shops/{town.bakery.id}/ventes",
                                        headers=session(service, town.cheese.owner))
    assert stranger.status_code == 403
    signed_out = await service.client.get(f"/orders/shops/{town.bakery.id}/ventes")
    assert signed_out.status_code == 303


def test_a_month_is_a_month_in_paris():
    assert Month.of(at("2026-03-31T21:59")) == Month(2026, 3)
    assert Month.of(at("2026-03-31T22:00")) == Month(2026, 4)  # summer time: UTC+2
    assert Month.of(at("2026-12-31T23:00")) == Month(2027, 1)  # winter time: UTC+1
    assert Month(2026, 4).starts_at == at("2026-03-31T22:00")
    assert Month(2026, 1).shifted(-1) == Month(2025, 12)
    assert str(Month(2026, 11).shifted(3)) == "2027-02"
    assert months_from(Month(2025, 11), Month(2026, 2), at_most=24) == [
        Month(2025, 11), Month(2025, 12), Month(2026, 1), Month(2026, 2)]
    with pytest.raises(Unprocessable):
        Month.parse("2026-3")


def test_a_part_counts_when_it_was_settled_or_not_at_all():
    paid, done, dropped = at("2026-03-01T10:00"), at("2026-03-05T10:00"), at("2026-03-02T10:00")
    assert part_outcome("handed_over", None, "completed", paid, done) == (
        PartOutcome.COMPLETED, done)
    assert part_outcome("cancelled", dropped, "completed", paid, done) == (
        PartOutcome.CANCELLED, dropped)
    assert part_outcome("dropped_off", None, "ready", paid, None) == (
        PartOutcome.IN_PROGRESS, paid)
    assert part_outcome("cancelled", None, "cancelled", None, None) is None  # never paid
    assert part_outcome("pending", None, "awaiting_payment", None, None) is None
