"""Event type → the notification service's handlers."""

from libs.contracts.accounts import ContactPreferencesChanged, UserRegistered
from libs.contracts.catalog import ShopOpened
from libs.contracts.order import OrderConfirmed, OrderPlaced
from libs.contracts.pickup import (
    GatheringCancelled,
    GatheringScheduled,
    HubOpened,
    NoShowRecorded,
    PickupOverdue,
    PickupReady,
    PickupScheduled,
    ResidentSignedUp,
    SignUpCancelled,
    SlotHeld,
    SlotOpened,
)
from services.notification.use_cases import (
    record_cancelled_sign_up,
    record_contact_preferences,
    record_held_slot,
    record_opened_hub,
    record_opened_shop,
    record_opened_slot,
    record_pickup_code,
    record_placed_order,
    record_registered_user,
    record_scheduled_gathering,
    tell_cancelled_gathering,
    tell_confirmed_order,
    tell_no_show,
    tell_pickup_overdue,
    tell_pickup_ready,
    tell_signed_up,
)

SUBSCRIPTIONS = {
    UserRegistered: [record_registered_user],
    ContactPreferencesChanged: [record_contact_preferences],
    HubOpened: [record_opened_hub],
    ShopOpened: [record_opened_shop],
    SlotOpened: [record_opened_slot],
    SlotHeld: [record_held_slot],
    OrderPlaced: [record_placed_order],
    OrderConfirmed: [tell_confirmed_order],
    PickupScheduled: [record_pickup_code],
    PickupReady: [tell_pickup_ready],
    PickupOverdue: [tell_pickup_overdue],
    NoShowRecorded: [tell_no_show],
    GatheringScheduled: [record_scheduled_gathering],
    GatheringCancelled: [tell_cancelled_gathering],
    ResidentSignedUp: [tell_signed_up],
    SignUpCancelled: [record_cancelled_sign_up],
}
