"""The ledger's pure rules: a transaction balances or does not exist, each movement's postings,
months and quarters in Paris time, and what counts as a sale for DAC7."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from libs.contracts.payment import RefundIssued, ShopShare, TransferReversed
from libs.kit.errors import Unprocessable
from libs.kit.months import Month
from services.payment.ledger.domain import (
    PLATFORM_COMMISSION,
    PROCESSOR,
    Posting,
    PostingKind,
    Transaction,
    TransactionKind,
    UnbalancedTransaction,
    credit,
    debit,
    may_read_statements,
    quarter_of,
    refund_transaction,
    reversal_transaction,
    shop_of_payable,
    shop_payable,
)
from tests.services.payment.ledger.support import person
from tests.services.payment.support import platform_admin

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def transaction(*postings: Posting) -> Transaction:
    return Transaction("payment:x", TransactionKind.PAYMENT, AT, uuid4(), uuid4(), None, postings)


def test_a_transaction_balances_or_does_not_exist():
    balanced = transaction(debit(PROCESSOR, PostingKind.COLLECTION, 1000),
                           credit(PLATFORM_COMMISSION, PostingKind.COMMISSION, 1000))
    assert [p.debit_cents for p in balanced.postings] == [1000, 0]
    assert [p.credit_cents for p in balanced.postings] == [0, 1000]
    with pytest.raises(UnbalancedTransaction, match="differ by 1 cents"):
        transaction(debit(PROCESSOR, PostingKind.COLLECTION, 1000),
                    credit(PLATFORM_COMMISSION, PostingKind.COMMISSION, 999))
    with pytest.raises(UnbalancedTransaction):
        transaction(debit(PROCESSOR, PostingKind.COLLECTION, 0),
                    credit(PLATFORM_COMMISSION, PostingKind.COMMISSION, 0))
    with pytest.raises(UnbalancedTransaction):
        transaction()


def test_a_refund_takes_the_share_back_and_gives_back_its_commission():
    shop_id, payment_id, order_id = uuid4(), uuid4(), uuid4()
    refunded = RefundIssued(refund_id=uuid4(), payment_id=payment_id, order_id=order_id,
                            shop_id=shop_id, amount_cents=500,
                            shares=[ShopShare(shop_id=shop_id, amount_cents=500,
                                              commission_cents=40)])

    made = refund_transaction(refunded, AT, hub_id=None)

    assert made.key == f"refund:{refunded.refund_id}"
    assert [(p.account, p.kind, p.amount_cents) for p in made.postings] == [
        (PROCESSOR, "refund", -500),
        (shop_payable(shop_id), "refund", 500),
        (shop_payable(shop_id), "commission_returned", -40),
        (PLATFORM_COMMISSION, "commission_returned", 40),
    ]


def test_a_reversal_brings_the_money_back_and_owes_the_shop_again():
    shop_id = uuid4()
    made = reversal_transaction(TransferReversed(
        reversal_id=uuid4(), transfer_id=uuid4(), payment_id=uuid4(), order_id=uuid4(),
        shop_id=shop_id, amount_cents=700), AT, hub_id=None)
    assert [(p.account, p.amount_cents) for p in made.postings] == [
        (PROCESSOR, 700), (shop_payable(shop_id), -700)]


def test_a_shops_payable_names_the_shop():
    shop_id = uuid4()
    assert shop_of_payable(shop_payable(shop_id)) == shop_id
    assert shop_of_payable(PROCESSOR) is None


def test_months_are_those_of_paris():
    march = Month.parse("2026-03")
    assert march.starts_at == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert march.ends_at == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # summer time from 29 March
    assert Month.of(datetime(2026, 2, 28, 23, 30, tzinfo=UTC)) == march
    assert (str(Month(2026, 1).previous()), str(Month(2026, 12).next())) == ("2025-12", "2027-01")
    for wrong in ("2026-00", "2026-13", "26-03", "2026/03", "2026-3", "", "0000-01", "9999-12"):
        with pytest.raises(Unprocessable):
            Month.parse(wrong)


def test_quarters_are_those_of_paris():
    assert quarter_of(datetime(2026, 3, 31, 21, 59, tzinfo=UTC)) == 1
    assert quarter_of(datetime(2026, 3, 31, 22, 0, tzinfo=UTC)) == 2
    assert quarter_of(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == 1  # 2027 in Paris


def test_the_owner_hub_admins_and_platform_admins_read_statements():
    owner, hub_admin, stranger = person("Alice"), person("Hélène"), person("Yann")
    assert may_read_statements(owner, owner.user_id, [])
    assert may_read_statements(hub_admin, owner.user_id, [hub_admin.user_id])
    assert may_read_statements(platform_admin(), owner.user_id, [])
    assert not may_read_statements(stranger, owner.user_id, [hub_admin.user_id])
    assert not may_read_statements(stranger, None, [])
