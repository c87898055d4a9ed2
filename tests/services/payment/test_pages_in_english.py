"""The payment pages speak English to whoever chose it (the ``adopte_lang`` cookie), French to
everyone else: their words, the statuses, the refusals and the money."""

from __future__ import annotations

from tests.services.payment.ledger.seeded import seed
from tests.services.payment.support import basket, shop_owner


def in_english(browser: dict[str, str]) -> dict[str, str]:
    return {"Cookie": browser["Cookie"] + "; adopte_lang=en"}


async def test_the_pay_page_speaks_english_when_chosen_and_french_by_default(payments):
    order = basket(1000, 234)
    payment_id = await payments.open(order)
    browser = payments.session(order.buyer)
    pay_page = f"/payments/pay/{payment_id}"

    english = await payments.client.get(pay_page, headers=in_english(browser))
    french = await payments.client.get(pay_page, headers=browser)

    assert english.status_code == 200 and 'lang="en"' in english.text
    assert "Pay for your order" in english.text and "Amount: €12.34" in english.text
    assert "awaiting payment" in english.text and "Simulate a decline" in english.text
    assert "Paiement de votre commande" not in english.text
    assert 'lang="fr"' in french.text and "Paiement de votre commande" in french.text
    assert "12,34\xa0€" in french.text and "en attente de paiement" in french.text

    paid = await payments.client.post(pay_page, data={"outcome": "succeeded"}, headers=browser)
    assert paid.status_code == 303
    again = await payments.client.post(pay_page, data={"outcome": "failed"},
                                       headers=in_english(browser))
    assert again.status_code == 409
    assert "This payment is paid: it can no longer be paid." in again.text


async def test_the_payouts_page_and_its_refusals_speak_english(payments):
    order = basket(1000)
    [shop] = order.shops
    owner = shop_owner()
    await payments.feed(order.shop_opened(shop, owner))
    page_path = f"/payments/shops/{shop}/payouts"

    page = await payments.client.get(page_path, headers=in_english(payments.session(owner)))
    stranger = payments.session(basket(1).buyer)
    refused = await payments.client.get(page_path, headers=in_english(stranger))

    assert page.status_code == 200
    assert "Payouts of Boulangerie Le Fournil" in page.text and "not opened yet" in page.text
    assert "Open my payout account" in page.text and "No transfers yet" in page.text
    assert refused.status_code == 403
    assert "Only the shopkeeper and the managers" in refused.text
    assert "community hub manage its payouts." in refused.text


async def test_the_statement_and_reports_speak_english_and_their_csv_stays_french(payments):
    seeded = await seed(payments)
    baker = in_english(payments.session(seeded.baker))
    statement = f"/payments/shops/{seeded.bakery}/statements/2026-03"

    page = await payments.client.get(statement, headers=baker)
    csv = await payments.client.get(f"{statement}.csv", headers=baker)
    commission = await payments.client.get("/payments/reports/commission?year=2026",
                                           headers=in_english(payments.session(seeded.admin)))

    assert page.status_code == 200
    assert "<h1>Statement for March 2026</h1>" in page.text
    assert "1 Mar 2026 00:30" in page.text and "Refund" in page.text
    assert "Balance at the end of the month" in page.text
    assert ";remboursement;" in csv.text
    assert "Platform commissions in 2026" in commission.text and "March 2026" in commission.text
