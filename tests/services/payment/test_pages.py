"""The payment pages without JavaScript: the resident pays or is refused, then back to the order;
a shop owner opens and completes the payout account and sees what was sent."""

from __future__ import annotations

from urllib.parse import quote
from uuid import uuid4

from libs.contracts.payment import PayoutAccountUpdated
from libs.kit.pages import money
from tests.services.payment.support import basket, resident, shop_owner


async def test_a_visitor_is_sent_to_sign_in_first(payments):
    order = basket(1234)
    payment_id = await payments.open(order)

    page = await payments.client.get(f"/payments/pay/{payment_id}")
    assert page.status_code == 303
    assert page.headers["location"] == (
        f"/accounts/login?next={quote(f'/payments/pay/{payment_id}', safe='')}")


async def test_the_resident_pays_on_the_card_page_and_returns_to_the_order(payments):
    order = basket(1000, 234)
    payment_id = await payments.open(order)
    browser = payments.session(order.buyer)

    page = await payments.client.get(f"/payments/pay/{payment_id}", headers=browser)
    assert page.status_code == 200
    assert money(1234) in page.text
    assert "Payer" in page.text and "Simuler un refus" in page.text
    assert order.buyer.name in page.text

    paid = await payments.client.post(f"/payments/pay/{payment_id}", data={"outcome": "succeeded"},
                                      headers=browser)
    assert paid.status_code == 303
    assert paid.headers["location"] == f"/orders/{order.order_id}"
    assert (await payments.get(payment_id, order.buyer)).json()["status"] == "succeeded"

    again = await payments.client.post(f"/payments/pay/{payment_id}", data={"outcome": "failed"},
                                       headers=browser)
    assert again.status_code == 409
    assert "Ce paiement est payé : il ne peut plus être réglé." in again.text
    assert "Simuler un refus" not in again.text


async def test_a_refusal_on_the_card_page_fails_the_payment(payments):
    order = basket(1234)
    payment_id = await payments.open(order)

    refused = await payments.client.post(f"/payments/pay/{payment_id}", data={"outcome": "failed"},
                                         headers=payments.session(order.buyer))
    assert refused.status_code == 303
    assert (await payments.get(payment_id, order.buyer)).json()["status"] == "failed"


async def test_someone_elses_payment_page_is_not_found(payments):
    order = basket(1234)
    payment_id = await payments.open(order)
    browser = payments.session(resident("Camille"))

    page = await payments.client.get(f"/payments/pay/{payment_id}", headers=browser)
    assert page.status_code == 404
    assert "Ce paiement est introuvable." in page.text
    assert money(1234) not in page.text
    posted = await payments.client.post(f"/payments/pay/{payment_id}",
                                        data={"outcome": "succeeded"}, headers=browser)
    assert posted.status_code == 404
    assert (await payments.get(payment_id, order.buyer)).json()["status"] == "pending"


async def test_a_shop_owner_opens_and_completes_the_payout_account_without_javascript(payments):
    order = basket(1000)
    [shop] = order.shops
    owner = shop_owner()
    await payments.feed(order.shop_opened(shop, owner))
    await payments.pay(order)
    await payments.feed(order.completed())
    browser = payments.session(owner)
    page_path = f"/payments/shops/{shop}/payouts"

    page = await payments.client.get(page_path, headers=browser)
    assert page.status_code == 200
    assert "Versements de Boulangerie Le Fournil" in page.text
    assert "pas encore ouvert" in page.text
    assert "en attente de votre compte de versement" in page.text
    assert "Ouvrir mon compte de versement" in page.text

    opened = await payments.client.post(page_path, headers=browser)
    assert opened.status_code == 303
    onboarding = opened.headers["location"]
    assert onboarding == f"{page_path}/onboarding"
    form = await payments.client.get(onboarding, headers=browser)
    assert form.status_code == 200
    assert "Valider mon compte de versement" in form.text
    done = await payments.client.post(onboarding, headers=browser)
    assert (done.status_code, done.headers["location"]) == (303, page_path)

    page = await payments.client.get(page_path, headers=browser)
    assert "actif : vos ventes vous sont versées" in page.text
    assert money(920) in page.text and "versé" in page.text
    assert "Ouvrir mon compte de versement" not in page.text


async def test_someone_elses_payouts_page_is_refused(payments):
    order = basket(1000)
    [shop] = order.shops
    await payments.feed(order.shop_opened(shop, shop_owner()))
    stranger = payments.session(resident("Camille"))
    page_path = f"/payments/shops/{shop}/payouts"

    assert (await payments.client.get(page_path)).status_code == 303
    refused = await payments.client.get(page_path, headers=stranger)
    assert refused.status_code == 403
    assert "gèrent ses versements" in refused.text
    assert (await payments.client.post(page_path, headers=stranger)).status_code == 403
    assert (await payments.client.post(f"{page_path}/onboarding", headers=stranger)
            ).status_code == 403
    unknown = await payments.client.get(f"/payments/shops/{uuid4()}/payouts", headers=stranger)
    assert unknown.status_code == 404
    assert await payments.events(PayoutAccountUpdated) == []
