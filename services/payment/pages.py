"""The resident's payment page, server-rendered in French: pay, or (simulated provider) be
refused, then back to the order."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from libs.auth.tokens import Principal
from libs.auth.web import optional_principal
from libs.kit.app import Runtime
from libs.kit.errors import DomainError, NotFound, Unauthorized
from libs.kit.pages import templates_for
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


def page_user(request: Request) -> Principal | None:
    """Who is signed in; an expired session counts as nobody, to be sent to the login page."""
    try:
        return optional_principal(request)
    except Unauthorized:
        return None


PageUser = Annotated[Principal | None, Depends(page_user)]


@router.get("/{payment_id}", response_class=HTMLResponse)
async def pay_page(request: Request, payment_id: UUID, runtime: Runtime, principal: PageUser
                   ) -> Response:
    if principal is None:
        return _to_login(request.url.path)
    payment = await _payment_or_none(runtime, payment_id, principal)
    if payment is None:
        return _render(request, runtime, principal, None, error="Ce paiement est introuvable.",
                       status=404)
    return _render(request, runtime, principal, payment)


@router.post("/{payment_id}", response_class=HTMLResponse)
async def pay(request: Request, payment_id: UUID, runtime: Runtime, principal: PageUser,
              outcome: Annotated[Outcome, Form()]) -> Response:
    if principal is None:
        return _to_login(request.url.path)
    try:
        payment = await use_cases.simulate_outcome(runtime, payment_id, outcome, principal)
    except DomainError as exc:
        payment = await _payment_or_none(runtime, payment_id, principal)
        return _render(request, runtime, principal, payment, error=_problem(payment),
                       status=exc.status)
    return RedirectResponse(f"/orders/{payment.order_id}", status_code=303)


async def _payment_or_none(runtime: ServiceRuntime, payment_id: UUID, principal: Principal
                           ) -> Payment | None:
    try:
        return await use_cases.get_payment(runtime, payment_id, principal)
    except NotFound:
        return None


def _problem(payment: Payment | None) -> str:
    if payment is None:
        return "Ce paiement est introuvable."
    if payment.status != PaymentStatus.PENDING:
        return f"Ce paiement est {STATUS_WORDS[payment.status]} : il ne peut plus être réglé."
    if payment.provider_reference is None:
        return "Ce paiement n'est pas encore prêt : réessayez dans un instant."
    return "Ce paiement se règle par carte auprès de Stripe, pas sur cette page."


def _render(request: Request, runtime: ServiceRuntime, principal: Principal,
            payment: Payment | None, *, error: str | None = None, status: int = 200) -> Response:
    context = {
        "principal": principal,
        "payment": payment,
        "status_word": STATUS_WORDS[payment.status] if payment else None,
        "provider": use_cases.provider_of(runtime).name,
        "error": error,
    }
    return templates.TemplateResponse(request, "pay.html", context, status_code=status)


def _to_login(path: str) -> RedirectResponse:
    return RedirectResponse(f"/accounts/login?{urlencode({'next': path})}", status_code=303)
