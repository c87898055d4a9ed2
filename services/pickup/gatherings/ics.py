"""A small iCalendar (RFC 5545) writer: what a calendar application needs to show a hub's
gatherings and follow their changes, nothing more."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

LINE_OCTETS = 75
PRODUCT_ID = "-//Adopte mon commerçant//Animations des tiers-lieux//FR"
UID_DOMAIN = "adopte-mon-commercant"


@dataclass(frozen=True)
class CalendarEvent:
    """One VEVENT. ``uid_key`` is our id: the UID made from it never changes, so an updated
    export replaces the event in subscribers' calendars (``sequence`` says which is newer)."""

    uid_key: str
    summary: str
    description: str
    location: str
    starts_at: datetime
    ends_at: datetime
    stamped_at: datetime
    sequence: int
    cancelled: bool = False
    url: str | None = None


def calendar(name: str, events: Iterable[CalendarEvent]) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODUCT_ID}", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", f"X-WR-CALNAME:{escape_text(name)}"]
    for event in events:
        lines += _vevent(event)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def _vevent(event: CalendarEvent) -> list[str]:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{event.uid_key}@{UID_DOMAIN}",
        f"DTSTAMP:{utc_stamp(event.stamped_at)}",
        f"DTSTART:{utc_stamp(event.starts_at)}",
        f"DTEND:{utc_stamp(event.ends_at)}",
        f"SEQUENCE:{event.sequence}",
        f"STATUS:{'CANCELLED' if event.cancelled else 'CONFIRMED'}",
        f"SUMMARY:{escape_text(event.summary)}",
        f"LOCATION:{escape_text(event.location)}",
    ]
    if event.description:
        lines.append(f"DESCRIPTION:{escape_text(event.description)}")
    if event.url:
        lines.append(f"URL:{event.url}")
    lines.append("END:VEVENT")
    return lines


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def escape_text(value: str) -> str:
    """TEXT as RFC 5545 §3.3.11 writes it: backslash, semicolon, comma and newlines escaped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\n", "\\n"))


def fold(line: str) -> str:
    """Lines of at most 75 octets (§3.1), never cutting a UTF-8 character; each continuation
    starts with a space, which counts in its 75."""
    parts, current, size = [], "", 0
    for char in line:
        octets = len(char.encode())
        if size + octets > LINE_OCTETS:
            parts.append(current)
            current, size = " ", 1
        current += char
        size += octets
    parts.append(current)
    return "\r\n".join(parts)
