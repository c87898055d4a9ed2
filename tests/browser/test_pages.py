"""The pages off the order's path, each seen by who may see it on the demo hub, through the same
audit as the journey (axe-core, 390 px, screenshot): the hub's public pages, the resident's
account, the association's hub administration, a shop's sales and money, the staff's gathering
sheets, the platform's reports, and a few pages in English."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from services.demo import ADMIN, ASSOCIATION, PASSWORD, RESIDENT, SHOPS, STAFF
from tests.support.waiting import eventually

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_the_other_pages_pass_the_audit(audit, demo_url, demo_hub_id):
    hub = f"/pickup/hubs/{demo_hub_id}"
    gatherings: list[dict] = []

    async def gathering_scheduled() -> bool:  # the last thing the demo seeds
        gatherings[:] = (await api.get(f"/pickup/api/v1/hubs/{demo_hub_id}/gatherings")).json()
        return bool(gatherings)

    async with httpx.AsyncClient(base_url=demo_url, timeout=15) as api:
        shops = (await api.get("/catalog/api/v1/shops", params={"hub_id": demo_hub_id})).json()
        await eventually(gathering_scheduled, timeout=30, interval=0.2, message="the demo gathering")
    bakery = next(shop["id"] for shop in shops if shop["name"] == SHOPS[0][1])
    gathering = f"{hub}/animations/{gatherings[0]['id']}"

    visitor = await audit.person("pages-visiteur")
    await visitor.visit(hub, "tiers-lieu")
    await visitor.visit(f"/catalog/hubs/{demo_hub_id}?sort=name", "tous-les-produits")
    await visitor.visit(f"/catalog/shops/{bakery}/vitrine", "vitrine-boulangerie")
    await visitor.visit(f"{hub}/animations", "animations")
    await visitor.visit(gathering, "animation")
    await visitor.visit("/accounts/signup", "inscription")
    await visitor.visit(f"/catalog/hubs/{uuid.uuid4()}", "introuvable", status=404)
    await visitor.visit("/accounts/login", "connexion")
    await visitor.page.get_by_label("Adresse e-mail").fill(RESIDENT[0])
    await visitor.page.get_by_label("Mot de passe").fill("pas-le-bon")
    await visitor.page.get_by_role("button", name="Se connecter").click()
    await visitor.page.get_by_role("alert").wait_for()
    await visitor.check("connexion-refusee")
    await visitor.visit("/orders/hubs?lang=en", "tiers-lieux-en")
    await visitor.visit(f"/catalog/hubs/{demo_hub_id}?lang=en", "vitrine-en")
    await visitor.visit("/accounts/login?lang=en", "connexion-en")

    resident = await audit.person("pages-habitant")
    await resident.sign_in(RESIDENT[0], PASSWORD)
    await resident.visit("/accounts/preferences", "preferences")
    await resident.visit(gathering, "animation")
    await resident.visit_if_present(f"{hub}/adhesion", "adhesion")

    association = await audit.person("pages-association")
    await association.sign_in(ASSOCIATION[0], PASSWORD)
    await association.visit("/catalog/shops", "mes-boutiques")
    await association.visit(f"/catalog/hubs/{demo_hub_id}/shops", "boutiques-du-tiers-lieu")
    await association.visit(f"{hub}/horaires", "horaires")
    await association.visit(f"{hub}/absences", "absences")
    await association.visit(f"{hub}/rapport", "rapport")
    await association.visit(f"{hub}/animations/nouvelle", "nouvelle-animation")
    await association.visit(f"{gathering}/modifier", "modifier-animation")
    await association.visit_if_present(f"{hub}/adhesion/conditions", "adhesion-conditions")
    await association.visit_if_present(f"{hub}/adherents", "adherents")

    owner = await audit.person("pages-boulangerie")
    await owner.sign_in(SHOPS[0][0], PASSWORD)
    await owner.visit(f"/orders/shops/{bakery}/ventes", "ventes")
    await owner.page.get_by_role("link", name=re.compile("^Commission et versements")).click()
    await owner.check("releve-du-mois")
    await owner.visit(f"/payments/shops/{bakery}/statements", "releves")
    await owner.visit(f"/payments/shops/{bakery}/payouts", "versements")
    await owner.visit(f"/catalog/shops/{bakery}/profile", "profil")
    await owner.visit(f"/catalog/shops/{bakery}/import", "import-csv")

    staff = await audit.person("pages-accueil")
    await staff.sign_in(STAFF[0], PASSWORD)
    await staff.visit(f"/pickup/desk/{demo_hub_id}/animations", "animations-equipe")
    await staff.visit(f"/pickup/desk/{demo_hub_id}/animations/{gatherings[0]['id']}",
                      "feuille-de-presence")

    admin = await audit.person("pages-admin")
    await admin.sign_in(ADMIN[0], PASSWORD)
    await admin.visit("/payments/reports/commission", "commissions")
    await admin.visit("/payments/reports/dac7", "dac7")

    assert audit.pages_seen >= 30
    audit.assert_clean()
