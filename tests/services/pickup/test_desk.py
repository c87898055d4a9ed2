"""The desk: the day's pickups by slot, as JSON and as the staff's French pages."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from libs.contracts.catalog import ShopOpened
from libs.contracts.pickup import PartDroppedOff, PickedUp

PARIS = ZoneInfo("Europe/Paris")
BAKER = uuid4()


def at_paris(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), PARIS)


@pytest.fixture
def day() -> date:
    return datetime.now(PARIS).date() + timedelta(days=2)


async def test_the_days_pickups_come_by_slot_in_paris_time(pickup, day):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    morning = await pickup.open_slot(hub_id, starts_at=at_paris(day, 10))
    late = await pickup.open_slot(hub_id, starts_at=at_paris(day, 23, 30))
    await pickup.open_slot(hub_id, starts_at=at_paris(day + timedelta(days=1), 0, 30))
    order_id = await pickup.confirmed_order(hub_id, [BAKER], slot=morning)

    sheet = await pickup.client.get(f"/pickup/api/v1/hubs/{hub_id}/pickups",
                                    params={"date": day.isoformat()}, headers=staff)

    assert sheet.status_code == 200, sheet.text
    body = sheet.json()
    assert body["date"] == day.isoformat()
    assert [s["id"] for s in body["slots"]] == [morning["id"], late["id"]]
    [booked] = body["slots"][0]["pickups"]
    assert (booked["order_id"], booked["status"]) == (str(order_id), "scheduled")
    assert [p["shop_id"] for p in booked["parts"]] == [str(BAKER)]
    assert body["slots"][0]["remaining"] == 4
    assert body["slots"][1]["pickups"] == []


async def test_the_days_pickups_default_to_today_and_are_for_staff_only(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    url = f"/pickup/api/v1/hubs/{hub_id}/pickups"

    today = await pickup.client.get(url, headers=staff)
    resident = await pickup.client.get(url, headers=pickup.headers())
    anonymous = await pickup.client.get(url)
    bad_date = await pickup.client.get(url, params={"date": "31/12/2026"}, headers=staff)

    assert today.json() == {"hub_id": hub_id, "date": datetime.now(PARIS).date().isoformat(),
                            "slots": []}
    assert (resident.status_code, anonymous.status_code, bad_date.status_code) == (403, 401, 422)


def session_cookie(pickup, **who) -> dict[str, str]:
    return {"Cookie": f"adopte_session={pickup.token(**who)}"}


async def staff_cookie(pickup, hub_id: str) -> dict[str, str]:
    bearer = await pickup.hub_member(hub_id)
    return {"Cookie": "adopte_session=" + bearer["Authorization"].removeprefix("Bearer ")}


async def test_the_desk_sends_strangers_to_sign_in_and_refuses_residents(pickup):
    hub_id = await pickup.open_hub()
    desk = f"/pickup/desk/{hub_id}"

    anonymous = await pickup.client.get(desk, params={"date": "2030-01-02"})
    expired = await pickup.client.get(desk, headers={"Cookie": "adopte_session=not-a-token"})
    resident = await pickup.client.get(desk, headers=session_cookie(pickup))
    unknown = await pickup.client.get(f"/pickup/desk/{uuid4()}",
                                      headers=session_cookie(pickup, roles={"platform_admin"}))

    assert (anonymous.status_code, expired.status_code) == (303, 303)
    location = urlsplit(anonymous.headers["location"])
    assert location.path == "/accounts/login"
    assert parse_qs(location.query)["next"] == [f"{desk}?date=2030-01-02"]
    assert resident.status_code == 403
    assert "Accès réservé" in resident.text and 'lang="fr"' in resident.text
    assert unknown.status_code == 404 and "introuvable" in unknown.text


async def test_staff_check_in_parts_and_hand_over_from_the_desk(pickup, day):
    hub_id = await pickup.open_hub()
    cookie = await staff_cookie(pickup, hub_id)
    await pickup.feed(ShopOpened(shop_id=BAKER, hub_id=hub_id, name="Boulangerie Le Fournil",
                                 owner_id=uuid4(), owner_email="fournil@example.org"))
    slot = await pickup.open_slot(hub_id, starts_at=at_paris(day, 17))
    order_id = await pickup.confirmed_order(hub_id, [BAKER], slot=slot)
    desk = f"/pickup/desk/{hub_id}"
    short_id = str(order_id)[:8].upper()

    page = await pickup.client.get(desk, params={"date": day.isoformat()}, headers=cookie)
    assert page.status_code == 200
    assert f"Commande {short_id}" in page.text and "Boulangerie Le Fournil" in page.text
    assert "17:00" in page.text and ">Déposé</button>" in page.text

    dropped = await pickup.client.post(f"{desk}/pickups/{order_id}/drop-off", headers=cookie,
                                       data={"shop_id": str(BAKER), "date": day.isoformat()})
    assert dropped.status_code == 303
    assert [e.shop_id for e in await pickup.published(PartDroppedOff)] == [BAKER]
    page = await pickup.client.get(dropped.headers["location"], headers=cookie)
    assert "enregistrée comme déposée" in page.text
    assert "Code de retrait" in page.text and ">Déposé</button>" not in page.text

    wrong = await pickup.client.post(f"{desk}/pickups/{order_id}/handover", headers=cookie,
                                     data={"code": "0000", "date": day.isoformat()})
    assert wrong.status_code == 422
    assert f"Commande {short_id} : code de retrait incorrect" in wrong.text
    assert await pickup.published(PickedUp) == []

    handed = await pickup.client.post(f"{desk}/pickups/{order_id}/handover", headers=cookie,
                                      data={"code": await pickup.code_of(order_id),
                                            "date": day.isoformat()})
    assert handed.status_code == 303
    page = await pickup.client.get(handed.headers["location"], headers=cookie)
    assert "La commande est remise." in page.text and "Remise à" in page.text
    assert [e.order_id for e in await pickup.published(PickedUp)] == [order_id]


async def test_the_desk_index_lists_the_hubs_one_works_at(pickup):
    hub_id, other_hub_id = await pickup.open_hub(), await pickup.open_hub()
    cookie = await staff_cookie(pickup, hub_id)

    page = await pickup.client.get("/pickup/desk", headers=cookie)

    assert page.status_code == 200
    assert f"/pickup/desk/{hub_id}" in page.text
    assert f"/pickup/desk/{other_hub_id}" not in page.text

