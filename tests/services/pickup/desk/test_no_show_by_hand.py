"""Staff record by hand that a resident did not come, once the slot is over: by API or from the
desk's pages."""

from __future__ import annotations

from uuid import uuid4
from zoneinfo import ZoneInfo

from libs.contracts.pickup import NoShowRecorded
from tests.services.pickup.desk.support import (
    cookie_of,
    hours_ago,
    move_slot,
    open_shop,
    ready_order,
)

PARIS = ZoneInfo("Europe/Paris")


async def test_staff_record_a_no_show_once_the_slot_is_over(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    slot = await pickup.open_slot(hub_id)
    shop_id = uuid4()
    order_id = await ready_order(pickup, hub_id, staff, [shop_id], slot=slot)
    url = f"/pickup/api/v1/pickups/{order_id}/no-show"

    too_soon = await pickup.client.post(url, headers=staff)
    await move_slot(pickup, slot["id"], ends_at=hours_ago(0.5))
    by_resident = await pickup.client.post(url, headers=pickup.headers())
    recorded = await pickup.client.post(url, headers=staff)
    again = await pickup.client.post(url, headers=staff)

    assert too_soon.status_code == 409 and "pas terminé" in too_soon.text
    assert by_resident.status_code == 403
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["status"] == "no_show"
    assert again.status_code == 409
    [no_show] = await pickup.published(NoShowRecorded)
    assert (no_show.order_id, no_show.shop_ids) == (order_id, [shop_id])


async def test_the_desk_records_a_no_show_and_shows_the_goods_go_back(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    cookie = cookie_of(staff)
    slot = await pickup.open_slot(hub_id)
    shop_id = await open_shop(pickup, hub_id, "Le Fournil")
    lou = await pickup.register("lou@example.org", "Lou Martin")
    order_id = await ready_order(pickup, hub_id, staff, [shop_id], resident_id=lou, slot=slot)
    search = f"/pickup/desk/{hub_id}/recherche"

    before = await pickup.client.get(search, params={"q": "lou"}, headers=cookie)
    assert "Client absent" not in before.text
    await move_slot(pickup, slot["id"], ends_at=hours_ago(0.5))
    page = await pickup.client.get(search, params={"q": "lou"}, headers=cookie)
    assert "Client absent : non retirée" in page.text

    recorded = await pickup.client.post(f"/pickup/desk/{hub_id}/pickups/{order_id}/no-show",
                                        headers=cookie, data={"q": "lou"})
    refused = await pickup.client.post(f"/pickup/desk/{hub_id}/pickups/{order_id}/no-show",
                                       headers=cookie, data={"q": "lou"})

    assert recorded.status_code == 303
    after = await pickup.client.get(recorded.headers["location"], headers=cookie)
    assert "enregistrée comme non retirée" in after.text
    assert "non retirée</span>" in after.text and "À rendre aux boutiques." in after.text
    assert refused.status_code == 409 and "déjà enregistrée comme non retirée" in refused.text
    assert len(await pickup.published(NoShowRecorded)) == 1


async def test_the_days_desk_offers_the_no_show_after_the_slot(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    cookie = cookie_of(staff)
    slot = await pickup.open_slot(hub_id)
    order_id = await ready_order(pickup, hub_id, staff, [uuid4()], slot=slot)
    ends_at = hours_ago(0.5)
    await move_slot(pickup, slot["id"], ends_at=ends_at)
    day = ends_at.astimezone(PARIS).date().isoformat()

    page = await pickup.client.get(f"/pickup/desk/{hub_id}", params={"date": day},
                                   headers=cookie)
    recorded = await pickup.client.post(f"/pickup/desk/{hub_id}/pickups/{order_id}/no-show",
                                        headers=cookie, data={"date": day})

    assert f"/pickups/{order_id}/no-show" in page.text
    assert recorded.status_code == 303
    assert recorded.headers["location"].endswith(f"?date={day}&fait=absence")
