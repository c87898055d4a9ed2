"""The payment service writes each money movement it reports into its ledger, once, balanced,
on each database it runs on."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from sqlalchemy import select

from libs.contracts.payment import ProcessorFeeCharged, RefundIssued, ShopShare, TransferMade
from libs.contracts.pickup import HubOpened
from services.payment.ledger.tables import JournalPosting, JournalTransaction, LedgerHub
from tests.services.payment.ledger.support import happened, paid
from tests.services.payment.support import platform_admin

AT = datetime(2026, 5, 12, 14, 0, tzinfo=UTC)


async def balances(payments) -> dict[str, int]:
    answer = await payments.client.get("/payments/api/v1/ledger/balances",
                                       headers=payments.headers(platform_admin()))
    assert answer.status_code == 200, answer.text
    return {row["account"]: row["balance_cents"] for row in answer.json()}


async def journal(payments) -> list[tuple[str, list[tuple[str, str, int]]]]:
    async with payments.runtime.database.sessions() as session:
        transactions = (await session.execute(
            select(JournalTransaction).order_by(JournalTransaction.id))).scalars().all()
        postings = (await session.execute(
            select(JournalPosting).order_by(JournalPosting.id))).scalars().all()
    return [(t.natural_key, [(p.account, p.kind, p.amount_cents) for p in postings
                             if p.transaction_id == t.id]) for t in transactions]


async def test_a_payment_owes_each_shop_its_share_less_commission(payments_on_each_database):
    payments = payments_on_each_database
    bakery, cheese, hub_id = uuid4(), uuid4(), uuid4()
    payment = paid(hub_id, (bakery, 2000, 160), (cheese, 1000, 80))

    await happened(payments, payment, AT)

    assert await journal(payments) == [(f"payment:{payment.payment_id}", [
        ("processor", "collection", 3000),
        (f"shop:{bakery}:payable", "sale", -2000),
        (f"shop:{bakery}:payable", "commission", 160),
        ("platform:commission", "commission", -160),
        (f"shop:{cheese}:payable", "sale", -1000),
        (f"shop:{cheese}:payable", "commission", 80),
        ("platform:commission", "commission", -80),
    ])]
    assert await balances(payments) == {
        "processor": 3000, "platform:commission": -240,
        f"shop:{bakery}:payable": -1840, f"shop:{cheese}:payable": -920,
    }


async def test_a_movement_reported_again_is_written_once(payments_on_each_database):
    payments = payments_on_each_database
    bakery = uuid4()
    payment = paid(uuid4(), (bakery, 1200, 96))
    envelope = payment.envelope(correlation_id="ledger")

    await payments.deliver(envelope)
    await payments.deliver(envelope)
    await happened(payments, payment, AT)  # the same payment, in another event
    refund = RefundIssued(refund_id=uuid4(), payment_id=payment.payment_id,
                          order_id=payment.order_id, amount_cents=200,
                          shares=[ShopShare(shop_id=bakery, amount_cents=200, commission_cents=16)])
    await happened(payments, refund, AT)
    await happened(payments, refund, AT)

    assert [key for key, _ in await journal(payments)] == [
        f"payment:{payment.payment_id}", f"refund:{refund.refund_id}"]
    assert (await balances(payments))[f"shop:{bakery}:payable"] == -(1200 - 96 - 200 + 16)


async def test_every_movement_balances_and_the_accounts_sum_to_zero(payments_on_each_database):
    payments = payments_on_each_database
    bakery = uuid4()
    payment = paid(uuid4(), (bakery, 5000, 400))
    await happened(payments, payment, AT)
    await happened(payments, ProcessorFeeCharged(payment_id=payment.payment_id,
                                                 order_id=payment.order_id, fee_cents=100), AT)
    await happened(payments, TransferMade(transfer_id=uuid4(), payment_id=payment.payment_id,
                                          order_id=payment.order_id, shop_id=bakery,
                                          amount_cents=4600, provider_reference="tr_x"), AT)

    for key, postings in await journal(payments):
        assert sum(amount for _, _, amount in postings) == 0, key
    accounts = await balances(payments)
    assert sum(accounts.values()) == 0
    assert accounts == {"processor": 5000 - 100 - 4600, "platform:commission": -400,
                        "platform:fees": 100, f"shop:{bakery}:payable": 0}


async def test_what_follows_a_payment_is_journaled_under_its_hub(payments_on_each_database):
    payments = payments_on_each_database
    bakery, hub_id = uuid4(), uuid4()
    payment = paid(hub_id, (bakery, 5000, 400))
    await happened(payments, payment, AT)
    await happened(payments, ProcessorFeeCharged(payment_id=payment.payment_id,
                                                 order_id=payment.order_id, fee_cents=100), AT)
    await happened(payments, TransferMade(transfer_id=uuid4(), payment_id=payment.payment_id,
                                          order_id=payment.order_id, shop_id=bakery,
                                          amount_cents=4600, provider_reference="tr_x"), AT)
    stranger = ProcessorFeeCharged(payment_id=uuid4(), order_id=uuid4(), fee_cents=10)
    await happened(payments, stranger, AT)

    async with payments.runtime.database.sessions() as session:
        hubs = dict((await session.execute(
            select(JournalTransaction.natural_key, JournalTransaction.hub_id))).all())
    assert {key.split(":")[0]: hub for key, hub in hubs.items()
            if not key.endswith(str(stranger.payment_id))} == {
        "payment": hub_id, "fee": hub_id, "transfer": hub_id}
    assert [hub for key, hub in hubs.items() if key.endswith(str(stranger.payment_id))] == [None]


async def test_a_hub_opened_again_keeps_its_latest_name(payments_on_each_database):
    payments = payments_on_each_database
    hub_id = uuid4()
    await payments.feed(HubOpened(hub_id=hub_id, name="La Fabrique", town="Lannion",
                                  address="1 rue"))
    await payments.feed(HubOpened(hub_id=hub_id, name="La Fabrique du Centre", town="Perros",
                                  address="2 rue"))

    async with payments.runtime.database.sessions() as session:
        hubs = (await session.execute(select(LedgerHub.name, LedgerHub.town))).all()
    assert hubs == [("La Fabrique du Centre", "Perros")]


async def test_money_no_share_accounts_for_waits_in_suspense(payments):
    bakery = uuid4()
    payment = paid(uuid4(), (bakery, 1000, 80))
    payment = payment.model_copy(update={"amount_cents": 1050})
    await happened(payments, payment, AT)
    await happened(payments, RefundIssued(refund_id=uuid4(), payment_id=payment.payment_id,
                                          order_id=payment.order_id, amount_cents=30, shares=[]),
                   AT)

    accounts = await balances(payments)
    assert accounts["suspense"] == -20
    assert sum(accounts.values()) == 0


async def test_a_payment_of_nothing_writes_nothing(payments):
    payment = paid(uuid4(), (uuid4(), 0, 0))
    await happened(payments, payment, AT)
    await happened(payments, ProcessorFeeCharged(payment_id=payment.payment_id,
                                                 order_id=payment.order_id, fee_cents=0), AT)

    assert await journal(payments) == []
    assert await balances(payments) == {}
