"""Event type → the payment service's handlers."""

from libs.contracts.order import OrderCancelled, OrderPartCancelled, PaymentRequested
from services.payment.use_cases import (
    call_off_payment,
    record_payment_request,
    refund_cancelled_part,
)

SUBSCRIPTIONS = {
    PaymentRequested: [record_payment_request],
    OrderCancelled: [call_off_payment],
    OrderPartCancelled: [refund_cancelled_part],
}
