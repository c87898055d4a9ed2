"""The payment providers behind the PaymentProvider port: a simulated one for the embedded
runtime and demos, and Stripe (one PaymentIntent per basket) for real money."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from uuid import UUID

import stripe

from services.payment.domain import (
    InvalidProviderNotice,
    Outcome,
    ProviderPayment,
    ProviderRefund,
    ProviderRefused,
    ProviderVerdict,
)

WEBHOOK_TOLERANCE_S = 300


class SimulatedProvider:
    """Moves no money: the resident's verdict comes from the simulate endpoint or the pay page."""

    name = "simulated"

    async def create_payment(self, payment: ProviderPayment) -> str:
        return f"sim_{payment.payment_id.hex}"

    async def cancel_payment(self, reference: str, payment_id: UUID) -> None:
        return None

    async def refund(self, refund: ProviderRefund) -> str:
        return f"sim_re_{refund.refund_id.hex}"


_VERDICTS = {
    "payment_intent.succeeded": Outcome.SUCCEEDED,
    "payment_intent.payment_failed": Outcome.FAILED,
}


class StripeProvider:
    """One PaymentIntent for the whole basket, grouped with the shops' later transfers by the
    order id (``transfer_group``); every call carries an idempotency key derived from our ids."""

    name = "stripe"

    def __init__(self, *, api_key: str, api_base: str, webhook_secret: str) -> None:
        self._api_key = api_key
        self._api_base = api_base
        self._webhook_secret = webhook_secret
        self._http: stripe.HTTPXClient | None = None
        self._client: stripe.StripeClient | None = None

    async def start(self) -> None:
        self._http = stripe.HTTPXClient()
        self._client = stripe.StripeClient(
            self._api_key, base_addresses={"api": self._api_base}, http_client=self._http,
            max_network_retries=2,
        )

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close_async()
        self._http = self._client = None

    async def create_payment(self, payment: ProviderPayment) -> str:
        params = {
            "amount": payment.amount_cents,
            "currency": payment.currency,
            "payment_method_types": ["card"],
            "transfer_group": str(payment.order_id),
            "metadata": {"order_id": str(payment.order_id), "payment_id": str(payment.payment_id)},
        }
        with _refusals():
            intent = await self._client.v1.payment_intents.create_async(
                params, {"idempotency_key": f"payment-{payment.payment_id}-create"}
            )
        return intent.id

    async def cancel_payment(self, reference: str, payment_id: UUID) -> None:
        with _refusals():
            await self._client.v1.payment_intents.cancel_async(
                reference, options={"idempotency_key": f"payment-{payment_id}-cancel"}
            )

    async def refund(self, refund: ProviderRefund) -> str:
        metadata = {"refund_id": str(refund.refund_id), "payment_id": str(refund.payment_id),
                    "order_id": str(refund.order_id)}
        if refund.shop_id is not None:
            metadata["shop_id"] = str(refund.shop_id)
        params = {"payment_intent": refund.payment_reference, "amount": refund.amount_cents,
                  "metadata": metadata}
        with _refusals():
            created = await self._client.v1.refunds.create_async(
                params, {"idempotency_key": f"refund-{refund.refund_id}"}
            )
        return created.id

    def read_notice(self, payload: bytes, signature: str | None) -> ProviderVerdict | None:
        """The verdict in a webhook Stripe signed, or None when it says nothing about one of our
        payments' outcome. A bad or stale signature (over WEBHOOK_TOLERANCE_S) is refused."""
        try:
            event = stripe.Webhook.construct_event(
                payload, signature, self._webhook_secret, tolerance=WEBHOOK_TOLERANCE_S
            )
        except stripe.SignatureVerificationError as refused:
            raise InvalidProviderNotice(
                "the Stripe-Signature header is missing, does not match this body, or is older "
                f"than {WEBHOOK_TOLERANCE_S} s", details=[str(refused)],
            ) from None
        except ValueError:
            raise InvalidProviderNotice("the webhook body is not a Stripe event") from None
        outcome = _VERDICTS.get(event.type)
        if outcome is None:
            return None
        intent = (json.loads(payload).get("data") or {}).get("object") or {}
        payment_id = _uuid((intent.get("metadata") or {}).get("payment_id"))
        if payment_id is None:
            return None
        error = intent.get("last_payment_error") or {}
        reason = error.get("message") or "paiement refusé par la banque"
        return ProviderVerdict(payment_id, outcome, reason)


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """Turns Stripe's definitive answers into ProviderRefused; network trouble, rate limits,
    Stripe's own errors and a concurrent call with the same idempotency key stay transient."""
    try:
        yield
    except (stripe.CardError, stripe.InvalidRequestError) as error:
        if error.code == "idempotency_key_in_use":
            raise
        raise ProviderRefused(error.user_message or str(error)) from error


def _uuid(value: object) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None
