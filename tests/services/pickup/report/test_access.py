"""Who may read a hub's report, and what a period that cannot be read gets."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from libs.kit.months import Month


async def test_the_report_is_for_the_hubs_admins_and_the_platforms(pickup, history):
    other_hub = await pickup.open_hub()
    other_admin = await pickup.hub_member(other_hub, "admin")
    answers = {
        who: (await pickup.client.get(history.report, headers=headers)).status_code
        for who, headers in (("admin", history.admin), ("platform", pickup.admin),
                             ("staff", history.staff), ("resident", pickup.headers()),
                             ("other hub's admin", other_admin), ("anonymous", {}))
    }

    assert answers == {"admin": 200, "platform": 200, "staff": 403, "resident": 403,
                       "other hub's admin": 403, "anonymous": 401}
    unknown = await pickup.client.get(f"/pickup/api/v1/hubs/{uuid4()}/report", headers=pickup.admin)
    assert unknown.status_code == 404


async def test_the_pages_send_strangers_to_sign_in_and_say_no_to_staff(pickup, history):
    anonymous = await pickup.client.get(history.page + "?from=2026-02&to=2026-04")
    anonymous_csv = await pickup.client.get(history.page + ".csv")
    staff = await pickup.client.get(history.page, headers=history.staff)
    staff_csv = await pickup.client.get(history.page + ".csv", headers=history.staff)

    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == (
        f"/accounts/login?next=%2Fpickup%2Fhubs%2F{history.hub_id}%2Frapport"
        "%3Ffrom%3D2026-02%26to%3D2026-04")
    assert anonymous_csv.status_code == 303
    assert (staff.status_code, staff_csv.status_code) == (403, 403)
    assert "Rapport réservé aux administrateurs du tiers-lieu" in staff.text
    assert "Ventes" not in staff_csv.text


async def test_a_period_that_cannot_be_read_is_refused_clearly(pickup, history):
    backwards = await pickup.client.get(history.report + "?from=2026-04&to=2026-02",
                                        headers=history.admin)
    no_such_month = await pickup.client.get(history.report + "?from=2026-13",
                                            headers=history.admin)
    too_long = await pickup.client.get(history.report + "?from=2020-01&to=2026-01",
                                       headers=history.admin)
    not_a_month = await pickup.client.get(history.report + "?to=mars", headers=history.admin)
    page = await pickup.client.get(history.page + "?from=2026-04&to=2026-02", headers=history.admin)

    assert [r.status_code for r in (backwards, no_such_month, too_long, not_a_month)] == [
        422, 422, 422, 422]
    assert "après sa fin" in backwards.json()["error"]["message"]
    assert "2026-13" in no_such_month.json()["error"]["message"]
    assert "36 mois" in too_long.json()["error"]["message"]
    assert page.status_code == 422
    assert "la période commence (2026-04) après sa fin (2026-02)" in page.text
    assert "<h1>Rapport d'activité" in page.text


async def test_without_a_period_the_report_covers_the_last_six_months(pickup, history):
    report = (await pickup.client.get(history.report, headers=history.admin)).json()

    this_month = Month.of(datetime.now(UTC))
    assert (report["first_month"], report["last_month"]) == (
        str(this_month.shifted(-5)), str(this_month))
    assert len(report["months"]) == 6


async def test_the_desk_index_leads_to_the_report(pickup, history):
    index = await pickup.client.get("/pickup/desk", headers=history.admin)

    assert index.status_code == 200
    assert f'href="/pickup/hubs/{history.hub_id}/rapport">Rapport d' in index.text
