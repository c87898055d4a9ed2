"""Calendar months in Europe/Paris, where the hubs and their shops are: sales summaries,
statements and reports all count in them, whatever the UTC instant an event carries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from babel.dates import format_date

from libs.kit.errors import Unprocessable
from libs.kit.i18n import babel_locale
from libs.kit.pages import PARIS

_WRITTEN = re.compile(r"(2\d{3})-(0[1-9]|1[0-2])")  # years 2000 to 2999: never out of datetime's range


@dataclass(frozen=True, order=True, slots=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        found = _WRITTEN.fullmatch(text.strip())
        if found is None:
            raise Unprocessable(f"a month is written YYYY-MM (2026-03), not {text!r}")
        return cls(int(found[1]), int(found[2]))

    @classmethod
    def of(cls, moment: datetime | date) -> Month:
        """The Paris month of an instant, or of a calendar day."""
        if isinstance(moment, datetime):
            moment = moment.astimezone(PARIS)
        return cls(moment.year, moment.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def shifted(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def next(self) -> Month:
        return self.shifted(1)

    def previous(self) -> Month:
        return self.shifted(-1)

    @property
    def starts_at(self) -> datetime:
        """Midnight on its first day in Paris, as a UTC instant."""
        return datetime(self.year, self.month, 1, tzinfo=PARIS).astimezone(UTC)

    @property
    def ends_at(self) -> datetime:
        """The next month's first instant: a month is [starts_at, ends_at)."""
        return self.next().starts_at

    @property
    def label(self) -> str:
        """« mars 2026 » (« March 2026 » in English)."""
        return format_date(date(self.year, self.month, 1), "LLLL y", locale=babel_locale())

    @property
    def short_label(self) -> str:
        """« mars 26 »."""
        return format_date(date(self.year, self.month, 1), "LLL yy", locale=babel_locale())


def months_from(first: Month, last: Month, *, at_most: int) -> list[Month]:
    """``first`` to ``last``, both included, refused when backwards or longer than ``at_most``."""
    if first > last:
        raise Unprocessable(f"the period ends ({last}) before it starts ({first})")
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    if count > at_most:
        raise Unprocessable(f"at most {at_most} months at once; {first} to {last} is {count}")
    return [first.shifted(n) for n in range(count)]
