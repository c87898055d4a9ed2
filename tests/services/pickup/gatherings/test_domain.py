"""Paris wall-clock times across the daylight-saving changes, and the places left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from services.pickup.gatherings.domain import (
    GatheringChanges,
    GatheringDetails,
    paris_wall_clock,
    places_left,
)


def test_paris_wall_clock_follows_summer_and_winter_time():
    assert paris_wall_clock(datetime(2027, 1, 14, 18)) == datetime(2027, 1, 14, 17, tzinfo=UTC)
    assert paris_wall_clock(datetime(2027, 7, 14, 18)) == datetime(2027, 7, 14, 16, tzinfo=UTC)
    with_offset = datetime(2027, 7, 14, 18, tzinfo=timezone(timedelta(hours=-4)))
    assert paris_wall_clock(with_offset) == datetime(2027, 7, 14, 22, tzinfo=UTC)


def test_a_skipped_time_is_refused_and_a_repeated_one_is_its_first_occurrence():
    with pytest.raises(ValueError, match="changement d'heure"):
        paris_wall_clock(datetime(2027, 3, 28, 2, 30))
    assert paris_wall_clock(datetime(2027, 10, 31, 2, 30)) == datetime(2027, 10, 31, 0, 30,
                                                                       tzinfo=UTC)


def test_a_gathering_across_the_autumn_change_lasts_its_real_length():
    details = GatheringDetails(title="Nuit du conte", starts_at=datetime(2027, 10, 30, 23),
                               ends_at=datetime(2027, 10, 31, 3), capacity=10)

    assert details.ends_at - details.starts_at == timedelta(hours=5)


def test_changes_are_checked_against_the_gathering_as_it_will_be():
    current = GatheringDetails(title="Atelier", starts_at=datetime(2027, 5, 1, 18),
                               ends_at=datetime(2027, 5, 1, 20), capacity=10)

    later = GatheringChanges(starts_at=datetime(2027, 5, 1, 19)).applied_to(current)

    assert (later.starts_at, later.ends_at, later.title) == (
        datetime(2027, 5, 1, 17, tzinfo=UTC), current.ends_at, "Atelier")
    with pytest.raises(Exception, match="doit venir après son début"):
        GatheringChanges(starts_at=datetime(2027, 5, 1, 21)).applied_to(current)
    with pytest.raises(ValidationError):
        GatheringChanges(capacity=-1)


def test_places_left_are_not_counted_for_free_entry():
    assert (places_left(10, 3), places_left(3, 3), places_left(0, 0)) == (7, 0, None)
