"""Event type → the catalog service's handlers."""

from libs.contracts.accounts import UserRegistered
from libs.contracts.order import (
    OrderCancelled,
    OrderCompleted,
    OrderLinesCancelled,
    OrderPartCancelled,
    OrderPlaced,
    OrderRejected,
)
from libs.contracts.payment import PayoutAccountUpdated
from libs.contracts.pickup import HubOpened, HubStaffAssigned, NoShowRecorded, SlotUnavailable
from services.catalog.shops.use_cases import attach_invited_shops, record_payout_account
from services.catalog.use_cases import (
    record_assigned_hub_staff,
    record_opened_hub,
    record_registered_user,
    release_stock_after_no_show,
    release_stock_of_cancelled_lines,
    release_stock_of_cancelled_part,
    release_stock_of_order,
    reserve_stock_for_order,
    sell_stock_of_completed_order,
)

SUBSCRIPTIONS = {
    UserRegistered: [record_registered_user, attach_invited_shops],
    HubOpened: [record_opened_hub],
    HubStaffAssigned: [record_assigned_hub_staff],
    OrderPlaced: [reserve_stock_for_order],
    SlotUnavailable: [release_stock_of_order],
    OrderRejected: [release_stock_of_order],
    OrderCancelled: [release_stock_of_order],
    OrderPartCancelled: [release_stock_of_cancelled_part],
    OrderLinesCancelled: [release_stock_of_cancelled_lines],
    OrderCompleted: [sell_stock_of_completed_order],
    NoShowRecorded: [release_stock_after_no_show],
    PayoutAccountUpdated: [record_payout_account],
}
