"""The pickup pages speak English to whoever chose it (the ``adopte_lang`` cookie, set by any
page's ``?lang=en``), French to everyone else: their words, the rules' refusals, the dates,
months and weekdays, the report's charts."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

from libs.contracts.catalog import ShopOpened
from tests.services.pickup.gatherings.conftest import schedule, team_of_a_new_hub

PARIS = ZoneInfo("Europe/Paris")
BAKER = uuid4()


def in_english(cookie: dict[str, str]) -> dict[str, str]:
    return {"Cookie": cookie["Cookie"] + "; adopte_lang=en"}


async def staff_cookie(pickup, hub_id: str, role: str = "staff") -> dict[str, str]:
    bearer = await pickup.hub_member(hub_id, role)
    return {"Cookie": "adopte_session=" + bearer["Authorization"].removeprefix("Bearer ")}


async def test_the_desk_speaks_english_to_staff_who_chose_it_and_french_by_default(pickup):
    hub_id = await pickup.open_hub()
    french = await staff_cookie(pickup, hub_id)
    english = in_english(french)
    await pickup.feed(ShopOpened(shop_id=BAKER, hub_id=hub_id, name="Boulangerie Le Fournil",
                                 owner_id=uuid4(), owner_email="fournil@example.org"))
    day = datetime.now(PARIS).date() + timedelta(days=2)
    slot = await pickup.open_slot(hub_id, starts_at=datetime.combine(day, time(17), PARIS))
    order_id = await pickup.confirmed_order(hub_id, [BAKER], slot=slot)
    desk, short_id = f"/pickup/desk/{hub_id}", str(order_id)[:8].upper()

    page = await pickup.client.get(desk, params={"date": day.isoformat()}, headers=english)
    default = await pickup.client.get(desk, params={"date": day.isoformat()}, headers=french)

    assert page.status_code == 200 and 'lang="en"' in page.text
    assert f"Pickups on {format_date(day, 'EEEE d MMMM y', locale='en_GB')}" in page.text
    assert f"Order {short_id}" in page.text and "waiting for drop-offs" in page.text
    assert ">Dropped off</button>" in page.text and "Retraits du" not in page.text
    assert 'lang="fr"' in default.text
    assert f"Retraits du {format_date(day, 'EEEE d MMMM y', locale='fr_FR')}" in default.text
    assert f"Commande {short_id}" in default.text and ">Déposé</button>" in default.text

    wrong = await pickup.client.post(f"{desk}/pickups/{order_id}/drop-off", headers=english,
                                     data={"shop_id": str(uuid4()), "date": day.isoformat()})
    assert wrong.status_code == 404
    assert f"Order {short_id}: shop " in wrong.text and "has no part in this order" in wrong.text


async def test_the_public_pages_switch_to_english_with_lang_in_the_link(pickup):
    hub_id = await pickup.open_hub()
    hub_page = f"/pickup/hubs/{hub_id}"
    french = await pickup.client.get(hub_page)

    switched = await pickup.client.get(hub_page, params={"lang": "en"})
    assert switched.status_code == 303 and switched.headers["location"] == hub_page
    chosen = {"Cookie": switched.headers["set-cookie"].split(";")[0]}
    page = await pickup.client.get(hub_page, headers=chosen)
    calendar = await pickup.client.get(f"{hub_page}/animations", headers=chosen)

    assert "Opening hours" in page.text and "Order for pickup here" in page.text
    assert "has not published its opening hours yet" in page.text
    assert "No events are planned for now. Come back soon!" in calendar.text
    assert "Horaires d'ouverture" in french.text and "Opening hours" not in french.text


async def test_the_report_names_months_charts_and_weekdays_in_english(pickup):
    hub_id = await pickup.open_hub()
    admin = await staff_cookie(pickup, hub_id, "admin")
    report = f"/pickup/hubs/{hub_id}/rapport"
    period = {"from": "2026-01", "to": "2026-02"}

    page = await pickup.client.get(report, params=period, headers=in_english(admin))
    default = await pickup.client.get(report, params=period, headers=admin)
    backwards = await pickup.client.get(report, params={"from": "2026-03", "to": "2026-01"},
                                        headers=in_english(admin))

    assert page.status_code == 200
    assert "Activity report" in page.text and "January 2026" in page.text
    assert "Sales by month and by shop" in page.text and "Visits to the community hub by week"\
        in page.text
    assert f">{format_date(date(2026, 1, 5), 'd MMM', locale='en_GB')}</text>" in page.text
    assert "janvier 2026" in default.text and "Ventes par mois et par boutique" in default.text
    assert backwards.status_code == 422
    assert "the period starts (2026-03) after its end (2026-01)" in backwards.text


async def test_the_events_and_the_admins_pages_speak_english(pickup):
    team = await team_of_a_new_hub(pickup)
    gathering = await schedule(pickup, team)
    admin = in_english({"Cookie": "adopte_session="
                        + team.admin["Authorization"].removeprefix("Bearer ")})
    hub = f"/pickup/hubs/{team.hub_id}"
    starts = datetime.fromisoformat(gathering["starts_at"])
    when = format_datetime(starts.astimezone(PARIS), "EEEE d MMMM y 'at' HH:mm", locale="en_GB")

    calendar = await pickup.client.get(f"{hub}/animations", headers=admin)
    page = await pickup.client.get(f"{hub}/animations/{gathering['id']}", headers=admin)
    form = await pickup.client.get(f"{hub}/animations/{gathering['id']}/modifier", headers=admin)
    sheet = await pickup.client.get(f"/pickup/desk/{team.hub_id}/animations/{gathering['id']}",
                                    headers=admin)
    hours = await pickup.client.get(f"{hub}/horaires", headers=admin)
    no_show = await pickup.client.get(f"{hub}/absences", headers=admin)

    assert when in calendar.text and "12 places left of 12" in calendar.text
    assert "Cancel the event" in page.text and "Add to my diary (.ics)" in page.text
    assert "Edit the event" in form.text and "Places to sign up for" in form.text
    assert "Nobody has signed up yet." in sheet.text
    assert "attendance can be recorded from one hour before the start" in sheet.text.lower()
    assert "Typical week" in hours.text and ">Monday</label>" in hours.text
    assert "No-show rules" in no_show.text and "they get a reminder 2 h after" in no_show.text
