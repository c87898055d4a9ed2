"""Drop-offs onto a shelf: where staff put each part, shown when the order is handed over."""

from __future__ import annotations

from uuid import uuid4

from libs.contracts.pickup import PartDroppedOff
from tests.services.pickup.desk.support import cookie_of, open_shop, residents_order


async def test_a_part_checked_in_on_a_shelf_shows_where_it_is(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    baker, cheese = await open_shop(pickup, hub_id, "Le Fournil"), uuid4()
    order_id = await residents_order(pickup, hub_id, [baker, cheese], uuid4())
    url = f"/pickup/api/v1/pickups/{order_id}/drop-offs"

    dropped = await pickup.client.post(url, headers=staff,
                                       json={"shop_id": str(baker), "shelf": "  étagère   B2 "})
    plain = await pickup.client.post(url, headers=staff, json={"shop_id": str(cheese)})

    assert dropped.status_code == 200, dropped.text
    shelves = {p["shop_id"]: p["shelf"] for p in plain.json()["parts"]}
    assert shelves == {str(baker): "étagère B2", str(cheese): ""}
    assert plain.json()["status"] == "ready"
    page = await pickup.client.get(f"/pickup/desk/{hub_id}/recherche", headers=cookie_of(staff),
                                   params={"q": await pickup.code_of(order_id)})
    assert "Le Fournil" in page.text and "<strong>étagère B2</strong>" in page.text


async def test_checking_a_part_in_again_moves_it_without_a_second_event(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    shop_id = uuid4()
    order_id = await residents_order(pickup, hub_id, [shop_id, uuid4()], uuid4())
    url = f"/pickup/api/v1/pickups/{order_id}/drop-offs"

    await pickup.client.post(url, headers=staff, json={"shop_id": str(shop_id), "shelf": "A1"})
    moved = await pickup.client.post(url, headers=staff,
                                     json={"shop_id": str(shop_id), "shelf": "frigo"})
    kept = await pickup.client.post(url, headers=staff, json={"shop_id": str(shop_id)})

    assert moved.status_code == 200
    [part] = [p for p in kept.json()["parts"] if p["shop_id"] == str(shop_id)]
    assert part["shelf"] == "frigo"
    assert len(await pickup.published(PartDroppedOff)) == 1


async def test_a_shelf_too_long_is_refused_and_nothing_is_checked_in(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    shop_id = uuid4()
    order_id = await residents_order(pickup, hub_id, [shop_id], uuid4())

    api = await pickup.client.post(f"/pickup/api/v1/pickups/{order_id}/drop-offs", headers=staff,
                                   json={"shop_id": str(shop_id), "shelf": "x" * 41})
    page = await pickup.client.post(f"/pickup/desk/{hub_id}/pickups/{order_id}/drop-off",
                                    headers=cookie_of(staff),
                                    data={"shop_id": str(shop_id), "shelf": "x" * 41})

    assert (api.status_code, page.status_code) == (422, 422)
    assert await pickup.published(PartDroppedOff) == []


async def test_the_desks_drop_off_form_takes_the_shelf(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    shop_id = await open_shop(pickup, hub_id, "Fromagerie du Trégor")
    order_id = await residents_order(pickup, hub_id, [shop_id], uuid4())
    cookie = cookie_of(staff)

    dropped = await pickup.client.post(f"/pickup/desk/{hub_id}/pickups/{order_id}/drop-off",
                                       headers=cookie,
                                       data={"shop_id": str(shop_id), "shelf": "frigo 2"})

    assert dropped.status_code == 303
    shown = await pickup.client.get(f"/pickup/api/v1/pickups/{order_id}", headers=staff)
    assert shown.json()["parts"][0]["shelf"] == "frigo 2"
