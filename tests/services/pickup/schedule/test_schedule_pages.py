"""The hub's public page with its hours, and the admin's page to edit them, without
JavaScript: forms posted, then a redirect."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit
from uuid import uuid4

from libs.contracts.pickup import SlotClosed, SlotOpened
from services.pickup.domain import paris_today
from services.pickup.use_cases import utc_now
from tests.services.pickup.conftest import placed
from tests.services.pickup.schedule.support import hub_with_admin, put_hours
from tests.support.forms import form_to


def cookie_of(bearer: dict[str, str]) -> dict[str, str]:
    return {"Cookie": "adopte_session=" + bearer["Authorization"].removeprefix("Bearer ")}


def in_days(days: int) -> str:
    return (paris_today(utc_now()) + timedelta(days=days)).isoformat()


async def test_the_hub_page_shows_its_address_hours_and_exceptions_to_anyone(pickup):
    hub_id, admin = await hub_with_admin(pickup)
    await put_hours(pickup, hub_id, admin, {
        "tuesday": [{"opens": "09:00", "closes": "12:30"}, {"opens": "14:00", "closes": "19:00"}]})
    await pickup.client.post(f"/pickup/api/v1/hubs/{hub_id}/opening-hours/exceptions",
                             headers=admin, json={"first_day": in_days(5), "label": "Noël"})

    page = await pickup.client.get(f"/pickup/hubs/{hub_id}")

    assert page.status_code == 200
    assert "Le Grenier Partagé" in page.text and "3 place du Martray, Paimpol" in page.text
    assert "09:00-12:30, 14:00-19:00" in page.text and "fermé" in page.text
    assert "Noël — fermé" in page.text
    assert "Modifier les horaires" not in page.text
    as_admin = await pickup.client.get(f"/pickup/hubs/{hub_id}", headers=cookie_of(admin))
    assert "Modifier les horaires" in as_admin.text


async def test_a_hub_without_hours_says_so_and_an_unknown_one_is_not_found(pickup):
    hub_id = await pickup.open_hub()
    assert "pas encore publié ses horaires" in (await pickup.client.get(
        f"/pickup/hubs/{hub_id}")).text
    missing = await pickup.client.get("/pickup/hubs/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and "introuvable" in missing.text


async def test_the_admin_edits_the_week_and_the_slots_in_one_form(pickup):
    hub_id, admin = await hub_with_admin(pickup)
    cookie = cookie_of(admin)
    page = await pickup.client.get(f"/pickup/hubs/{hub_id}/horaires", headers=cookie)
    assert page.status_code == 200
    form = form_to(page.text, f"/pickup/hubs/{hub_id}/horaires", "Enregistrer les horaires")
    form.fields.update(tuesday="9h-12h30, 14h-19h", saturday="9h-13h", slot_minutes="20",
                       lead_time_hours="24")

    saved = await pickup.client.post(form.action, data=form.fields, headers=cookie)

    assert saved.status_code == 303
    after = await pickup.client.get(saved.headers["location"], headers=cookie)
    assert "Les horaires sont enregistrés" in after.text
    assert 'value="09:00-12:30, 14:00-19:00"' in after.text
    schedule = (await pickup.client.get(f"/pickup/api/v1/hubs/{hub_id}/opening-hours")).json()
    assert schedule["weekly"]["saturday"] == [{"opens": "09:00", "closes": "13:00"}]
    assert (schedule["settings"]["slot_minutes"], schedule["settings"]["lead_time_hours"]) == (
        20, 24)


async def test_impossible_hours_come_back_with_what_was_typed_and_why(pickup):
    hub_id, admin = await hub_with_admin(pickup)
    cookie = cookie_of(admin)
    page = await pickup.client.get(f"/pickup/hubs/{hub_id}/horaires", headers=cookie)
    form = form_to(page.text, f"/pickup/hubs/{hub_id}/horaires", "Enregistrer les horaires")

    overlapping = await pickup.client.post(form.action, headers=cookie,
                                           data={**form.fields, "tuesday": "9h-12h, 11h-14h"})
    bad_length = await pickup.client.post(form.action, headers=cookie,
                                          data={**form.fields, "slot_minutes": "2"})

    assert overlapping.status_code == 422
    assert "Mardi : les plages 09:00–12:00 et 11:00–14:00 se chevauchent" in overlapping.text
    assert 'value="9h-12h, 11h-14h"' in overlapping.text
    assert bad_length.status_code == 422 and "Durée d&#39;un créneau" in bad_length.text
    assert (await pickup.client.get(f"/pickup/api/v1/hubs/{hub_id}/opening-hours")
            ).json()["weekly"]["tuesday"] == []


async def test_the_admin_adds_and_removes_exceptions(pickup):
    hub_id, admin = await hub_with_admin(pickup)
    cookie = cookie_of(admin)
    page = await pickup.client.get(f"/pickup/hubs/{hub_id}/horaires", headers=cookie)
    form = form_to(page.text, "/exceptions", "Ajouter l'exception")

    added = await pickup.client.post(form.action, headers=cookie, data={
        **form.fields, "premier_jour": in_days(2), "dernier_jour": in_days(3), "libelle": "Noël"})
    clashing = await pickup.client.post(form.action, headers=cookie, data={
        **form.fields, "premier_jour": in_days(3), "libelle": "Pont"})

    assert added.status_code == 303
    assert clashing.status_code == 409 and "recoupent" in clashing.text
    page = await pickup.client.get(added.headers["location"], headers=cookie)
    assert "Noël — fermé" in page.text
    removal = form_to(page.text, "/supprimer")
    removed = await pickup.client.post(removal.action, headers=cookie)
    assert removed.status_code == 303
    assert "Noël" not in (await pickup.client.get(f"/pickup/hubs/{hub_id}")).text


async def test_the_admin_generates_slots_and_closes_held_ones_that_left_the_hours(pickup):
    hub_id, admin = await hub_with_admin(pickup)
    cookie = cookie_of(admin)
    await put_hours(pickup, hub_id, admin, horizon_days=3)
    page = await pickup.client.get(f"/pickup/hubs/{hub_id}/horaires", headers=cookie)

    generated = await pickup.client.post(form_to(page.text, "/creneaux").action, headers=cookie)

    assert generated.status_code == 303
    opened = await pickup.published(SlotOpened)
    page = await pickup.client.get(generated.headers["location"], headers=cookie)
    assert f"Créneaux générés : {len(opened)} ouvert(s), 0 fermé(s)." in page.text
    await pickup.feed(placed(uuid4(), hub_id, str(opened[-1].slot_id)))
    await put_hours(pickup, hub_id, admin, {})
    page = await pickup.client.get(f"/pickup/hubs/{hub_id}/horaires", headers=cookie)
    assert "Créneaux hors horaires avec des commandes" in page.text
    closed = await pickup.client.post(form_to(page.text, "/fermer").action, headers=cookie)
    assert closed.status_code == 303
    assert [e.slot_id for e in await pickup.published(SlotClosed)] == [opened[-1].slot_id]


async def test_the_admin_page_is_for_the_hubs_admins(pickup):
    hub_id, _ = await hub_with_admin(pickup)
    staff = cookie_of(await pickup.hub_member(hub_id, "staff"))

    anonymous = await pickup.client.get(f"/pickup/hubs/{hub_id}/horaires")
    by_staff = await pickup.client.get(f"/pickup/hubs/{hub_id}/horaires", headers=staff)
    posted_by_staff = await pickup.client.post(f"/pickup/hubs/{hub_id}/horaires", headers=staff,
                                               data={"monday": "9h-10h", "slot_minutes": "30",
                                                     "capacity": "5", "lead_time_hours": "0",
                                                     "horizon_days": "7"})

    assert anonymous.status_code == 303
    assert urlsplit(anonymous.headers["location"]).path == "/accounts/login"
    assert by_staff.status_code == 403 and "Réservé aux administrateurs" in by_staff.text
    assert posted_by_staff.status_code == 403
