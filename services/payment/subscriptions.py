"""Event type → the payment service's handlers."""

from libs.contracts.catalog import ShopOpened
from libs.contracts.order import (
    OrderCancelled,
    OrderCompleted,
    OrderLinesCancelled,
    OrderPartCancelled,
    PaymentRequested,
)
from libs.contracts.payment import (
    MembershipFeePaid,
    PaymentSucceeded,
    ProcessorFeeCharged,
    RefundIssued,
    TransferMade,
    TransferReversed,
)
from libs.contracts.pickup import (
    HubOpened,
    HubStaffAssigned,
    MembershipFeeRequested,
    NoShowRecorded,
)
from services.payment.ledger import use_cases as ledger
from services.payment.use_cases import (
    call_off_payment,
    pay_shops,
    record_hub_staff,
    record_membership_fee_request,
    record_payment_request,
    record_shop,
    refund_cancelled_lines,
    refund_cancelled_part,
    refund_no_show,
)

SUBSCRIPTIONS = {
    PaymentRequested: [record_payment_request],
    OrderCancelled: [call_off_payment],
    OrderPartCancelled: [refund_cancelled_part],
    OrderLinesCancelled: [refund_cancelled_lines],
    OrderCompleted: [pay_shops],
    NoShowRecorded: [refund_no_show],
    MembershipFeeRequested: [record_membership_fee_request],
    ShopOpened: [record_shop],
    HubStaffAssigned: [record_hub_staff],
    PaymentSucceeded: [ledger.post_payment_to_ledger],
    MembershipFeePaid: [ledger.post_membership_fee_to_ledger],
    ProcessorFeeCharged: [ledger.post_fee_to_ledger],
    RefundIssued: [ledger.post_refund_to_ledger],
    TransferMade: [ledger.post_transfer_to_ledger],
    TransferReversed: [ledger.post_reversal_to_ledger],
    HubOpened: [ledger.record_hub],
}
