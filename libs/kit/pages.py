"""Server-rendered pages: Jinja2 with a shared layout, French first, money and times formatted
for fr-FR and Europe/Paris (times are stored in UTC); and what every service's pages share: the
way to the sign-in page and back, and the page that says no."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_currency
from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from libs.auth.tokens import Principal

PARIS = ZoneInfo("Europe/Paris")
LOCALE = "fr_FR"
_SHARED = Path(__file__).parent / "templates"
LOGIN_PAGE = "/accounts/login"


# Babel formatting costs more than a page's query for a listing: prices repeat, so keep them.
@lru_cache(maxsize=4096)
def money(cents: int, currency: str = "EUR") -> str:
    return format_currency(cents / 100, currency.upper(), locale=LOCALE)


def local_time(moment: datetime, pattern: str = "EEEE d MMMM y 'à' HH:mm") -> str:
    return format_datetime(moment.astimezone(PARIS), pattern, locale=LOCALE)


def sign_in_url(next_path: str) -> str:
    """The sign-in page, coming back to ``next_path`` (a path on this site) once signed in."""
    return f"{LOGIN_PAGE}?next={quote(next_path, safe='')}"


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
    environment.globals["sign_in_url"] = sign_in_url
    return Jinja2Templates(env=environment)


def sign_in_redirect(request: Request, next_path: str | None = None) -> RedirectResponse:
    """303 to the sign-in page, then back to the page asked for (its query included). A form's
    action is no page to come back to: a POST handler names the page the form is on."""
    if next_path is None:
        next_path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(sign_in_url(next_path), status_code=303)


_shared_templates = templates_for(__file__)

PROBLEM_TITLES = {403: "Accès refusé", 404: "Introuvable"}
PROBLEM_TEXTS = {
    403: "Vous n'avez pas accès à cette page.",
    404: "Cette page n'existe pas (ou plus), ou elle n'est pas pour vous.",
}


def problem_page(request: Request, principal: Principal | None, status: int, *,
                 title: str | None = None, message: str | None = None,
                 detail: str | None = None, back: tuple[str, str] | None = None) -> Response:
    """The French page that says no (403, 404, ...): a title, what it means, and a way on.
    ``detail`` is the service's own word on it; ``back`` is (href, label) of the way on."""
    return _shared_templates.TemplateResponse(request, "problem.html", {
        "principal": principal,
        "title": title or PROBLEM_TITLES.get(status, "Impossible d'afficher cette page"),
        "message": message or PROBLEM_TEXTS.get(status),
        "detail": detail,
        "back": back or ("/orders/hubs", "Retour aux tiers-lieux"),
    }, status_code=status)
