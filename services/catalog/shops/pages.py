"""The shop's own back office pages, in French: its profile and status, and its journal of
changes (who made each, and whether the association acted for the shop). Forms post, then
redirect (303)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from libs.auth.tokens import Principal
from libs.auth.web import MaybeUser
from libs.kit.app import Runtime
from libs.kit.errors import DomainError, Forbidden, NotFound
from libs.kit.i18n import N_
from libs.kit.i18n import gettext as _
from libs.kit.pages import problem_page, sign_in_redirect
from services.catalog.domain import (
    CATEGORIES,
    SHOP_STATUSES,
    InvalidStatusChange,
    Invitation,
    NotInvited,
    PayoutAccountNotReady,
    ShopProfile,
    ShopStatus,
    payouts_page,
)
from services.catalog.pages import templates
from services.catalog.photos import use_cases as photo_use_cases
from services.catalog.shops import use_cases as shop_use_cases

router = APIRouter(include_in_schema=False)

NOTICES = {"photo": N_("Photo enregistrée."), "photo-retiree": N_("Photo retirée.")}
SAVED = N_("Enregistré.")

PROFILE_FIELDS = ("name", "description", "address", "opening_hours", "trade_category",
                  "contact_email", "contact_phone")

REFUSALS = {
    PayoutAccountNotReady: N_("La boutique ne peut pas ouvrir tant que son compte de versement "
                              "ne peut pas recevoir de paiements : le commerçant l'ouvre depuis "
                              "la page Versements, puis la boutique peut ouvrir."),
    NotInvited: N_("Cette invitation n'est pas à votre nom, ou elle a déjà été acceptée."),
    Forbidden: N_("Seuls le commerçant et l'association du point de retrait gèrent cette "
                  "boutique."),
    NotFound: N_("Cette boutique n'existe pas (ou plus)."),
    InvalidStatusChange: N_("La boutique ne peut pas passer à cet état."),
}


@router.get("/shops/{shop_id}/profile")
async def profile_page(request: Request, shop_id: UUID, principal: MaybeUser, runtime: Runtime,
                       fait: str | None = None) -> Response:
    if principal is None:
        return sign_in_redirect(request, f"/catalog/shops/{shop_id}/profile")
    try:
        trail = await shop_use_cases.audit_trail(runtime, principal, shop_id)
        shop = await shop_use_cases.shop_profile(runtime, shop_id)
    except DomainError as refusal:
        return _refused(request, principal, shop_id, refusal)
    limits = photo_use_cases.photo_limits(runtime)
    return templates.TemplateResponse(request, "shop_profile.html", {
        "principal": principal, "shop": shop, "entries": trail.entries, "total": trail.total,
        "CATEGORIES": CATEGORIES, "SHOP_STATUSES": SHOP_STATUSES,
        "photo": await photo_use_cases.shop_picture(runtime, shop_id),
        "photo_max_megabytes": limits.max_bytes / 2**20,
        "payouts_required": runtime.settings.require_payout_account,
        "payouts_page": payouts_page(shop_id),
        "notice": _(NOTICES.get(fait, SAVED)) if fait else None})


@router.post("/shops/{shop_id}/profile")
async def change_profile(request: Request, shop_id: UUID, principal: MaybeUser,
                         runtime: Runtime) -> Response:
    if principal is None:
        return sign_in_redirect(request, f"/catalog/shops/{shop_id}/profile")
    form = await request.form()
    fields = {name: str(form.get(name, "")).strip() for name in PROFILE_FIELDS}
    for optional in ("trade_category", "contact_email", "contact_phone"):
        fields[optional] = fields[optional] or None
    try:
        profile = ShopProfile(**fields)
        await shop_use_cases.change_profile(runtime, principal, shop_id, profile)
    except ValidationError:
        return problem_page(request, principal, 422, title=_("Profil non enregistré"),
                            message=_("Vérifiez le profil : description de 2 000 caractères au "
                                      "plus, adresse e-mail et téléphone valides."),
                            back=(f"/catalog/shops/{shop_id}/profile", _("Retour au profil")))
    except DomainError as refusal:
        return _refused(request, principal, shop_id, refusal)
    return RedirectResponse(f"/catalog/shops/{shop_id}/profile?fait=1", status_code=303)


@router.post("/shops/{shop_id}/status")
async def change_status(request: Request, shop_id: UUID, principal: MaybeUser,
                        runtime: Runtime) -> Response:
    if principal is None:
        return sign_in_redirect(request, f"/catalog/shops/{shop_id}/profile")
    wanted = str((await request.form()).get("status", ""))
    try:
        if wanted not in SHOP_STATUSES:
            raise InvalidStatusChange(f"unknown status {wanted!r}")
        await shop_use_cases.change_status(runtime, principal, shop_id, ShopStatus(wanted))
    except DomainError as refusal:
        return _refused(request, principal, shop_id, refusal)
    return RedirectResponse(f"/catalog/shops/{shop_id}/profile?fait=1", status_code=303)


def _refused(request: Request, principal: Principal, shop_id: UUID,
             refusal: DomainError) -> Response:
    message = next((text for kind, text in REFUSALS.items() if isinstance(refusal, kind)),
                   N_("Votre demande n'a pas pu aboutir."))
    back = ((payouts_page(shop_id), _("Ouvrir le compte de versement"))
            if isinstance(refusal, PayoutAccountNotReady)
            else ("/catalog/shops", _("Retour à mes boutiques")))
    return problem_page(request, principal, refusal.status, message=_(message), back=back)


@router.post("/hubs/{hub_id}/invitations")
async def invite(request: Request, hub_id: UUID, principal: MaybeUser,
                 runtime: Runtime) -> Response:
    if principal is None:
        return sign_in_redirect(request, f"/catalog/hubs/{hub_id}/shops")
    form = await request.form()
    try:
        invitation = Invitation(shop_name=str(form.get("shop_name", "")),
                                email=str(form.get("email", "")))
        await shop_use_cases.invite(runtime, principal, hub_id, invitation)
    except ValidationError:
        return problem_page(request, principal, 422, title=_("Invitation non envoyée"),
                            message=_("Indiquez le nom de la boutique et une adresse e-mail "
                                      "valide."),
                            back=(f"/catalog/hubs/{hub_id}/shops", _("Retour aux boutiques")))
    except DomainError as refusal:
        return _refused(request, principal, hub_id, refusal)
    return RedirectResponse(f"/catalog/hubs/{hub_id}/shops?fait=invitation", status_code=303)


@router.post("/shops/{shop_id}/accept")
async def accept(request: Request, shop_id: UUID, principal: MaybeUser,
                 runtime: Runtime) -> Response:
    if principal is None:
        return sign_in_redirect(request, "/catalog/shops")
    try:
        await shop_use_cases.accept(runtime, principal, shop_id)
    except DomainError as refusal:
        return _refused(request, principal, shop_id, refusal)
    return RedirectResponse(f"/catalog/shops/{shop_id}?fait=invitation-acceptee", status_code=303)
