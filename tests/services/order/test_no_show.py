"""A resident who never came: pickup's NoShowRecorded makes the ready order « non retirée »,
once; an order not ready is left as it is. The order page shows the pickup code's QR image
while the code is to be shown, and says when the order was not collected."""

from __future__ import annotations

import uuid

from libs.contracts.pickup import NoShowRecorded, PickupReady, PickupScheduled
from tests.services.order.conftest import payment_succeeded, read_order
from tests.services.order.test_saga import awaiting_payment, status_of


async def confirmed(service, town) -> uuid.UUID:
    order_id, payment_id = await awaiting_payment(service, town)
    await service.feed(payment_succeeded(order_id, payment_id, 2 * 420 + 1290))
    await service.feed(PickupScheduled(order_id=order_id, hub_id=town.hub_id,
                                       slot_id=town.slot_id, code="K7Q2PM"))
    return order_id


def no_show(town, order_id) -> NoShowRecorded:
    return NoShowRecorded(order_id=order_id, hub_id=town.hub_id,
                          shop_ids=[town.bakery.id, town.cheese.id])


async def test_a_ready_order_the_resident_never_collected_is_not_collected(service, town):
    order_id = await confirmed(service, town)
    await service.feed(PickupReady(order_id=order_id))

    await service.feed(no_show(town, order_id))
    await service.feed(no_show(town, order_id))
    await service.feed(PickupReady(order_id=order_id))

    assert (await status_of(service, town, order_id))["status"] == "no_show"


async def test_a_no_show_for_an_order_not_ready_changes_nothing(service, town):
    order_id = await confirmed(service, town)

    await service.feed(no_show(town, order_id))
    await service.feed(no_show(town, uuid.uuid4()))

    assert (await status_of(service, town, order_id))["status"] == "confirmed"


async def test_the_order_page_shows_the_code_as_a_qr_code_then_says_not_collected(service, town):
    order_id = await confirmed(service, town)
    cookie = {"Cookie": "adopte_session=" + service.auth(town.resident)["Authorization"][7:]}

    page = await service.client.get(f"/orders/{order_id}", headers=cookie)

    assert page.status_code == 200
    assert f'src="/pickup/pickups/{order_id}/code.svg"' in page.text
    assert 'alt="QR code du code de retrait K7Q2PM"' in page.text
    await service.feed(PickupReady(order_id=order_id))
    await service.feed(no_show(town, order_id))
    page = await service.client.get(f"/orders/{order_id}", headers=cookie)
    assert "non retirée" in page.text and "code.svg" not in page.text
    assert (await read_order(service, order_id, town.resident)).json()["status"] == "no_show"
