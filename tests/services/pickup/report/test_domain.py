"""The report's pure rules: months in Paris time, periods, buyers new and returning, members
when memberships are known, the CSV's euros and the charts' bars."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from libs.kit.errors import Unprocessable
from libs.kit.months import Month
from services.pickup.report.domain import (
    Column,
    Period,
    Sale,
    Series,
    bar_chart,
    euros,
    report_of,
)

SVG = "{http://www.w3.org/2000/svg}"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("moment", "month"), [
    ("2026-02-28T22:59:00", "2026-02"),  # 23:59 in Paris, winter time
    ("2026-02-28T23:00:00", "2026-03"),  # midnight in Paris
    ("2026-03-31T21:59:00", "2026-03"),  # 23:59 in Paris, summer time since the 29th
    ("2026-03-31T22:00:00", "2026-04"),
    ("2026-10-31T22:59:00", "2026-10"),  # winter time again since the 25th
    ("2026-10-31T23:00:00", "2026-11"),
    ("2026-12-31T23:00:00", "2027-01"),
])
def test_a_moment_falls_in_its_paris_month(moment, month):
    assert str(Month.of(utc(moment))) == month


def test_months_start_at_paris_midnight_in_utc():
    assert Month(2026, 3).starts_at == utc("2026-02-28T23:00:00")
    assert Month(2026, 4).starts_at == utc("2026-03-31T22:00:00")
    assert Month(2026, 12).shifted(1) == Month(2027, 1)
    assert Month(2026, 1).shifted(-1) == Month(2025, 12)


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "26-03", "2026-3", "mars", ""])
def test_an_unreadable_month_is_refused(text):
    with pytest.raises(Unprocessable):
        Month.parse(text)


def test_a_period_is_six_months_unless_told_and_never_backwards_or_too_long():
    today = date(2026, 2, 14)

    assert Period.asked(None, None, today) == Period(Month(2025, 9), Month(2026, 2))
    assert Period.asked("2025-12", None, today) == Period(Month(2025, 12), Month(2026, 2))
    assert Period.asked(None, "2025-06", today) == Period(Month(2025, 1), Month(2025, 6))
    assert len(Period.asked("2023-03", "2026-02", today).months()) == 36
    for first, last in (("2026-03", "2026-02"), ("2023-02", "2026-02")):
        with pytest.raises(Unprocessable):
            Period.asked(first, last, today)


def test_a_periods_weeks_are_the_mondays_it_touches():
    march = Period(Month(2026, 3), Month(2026, 3))

    assert march.weeks()[0] == date(2026, 2, 23)
    assert march.weeks()[-1] == date(2026, 3, 30)
    assert len(march.weeks()) == 6


def test_buyers_are_new_in_the_month_of_their_first_order_ever_and_members_show_when_known():
    anne, bruno, shop = uuid4(), uuid4(), uuid4()
    sales = [Sale(uuid4(), anne, utc("2026-01-05T10:00:00"), {shop: 700}),
             Sale(uuid4(), bruno, utc("2026-01-06T10:00:00"), {shop: 300}),
             Sale(uuid4(), bruno, utc("2026-02-06T10:00:00"), {shop: 200})]
    period = Period(Month(2026, 1), Month(2026, 2))

    def report(members):
        return report_of(hub_id=uuid4(), hub_name="Hub", period=period, sales=sales,
                         first_purchases={anne: utc("2025-12-05T10:00:00"),
                                          bruno: utc("2026-01-06T10:00:00")},
                         shop_names={}, visits=[], slots=[], gatherings=[],
                         members_gained=members)

    none, known = report({}), report({Month(2026, 2): 4, Month(2025, 12): 9})

    assert [(m.buyers, m.new_buyers, m.returning_buyers) for m in none.months] == [
        (2, 1, 1), (1, 0, 1)]
    assert (none.headline.buyers, none.headline.new_buyers) == (2, 1)
    assert none.headline.sales_cents == 1200
    assert none.shops[0].name.startswith("Boutique ")
    assert [m.members_gained for m in none.months] == [0, 0]
    assert none.headline.members_gained == 0
    assert [m.members_gained for m in known.months] == [0, 4]
    assert known.headline.members_gained == 4


def test_euros_have_a_decimal_comma_and_no_grouping():
    assert [euros(0), euros(5), euros(1250), euros(123456)] == [
        "0,00", "0,05", "12,50", "1234,56"]


def test_bars_are_proportional_stacked_and_their_names_escaped():
    chart = ElementTree.fromstring(bar_chart(
        chart_id="c", title="Ventes <2026>", description="A & B",
        columns=[Column("a", "jan"), Column("b", "fév"), Column("c", "mars")],
        series=[Series("<Bio & Co>", [100, 0, 50]), Series("Fournil", [100, 0, 0])]))

    columns = [g for g in chart.iter(f"{SVG}g") if g.get("class") == "column"]
    heights = [[float(rect.get("height")) for rect in g.iter(f"{SVG}rect")] for g in columns]
    assert [g.get("data-key") for g in columns] == ["a", "b", "c"]
    assert heights[1] == []
    assert heights[0][0] == heights[0][1] == pytest.approx(2 * heights[2][0])
    assert sum(heights[0]) == 180
    assert chart.find(f"{SVG}title").text == "Ventes <2026>"
    legend = [g.find(f"{SVG}text").text for g in chart.iter(f"{SVG}g") if g.get("class") == "legend"]
    assert legend == ["<Bio & Co>", "Fournil"]


def test_a_chart_of_nothing_draws_no_bar():
    chart = ElementTree.fromstring(bar_chart(
        chart_id="c", title="t", description="d", columns=[Column("a", "jan")],
        series=[Series("Visites", [0])]))

    assert list(chart.iter(f"{SVG}rect")) == []
