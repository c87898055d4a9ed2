"""The French pages: the public calendar, a gathering with its sign-up forms, the admins' forms
and the staff's lists, all working without JavaScript (POST, then 303)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

from babel.dates import format_date

from libs.contracts.pickup import (
    AttendanceRecorded,
    GatheringCancelled,
    GatheringScheduled,
    ResidentSignedUp,
    SignUpCancelled,
)
from tests.services.pickup.gatherings.conftest import (
    PARIS,
    open_shop,
    paris_evening,
    schedule,
    starting_soon,
)
from tests.support.forms import form_to, forms_of


def cookie(headers: dict[str, str]) -> dict[str, str]:
    """The session cookie a browser would send for the same person as ``headers``."""
    return {"Cookie": "adopte_session=" + headers["Authorization"].removeprefix("Bearer ")}


def plain(html: str) -> str:
    """The page's text as read: entities decoded, narrow and non-breaking spaces as spaces."""
    return unescape(html).replace("\u202f", " ").replace("\xa0", " ")


async def submit(pickup, page: str, action: str, who: dict, button: str | None = None, **values):
    form = form_to(page, action, button)
    return await pickup.client.post(form.action, data={**form.fields, **values}, headers=who)


async def test_the_calendar_shows_upcoming_gatherings_by_month_in_paris_time(pickup, team):
    cheese = await open_shop(pickup, team.hub_id, "Fromagerie du Trégor")
    tasting = await schedule(pickup, team, shop_ids=[str(cheese)], capacity=3)
    next_month = paris_evening(days=40, hour=10)
    await schedule(pickup, team, title="Causerie circuits courts", capacity=0,
                   starts_at=next_month.isoformat(),
                   ends_at=(next_month + timedelta(hours=1)).isoformat())
    await pickup.client.post(f"{team.gatherings}/{tasting['id']}/sign-ups",
                             headers=pickup.headers())

    page = await pickup.client.get(f"/pickup/hubs/{team.hub_id}/animations")

    assert page.status_code == 200
    html = plain(page.text)
    months = [format_date(day, "LLLL y", locale="fr_FR").capitalize()
              for day in (paris_evening(), next_month)]
    assert html.index(f">{months[0]}</h2>") < html.index("Dégustation de fromages") \
        < html.index(f">{months[1]}</h2>") < html.index("Causerie circuits courts")
    assert "2 places restantes sur 3" in html and "Entrée libre, sans inscription" in html
    assert "Proposée avec Fromagerie du Trégor" in html
    assert f"à {paris_evening():%H:%M} – {paris_evening(hour=20):%H:%M}" in re.sub(r"<[^>]+>", "", html)
    assert f'href="/pickup/hubs/{team.hub_id}/animations/{tasting["id"]}"' in html
    assert f"/pickup/hubs/{team.hub_id}/animations.ics" in html
    assert "Programmer une animation" not in html
    as_admin = await pickup.client.get(f"/pickup/hubs/{team.hub_id}/animations",
                                       headers=cookie(team.admin))
    assert "Programmer une animation" in plain(as_admin.text)
    unknown = await pickup.client.get(f"/pickup/hubs/{uuid4()}/animations")
    assert unknown.status_code == 404 and "Animation introuvable" in plain(unknown.text)


async def test_a_resident_signs_up_and_cancels_through_the_forms(pickup, team):
    gathering = await schedule(pickup, team, capacity=2)
    path = f"/pickup/hubs/{team.hub_id}/animations/{gathering['id']}"
    resident = cookie(pickup.headers(user_id=uuid4()))

    page = (await pickup.client.get(path, headers=resident)).text
    signed_up = await submit(pickup, page, "/inscription", resident)
    after = await pickup.client.get(signed_up.headers["location"], headers=resident)
    cancelled = await submit(pickup, after.text, "/desinscription", resident)
    final = await pickup.client.get(cancelled.headers["location"], headers=resident)

    assert (signed_up.status_code, cancelled.status_code) == (303, 303)
    assert signed_up.headers["location"] == f"{path}?fait=inscription"
    assert "Vous êtes inscrit·e. À bientôt !" in plain(after.text)
    assert "1 place restante sur 2" in plain(after.text)
    assert "Annuler mon inscription" in plain(after.text)
    assert "Votre inscription est annulée" in plain(final.text)
    assert "M'inscrire" in plain(final.text) and "2 places restantes sur 2" in plain(final.text)
    assert len(await pickup.published(ResidentSignedUp)) == 1
    assert len(await pickup.published(SignUpCancelled)) == 1


