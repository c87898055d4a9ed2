"""Opening hours and the slots they make, across Europe/Paris clock changes, without I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from uuid import uuid4

import pytest
from pydantic import ValidationError

from services.pickup.domain import PARIS
from services.pickup.schedule.domain import (
    CLOSED_BY_NEW_HOURS,
    DayHours,
    ExceptionDays,
    ExceptionDetails,
    GeneratedSlot,
    SlotSettings,
    TimeRange,
    WeeklyHours,
    parse_ranges,
    plan_slots,
    slot_times,
)

SPRING_FORWARD, FALL_BACK = date(2026, 3, 29), date(2026, 10, 25)  # both Sundays


def hours(text: str) -> list[TimeRange]:
    return parse_ranges(text)


def paris_times(day: date, text: str, minutes: int = 30) -> list[str]:
    return [start.astimezone(PARIS).strftime("%H:%M %Z")
            for start, _ in slot_times(DayHours(day, tuple(hours(text)), None), minutes)]


@pytest.mark.parametrize(("day", "zone", "utc_hour"), [
    (SPRING_FORWARD, "CEST", 7), (FALL_BACK, "CET", 8), (date(2026, 3, 28), "CET", 8),
    (date(2026, 10, 24), "CEST", 7)])
def test_a_morning_opening_gives_the_same_paris_slots_on_either_side_of_a_clock_change(
        day, zone, utc_hour):
    slots = list(slot_times(DayHours(day, tuple(hours("9h-12h")), None), 30))

    assert [s.astimezone(PARIS).strftime("%H:%M") for s, _ in slots] == [
        "09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
    assert {s.astimezone(PARIS).strftime("%Z") for s, _ in slots} == {zone}
    assert slots[0][0] == datetime.combine(day, time(utc_hour), UTC)
    assert all(end - start == timedelta(minutes=30) for start, end in slots)


def test_a_range_across_the_missing_spring_hour_skips_it_without_duplicates():
    assert paris_times(SPRING_FORWARD, "1h-4h") == [
        "01:00 CET", "01:30 CET", "03:00 CEST", "03:30 CEST"]
    slots = list(slot_times(DayHours(SPRING_FORWARD, tuple(hours("1h-4h")), None), 30))
    starts = [start for start, _ in slots]
    assert starts == sorted(set(starts))
    assert slots[-1][1] == datetime(2026, 3, 29, 2, tzinfo=UTC)  # 04:00 CEST


def test_a_range_opening_in_the_missing_hour_opens_when_the_clock_jumps():
    assert paris_times(SPRING_FORWARD, "2h30-4h") == ["03:00 CEST", "03:30 CEST"]
    assert paris_times(SPRING_FORWARD, "1h-2h30") == ["01:00 CET", "01:30 CET"]


def test_a_range_across_the_repeated_autumn_hour_gives_every_real_half_hour_once():
    assert paris_times(FALL_BACK, "1h-4h") == [
        "01:00 CEST", "01:30 CEST", "02:00 CEST", "02:30 CEST",
        "02:00 CET", "02:30 CET", "03:00 CET", "03:30 CET"]
    # Closing in the repeated hour means the second time the clock reads it.
    assert paris_times(FALL_BACK, "1h-2h30") == [
        "01:00 CEST", "01:30 CEST", "02:00 CEST", "02:30 CEST", "02:00 CET"]


def test_slots_stop_before_running_past_closing():
    assert paris_times(date(2026, 6, 2), "9h-10h40", minutes=25) == [
        "09:00 CEST", "09:25 CEST", "09:50 CEST", "10:15 CEST"]


def test_ranges_are_written_as_people_write_them():
    assert [r.label() for r in parse_ranges("14h-19h, 9:00-12h30")] == [
        "09:00–12:30", "14:00–19:00"]
    assert parse_ranges("  ") == []


@pytest.mark.parametrize(("text", "message"), [
    ("12h-9h", "doit venir après"), ("9h-12h, 11h-14h", "se chevauchent"),
    ("midi", "écrivez une plage"), ("9h-25h", "heure impossible")])
def test_impossible_ranges_say_why(text, message):
    with pytest.raises(ValueError, match=message):
        parse_ranges(text)


def test_weekly_hours_refuse_overlapping_or_backward_ranges():
    with pytest.raises(ValidationError, match="se chevauchent"):
        WeeklyHours(tuesday=[{"opens": "09:00", "closes": "12:30"},
                             {"opens": "12:00", "closes": "19:00"}])
    with pytest.raises(ValidationError, match="doit venir après"):
        WeeklyHours(monday=[{"opens": "19:00", "closes": "14:00"}])
    weekly = WeeklyHours(tuesday=[{"opens": "14:00", "closes": "19:00"},
                                  {"opens": "09:00", "closes": "12:30"}])
    assert weekly.model_dump(mode="json")["tuesday"] == [
        {"opens": "09:00", "closes": "12:30"}, {"opens": "14:00", "closes": "19:00"}]


def test_an_exception_ends_on_or_after_its_first_day():
    assert ExceptionDetails(first_day="2026-12-25", label="Noël").last_day == date(2026, 12, 25)
    with pytest.raises(ValidationError, match="ne peut pas précéder"):
        ExceptionDetails(first_day="2026-12-25", last_day="2026-12-24", label="Noël")


TUESDAYS = WeeklyHours(tuesday=hours("9h-10h"))
NOW = datetime(2026, 12, 21, 8, tzinfo=UTC)  # a Monday


def existing(plan_opened) -> list[GeneratedSlot]:
    return [GeneratedSlot(uuid4(), start, end, 0) for start, end in plan_opened]


def test_the_plan_opens_the_horizons_slots_once():
    settings = SlotSettings(slot_minutes=30, horizon_days=14)
    first = plan_slots(today=NOW.date(), now=NOW, settings=settings, weekly=TUESDAYS,
                       exceptions=[], existing=[])

    assert [s.astimezone(PARIS).strftime("%a %d %H:%M") for s, _ in first.to_open] == [
        "Tue 22 09:00", "Tue 22 09:30", "Tue 29 09:00", "Tue 29 09:30"]
    again = plan_slots(today=NOW.date(), now=NOW, settings=settings, weekly=TUESDAYS,
                       exceptions=[], existing=existing(first.to_open))
    assert (again.to_open, again.to_close, again.kept_held) == ([], {}, [])


def test_new_hours_close_the_slots_that_no_longer_fit_unless_they_hold_orders():
    settings = SlotSettings(slot_minutes=30, horizon_days=7)
    slots = existing(plan_slots(today=NOW.date(), now=NOW, settings=settings, weekly=TUESDAYS,
                                exceptions=[], existing=[]).to_open)
    slots[0] = GeneratedSlot(slots[0].id, slots[0].starts_at, slots[0].ends_at, held=2)
    later = WeeklyHours(tuesday=hours("9h30-11h"))

    plan = plan_slots(today=NOW.date(), now=NOW, settings=settings, weekly=later,
                      exceptions=[], existing=slots)

    assert plan.kept_held == [slots[0].id]
    assert plan.to_close == {}  # 09:30 still fits
    assert [s.astimezone(PARIS).strftime("%H:%M") for s, _ in plan.to_open] == ["10:00", "10:30"]
    closing_tuesday = WeeklyHours(wednesday=hours("9h-10h"))
    plan = plan_slots(today=NOW.date(), now=NOW, settings=settings, weekly=closing_tuesday,
                      exceptions=[], existing=slots)
    assert plan.to_close == {slots[1].id: CLOSED_BY_NEW_HOURS}


def test_exceptions_close_days_or_change_their_hours():
    christmas = ExceptionDays(date(2026, 12, 22), date(2026, 12, 22), "Noël", ())
    late = ExceptionDays(date(2026, 12, 29), date(2026, 12, 29), "Inventaire",
                         tuple(hours("16h-17h")))
    settings = SlotSettings(slot_minutes=60, horizon_days=14)

    plan = plan_slots(today=NOW.date(), now=NOW, settings=settings, weekly=TUESDAYS,
                      exceptions=[christmas, late], existing=[])

    assert [s.astimezone(PARIS).strftime("%d %H:%M") for s, _ in plan.to_open] == ["29 16:00"]
    slots = existing(plan_slots(today=NOW.date(), now=NOW, settings=settings, weekly=TUESDAYS,
                                exceptions=[], existing=[]).to_open)
    plan = plan_slots(today=NOW.date(), now=NOW, settings=settings, weekly=TUESDAYS,
                      exceptions=[christmas, late], existing=slots)
    assert sorted(plan.to_close.values()) == ["horaires exceptionnels : Inventaire",
                                              "tiers-lieu fermé : Noël"]


def test_slots_already_started_are_not_planned():
    now = datetime(2026, 12, 22, 8, 15, tzinfo=UTC)  # Tuesday 09:15 in Paris
    plan = plan_slots(today=now.date(), now=now, settings=SlotSettings(horizon_days=1),
                      weekly=TUESDAYS, exceptions=[], existing=[])
    assert [s.astimezone(PARIS).strftime("%H:%M") for s, _ in plan.to_open] == ["09:30"]
