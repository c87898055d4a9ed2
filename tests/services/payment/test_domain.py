"""The payment rules, without I/O: commission rounding, refund caps, what moves a payment."""

from __future__ import annotations

from uuid import uuid4

import pytest

from libs.kit.errors import Conflict
from services.payment.domain import (
    Outcome,
    PaymentStatus,
    commission_cents,
    ensure_simulatable,
    part_refund_id,
    refundable_cents,
    status_after_order_cancelled,
    status_after_outcome,
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
