"""The French pages, as a browser without JavaScript uses them (session cookie, the form's own
token, POST then 303): the hub's membership and the member card with its QR code, the admins'
terms and members (and CSV), the desk's check; admins' pages refused to residents."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from html import unescape
from uuid import uuid4
from zoneinfo import ZoneInfo

from babel.dates import format_date

from libs.contracts.pickup import MembershipFeeRequested, MembershipStarted
from services.pickup.membership.domain import card_qr_svg
from tests.services.pickup.membership.conftest import backdate, join, resident
from tests.support.forms import form_to

PARIS = ZoneInfo("Europe/Paris")


def plain(html: str) -> str:
    return unescape(html).replace("\u202f", " ").replace("\xa0", " ")


def signed_in(pickup, headers: dict[str, str]) -> None:
    """From now on the client is this person's browser: their session cookie, no bearer."""
    pickup.client.cookies.set("adopte_session", headers["Authorization"].removeprefix("Bearer "))


async def submit(pickup, page_path: str, action: str, **values):
    page = await pickup.client.get(page_path)
    assert page.status_code == 200, page.text
    form = form_to(page.text, action)
    assert form.fields.get("csrf_token"), "every POST form carries its token"
    return await pickup.client.post(form.action, data={**form.fields, **values})


def paris_day(moment: datetime) -> str:
    return format_date(moment.astimezone(PARIS), "d MMMM y", locale="fr_FR")


async def test_a_resident_joins_for_free_and_gets_a_card_with_its_qr_code(pickup, free_hub):
    camille = resident(pickup, "Camille Le Gall")
    signed_in(pickup, camille.headers)
    before = plain((await pickup.client.get(free_hub.card)).text)
    assert "Le prix adhérent chez les commerçants du tiers-lieu." in before
    assert "gratuite · pour 12 mois" in before

    joined = await submit(pickup, free_hub.card, "/adhesion")

    assert joined.status_code == 303
    assert joined.headers["location"] == f"{free_hub.card}?fait=bienvenue"
    card = await pickup.client.get(joined.headers["location"])
    html = plain(card.text)
    [started] = await pickup.published(MembershipStarted)
    assert "Bienvenue ! Vous êtes adhérent·e du tiers-lieu." in html
    for shown in ("Carte d'adhérent·e", "Le Grenier Partagé", "Camille Le Gall", "PAI-0001",
                  f"Adhérent·e depuis le</dt><dd>{paris_day(started.started_at)}",
                  f"Valable jusqu'au</dt><dd>{paris_day(started.expires_at)}", "valide"):
        assert shown in html, shown
    assert card_qr_svg("PAI-0001") in card.text  # the QR code says the number, nothing else
    assert 'media="print"' in card.text
    assert "Mettre fin à mon adhésion" in html and "Adhérer</button>" not in html


async def test_joining_with_a_fee_sends_the_resident_to_the_payment_page(pickup, paying_hub):
    camille = resident(pickup)
    signed_in(pickup, camille.headers)

    joined = await submit(pickup, paying_hub.card, "/adhesion")

    [asked] = await pickup.published(MembershipFeeRequested)
    assert joined.status_code == 303
    assert joined.headers["location"] == f"/payments/memberships/{asked.membership_id}"
    waiting = plain((await pickup.client.get(paying_hub.card)).text)
    assert "Votre adhésion attend son paiement" in waiting
    assert f'href="/payments/memberships/{asked.membership_id}"' in waiting
    assert "10,00 €" in waiting


async def test_joining_twice_through_the_form_says_why_not(pickup, free_hub):
    camille = resident(pickup)
    await join(pickup, free_hub, camille)
    signed_in(pickup, camille.headers)
    page = await pickup.client.get(free_hub.card)
    token = form_to(page.text, "/adhesion/depart").fields["csrf_token"]

    again = await pickup.client.post(free_hub.card, data={"csrf_token": token})

    assert again.status_code == 409
    assert "vous êtes déjà adhérent·e : le renouvellement ouvre 30 jours avant" in plain(
        again.text)


async def test_a_member_leaves_through_the_form(pickup, free_hub):
    camille = resident(pickup)
    await join(pickup, free_hub, camille)
    signed_in(pickup, camille.headers)

    left = await submit(pickup, free_hub.card, "/adhesion/depart")

    assert left.status_code == 303 and left.headers["location"].endswith("?fait=depart")
    html = plain((await pickup.client.get(left.headers["location"])).text)
    assert "votre adhésion est terminée" in html
    assert "Votre numéro PAI-0001 vous attend si vous adhérez de nouveau." in html
    assert "<svg" not in html


