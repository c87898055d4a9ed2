"""Demo data for the embedded runtime: a hub, its staff and the merchants' association that runs
it, three shops with products, opening hours and the collection slots they make, and a resident
who has already collected one order (so the shops have sales to show), all documented in the
README.

It is written through the services' own HTTP API, so it travels through the same checks and
events as real data, and waits where one service has yet to hear of another's change. Seeded
once: a restart finds the hub and adds nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx

from services.accounts import use_cases as accounts
from services.accounts.domain import Registration, granted_roles

log = logging.getLogger(__name__)

PASSWORD = "demo-adopte-2026"
ADMIN = ("admin@demo.adopte.fr", "Admin du réseau")
STAFF = ("accueil@demo.adopte.fr", "Camille, accueil de la Fabrique")
RESIDENT = ("habitant@demo.adopte.fr", "Lou, habitante")
ASSOCIATION = ("association@demo.adopte.fr", "Maël, association des commerçants")
HUB = {"name": "La Fabrique du Centre", "town": "Lannion", "address": "12 rue des Halles"}
EVENINGS = [{"opens": "17:00", "closes": "19:00"}]
OPENING_HOURS = {"tuesday": EVENINGS, "wednesday": EVENINGS, "thursday": EVENINGS,
                 "friday": EVENINGS, "saturday": [{"opens": "10:00", "closes": "12:00"},
                                                  {"opens": "15:00", "closes": "19:00"}]}
# Two-hour slots ordered a day ahead: the shops prepare the evening before.
SLOT_SETTINGS = {"slot_minutes": 120, "capacity": 20, "lead_time_hours": 24, "horizon_days": 14}


def _product(name: str, category: str, *variants: tuple, unit: str = "piece",
             description: str = "") -> dict:
    """A product's JSON body, sold in (label, price in cents, stock[, member price in cents])
    variants."""
    return {"name": name, "categories": [category], "unit": unit, "description": description,
            "variants": [{"label": label, "price_cents": price_cents, "stock": stock,
                          "member_price_cents": member_price_cents[0] if member_price_cents else None}
                         for label, price_cents, stock, *member_price_cents in variants]}


SHOPS = [
    ("boulangerie@demo.adopte.fr", "Boulangerie Le Fournil", [
        _product("Pain de campagne 800 g", "boulangerie", ("", 420, 30),
                 description="Au levain naturel, cuit au feu de bois."),
        _product("Kouign-amann", "boulangerie", ("", 350, 20, 300)),
        _product("Baguette tradition", "boulangerie", ("", 130, 60)),
    ]),
    ("fromagerie@demo.adopte.fr", "Fromagerie du Trégor", [
        _product("Tomme de Bretagne (300 g)", "fromagerie", ("", 690, 15)),
        _product("Beurre demi-sel", "fromagerie", ("125 g", 210, 20), ("250 g", 380, 25, 340),
                 description="Baratté à la ferme de Kerguiniou."),
    ]),
    ("maraicher@demo.adopte.fr", "Les Jardins de Kerbiriou", [
        _product("Panier de légumes de saison", "fruits-et-legumes", ("", 1500, 12)),
        _product("Pommes", "fruits-et-legumes", ("1 kg", 320, 40), ("3 kg", 890, 15), unit="kg"),
    ]),
]
PARIS = ZoneInfo("Europe/Paris")
# Ten euros a year: residents join at /pickup/hubs/<hub>/adhesion and pay on the simulated card.
MEMBERSHIP_TERMS = {"open": True, "fee_cents": 1000, "duration_months": 12,
                    "benefits": "Le prix adhérent sur les produits des commerçants du "
                                "tiers-lieu qui en proposent un."}
# The market gardener has yet to open a payout account: its sales wait for it.
PAID_OUT_SHOPS = {"Boulangerie Le Fournil", "Fromagerie du Trégor"}


async def seed_demo(host) -> None:
    transport = httpx.ASGITransport(app=host)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo", timeout=30) as http:
        if (await http.get("/pickup/api/v1/hubs")).json():
            return
        demo = _Demo(http)
        await accounts.open_account(
            host.runtime("accounts").unit_of_work,
            Registration(email=ADMIN[0], password=PASSWORD, name=ADMIN[1]),
            granted_roles("platform_admin"),
        )
        admin = await demo.token(ADMIN[0])
        hub_id = (await demo.until(201, "POST", "/pickup/api/v1/hubs", admin, HUB))["id"]
        staff = await demo.resident(*STAFF)
        await demo.until(201, "POST", f"/pickup/api/v1/hubs/{hub_id}/staff", admin,
                         {"email": STAFF[0], "role": "staff"})
        await _opening_hours(demo, hub_id, admin)
        # Before the shops: once their products show, every demo account signs in, so whoever
        # waits on the demo never meets a failed (and counted) sign-in.
        await demo.resident(*ASSOCIATION)
        await demo.until(201, "POST", f"/pickup/api/v1/hubs/{hub_id}/staff", admin,
                         {"email": ASSOCIATION[0], "role": "admin"})
        resident = await demo.resident(*RESIDENT)
        for owner_email, shop_name, products in SHOPS:
            owner = await demo.resident(owner_email, shop_name)
            shop_id = (await demo.until(201, "POST", "/catalog/api/v1/shops", admin, {
                "hub_id": hub_id, "name": shop_name, "owner_email": owner_email}))["id"]
            await demo.until(200, "PATCH", f"/catalog/api/v1/shops/{shop_id}", owner, {
                "opening_hours": "mar–sam 8h–19h", "address": HUB["address"] + ", " + HUB["town"],
                "trade_category": products[0]["categories"][0]})
            for product in products:
                await demo.until(201, "POST", f"/catalog/api/v1/shops/{shop_id}/products", owner,
                                 product)
            if shop_name in PAID_OUT_SHOPS:
                await _payout_account(demo, shop_id, owner)
        await _collected_order(demo, hub_id, resident, staff)
        await _cheese_tasting(demo, hub_id, admin)
        await demo.until(200, "PUT", f"/pickup/api/v1/hubs/{hub_id}/membership-terms", admin,
                         MEMBERSHIP_TERMS)
    log.info("demo data seeded", extra={"hub_id": hub_id})


async def _payout_account(demo: _Demo, shop_id: str, owner: str) -> None:
    """The shop's payout account, opened and completed on the simulated provider's onboarding
    page: its collected orders are sent to it."""
    opened = await demo.until(200, "POST", f"/payments/api/v1/shops/{shop_id}/payout-account",
                              owner)
    completed = await demo.http.post(opened["onboarding_url"],
                                     headers={"Authorization": f"Bearer {owner}"})
    if completed.status_code != 303:
        raise RuntimeError(f"demo seeding: the payout account of shop {shop_id} was not "
                           f"completed: {completed.status_code} {completed.text[:300]}")


async def _opening_hours(demo: _Demo, hub_id: str, admin: str) -> None:
    """Evenings and Saturdays, closed at Christmas, and the slots they make for two weeks."""
    hours = f"/pickup/api/v1/hubs/{hub_id}/opening-hours"
    await demo.until(200, "PUT", hours, admin, OPENING_HOURS)
    await demo.until(200, "PUT", f"/pickup/api/v1/hubs/{hub_id}/slot-settings", admin,
                     SLOT_SETTINGS)
    today = datetime.now(PARIS).date()
    christmas = today.replace(month=12, day=25)
    if christmas < today:
        christmas = christmas.replace(year=today.year + 1)
    await demo.until(201, "POST", f"{hours}/exceptions", admin,
                     {"first_day": christmas.isoformat(), "label": "Noël"})
    await demo.until(200, "POST", f"/pickup/api/v1/hubs/{hub_id}/slots/generate", admin)


async def _collected_order(demo: _Demo, hub_id: str, resident: str, staff: str) -> None:
    """The resident's first order, from the bakery and the cheese shop, paid, dropped off and
    collected: the shops' sales pages have a month to show."""
    basket = {"Pain de campagne 800 g": 2, "Kouign-amann": 1, "Tomme de Bretagne (300 g)": 1}
    slot_id = (await demo.until(200, "GET", f"/pickup/api/v1/hubs/{hub_id}/slots", None))[0]["id"]
    listed = await demo.until_shown(f"/catalog/api/v1/products?hub_id={hub_id}", resident,
                                    lambda found: set(basket) <= {p["name"] for p in found})
    products = {p["name"]: p for p in listed}
    order_id = (await demo.until(202, "POST", "/orders/api/v1/orders", resident, {
        "hub_id": hub_id, "slot_id": slot_id,
        "lines": [{"product_id": products[name]["id"], "quantity": quantity}
                  for name, quantity in basket.items()]},
        headers={"Idempotency-Key": "demo-first-order"}))["id"]
    order_path = f"/orders/api/v1/orders/{order_id}"
    order = await demo.until_shown(order_path, resident, lambda o: o["payment"] is not None)
    await demo.until(200, "POST", f"/payments/api/v1/payments/{order['payment']['id']}/simulate",
                     resident, {"outcome": "succeeded"})
    order = await demo.until_shown(order_path, resident, lambda o: o["pickup"] is not None)
    for part in order["parts"]:
        await demo.until(200, "POST", f"/pickup/api/v1/pickups/{order_id}/drop-offs", staff,
                         {"shop_id": part["shop_id"], "shelf": "étagère A1"})
    await demo.until_shown(order_path, resident, lambda o: o["status"] == "ready")
    await demo.until(200, "POST", f"/pickup/api/v1/pickups/{order_id}/handover", staff,
                     {"code": order["pickup"]["code"]})


