"""Demo data for the embedded runtime: a hub, its staff, three shops with products, a week of
collection slots and a resident, all documented in the README.

It is written through the services' own HTTP API, so it travels through the same checks and
events as real data, and waits where one service has yet to hear of another's change. Seeded
once: a restart finds the hub and adds nothing.
"""

from __future__ import annotations

import asyncio
import logging
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
HUB = {"name": "La Fabrique du Centre", "town": "Lannion", "address": "12 rue des Halles"}


def _product(name: str, category: str, *variants: tuple[str, int, int], unit: str = "piece",
             description: str = "") -> dict:
    """A product's JSON body, sold in (label, price in cents, stock) variants."""
    return {"name": name, "categories": [category], "unit": unit, "description": description,
            "variants": [{"label": label, "price_cents": price_cents, "stock": stock}
                         for label, price_cents, stock in variants]}


SHOPS = [
    ("boulangerie@demo.adopte.fr", "Boulangerie Le Fournil", [
        _product("Pain de campagne 800 g", "boulangerie", ("", 420, 30),
                 description="Au levain naturel, cuit au feu de bois."),
        _product("Kouign-amann", "boulangerie", ("", 350, 20)),
        _product("Baguette tradition", "boulangerie", ("", 130, 60)),
    ]),
    ("fromagerie@demo.adopte.fr", "Fromagerie du Trégor", [
        _product("Tomme de Bretagne (300 g)", "fromagerie", ("", 690, 15)),
        _product("Beurre demi-sel", "fromagerie", ("125 g", 210, 20), ("250 g", 380, 25),
                 description="Baratté à la ferme de Kerguiniou."),
    ]),
    ("maraicher@demo.adopte.fr", "Les Jardins de Kerbiriou", [
        _product("Panier de légumes de saison", "fruits-et-legumes", ("", 1500, 12)),
        _product("Pommes", "fruits-et-legumes", ("1 kg", 320, 40), ("3 kg", 890, 15), unit="kg"),
    ]),
]
PARIS = ZoneInfo("Europe/Paris")


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
        for day in range(1, 8):
            starts = datetime.combine(datetime.now(PARIS).date() + timedelta(days=day),
                                      time(17, 0), PARIS)
            await demo.until(201, "POST", f"/pickup/api/v1/hubs/{hub_id}/slots", staff, {
                "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=2)).isoformat(),
                "capacity": 20})
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
        await demo.resident(*RESIDENT)
    log.info("demo data seeded", extra={"hub_id": hub_id})


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

    async def until(self, status: int, method: str, path: str, token: str | None, body: dict,
                    attempts: int = 100) -> dict:
        """Retry while another service has yet to hear of what this request needs."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        for _ in range(attempts):
            answer = await self.http.request(method, path, json=body, headers=headers)
            if answer.status_code == status:
                return answer.json()
            if answer.status_code not in (401, 403, 404, 422):
                break
            await asyncio.sleep(0.1)
        raise RuntimeError(f"demo seeding: {method} {path} answered {answer.status_code} "
                           f"{answer.text[:300]}")
