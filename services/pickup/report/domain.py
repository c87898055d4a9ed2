"""The funders' report, free of I/O: the period asked for, the figures made from the hub's facts,
the report as CSV rows, and its charts as SVG.

Sales are counted when an order is completed (handed over at the desk): that is when the shops
are owed their shares, and an order cancelled or refunded before then never sold anything. An
order counts in the Europe/Paris month of its completion, with the parts its shops did not
cancel. A buyer is new in the month of their first completed order at the hub, ever; returning
in any later month."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from math import ceil
from uuid import UUID
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from libs.kit.errors import Unprocessable
from libs.kit.i18n import babel_locale
from libs.kit.i18n import gettext as _
from libs.kit.months import Month

PARIS = ZoneInfo("Europe/Paris")
# The CSV is French whatever the reader's language: a data format for a French spreadsheet.
CSV_LOCALE = "fr_FR"
MAX_MONTHS = 36
DEFAULT_MONTHS = 6
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


# --- the period -------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole Paris months, ``first`` to ``last`` included."""

    first: Month
    last: Month

    @classmethod
    def asked(cls, first: str | None, last: str | None, today: date) -> Period:
        """The months asked for; by default the last six, this one included."""
        last_month = Month.parse(last) if last else Month.of(today)
        first_month = Month.parse(first) if first else last_month.shifted(1 - DEFAULT_MONTHS)
        if first_month > last_month:
            raise Unprocessable(_("la période commence (%(first)s) après sa fin (%(last)s)")
                                % {"first": first_month, "last": last_month})
        period = cls(first_month, last_month)
        if len(period.months()) > MAX_MONTHS:
            raise Unprocessable(_("la période dépasse %(count)d mois") % {"count": MAX_MONTHS})
        return period

    def months(self) -> list[Month]:
        months, month = [], self.first
        while month <= self.last:
            months.append(month)
            month = month.shifted(1)
        return months

    def starts_at(self) -> datetime:
        return self.first.starts_at

    def ends_at(self) -> datetime:
        return self.last.shifted(1).starts_at

    def holds(self, moment: datetime) -> bool:
        return self.starts_at() <= moment < self.ends_at()

    def weeks(self) -> list[date]:
        """The Mondays of the weeks the period touches."""
        first_day = date(self.first.year, self.first.month, 1)
        monday = first_day - timedelta(days=first_day.weekday())
        end = self.ends_at().astimezone(PARIS).date()
        return [monday + timedelta(weeks=n) for n in range(ceil((end - monday).days / 7))]


# --- the facts the report is made of ----------------------------------------------------


@dataclass(frozen=True)
class Sale:
    """A completed order: what each of its shops sold in it (parts cancelled left out)."""

    order_id: UUID
    buyer_id: UUID
    completed_at: datetime
    shares: Mapping[UUID, int]

    @property
    def total_cents(self) -> int:
        return sum(self.shares.values())


@dataclass(frozen=True)
class SlotUse:
    """A collection slot with the pickups booked on it."""

    slot_id: UUID
    starts_at: datetime
    ends_at: datetime
    label: str
    capacity: int
    booked: int
    picked_up: int
    no_shows: int


@dataclass(frozen=True)
class GatheringTurnout:
    gathering_id: UUID
    title: str
    starts_at: datetime
    capacity: int
    signed_up: int
    attended: int
    attended_signed_up: int


# --- the figures ------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthFigures:
    month: str
    label: str
    orders: int
    sales_cents: int
    buyers: int
    new_buyers: int
    returning_buyers: int
    members_gained: int
    visits: int
    no_shows: int
    gatherings: int
    sign_ups: int
    attendance: int


@dataclass(frozen=True)
class ShopMonth:
    month: str
    orders: int
    sales_cents: int


@dataclass(frozen=True)
class ShopFigures:
    shop_id: UUID
    name: str
    orders: int
    sales_cents: int
    months: list[ShopMonth]


@dataclass(frozen=True)
class WeekVisits:
    week_of: date
    visits: int


@dataclass(frozen=True)
class HourVisits:
    weekday: int
    weekday_label: str
    hour: int
    visits: int


@dataclass(frozen=True)
class Headline:
    sales_cents: int
    orders: int
    buyers: int
    new_buyers: int
    members_gained: int
    visits: int
    no_shows: int
    gatherings: int
    sign_ups: int
    attendance: int


