"""The membership's pure rules: when it ends on the Paris calendar, who may join or renew, member
numbers and what staff type to find one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from libs.kit.errors import Conflict
from services.pickup.membership.domain import (
    expiry,
    is_valid,
    member_number,
    number_prefix,
    refuse_joining,
    renewal_start,
    sought_number,
)

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def test_a_membership_ends_at_the_same_paris_time_months_later_across_summer_time():
    # 20:00 in winter (19:00 UTC) to 20:00 in summer (18:00 UTC).
    assert expiry(paris(2026, 1, 15, 20).astimezone(UTC), 6) == paris(2026, 7, 15, 20)
    assert expiry(paris(2026, 1, 15, 20).astimezone(UTC), 6).utcoffset() == timedelta(0)
    assert expiry(NOW, None) is None


def test_a_month_too_short_for_the_day_ends_on_its_last_day():
    assert expiry(paris(2026, 1, 31, 9).astimezone(UTC), 1) == paris(2026, 2, 28, 9)
    assert expiry(paris(2027, 1, 31, 9).astimezone(UTC), 13) == paris(2028, 2, 29, 9)
    assert expiry(paris(2026, 11, 30, 9).astimezone(UTC), 12) == paris(2027, 11, 30, 9)


def test_a_renewal_counts_from_the_end_still_to_come():
    assert renewal_start(NOW, NOW + timedelta(days=9)) == NOW + timedelta(days=9)
    assert renewal_start(NOW, NOW - timedelta(days=1)) == NOW
    assert renewal_start(NOW, None) == NOW


@pytest.mark.parametrize(("status", "expires_in", "message"), [
    ("awaiting_payment", None, "attend déjà son paiement"),
    ("active", None, "déjà adhérent·e de ce tiers-lieu"),
    ("active", timedelta(days=31), "30 jours avant"),
])
def test_who_may_not_join_now(status, expires_in, message):
    with pytest.raises(Conflict, match=message):
        refuse_joining(hub_open=True, current_status=status,
                       current_expires_at=NOW + expires_in if expires_in else None, now=NOW)


def test_joining_and_renewing_in_the_last_30_days_are_allowed_while_the_hub_is_open():
    refuse_joining(hub_open=True, current_status=None, current_expires_at=None, now=NOW)
    refuse_joining(hub_open=True, current_status="active",
                   current_expires_at=NOW + timedelta(days=30), now=NOW)
    with pytest.raises(Conflict, match="ne prend pas de nouvelles adhésions"):
        refuse_joining(hub_open=False, current_status="active",
                       current_expires_at=NOW + timedelta(days=2), now=NOW)


def test_numbers_say_the_town_and_staff_find_them_typed_either_way():
    assert number_prefix("Lannion") == "LAN"
    assert number_prefix("Évron") == "EVR"
    assert number_prefix("L'Île-d'Yeu") == "LIL"
    assert number_prefix("Y") == "ADH"
    assert member_number("LAN", 42) == "LAN-0042"
    assert member_number("LAN", 12345) == "LAN-12345"
    assert sought_number(" lan-0042 ") == ("LAN-0042", None)
    assert sought_number("0042") == (None, 42)
    assert sought_number("   ") == (None, None)


def test_a_card_is_valid_while_active_and_not_past_its_end():
    assert is_valid("active", None, NOW)
    assert is_valid("active", NOW + timedelta(seconds=1), NOW)
    assert not is_valid("active", NOW, NOW)
    assert not is_valid("awaiting_payment", None, NOW)
    assert not is_valid("ended", None, NOW)
