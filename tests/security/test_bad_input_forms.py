"""Bad input on every form of the demo hub: each person (resident, staff, the hub's association,
a shop owner, the platform admin) walks the pages they can reach, and every POST form found is
sent with each field in turn malformed (empty, negative, text where a number goes, far too long,
control characters). None may fail on our side (5xx); a refusal says why on the page.

Then the forms that take money and stock are checked for what they keep: a refused product,
price or stock leaves nothing behind."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio

from services.demo import ADMIN, ASSOCIATION, PASSWORD, RESIDENT, SHOPS, STAFF
from services.host import EmbeddedHost
from tests.support.demo import seeded_demo_hub_id
from tests.support.forms import Form, form_to, forms_of
from tests.support.waiting import eventually

UUID_SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
LINK = re.compile(r'<a\b[^>]*\bhref="(/[^"#]*)"', re.IGNORECASE)
TEXTAREA = re.compile(r'<textarea\b[^>]*\bname="([^"]+)"', re.IGNORECASE)
FORM_BODY = re.compile(r"<form\b[^>]*>(.*?)</form>", re.IGNORECASE | re.DOTALL)
SHOP_OWNER = SHOPS[0][0]
PEOPLE = {"resident": RESIDENT[0], "staff": STAFF[0], "association": ASSOCIATION[0],
          "shop owner": SHOP_OWNER, "platform admin": ADMIN[0]}
MAX_PAGES_PER_PERSON = 60
# Not walked: leaving the session, switching language, files, the API and its docs.
NOT_WALKED = ("/logout", "/accounts/login?", "lang=", "/media/", ".csv", "/docs", "/api/", "/openapi.json")
MALFORMED = {
    "empty": "",
    "negative": "-1",
    "text for a number": "douze",
    "huge number": "9" * 40,
    "far too long": "x" * 20_000,
    "control characters": "a\x01\x7f\u202e",
    "a decimal comma": "4,5,6",
}
SAYS_WHY = re.compile(r'class="error"|role="alert"|<h1>', re.IGNORECASE)


@dataclass
class FoundForm:
    who: str
    page: str
    form: Form


@dataclass
class Walk:
    forms: dict[tuple, FoundForm] = field(default_factory=dict)
    pages: int = 0


def pattern_of(path: str) -> str:
    return UUID_SHAPE.sub("{id}", path)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def demo(tmp_path_factory) -> AsyncIterator[tuple[EmbeddedHost, str]]:
    host = EmbeddedHost(tmp_path_factory.mktemp("demo"), cookie_secure=False)
    async with host.root.router.lifespan_context(host.root):
        transport = httpx.ASGITransport(app=host)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as api:
            hub_id = await seeded_demo_hub_id(api)
        yield host, hub_id


async def signed_in(host: EmbeddedHost, email: str) -> httpx.AsyncClient:
    browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=host), base_url="http://hub.test",
                                headers={"Accept": "text/html"}, timeout=30)
    page = await browser.get("/accounts/login")
    login = form_to(page.text, "/accounts/login")
    login.fields.update(email=email, password=PASSWORD)
    answer = await browser.post(login.action, data=login.fields)
    assert answer.status_code == 303, answer.text
    return browser


def post_forms(html: str) -> list[Form]:
    """The page's POST forms, their text areas (which forms_of leaves out) and selects (their
    first option) among the fields."""
    forms = forms_of(html)
    for form, body in zip(forms, FORM_BODY.findall(html), strict=False):
        for name in TEXTAREA.findall(body):
            form.fields.setdefault(name, "")
        for name, options in form.options.items():
            form.fields.setdefault(name, options[0] if options else "")
    return [form for form in forms if form.method.lower() == "post"]


async def place_a_paid_order(browser: httpx.AsyncClient, hub_id: str) -> str:
    """A resident's order through the basket and the simulated payment, confirmed: the pages
    of its shop and of the desk then have forms of their own. Its id."""
    page = await browser.get(f"/orders/hubs/{hub_id}")
    basket = next(form for form in post_forms(page.text) if "/checkout" in form.action)
    first_product = next(name for name in basket.fields if name.startswith("qty-"))
    basket.fields[first_product] = "1"
    placed = await browser.post(basket.action, data=basket.fields)
    assert placed.status_code == 303, placed.text[:500]
    order_id = placed.headers["location"].rsplit("/", 1)[-1]
    pay_forms = []

    async def payable() -> bool:
        order_page = await browser.get(f"/orders/{order_id}")
        pay_link = re.search(r'href="(/payments/pay/[^"]+)"', order_page.text)
        pay_page = await browser.get(pay_link.group(1)) if pay_link else order_page
        pay_forms[:] = [form for form in forms_of(pay_page.text) if "/payments/pay/" in form.action
                        and any("Payer" in button for button in form.buttons)]
        return bool(pay_forms)

    await eventually(payable, timeout=30, interval=0.2, message="the order's payment")
    assert (await browser.post(pay_forms[0].action, data=pay_forms[0].fields)).status_code == 303

    async def confirmed() -> bool:
        page = await browser.get(f"/orders/{order_id}")
        return "/payments/pay/" not in page.text and page.status_code == 200

    await eventually(confirmed, timeout=30, interval=0.2, message="the order to be paid")
    return order_id


async def walk(browser: httpx.AsyncClient, who: str, starts: list[str], found: Walk) -> None:
    """Every page reachable from ``starts`` (one of each shape of address), and its forms."""
    seen: set[str] = set()
    queue = list(starts)
    while queue and len(seen) < MAX_PAGES_PER_PERSON:
        path = queue.pop(0)
        if pattern_of(path) in seen or any(part in path for part in NOT_WALKED):
            continue
        seen.add(pattern_of(path))
        page = await browser.get(path)
        if page.status_code != 200 or "text/html" not in page.headers.get("content-type", ""):
            continue
        found.pages += 1
        queue += [link for link in LINK.findall(page.text) if not link.startswith("//")]
        for form in post_forms(page.text):
            action = urlsplit(form.action).path or path
            if any(part in action for part in NOT_WALKED):
                continue
            key = (pattern_of(action), tuple(sorted(form.fields)))
            found.forms.setdefault(key, FoundForm(who, path, Form(action, "post", form.fields,
                                                                  form.options, form.buttons)))


def fuzzed_fields(form: Form) -> list[tuple[str, str, dict[str, str]]]:
    cases = []
    for name in form.fields:
        if name == "csrf_token":
            continue
        for how, value in MALFORMED.items():
            cases.append((name, how, {**form.fields, name: value}))
    cases.append(("every field", "missing", {"csrf_token": form.fields.get("csrf_token", "")}))
    return cases


@pytest.mark.asyncio(loop_scope="module")
async def test_every_form_refuses_malformed_fields_with_a_reason_and_never_fails(demo):
    host, hub_id = demo
    starts = ["/orders/hubs", f"/orders/hubs/{hub_id}", f"/pickup/hubs/{hub_id}", "/orders/mine",
              "/catalog/shops", "/pickup/desk", f"/pickup/desk/{hub_id}", "/accounts/preferences",
              f"/catalog/hubs/{hub_id}"]
    found = Walk()
    browsers = {who: await signed_in(host, email) for who, email in PEOPLE.items()}
    browsers["nobody"] = httpx.AsyncClient(transport=httpx.ASGITransport(app=host),
                                           base_url="http://hub.test", headers={"Accept": "text/html"})
    await browsers["nobody"].get("/accounts/login")  # its form token
    starts += ["/accounts/login", "/accounts/signup"]
    order_id = await place_a_paid_order(browsers["resident"], hub_id)
    starts += [f"/orders/{order_id}", f"/pickup/desk/{hub_id}/pickups/{order_id}"]
    for who, browser in browsers.items():
        await walk(browser, who, starts, found)

    failures, refused_silently, sent = [], [], 0
    for found_form in found.forms.values():
        browser = browsers[found_form.who]
        token = browser.cookies.get("adopte_csrf", "")
        for name, how, fields in fuzzed_fields(found_form.form):
            fields["csrf_token"] = token
            answer = await browser.post(found_form.form.action, data=fields)
            sent += 1
            where = f"{found_form.who}: {found_form.form.action} {name}={how}"
            if answer.status_code >= 500:
                failures.append(f"{where}: {answer.status_code}")
            elif 400 <= answer.status_code < 500 and not SAYS_WHY.search(answer.text):
                refused_silently.append(f"{where}: {answer.status_code} {answer.text[:120]}")
    for browser in browsers.values():
        await browser.aclose()

    print(f"\n{found.pages} pages walked, {len(found.forms)} forms, {sent} malformed posts")
    assert len(found.forms) >= 25, sorted(found.forms)
    assert failures == []
    assert refused_silently == []


# --- what the money and stock forms keep of bad input ----------------------------------------


GOOD_PRODUCT = {"name": "Kouign-amann", "description": "Au beurre demi-sel.", "category": "",
                "unit": "piece", "vat_rate_bps": "550", "label": "", "price": "3,80",
                "member_price": "", "stock": "12"}
BAD_PRODUCTS = {
    "negative price": {"price": "-3,80"},
    "price in words": {"price": "trois euros"},
    "price with too many decimals": {"price": "3,805"},
    "member price above the price": {"member_price": "4,00"},
    "negative stock": {"stock": "-1"},
    "stock in words": {"stock": "douze"},
    "fractional stock": {"stock": "1.5"},
    "name far too long": {"name": "K" * 201},
    "no name": {"name": "   "},
    "unknown VAT rate": {"vat_rate_bps": "1900"},
    "unknown unit": {"unit": "barrique"},
}


@pytest.fixture
async def catalog(tmp_path) -> AsyncIterator:
    from services.catalog.bootstrap import CatalogSettings
    from tests.services.catalog.support import running_catalog

    async with running_catalog(CatalogSettings(data_dir=tmp_path, outbox_relay=False)) as running:
        yield running


async def test_a_bad_product_form_says_why_keeps_what_was_typed_and_writes_nothing(catalog):
    hub_id = await catalog.open_hub()
    owner = await catalog.register("marie@fournil.test")
    shop = await catalog.open_shop(hub_id, owner)
    action = f"/catalog/shops/{shop['id']}/products"
    cookie = catalog.session_cookie(owner) | {"Accept": "text/html"}
    events_before = len(await catalog.events())
    wrong = []

    for how, change in BAD_PRODUCTS.items():
        answer = await catalog.client.post(action, headers=cookie, data={**GOOD_PRODUCT, **change})
        if not 400 <= answer.status_code < 500 or not SAYS_WHY.search(answer.text):
            wrong.append(f"{how}: {answer.status_code}")
        elif GOOD_PRODUCT["description"] not in answer.text:
            wrong.append(f"{how}: what was typed is lost")
    listed = await catalog.products(hub_id)
    events_after = len(await catalog.events())
    good = await catalog.client.post(action, headers=cookie, data=GOOD_PRODUCT)

    assert wrong == []
    assert listed == [] and events_after == events_before
    assert good.status_code == 303
    assert [product["name"] for product in await catalog.products(hub_id)] == ["Kouign-amann"]
