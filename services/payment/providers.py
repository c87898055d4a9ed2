"""The payment providers behind the PaymentProvider port: a simulated one for the embedded
runtime and demos, and Stripe (one PaymentIntent per basket, separate transfers to the shops'
Connect Express accounts) for real money."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import stripe
from pydantic import BaseModel, Field, ValidationError

from services.payment.domain import (
    InvalidProviderNotice,
    Outcome,
    PayoutAccountState,
    ProviderNotice,
    ProviderPayment,
    ProviderRefund,
    ProviderRefused,
    ProviderReversal,
    ProviderShop,
    ProviderTransfer,
    simulated_fee_cents,
)

WEBHOOK_TOLERANCE_S = 300
NOT_AN_EVENT = "the webhook body is not a Stripe event"
REASON_CHARS = 500  # what a payment keeps of why it failed
PAYOUT_COUNTRY = "FR"


class SimulatedProvider:
    """Moves no money: the resident's verdict comes from the simulate endpoint or the pay page,
    and a shop's payout account, opened at once, can be paid once its owner went through the
    simulated onboarding page. Its fee is Stripe's European card pricing."""

    name = "simulated"

    async def create_payment(self, payment: ProviderPayment) -> str:
        return f"sim_{payment.payment_id.hex}"

    async def cancel_payment(self, reference: str, payment_id: UUID) -> None:
        return None

    async def refund(self, refund: ProviderRefund) -> str:
        return f"sim_re_{refund.refund_id.hex}"

    async def processor_fee(self, payment: ProviderPayment, reference: str) -> int:
        return simulated_fee_cents(payment.amount_cents)

    async def open_payout_account(self, shop: ProviderShop) -> PayoutAccountState:
        return PayoutAccountState(f"sim_acct_{shop.shop_id.hex}", details_submitted=False,
                                  payouts_enabled=False)

    async def onboarding_link(self, account_reference: str, shop_id: UUID, link_id: UUID,
                              back_url: str) -> str:
        return f"/payments/shops/{shop_id}/payouts/onboarding"

    async def transfer(self, transfer: ProviderTransfer) -> str:
        return f"sim_tr_{transfer.transfer_id.hex}"

    async def reverse(self, reversal: ProviderReversal) -> str:
        return f"sim_trr_{reversal.reversal_id.hex}"