@dataclass(frozen=True)
class Report:
    hub_id: UUID
    hub_name: str
    first_month: str
    last_month: str
    sales_counted_on: str
    headline: Headline
    months: list[MonthFigures]
    shops: list[ShopFigures]
    slots: list[SlotUse]
    weeks: list[WeekVisits]
    hours: list[HourVisits]
    gatherings: list[GatheringTurnout]


def report_of(
    *, hub_id: UUID, hub_name: str, period: Period, sales: Sequence[Sale],
    first_purchases: Mapping[UUID, datetime], shop_names: Mapping[UUID, str],
    visits: Sequence[datetime], slots: Sequence[SlotUse], gatherings: Sequence[GatheringTurnout],
    members_gained: Mapping[Month, int],
) -> Report:
    """The report over ``period``. ``first_purchases`` says when each buyer first completed an
    order at the hub, ever (it tells whether they are new); ``visits`` are when pickups were
    handed over; ``members_gained`` counts new members by month."""
    months = period.months()
    first_month_of = {buyer: Month.of(moment) for buyer, moment in first_purchases.items()}
    in_period = [sale for sale in sales if period.holds(sale.completed_at)]
    visits = [moment for moment in visits if period.holds(moment)]
    month_rows = [
        _month_figures(month, [s for s in in_period if Month.of(s.completed_at) == month],
                       first_month_of, members_gained,
                       [v for v in visits if Month.of(v) == month],
                       [s for s in slots if Month.of(s.starts_at) == month],
                       [g for g in gatherings if Month.of(g.starts_at) == month])
        for month in months
    ]
    buyers = {sale.buyer_id for sale in in_period}
    headline = Headline(
        sales_cents=sum(row.sales_cents for row in month_rows),
        orders=len(in_period),
        buyers=len(buyers),
        new_buyers=sum(1 for buyer in buyers if first_month_of[buyer] >= period.first),
        members_gained=sum(r.members_gained for r in month_rows),
        visits=len(visits),
        no_shows=sum(row.no_shows for row in month_rows),
        gatherings=len(gatherings),
        sign_ups=sum(g.signed_up for g in gatherings),
        attendance=sum(g.attended for g in gatherings),
    )
    return Report(
        hub_id=hub_id, hub_name=hub_name, first_month=str(period.first),
        last_month=str(period.last), sales_counted_on="completion", headline=headline,
        months=month_rows, shops=_shop_figures(in_period, months, shop_names),
        slots=sorted(slots, key=lambda s: s.starts_at), weeks=_weeks(period, visits),
        hours=_hours(visits), gatherings=sorted(gatherings, key=lambda g: g.starts_at),
    )


def _month_figures(
    month: Month, sales: list[Sale], first_month_of: Mapping[UUID, Month],
    members_gained: Mapping[Month, int], visits: list[datetime], slots: list[SlotUse],
    gatherings: list[GatheringTurnout],
) -> MonthFigures:
    buyers = {sale.buyer_id for sale in sales}
    new = sum(1 for buyer in buyers if first_month_of[buyer] == month)
    return MonthFigures(
        month=str(month), label=month.label, orders=len(sales),
        sales_cents=sum(sale.total_cents for sale in sales), buyers=len(buyers), new_buyers=new,
        returning_buyers=len(buyers) - new,
        members_gained=members_gained.get(month, 0),
        visits=len(visits), no_shows=sum(slot.no_shows for slot in slots),
        gatherings=len(gatherings), sign_ups=sum(g.signed_up for g in gatherings),
        attendance=sum(g.attended for g in gatherings),
    )


def _shop_figures(sales: list[Sale], months: list[Month], shop_names: Mapping[UUID, str]
                  ) -> list[ShopFigures]:
    cents: dict[UUID, Counter] = defaultdict(Counter)
    orders: dict[UUID, Counter] = defaultdict(Counter)
    for sale in sales:
        month = Month.of(sale.completed_at)
        for shop_id, share in sale.shares.items():
            cents[shop_id][month] += share
            orders[shop_id][month] += 1
    shops = [
        ShopFigures(shop_id=shop_id, name=shop_names.get(shop_id, f"Boutique {str(shop_id)[:8]}"),
                    orders=sum(orders[shop_id].values()), sales_cents=sum(cents[shop_id].values()),
                    months=[ShopMonth(str(m), orders[shop_id][m], cents[shop_id][m])
                            for m in months])
        for shop_id in cents
    ]
    return sorted(shops, key=lambda shop: (-shop.sales_cents, shop.name))