async def test_a_visitor_is_sent_to_sign_in_and_back_to_the_gathering(pickup, team):
    gathering = await schedule(pickup, team)
    path = f"/pickup/hubs/{team.hub_id}/animations/{gathering['id']}"

    page = plain((await pickup.client.get(path)).text)
    answer = await submit(pickup, page, "/inscription", {})

    assert "Me connecter pour m'inscrire" in page
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert location.path == "/accounts/login"
    assert parse_qs(location.query)["next"] == [path]
    assert await pickup.published(ResidentSignedUp) == []


async def test_a_full_gathering_says_so_and_refuses_a_late_sign_up(pickup, team):
    gathering = await schedule(pickup, team, capacity=1)
    path = f"/pickup/hubs/{team.hub_id}/animations/{gathering['id']}"
    late = cookie(pickup.headers())
    page = (await pickup.client.get(path, headers=late)).text
    await pickup.client.post(f"{team.gatherings}/{gathering['id']}/sign-ups",
                             headers=pickup.headers())

    refused = await submit(pickup, page, "/inscription", late)
    now_full = await pickup.client.get(path, headers=late)

    assert refused.status_code == 409
    assert "cette animation est complète" in plain(refused.text)
    assert "Complet" in plain(now_full.text) and "/inscription" not in plain(now_full.text)


async def test_an_admin_schedules_changes_and_cancels_through_the_forms(pickup, team):
    cheese = await open_shop(pickup, team.hub_id, "Fromagerie du Trégor")
    admin = cookie(team.admin)
    calendar = f"/pickup/hubs/{team.hub_id}/animations"
    day = paris_evening().date()

    blank = (await pickup.client.get(f"{calendar}/nouvelle", headers=admin)).text
    backwards = await submit(pickup, blank, calendar, admin, title="Atelier pain",
                             date=day.isoformat(), debut="18:00", fin="17:00", places="8")
    created = await submit(pickup, blank, calendar, admin, title="Atelier pain",
                           description="Pétrir, façonner.", date=day.isoformat(), debut="18:00",
                           fin="20:00", places="8", boutiques=str(cheese), retraits="10")

    assert f'name="boutiques" value="{cheese}"' in blank
    assert backwards.status_code == 422
    assert "doit venir après son début" in plain(backwards.text)
    assert 'value="Atelier pain"' in plain(backwards.text)
    assert created.status_code == 303, created.text
    [scheduled] = await pickup.published(GatheringScheduled)
    assert scheduled.starts_at == datetime.combine(day, datetime.min.time().replace(hour=18),
                                                   PARIS)
    assert (scheduled.capacity, scheduled.shop_ids) == (8, [cheese])
    page = plain((await pickup.client.get(created.headers["location"], headers=admin)).text)
    assert "L'animation est programmée." in page
    assert "retirer vos commandes pendant l'animation" in page

    edit = (await pickup.client.get(f"{urlsplit(created.headers['location']).path}/modifier",
                                    headers=admin)).text
    assert 'value="Atelier pain"' in edit and 'value="18:00"' in edit and " checked" in edit
    changed = await submit(pickup, edit, "/modifier", admin, title="Atelier pain au levain")
    assert changed.status_code == 303, changed.text
    page = plain((await pickup.client.get(changed.headers["location"], headers=admin)).text)
    assert "Atelier pain au levain" in page

    no_reason = await submit(pickup, page, "/annulation", admin, raison="  ")
    cancelled = await submit(pickup, page, "/annulation", admin, raison="Four en panne")
    assert no_reason.status_code == 422
    assert cancelled.status_code == 303
    page = plain((await pickup.client.get(cancelled.headers["location"], headers=admin)).text)
    assert "Cette animation est annulée : Four en panne" in page
    assert [e.reason for e in await pickup.published(GatheringCancelled)] == ["Four en panne"]


