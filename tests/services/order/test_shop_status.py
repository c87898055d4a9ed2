"""Only an active shop's products may be ordered: the catalog says when a shop is suspended."""

from __future__ import annotations

import uuid

from libs.contracts.catalog import ShopStatusChanged
from libs.contracts.order import OrderPlaced
from tests.services.order.conftest import place


async def test_a_suspended_shops_products_are_hidden_and_refused_at_checkout(service, town):
    await service.feed(ShopStatusChanged(shop_id=town.cheese.id, hub_id=town.hub_id,
                                         status="suspended"))

    refused = await place(service, town, bread=1, tomme=1)
    assert refused.status_code == 422, refused.text
    assert "Tomme de Bretagne) is not available" in refused.json()["error"]["message"]
    assert await service.published(OrderPlaced) == []
    page = await service.client.get(f"/orders/hubs/{town.hub_id}")
    assert page.status_code == 200
    assert "Tomme de Bretagne" not in page.text and "Pain de campagne" in page.text

    await service.feed(ShopStatusChanged(shop_id=town.cheese.id, hub_id=town.hub_id,
                                         status="active"))
    placed = await place(service, town, bread=1, tomme=1)
    assert placed.status_code == 202, placed.text
    assert "Tomme de Bretagne" in (await service.client.get(f"/orders/hubs/{town.hub_id}")).text


async def test_the_status_of_a_shop_never_heard_of_is_ignored(service, town):
    await service.feed(ShopStatusChanged(shop_id=uuid.uuid4(), hub_id=town.hub_id,
                                         status="suspended"))
    assert (await place(service, town, tomme=1)).status_code == 202
