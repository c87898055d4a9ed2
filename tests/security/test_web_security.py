"""The web's defences across the whole hub (the embedded host, every service in it): every route
that changes something refuses a form post without its token, the cookies are out of scripts'
and other sites' reach, every response carries the security headers, and passwords are hashed
with argon2id at no less than OWASP's parameters.

The routes are read from the apps themselves, so a form added tomorrow is checked too."""

from __future__ import annotations

import json
import re
from http.cookies import SimpleCookie
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
import pytest_asyncio
from argon2 import extract_parameters
from argon2.low_level import Type
from fastapi.routing import iter_route_contexts
from sqlalchemy import func, select

from libs.kit.csrf import COOKIE as CSRF_COOKIE
from libs.kit.csrf import HEADER as CSRF_HEADER
from libs.kit.csrf import UNSAFE_METHODS, new_token
from libs.kit.http import MAX_JSON_BYTES
from libs.kit.i18n import COOKIE as LANGUAGE_COOKIE
from services.accounts import use_cases as accounts_use_cases
from services.accounts.domain import PLATFORM_ADMIN, Registration, granted_roles, hash_password
from services.accounts.tables import User
from services.gateway import Gateway
from services.host import EmbeddedHost
from tests.support.forms import form_to

REPO = Path(__file__).resolve().parents[2]
ADMIN_EMAIL, PASSWORD = "admin@hub.test", "correct horse battery staple"
SESSION_COOKIE = "adopte_session"
# OWASP's floor for argon2id (Password Storage Cheat Sheet): 19 MiB, 2 passes, 1 lane.
MIN_MEMORY_KIB, MIN_TIME_COST, MIN_PARALLELISM = 19 * 1024, 2, 1
PATH_PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")


# The tests share one hub, started on the module's event loop.
in_the_hubs_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def host(tmp_path_factory):
    """The whole hub on SQLite, with a platform admin; shared by the tests, which change
    nothing in it but their own browser's cookies."""
    host = EmbeddedHost(tmp_path_factory.mktemp("hub"), seed_demo=False, cookie_secure=False)
    async with host.root.router.lifespan_context(host.root):
        accounts = host.runtime("accounts")
        await accounts_use_cases.open_account(
            accounts.unit_of_work, Registration(email=ADMIN_EMAIL, password=PASSWORD, name="Admin"),
            granted_roles(PLATFORM_ADMIN))
        yield host


@pytest_asyncio.fixture(loop_scope="module")
async def hub(host):
    """The hub, and a browser of its own reaching it over HTTPS."""
    transport = httpx.ASGITransport(app=host)
    async with httpx.AsyncClient(transport=transport, base_url="https://hub.test") as browser:
        yield host, browser


async def sign_in(browser: httpx.AsyncClient) -> httpx.Response:
    page = await browser.get("/accounts/login")
    login = form_to(page.text, "/accounts/login")
    login.fields.update(email=ADMIN_EMAIL, password=PASSWORD)
    return await browser.post(login.action, data=login.fields)


def set_cookies(response: httpx.Response) -> dict[str, SimpleCookie]:
    cookies = {}
    for header in response.headers.get_list("set-cookie"):
        parsed = SimpleCookie(header)
        cookies.update({name: parsed[name] for name in parsed})
    return cookies


def routes_of(host: EmbeddedHost, methods: set[str]) -> list[tuple[str, str]]:
    """(method, path with made-up ids) of every route of every service answering ``methods``."""
    found = []
    for prefix, app in host.apps:
        for route in iter_route_contexts(app.routes):
            if not route.path.startswith(prefix + "/"):
                continue  # not the service's to answer in the host
            path = PATH_PARAMETER.sub(lambda match: str(uuid4()), route.path)
            found += [(method, path) for method in sorted((route.methods or set()) & methods)]
    return found


async def row_counts(host: EmbeddedHost) -> dict[str, int]:
    counts = {}
    for runtime in host.runtimes:
        async with runtime.database.sessions() as session:
            for name, table in runtime.definition.metadata.tables.items():
                counted = await session.execute(select(func.count()).select_from(table))
                counts[f"{runtime.definition.name}.{name}"] = counted.scalar_one()
    return counts


# --- CSRF ----------------------------------------------------------------------------------


