"""The hub's lead time and closed slots: what is offered, what is refused, and what the other
services are told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from libs.contracts.pickup import SlotClosed, SlotHeld, SlotOpened, SlotUnavailable
from services.pickup.domain import SLOT_CLOSED, SLOT_TOO_SOON
from tests.services.pickup.conftest import placed
from tests.services.pickup.schedule.support import hub_with_admin, put_hours


def soon(hours: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours)


async def offered(pickup, hub_id: str) -> list[str]:
    return [s["id"] for s in (await pickup.client.get(f"/pickup/api/v1/hubs/{hub_id}/slots")
                              ).json()]


async def test_slots_within_the_lead_time_are_neither_offered_nor_held(pickup):
    hub_id, admin = await hub_with_admin(pickup)
    await put_hours(pickup, hub_id, admin, {}, lead_time_hours=24)
    too_soon = await pickup.open_slot(hub_id, starts_at=soon(3))
    in_time = await pickup.open_slot(hub_id, starts_at=soon(30))
    late_order, timely_order = uuid4(), uuid4()

    await pickup.feed(placed(late_order, hub_id, too_soon["id"]))
    await pickup.feed(placed(timely_order, hub_id, in_time["id"]))

    assert await offered(pickup, hub_id) == [in_time["id"]]
    [refused] = await pickup.published(SlotUnavailable)
    assert (refused.order_id, refused.reason) == (late_order, SLOT_TOO_SOON)
    assert [e.order_id for e in await pickup.published(SlotHeld)] == [timely_order]


async def test_slots_say_until_when_orders_may_choose_them(pickup):
    hub_id, admin = await hub_with_admin(pickup)
    await put_hours(pickup, hub_id, admin, {}, lead_time_hours=12)
    slot = await pickup.open_slot(hub_id, starts_at=soon(48))

    [opened] = await pickup.published(SlotOpened)

    assert opened.slot_id == UUID(slot["id"])
    assert opened.bookable_until == opened.starts_at - timedelta(hours=12)


async def test_a_new_lead_time_reaches_the_slots_already_open(pickup):
    hub_id, admin = await hub_with_admin(pickup)
    slot = await pickup.open_slot(hub_id, starts_at=soon(48))
    past_one = await pickup.open_slot(hub_id, starts_at=soon(72))
    await pickup.client.post(f"/pickup/api/v1/hubs/{hub_id}/slots/{past_one['id']}/close",
                             json={"reason": "annulé"}, headers=admin)

    await put_hours(pickup, hub_id, admin, {}, lead_time_hours=36)
    await put_hours(pickup, hub_id, admin, {}, lead_time_hours=36)  # unchanged: nothing to say

    restated = (await pickup.published(SlotOpened))[2:]
    assert [(str(e.slot_id), e.starts_at - e.bookable_until) for e in restated] == [
        (slot["id"], timedelta(hours=36))]


async def test_hubs_without_hours_keep_holding_until_the_slot_starts(pickup):
    hub_id = await pickup.open_hub()
    slot = await pickup.open_slot(hub_id, starts_at=soon(0.5))

    await pickup.feed(placed(uuid4(), hub_id, slot["id"]))

    assert len(await pickup.published(SlotHeld)) == 1
    [opened] = await pickup.published(SlotOpened)
    assert opened.bookable_until == opened.starts_at


async def test_staff_close_a_slot_and_no_order_may_choose_it_any_more(pickup):
    hub_id, _ = await hub_with_admin(pickup)
    staff = await pickup.hub_member(hub_id, "staff")
    slot = await pickup.open_slot(hub_id, capacity=3)
    first = uuid4()
    await pickup.feed(placed(first, hub_id, slot["id"]))
    url = f"/pickup/api/v1/hubs/{hub_id}/slots/{slot['id']}/close"

    response = await pickup.client.post(url, json={"reason": "fuite d'eau"}, headers=staff)
    again = await pickup.client.post(url, json={"reason": "fuite d'eau"}, headers=staff)
    late = uuid4()
    await pickup.feed(placed(late, hub_id, slot["id"]))

    assert response.status_code == 200 and response.json()["closed_at"]
    assert again.status_code == 409
    [closed] = await pickup.published(SlotClosed)
    assert (str(closed.slot_id), closed.reason) == (slot["id"], "fuite d'eau")
    [refused] = await pickup.published(SlotUnavailable)
    assert (refused.order_id, refused.reason) == (late, SLOT_CLOSED)
    assert [e.order_id for e in await pickup.published(SlotHeld)] == [first]
    assert await offered(pickup, hub_id) == []


async def test_closing_a_slot_is_for_its_hubs_staff(pickup):
    hub_id, _ = await hub_with_admin(pickup)
    other_hub_id, other_admin = await hub_with_admin(pickup)
    slot = await pickup.open_slot(hub_id)
    body = {"reason": "travaux"}

    outsider = await pickup.client.post(f"/pickup/api/v1/hubs/{hub_id}/slots/{slot['id']}/close",
                                        json=body, headers=other_admin)
    wrong_hub = await pickup.client.post(
        f"/pickup/api/v1/hubs/{other_hub_id}/slots/{slot['id']}/close", json=body,
        headers=other_admin)
    no_reason = await pickup.client.post(
        f"/pickup/api/v1/hubs/{hub_id}/slots/{slot['id']}/close", json={"reason": " "},
        headers=pickup.admin)

    assert (outsider.status_code, wrong_hub.status_code, no_reason.status_code) == (403, 404, 422)
    assert await pickup.published(SlotClosed) == []
