"""The payment service's JSON API, under /payments/api/v1."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from libs.auth.web import CurrentUser
from libs.kit.app import Runtime
from libs.kit.errors import NotFound
from services.payment import use_cases
from services.payment.domain import (
    FULL_BPS,
    MAX_COMMISSION_BPS,
    Outcome,
    PaymentStatus,
    RefundStatus,
    TransferStatus,
)

router = APIRouter(prefix="/api/v1", tags=["payment"])


class PaymentOut(BaseModel):
    id: UUID
    order_id: UUID | None
    membership_id: UUID | None
    status: PaymentStatus
    amount_cents: int
    commission_cents: int | None
    refunded_cents: int
    provider: str | None


class SimulatedOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome


class NoticeReceipt(BaseModel):
    applied: bool


class RefundAsked(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop_id: UUID
    amount_cents: int = Field(gt=0)
    reason: str = Field(min_length=1, max_length=500)


class RefundOut(BaseModel):
    id: UUID
    payment_id: UUID
    shop_id: UUID | None
    amount_cents: int
    status: RefundStatus
    reason: str | None


class CommissionRate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bps: int = Field(ge=0, le=MAX_COMMISSION_BPS, strict=True,
                     description="Basis points: 800 is 8 %; at most 5000.")


class NoShowPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bps: int = Field(ge=0, le=FULL_BPS, strict=True,
                     description="What a no-show gets back, in basis points of each shop's "
                                 "share: 0 keeps it all, 10000 gives it all back.")


class HubTermsOut(BaseModel):
    hub_id: UUID
    commission_bps: int
    no_show_refund_bps: int


class ShopCommissionOut(BaseModel):
    shop_id: UUID
    hub_id: UUID
    commission_bps: int


class PayoutAccountOut(BaseModel):
    shop_id: UUID
    account_reference: str
    details_submitted: bool
    payouts_enabled: bool
    onboarding_url: str | None = None


class TransferOut(BaseModel):
    id: UUID
    payment_id: UUID
    order_id: UUID
    shop_id: UUID
    status: TransferStatus
    amount_cents: int | None
    reversed_cents: int
    provider_reference: str | None
    made_at: datetime | None


@router.get("/payments/{payment_id}", response_model=PaymentOut)
async def get_payment(payment_id: UUID, runtime: Runtime, principal: CurrentUser):
    """The paying resident's payment (platform administrators see every one): an order's, or a
    membership fee's (``order_id`` null). ``provider`` is null until the provider has opened it,
    ``commission_cents`` until it succeeded."""
    return await use_cases.get_payment(runtime, payment_id, principal)


@router.post("/payments/{payment_id}/simulate", response_model=PaymentOut)
async def simulate(payment_id: UUID, body: SimulatedOutcome, runtime: Runtime,
                   principal: CurrentUser):
    """Pay (``succeeded``) or be refused (``failed``), with the simulated provider only (404
    otherwise); 409 once the payment is no longer pending."""
    return await use_cases.simulate_outcome(runtime, payment_id, body.outcome, principal)


@router.post("/payments/{payment_id}/refunds", response_model=RefundOut, status_code=201,
             responses={200: {"model": RefundOut,
                              "description": "The refund asked before with this Idempotency-Key"}})
async def ask_refund(payment_id: UUID, body: RefundAsked, runtime: Runtime,
                     principal: CurrentUser, response: Response,
                     idempotency_key: Annotated[str, Header(min_length=1, max_length=200)]):
    """Gives back part of one shop's share of a paid order (an item was missing): the hub's
    admins and platform admins only (403). The same ``Idempotency-Key`` answers the same refund
    (200; 409 if the body differs). 409 when the payment is not paid or the shop's share has
    less left than asked; 422 when the shop has no share in it."""
    refund, made = await use_cases.ask_refund(runtime, payment_id, body.shop_id,
                                              body.amount_cents, body.reason, idempotency_key,
                                              principal)
    if not made:
        response.status_code = 200
    return refund


@router.get("/hubs/{hub_id}/terms", response_model=HubTermsOut)
async def hub_terms(hub_id: UUID, runtime: Runtime, principal: CurrentUser):
    """The hub's commission and no-show refund rates, defaults included (its admins only)."""
    return await use_cases.hub_terms(runtime, hub_id, principal)