@in_the_hubs_loop
async def test_every_route_that_changes_something_refuses_a_form_without_its_token(hub):
    host, browser = hub
    assert (await sign_in(browser)).status_code == 303
    session = browser.cookies[SESSION_COOKIE]
    unsafe = routes_of(host, set(UNSAFE_METHODS))
    before = await row_counts(host)
    let_through = []

    for method, path in unsafe:
        token_cookie = {CSRF_COOKIE: new_token()}
        forged = {
            # Another site's form: the browser sends both cookies along, but the page could not
            # read the token to put it in the form.
            "no field": (token_cookie, dict(data={"name": "x"})),
            "wrong field": (token_cookie, dict(data={"csrf_token": new_token()})),
            "no cookie": ({}, dict(headers={CSRF_HEADER: new_token()})),
            "multipart": (token_cookie, dict(files={"file": ("x.csv", b"sku;produit\n")})),
        }
        for how, (cookies, request) in forged.items():
            browser.cookies.clear()
            for name, value in {SESSION_COOKIE: session, **cookies}.items():
                browser.cookies.set(name, value)
            answer = await browser.request(method, path, **request)
            if answer.status_code != 403 or answer.json()["error"]["code"] != "csrf_failed":
                let_through.append(f"{method} {path} ({how}): {answer.status_code}")

    assert len(unsafe) >= 90, unsafe
    assert let_through == []
    assert await row_counts(host) == before


@in_the_hubs_loop
async def test_a_browser_refused_for_its_token_gets_a_page_saying_so(hub):
    host, browser = hub
    [(method, path), *_] = [(m, p) for m, p in routes_of(host, {"POST"}) if "/api/" not in p]

    refused = await browser.request(method, path, data={"csrf_token": new_token()},
                                    headers={"Accept": "text/html"})

    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "Le formulaire a expiré" in refused.text


@in_the_hubs_loop
async def test_the_same_forms_go_through_with_their_token(hub):
    _, browser = hub

    signed_in = await sign_in(browser)
    signed_out = await browser.post("/accounts/logout",
                                    headers={CSRF_HEADER: browser.cookies[CSRF_COOKIE]})

    assert signed_in.status_code == 303, signed_in.text
    assert signed_out.status_code == 303


# --- cookies -------------------------------------------------------------------------------


@in_the_hubs_loop
async def test_every_cookie_is_httponly_samesite_and_secure_over_https(hub):
    _, browser = hub

    page = await browser.get("/accounts/login")
    signed_in = await sign_in(browser)
    switched = await browser.get("/orders/hubs?lang=en")

    cookies = set_cookies(page) | set_cookies(signed_in) | set_cookies(switched)
    assert set(cookies) == {CSRF_COOKIE, SESSION_COOKIE, LANGUAGE_COOKIE}
    for name, cookie in cookies.items():
        assert cookie["httponly"] is True, name
        assert cookie["secure"] is True, name
        assert cookie["samesite"].lower() == "lax", name
        assert cookie["path"] == "/", name


# --- security headers ----------------------------------------------------------------------


def assert_guarded(response: httpx.Response, what: str) -> None:
    headers = response.headers
    policy = headers.get("content-security-policy", "")
    directives = dict((part.strip().split(" ", 1) + [""])[:2] for part in policy.split(";"))
    assert directives.get("frame-ancestors") == "'none'", what
    assert directives.get("object-src") == "'none'", what
    assert directives.get("base-uri") == "'none'", what
    assert "'unsafe-inline'" not in directives.get("script-src", "'unsafe-inline'"), what
    assert headers.get("x-content-type-options") == "nosniff", what
    assert headers.get("x-frame-options") == "DENY", what
    assert headers.get("referrer-policy") == "same-origin", what
    assert "camera=()" in headers.get("permissions-policy", ""), what
    assert headers.get("strict-transport-security", "").startswith("max-age="), what


@in_the_hubs_loop
async def test_every_response_carries_the_security_headers(hub):
    host, browser = hub
    await sign_in(browser)
    answers = {f"GET {path}": await browser.get(path) for _, path in routes_of(host, {"GET"})
               if not path.endswith("/docs")}
    answers |= {
        "the host's home": await browser.get("/"),
        "the host's health": await browser.get("/healthz"),
        "an unknown page": await browser.get("/catalog/nowhere"),
        "a refused form": await browser.post("/accounts/logout"),
        "a bad JSON body": await browser.post("/accounts/api/v1/users", json={"email": 3}),
        "a language switch": await browser.get("/orders/hubs?lang=fr"),
    }

    for what, answer in answers.items():
        assert answer.status_code < 500, f"{what}: {answer.status_code} {answer.text[:200]}"
        assert_guarded(answer, what)
    assert len(answers) >= 60


