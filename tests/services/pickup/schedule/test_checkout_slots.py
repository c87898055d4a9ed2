"""What the order service makes of the hub's slot events at checkout: a gathering's slot says
so, a closed slot or one past the hub's lead time is neither offered nor accepted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from libs.contracts.pickup import SlotClosed, SlotOpened
from tests.services.order.conftest import Town, open_town, place, running_order_service


@pytest.fixture
async def orders(tmp_path):
    async with running_order_service(tmp_path) as running:
        yield running


@pytest.fixture
async def hub(orders) -> Town:
    return await open_town(orders)


async def open_slot(orders, hub: Town, *, hours_ahead: float = 30, lead_hours: float = 0,
                    label: str = "", gathering_id: uuid.UUID | None = None) -> uuid.UUID:
    slot_id = uuid.uuid4()
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours_ahead)
    await orders.feed(SlotOpened(
        slot_id=slot_id, hub_id=hub.hub_id, starts_at=starts, ends_at=starts + timedelta(hours=2),
        capacity=10, label=label, gathering_id=gathering_id,
        bookable_until=starts - timedelta(hours=lead_hours)))
    return slot_id


async def basket_page(orders, hub: Town) -> str:
    page = await orders.client.get(f"/orders/hubs/{hub.hub_id}")
    assert page.status_code == 200
    return page.text


async def test_a_gathering_slot_is_offered_as_collection_during_it(orders, hub):
    slot_id = await open_slot(orders, hub, label="Dégustation de fromages",
                              gathering_id=uuid.uuid4())

    page = await basket_page(orders, hub)

    assert f'value="{slot_id}"' in page
    assert "Retrait pendant : Dégustation de fromages" in page
    hub.slot_id = slot_id
    placed = await place(orders, hub, bread=1)
    assert placed.status_code == 202, placed.text
    order = await orders.client.get(f"/orders/api/v1/orders/{placed.json()['id']}",
                                     headers=orders.auth(hub.resident))
    assert order.json()["slot"]["label"] == "Dégustation de fromages"


async def test_slots_past_the_hubs_lead_time_are_neither_offered_nor_accepted(orders, hub):
    too_soon = await open_slot(orders, hub, hours_ahead=20, lead_hours=24)
    in_time = await open_slot(orders, hub, hours_ahead=30, lead_hours=24)

    page = await basket_page(orders, hub)

    assert f'value="{too_soon}"' not in page and f'value="{in_time}"' in page
    hub.slot_id = too_soon
    refused = await place(orders, hub, bread=1)
    assert refused.status_code == 422 and "too soon" in refused.text


async def test_a_closed_slot_is_withdrawn_from_checkout(orders, hub):
    closing = await open_slot(orders, hub)
    await orders.feed(SlotClosed(slot_id=closing, hub_id=hub.hub_id, reason="Noël"))
    await orders.feed(SlotClosed(slot_id=uuid.uuid4(), hub_id=hub.hub_id, reason="inconnu"))

    page = await basket_page(orders, hub)

    assert f'value="{closing}"' not in page and f'value="{hub.slot_id}"' in page
    hub.slot_id = closing
    refused = await place(orders, hub, bread=1)
    assert refused.status_code == 422 and "closed" in refused.text


async def test_a_slot_opened_again_keeps_being_closed(orders, hub):
    slot_id = await open_slot(orders, hub)
    await orders.feed(SlotClosed(slot_id=slot_id, hub_id=hub.hub_id, reason="travaux"))

    await open_slot_again(orders, hub, slot_id)

    assert f'value="{slot_id}"' not in await basket_page(orders, hub)


async def open_slot_again(orders, hub: Town, slot_id: uuid.UUID) -> None:
    """The hub restates an open slot when its lead time changes; a closed one stays closed."""
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=30)
    await orders.feed(SlotOpened(slot_id=slot_id, hub_id=hub.hub_id, starts_at=starts,
                                  ends_at=starts + timedelta(hours=2), capacity=10,
                                  bookable_until=starts - timedelta(hours=1)))
