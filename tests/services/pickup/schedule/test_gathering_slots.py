"""Slots attached to a gathering: opened in the gathering's transaction, labelled with its title,
closed with it, left alone by the opening hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from libs.contracts.pickup import SlotClosed, SlotHeld, SlotOpened
from libs.kit.errors import Unprocessable
from services.pickup.schedule.domain import DURING_GATHERING
from services.pickup.schedule.use_cases import close_gathering_slots, open_gathering_slot
from tests.services.pickup.conftest import placed
from tests.services.pickup.schedule.support import hub_with_admin, put_hours

THURSDAY_EVENING = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)


async def open_for(pickup, hub_id: str, gathering_id: UUID, *, title: str = "Dégustation de "
                   "fromages", starts_at: datetime = THURSDAY_EVENING, hours: float = 2,
                   capacity: int = 10):
    async with pickup.runtime.unit_of_work() as uow:
        return await open_gathering_slot(uow, UUID(hub_id), gathering_id, title, starts_at,
                                         starts_at + timedelta(hours=hours), capacity)


async def test_a_gathering_offers_collection_during_it(pickup):
    hub_id = await pickup.open_hub()
    gathering_id = uuid4()

    slot = await open_for(pickup, hub_id, gathering_id, title="  Dégustation   de fromages ")

    [opened] = await pickup.published(SlotOpened)
    assert (opened.slot_id, opened.gathering_id, opened.label) == (
        slot.id, gathering_id, "Dégustation de fromages")
    assert (opened.starts_at, opened.capacity) == (THURSDAY_EVENING, 10)
    [listed] = (await pickup.client.get(f"/pickup/api/v1/hubs/{hub_id}/slots")).json()
    assert (listed["label"], listed["gathering_id"]) == ("Dégustation de fromages",
                                                         str(gathering_id))
    assert slot.origin == DURING_GATHERING


async def test_a_gathering_opens_its_slot_once(pickup):
    hub_id = await pickup.open_hub()
    gathering_id = uuid4()

    first = await open_for(pickup, hub_id, gathering_id)
    second = await open_for(pickup, hub_id, gathering_id)

    assert first.id == second.id
    assert len(await pickup.published(SlotOpened)) == 1


async def test_orders_collect_during_the_gathering_and_its_cancellation_closes_the_slot(pickup):
    hub_id = await pickup.open_hub()
    gathering_id = uuid4()
    slot = await open_for(pickup, hub_id, gathering_id, capacity=2)
    await pickup.feed(placed(uuid4(), hub_id, str(slot.id)))

    async with pickup.runtime.unit_of_work() as uow:
        await close_gathering_slots(uow, gathering_id, "animation annulée")

    assert len(await pickup.published(SlotHeld)) == 1
    [closed] = await pickup.published(SlotClosed)
    assert (closed.slot_id, closed.reason) == (slot.id, "animation annulée")
    assert (await pickup.client.get(f"/pickup/api/v1/hubs/{hub_id}/slots")).json() == []


async def test_the_opening_hours_leave_gathering_slots_alone(pickup):
    hub_id, admin = await hub_with_admin(pickup)
    await open_for(pickup, hub_id, uuid4())
    await put_hours(pickup, hub_id, admin, {}, horizon_days=7)

    result = (await pickup.client.post(f"/pickup/api/v1/hubs/{hub_id}/slots/generate",
                                       headers=admin)).json()

    assert result == {"opened": [], "closed": [], "kept_held": []}
    assert len((await pickup.client.get(f"/pickup/api/v1/hubs/{hub_id}/slots")).json()) == 1


@pytest.mark.parametrize(("change", "message"), [
    ({"hours": -1}, "après son début"), ({"capacity": 0}, "au moins une"),
    ({"starts_at": THURSDAY_EVENING.replace(tzinfo=None)}, "fuseau")])
async def test_a_gathering_slot_that_cannot_be_is_refused(pickup, change, message):
    hub_id = await pickup.open_hub()

    with pytest.raises(Unprocessable, match=message):
        await open_for(pickup, hub_id, uuid4(), **change)
    assert await pickup.published(SlotOpened) == []
