"""In a real browser on a 390 px wide phone, on the demo hub: a resident fills one basket at two
shops and pays, the shop owners see their part to prepare and mark it prepared (one adds a
product and changes its stock), the staff check both parts in onto shelves, find the order by
its code and hand it over, and the resident's order ends collected. Every page goes through the
audit (axe-core, width, screenshot): see audit.py."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.demo import PASSWORD, RESIDENT, SHOPS, STAFF
from tests.support.waiting import eventually

pytestmark = pytest.mark.asyncio(loop_scope="package")

PARIS = ZoneInfo("Europe/Paris")
BAKERY, CHEESE_SHOP = SHOPS[0], SHOPS[1]


async def reload_until(person, locator, message: str, timeout: float = 30) -> None:
    """Reloads until ``locator`` shows: the saga moves on behind the page."""
    async def shown() -> bool:
        if await locator.count():
            return True
        await person.page.reload()
        return False

    await eventually(shown, timeout=timeout, interval=0.2, message=message)


async def test_an_order_goes_from_basket_to_hand_over_in_the_browser(audit, demo_url, demo_hub_id):
    resident = await audit.person("habitant")
    page = resident.page
    await resident.visit("/", "accueil")
    await resident.sign_in(RESIDENT[0], PASSWORD)
    await page.get_by_role("link", name=re.compile("Les boutiques et la recherche")).first.click()
    await resident.check("vitrine-du-tiers-lieu")
    await page.get_by_label("Produit, commerce, ingrédient").fill("tomme")
    await page.get_by_role("button", name="Chercher").click()
    await resident.check("recherche")
    await page.get_by_role("link", name=re.compile("Commander : Tomme de Bretagne")).click()
    await resident.check("panier")
    await page.get_by_label(re.compile("^Pain de campagne 800 g")).fill("1")
    await page.get_by_label(re.compile(r"^Tomme de Bretagne \(300 g\)")).fill("2")
    slot_id = await page.get_by_label("Créneau de retrait").input_value()
    await page.get_by_role("button", name="Commander", exact=True).click()
    await page.wait_for_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    order_path = page.url.removeprefix(demo_url)
    order_id = order_path.rsplit("/", 1)[-1]
    pay = page.get_by_role("link", name=re.compile("^Payer"))
    await reload_until(resident, pay, "the pay link")
    await resident.check("commande-a-payer")
    await pay.click()
    await resident.check("paiement")
    await page.get_by_role("button", name=re.compile(r"^Payer 18,00")).click()
    await page.wait_for_url(f"**{order_path}")
    await reload_until(resident, page.locator(".code"), "the pickup code")
    code = (await page.locator(".code").inner_text()).strip()
    assert re.fullmatch(r"[A-Z0-9]{6}", code), code
    assert await page.get_by_role("img", name=re.compile("QR code")).evaluate(
        "image => image.complete && image.naturalWidth > 0")
    await resident.check("code-de-retrait")
    await resident.visit("/orders/mine", "mes-commandes")

    shop_ids = await _shop_ids(demo_url, demo_hub_id)
    baker = await audit.person("boulangerie")
    await _owner_sees_the_part(baker, BAKERY, shop_ids, order_id)
    await _owner_adds_a_product_and_changes_its_stock(baker)
    cheesemonger = await audit.person("fromagerie")
    await _owner_sees_the_part(cheesemonger, CHEESE_SHOP, shop_ids, order_id)

    staff = await audit.person("accueil")
    await staff.sign_in(STAFF[0], PASSWORD)
    await _staff_check_in_both_parts(staff, demo_url, demo_hub_id, slot_id, order_id)
    await _staff_hand_over(staff, order_id, code)

    await page.goto(order_path)
    await reload_until(resident, page.get_by_text("Retirée", exact=True), "the order collected")
    await resident.check("commande-retiree")
    audit.assert_clean()


async def _shop_ids(demo_url: str, hub_id: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=demo_url, timeout=15) as api:
        shops = (await api.get("/catalog/api/v1/shops", params={"hub_id": hub_id})).json()
    return {shop["name"]: shop["id"] for shop in shops}


async def _owner_sees_the_part(owner, shop, shop_ids: dict[str, str], order_id: str) -> None:
    email, name, _ = shop
    page = owner.page
    await owner.sign_in(email, PASSWORD)
    await page.get_by_role("link", name="Mes boutiques").click()
    await owner.check("mes-boutiques")
    await page.get_by_role("link", name=f"Commandes à préparer : {name}").click()
    assert page.url.endswith(f"/orders/shops/{shop_ids[name]}")
    part = page.locator("section.card", has_text=f"commande n° {order_id[:8]}")
    assert "À préparer" in await part.inner_text()
    await owner.check("a-preparer")
    await part.get_by_role("button", name="Marquer comme préparée").click()
    await page.get_by_role("status").filter(has_text="La part est marquée préparée").wait_for()
    part = page.locator("section.card", has_text=f"commande n° {order_id[:8]}")
    assert "Préparée" in await part.locator(".status").inner_text()
    await owner.check("preparee")


async def _owner_adds_a_product_and_changes_its_stock(owner) -> None:
    page = owner.page
    await page.get_by_role("link", name="Produits et stock").click()
    await owner.check("produits")
    adding = page.get_by_role("region", name="Ajouter un produit")
    await adding.get_by_label("Nom du produit").fill("Far breton aux pruneaux")
    await adding.get_by_label("Catégorie").select_option("boulangerie")
    await adding.get_by_label("Prix en euros").fill("3,80")
    await adding.get_by_label("Unités en stock").fill("6")
    await adding.get_by_role("button", name="Ajouter le produit").click()
    product = page.get_by_role("article", name="Far breton aux pruneaux")
    await product.wait_for()
    await owner.check("produit-ajoute")
    await product.get_by_label("Unités", exact=True).fill("9")
    await product.get_by_role("button", name=re.compile("Mettre à jour le stock")).click()
    product = page.get_by_role("article", name="Far breton aux pruneaux")
    await product.get_by_label("Unités", exact=True).wait_for()
    assert await product.get_by_label("Unités", exact=True).input_value() == "9"
    await owner.check("stock-modifie")


async def _staff_check_in_both_parts(staff, demo_url, hub_id, slot_id, order_id) -> None:
    page = staff.page
    await page.get_by_role("link", name="Accueil équipe").click()
    await staff.check("accueil-des-retraits")
    await page.get_by_role("link", name="La Fabrique du Centre").click()
    await staff.check("retraits-du-jour")
    async with httpx.AsyncClient(base_url=demo_url, timeout=15) as api:
        slots = (await api.get(f"/pickup/api/v1/hubs/{hub_id}/slots")).json()
    starts_at = next(s["starts_at"] for s in slots if s["id"] == slot_id)
    await page.get_by_label("Jour").fill(
        datetime.fromisoformat(starts_at).astimezone(PARIS).date().isoformat())
    await page.get_by_role("button", name="Afficher").click()
    await staff.check("retraits-du-creneau")
    pickup = page.get_by_role("article").filter(has_text=f"Commande {order_id[:8].upper()}")
    for shelf in ("B2", "C1"):
        await pickup.get_by_label("Emplacement (facultatif)").first.fill(shelf)
        await pickup.get_by_role("button", name=re.compile("^Déposé")).first.click()
        await pickup.get_by_text(shelf, exact=True).wait_for()
        await staff.check(f"depose-{shelf}")


async def _staff_hand_over(staff, order_id: str, code: str) -> None:
    page = staff.page
    await page.get_by_label("Code de retrait, nom ou e-mail du client").fill(code)
    await page.get_by_role("button", name="Chercher").click()
    await staff.check("recherche-par-code")
    handing = page.get_by_label("Code de retrait montré par le client")
    await reload_until(staff, handing, "the order ready at the desk")
    await handing.fill(code)
    await page.get_by_role("button", name="Remettre la commande").click()
    pickup = page.get_by_role("article").filter(has_text=f"Commande {order_id[:8].upper()}")
    await pickup.get_by_text(re.compile(r"^Remise à \d")).wait_for()
    await staff.check("remise")
