"""French and English for the people using the pages. French is the source language: a msgid
is the French text as written, so French needs no catalog. English comes from each service's
``locales/en/LC_MESSAGES/messages.po`` over the shared one of libs/kit, read at first use (no
compiled .mo in git, no build step).

The locale of a request is chosen by ``LocaleMiddleware`` (the ``adopte_lang`` cookie, else
Accept-Language, else French) and held in a context variable, so ``_`` works anywhere a request
is being handled. JSON API errors stay English: they are for developers, and never go through
here.

In Python: ``from libs.kit.i18n import gettext as _`` (``N_`` for module-level constants,
translated with ``_`` where used). In templates: ``{{ _("…") }}``, ``{{ _("… %(name)s …",
name=x) }}``, ``{% trans name=x %}… {{ name }} …{% endtrans %}`` and ``{% pluralize %}``; the
templates' gettext formats every message, so a literal % is written %% in ``_("…")``. Babel
extracts no ``N_("…")`` nested in another call: give it a name first. After
changing text: ``adopte i18n update <service>``, translate the new entries of
``locales/en/LC_MESSAGES/messages.po``, and ``adopte i18n check`` passes.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from importlib import import_module
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"
BABEL_LOCALES = {"fr": "fr_FR", "en": "en_GB"}
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}
COOKIE = "adopte_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
SHARED_LOCALES = Path(__file__).parent / "locales"
CATALOG = Path("LC_MESSAGES") / "messages.po"

_locale: ContextVar[str] = ContextVar("adopte_locale", default=DEFAULT_LOCALE)
# The service whose catalog comes first; None: the shared catalog only.
_domain: ContextVar[str | None] = ContextVar("adopte_i18n_domain", default=None)


def current_locale() -> str:
    return _locale.get()


def babel_locale() -> str:
    """The current locale as Babel formats numbers and dates in it."""
    return BABEL_LOCALES[_locale.get()]


def locales_dir(domain: str | None) -> Path:
    """A service's ``locales`` folder, or the shared one of libs/kit for ``None``."""
    if domain is None:
        return SHARED_LOCALES
    return Path(import_module(f"services.{domain}").__file__).parent / "locales"


def _read_catalog(path: Path, locale: str) -> Translations | None:
    if not path.exists():
        return None
    with path.open("rb") as po_file:
        catalog = read_po(po_file, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled)


class _French(_gettext.NullTranslations):
    """The msgids themselves, with French plurals: 0 and 1 are singular (« 0 produit »)."""

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return msgid1 if n <= 1 else msgid2


@lru_cache(maxsize=32)
def translations(domain: str | None, locale: str) -> _gettext.NullTranslations:
    """The service's catalog in ``locale`` falling back on the shared one, then on the msgid."""
    if locale == DEFAULT_LOCALE:
        return _French()
    shared = _read_catalog(SHARED_LOCALES / locale / CATALOG, locale) or _gettext.NullTranslations()
    if domain is None:
        return shared
    own = _read_catalog(locales_dir(domain) / locale / CATALOG, locale)
    if own is None:
        return shared
    own.add_fallback(shared)
    return own


def _current() -> _gettext.NullTranslations:
    return translations(_domain.get(), _locale.get())


def gettext(message: str) -> str:
    return _current().gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return _current().ngettext(singular, plural, count)


def N_(message: str) -> str:  # noqa: N802 (the name gettext's tools look for)
    """Marks a module-level constant for extraction; translate it with ``_`` where it is used."""
    return message


@contextmanager
def use_locale(locale: str, domain: str | None = None) -> Iterator[None]:
    """Speak ``locale`` in this block, with ``domain``'s catalog (outside any request: mail,
    tests)."""
    locale_token = _locale.set(locale if locale in LOCALES else DEFAULT_LOCALE)
    domain_token = _domain.set(domain)
    try:
        yield
    finally:
        _domain.reset(domain_token)
        _locale.reset(locale_token)


def from_accept_language(header: str) -> str | None:
    """The supported locale the browser prefers most (q-values), if it names one."""
    best, best_quality = None, 0.0
    for part in header.split(","):
        tag, _sep, params = part.strip().partition(";")
        language = tag.strip().split("-")[0].lower()
        quality = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if language in LOCALES and quality > best_quality:
            best, best_quality = language, quality
    return best


def choose_locale(cookie: str | None, accept_language: str | None) -> str:
    if cookie in LOCALES:
        return cookie
    return from_accept_language(accept_language or "") or DEFAULT_LOCALE


def _cookies(header: str) -> dict[str, str]:
    pairs = (part.strip().partition("=") for part in header.split(";"))
    return {name: value.strip('"') for name, _eq, value in pairs if name}


def switch_url(path: str, query: str, locale: str) -> str:
    """The link that switches the page at ``path?query`` to ``locale`` (the middleware does it),
    keeping what the page shows (a search, its page number)."""
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True)
            if k != "lang" and (k != "next" or _on_this_site(v))]
    return f"{path}?{urlencode([*kept, ('lang', locale)])}"


def _on_this_site(address: str) -> bool:
    """A return address worth carrying: a path here, never one that leads to another site."""
    return address.startswith("/") and not address.startswith("//") and "\\" not in address


class LocaleMiddleware:
    """Chooses the request's locale, for ``_`` and the templates, with ``domain``'s catalog.

    A GET with ``?lang=en`` (or ``fr``) switches without JavaScript: the cookie is set and the
    browser sent back 303 to the same URL without ``lang``."""

    def __init__(self, app, domain: str | None = None) -> None:
        self.app = app
        self.domain = domain

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {name.decode("latin-1"): value.decode("latin-1")
                   for name, value in scope["headers"]}
        query = scope.get("query_string", b"").decode("latin-1")
        asked = dict(parse_qsl(query)).get("lang")
        if scope["method"] == "GET" and asked in LOCALES:
            return await self._switch(scope, send, query, asked)
        locale = choose_locale(_cookies(headers.get("cookie", "")).get(COOKIE),
                               headers.get("accept-language"))
        locale_token = _locale.set(locale)
        domain_token = _domain.set(self.domain)

        async def send_with_language(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      (b"content-language", locale.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_language)
        finally:
            _domain.reset(domain_token)
            _locale.reset(locale_token)

    @staticmethod
    async def _switch(scope, send, query: str, locale: str) -> None:
        kept = urlencode([(k, v) for k, v in parse_qsl(query, keep_blank_values=True)
                          if k != "lang"])
        raw = scope.get("raw_path")
        path = raw.decode("latin-1") if raw else quote(scope["path"])
        # One leading slash: "//host/x" would send the browser to another site.
        path = "/" + path.lstrip("/")
        location = path + (f"?{kept}" if kept else "")
        # csrf.py speaks through this module: its word on HTTPS is fetched here, late.
        from libs.kit.csrf import is_https

        cookie = (f"{COOKIE}={locale}; Max-Age={COOKIE_MAX_AGE}; Path=/; SameSite=Lax; "
                  f"HttpOnly" + ("; Secure" if is_https(scope) else ""))
        await send({"type": "http.response.start", "status": 303, "headers": [
            (b"location", location.encode("latin-1")),
            (b"set-cookie", cookie.encode("latin-1")),
            (b"content-length", b"0"),
            (b"cache-control", b"no-store"),
        ]})
        await send({"type": "http.response.body", "body": b""})
