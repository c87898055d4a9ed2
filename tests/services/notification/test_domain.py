"""The notification service's pure rules: back-off, staleness, recipients, local wording."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from services.notification import domain


def test_retries_wait_twice_as_long_each_time_up_to_a_ceiling():
    delays = [domain.retry_delay(n, base_s=30, max_s=600).total_seconds() for n in range(1, 7)]

    assert delays == [30, 60, 120, 240, 480, 600]


def test_a_message_gives_up_at_its_last_attempt():
    assert not domain.gives_up(2, max_attempts=3)
    assert domain.gives_up(3, max_attempts=3)


def test_an_event_older_than_the_limit_is_history():
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)

    assert domain.is_stale(now - timedelta(hours=49), now, timedelta(hours=48))
    assert not domain.is_stale(now - timedelta(minutes=5), now, timedelta(hours=48))


def test_recipients_name_a_person_or_a_shop():
    user_id, shop_id = uuid4(), uuid4()

    assert domain.parse_ref(domain.person_ref(user_id)) == ("user", user_id)
    assert domain.parse_ref(domain.shop_ref(shop_id)) == ("shop", shop_id)
    with pytest.raises(ValueError):
        domain.parse_ref(f"hub:{uuid4()}")


def test_times_read_in_paris_across_the_daylight_saving_change():
    summer = datetime(2026, 10, 24, 15, 0, tzinfo=UTC)  # CEST, UTC+2
    winter = datetime(2026, 10, 26, 15, 0, tzinfo=UTC)  # CET, UTC+1

    assert domain.local_moment(summer, "fr") == "samedi 24 octobre à 17:00"
    assert domain.local_moment(winter, "en") == "Monday 26 October at 16:00"


def test_amounts_read_in_each_language():
    assert domain.local_money(2190, "fr") == "21,90\u00a0€"
    assert domain.local_money(2190, "en") == "€21.90"
