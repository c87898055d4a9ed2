"""The resident's page for a membership fee, server-rendered in French: the hub and the amount,
the pay form (the same card as an order's), then back to the member card at the hub (pickup's
page) once paid; what went wrong when it was refused or not paid in time."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from libs.auth.tokens import Principal
from libs.auth.web import MaybeUser
from libs.kit.app import Runtime
from libs.kit.errors import DomainError, NotFound
from libs.kit.i18n import gettext as _
from libs.kit.pages import problem_page, sign_in_redirect
from libs.kit.runtime import ServiceRuntime
from services.payment import use_cases
from services.payment.domain import Outcome, PaymentStatus
from services.payment.ledger.tables import LedgerHub
from services.payment.pages import STATUS_WORDS, templates
from services.payment.tables import Payment

router = APIRouter(prefix="/memberships", include_in_schema=False)


def member_card_url(hub_id: UUID) -> str:
    return f"/pickup/hubs/{hub_id}/adhesion"


@router.get("/{membership_id}", response_class=HTMLResponse)
async def membership_fee_page(request: Request, membership_id: UUID, runtime: Runtime,
                              principal: MaybeUser) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    found = await _membership_payment_or_none(runtime, membership_id, principal)
    if found is None:
        return _not_found(request, principal)
    return _render(request, runtime, principal, *found)


@router.post("/{membership_id}", response_class=HTMLResponse)
async def pay_membership_fee(request: Request, membership_id: UUID, runtime: Runtime,
                             principal: MaybeUser, outcome: Annotated[Outcome, Form()]
                             ) -> Response:
    page = f"/payments/memberships/{membership_id}"
    if principal is None:
        return sign_in_redirect(request, page)
    found = await _membership_payment_or_none(runtime, membership_id, principal)
    if found is None:
        return _not_found(request, principal)
    payment, hub = found
    try:
        payment = await use_cases.simulate_outcome(runtime, payment.id, outcome, principal)
    except DomainError as refused:
        payment, hub = await use_cases.membership_payment(runtime, membership_id, principal)
        return _render(request, runtime, principal, payment, hub, status=refused.status,
                       error=_("Ce paiement ne peut plus être réglé sur cette page."))
    if payment.status == PaymentStatus.SUCCEEDED:
        return RedirectResponse(member_card_url(payment.hub_id), status_code=303)
    return RedirectResponse(page, status_code=303)


async def _membership_payment_or_none(runtime: ServiceRuntime, membership_id: UUID,
                                      principal: Principal
                                      ) -> tuple[Payment, LedgerHub | None] | None:
    try:
        return await use_cases.membership_payment(runtime, membership_id, principal)
    except NotFound:
        return None


def _not_found(request: Request, principal: Principal) -> Response:
    return problem_page(request, principal, 404,
                        message=_("Ce paiement d'adhésion est introuvable."),
                        back=("/orders/hubs", _("Voir les tiers-lieux")))


def _render(request: Request, runtime: ServiceRuntime, principal: Principal, payment: Payment,
            hub: LedgerHub | None, *, error: str | None = None, status: int = 200) -> Response:
    return templates.TemplateResponse(request, "pay_membership.html", {
        "principal": principal,
        "payment": payment,
        "hub": hub,
        "status_word": _(STATUS_WORDS[payment.status]),
        "provider": use_cases.provider_of(runtime).name,
        "member_card_url": member_card_url(payment.hub_id),
        "error": error,
    }, status_code=status)
