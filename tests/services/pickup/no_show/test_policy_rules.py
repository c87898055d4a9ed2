"""The no-show policy's rules: reminder, hold, and real-time durations (UTC arithmetic), even
across a daylight-saving change in Europe/Paris."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from libs.kit.errors import Conflict
from services.pickup.no_show.domain import (
    DEFAULT_TERMS,
    NoShowTerms,
    Step,
    hold_end,
    next_step,
    refuse_no_show,
)

PARIS = ZoneInfo("Europe/Paris")
ENDS = datetime(2026, 6, 5, 17, 0, tzinfo=UTC)
TERMS = NoShowTerms(reminder_after_hours=2, hold_hours=48)


def step(now: datetime, *, ready_at: datetime | None = None, reminded: bool = False,
         held_until: datetime | None = None) -> Step:
    return next_step(TERMS, slot_ends_at=ENDS, ready_at=ready_at or ENDS - timedelta(days=1),
                     reminded=reminded, held_until=held_until, now=now)


def test_the_resident_is_reminded_once_the_delay_after_the_slot_is_over():
    assert step(ENDS + timedelta(hours=1, minutes=59)) == Step.WAIT
    assert step(ENDS + timedelta(hours=2)) == Step.REMIND
    assert step(ENDS + timedelta(days=9)) == Step.REMIND  # never given up on unreminded


def test_the_goods_are_given_back_once_the_hold_is_over():
    held_until = ENDS + timedelta(hours=48)

    assert step(held_until - timedelta(seconds=1), reminded=True,
                held_until=held_until) == Step.WAIT
    assert step(held_until, reminded=True, held_until=held_until) == Step.GIVE_UP


def test_goods_ready_after_the_slot_wait_from_when_they_were_ready():
    late = ENDS + timedelta(hours=5)

    assert step(late + timedelta(hours=1), ready_at=late) == Step.WAIT
    assert step(late + timedelta(hours=2), ready_at=late) == Step.REMIND
    assert hold_end(TERMS, slot_ends_at=ENDS, ready_at=late,
                    now=late + timedelta(hours=2)) == late + timedelta(hours=48)


def test_the_hold_counts_from_the_slots_end_and_a_late_reminder_keeps_its_promise():
    on_time = hold_end(TERMS, slot_ends_at=ENDS, ready_at=None, now=ENDS + timedelta(hours=2))
    late = hold_end(TERMS, slot_ends_at=ENDS, ready_at=None, now=ENDS + timedelta(hours=30))

    assert on_time == ENDS + timedelta(hours=48)
    assert late == ENDS + timedelta(hours=30 + 46)


def test_a_hold_across_the_clocks_going_back_lasts_its_hours_in_real_time():
    # Saturday 24 October 2026, 18:00 in Paris (CEST); the clocks go back that night.
    ends = datetime(2026, 10, 24, 18, 0, tzinfo=PARIS).astimezone(UTC)

    held_until = hold_end(TERMS, slot_ends_at=ends, ready_at=None, now=ends + timedelta(hours=2))

    assert held_until - ends == timedelta(hours=48)
    assert held_until.astimezone(PARIS).hour == 17  # the wall clock shows an hour less
    assert held_until.astimezone(PARIS).day == 26


def test_a_hold_across_the_clocks_going_forward_lasts_its_hours_in_real_time():
    ends = datetime(2026, 3, 28, 18, 0, tzinfo=PARIS).astimezone(UTC)

    held_until = hold_end(TERMS, slot_ends_at=ends, ready_at=None, now=ends)

    assert held_until - ends == timedelta(hours=48)
    assert held_until.astimezone(PARIS).hour == 19


def test_the_terms_hold_longer_than_the_reminder_and_within_bounds():
    assert DEFAULT_TERMS.reminder_after == timedelta(hours=2)
    assert DEFAULT_TERMS.hold == timedelta(hours=48)
    for wrong in ({"reminder_after_hours": 48, "hold_hours": 48},
                  {"reminder_after_hours": -1, "hold_hours": 48},
                  {"reminder_after_hours": 2, "hold_hours": 0},
                  {"reminder_after_hours": 2, "hold_hours": 24 * 31},
                  {"reminder_after_hours": 2, "hold_hours": 48, "refund_bps": 0}):
        with pytest.raises(ValidationError):
            NoShowTerms(**wrong)


def test_staff_record_a_no_show_only_for_a_ready_order_after_its_slot():
    now = ENDS + timedelta(minutes=1)
    refuse_no_show("ready", ENDS, now)
    for status, when in (("ready", ENDS - timedelta(minutes=1)), ("scheduled", now),
                         ("picked_up", now), ("cancelled", now), ("no_show", now)):
        with pytest.raises(Conflict):
            refuse_no_show(status, ENDS, when)
