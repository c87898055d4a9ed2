"""The order's rules on their own: transitions, late events, baskets."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from libs.kit.errors import Conflict
from services.order.domain import (
    Basket,
    OrderStatus,
    PartStatus,
    PartTrigger,
    Trigger,
    check_part_cancellable,
    order_after,
    part_after,
)


def test_each_trigger_moves_an_order_from_where_the_saga_allows_only():
    assert order_after("placed", Trigger.HELD) == OrderStatus.AWAITING_PAYMENT
    assert order_after("placed", Trigger.REFUSED) == OrderStatus.REJECTED
    assert order_after("awaiting_payment", Trigger.PAID) == OrderStatus.CONFIRMED
    assert order_after("awaiting_payment", Trigger.PAYMENT_OVERDUE) == OrderStatus.CANCELLED
    assert order_after("confirmed", Trigger.EVERY_PART_IN) == OrderStatus.READY
    assert order_after("ready", Trigger.PICKED_UP) == OrderStatus.COMPLETED
    assert order_after("confirmed", Trigger.EVERY_PART_CANCELLED) == OrderStatus.CANCELLED


@pytest.mark.parametrize(("status", "trigger"), [
    ("rejected", Trigger.HELD),
    ("awaiting_payment", Trigger.HELD),
    ("cancelled", Trigger.PAID),
    ("confirmed", Trigger.PAYMENT_OVERDUE),
    ("confirmed", Trigger.PAYMENT_FAILED),
    ("awaiting_payment", Trigger.REFUSED),
    ("completed", Trigger.EVERY_PART_IN),
    ("confirmed", Trigger.PICKED_UP),
])
def test_a_late_or_repeated_trigger_changes_nothing(status, trigger):
    assert order_after(status, trigger) is None


def test_parts_move_forward_only():
    assert part_after("pending", PartTrigger.DROPPED_OFF) == PartStatus.DROPPED_OFF
    assert part_after("dropped_off", PartTrigger.HANDED_OVER) == PartStatus.HANDED_OVER
    assert part_after("cancelled", PartTrigger.DROPPED_OFF) is None
    assert part_after("handed_over", PartTrigger.CANCELLED) is None


def test_only_a_pending_part_of_a_confirmed_order_may_be_cancelled():
    check_part_cancellable("confirmed", "pending")
    with pytest.raises(Conflict):
        check_part_cancellable("ready", "pending")
    with pytest.raises(Conflict):
        check_part_cancellable("confirmed", "dropped_off")


def test_a_basket_merges_its_lines_and_its_digest_ignores_their_order():
    bread, cheese = uuid.uuid4(), uuid.uuid4()
    hub, slot = uuid.uuid4(), uuid.uuid4()

    def basket(*lines):
        return Basket(hub_id=hub, slot_id=slot, lines=[
            {"product_id": p, "quantity": q} for p, q in lines])

    merged = basket((bread, 2), (cheese, 1), (bread, 3))
    assert [(line.product_id, line.quantity) for line in merged.lines] == [(bread, 5), (cheese, 1)]
    assert merged.digest() == basket((cheese, 1), (bread, 5)).digest()
    assert merged.digest() != basket((cheese, 1), (bread, 4)).digest()
    with pytest.raises(ValidationError):
        basket((bread, 60), (bread, 40))