@router.put("/hubs/{hub_id}/commission", response_model=HubTermsOut)
async def set_hub_commission(hub_id: UUID, body: CommissionRate, runtime: Runtime,
                             principal: CurrentUser):
    """The hub's commission for orders checked out from now on (its admins only, 403)."""
    return await use_cases.set_hub_terms(runtime, hub_id, principal, commission_bps=body.bps)


@router.put("/hubs/{hub_id}/no-show-refund", response_model=HubTermsOut)
async def set_no_show_refund(hub_id: UUID, body: NoShowPolicy, runtime: Runtime,
                             principal: CurrentUser):
    """What the hub gives back to a resident who never came (its admins only, 403)."""
    return await use_cases.set_hub_terms(runtime, hub_id, principal,
                                         no_show_refund_bps=body.bps)


@router.put("/shops/{shop_id}/commission", response_model=ShopCommissionOut)
async def set_shop_commission(shop_id: UUID, body: CommissionRate, runtime: Runtime,
                              principal: CurrentUser):
    """The shop's own commission, over its hub's, for orders checked out from now on (its
    hub's admins only, 403; 404 for a shop this service has not heard of)."""
    shop = await use_cases.set_shop_commission(runtime, shop_id, body.bps, principal)
    return {"shop_id": shop.id, "hub_id": shop.hub_id, "commission_bps": shop.commission_bps}


@router.post("/shops/{shop_id}/payout-account", response_model=PayoutAccountOut)
async def open_payout_account(shop_id: UUID, request: Request, runtime: Runtime,
                              principal: CurrentUser):
    """Opens the shop's payout account if it has none (Stripe: a Connect Express account) and
    answers where its owner completes it (``onboarding_url``: to its owner only, whoever
    completes it gives the bank account; null once it can be paid). The shop's owner and its
    hub's admins only (403)."""
    back_url = str(request.base_url).rstrip("/") + f"/payments/shops/{shop_id}/payouts"
    account, link = await use_cases.open_payout_account(runtime, shop_id, principal, back_url)
    return _account_out(account, link)


@router.get("/shops/{shop_id}/payout-account", response_model=PayoutAccountOut)
async def get_payout_account(shop_id: UUID, runtime: Runtime, principal: CurrentUser):
    """The shop's payout account; 404 while it has none."""
    _, account, _ = await use_cases.shop_payouts(runtime, shop_id, principal)
    if account is None:
        raise NotFound(f"shop {shop_id} has no payout account yet")
    return _account_out(account)


@router.get("/shops/{shop_id}/transfers", response_model=list[TransferOut])
async def shop_transfers(shop_id: UUID, runtime: Runtime, principal: CurrentUser):
    """What the shop was sent for its completed orders, newest first, with what refunds took
    back (``held`` ones wait for its payout account)."""
    _, _, transfers = await use_cases.shop_payouts(runtime, shop_id, principal)
    taken_back = await use_cases.reversed_cents(runtime, [t.id for t in transfers])
    return [{**t.model_dump(), "reversed_cents": taken_back.get(t.id, 0)} for t in transfers]


def _account_out(account, link: str | None = None) -> dict:
    return {"shop_id": account.shop_id, "account_reference": account.reference,
            "details_submitted": account.details_submitted,
            "payouts_enabled": account.payouts_enabled, "onboarding_url": link}


@router.post("/stripe/webhook", response_model=NoticeReceipt)
async def stripe_webhook(request: Request, runtime: Runtime,
                         stripe_signature: Annotated[str | None, Header()] = None):
    """Stripe's word on a PaymentIntent or a payout account, verified by its signature (400
    when it does not match or is over 5 minutes old, or when the signed body is not a Stripe
    event), applied once per Stripe event id. Events of any other type are acknowledged and
    ignored."""
    payload = await request.body()
    return {"applied": await use_cases.record_provider_notice(runtime, payload, stripe_signature)}