def _weeks(period: Period, visits: list[datetime]) -> list[WeekVisits]:
    counted = Counter(_monday_of(moment) for moment in visits)
    return [WeekVisits(monday, counted[monday]) for monday in period.weeks()]


def _monday_of(moment: datetime) -> date:
    day = moment.astimezone(PARIS).date()
    return day - timedelta(days=day.weekday())


def _hours(visits: list[datetime]) -> list[HourVisits]:
    """Visits by Paris weekday and hour, only where there were some."""
    counted = Counter((local.weekday(), local.hour)
                      for local in (moment.astimezone(PARIS) for moment in visits))
    return [HourVisits(day, WEEKDAYS[day], hour, n) for (day, hour), n in sorted(counted.items())]


# --- CSV --------------------------------------------------------------------------------

CSV_HEADER = ("section", "periode", "sujet", "mesure", "valeur", "valeur_euros")


def csv_rows(report: Report) -> list[tuple[str, ...]]:
    """The whole report in long form, one figure per row; money in cents, with euros beside."""
    rows: list[tuple[str, ...]] = [CSV_HEADER]
    for row in report.months:
        rows += _figures("mois", row.month, "", [
            ("commandes", row.orders), ("ventes_centimes", row.sales_cents),
            ("acheteurs", row.buyers), ("nouveaux_acheteurs", row.new_buyers),
            ("acheteurs_fideles", row.returning_buyers), ("membres_gagnes", row.members_gained),
            ("visites", row.visits), ("absences", row.no_shows),
            ("animations", row.gatherings), ("inscriptions", row.sign_ups),
            ("presences", row.attendance)])
    for shop in report.shops:
        for month in shop.months:
            rows += _figures("boutiques", month.month, shop.name, [
                ("commandes", month.orders), ("ventes_centimes", month.sales_cents)])
    for slot in report.slots:
        start = slot.starts_at.astimezone(PARIS)
        rows += _figures("creneaux", f"{start:%Y-%m-%d %H:%M}", slot.label, [
            ("capacite", slot.capacity), ("reservations", slot.booked),
            ("retraits", slot.picked_up), ("absences", slot.no_shows)])
    for week in report.weeks:
        rows += _figures("visites_semaine", week.week_of.isoformat(), "", [("visites", week.visits)])
    for cell in report.hours:
        rows += _figures("visites_horaire", f"{cell.weekday_label} {cell.hour:02d}h", "",
                         [("visites", cell.visits)])
    for gathering in report.gatherings:
        start = gathering.starts_at.astimezone(PARIS)
        rows += _figures("animations", f"{start:%Y-%m-%d %H:%M}", gathering.title, [
            ("places", gathering.capacity), ("inscriptions", gathering.signed_up),
            ("presences", gathering.attended),
            ("presences_inscrits", gathering.attended_signed_up)])
    return rows


def _figures(section: str, period: str, subject: str, figures: list[tuple[str, int | None]]
             ) -> list[tuple[str, ...]]:
    return [(section, period, subject, measure, "" if value is None else str(value),
             euros(value) if measure.endswith("_centimes") and value is not None else "")
            for measure, value in figures]


def euros(cents: int) -> str:
    """12,50 — the decimal comma a French spreadsheet reads as a number."""
    return format_decimal(cents / 100, "0.00", locale=CSV_LOCALE)


def money(cents: int) -> str:
    return format_currency(cents / 100, "EUR", locale=babel_locale())


# --- SVG charts -------------------------------------------------------------------------

PALETTE = ("#1f6f50", "#d08c00", "#3b5ba5", "#b3412f", "#6b4c9a", "#2a8a9a", "#7a7a2a",
           "#a34a7a")
CHART_HEIGHT, PLOT_TOP, PLOT_BOTTOM, PLOT_LEFT, PLOT_RIGHT = 260, 20, 200, 64, 16
MIN_PLOT_WIDTH, MAX_BAR_WIDTH = 420, 56


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    # What a bar's tooltip calls the column, when the axis label is too short to say it.
    long_label: str = ""


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[int]


