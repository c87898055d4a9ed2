"""A shop marks its part of a paid order prepared: its owner, or an administrator of its hub or of
the platform acting for it; once, however often it is asked; never once the part has left the
shop or the order is no longer confirmed. A prepared part is still the shop's to give up, and
staff check in a part never marked all the same."""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest

from libs.contracts.order import OrderLinesCancelled, OrderPartCancelled, OrderPartPrepared
from libs.contracts.pickup import HubStaffAssigned, PartDroppedOff, PickedUp, PickupReady
from libs.kit.errors import Conflict
from services.order.domain import PartStatus, PartTrigger, newly_prepared, part_after
from tests.services.order.conftest import (
    OrderService,
    Town,
    open_town,
    person,
    read_order,
    running_order_service,
)
from tests.services.order.test_line_withdrawals import withdraw
from tests.services.order.test_pages import session
from tests.services.order.test_parts import cancel, confirmed_order
from tests.services.order.test_saga import awaiting_payment


@pytest.mark.parametrize("trigger, after", [
    (PartTrigger.DROPPED_OFF, PartStatus.DROPPED_OFF),
    (PartTrigger.HANDED_OVER, PartStatus.HANDED_OVER),
    (PartTrigger.CANCELLED, PartStatus.CANCELLED),
    (PartTrigger.PREPARED, None),
])
def test_a_prepared_part_moves_on_as_a_pending_one_does(trigger, after):
    assert part_after(PartStatus.PREPARED, trigger) == after
    assert part_after(PartStatus.PENDING, PartTrigger.PREPARED) == PartStatus.PREPARED


@pytest.mark.parametrize("order_status, part_status, changes", [
    ("confirmed", "pending", True),
    ("confirmed", "prepared", False),
    ("ready", "prepared", False),
    ("awaiting_payment", "pending", Conflict),
    ("confirmed", "dropped_off", Conflict),
    ("confirmed", "cancelled", Conflict),
    ("completed", "handed_over", Conflict),
    ("cancelled", "cancelled", Conflict),
])
def test_only_a_pending_part_of_a_confirmed_order_becomes_prepared(order_status, part_status,
                                                                   changes):
    if changes is Conflict:
        with pytest.raises(Conflict):
            newly_prepared(order_status, part_status)
    else:
        assert newly_prepared(order_status, part_status) is changes


async def mark_prepared(service: OrderService, order_id, shop, who=None):
    return await service.client.post(
        f"/orders/api/v1/orders/{order_id}/parts/{shop.id}/prepared",
        headers=service.auth(who or shop.owner))


def part_statuses(order: dict) -> dict[str, str]:
    return {part["shop_id"]: part["status"] for part in order["parts"]}


async def test_the_owner_marks_its_part_prepared_and_the_event_says_so(service, town):
    order_id = await confirmed_order(service, town)

    done = await mark_prepared(service, order_id, town.bakery)

    assert done.status_code == 200, done.text
    assert (done.json()["order_id"], done.json()["status"]) == (str(order_id), "prepared")
    [event] = await service.published(OrderPartPrepared)
    assert (event.order_id, event.shop_id) == (order_id, town.bakery.id)
    assert event.prepared_at.utcoffset() is not None
    order = (await read_order(service, order_id, town.resident)).json()
    assert order["status"] == "confirmed"
    assert part_statuses(order) == {str(town.bakery.id): "prepared",
                                    str(town.cheese.id): "pending"}


async def test_marking_it_again_changes_nothing(service, town):
    order_id = await confirmed_order(service, town)
    first = await mark_prepared(service, order_id, town.bakery)

    again = await mark_prepared(service, order_id, town.bakery)

    assert again.status_code == 200, again.text
    assert again.json()["status"] == "prepared"
    assert first.json() == again.json()
    assert len(await service.published(OrderPartPrepared)) == 1


async def test_an_administrator_marks_it_for_the_shop_and_nobody_else_may(service, town):
    order_id = await confirmed_order(service, town)
    claude = person("Claude")
    await service.feed(HubStaffAssigned(hub_id=town.hub_id, user_id=claude.user_id,
                                        email=claude.email, role="admin"))

    for intruder in (town.cheese.owner, town.staff, town.other_staff, town.resident):
        refused = await mark_prepared(service, order_id, town.bakery, who=intruder)
        assert refused.status_code == 403, refused.text
    assert await service.published(OrderPartPrepared) == []

    for_shop = await mark_prepared(service, order_id, town.bakery, who=claude)
    by_platform = await mark_prepared(service, order_id, town.cheese, who=town.admin)
    assert (for_shop.status_code, by_platform.status_code) == (200, 200)
    assert {e.shop_id for e in await service.published(OrderPartPrepared)} == {
        town.bakery.id, town.cheese.id}


async def test_unknown_orders_shops_and_parts_are_not_found(service, town):
    order_id = await confirmed_order(service, town)
    missing = await mark_prepared(service, uuid.uuid4(), town.bakery)
    assert missing.status_code == 404
    no_shop = await service.client.post(
        f"/orders/api/v1/orders/{order_id}/parts/{uuid.uuid4()}/prepared",
        headers=service.auth(town.admin))
    assert no_shop.status_code == 404
    unsigned = await service.client.post(
        f"/orders/api/v1/orders/{order_id}/parts/{town.bakery.id}/prepared")
    assert unsigned.status_code == 401
    assert await service.published(OrderPartPrepared) == []


