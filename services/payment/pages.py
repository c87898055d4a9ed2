"""The payment service's pages, server-rendered in French or English: the resident's payment
page (pay, or, with the simulated provider, be refused, then back to the order), and a shop's
payouts page (its payout account, the way to complete it, and what it was sent)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from libs.auth.tokens import Principal
from libs.auth.web import MaybeUser
from libs.kit.app import Runtime
from libs.kit.errors import DomainError, Forbidden, NotFound
from libs.kit.i18n import N_
from libs.kit.i18n import gettext as _
from libs.kit.pages import problem_page, sign_in_redirect, templates_for
from libs.kit.runtime import ServiceRuntime
from services.payment import use_cases
from services.payment.domain import Outcome, PaymentStatus, TransferStatus
from services.payment.tables import Payment, PayoutAccount

router = APIRouter(prefix="/pay", include_in_schema=False)
payouts_router = APIRouter(prefix="/shops", include_in_schema=False)
templates = templates_for(__file__)

STATUS_WORDS = {
    PaymentStatus.PENDING: N_("en attente de paiement"),
    PaymentStatus.SUCCEEDED: N_("payé"),
    PaymentStatus.FAILED: N_("refusé"),
    PaymentStatus.CANCELLED: N_("annulé"),
}

TRANSFER_WORDS = {
    TransferStatus.HELD: N_("en attente de votre compte de versement"),
    TransferStatus.DUE: N_("en cours d'envoi"),
    TransferStatus.MADE: N_("versé"),
    TransferStatus.NOT_NEEDED: N_("rien à verser"),
    TransferStatus.REFUSED: N_("refusé par le prestataire (nous nous en occupons)"),
}


@router.get("/{payment_id}", response_class=HTMLResponse)
async def pay_page(request: Request, payment_id: UUID, runtime: Runtime, principal: MaybeUser
                   ) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    payment = await _payment_or_none(runtime, payment_id, principal)
    if payment is None:
        return _not_found(request, principal)
    if payment.membership_id is not None:
        return RedirectResponse(f"/payments/memberships/{payment.membership_id}", status_code=303)
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
    return problem_page(request, principal, 404, message=_("Ce paiement est introuvable."),
                        back=("/orders/mine", _("Voir mes commandes")))


def _problem(payment: Payment) -> str:
    if payment.status != PaymentStatus.PENDING:
        return _("Ce paiement est %(status)s : il ne peut plus être réglé.") % {
            "status": _(STATUS_WORDS[payment.status])}
    if payment.provider_reference is None:
        return _("Ce paiement n'est pas encore prêt : réessayez dans un instant.")
    return _("Ce paiement se règle par carte auprès de Stripe, pas sur cette page.")


def _render(request: Request, runtime: ServiceRuntime, principal: Principal,
            payment: Payment, *, error: str | None = None, status: int = 200) -> Response:
    context = {
        "principal": principal,
        "payment": payment,
        "status_word": _(STATUS_WORDS[payment.status]),
        "provider": use_cases.provider_of(runtime).name,
        "error": error,
    }
    return templates.TemplateResponse(request, "pay.html", context, status_code=status)


@payouts_router.get("/{shop_id}/payouts", response_class=HTMLResponse)
async def payouts_page(request: Request, shop_id: UUID, runtime: Runtime, principal: MaybeUser
                       ) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    try:
        shop, account, transfers = await use_cases.shop_payouts(runtime, shop_id, principal)
    except DomainError as refused:
        return _refused(request, principal, refused)
    taken_back = await use_cases.reversed_cents(runtime, [t.id for t in transfers])
    return templates.TemplateResponse(request, "payouts.html", {
        "principal": principal, "shop": shop, "account": account,
        "account_word": _account_word(account), "transfers": transfers,
        "transfer_words": {status: _(word) for status, word in TRANSFER_WORDS.items()},
        "taken_back": taken_back,
        "provider": use_cases.provider_of(runtime).name,
    })


@payouts_router.post("/{shop_id}/payouts")
async def open_payout_account(request: Request, shop_id: UUID, runtime: Runtime,
                              principal: MaybeUser) -> Response:
    """Opens the account if need be, then off to the provider's onboarding."""
    page = f"/payments/shops/{shop_id}/payouts"
    if principal is None:
        return sign_in_redirect(request, page)
    back_url = str(request.base_url).rstrip("/") + page
    try:
        _, link = await use_cases.open_payout_account(runtime, shop_id, principal, back_url)
    except DomainError as refused:
        return _refused(request, principal, refused)
    return RedirectResponse(link or page, status_code=303)


@payouts_router.get("/{shop_id}/payouts/onboarding", response_class=HTMLResponse)
async def simulated_onboarding_page(request: Request, shop_id: UUID, runtime: Runtime,
                                    principal: MaybeUser) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    try:
        shop, account = await use_cases.simulated_onboarding(runtime, shop_id, principal)
    except DomainError as refused:
        return _refused(request, principal, refused)
    return templates.TemplateResponse(request, "onboarding.html", {
        "principal": principal, "shop": shop, "account": account,
    })


@payouts_router.post("/{shop_id}/payouts/onboarding")
async def finish_simulated_onboarding(request: Request, shop_id: UUID, runtime: Runtime,
                                      principal: MaybeUser) -> Response:
    page = f"/payments/shops/{shop_id}/payouts"
    if principal is None:
        return sign_in_redirect(request, page + "/onboarding")
    try:
        await use_cases.finish_simulated_onboarding(runtime, shop_id, principal)
    except DomainError as refused:
        return _refused(request, principal, refused)
    return RedirectResponse(page, status_code=303)


def _account_word(account: PayoutAccount | None) -> str:
    if account is None:
        return _("pas encore ouvert")
    if account.payouts_enabled:
        return _("actif : vos ventes vous sont versées")
    if account.details_submitted:
        return _("en cours de vérification par le prestataire")
    return _("à compléter")


def _refused(request: Request, principal: Principal, refused: DomainError) -> Response:
    if isinstance(refused, Forbidden):
        return problem_page(request, principal, 403,
                            message=_("Seuls le commerçant et les responsables de son "
                                      "tiers-lieu gèrent ses versements."),
                            back=("/catalog/shops", _("Voir mes boutiques")))
    if isinstance(refused, NotFound):
        return problem_page(request, principal, 404, message=_("Cette boutique est introuvable."),
                            back=("/catalog/shops", _("Voir mes boutiques")))
    return problem_page(request, principal, refused.status, detail=refused.message,
                        back=(f"/payments/shops/{request.path_params['shop_id']}/payouts",
                              _("Revenir aux versements")))