async def test_the_admin_pages_are_for_the_hubs_admins(pickup, team):
    gathering = await schedule(pickup, team)
    calendar = f"/pickup/hubs/{team.hub_id}/animations"

    anonymous = await pickup.client.get(f"{calendar}/nouvelle")
    staff = await pickup.client.get(f"{calendar}/nouvelle", headers=cookie(team.staff))
    resident_edit = await pickup.client.get(f"{calendar}/{gathering['id']}/modifier",
                                            headers=cookie(pickup.headers()))
    staff_view = await pickup.client.get(f"{calendar}/{gathering['id']}",
                                         headers=cookie(team.staff))

    assert anonymous.status_code == 303
    assert (staff.status_code, resident_edit.status_code) == (403, 403)
    assert "/modifier" not in plain(staff_view.text) and "/annulation" not in plain(staff_view.text)
    assert "Inscrits et présences" in plain(staff_view.text)


async def test_staff_go_from_the_desk_to_the_list_and_tick_people_in(pickup, team):
    gathering = await starting_soon(pickup, team, title="Atelier couture")
    resident_id = uuid4()
    await pickup.client.post(f"{team.gatherings}/{gathering['id']}/sign-ups",
                             headers=pickup.headers(user_id=resident_id, email="eve@example.org"))
    walk_in = await pickup.register("fanny@example.org", "Fanny")
    staff = cookie(team.staff)

    desk = (await pickup.client.get(f"/pickup/desk/{team.hub_id}", headers=staff)).text
    listing_path = f"/pickup/desk/{team.hub_id}/animations"
    assert f'href="{listing_path}"' in desk
    listing = plain((await pickup.client.get(listing_path, headers=staff)).text)
    sheet_path = f"{listing_path}/{gathering['id']}"
    assert f'href="{sheet_path}"' in listing and "1 inscrit(s) sur 12" in listing
    sheet = (await pickup.client.get(sheet_path, headers=staff)).text
    assert "eve@example.org" in sheet

    ticked = await submit(pickup, sheet, "/presences", staff, button="Présent")
    sheet = plain((await pickup.client.get(ticked.headers["location"], headers=staff)).text)
    stranger = await submit(pickup, sheet, "/presences", staff, button="Enregistrer",
                            email="nobody@example.org")
    walked_in = await submit(pickup, sheet, "/presences", staff, button="Enregistrer",
                             email="fanny@example.org")
    final = plain((await pickup.client.get(walked_in.headers["location"], headers=staff)).text)

    assert ticked.status_code == 303 and "La présence est enregistrée." in sheet
    assert stranger.status_code == 422 and "aucun compte" in plain(stranger.text)
    assert walked_in.status_code == 303
    assert final.count("présent·e") == 2
    assert not [f for f in forms_of(final) if "Présent" in f.buttons]
    assert [e.user_id for e in await pickup.published(AttendanceRecorded)] == [resident_id,
                                                                               walk_in]


async def test_residents_and_other_hubs_staff_cannot_see_the_lists(pickup, team):
    gathering = await schedule(pickup, team)
    listing = f"/pickup/desk/{team.hub_id}/animations"

    anonymous = await pickup.client.get(listing)
    resident = await pickup.client.get(listing, headers=cookie(pickup.headers()))
    resident_sheet = await pickup.client.get(f"{listing}/{gathering['id']}",
                                             headers=cookie(pickup.headers()))

    assert anonymous.status_code == 303
    assert (resident.status_code, resident_sheet.status_code) == (403, 403)
