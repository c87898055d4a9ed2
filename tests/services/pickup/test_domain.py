"""The pickup service's pure rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from libs.kit.errors import Conflict, Unprocessable
from services.pickup.domain import (
    CANCELLED,
    DROPPED_OFF,
    PENDING,
    READY,
    SCHEDULED,
    every_part_in,
    may_act_as,
    new_pickup_code,
    paris_day,
    refuse_handover,
)


@pytest.mark.parametrize(("held", "needed", "platform_admin", "allowed"), [
    (None, "staff", False, False),
    ("staff", "staff", False, True),
    ("staff", "admin", False, False),
    ("admin", "staff", False, True),
    ("admin", "admin", False, True),
    (None, "admin", True, True),
])
def test_a_hub_admin_has_staffs_rights_and_a_platform_admin_has_all(held, needed, platform_admin,
                                                                     allowed):
    assert may_act_as(held, needed, platform_admin=platform_admin) is allowed


@pytest.mark.parametrize(("parts", "ready"), [
    ([DROPPED_OFF, DROPPED_OFF], True),
    ([DROPPED_OFF, PENDING], False),
    ([DROPPED_OFF, CANCELLED], True),
    ([CANCELLED, CANCELLED], False),
    ([], False),
])
def test_a_pickup_is_ready_when_every_expected_part_is_in(parts, ready):
    assert every_part_in(parts) is ready


def test_codes_avoid_characters_read_one_for_another():
    codes = {new_pickup_code() for _ in range(200)}
    assert len(codes) > 190
    assert all(len(code) == 6 for code in codes)
    assert not set("".join(codes)) & set("01258BIOSZL")


def test_a_paris_day_is_shorter_when_clocks_go_forward():
    start, end = paris_day(date(2026, 3, 29))
    assert start == datetime(2026, 3, 28, 23, tzinfo=UTC)
    assert end - start == timedelta(hours=23)


def test_the_code_is_checked_last_and_read_leniently():
    refuse_handover(READY, "AC3479", " ac3 479 ")
    with pytest.raises(Unprocessable, match="code de retrait incorrect"):
        refuse_handover(READY, "AC3479", "AC3478")
    with pytest.raises(Conflict, match="pas encore prête"):
        refuse_handover(SCHEDULED, "AC3479", "AC3479")
