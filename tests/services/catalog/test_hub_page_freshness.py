"""A hub's page is kept rendered while its hub does not change: every write to what it shows,
through any use case or event, shows on the very next request, on SQLite and PostgreSQL alike;
and what is kept is the same for everybody, the signed-in visitor's name and form token aside."""

from __future__ import annotations

import re
from html import unescape
from uuid import uuid4

import pytest
from prometheus_client import REGISTRY

from libs.auth.tokens import Principal
from libs.kit import csrf
from services.catalog.storefront import freshness, listings
from services.catalog.storefront import pages as public_pages
from tests.services.catalog.support import order_placed
from tests.services.catalog.test_photos import jpeg

ADMIN = Principal(user_id=uuid4(), email="root@adopte.test", name="Root",
                  roles=frozenset({"platform_admin"}))


@pytest.fixture
async def hub(catalog_on_each_database):
    catalog = catalog_on_each_database
    hub_id = await catalog.open_hub("La Fabrique du Centre", "Lannion")
    owner = await catalog.register("marie@fournil.test")
    shop = await catalog.open_shop(hub_id, owner, "Boulangerie Le Fournil")
    bread = await catalog.list_product(shop, owner, "Pain de campagne", price_cents=450, stock=2)
    return catalog, hub_id, shop, owner, bread


async def _page(catalog, hub_id, **params) -> str:
    page = await catalog.client.get(f"/catalog/hubs/{hub_id}", params=params)
    assert page.status_code == 200, page.text
    return unescape(page.text)


def _products_on(html: str) -> list[str]:
    return re.findall(r'<h3 id="product-[^"]+"[^>]*>([^<]+)</h3>', html)


def _hub_ids_passed_to(monkeypatch, module, name: str) -> list:
    """Each call of ``module.name`` from now on, by the hub id it was given (its third argument)."""
    calls = []
    original = getattr(module, name)

    async def counted(*args, **kwargs):
        calls.append(args[2])
        return await original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


async def _ok(answer) -> dict:
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


async def test_a_new_price_shows_at_once(hub):
    catalog, hub_id, _, owner, bread = hub
    assert "4,50\u00a0€" in await _page(catalog, hub_id)
    assert "4,50\u00a0€" in await _page(catalog, hub_id, q="pain")

    await _ok(await catalog.client.patch(f"/catalog/api/v1/variants/{bread['variants'][0]['id']}",
                                         headers=catalog.headers(owner), json={"price_cents": 520}))

    assert "5,20\u00a0€" in await _page(catalog, hub_id)
    assert "5,20\u00a0€" in await _page(catalog, hub_id, q="pain")


async def test_a_new_product_shows_at_once(hub):
    catalog, hub_id, shop, owner, _ = hub
    assert _products_on(await _page(catalog, hub_id)) == ["Pain de campagne"]

    await catalog.list_product(shop, owner, "Brioche au beurre", stock=3)

    assert _products_on(await _page(catalog, hub_id)) == ["Brioche au beurre", "Pain de campagne"]


async def test_stock_by_hand_that_runs_out_or_comes_back_shows_at_once(hub):
    catalog, hub_id, _, owner, bread = hub
    adjustments = f"/catalog/api/v1/variants/{bread['variants'][0]['id']}/stock-adjustments"
    assert _products_on(await _page(catalog, hub_id)) == ["Pain de campagne"]

    await _ok(await catalog.client.post(adjustments, headers=catalog.headers(owner),
                                        json={"delta": -2, "reason": "cassé"}))
    assert _products_on(await _page(catalog, hub_id)) == []
    assert "Épuisé pour le moment" in await _page(catalog, hub_id, q="pain")

    await _ok(await catalog.client.post(adjustments, headers=catalog.headers(owner),
                                        json={"delta": 5, "reason": "livraison"}))
    assert _products_on(await _page(catalog, hub_id)) == ["Pain de campagne"]


async def test_an_order_that_takes_the_last_units_shows_at_once(hub):
    catalog, hub_id, _, _, bread = hub
    assert _products_on(await _page(catalog, hub_id)) == ["Pain de campagne"]

    await catalog.feed(order_placed(hub_id, [(bread, 2)]))

    assert _products_on(await _page(catalog, hub_id)) == []


async def test_a_suspended_shop_and_photos_show_at_once(hub):
    catalog, hub_id, shop, owner, bread = hub
    before = await _page(catalog, hub_id)
    assert "<img" not in before

    product_photo = await _ok(await catalog.client.post(
        f"/catalog/api/v1/products/{bread['id']}/photos", headers=catalog.headers(owner),
        files={"file": ("pain.jpg", jpeg((64, 48)), "image/jpeg")}))
    assert f'<img src="{product_photo["thumbnail_url"]}"' in await _page(catalog, hub_id)

    shop_photo = await _ok(await catalog.client.put(
        f"/catalog/api/v1/shops/{shop['id']}/photo", headers=catalog.headers(owner),
        files={"file": ("boutique.jpg", jpeg((64, 48)), "image/jpeg")}))
    assert f'<img src="{shop_photo["thumbnail_url"]}"' in await _page(catalog, hub_id)

    await _ok(await catalog.client.post(f"/catalog/api/v1/shops/{shop['id']}/status",
                                        headers=catalog.headers(ADMIN), json={"status": "suspended"}))
    suspended = await _page(catalog, hub_id)
    assert "Boulangerie Le Fournil" not in suspended and _products_on(suspended) == []


