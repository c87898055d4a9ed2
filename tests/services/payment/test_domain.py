"""The payment rules, without I/O: commission rounding, refund caps and shares, what a shop is
transferred and what a refund takes back, what moves a payment."""

from __future__ import annotations

from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.kit.errors import Conflict
from services.payment.domain import (
    Outcome,
    PaymentStatus,
    commission_bps_for,
    commission_cents,
    commission_given_back,
    ensure_simulatable,
    no_show_refund_shares,
    part_refund_id,
    refund_shares,
    refundable_cents,
    reversal_cents,
    reversal_id,
    simulated_fee_cents,
    status_after_order_cancelled,
    status_after_outcome,
    transfer_cents,
    transfer_id,
    whole_refund_id,
)


@pytest.mark.parametrize(("total", "bps", "expected"), [
    (1234, 800, 99),      # 98.72 rounds up
    (1231, 800, 98),      # 98.48 rounds down
    (625, 800, 50),       # exact
    (1, 5000, 1),         # exactly half rounds up
    (3, 5000, 2),         # 1.5 rounds up
    (1, 4999, 0),         # just under half rounds down
    (0, 800, 0),
    (10_000, 10_000, 10_000),
    (99_999_999, 800, 8_000_000),  # 7 999 999.92: integers only, no float drift
])
def test_the_commission_is_rounded_half_up_to_the_cent(total, bps, expected):
    assert commission_cents(total, bps) == expected


def test_a_negative_amount_has_no_commission():
    with pytest.raises(ValueError):
        commission_cents(-1, 800)


@pytest.mark.parametrize(("asked", "paid", "promised", "expected"), [
    (500, 1234, 0, 500),
    (500, 1234, 1000, 234),   # only what is left
    (500, 1234, 1234, 0),     # nothing left
    (5000, 1234, 0, 1234),    # never more than paid
])
def test_a_refund_never_gives_back_more_than_is_left(asked, paid, promised, expected):
    assert refundable_cents(asked, paid, promised) == expected


def test_a_verdict_moves_a_pending_payment_and_a_late_success_still_counts():
    assert status_after_outcome(PaymentStatus.PENDING, Outcome.SUCCEEDED) == "succeeded"
    assert status_after_outcome(PaymentStatus.PENDING, Outcome.FAILED) == "failed"
    assert status_after_outcome(PaymentStatus.CANCELLED, Outcome.SUCCEEDED) == "succeeded"
    assert status_after_outcome(PaymentStatus.FAILED, Outcome.SUCCEEDED) == "succeeded"
    assert status_after_outcome(PaymentStatus.SUCCEEDED, Outcome.SUCCEEDED) is None
    assert status_after_outcome(PaymentStatus.SUCCEEDED, Outcome.FAILED) is None
    assert status_after_outcome(PaymentStatus.CANCELLED, Outcome.FAILED) is None


def test_an_order_cancellation_calls_off_only_a_pending_payment():
    assert status_after_order_cancelled(PaymentStatus.PENDING) == "cancelled"
    for status in ("succeeded", "failed", "cancelled"):
        assert status_after_order_cancelled(PaymentStatus(status)) is None


def test_only_an_open_pending_payment_can_be_simulated():
    ensure_simulatable(PaymentStatus.PENDING, opened=True)
    with pytest.raises(Conflict, match="not open yet"):
        ensure_simulatable(PaymentStatus.PENDING, opened=False)
    with pytest.raises(Conflict, match="succeeded, no longer pending"):
        ensure_simulatable(PaymentStatus.SUCCEEDED, opened=True)


def test_a_refund_is_named_by_its_cause():
    payment_id, shop_id = uuid4(), uuid4()
    assert whole_refund_id(payment_id) == whole_refund_id(payment_id)
    assert part_refund_id(payment_id, shop_id) == part_refund_id(payment_id, shop_id)
    assert len({whole_refund_id(payment_id), part_refund_id(payment_id, shop_id),
                part_refund_id(payment_id, uuid4()), whole_refund_id(uuid4())}) == 4