async def test_a_visitor_is_asked_to_sign_in_to_join(pickup, free_hub):
    page = await pickup.client.get(free_hub.card)
    token = form_to(page.text, "/adhesion").fields["csrf_token"]

    response = await pickup.client.post(free_hub.card, data={"csrf_token": token})

    assert "Me connecter pour adhérer" in plain(page.text)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/accounts/login?next=")


async def test_the_hub_page_leads_residents_to_membership(pickup, free_hub):
    page = await pickup.client.get(f"/pickup/hubs/{free_hub.hub_id}")

    assert f'href="{free_hub.card}"' in page.text


async def test_admins_set_the_terms_through_the_form(pickup, free_hub):
    signed_in(pickup, free_hub.admin)
    terms_page = f"/pickup/hubs/{free_hub.hub_id}/adhesion/conditions"

    saved = await submit(pickup, terms_page, "/adhesion/conditions", cotisation="12,50",
                         duree="", avantages="Prix solidaires.", ouverte="oui")
    refused = await submit(pickup, terms_page, "/adhesion/conditions", cotisation="douze",
                           duree="12")

    assert saved.status_code == 303
    terms = (await pickup.client.get(f"{free_hub.api}/membership-terms")).json()
    assert (terms["fee_cents"], terms["duration_months"], terms["benefits"]) == (
        1250, None, "Prix solidaires.")
    assert refused.status_code == 422
    assert "un montant en euros est attendu" in plain(refused.text)
    assert 'value="douze"' in refused.text
    assert (await pickup.client.get(f"{free_hub.api}/membership-terms")).json()["fee_cents"] == 1250
    wrong_months = await submit(pickup, terms_page, "/adhesion/conditions", cotisation="5",
                                duree="0")
    assert wrong_months.status_code == 422 and "Durée : trop petit" in plain(wrong_months.text)


async def test_the_admins_list_counts_the_members_and_exports_them(pickup, free_hub):
    camille, dominique = resident(pickup, "Camille"), resident(pickup, "Dominique")
    await join(pickup, free_hub, camille)
    over = await join(pickup, free_hub, dominique)
    await backdate(pickup, over["id"], expires_at=datetime.now(UTC) - timedelta(hours=1))
    signed_in(pickup, free_hub.admin)

    page = plain((await pickup.client.get(f"/pickup/hubs/{free_hub.hub_id}/adherents")).text)
    exported = await pickup.client.get(f"/pickup/hubs/{free_hub.hub_id}/adherents.csv")

    assert "1 adhésion valide aujourd'hui · 2 personnes ont adhéré en tout" in page
    assert page.index("PAI-0001") < page.index("Camille") < page.index("PAI-0002")
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "numero"
    assert [(r[0], r[1], r[4], r[6]) for r in rows[1:]] == [
        ("PAI-0001", "Camille", "active", "oui"), ("PAI-0002", "Dominique", "active", "non")]


async def test_the_desk_checks_a_number_typed_or_scanned(pickup, free_hub):
    await join(pickup, free_hub, resident(pickup, "Camille"))
    signed_in(pickup, free_hub.staff)
    desk = f"/pickup/desk/{free_hub.hub_id}/adherents"

    valid = plain((await pickup.client.get(desk, params={"numero": "pai-0001"})).text)
    by_digits = plain((await pickup.client.get(desk, params={"numero": "1"})).text)
    unknown = await pickup.client.get(desk, params={"numero": "PAI-0099"})

    assert "PAI-0001 · Camille" in valid and "Carte valide jusqu'au" in valid
    assert "PAI-0001 · Camille" in by_digits
    assert unknown.status_code == 404 and "aucun adhérent n'a le numéro PAI-0099" in plain(
        unknown.text)
    api = await pickup.client.get(f"{free_hub.api}/members/check", params={"number": "PAI-0001"},
                                  headers=free_hub.staff)
    assert (api.json()["name"], api.json()["valid"]) == ("Camille", True)


async def test_admins_pages_are_refused_to_residents_and_the_desk_to_non_staff(pickup, free_hub):
    signed_in(pickup, resident(pickup).headers)
    hub = free_hub.hub_id

    for path in (f"/pickup/hubs/{hub}/adhesion/conditions", f"/pickup/hubs/{hub}/adherents",
                 f"/pickup/hubs/{hub}/adherents.csv", f"/pickup/desk/{hub}/adherents"):
        response = await pickup.client.get(path)
        assert response.status_code == 403, path
        assert "Accès réservé" in plain(response.text)
    signed_in(pickup, free_hub.staff)
    assert (await pickup.client.get(f"/pickup/hubs/{hub}/adherents")).status_code == 403
    listing = await pickup.client.get(f"{free_hub.api}/members", headers=resident(pickup).headers)
    assert listing.status_code == 403
    missing = await pickup.client.get(f"/pickup/hubs/{uuid4()}/adhesion")
    assert missing.status_code == 404
