"""Event type → the payment service's handlers. They leave the provider calls to the provider
step, which they wake, so the table is built with it."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from libs.contracts import Event
from libs.contracts.order import OrderCancelled, OrderPartCancelled, PaymentRequested
from libs.kit.runtime import EventHandler
from services.payment import use_cases


def subscriptions(provider_step: use_cases.ProviderStep
                  ) -> dict[type[Event], Sequence[EventHandler]]:
    return {
        PaymentRequested: [partial(use_cases.record_payment_request, provider_step=provider_step)],
        OrderCancelled: [partial(use_cases.call_off_payment, provider_step=provider_step)],
        OrderPartCancelled: [partial(use_cases.refund_cancelled_part,
                                     provider_step=provider_step)],
    }
