"""Event type → the pickup service's handlers."""

from libs.contracts.accounts import UserRegistered
from libs.contracts.catalog import ShopOpened, StockReservationFailed
from libs.contracts.order import (
    OrderCancelled,
    OrderCompleted,
    OrderConfirmed,
    OrderPartCancelled,
    OrderPartPrepared,
    OrderPlaced,
    OrderRejected,
)
from libs.contracts.payment import MembershipFeeFailed, MembershipFeePaid
from services.pickup.membership.use_cases import lapse_unpaid_membership, start_paid_membership
from services.pickup.report.use_cases import (
    record_cancelled_sale,
    record_cancelled_share,
    record_completed_sale,
    record_confirmed_sale,
)
from services.pickup.use_cases import (
    cancel_pickup,
    hold_place,
    note_part_prepared,
    record_opened_shop,
    record_registered_user,
    release_place,
    schedule_pickup,
    stop_expecting_part,
)

SUBSCRIPTIONS = {
    UserRegistered: [record_registered_user],
    ShopOpened: [record_opened_shop],
    OrderPlaced: [hold_place],
    StockReservationFailed: [release_place],
    OrderRejected: [release_place],
    OrderConfirmed: [schedule_pickup, record_confirmed_sale],
    OrderPartCancelled: [stop_expecting_part, record_cancelled_share],
    OrderPartPrepared: [note_part_prepared],
    OrderCancelled: [release_place, cancel_pickup, record_cancelled_sale],
    OrderCompleted: [record_completed_sale],
    MembershipFeePaid: [start_paid_membership],
    MembershipFeeFailed: [lapse_unpaid_membership],
}
