"""The resident's payment page: pay or be refused without JavaScript, then back to the order."""

from __future__ import annotations

from urllib.parse import quote

from libs.kit.pages import money
from tests.services.payment.support import basket, resident


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
