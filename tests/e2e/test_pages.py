"""A person walks the journey through the pages alone (forms, no JavaScript), on the demo hub
that `adopte dev` seeds, with the demo accounts the README documents."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.demo import PASSWORD, RESIDENT, SHOPS, STAFF
from tests.support.demo import running_demo_hub, seeded_demo_hub_id
from tests.support.forms import form_to
from tests.support.waiting import eventually

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def demo_hub(tmp_path):
    with running_demo_hub(tmp_path) as url:
        yield url


class Person:
    """One browser: its own cookies, following redirects, reading pages."""

    def __init__(self, base_url: str) -> None:
        self.browser = httpx.AsyncClient(base_url=base_url, follow_redirects=True, timeout=15)

    async def sign_in(self, email: str) -> str:
        """Signs in from the sign-in page; the page one lands on after."""
        login = await self.browser.get("/accounts/login")
        form = form_to(login.text, "/accounts/login")
        page = await self.browser.post(form.action, data={**form.fields, "email": email,
                                                          "password": PASSWORD})
        assert page.status_code == 200, page.text
        assert "adopte_session" in self.browser.cookies
        return page.text

    async def follow(self, html: str, pattern: str) -> tuple[str, str]:
        """The first link on ``html`` whose address matches ``pattern``: its path and its page."""
        found = re.search(rf'href="({pattern})"', html)
        assert found, f"no link to {pattern}"
        return found.group(1), await self.get(found.group(1))

    async def get(self, path: str) -> str:
        page = await self.browser.get(path)
        assert page.status_code == 200, f"{path}: {page.status_code} {page.text[:300]}"
        return page.text

    async def submit(self, html: str, action: str, button: str | None = None, **values) -> httpx.Response:
        form = form_to(html, action, button)
        return await self.browser.post(form.action, data={**form.fields, **values})


async def test_a_person_does_the_journey_through_the_pages(demo_hub):
    api = httpx.AsyncClient(base_url=demo_hub, timeout=15)
    hub_id = await seeded_demo_hub_id(api)
    shops = {s["name"]: s["id"] for s in
             (await api.get("/catalog/api/v1/shops", params={"hub_id": hub_id})).json()}

    resident = Person(demo_hub)
    landing = await resident.sign_in(RESIDENT[0])  # the site starts at the hubs
    _, basket = await resident.follow(landing, f"/orders/hubs/{hub_id}")
    assert "Pain de campagne" in basket and "Tomme de Bretagne" in basket
    products = {p["name"]: p["id"] for p in
                (await api.get("/catalog/api/v1/products", params={"hub_id": hub_id})).json()}
    checkout = form_to(basket, "/checkout")
    slot_id = checkout.options["slot_id"][0]
    ordered = await resident.submit(basket, "/checkout", slot_id=slot_id, **{
        f"qty-{products['Pain de campagne 800 g']}": "1",
        f"qty-{products['Tomme de Bretagne (300 g)']}": "2"})
    assert ordered.status_code == 200, ordered.text
    order_path = ordered.url.path
    order_id = order_path.rsplit("/", 1)[-1]

    pay_link = None

    async def payment_offered() -> bool:
        nonlocal pay_link
        found = re.search(r'href="(/payments/pay/[0-9a-f-]+)"', await resident.get(order_path))
        pay_link = found and found.group(1)
        return bool(pay_link)

    await eventually(payment_offered, message="the pay link")
    card = await resident.get(pay_link)
    assert "18,00" in card.replace("\u202f", " ").replace("\xa0", " ")  # 4,20 + 2 × 6,90
    paid = await resident.submit(card, pay_link, button="Payer")
    assert paid.url.path == order_path

    code = None

    async def code_shown() -> bool:
        nonlocal code
        found = re.search(r'class="code"[^>]*>\s*([A-Z0-9]{6})\s*<', await resident.get(order_path))
        code = found and found.group(1)
        return bool(code)

    await eventually(code_shown, message="the pickup code on the order page")

    for owner_email, shop_name, _ in SHOPS[:2]:
        owner = Person(demo_hub)
        landing = await owner.sign_in(owner_email)
        _, my_shops = await owner.follow(landing, "/catalog/shops")
        _, to_prepare = await owner.follow(my_shops, f"/orders/shops/{shops[shop_name]}")
        assert order_id[:8] in to_prepare

    staff = Person(demo_hub)
    landing = await staff.sign_in(STAFF[0])
    _, desks = await staff.follow(landing, "/pickup/desk")
    await staff.follow(desks, f"/pickup/desk/{hub_id}")
    slot = next(s for s in (await api.get(f"/pickup/api/v1/hubs/{hub_id}/slots")).json()
                if s["id"] == slot_id)
    day = datetime.fromisoformat(slot["starts_at"]).astimezone(PARIS).date().isoformat()
    desk_path = f"/pickup/desk/{hub_id}?date={day}"
    for _ in range(2):
        desk = await staff.get(desk_path)
        dropped = await staff.submit(desk, f"/pickups/{order_id}/drop-off")
        assert dropped.status_code == 200, dropped.text

    async def ready_at_desk() -> bool:
        return f"/pickups/{order_id}/handover" in await staff.get(desk_path)

    await eventually(ready_at_desk, message="the order ready at the desk")
    desk = await staff.get(desk_path)
    wrong = await staff.submit(desk, f"/pickups/{order_id}/handover", code="AAAAAA")
    assert wrong.status_code in {409, 422}
    handed = await staff.submit(desk, f"/pickups/{order_id}/handover", code=code)
    assert handed.status_code == 200, handed.text

    async def collected() -> bool:
        return "Retirée" in await resident.get(order_path)

    await eventually(collected, message="the order shown as collected")
    await api.aclose()
