"""Server-rendered pages: Jinja2 with a shared layout, in the request's language (French first,
English on request: libs/kit/i18n.py), money and times formatted for it and Europe/Paris (times
are stored in UTC); and what every service's pages share: the way to the sign-in page and back,
the language switch, and the page that says no."""

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
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, pass_context, select_autoescape
from markupsafe import Markup

from libs.auth.tokens import Principal
from libs.kit import csrf, i18n
from libs.kit.i18n import N_
from libs.kit.i18n import gettext as _

PARIS = ZoneInfo("Europe/Paris")
LOCALE = "fr_FR"  # always French; i18n.babel_locale() is the request's
_SHARED = Path(__file__).parent / "templates"
_SERVICES = Path(__file__).resolve().parents[2] / "services"
LOGIN_PAGE = "/accounts/login"
DEFAULT_TIME_PATTERN = N_("EEEE d MMMM y 'à' HH:mm")


def money(cents: int, currency: str = "EUR") -> str:
    return _money(cents, currency.upper(), i18n.babel_locale())


# Babel formatting costs more than a page's query for a listing: prices repeat, so keep them.
@lru_cache(maxsize=4096)
def _money(cents: int, currency: str, locale: str) -> str:
    return format_currency(cents / 100, currency, locale=locale)


def local_time(moment: datetime, pattern: str | None = None) -> str:
    """``moment`` in Paris time, in the current locale; a ``pattern`` with words in it is given
    already translated."""
    return format_datetime(moment.astimezone(PARIS), pattern or _(DEFAULT_TIME_PATTERN),
                           locale=i18n.babel_locale())


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
        extensions=["jinja2.ext.i18n"],
        # Templates change with the code, which restarts the process: no file checked per page.
        auto_reload=False,
    )
    # A multi-line {% trans %} block is one sentence: its msgid has no layout whitespace.
    environment.policies["ext.i18n.trimmed"] = True
    domain = _service_of(folder)
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: i18n.translations(domain, i18n.current_locale()).gettext(message),
        lambda singular, plural, n: i18n.translations(domain, i18n.current_locale()).ngettext(
            singular, plural, n),
        newstyle=True,
    )
    environment.filters["money"] = money
    environment.filters["local_time"] = local_time
    environment.globals["sign_in_url"] = sign_in_url
    environment.globals["csrf_field"] = csrf_field
    environment.globals["current_locale"] = i18n.current_locale
    environment.globals["language_links"] = language_links
    return Jinja2Templates(env=environment)


def _service_of(folder: Path) -> str | None:
    """The service whose catalog a templates folder speaks: services/<name>/..., else shared."""
    try:
        return folder.resolve().relative_to(_SERVICES).parts[0]
    except (ValueError, IndexError):
        return None


@pass_context
def csrf_field(context) -> Markup:
    """The hidden field every POST form carries: the token of the request rendering the page."""
    request = context.get("request")
    token = csrf.request_token(request.scope) if request else ""
    return Markup('<input type="hidden" name="{}" value="{}">').format(csrf.FIELD, token)


@pass_context
def language_links(context) -> list[dict]:
    """The language switch: one link per locale to this very page, the current one marked."""
    request = context.get("request")
    path, query = (request.url.path, request.url.query) if request else ("/", "")
    return [{"code": code, "name": i18n.LANGUAGE_NAMES[code],
             "href": i18n.switch_url(path, query, code), "current": code == i18n.current_locale()}
            for code in i18n.LOCALES]


def sign_in_redirect(request: Request, next_path: str | None = None) -> RedirectResponse:
    """303 to the sign-in page, then back to the page asked for (its query included). A form's
    action is no page to come back to: a POST handler names the page the form is on."""
    if next_path is None:
        next_path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(sign_in_url(next_path), status_code=303)


_shared_templates = templates_for(__file__)

PROBLEM_TITLES = {403: N_("Accès refusé"), 404: N_("Introuvable")}
PROBLEM_TITLE = N_("Impossible d'afficher cette page")
PROBLEM_TEXTS = {
    403: N_("Vous n'avez pas accès à cette page."),
    404: N_("Cette page n'existe pas (ou plus), ou elle n'est pas pour vous."),
}


def problem_page(request: Request, principal: Principal | None, status: int, *,
                 title: str | None = None, message: str | None = None,
                 detail: str | None = None, back: tuple[str, str] | None = None) -> Response:
    """The French page that says no (403, 404, ...): a title, what it means, and a way on.
    ``detail`` is the service's own word on it; ``back`` is (href, label) of the way on."""
    return _shared_templates.TemplateResponse(request, "problem.html", {
        "principal": principal,
        "title": title or _(PROBLEM_TITLES.get(status, PROBLEM_TITLE)),
        "message": message or (_(PROBLEM_TEXTS[status]) if status in PROBLEM_TEXTS else None),
        "detail": detail,
        "back": back or ("/orders/hubs", _("Retour aux tiers-lieux")),
    }, status_code=status)
