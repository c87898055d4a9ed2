"""The French pages: browse a hub's basket, check out without JavaScript (once, however often
the button is pressed), follow the order, and a shop's parts to prepare."""

from __future__ import annotations

import re
import uuid

from libs.contracts.order import OrderPartCancelled, OrderPlaced
from libs.contracts.payment import PaymentStarted
from libs.contracts.pickup import PickupScheduled
from libs.kit.pages import local_time
from tests.services.order.conftest import OrderService, Town, payment_succeeded
from tests.services.order.test_saga import awaiting_payment, placed_order, slot_held, stock_reserved


def session(service: OrderService, who) -> dict[str, str]:
    return {"Cookie": f"adopte_session={service.issuer.issue(who)}"}


def form_token(page: str) -> str:
    return re.search(r'name="form_token" value="([0-9a-f]+)"', page).group(1)


async def test_anyone_browses_a_hubs_basket_grouped_by_shop(service, town):
    page = await service.client.get(f"/orders/hubs/{town.hub_id}")
    assert page.status_code == 200
    html = page.text
    assert "Commander à La Fabrique" in html
    assert html.index("Boulangerie Le Fournil") < html.index("Fromagerie du Trégor")
    assert "Pain de campagne · 4,20\xa0€" in html
    assert f'name="qty-{town.bakery.product("Baguette")}.{town.bakery.variant("Baguette")}"' in html
    assert local_time(town.slot_starts_at) in html
    assert "Sardines" not in html
    assert f"/accounts/login?next=%2Forders%2Fhubs%2F{town.hub_id}" in html

    missing = await service.client.get(f"/orders/hubs/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert "Introuvable" in missing.text


async def test_checking_out_needs_signing_in(service, town):
    answer = await service.client.post(f"/orders/hubs/{town.hub_id}/checkout",
                                       data={"form_token": "abc", "slot_id": str(town.slot_id)})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/accounts/login?next=%2Forders%2Fhubs%2F{town.hub_id}"
    assert await service.published(OrderPlaced) == []


async def test_a_double_submitted_checkout_places_one_order(service, town):
    page = await service.client.get(f"/orders/hubs/{town.hub_id}",
                                    headers=session(service, town.resident))
    form = {"form_token": form_token(page.text), "slot_id": str(town.slot_id),
            f"qty-{town.bakery.product('Pain de campagne')}": "2",
            f"qty-{town.bakery.product('Baguette')}": "0",
            f"qty-{town.cheese.product('Tomme de Bretagne')}": "1"}
    answers = [await service.client.post(f"/orders/hubs/{town.hub_id}/checkout", data=form,
                                         headers=session(service, town.resident))
               for _ in range(2)]

    assert [a.status_code for a in answers] == [303, 303]
    assert answers[0].headers["location"] == answers[1].headers["location"]
    [placed] = await service.published(OrderPlaced)
    assert answers[0].headers["location"] == f"/orders/{placed.order_id}"
    assert placed.total_cents == 2 * 420 + 1290

    form[f"qty-{town.bakery.product('Baguette')}"] = "3"
    reused = await service.client.post(f"/orders/hubs/{town.hub_id}/checkout", data=form,
                                       headers=session(service, town.resident))
    assert reused.status_code == 409
    assert "déjà servi" in reused.text
    assert form_token(reused.text) != form["form_token"]


async def test_a_wrong_checkout_shows_the_basket_again_with_the_problem(service, town):
    page = await service.client.get(f"/orders/hubs/{town.hub_id}",
                                    headers=session(service, town.resident))
    token = form_token(page.text)
    empty = await service.client.post(f"/orders/hubs/{town.hub_id}/checkout",
                                      data={"form_token": token, "slot_id": str(town.slot_id)},
                                      headers=session(service, town.resident))
    assert empty.status_code == 422
    assert "choisissez au moins un produit" in empty.text
    assert form_token(empty.text) == token

    bread = f"{town.bakery.product('Pain de campagne')}.{town.bakery.variant('Pain de campagne')}"
    silly = await service.client.post(
        f"/orders/hubs/{town.hub_id}/checkout",
        data={"form_token": token, "slot_id": str(town.slot_id), f"qty-{bread}": "-4"},
        headers=session(service, town.resident))
    assert silly.status_code == 422
    assert "de 0 à 99 par produit" in silly.text
    assert 'value="-4"' in silly.text
    assert await service.published(OrderPlaced) == []


async def test_the_order_page_follows_the_saga(service, town):
    order_id = await placed_order(service, town)
    url = f"/orders/{order_id}"
    page = await service.client.get(url, headers=session(service, town.resident))
    assert page.status_code == 200
    assert "Reçue" in page.text and "Boulangerie Le Fournil" in page.text
    assert "Total : 21,30\xa0€" in page.text
    assert page.headers["refresh"] == "5"

    await service.feed(stock_reserved(order_id))
    await service.feed(slot_held(town, order_id))
    payment_id = uuid.uuid4()
    await service.feed(PaymentStarted(payment_id=payment_id, order_id=order_id,
                                      amount_cents=2130, provider="simulated"))
    page = await service.client.get(url, headers=session(service, town.resident))
    assert f'href="/payments/pay/{payment_id}"' in page.text
    assert "refresh" not in page.headers

    await service.feed(payment_succeeded(order_id, payment_id, 2130))
    await service.feed(PickupScheduled(order_id=order_id, hub_id=town.hub_id,
                                       slot_id=town.slot_id, code="K7Q2PM"))
    page = await service.client.get(url, headers=session(service, town.resident))
    assert '<p class="code">K7Q2PM</p>' in page.text
    assert "Payée" in page.text

    stranger = await service.client.get(url, headers=session(service, town.neighbour))
    assert stranger.status_code == 404
    assert "K7Q2PM" not in stranger.text
    anonymous = await service.client.get(url)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == f"/accounts/login?next=%2Forders%2F{order_id}"

    mine = await service.client.get("/orders/mine", headers=session(service, town.resident))
    assert mine.status_code == 200
    assert f'href="/orders/{order_id}"' in mine.text


async def test_a_shop_cancels_its_part_from_its_page(service, town: Town):
    order_id, payment_id = await awaiting_payment(service, town)
    await service.feed(payment_succeeded(order_id, payment_id, 2130))
    owner = session(service, town.bakery.owner)
    page = await service.client.get(f"/orders/shops/{town.bakery.id}", headers=owner)
    assert page.status_code == 200
    assert "Pain de campagne" in page.text and "À préparer" in page.text
    action = f"/orders/shops/{town.bakery.id}/parts/{order_id}/cancel"
    assert f'action="{action}"' in page.text

    intruder = await service.client.get(f"/orders/shops/{town.bakery.id}",
                                        headers=session(service, town.cheese.owner))
    assert intruder.status_code == 403
    blank = await service.client.post(action, data={"reason": " "}, headers=owner)
    assert blank.status_code == 422
    assert "Indiquez le motif" in blank.text

    done = await service.client.post(action, data={"reason": "four en panne"}, headers=owner)
    assert done.status_code == 303
    page = await service.client.get(done.headers["location"], headers=owner)
    assert "La part a été annulée" in page.text
    assert f'action="{action}"' not in page.text
    [event] = await service.published(OrderPartCancelled)
    assert (event.shop_id, event.reason) == (town.bakery.id, "four en panne")


async def test_the_hubs_page_leads_to_each_hubs_basket(service, town):
    page = await service.client.get("/orders/hubs")

    assert page.status_code == 200
    html = page.text
    assert html.index("La Fabrique") < html.index("Le Grenier")  # Lannion, then Paimpol
    assert f'href="/orders/hubs/{town.hub_id}"' in html
    assert f'href="/orders/hubs/{town.other_hub_id}"' in html
    assert 'href="/orders/docs"' in html
    assert 'href="/orders/mine"' not in html  # signed out: the hubs and signing in only
    signed_in = await service.client.get("/orders/hubs", headers=session(service, town.resident))
    assert 'href="/orders/mine"' in signed_in.text and ">Lou</" in signed_in.text


async def test_the_hubs_page_says_when_there_is_none_yet(service):
    page = await service.client.get("/orders/hubs")
    assert page.status_code == 200
    assert "Aucun tiers-lieu n'est encore ouvert" in page.text


async def test_a_shops_orders_lead_back_to_its_products(service, town):
    page = await service.client.get(f"/orders/shops/{town.bakery.id}",
                                    headers=session(service, town.bakery.owner))
    assert page.status_code == 200
    assert f'href="/catalog/shops/{town.bakery.id}"' in page.text
    assert "Produits et stock" in page.text

    intruder = await service.client.get(f"/orders/shops/{town.bakery.id}",
                                        headers=session(service, town.cheese.owner))
    assert intruder.status_code == 403
    assert "Accès refusé" in intruder.text and 'lang="fr"' in intruder.text
    signed_out = await service.client.post(
        f"/orders/shops/{town.bakery.id}/parts/{uuid.uuid4()}/cancel", data={"reason": "x"})
    assert signed_out.headers["location"] == (
        f"/accounts/login?next=%2Forders%2Fshops%2F{town.bakery.id}")