async def test_it_is_refused_before_payment_and_once_the_part_left_the_shop(service, town):
    unpaid, _ = await awaiting_payment(service, town)
    early = await mark_prepared(service, unpaid, town.bakery)
    assert early.status_code == 409
    assert "confirmed" in early.json()["error"]["message"]

    order_id = await confirmed_order(service, town)
    await service.feed(PartDroppedOff(order_id=order_id, shop_id=town.bakery.id))
    dropped = await mark_prepared(service, order_id, town.bakery)
    assert dropped.status_code == 409
    assert "dropped_off" in dropped.json()["error"]["message"]

    assert (await cancel(service, town, order_id, town.cheese)).status_code == 200
    cancelled = await mark_prepared(service, order_id, town.cheese)
    assert cancelled.status_code == 409
    assert "cancelled" in cancelled.json()["error"]["message"]
    assert await service.published(OrderPartPrepared) == []


async def test_it_is_refused_once_the_order_is_collected(service, town):
    order_id = await confirmed_order(service, town)
    for shop in (town.bakery, town.cheese):
        await service.feed(PartDroppedOff(order_id=order_id, shop_id=shop.id))
    await service.feed(PickupReady(order_id=order_id))
    await service.feed(PickedUp(order_id=order_id))

    late = await mark_prepared(service, order_id, town.bakery)

    assert late.status_code == 409
    assert await service.published(OrderPartPrepared) == []


async def test_a_prepared_part_goes_on_to_the_hub_and_is_handed_over(service, town):
    order_id = await confirmed_order(service, town)
    for shop in (town.bakery, town.cheese):
        assert (await mark_prepared(service, order_id, shop)).status_code == 200
    await service.feed(PartDroppedOff(order_id=order_id, shop_id=town.bakery.id))
    order = (await read_order(service, order_id, town.resident)).json()
    assert part_statuses(order)[str(town.bakery.id)] == "dropped_off"

    await service.feed(PartDroppedOff(order_id=order_id, shop_id=town.cheese.id))
    await service.feed(PickupReady(order_id=order_id))
    await service.feed(PickedUp(order_id=order_id))

    order = (await read_order(service, order_id, town.resident)).json()
    assert order["status"] == "completed"
    assert set(part_statuses(order).values()) == {"handed_over"}


async def test_a_prepared_part_may_still_be_given_up_or_lose_lines(service, town):
    order_id = await confirmed_order(service, town)
    await mark_prepared(service, order_id, town.bakery)
    await mark_prepared(service, order_id, town.cheese)

    withdrawn = await withdraw(service, order_id, town.bakery,
                               [(town.bakery.variant("Pain de campagne"), 1)])
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "prepared"
    cancelled = await cancel(service, town, order_id, town.cheese)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert len(await service.published(OrderLinesCancelled)) == 1
    assert len(await service.published(OrderPartCancelled)) == 1


async def test_the_order_cancelled_closes_a_prepared_part(service, town):
    order_id = await confirmed_order(service, town)
    await mark_prepared(service, order_id, town.bakery)
    await cancel(service, town, order_id, town.cheese)

    last = await cancel(service, town, order_id, town.bakery)

    assert last.status_code == 200, last.text
    order = (await read_order(service, order_id, town.resident)).json()
    assert order["status"] == "cancelled"
    assert set(part_statuses(order).values()) == {"cancelled"}


async def test_marked_at_once_it_is_prepared_once(tmp_path, database_url):
    async with running_order_service(tmp_path, database_url) as service:
        town: Town = await open_town(service)
        order_id = await confirmed_order(service, town)

        answers = await asyncio.gather(*(mark_prepared(service, order_id, town.bakery)
                                         for _ in range(4)))

        assert [answer.status_code for answer in answers] == [200] * 4
        assert len(await service.published(OrderPartPrepared)) == 1


async def test_the_shop_page_marks_a_part_prepared_and_shows_it_apart(service, town):
    order_id = await confirmed_order(service, town)
    owner = session(service, town.bakery.owner)
    page = await service.client.get(f"/orders/shops/{town.bakery.id}", headers=owner)
    action = f"/orders/shops/{town.bakery.id}/parts/{order_id}/prepared"
    assert f'action="{action}"' in page.text
    assert "Marquer comme préparée" in page.text
    assert "Préparées, à déposer au tiers-lieu" not in page.text

    done = await service.client.post(action, headers=owner)

    assert done.status_code == 303
    assert done.headers["location"] == f"/orders/shops/{town.bakery.id}?preparee=1"
    page = await service.client.get(done.headers["location"], headers=owner)
    assert "La part est marquée préparée" in page.text
    prepared = page.text.split("Préparées, à déposer au tiers-lieu", 1)[1]
    assert order_id.hex[:8] in prepared.replace("-", "")
    assert "<h2>À préparer</h2>" not in page.text
    assert f'action="{action}"' not in page.text
    assert "Annuler ma part" in page.text
    [event] = await service.published(OrderPartPrepared)
    assert event.shop_id == town.bakery.id


async def test_the_shop_page_says_why_a_part_cannot_be_marked(service, town):
    order_id = await confirmed_order(service, town)
    await service.feed(PartDroppedOff(order_id=order_id, shop_id=town.bakery.id))
    owner = session(service, town.bakery.owner)
    page = await service.client.get(f"/orders/shops/{town.bakery.id}", headers=owner)
    assert re.search(r"<h2>Déposées, remises ou annulées</h2>", page.text)

    refused = await service.client.post(
        f"/orders/shops/{town.bakery.id}/parts/{order_id}/prepared", headers=owner)

    assert refused.status_code == 409
    assert "Impossible de marquer la part préparée" in refused.text
    intruder = await service.client.post(
        f"/orders/shops/{town.bakery.id}/parts/{order_id}/prepared",
        headers=session(service, town.cheese.owner))
    assert intruder.status_code == 403
    signed_out = await service.client.post(
        f"/orders/shops/{town.bakery.id}/parts/{order_id}/prepared")
    assert signed_out.status_code == 303
    assert await service.published(OrderPartPrepared) == []
