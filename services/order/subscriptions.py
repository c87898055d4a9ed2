"""Event type → the order service's handlers."""

from libs.contracts.catalog import (
    ProductChanged,
    ProductListed,
    ShopOpened,
    ShopStatusChanged,
    StockLevelChanged,
    StockReservationFailed,
    StockReserved,
)
from libs.contracts.payment import PaymentFailed, PaymentStarted, PaymentSucceeded, RefundIssued
from libs.contracts.pickup import (
    HubOpened,
    HubStaffAssigned,
    MembershipEnded,
    MembershipStarted,
    NoShowRecorded,
    PartDroppedOff,
    PickedUp,
    PickupReady,
    PickupScheduled,
    SlotClosed,
    SlotHeld,
    SlotOpened,
    SlotUnavailable,
)
from services.order import use_cases

SUBSCRIPTIONS = {
    HubOpened: [use_cases.record_hub],
    HubStaffAssigned: [use_cases.record_hub_staff],
    SlotOpened: [use_cases.record_slot],
    SlotClosed: [use_cases.record_slot_closed],
    ShopOpened: [use_cases.record_shop],
    ShopStatusChanged: [use_cases.record_shop_status],
    ProductListed: [use_cases.record_product],
    ProductChanged: [use_cases.record_product],
    StockLevelChanged: [use_cases.record_stock_level],
    StockReserved: [use_cases.note_stock_reserved],
    SlotHeld: [use_cases.note_slot_held],
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
    NoShowRecorded: [use_cases.record_no_show],
    MembershipStarted: [use_cases.record_membership_started],
    MembershipEnded: [use_cases.record_membership_ended],
}
