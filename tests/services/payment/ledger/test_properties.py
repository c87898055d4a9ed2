"""The ledger's invariants over any history of money movements (hypothesis): every transaction
balances, and each account ends where the events say it must."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from libs.contracts.payment import (
    MembershipFeePaid,
    PaymentSucceeded,
    ProcessorFeeCharged,
    RefundIssued,
    TransferMade,
    TransferReversed,
)
from services.payment.ledger.domain import (
    PLATFORM_COMMISSION,
    PLATFORM_FEES,
    PROCESSOR,
    SUSPENSE,
    Posting,
    PostingKind,
    Transaction,
    TransactionKind,
    UnbalancedTransaction,
    balances,
    fee_transaction,
    hub_membership_fees,
    membership_fee_transaction,
    owed,
    payment_transaction,
    refund_transaction,
    reversal_transaction,
    shop_payable,
    transfer_transaction,
)
from tests.services.payment.ledger.histories import STARTS_AT, History, fresh_ids, histories

FOLLOWING = {
    ProcessorFeeCharged: fee_transaction,
    RefundIssued: refund_transaction,
    TransferMade: transfer_transaction,
    TransferReversed: reversal_transaction,
}


def journal_of(history: History) -> dict[str, Transaction]:
    """The transactions the ledger writes for the history, each movement once."""
    journal: dict[str, Transaction] = {}
    hubs = {}
    for happening in history.happenings:
        event = happening.event
        if isinstance(event, PaymentSucceeded):
            hubs[event.payment_id] = event.hub_id
            transaction = payment_transaction(event, happening.at)
        elif isinstance(event, MembershipFeePaid):
            hubs[event.payment_id] = event.hub_id
            transaction = membership_fee_transaction(event, happening.at)
        else:
            transaction = FOLLOWING[type(event)](event, happening.at, hubs.get(event.payment_id))
        if transaction is not None:
            journal.setdefault(transaction.key, transaction)
    return journal


@given(histories())
def test_every_transaction_sums_to_zero(history):
    for transaction in journal_of(history).values():
        assert sum(p.amount_cents for p in transaction.postings) == 0
        assert sum(p.debit_cents for p in transaction.postings) == sum(
            p.credit_cents for p in transaction.postings) > 0
        assert all(p.amount_cents != 0 for p in transaction.postings)


@given(histories())
def test_each_account_ends_where_the_events_say(history):
    journal = journal_of(history)
    balance = balances(journal.values())

    for shop_id in history.shops:
        assert owed(balance.get(shop_payable(shop_id), 0)) == history.owed_to(shop_id)
    assert owed(balance.get(PLATFORM_COMMISSION, 0)) == history.commission()
    assert balance.get(PLATFORM_FEES, 0) == history.fees()
    assert balance.get(PROCESSOR, 0) == history.processor()
    assert owed(balance.get(SUSPENSE, 0)) == history.unallocated()
    assert owed(balance.get(hub_membership_fees(history.hub_id), 0)) == history.membership_fees()
    assert sum(balance.values()) == 0


@given(histories())
def test_the_same_movement_reported_again_changes_nothing(history):
    once = balances(journal_of(history).values())
    twice = History(history.hub_id, history.shops, history.happenings * 2)
    assert balances(journal_of(twice).values()) == once


@given(histories())
def test_every_movement_after_a_payment_is_at_its_hub(history):
    assert all(t.hub_id == history.hub_id for t in journal_of(history).values())


postings = st.builds(Posting, st.sampled_from([PROCESSOR, PLATFORM_FEES, SUSPENSE]),
                     st.sampled_from(PostingKind), st.integers(-10_000, 10_000).filter(bool))


@given(st.lists(postings, min_size=2, max_size=6).filter(
    lambda ps: sum(p.amount_cents for p in ps) != 0), fresh_ids)
def test_an_unbalanced_transaction_cannot_exist(unbalanced, payment_id):
    try:
        Transaction("payment:x", TransactionKind.PAYMENT, STARTS_AT, payment_id, payment_id, None,
                    tuple(unbalanced))
    except UnbalancedTransaction:
        return
    raise AssertionError("an unbalanced transaction was made")
