"""Form posts carry the browser's form token or are refused: what passes, what does not, the page
and the JSON that say no, the cookie and the hidden field, and every POST form of every template."""

from __future__ import annotations

import hashlib
import re
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Form, Request, UploadFile

from libs.kit.csrf import COOKIE, HEADER, CsrfMiddleware, new_token
from libs.kit.errors import install_error_handlers
from services.accounts.bootstrap import AccountsSettings
from services.accounts.main import create_app as create_accounts_app
from services.gateway import Gateway
from services.host import EmbeddedHost
from tests.services.accounts.conftest import PASSWORD
from tests.support.forms import form_to

REPO = Path(__file__).resolve().parents[2]
HEAVIEST_BODY = 64 * 1024


def _guarded_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/form")
    async def form(name: str = Form("")) -> dict:
        return {"name": name}

    @app.post("/upload")
    async def upload(file: UploadFile, caption: str = Form("")) -> dict:
        content = await file.read()
        return {"caption": caption, "filename": file.filename,
                "sha256": hashlib.sha256(content).hexdigest()}

    @app.post("/api/notes")
    async def notes(request: Request) -> dict:
        return {"received": await request.json()}

    @app.post("/empty")
    async def empty() -> dict:
        return {"done": True}

    @app.get("/page")
    async def page() -> dict:
        return {"shown": True}

    app.add_middleware(CsrfMiddleware, max_body_bytes=HEAVIEST_BODY)
    return app


