"""The payment service's JSON API, under /payments/api/v1."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict

from libs.auth.web import CurrentUser
from libs.kit.app import Runtime
from services.payment import use_cases
from services.payment.domain import Outcome, PaymentStatus

router = APIRouter(prefix="/api/v1", tags=["payment"])


class PaymentOut(BaseModel):
    id: UUID
    order_id: UUID
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


@router.get("/payments/{payment_id}", response_model=PaymentOut)
async def get_payment(payment_id: UUID, runtime: Runtime, principal: CurrentUser):
    """The paying resident's payment (platform administrators see every one). ``provider`` is
    null until the provider has opened it, ``commission_cents`` until it succeeded."""
    return await use_cases.get_payment(runtime, payment_id, principal)


@router.post("/payments/{payment_id}/simulate", response_model=PaymentOut)
async def simulate(payment_id: UUID, body: SimulatedOutcome, runtime: Runtime,
                   principal: CurrentUser):
    """Pay (``succeeded``) or be refused (``failed``), with the simulated provider only (404
    otherwise); 409 once the payment is no longer pending."""
    return await use_cases.simulate_outcome(runtime, payment_id, body.outcome, principal)


@router.post("/stripe/webhook", response_model=NoticeReceipt)
async def stripe_webhook(request: Request, runtime: Runtime,
                         stripe_signature: Annotated[str | None, Header()] = None):
    """Stripe's word on a PaymentIntent, verified by its signature (400 when it does not match
    or is over 5 minutes old). Events about anything else are acknowledged and ignored."""
    payload = await request.body()
    return {"applied": await use_cases.record_provider_notice(runtime, payload, stripe_signature)}
