"""Event type → the order service's handlers. The handlers that start the payment clock need the
payment delay, a setting, so the table is built from it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import partial

from libs.contracts import Event
from libs.contracts.catalog import (
    ProductChanged,
    ProductListed,
    ShopOpened,
    StockReservationFailed,
    StockReserved,
)
from libs.contracts.payment import PaymentFailed, PaymentStarted, PaymentSucceeded, RefundIssued
from libs.contracts.pickup import (
    HubOpened,
    HubStaffAssigned,
    PartDroppedOff,
    PickedUp,
    PickupReady,
    PickupScheduled,
    SlotHeld,
    SlotOpened,
    SlotUnavailable,
)
from libs.kit.runtime import EventHandler
from services.order import use_cases


def subscriptions(payment_delay: timedelta) -> dict[type[Event], Sequence[EventHandler]]:
    return {
        HubOpened: [use_cases.record_hub],
        HubStaffAssigned: [use_cases.record_hub_staff],
        SlotOpened: [use_cases.record_slot],
        ShopOpened: [use_cases.record_shop],
        ProductListed: [use_cases.record_listed_product],
        ProductChanged: [use_cases.record_changed_product],
        StockReserved: [partial(use_cases.note_stock_reserved, payment_delay=payment_delay)],
        SlotHeld: [partial(use_cases.note_slot_held, payment_delay=payment_delay)],
        StockReservationFailed: [use_cases.reject_for_shortages],
        SlotUnavailable: [use_cases.reject_for_unavailable_slot],
        PaymentStarted: [use_cases.note_payment_started],
        PaymentSucceeded: [use_cases.confirm_paid_order],
        PaymentFailed: [use_cases.cancel_for_failed_payment],
        RefundIssued: [use_cases.note_refund],
        PickupScheduled: [use_cases.note_pickup_code],
        PartDroppedOff: [use_cases.note_part_dropped_off],
        PickupReady: [use_cases.make_order_ready],
        PickedUp: [use_cases.complete_order],
    }