@in_the_hubs_loop
async def test_a_json_body_over_a_mebibyte_is_refused_whether_announced_or_streamed(hub):
    host, browser = hub
    before = await row_counts(host)
    padding = "x" * MAX_JSON_BYTES
    body = json.dumps({"email": "lourd@hub.test", "password": PASSWORD, "name": padding}).encode()

    async def streamed():
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    announced = await browser.post("/accounts/api/v1/users", content=body,
                                   headers={"content-type": "application/json"})
    unannounced = await browser.post("/accounts/api/v1/users", content=streamed(),
                                     headers={"content-type": "application/json"})
    light = await browser.post("/accounts/api/v1/users", json={"email": "leger@hub.test",
                                                               "password": PASSWORD, "name": "x" * 300})

    for refused in (announced, unannounced):
        assert refused.status_code == 413, refused.text
        assert refused.json()["error"]["code"] == "payload_too_large"
        assert "1024 KiB" in refused.json()["error"]["message"]
    assert light.status_code == 422  # under the cap, the body is read and judged as usual
    assert await row_counts(host) == before


@in_the_hubs_loop
async def test_the_api_docs_may_load_swagger_ui_and_nothing_else_may(hub):
    _, browser = hub

    docs = await browser.get("/catalog/docs")
    page = await browser.get("/accounts/login")

    assert docs.status_code == 200
    assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    assert "cdn.jsdelivr.net" not in page.headers["content-security-policy"]


@in_the_hubs_loop
async def test_over_plain_http_the_session_cookie_is_secure_as_configured_and_no_hsts(tmp_path):
    host = EmbeddedHost(tmp_path, seed_demo=False)  # cookie_secure, as in production
    async with host.root.router.lifespan_context(host.root):
        await accounts_use_cases.open_account(
            host.runtime("accounts").unit_of_work,
            Registration(email=ADMIN_EMAIL, password=PASSWORD, name="Admin"), ["resident"])
        transport = httpx.ASGITransport(app=host)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as browser:
            signed_in = await sign_in(browser)

    session = set_cookies(signed_in)[SESSION_COOKIE]
    assert session["secure"] is True and session["httponly"] is True
    assert "strict-transport-security" not in signed_in.headers
    assert "content-security-policy" in signed_in.headers


async def test_the_gateways_own_answers_carry_them_too():
    gateway = Gateway({"/accounts": "http://accounts.invalid"})
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="https://hub.test") as browser:
        answers = {"home": await browser.get("/"), "health": await browser.get("/healthz"),
                   "unknown": await browser.get("/nowhere")}

    for what, answer in answers.items():
        assert_guarded(answer, what)


INLINE_SCRIPT = re.compile(r"<script\b|\son[a-z]+\s*=|javascript:", re.IGNORECASE)


def test_no_template_needs_what_the_policy_forbids():
    """The policy allows no inline script: no template may have one, nor an inline handler."""
    templates = [path for folder in ("services", "libs") for path in (REPO / folder).rglob("*.html")]
    offending = [f"{path.relative_to(REPO)}: {match.group(0)}" for path in templates
                 for match in INLINE_SCRIPT.finditer(path.read_text(encoding="utf-8"))]

    assert len(templates) >= 40
    assert offending == []


# --- passwords -----------------------------------------------------------------------------


def assert_strong_argon2id(encoded: str) -> None:
    parameters = extract_parameters(encoded)
    assert parameters.type is Type.ID
    assert parameters.memory_cost >= MIN_MEMORY_KIB
    assert parameters.time_cost >= MIN_TIME_COST
    assert parameters.parallelism >= MIN_PARALLELISM
    assert parameters.salt_len >= 16 and parameters.hash_len >= 32


def test_passwords_are_hashed_with_argon2id_at_owasps_parameters_or_more():
    assert_strong_argon2id(hash_password("correct horse battery staple"))


@in_the_hubs_loop
async def test_the_stored_hash_of_an_account_is_argon2id_at_those_parameters(hub):
    host, _ = hub
    async with host.runtime("accounts").database.sessions() as session:
        [stored] = (await session.execute(select(User.password_hash))).scalars().all()

    assert_strong_argon2id(stored)
