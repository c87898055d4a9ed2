"""What the payment service publishes about money lands in its own ledger: a paid order, the
processor's fee, the shops paid, then a refund that takes part of a transfer back."""

from __future__ import annotations

from libs.contracts.payment import PaymentEvent, PaymentSucceeded, RefundIssued
from tests.services.payment.ledger.test_posting import balances
from tests.services.payment.support import basket, platform_admin


async def deliver_what_it_published(payments) -> None:
    """The service's own money events, delivered back to it as the bus would (again, for those
    already delivered)."""
    for envelope, event in await payments.published():
        if isinstance(event, PaymentEvent):
            await payments.deliver(envelope)


async def test_the_payment_services_own_events_balance_its_ledger(payments):
    order = basket(2000, 1000)
    bread, cheese = order.shops
    payment_id = await payments.pay(order)
    for shop_id in order.shops:
        await payments.payable_shop(order, shop_id)
    await payments.feed(order.completed())
    await payments.sync()
    asked = await payments.ask_refund(payment_id, platform_admin(), "missing-loaf",
                                      shop_id=str(bread), amount_cents=500)
    assert asked.status_code == 201, asked.text
    await payments.sync()

    await deliver_what_it_published(payments)
    await deliver_what_it_published(payments)

    published = [event for _, event in await payments.published()
                 if isinstance(event, PaymentEvent)]
    assert {"PaymentSucceeded", "ProcessorFeeCharged", "TransferMade", "RefundIssued",
            "TransferReversed"} <= {type(event).__name__ for event in published}
    accounts = await balances(payments)
    assert sum(accounts.values()) == 0
    kept = sum(s.commission_cents for e in published if isinstance(e, PaymentSucceeded)
               for s in e.shares)
    given_back = sum(s.commission_cents for e in published if isinstance(e, RefundIssued)
                     for s in e.shares)
    assert -accounts["platform:commission"] == kept - given_back > 0
    # Each shop was paid its share less commission, and the refund taken back from the bread's.
    assert accounts.get(f"shop:{bread}:payable", 0) == 0
    assert accounts.get(f"shop:{cheese}:payable", 0) == 0
