"""Server-rendered pages: Jinja2 with a shared layout, French first, money and times formatted
for fr-FR and Europe/Paris (times are stored in UTC)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_currency
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

PARIS = ZoneInfo("Europe/Paris")
LOCALE = "fr_FR"
_SHARED = Path(__file__).parent / "templates"


def money(cents: int, currency: str = "EUR") -> str:
    return format_currency(cents / 100, currency.upper(), locale=LOCALE)


def local_time(moment: datetime, pattern: str = "EEEE d MMMM y 'à' HH:mm") -> str:
    return format_datetime(moment.astimezone(PARIS), pattern, locale=LOCALE)


def templates_for(service_package: str | Path) -> Jinja2Templates:
    """Templates from ``<service>/templates`` first, then the shared layout."""
    folder = Path(service_package)
    if folder.is_file():
        folder = folder.parent
    environment = Environment(
        loader=ChoiceLoader([FileSystemLoader(folder / "templates"), FileSystemLoader(_SHARED)]),
        autoescape=select_autoescape(["html"]),
    )
    environment.filters["money"] = money
    environment.filters["local_time"] = local_time
    return Jinja2Templates(env=environment)