@pytest.fixture
async def site():
    transport = httpx.ASGITransport(app=_guarded_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        yield client


@pytest.fixture
def token(site) -> str:
    """The token the browser holds in its cookie."""
    value = new_token()
    site.cookies.set(COOKIE, value)
    return value


def set_cookies(response: httpx.Response) -> dict[str, SimpleCookie]:
    cookies = {}
    for header in response.headers.get_list("set-cookie"):
        parsed = SimpleCookie(header)
        cookies.update({name: parsed for name in parsed})
    return cookies


async def test_a_form_post_without_a_token_is_refused_with_a_json_error(site):
    refused = await site.post("/form", data={"name": "Alice"})

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    # The refusal hands the browser a token, so the reloaded form goes through.
    assert COOKIE in set_cookies(refused)


async def test_a_browser_gets_a_french_page_back_to_the_form(site, token):
    refused = await site.post("/form", data={"name": "Alice"}, headers={
        "Accept": "text/html,application/xhtml+xml", "Referer": "http://hub.test/compte?onglet=2"})

    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "<h1>Le formulaire a expiré</h1>" in refused.text
    assert "Rechargez la page" in refused.text
    assert '<a href="/compte?onglet=2">Revenir au formulaire</a>' in refused.text


async def test_the_page_that_says_no_links_back_to_our_pages_only(site, token):
    refused = await site.post("/form", data={"name": "Alice"}, headers={
        "Accept": "text/html", "Referer": "https://evil.example/compte"})

    assert refused.status_code == 403
    assert "evil.example" not in refused.text and "Revenir au formulaire" not in refused.text


async def test_a_wrong_token_is_refused(site, token):
    refused = await site.post("/form", data={"name": "Alice", "csrf_token": "x" * 43})

    assert refused.status_code == 403


async def test_the_token_of_another_browser_is_refused(site, token):
    refused = await site.post("/form", data={"name": "Alice", "csrf_token": new_token()})

    assert refused.status_code == 403


async def test_the_token_of_the_cookie_in_the_field_passes_and_the_form_arrives_whole(site, token):
    sent = await site.post("/form", data={"csrf_token": token, "name": "Chloé & Zoé = 2"})

    assert sent.status_code == 200, sent.text
    assert sent.json() == {"name": "Chloé & Zoé = 2"}


async def test_the_token_may_come_as_a_header(site, token):
    sent = await site.post("/form", data={"name": "Alice"}, headers={HEADER: token})

    assert sent.status_code == 200 and sent.json() == {"name": "Alice"}


async def test_an_upload_with_its_token_arrives_intact(site, token):
    photo = bytes(range(256)) * 200

    sent = await site.post("/upload", data={"csrf_token": token, "caption": "vitrine"},
                           files={"file": ("vitrine.jpg", photo, "image/jpeg")})

    assert sent.status_code == 200, sent.text
    assert sent.json() == {"caption": "vitrine", "filename": "vitrine.jpg",
                           "sha256": hashlib.sha256(photo).hexdigest()}


async def test_an_upload_without_its_token_is_refused(site, token):
    refused = await site.post("/upload", data={"caption": "vitrine"},
                              files={"file": ("vitrine.jpg", b"\xff\xd8", "image/jpeg")})

    assert refused.status_code == 403


async def test_a_form_heavier_than_the_cap_is_refused_before_it_is_read(site, token):
    refused = await site.post("/upload", data={"csrf_token": token},
                              files={"file": ("big.bin", b"0" * (HEAVIEST_BODY + 1))})

    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "payload_too_large"


async def test_json_posts_and_bearer_callers_are_not_form_posts(site):
    as_json = await site.post("/api/notes", json={"text": "bonjour"})
    webhook = await site.post("/api/notes", content=b'{"type": "payment_intent.succeeded"}',
                              headers={"Content-Type": "application/json; charset=utf-8",
                                       "Stripe-Signature": "t=1,v1=abc"})
    with_bearer = await site.post("/form", data={"name": "Alice"},
                                  headers={"Authorization": "Bearer some.jwt.token"})

    assert as_json.status_code == 200 and as_json.json() == {"received": {"text": "bonjour"}}
    assert webhook.status_code == 200
    assert with_bearer.status_code == 200 and with_bearer.json() == {"name": "Alice"}


async def test_basic_credentials_are_what_a_browser_sends_by_itself(site):
    refused = await site.post("/form", data={"name": "Alice"},
                              headers={"Authorization": "Basic YWxpY2U6c2VjcmV0"})

    assert refused.status_code == 403


@pytest.mark.parametrize("content_type", ["text/plain", None])
async def test_bodies_a_form_or_a_no_cors_fetch_can_send_need_the_token(site, token,
                                                                        content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    body = f"csrf_token={token}".encode() if content_type else b""

    refused = await site.post("/empty", content=body, headers=headers)
    sent = await site.post("/empty", content=body, headers={**headers, HEADER: token})

    assert refused.status_code == 403
    assert sent.status_code == 200


async def test_a_form_sent_from_another_site_is_refused_even_with_the_token(site, token):
    cross_site = await site.post("/form", data={"csrf_token": token, "name": "Alice"},
                                 headers={"Sec-Fetch-Site": "cross-site"})
    same_origin = await site.post("/form", data={"csrf_token": token, "name": "Alice"},
                                  headers={"Sec-Fetch-Site": "same-origin"})

    assert cross_site.status_code == 403
    assert same_origin.status_code == 200


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_every_unsafe_method_is_checked(site, token, method):
    refused = await site.request(method, "/empty", content=b"")

    assert refused.status_code == 403


async def test_the_first_visit_gets_a_token_cookie_only_readable_by_the_server(site):
    first = await site.get("/page")
    again = await site.get("/page")

    cookie = set_cookies(first)[COOKIE][COOKIE]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", cookie.value)
    assert cookie["httponly"] is True and cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/" and not cookie["secure"]
    assert COOKIE not in set_cookies(again)


@pytest.mark.parametrize(("base_url", "headers"), [
    ("https://hub.test", {}),
    ("http://hub.test", {"X-Forwarded-Proto": "https"}),
])
async def test_the_token_cookie_is_secure_over_https(base_url, headers):
    transport = httpx.ASGITransport(app=_guarded_app())
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        first = await client.get("/page", headers=headers)

    assert set_cookies(first)[COOKIE][COOKIE]["secure"] is True


async def test_a_cookie_that_is_no_token_is_replaced(site):
    site.cookies.set(COOKIE, "short")

    visit = await site.get("/page")
    refused = await site.post("/form", data={"csrf_token": "short"}, headers={HEADER: "short"})

    assert set_cookies(visit)[COOKIE][COOKIE].value != "short"
    assert refused.status_code == 403


@pytest.fixture
async def accounts_page(tmp_path):
    """The accounts service as a browser meets it: no token given in advance."""
    app = create_accounts_app(AccountsSettings(data_dir=tmp_path, bus="embedded",
                                               database_url=None, cookie_secure=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://hub.test") as browser:
            created = await browser.post("/accounts/api/v1/users", json={
                "email": "alice@example.org", "password": PASSWORD, "name": "Alice"})
            assert created.status_code == 201, created.text
            browser.cookies.clear()
            yield browser


async def test_the_first_page_carries_the_token_of_the_cookie_it_sets(accounts_page):
    page = await accounts_page.get("/accounts/login")

    login = form_to(page.text, "/accounts/login")
    assert login.fields["csrf_token"] == set_cookies(page)[COOKIE][COOKIE].value
    login.fields.update(email="alice@example.org", password=PASSWORD)
    signed_in = await accounts_page.post(login.action, data=login.fields)
    assert signed_in.status_code == 303, signed_in.text


async def test_a_page_form_without_its_hidden_field_says_it_expired(accounts_page):
    page = await accounts_page.get("/accounts/login")

    login = form_to(page.text, "/accounts/login")
    del login.fields["csrf_token"]
    login.fields.update(email="alice@example.org", password=PASSWORD)
    refused = await accounts_page.post(login.action, data=login.fields,
                                       headers={"Accept": "text/html"})
    assert refused.status_code == 403
    assert "Le formulaire a expiré" in refused.text
    assert "adopte_session" not in refused.headers.get("set-cookie", "")


async def test_the_session_cookie_is_secure_over_https_even_where_not_configured(accounts_page):
    page = await accounts_page.get("/accounts/login")
    login = form_to(page.text, "/accounts/login")
    login.fields.update(email="alice@example.org", password=PASSWORD)

    signed_in = await accounts_page.post(login.action, data=login.fields)

    session = set_cookies(signed_in)["adopte_session"]["adopte_session"]
    assert session["secure"] is True and session["httponly"] is True
    assert session["samesite"].lower() == "lax" and session["path"] == "/"


async def _sign_in_through(browser: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
    """(the sign-in page, the answer to its form filled in) as a browser gets them."""
    page = await browser.get("/accounts/login")
    login = form_to(page.text, "/accounts/login")
    login.fields.update(email="alice@example.org", password=PASSWORD)
    return page, await browser.post(login.action, data=login.fields)


async def test_the_embedded_host_guards_each_form_once(tmp_path):
    host = EmbeddedHost(tmp_path, seed_demo=False, cookie_secure=False)
    async with host.root.router.lifespan_context(host.root):
        transport = httpx.ASGITransport(app=host)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as browser:
            created = await browser.post("/accounts/api/v1/users", json={
                "email": "alice@example.org", "password": PASSWORD, "name": "Alice"})
            assert created.status_code == 201, created.text
            browser.cookies.clear()
            page, signed_in = await _sign_in_through(browser)
            forged = await browser.post("/orders/hubs/x/checkout", data={"slot_id": "x"})

    assert forged.status_code == 403
    token_cookies = [h for h in page.headers.get_list("set-cookie") if h.startswith(f"{COOKIE}=")]
    assert len(token_cookies) == 1
    assert signed_in.status_code == 303, signed_in.text


async def test_behind_the_gateway_over_https_both_cookies_are_secure(tmp_path):
    app = create_accounts_app(AccountsSettings(data_dir=tmp_path, bus="embedded",
                                               database_url=None, cookie_secure=False))
    gateway = Gateway({"/accounts": "http://accounts"}, transport=httpx.ASGITransport(app=app))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=gateway)
        async with httpx.AsyncClient(transport=transport, base_url="https://hub.test") as browser:
            created = await browser.post("/accounts/api/v1/users", json={
                "email": "alice@example.org", "password": PASSWORD, "name": "Alice"})
            assert created.status_code == 201, created.text
            browser.cookies.clear()
            page, signed_in = await _sign_in_through(browser)
            forged = await browser.post("/accounts/logout")
    await gateway.client.aclose()

    assert forged.status_code == 403
    assert set_cookies(page)[COOKIE][COOKIE]["secure"] is True
    assert signed_in.status_code == 303, signed_in.text
    assert set_cookies(signed_in)["adopte_session"]["adopte_session"]["secure"] is True


POST_FORM = re.compile(r"<form\b[^>]*\bmethod\s*=\s*[\"']?post\b[^>]*>(?P<inside>.*?)</form>",
                       re.IGNORECASE | re.DOTALL)


def _templates() -> list[Path]:
    return sorted(path for folder in ("services", "libs") for path in (REPO / folder).rglob("*.html")
                  if ".venv" not in path.parts)


def test_every_post_form_of_every_template_carries_the_token():
    forgetful = [f"{path.relative_to(REPO)}: {form.group(0)[:80]}..."
                 for path in _templates()
                 for form in POST_FORM.finditer(path.read_text(encoding="utf-8"))
                 if "{{ csrf_field() }}" not in form.group("inside")]
    post_forms = sum(len(POST_FORM.findall(path.read_text(encoding="utf-8")))
                     for path in _templates())

    assert post_forms >= 39
    assert forgetful == []
