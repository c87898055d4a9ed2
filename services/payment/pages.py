"""The resident's payment page, server-rendered in French: pay, or (simulated provider) be
refused, then back to the order."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from libs.auth.tokens import Principal
from libs.auth.web import MaybeUser
from libs.kit.app import Runtime
from libs.kit.errors import DomainError, NotFound
from libs.kit.pages import problem_page, sign_in_redirect, templates_for
from libs.kit.runtime import ServiceRuntime
from services.payment import use_cases
from services.payment.domain import Outcome, PaymentStatus
from services.payment.tables import Payment

router = APIRouter(prefix="/pay", include_in_schema=False)
templates = templates_for(__file__)

STATUS_WORDS = {
    PaymentStatus.PENDING: "en attente de paiement",
    PaymentStatus.SUCCEEDED: "payé",
    PaymentStatus.FAILED: "refusé",
    PaymentStatus.CANCELLED: "annulé",
}


@router.get("/{payment_id}", response_class=HTMLResponse)
async def pay_page(request: Request, payment_id: UUID, runtime: Runtime, principal: MaybeUser
                   ) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    payment = await _payment_or_none(runtime, payment_id, principal)
    if payment is None:
        return _not_found(request, principal)
    return _render(request, runtime, principal, payment)


@router.post("/{payment_id}", response_class=HTMLResponse)
async def pay(request: Request, payment_id: UUID, runtime: Runtime, principal: MaybeUser,
              outcome: Annotated[Outcome, Form()]) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    try:
        payment = await use_cases.simulate_outcome(runtime, payment_id, outcome, principal)
    except DomainError as exc:
        payment = await _payment_or_none(runtime, payment_id, principal)
        if payment is None:
            return _not_found(request, principal)
        return _render(request, runtime, principal, payment, error=_problem(payment),
                       status=exc.status)
    return RedirectResponse(f"/orders/{payment.order_id}", status_code=303)


async def _payment_or_none(runtime: ServiceRuntime, payment_id: UUID, principal: Principal
                           ) -> Payment | None:
    try:
        return await use_cases.get_payment(runtime, payment_id, principal)
    except NotFound:
        return None


def _not_found(request: Request, principal: Principal) -> Response:
    return problem_page(request, principal, 404, message="Ce paiement est introuvable.",
                        back=("/orders/mine", "Voir mes commandes"))


def _problem(payment: Payment) -> str:
    if payment.status != PaymentStatus.PENDING:
        return f"Ce paiement est {STATUS_WORDS[payment.status]} : il ne peut plus être réglé."
    if payment.provider_reference is None:
        return "Ce paiement n'est pas encore prêt : réessayez dans un instant."
    return "Ce paiement se règle par carte auprès de Stripe, pas sur cette page."


def _render(request: Request, runtime: ServiceRuntime, principal: Principal,
            payment: Payment, *, error: str | None = None, status: int = 200) -> Response:
    context = {
        "principal": principal,
        "payment": payment,
        "status_word": STATUS_WORDS[payment.status],
        "provider": use_cases.provider_of(runtime).name,
        "error": error,
    }
    return templates.TemplateResponse(request, "pay.html", context, status_code=status)
