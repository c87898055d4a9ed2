"""A hub's opening hours and the collection slots they make, free of I/O.

Hours are Europe/Paris wall-clock times; slots are instants (UTC). A hub is open whenever its
clock reads a time within one of the day's ranges, which settles the nights the clock changes:
a range opening in the missing spring hour opens when the clock jumps, and one closing in the
repeated autumn hour closes the second time round.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from libs.kit.i18n import gettext as _
from services.pickup.domain import PARIS

# Where a slot comes from: staff opened it by hand, the opening hours made it, or a gathering
# offers collection during it. Only slots the opening hours made are ever withdrawn with them.
STAFF_OPENED, FROM_OPENING_HOURS, DURING_GATHERING = "staff", "opening_hours", "gathering"

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

CLOSED_BY_NEW_HOURS = "hors des nouveaux horaires d'ouverture"


class TimeRange(BaseModel):
    """Opening from ``opens`` until ``closes``, the same day (Paris wall-clock)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    opens: time
    closes: time

    @field_validator("opens", "closes")
    @classmethod
    def _to_the_minute(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError(_("une heure d'ouverture est l'heure de Paris, sans fuseau : 09:00"))
        return value.replace(second=0, microsecond=0)

    @model_validator(mode="after")
    def _closes_after_opening(self) -> TimeRange:
        if self.closes <= self.opens:
            raise ValueError(_("la fermeture (%(closes)s) doit venir après l'ouverture "
                               "(%(opens)s)") % {"closes": f"{self.closes:%H:%M}",
                                                 "opens": f"{self.opens:%H:%M}"})
        return self

    @field_serializer("opens", "closes")
    def _hours_and_minutes(self, value: time) -> str:
        return f"{value:%H:%M}"

    def label(self) -> str:
        return f"{self.opens:%H:%M}–{self.closes:%H:%M}"


_HOUR = r"(\d{1,2})\s*(?:[h:]\s*(\d{2})?)?"
_RANGE = re.compile(rf"^{_HOUR}\s*[-–]\s*{_HOUR}$")


def parse_ranges(text: str) -> list[TimeRange]:
    """Ranges as people write them in a form: « 9h-12h30, 14:00-19:00 »; empty when closed."""
    ranges = []
    for written in filter(None, (part.strip() for part in re.split(r"[,;/]", text))):
        found = _RANGE.match(written.lower().replace(" à ", "-"))
        if found is None:
            raise ValueError(_("« %(written)s » : écrivez une plage comme 9h-12h30 ou "
                               "14:00-19:00") % {"written": written})
        opens_h, opens_m, closes_h, closes_m = found.groups()
        try:
            ranges.append(TimeRange(opens=time(int(opens_h), int(opens_m or 0)),
                                    closes=time(int(closes_h), int(closes_m or 0))))
        except ValidationError as exc:
            raise ValueError(_("« %(written)s » : %(problem)s")
                             % {"written": written, "problem": first_error(exc)}) from exc
        except ValueError as exc:
            raise ValueError(_("« %(written)s » : heure impossible")
                             % {"written": written}) from exc
    return _sorted_apart(ranges)


def first_error(exc: ValidationError) -> str:
    message = exc.errors()[0]["msg"]
    return message.removeprefix("Value error, ")


def _sorted_apart(ranges: Sequence[TimeRange]) -> list[TimeRange]:
    ordered = sorted(ranges, key=lambda r: r.opens)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.opens < before.closes:
            raise ValueError(_("les plages %(before)s et %(after)s se chevauchent")
                             % {"before": before.label(), "after": after.label()})
    return ordered


class WeeklyHours(BaseModel):
    """Each weekday's opening ranges; a day left out or empty is closed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    monday: list[TimeRange] = Field(default_factory=list, max_length=8)
    tuesday: list[TimeRange] = Field(default_factory=list, max_length=8)
    wednesday: list[TimeRange] = Field(default_factory=list, max_length=8)
    thursday: list[TimeRange] = Field(default_factory=list, max_length=8)
    friday: list[TimeRange] = Field(default_factory=list, max_length=8)
    saturday: list[TimeRange] = Field(default_factory=list, max_length=8)
    sunday: list[TimeRange] = Field(default_factory=list, max_length=8)

    @field_validator(*WEEKDAYS)
    @classmethod
    def _apart(cls, ranges: list[TimeRange]) -> list[TimeRange]:
        return _sorted_apart(ranges)

    def on(self, day: date) -> list[TimeRange]:
        return self.on_weekday(WEEKDAYS[day.weekday()])

    def on_weekday(self, weekday: str) -> list[TimeRange]:
        return getattr(self, weekday)


class ExceptionDetails(BaseModel):
    """Days that do not follow the weekly hours: closed (no ``hours``: « Noël ») or open on
    special hours."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    first_day: date
    last_day: date | None = None
    label: str = Field(min_length=1, max_length=200)
    hours: list[TimeRange] = Field(default_factory=list, max_length=8)

    @field_validator("hours")
    @classmethod
    def _apart(cls, ranges: list[TimeRange]) -> list[TimeRange]:
        return _sorted_apart(ranges)

    @model_validator(mode="after")
    def _one_day_at_least(self) -> ExceptionDetails:
        self.last_day = self.last_day or self.first_day
        if self.last_day < self.first_day:
            raise ValueError(_("le dernier jour (last_day) ne peut pas précéder le premier "
                               "(first_day)"))
        if (self.last_day - self.first_day).days > 366:
            raise ValueError(_("une exception couvre au plus un an"))
        return self


@dataclass(frozen=True)
class ExceptionDays:
    """An exception as the schedule reads it."""

    first_day: date
    last_day: date
    label: str
    hours: tuple[TimeRange, ...]

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day

    def overlaps(self, other: ExceptionDays | ExceptionDetails) -> bool:
        return self.first_day <= other.last_day and other.first_day <= self.last_day


class SlotSettings(BaseModel):
    """How a hub cuts its opening hours into slots, and how early orders must choose them."""

    model_config = ConfigDict(extra="forbid")

    slot_minutes: int = Field(default=30, ge=5, le=480)
    capacity: int = Field(default=5, ge=1, le=10_000)
    lead_time_hours: int = Field(default=0, ge=0, le=24 * 30)
    horizon_days: int = Field(default=14, ge=1, le=90)


@dataclass(frozen=True)
class DayHours:
    day: date
    ranges: tuple[TimeRange, ...]
    exception: ExceptionDays | None


def hours_on(day: date, weekly: WeeklyHours, exceptions: Iterable[ExceptionDays]) -> DayHours:
    """A day's hours: those of its exception if it has one, else the weekday's."""
    exception = next((e for e in exceptions if e.covers(day)), None)
    ranges = exception.hours if exception else tuple(weekly.on(day))
    return DayHours(day, tuple(ranges), exception)


def opening_instant(day: date, wall: time) -> datetime:
    """The first instant the hub's clock reads ``wall`` or later on ``day``."""
    moment = datetime.combine(day, wall)
    while not _exists(moment):
        # Only in the hour the clock skips in spring: the first minute after it is the jump.
        moment += timedelta(minutes=1)
    return moment.replace(tzinfo=PARIS, fold=0).astimezone(UTC)


def closing_instant(day: date, wall: time) -> datetime:
    """The last instant the hub's clock reads a time before ``wall`` on ``day`` ends."""
    moment = datetime.combine(day, wall)
    while not _exists(moment):
        moment += timedelta(minutes=1)
    # Twice in the hour the clock repeats in autumn: the second time (fold=1) is the later one.
    return moment.replace(tzinfo=PARIS, fold=1).astimezone(UTC)


def _exists(wall: datetime) -> bool:
    there_and_back = wall.replace(tzinfo=PARIS).astimezone(UTC).astimezone(PARIS)
    return there_and_back.replace(tzinfo=None) == wall


def slot_times(hours: DayHours, slot_minutes: int) -> Iterator[tuple[datetime, datetime]]:
    """The day's slots, each ``slot_minutes`` of real time, back to back from each opening
    until the next would run past closing."""
    length = timedelta(minutes=slot_minutes)
    for opening in hours.ranges:
        start = opening_instant(hours.day, opening.opens)
        end = closing_instant(hours.day, opening.closes)
        while start + length <= end:
            yield start, start + length
            start += length


def days_ahead(today: date, horizon_days: int) -> list[date]:
    return [today + timedelta(days=offset) for offset in range(horizon_days)]


@dataclass(frozen=True)
class SlotPlan:
    """What generating slots does: the slots to open, and those to close or keep though they no
    longer fit (they hold orders)."""

    to_open: list[tuple[datetime, datetime]]
    to_close: dict[object, str]
    kept_held: list[object]


@dataclass(frozen=True)
class GeneratedSlot:
    id: object
    starts_at: datetime
    ends_at: datetime
    held: int


def plan_slots(*, today: date, now: datetime, settings: SlotSettings, weekly: WeeklyHours,
               exceptions: Sequence[ExceptionDays], existing: Sequence[GeneratedSlot]
               ) -> SlotPlan:
    """Slots for the horizon from the hours, never twice the same; the hours' slots still open
    that no longer fit are closed, with why, unless they hold orders."""
    wanted: dict[tuple[datetime, datetime], None] = {}
    for day in days_ahead(today, settings.horizon_days):
        for span in slot_times(hours_on(day, weekly, exceptions), settings.slot_minutes):
            if span[0] > now:
                wanted[span] = None
    fitting = _fitting(existing, settings, weekly, exceptions)
    have = {(slot.starts_at, slot.ends_at) for slot in existing if slot.id in fitting}
    to_close: dict[object, str] = {}
    kept_held: list[object] = []
    for slot in existing:
        if slot.id in fitting:
            continue
        if slot.held:
            kept_held.append(slot.id)
        else:
            to_close[slot.id] = _why_closed(slot, weekly, exceptions)
    return SlotPlan([span for span in wanted if span not in have], to_close, kept_held)


def _fitting(existing: Sequence[GeneratedSlot], settings: SlotSettings, weekly: WeeklyHours,
             exceptions: Sequence[ExceptionDays]) -> set[object]:
    spans_by_day: dict[date, set[tuple[datetime, datetime]]] = {}
    fitting = set()
    for slot in existing:
        day = slot.starts_at.astimezone(PARIS).date()
        if day not in spans_by_day:
            spans_by_day[day] = set(slot_times(hours_on(day, weekly, exceptions),
                                               settings.slot_minutes))
        if (slot.starts_at, slot.ends_at) in spans_by_day[day]:
            fitting.add(slot.id)
    return fitting


def _why_closed(slot: GeneratedSlot, weekly: WeeklyHours,
                exceptions: Sequence[ExceptionDays]) -> str:
    exception = hours_on(slot.starts_at.astimezone(PARIS).date(), weekly, exceptions).exception
    if exception is None:
        return CLOSED_BY_NEW_HOURS
    if exception.hours:
        return f"horaires exceptionnels : {exception.label}"
    return f"tiers-lieu fermé : {exception.label}"


def gathering_slot_label(title: str) -> str:
    return " ".join(title.split())[:200]
