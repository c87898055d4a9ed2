"""The pages of every service make one site: it starts at the hubs, every page has the same
navigation (with the person signed in), and every service sends the signed-out to the same
sign-in page and back."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from starlette.requests import Request

from libs.auth.tokens import Principal, TokenIssuer, ensure_keypair
from libs.kit.pages import sign_in_redirect, sign_in_url
from services.host import EmbeddedHost
from tests.support.waiting import eventually

HUB = {"name": "Le Grenier Partagé", "town": "Paimpol", "address": "3 place du Martray"}
ADMIN = Principal(uuid.uuid4(), "admin@adopte.test", "Alex Admin",
                  frozenset({"platform_admin", "resident"}))


@pytest.fixture
async def site(tmp_path):
    host = EmbeddedHost(tmp_path, seed_demo=False)
    private_key, _ = ensure_keypair(tmp_path / "keys")
    token = TokenIssuer(private_key.read_text()).issue(ADMIN)
    async with host.root.router.lifespan_context(host.root):
        transport = httpx.ASGITransport(app=host)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            yield client, token


def request_for(path: str, query: str = "") -> Request:
    return Request({"type": "http", "method": "GET", "path": path, "query_string": query.encode(),
                    "headers": [], "scheme": "http", "server": ("hub", 80)})


def test_the_sign_in_redirect_comes_back_to_the_page_asked_for():
    asked = sign_in_redirect(request_for("/pickup/desk/42", "date=2030-01-02&x=a%20b"))
    assert asked.status_code == 303
    assert asked.headers["location"] == (
        "/accounts/login?next=%2Fpickup%2Fdesk%2F42%3Fdate%3D2030-01-02%26x%3Da%2520b")

    form_page = sign_in_redirect(request_for("/catalog/shops/7/products"), "/catalog/shops/7")
    assert form_page.headers["location"] == "/accounts/login?next=%2Fcatalog%2Fshops%2F7"
    assert sign_in_url("/orders/mine") == "/accounts/login?next=%2Forders%2Fmine"


async def test_the_site_starts_at_the_hubs_and_keeps_the_api_docs_at_hand(site):
    client, _ = site
    root = await client.get("/")
    assert root.status_code == 303
    assert root.headers["location"] == "/orders/hubs"

    opened = await client.post("/pickup/api/v1/hubs", json=HUB,
                               headers={"Authorization": f"Bearer {site[1]}"})
    assert opened.status_code == 201, opened.text
    hub_id = opened.json()["id"]

    async def listed() -> bool:
        return HUB["name"] in (await client.get("/orders/hubs")).text

    await eventually(listed, message="the hub on the hubs page")
    page = (await client.get("/", follow_redirects=True)).text
    assert f'href="/orders/hubs/{hub_id}"' in page and "Paimpol" in page
    basket = await client.get(f"/orders/hubs/{hub_id}")
    assert basket.status_code == 200 and "Commander à Le Grenier Partagé" in basket.text
    for prefix in ("/accounts", "/catalog", "/orders", "/payments", "/pickup"):
        assert f'href="{prefix}/docs"' in page
        assert (await client.get(f"{prefix}/docs")).status_code == 200


NAVIGATION = ('href="/orders/hubs"', 'href="/orders/mine"', 'href="/catalog/shops"',
              'href="/pickup/desk"')


@pytest.mark.parametrize("path", [
    "/accounts/login", "/catalog/shops", f"/catalog/shops/{uuid.uuid4()}", "/orders/hubs",
    "/orders/mine", f"/orders/{uuid.uuid4()}", f"/payments/pay/{uuid.uuid4()}", "/pickup/desk",
    f"/pickup/desk/{uuid.uuid4()}",
])
async def test_every_page_has_the_navigation_and_knows_who_is_signed_in(site, path):
    client, token = site
    page = await client.get(path, headers={"Cookie": f"adopte_session={token}"})

    assert page.status_code in (200, 403, 404)
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<nav aria-label="Navigation principale">' in html
    assert all(link in html for link in NAVIGATION), path
    assert "Alex Admin" in html and "Se déconnecter" in html
    if path in ("/catalog/shops", "/orders/hubs", "/orders/mine", "/pickup/desk"):
        assert re.search(rf'href="{path}" aria-current="page"', html)


@pytest.mark.parametrize("path", [
    "/catalog/shops", f"/catalog/shops/{uuid.uuid4()}", "/orders/mine", f"/orders/{uuid.uuid4()}",
    f"/orders/shops/{uuid.uuid4()}", f"/payments/pay/{uuid.uuid4()}", "/pickup/desk",
])
async def test_every_service_sends_the_signed_out_to_the_same_sign_in(site, path):
    client, _ = site
    for headers in ({}, {"Cookie": "adopte_session=stale"}):
        page = await client.get(path, headers=headers)
        assert page.status_code == 303
        assert page.headers["location"] == sign_in_url(path)


async def test_the_signed_out_see_only_the_hubs_and_sign_in(site):
    client, _ = site
    html = (await client.get("/orders/hubs")).text
    assert 'href="/orders/hubs" aria-current="page"' in html
    assert 'href="/orders/mine"' not in html and 'href="/pickup/desk"' not in html
    assert 'href="/accounts/login?next=%2Forders%2Fhubs"' in html
