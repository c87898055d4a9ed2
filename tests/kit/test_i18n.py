"""French by default, English on request: the locale a request gets, the switch without
JavaScript, pages and formats in each language, and catalogs that leave nothing untranslated."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from libs.kit import i18n
from libs.kit.i18n import LocaleMiddleware, choose_locale, from_accept_language, use_locale
from libs.kit.i18n import gettext as _
from libs.kit.i18n_catalogs import DOMAINS, check
from libs.kit.months import Month
from libs.kit.pages import local_time, money
from services.catalog.bootstrap import CatalogSettings
from tests.services.catalog.support import running_catalog


def test_the_cookie_wins_then_accept_language_then_french():
    assert choose_locale("en", "fr-FR,fr;q=0.9") == "en"
    assert choose_locale("fr", "en") == "fr"
    assert choose_locale("de", "en-GB,en;q=0.9") == "en"
    assert choose_locale(None, None) == "fr"
    assert choose_locale(None, "de-DE,de;q=0.9") == "fr"


@pytest.mark.parametrize(("header", "chosen"), [
    ("en-GB,en;q=0.9,fr;q=0.8", "en"),
    ("fr;q=0.4, en;q=0.7", "en"),
    ("de, en;q=0.2, fr;q=0.1", "en"),
    ("en;q=0, fr;q=0.1", "fr"),
    ("EN-us", "en"),
    ("*", None),
    ("en;q=abc", None),
])
def test_accept_language_is_read_with_its_q_values(header, chosen):
    assert from_accept_language(header) == chosen


def _echo_app() -> FastAPI:
    app = FastAPI()

    @app.api_route("/here/{rest:path}", methods=["GET", "POST"])
    async def here(rest: str) -> PlainTextResponse:
        return PlainTextResponse(f"{i18n.current_locale()}|{_('Se connecter')}")

    app.add_middleware(LocaleMiddleware, domain="order")
    return app


@pytest.fixture
async def echo():
    transport = httpx.ASGITransport(app=_echo_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        yield client


async def test_a_request_speaks_the_locale_chosen_for_it(echo):
    assert (await echo.get("/here/x")).text == "fr|Se connecter"
    english = await echo.get("/here/x", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert english.text == "en|Sign in"
    assert english.headers["content-language"] == "en"
    cookie = await echo.get("/here/x", headers={"Accept-Language": "en",
                                                 "Cookie": "other=1; adopte_lang=fr"})
    assert cookie.text == "fr|Se connecter"
    assert i18n.current_locale() == "fr"  # nothing leaks out of the request


async def test_lang_in_the_query_sets_the_cookie_and_comes_back_without_it(echo):
    switched = await echo.get("/here/caf%C3%A9?q=pain+frais&lang=en&page=2")
    assert switched.status_code == 303
    assert switched.headers["location"] == "/here/caf%C3%A9?q=pain+frais&page=2"
    cookie = switched.headers["set-cookie"]
    assert cookie.startswith("adopte_lang=en;")
    for attribute in ("Max-Age=31536000", "Path=/", "SameSite=Lax", "HttpOnly"):
        assert attribute in cookie
    assert (await echo.get(switched.headers["location"])).text == "en|Sign in"

    back = await echo.get("/here/x?lang=fr")
    assert back.headers["location"] == "/here/x"
    assert (await echo.get("/here/x")).text == "fr|Se connecter"


async def test_only_a_get_with_a_known_language_switches(echo):
    posted = await echo.post("/here/x?lang=en")
    assert posted.status_code == 200
    assert posted.text == "fr|Se connecter"
    unknown = await echo.get("/here/x?lang=de")
    assert (unknown.status_code, unknown.text) == (200, "fr|Se connecter")


async def test_the_switch_never_sends_the_browser_to_another_site():
    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "//elsewhere.test/x",
             "raw_path": b"//elsewhere.test/x", "query_string": b"lang=en", "headers": []}
    await LocaleMiddleware(_echo_app())(scope, None, send)

    assert sent[0]["status"] == 303
    assert dict(sent[0]["headers"])[b"location"] == b"/elsewhere.test/x"


def test_the_language_links_keep_the_page_but_no_address_elsewhere():
    assert i18n.switch_url("/catalog/hubs/1", "q=pain&page=2&lang=fr", "en") == (
        "/catalog/hubs/1?q=pain&page=2&lang=en")
    assert i18n.switch_url("/accounts/login", "next=%2Forders%2Fmine", "en") == (
        "/accounts/login?next=%2Forders%2Fmine&lang=en")
    assert i18n.switch_url("/accounts/login", "next=%2F%2Fevil.example", "en") == (
        "/accounts/login?lang=en")


def test_money_dates_and_months_follow_the_locale():
    moment = datetime(2026, 3, 14, 16, 5, tzinfo=UTC)
    assert money(1250) == "12,50\xa0€"
    assert local_time(moment) == "samedi 14 mars 2026 à 17:05"
    assert Month(2026, 3).label == "mars 2026"
    with use_locale("en"):
        assert money(1250) == "€12.50"
        assert local_time(moment) == "Saturday 14 March 2026 at 17:05"
        assert Month(2026, 3).label == "March 2026"
    assert money(1250) == "12,50\xa0€"


def test_a_service_catalog_falls_back_on_the_shared_one():
    with use_locale("en", "order"):
        assert _("Se connecter") == "Sign in"
        assert _("Une phrase que personne n'a traduite") == "Une phrase que personne n'a traduite"
    with use_locale("fr", "order"):
        assert _("Se connecter") == "Se connecter"


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_message_has_its_english_translation(domain):
    assert check(domain) == []


@pytest.fixture
async def catalog(tmp_path):
    async with running_catalog(CatalogSettings(data_dir=tmp_path, outbox_relay=False)) as running:
        yield running


async def test_pages_speak_french_by_default_and_english_when_asked(catalog):
    hub_id = await catalog.open_hub("La Fabrique du Centre", "Lannion")
    owner = await catalog.register("anne@fromagerie.test")
    shop = await catalog.open_shop(hub_id, owner, "Fromagerie du Port")
    await catalog.list_product(shop, owner, "Fromage de chèvre")
    hub_page = f"/catalog/hubs/{hub_id}"

    french = (await catalog.client.get(hub_page)).text
    assert '<html lang="fr">' in french and "Nouveautés en stock" in french
    assert '<a href="/catalog/hubs/' in french and 'aria-current="true">Français</a>' in french
    assert "4,50\xa0€" in french

    switched = await catalog.client.get(hub_page, params={"lang": "en"})
    assert switched.status_code == 303 and switched.headers["location"] == hub_page
    catalog.client.cookies.set("adopte_lang", "en")
    english = (await catalog.client.get(hub_page)).text
    assert '<html lang="en">' in english and "New in stock" in english
    assert "Nouveautés" not in english and "Community hubs" in english
    assert "€4.50" in english and 'aria-current="true">English</a>' in english

    profile = await catalog.client.get(f"/catalog/shops/{shop['id']}/profile",
                                       headers=catalog.headers(owner))
    assert "Log of changes" in profile.text
    assert re.search(r"<time [^>]*>\w+day \d{1,2} \w+ \d{4} at \d\d:\d\d</time>", profile.text)


async def test_a_refusal_page_says_no_in_the_language_chosen(catalog):
    owner = await catalog.register("anne@fromagerie.test")
    missing = await catalog.client.get(f"/catalog/shops/{uuid4()}", headers={
        **catalog.headers(owner), "Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"})
    assert missing.status_code == 404
    assert "<h1>Not found</h1>" in missing.text
    assert "This page does not exist (or no longer does)." in missing.text
