"""The calendar as iCalendar (RFC 5545): folded, escaped, in UTC, with stable UIDs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.pickup.gatherings.ics import CalendarEvent, calendar, escape_text, fold
from tests.services.pickup.gatherings.conftest import PARIS, open_shop, paris_evening, schedule


def unfolded(text: str) -> list[str]:
    """The content lines of an iCalendar text, as a reader sees them (§3.1)."""
    assert text.endswith("\r\n")
    return text[:-2].replace("\r\n ", "").split("\r\n")


def unescaped(value: str) -> str:
    out, chars = [], iter(value)
    for char in chars:
        if char == "\\":
            following = next(chars)
            out.append("\n" if following in "nN" else following)
        else:
            out.append(char)
    return "".join(out)


def events_of(text: str) -> list[dict[str, str]]:
    events, current = [], None
    for line in unfolded(text):
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            events.append(current)
            current = None
        elif current is not None:
            name, _, value = line.partition(":")
            current[name] = value
    return events


def test_text_escapes_backslashes_semicolons_commas_and_newlines():
    assert escape_text("Pain, beurre; et \\ fromage\r\nà volonté\rvraiment\n") == (
        "Pain\\, beurre\\; et \\\\ fromage\\nà volonté\\nvraiment\\n")
    assert unescaped(escape_text("a,b;c\\d\ne")) == "a,b;c\\d\ne"


def test_long_lines_fold_at_75_octets_without_cutting_a_character():
    line = "DESCRIPTION:" + "Dégustation – fromages affinés 🧀 " * 12

    folded = fold(line)

    pieces = folded.split("\r\n")
    assert len(pieces) > 1
    assert all(len(piece.encode()) <= 75 for piece in pieces)
    assert all(piece.startswith(" ") for piece in pieces[1:])
    assert max(len(piece.encode()) for piece in pieces) >= 72  # filled, not cut early
    assert folded.replace("\r\n ", "") == line
    assert fold("SUMMARY:court") == "SUMMARY:court"


def test_a_calendar_has_its_frame_crlf_lines_and_utc_times():
    event = CalendarEvent(uid_key="animation-1", summary="Atelier", description="",
                          location="Ici", starts_at=datetime(2030, 7, 1, 18, tzinfo=PARIS),
                          ends_at=datetime(2030, 7, 1, 20, tzinfo=PARIS),
                          stamped_at=datetime(2030, 6, 1, 9, 30, 15, tzinfo=UTC), sequence=2)

    text = calendar("Animations", [event])

    lines = unfolded(text)
    assert lines[:2] == ["BEGIN:VCALENDAR", "VERSION:2.0"]
    assert lines[-1] == "END:VCALENDAR"
    assert "\n" not in text.replace("\r\n", "")
    [parsed] = events_of(text)
    assert parsed["DTSTART"] == "20300701T160000Z"  # 18:00 in Paris, summer time
    assert parsed["DTEND"] == "20300701T180000Z"
    assert parsed["DTSTAMP"] == "20300601T093015Z"
    assert (parsed["UID"], parsed["SEQUENCE"], parsed["STATUS"]) == (
        "animation-1@adopte-mon-commercant", "2", "CONFIRMED")
    assert "DESCRIPTION" not in parsed


async def test_the_hubs_feed_holds_its_gatherings_and_follows_their_changes(pickup, team):
    cheese = await open_shop(pickup, team.hub_id, "Fromagerie du Trégor, Lannion")
    description = "Tommes; beurres, et crème.\nVenez nombreux !" + " Très bon." * 10
    winter = paris_evening(days=3, hour=18)
    tasting = await schedule(pickup, team, title="Dégustation, vins; fromages",
                             description=description, shop_ids=[str(cheese)])
    talk = await schedule(pickup, team, title="Causerie", capacity=0,
                          starts_at=(winter + timedelta(days=2)).isoformat(),
                          ends_at=(winter + timedelta(days=2, hours=1)).isoformat())
    feed = f"/pickup/hubs/{team.hub_id}/animations.ics"

    before = await pickup.client.get(feed)
    await pickup.client.post(f"{team.gatherings}/{talk['id']}/cancellation",
                             json={"reason": "Intervenant absent"}, headers=team.admin)
    after = await pickup.client.get(feed)

    assert before.status_code == 200
    assert before.headers["content-type"] == "text/calendar; charset=utf-8"
    assert all(len(line.encode()) <= 75 for line in before.text.split("\r\n"))
    first, second = events_of(before.text)
    assert first["UID"] == f"animation-{tasting['id']}@adopte-mon-commercant"
    assert unescaped(first["SUMMARY"]) == "Dégustation, vins; fromages"
    assert first["SUMMARY"] == "Dégustation\\, vins\\; fromages"
    assert unescaped(first["DESCRIPTION"]) == (
        f"{description}\n\nAvec : Fromagerie du Trégor, Lannion")
    assert unescaped(first["LOCATION"]) == "Le Grenier Partagé, 3 place du Martray, Paimpol"
    assert first["DTSTART"] == datetime.fromisoformat(tasting["starts_at"]).strftime(
        "%Y%m%dT%H%M%SZ")
    assert first["URL"].endswith(f"/pickup/hubs/{team.hub_id}/animations/{tasting['id']}")
    assert (second["STATUS"], second["SEQUENCE"]) == ("CONFIRMED", "0")
    _, cancelled = events_of(after.text)
    assert cancelled["UID"] == second["UID"]
    assert (cancelled["STATUS"], cancelled["SEQUENCE"]) == ("CANCELLED", "1")
    assert "Intervenant absent" in unescaped(cancelled["DESCRIPTION"])


async def test_one_gatherings_file_holds_that_gathering_only(pickup, team):
    tasting = await schedule(pickup, team)
    await schedule(pickup, team, title="Autre")

    answer = await pickup.client.get(f"/pickup/hubs/{team.hub_id}/animations/{tasting['id']}.ics")

    assert answer.status_code == 200
    [event] = events_of(answer.text)
    assert unescaped(event["SUMMARY"]) == "Dégustation de fromages"
    assert 'filename="animation-' in answer.headers["content-disposition"]