async def _cheese_tasting(demo: _Demo, hub_id: str, admin: str) -> None:
    """A tasting by the cheese shop in three days, on the hub's calendar of « animations », with
    orders collected during it."""
    shops = {shop["name"]: shop["id"] for shop in await demo.until(
        200, "GET", f"/catalog/api/v1/shops?hub_id={hub_id}", None)}
    starts = datetime.combine(datetime.now(PARIS).date() + timedelta(days=3), time(18, 30))
    await demo.until(201, "POST", f"/pickup/api/v1/hubs/{hub_id}/gatherings", admin, {
        "title": "Dégustation de fromages du Trégor",
        "description": "Tommes, beurres et crèmes de la ferme, présentés par la fromagère.",
        "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "capacity": 20, "shop_ids": [shops["Fromagerie du Trégor"]], "collection_capacity": 15})


class _Demo:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def token(self, email: str) -> str:
        answer = await self.until(200, "POST", "/accounts/api/v1/token", None,
                                  {"email": email, "password": PASSWORD})
        return answer["access_token"]

    async def resident(self, email: str, name: str) -> str:
        await self.until(201, "POST", "/accounts/api/v1/users", None,
                         {"email": email, "password": PASSWORD, "name": name})
        return await self.token(email)

    async def until(self, status: int, method: str, path: str, token: str | None,
                    body: dict | None = None, attempts: int = 100, *, params: dict | None = None,
                    headers: dict | None = None) -> dict:
        """Retry while another service has yet to hear of what this request needs."""
        headers = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        for _ in range(attempts):
            answer = await self.http.request(method, path, json=body, params=params,
                                             headers=headers)
            if answer.status_code == status:
                return answer.json()
            if answer.status_code not in (401, 403, 404, 422):
                break
            await asyncio.sleep(0.1)
        raise RuntimeError(f"demo seeding: {method} {path} answered {answer.status_code} "
                           f"{answer.text[:300]}")

    async def until_shown(self, path: str, token: str, shown: Callable, attempts: int = 100):
        """Read ``path`` until the saga has moved far enough for ``shown``."""
        for _ in range(attempts):
            found = await self.until(200, "GET", path, token)
            if shown(found):
                return found
            await asyncio.sleep(0.1)
        raise RuntimeError(f"demo seeding: {path} never showed what was awaited: {found}")
