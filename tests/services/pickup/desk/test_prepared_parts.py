"""Parts the shops say are prepared (OrderPartPrepared): kept on the pickup's parts and shown at
the desk, which checks in a part never said prepared all the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

from libs.contracts.order import OrderPartPrepared
from libs.contracts.pickup import PartDroppedOff
from tests.services.pickup.desk.support import cookie_of, open_shop, residents_order

PARIS = ZoneInfo("Europe/Paris")


def prepared(order_id, shop_id, at: datetime) -> OrderPartPrepared:
    return OrderPartPrepared(order_id=order_id, shop_id=shop_id, prepared_at=at)


async def prepared_at_by_shop(pickup, order_id, staff) -> dict[str, str | None]:
    shown = await pickup.client.get(f"/pickup/api/v1/pickups/{order_id}", headers=staff)
    assert shown.status_code == 200, shown.text
    return {part["shop_id"]: part["prepared_at"] for part in shown.json()["parts"]}


async def test_the_shops_word_is_kept_on_its_part_the_first_time(pickup_on_each_engine):
    pickup = pickup_on_each_engine
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    baker, cheese = uuid4(), uuid4()
    order_id = await residents_order(pickup, hub_id, [baker, cheese], uuid4())
    at = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)

    await pickup.feed(prepared(order_id, baker, at))
    await pickup.feed(prepared(order_id, baker, at + timedelta(hours=1)))

    kept = await prepared_at_by_shop(pickup, order_id, staff)
    assert datetime.fromisoformat(kept[str(baker)]) == at
    assert kept[str(cheese)] is None
    assert await pickup.published(OrderPartPrepared) == []


async def test_a_part_or_order_it_does_not_expect_is_ignored(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    shop_id = uuid4()
    order_id = await residents_order(pickup, hub_id, [shop_id], uuid4())

    await pickup.feed(prepared(uuid4(), shop_id, datetime.now(UTC)))
    await pickup.feed(prepared(order_id, uuid4(), datetime.now(UTC)))

    assert await prepared_at_by_shop(pickup, order_id, staff) == {str(shop_id): None}


async def test_a_part_never_said_prepared_is_checked_in_all_the_same(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    shop_id = uuid4()
    order_id = await residents_order(pickup, hub_id, [shop_id], uuid4())

    dropped = await pickup.client.post(f"/pickup/api/v1/pickups/{order_id}/drop-offs",
                                       json={"shop_id": str(shop_id)}, headers=staff)

    assert dropped.status_code == 200, dropped.text
    assert dropped.json()["status"] == "ready"
    assert len(await pickup.published(PartDroppedOff)) == 1


async def test_the_desk_shows_which_parts_the_shops_say_are_prepared(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    baker = await open_shop(pickup, hub_id, "Le Fournil")
    cheese = await open_shop(pickup, hub_id, "Fromagerie du Trégor")
    slot = await pickup.open_slot(hub_id)
    order_id = await residents_order(pickup, hub_id, [baker, cheese], uuid4(), slot=slot)
    await pickup.feed(prepared(order_id, baker, datetime(2026, 11, 23, 8, 30, tzinfo=UTC)))
    day = datetime.fromisoformat(slot["starts_at"]).astimezone(PARIS).date()

    sheet = await pickup.client.get(f"/pickup/desk/{hub_id}", headers=cookie_of(staff),
                                    params={"date": day.isoformat()})
    found = await pickup.client.get(f"/pickup/desk/{hub_id}/recherche", headers=cookie_of(staff),
                                    params={"q": await pickup.code_of(order_id)})

    for page in (sheet, found):
        assert page.status_code == 200, page.text
        text = " ".join(page.text.split())
        baker_line = text.split("Le Fournil :", 1)[1].split("</li>", 1)[0]
        cheese_line = text.split("Fromagerie du Trégor :", 1)[1].split("</li>", 1)[0]
        assert "préparée selon la boutique (lundi 23 novembre 2026 à 09:30)" in baker_line
        assert "pas encore annoncée préparée" in cheese_line
        assert "préparée selon la boutique" not in cheese_line
        assert baker_line.count("/drop-off") == cheese_line.count("/drop-off") == 1