def test_a_shops_rate_wins_over_its_hubs_which_wins_over_the_default():
    assert commission_bps_for(500, 1000, 800) == 500
    assert commission_bps_for(0, 1000, 800) == 0
    assert commission_bps_for(None, 1000, 800) == 1000
    assert commission_bps_for(None, 0, 800) == 0
    assert commission_bps_for(None, None, 800) == 800


@pytest.mark.parametrize(("share", "bps", "refunded", "expected"), [
    (1000, 800, 0, 920),     # 1000 − 80
    (1000, 800, 100, 828),   # 900 − 72
    (1000, 800, 1000, 0),
    (234, 800, 0, 215),      # 234 − 19 (18.72)
    (1, 5000, 0, 0),         # 0.5 rounds up: the commission takes the cent
    (1, 4999, 0, 1),
])
def test_a_shop_is_transferred_what_is_left_of_its_share_less_the_commission_on_it(
    share, bps, refunded, expected,
):
    assert transfer_cents(share, bps, refunded) == expected


def test_a_refund_gives_back_the_commission_on_what_it_takes_from_the_share():
    assert commission_given_back(1000, 800, 0, 250) == 20        # 80 − 60
    assert commission_given_back(1000, 800, 250, 750) == 60      # 60 − 0
    assert commission_given_back(234, 800, 0, 234) == 19
    assert commission_given_back(1, 5000, 0, 1) == 1
    assert reversal_cents(250, 20) == 230


@given(share=st.integers(0, 1_000_000), bps=st.integers(0, 5000),
       before=st.lists(st.integers(1, 100_000), max_size=4),
       after=st.lists(st.integers(1, 100_000), max_size=4))
def test_transfers_less_reversals_always_equal_the_shops_net_share(share, bps, before, after):
    """The ledger's equation, for any rate and any refunds before and after the transfer is
    fixed: transfer − reversals = share − commission − refunded + commission given back."""
    refunded = given_back = 0
    reversed_total = 0
    transfer = None
    for phase in (before, after):
        for asked in phase:
            taken = refundable_cents(asked, share, refunded)
            if taken == 0:
                continue
            back = commission_given_back(share, bps, refunded, taken)
            assert 0 <= back <= taken
            refunded, given_back = refunded + taken, given_back + back
            if transfer is not None:
                reversed_total += reversal_cents(taken, back)
        if transfer is None:
            transfer = transfer_cents(share, bps, refunded)
    net = share - commission_cents(share, bps) - refunded + given_back
    assert transfer - reversed_total == net >= 0


def test_a_shops_refund_comes_out_of_its_share_only_and_a_whole_one_out_of_every_share():
    first, second, third = uuid4(), uuid4(), uuid4()
    left = {first: 1000, second: 0, third: 234}
    assert refund_shares(300, left, first) == {first: 300}
    assert refund_shares(5000, left, third) == {third: 234}
    assert refund_shares(1, left, second) == {}
    assert refund_shares(1, left, uuid4()) == {}
    assert refund_shares(1234, left) == {first: 1000, third: 234}
    assert refund_shares(1100, left) == {first: 1000, third: 100}


def test_the_no_show_policy_gives_back_its_rate_of_what_is_left_of_each_share():
    first, second = uuid4(), uuid4()
    left = {first: 1001, second: 0}
    assert no_show_refund_shares(left, 0) == {}
    assert no_show_refund_shares(left, 5000) == {first: 501}
    assert no_show_refund_shares(left, 10_000) == {first: 1001}


@pytest.mark.parametrize(("amount", "fee"), [(1234, 44), (1000, 40), (0, 0), (1, 25)])
def test_the_simulated_fee_is_stripes_european_card_pricing(amount, fee):
    assert simulated_fee_cents(amount) == fee


def test_transfers_and_reversals_are_named_by_what_they_are_for():
    payment_id, shop_id, refund_id = uuid4(), uuid4(), uuid4()
    assert transfer_id(payment_id, shop_id) == transfer_id(payment_id, shop_id)
    assert transfer_id(payment_id, shop_id) != transfer_id(payment_id, uuid4())
    assert reversal_id(refund_id, shop_id) == reversal_id(refund_id, shop_id)
    assert reversal_id(refund_id, shop_id) != reversal_id(uuid4(), shop_id)