class StripeProvider:
    """One PaymentIntent for the whole basket, grouped with the shops' later transfers by the
    order id (``transfer_group``), or one for a membership fee (no group). Every call that
    changes something carries an idempotency key derived from our ids (reads change nothing and
    need none)."""

    name = "stripe"

    def __init__(self, *, api_key: str, api_base: str, webhook_secret: str,
                 connect_webhook_secret: str = "") -> None:
        self._api_key = api_key
        self._api_base = api_base
        # Stripe signs the events of connected accounts with their own endpoint's secret.
        self._webhook_secrets = [s for s in (webhook_secret, connect_webhook_secret) if s]
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
            "metadata": {"payment_id": str(payment.payment_id)},
        }
        if payment.order_id is not None:
            params["transfer_group"] = str(payment.order_id)
            params["metadata"]["order_id"] = str(payment.order_id)
        else:  # a membership fee stays the platform's for the hub: nothing is transferred
            params["metadata"]["membership_id"] = str(payment.membership_id)
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

    async def processor_fee(self, payment: ProviderPayment, reference: str) -> int:
        """Stripe's fee, from the balance transaction of the intent's charge."""
        intent = await self._read_intent(reference)
        charge = intent.get("latest_charge")
        balance = charge.get("balance_transaction") if isinstance(charge, dict) else None
        if not isinstance(balance, dict):
            raise LookupError(f"Stripe has no balance transaction for {reference} yet")
        return int(balance["fee"])

    async def payment_outcome(self, reference: str) -> Outcome | None:
        """What the intent has come to now: None while it may still go either way."""
        status = (await self._read_intent(reference)).get("status")
        if status == "succeeded":
            return Outcome.SUCCEEDED
        return None if status == "processing" else Outcome.FAILED

    async def open_payout_account(self, shop: ProviderShop) -> PayoutAccountState:
        params = {
            "type": "express",
            "country": PAYOUT_COUNTRY,
            "email": shop.email,
            "capabilities": {"transfers": {"requested": True}},
            "business_profile": {"name": shop.name},
            "metadata": {"shop_id": str(shop.shop_id)},
        }
        with _refusals():
            account = await self._client.v1.accounts.create_async(
                params, {"idempotency_key": f"account-{shop.shop_id}"}
            )
        return _account_state(account)

    async def read_account(self, reference: str) -> PayoutAccountState:
        return _account_state(await self._client.v1.accounts.retrieve_async(reference))

    async def onboarding_link(self, account_reference: str, shop_id: UUID, link_id: UUID,
                              back_url: str) -> str:
        # A link is good for one visit: each request for one is a new link, named by its id.
        params = {"account": account_reference, "type": "account_onboarding",
                  "return_url": back_url, "refresh_url": back_url}
        with _refusals():
            link = await self._client.v1.account_links.create_async(
                params, {"idempotency_key": f"account-link-{shop_id}-{link_id}"}
            )
        return link.url

    async def transfer(self, transfer: ProviderTransfer) -> str:
        params = {
            "amount": transfer.amount_cents,
            "currency": transfer.currency,
            "destination": transfer.destination,
            "transfer_group": str(transfer.order_id),
            "metadata": {"transfer_id": str(transfer.transfer_id),
                         "payment_id": str(transfer.payment_id),
                         "order_id": str(transfer.order_id), "shop_id": str(transfer.shop_id)},
        }
        with _refusals():
            made = await self._client.v1.transfers.create_async(
                params,
                {"idempotency_key": f"transfer-{transfer.payment_id}-{transfer.shop_id}"},
            )
        return made.id

    async def reverse(self, reversal: ProviderReversal) -> str:
        params = {"amount": reversal.amount_cents,
                  "metadata": {"reversal_id": str(reversal.reversal_id),
                               "refund_id": str(reversal.refund_id),
                               "shop_id": str(reversal.shop_id)}}
        with _refusals():
            made = await self._client.v1.transfers.reversals.create_async(
                reversal.transfer_reference, params,
                {"idempotency_key": f"reversal-{reversal.refund_id}-{reversal.shop_id}"},
            )
        return made.id

    def read_notice(self, payload: bytes, signature: str | None) -> ProviderNotice:
        """The event in a webhook Stripe signed with one of our endpoints' secrets. A bad or
        stale signature (over WEBHOOK_TOLERANCE_S) is refused, and so is a signed body that is
        not shaped like a Stripe event: nothing in it could be acted on."""
        self._verify_signature(payload, signature)
        try:
            event = _StripeEvent.model_validate_json(payload)
        except ValidationError:
            raise InvalidProviderNotice(NOT_AN_EVENT) from None
        subject = event.data.object
        error = subject.last_payment_error
        return ProviderNotice(
            event_id=event.id, kind=event.type, object_id=subject.id,
            payment_id=_uuid((subject.metadata or {}).get("payment_id")),
            reason=((error and error.message) or "paiement refusé par la banque")[:REASON_CHARS],
        )

    def _verify_signature(self, payload: bytes, signature: str | None) -> None:
        refusals = []
        for secret in self._webhook_secrets:
            try:
                stripe.WebhookSignature.verify_header(payload, signature, secret,
                                                      tolerance=WEBHOOK_TOLERANCE_S)
                return
            except stripe.SignatureVerificationError as refused:
                refusals.append(str(refused))
            except ValueError:  # not UTF-8
                raise InvalidProviderNotice(NOT_AN_EVENT) from None
        raise InvalidProviderNotice(
            "the Stripe-Signature header is missing, does not match this body, or is older "
            f"than {WEBHOOK_TOLERANCE_S} s", details=refusals,
        )

    async def _read_intent(self, reference: str) -> dict:
        intent = await self._client.v1.payment_intents.retrieve_async(
            reference, {"expand": ["latest_charge.balance_transaction"]}
        )
        return intent.to_dict()


class _PaymentError(BaseModel):
    message: str | None = None


class _StripeObject(BaseModel):
    """What the service reads of the object an event is about (Stripe sends much more)."""

    id: str = ""
    metadata: dict[str, Any] | None = None
    last_payment_error: _PaymentError | None = None


class _EventData(BaseModel):
    object: _StripeObject


class _StripeEvent(BaseModel):
    id: str = Field(min_length=1, max_length=255)  # the column that takes each event once
    type: str = Field(min_length=1)
    data: _EventData


def _account_state(account: stripe.Account) -> PayoutAccountState:
    return PayoutAccountState(account.id, details_submitted=bool(account.details_submitted),
                              payouts_enabled=bool(account.payouts_enabled))


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