async def test_the_page_is_read_once_until_its_hub_changes(hub, monkeypatch):
    catalog, hub_id, _, _, bread = hub
    reads = _hub_ids_passed_to(monkeypatch, listings, "hub_front")
    first = await _page(catalog, hub_id)
    again = await _page(catalog, hub_id)
    assert len(reads) == 1 and again == first

    await _page(catalog, hub_id, q="pain")
    await catalog.client.get(f"/catalog/hubs/{hub_id}", headers={"Accept-Language": "en"})
    assert len(reads) == 3  # another search, another language: other pages

    await catalog.feed(order_placed(hub_id, [(bread, 1)]))  # one unit left: still in stock
    await _page(catalog, hub_id)
    assert len(reads) == 3

    await catalog.feed(order_placed(hub_id, [(bread, 1)]))
    await _page(catalog, hub_id)
    assert len(reads) == 4


async def test_a_signed_in_visitor_sees_their_name_and_their_own_form_token(hub):
    catalog, hub_id, _, owner, _ = hub
    anonymous = await _page(catalog, hub_id)
    token = csrf.new_token()

    signed_in = await catalog.client.get(
        f"/catalog/hubs/{hub_id}",
        headers={"Cookie": f"adopte_session={catalog.issuer.issue(owner)}; {csrf.COOKIE}={token}"})

    assert "marie" in signed_in.text and f'value="{token}"' in signed_in.text
    assert _products_on(unescape(signed_in.text)) == _products_on(anonymous)
    assert "marie" not in await _page(catalog, hub_id)


def test_a_page_kept_is_only_given_at_its_generation():
    kept = freshness.KeptPages[str](size=2)
    kept.put("hub", 3, "page 3")
    kept.put("hub", 2, "page 2")  # rendered by a request that read the hub earlier

    assert kept.get("hub", 3) == "page 3"
    assert kept.get("hub", 2) is None and kept.get("hub", 4) is None

    kept.put("search", 3, "results")
    kept.get("hub", 3)
    kept.put("other", 1, "other")
    assert kept.get("search", 3) is None  # the least recently asked for went first
    assert kept.get("hub", 3) == "page 3"


async def test_a_page_kept_goes_to_visitors_not_signed_in_before_routing(hub, monkeypatch):
    catalog, hub_id, _, owner, bread = hub
    routed = _hub_ids_passed_to(monkeypatch, public_pages, "_hub_page")
    served = _served("/hubs/{hub_id}")
    first = await catalog.client.get(f"/catalog/hubs/{hub_id}")
    again = await catalog.client.get(f"/catalog/hubs/{hub_id}")
    assert len(routed) == 1 and _served("/hubs/{hub_id}") == served + 2
    assert again.content == first.content
    for header in ("content-type", "content-length", "content-language",
                   "content-security-policy", "x-frame-options"):
        assert again.headers[header] == first.headers[header], header
    assert again.headers["x-correlation-id"] != first.headers["x-correlation-id"]

    signed_in = await catalog.client.get(
        f"/catalog/hubs/{hub_id}",
        headers={"Cookie": f"adopte_session={catalog.issuer.issue(owner)}"})
    assert "marie" in signed_in.text and len(routed) == 2
    await catalog.client.get(f"/catalog/hubs/{hub_id}",
                             headers={"Authorization": f"Bearer {catalog.issuer.issue(owner)}"})
    assert len(routed) == 3

    assert _products_on(unescape(again.text)) == ["Pain de campagne"]
    await catalog.feed(order_placed(hub_id, [(bread, 2)]))  # sold out: the hub changed
    assert _products_on(await _page(catalog, hub_id)) == [] and len(routed) == 4


def _served(route: str) -> float:
    return REGISTRY.get_sample_value("adopte_http_request_duration_seconds_count", {
        "service": "catalog", "method": "GET", "route": route, "status": "200"}) or 0.0


async def test_the_latest_generation_is_the_one_a_session_reads(hub):
    catalog, hub_id, _, _, bread = hub
    database = catalog.runtime.database

    async def both() -> tuple[int, int]:
        async with database.read_sessions() as session:
            return (await freshness.generation(session, hub_id),
                    await freshness.latest_generation(database, hub_id))

    before, latest = await both()
    assert latest == before > 0
    await catalog.feed(order_placed(hub_id, [(bread, 2)]))
    after, latest = await both()
    assert latest == after > before
    assert await freshness.latest_generation(database, uuid4()) == 0