def bar_chart(*, chart_id: str, title: str, description: str, columns: Sequence[Column],
              series: Sequence[Series], unit: Callable[[int], str] = str,
              column_width: int = 48, label_every: int = 1) -> str:
    """Bars, one per column, each stacked from its series (one colour per series, named in
    the legend when there are several); heights proportional to the values. ``title`` and
    ``description`` are what a screen reader says; the page's table holds the same figures."""
    totals = [sum(s.values[i] for s in series) for i in range(len(columns))]
    top = max(totals, default=0) or 1
    plot_height = PLOT_BOTTOM - PLOT_TOP
    # A few columns are spread over a reasonable width rather than scaled up to giant bars.
    column_width = max(column_width, MIN_PLOT_WIDTH // max(len(columns), 1))
    width = PLOT_LEFT + column_width * len(columns) + PLOT_RIGHT
    legend = _legend(series) if len(series) > 1 else []
    height = CHART_HEIGHT + 22 * len(legend)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id={quoteattr(chart_id)} '
        f'viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
        f'<line x1="{PLOT_LEFT}" y1="{PLOT_BOTTOM}" x2="{width - PLOT_RIGHT}" y2="{PLOT_BOTTOM}" '
        'stroke="#5b6b63"/>',
        f'<text x="{PLOT_LEFT - 6}" y="{PLOT_TOP + 4}" text-anchor="end" font-size="11">'
        f'{escape(unit(top))}</text>',
        f'<text x="{PLOT_LEFT - 6}" y="{PLOT_BOTTOM}" text-anchor="end" font-size="11">'
        f'{escape(unit(0))}</text>',
    ]
    bar_width = min(column_width - 8, MAX_BAR_WIDTH)
    for index, column in enumerate(columns):
        x = PLOT_LEFT + column_width * index
        parts.append(f'<g class="column" data-key={quoteattr(column.key)} '
                     f'data-total="{totals[index]}">')
        base = PLOT_BOTTOM
        for number, one in enumerate(series):
            value = one.values[index]
            if not value:
                continue
            bar_height = round(value / top * plot_height, 2)
            base -= bar_height
            named = column.long_label or column.label
            if len(series) > 1:
                named = f"{one.name} · {named}"
            parts.append(
                f'<rect class="bar" x="{x + (column_width - bar_width) / 2}" y="{round(base, 2)}" '
                f'width="{bar_width}" '
                f'height="{bar_height}" fill="{_colour(number)}"><title>{escape(named)} : '
                f'{escape(unit(value))}</title></rect>')
        if index % label_every == 0:
            parts.append(f'<text x="{x + column_width / 2}" y="{PLOT_BOTTOM + 16}" '
                         f'text-anchor="middle" font-size="11">{escape(column.label)}</text>')
        parts.append("</g>")
    parts += legend
    parts.append("</svg>")
    return "".join(parts)


def _legend(series: Sequence[Series]) -> list[str]:
    return [
        f'<g class="legend"><rect x="{PLOT_LEFT}" y="{CHART_HEIGHT - 24 + 22 * i}" width="14" '
        f'height="14" fill="{_colour(i)}"/><text x="{PLOT_LEFT + 20}" '
        f'y="{CHART_HEIGHT - 12 + 22 * i}" font-size="12">{escape(one.name)}</text></g>'
        for i, one in enumerate(series)
    ]


def _colour(number: int) -> str:
    return PALETTE[number % len(PALETTE)]


def sales_chart(report: Report) -> str:
    columns = [Column(row.month, Month.parse(row.month).short_label, row.label)
               for row in report.months]
    series = [Series(shop.name, [m.sales_cents for m in shop.months]) for shop in report.shops]
    described = ", ".join(f"{row.label} : {money(row.sales_cents)}" for row in report.months)
    return bar_chart(chart_id="ventes", title=_("Ventes par mois et par boutique"),
                     description=_("Ventes des commandes remises, par mois : %(figures)s.")
                     % {"figures": described},
                     columns=columns,
                     series=series or [Series(_("Ventes"), [0] * len(columns))],
                     unit=money)


def visits_chart(report: Report) -> str:
    locale = babel_locale()
    columns = [Column(week.week_of.isoformat(), format_date(week.week_of, "d MMM", locale=locale),
                      _("semaine du %(day)s")
                      % {"day": format_date(week.week_of, "d MMMM y", locale=locale)})
               for week in report.weeks]
    described = ", ".join(f"{c.long_label} : {w.visits}"
                          for c, w in zip(columns, report.weeks, strict=True) if w.visits)
    return bar_chart(chart_id="visites", title=_("Visites au tiers-lieu par semaine"),
                     description=_("Commandes retirées au tiers-lieu, par semaine : %(figures)s.")
                     % {"figures": described or _("aucune")},
                     columns=columns,
                     series=[Series(_("Visites"), [w.visits for w in report.weeks])],
                     column_width=24, label_every=max(1, ceil(len(columns) / 12)))
