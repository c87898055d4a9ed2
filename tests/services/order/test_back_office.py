"""The merchants' association runs shops on their behalf: an administrator of the shop's hub, or
of the platform, sees its parts and gives one up as its owner would, and the part says who did.
Nobody else does, not even the staff of the hub or the administrator of another hub."""

from __future__ import annotations

import pytest

from libs.contracts.order import OrderPartCancelled
from libs.contracts.pickup import HubStaffAssigned
from tests.services.order.conftest import OrderService, Town, person
from tests.services.order.test_pages import session
from tests.services.order.test_parts import cancel, confirmed_order


@pytest.fixture
async def hub_admin(service: OrderService, town: Town):
    """Claude runs the town's hub for the merchants' association."""
    claude = person("Claude")
    await service.feed(HubStaffAssigned(hub_id=town.hub_id, user_id=claude.user_id,
                                        email=claude.email, role="admin"))
    return claude


async def parts_of(service: OrderService, shop, who):
    return await service.client.get(f"/orders/api/v1/shops/{shop.id}/parts",
                                    headers=service.auth(who))


async def test_the_owner_and_the_administrators_of_its_hub_and_platform_see_its_parts(
        service, town, hub_admin):
    order_id = await confirmed_order(service, town)

    for reader in (town.bakery.owner, hub_admin, town.admin):
        answer = await parts_of(service, town.bakery, reader)
        assert answer.status_code == 200, answer.text
        assert [part["order_id"] for part in answer.json()] == [str(order_id)]
        page = await service.client.get(f"/orders/shops/{town.bakery.id}",
                                        headers=session(service, reader))
        assert page.status_code == 200
        assert order_id.hex[:8] in page.text.replace("-", "")
    for intruder in (town.cheese.owner, town.other_staff, town.staff, town.resident):
        answer = await parts_of(service, town.bakery, intruder)
        assert answer.status_code == 403, answer.text
        assert "administrators" in answer.json()["error"]["message"]
        page = await service.client.get(f"/orders/shops/{town.bakery.id}",
                                        headers=session(service, intruder))
        assert page.status_code == 403
        assert "Accès refusé" in page.text


async def test_a_hub_admin_cancels_a_part_for_the_shop_and_it_is_recorded(
        service, town, hub_admin):
    order_id = await confirmed_order(service, town)
    elsewhere = await cancel(service, town, order_id, town.bakery, who=town.other_staff)
    assert elsewhere.status_code == 403
    assert await service.published(OrderPartCancelled) == []

    done = await cancel(service, town, order_id, town.bakery, who=hub_admin,
                        reason="boutique fermée pour travaux")
    assert done.status_code == 200, done.text
    cancellation = done.json()["cancellation"]
    assert cancellation["by_user_id"] == str(hub_admin.user_id)
    assert (cancellation["by_name"], cancellation["for_shop"], cancellation["reason"]) == (
        "Claude", True, "boutique fermée pour travaux")
    [event] = await service.published(OrderPartCancelled)
    assert (event.shop_id, event.amount_cents) == (town.bakery.id, 2 * 420)

    [part] = (await parts_of(service, town.bakery, town.bakery.owner)).json()
    assert part["status"] == "cancelled"
    assert part["cancellation"] == cancellation
    page = await service.client.get(f"/orders/shops/{town.bakery.id}",
                                    headers=session(service, town.bakery.owner))
    assert "par Claude pour la boutique : boutique fermée pour travaux" in page.text

    another = await confirmed_order(service, town)
    by_owner = await cancel(service, town, another, town.cheese, reason="plus de tomme")
    assert by_owner.json()["cancellation"]["for_shop"] is False
    page = await service.client.get(f"/orders/shops/{town.cheese.id}",
                                    headers=session(service, town.cheese.owner))
    assert f"par {town.cheese.owner.name} : plus de tomme" in page.text
    assert "pour la boutique :" not in page.text


async def test_a_hub_admin_acts_for_the_shop_from_its_page(service, town, hub_admin):
    order_id = await confirmed_order(service, town)
    admin = session(service, hub_admin)
    page = await service.client.get(f"/orders/shops/{town.bakery.id}", headers=admin)
    assert "Vous agissez pour la boutique Boulangerie Le Fournil" in page.text
    assert "Annuler la part de la boutique" in page.text
    owner_page = await service.client.get(f"/orders/shops/{town.bakery.id}",
                                          headers=session(service, town.bakery.owner))
    assert "Vous agissez" not in owner_page.text and "Annuler ma part" in owner_page.text

    done = await service.client.post(f"/orders/shops/{town.bakery.id}/parts/{order_id}/cancel",
                                     data={"reason": "four en panne"}, headers=admin)
    assert done.status_code == 303
    page = await service.client.get(done.headers["location"], headers=admin)
    assert "La part a été annulée" in page.text
    assert "par Claude pour la boutique : four en panne" in page.text
    [event] = await service.published(OrderPartCancelled)
    assert event.shop_id == town.bakery.id


async def test_an_admin_made_staff_again_no_longer_acts_for_the_shops(service, town, hub_admin):
    await service.feed(HubStaffAssigned(hub_id=town.hub_id, user_id=hub_admin.user_id,
                                        email=hub_admin.email, role="staff"))
    assert (await parts_of(service, town.bakery, hub_admin)).status_code == 403
