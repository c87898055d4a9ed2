"""The memberships' French pages: the hub's membership with the resident's card (join, renew,
leave), the admins' terms and list of members (and its CSV), and the desk's check of a number.
Forms POST then redirect (303); a notice is named in the redirect, never written into it."""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError

from libs.auth.tokens import Principal
from libs.auth.web import MaybeUser
from libs.kit.app import Runtime
from libs.kit.errors import DomainError, Forbidden, NotFound, Unprocessable
from libs.kit.i18n import N_
from libs.kit.i18n import gettext as _
from libs.kit.pages import PARIS, problem_page, sign_in_redirect
from libs.kit.runtime import ServiceRuntime
from services.pickup.membership import use_cases
from services.pickup.membership.domain import (
    MAX_DURATION_MONTHS,
    MembershipTermsDetails,
    card_qr_svg,
    pay_path,
)
from services.pickup.pages import templates

router = APIRouter(include_in_schema=False)

NOTICES = {
    "bienvenue": N_("Bienvenue ! Vous êtes adhérent·e du tiers-lieu."),
    "renouvelee": N_("Votre adhésion est renouvelée. Merci !"),
    "depart": N_("Vous avez quitté le tiers-lieu : votre adhésion est terminée."),
    "conditions": N_("Les conditions d'adhésion sont enregistrées."),
}
FIELD_LABELS = {"fee_cents": N_("Cotisation"), "duration_months": N_("Durée"),
                "benefits": N_("Ce que l'adhésion apporte")}


# --- the resident's card ----------------------------------------------------------------


@router.get("/hubs/{hub_id}/adhesion", response_class=HTMLResponse, name="membership_card")
async def membership_card(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser,
                          fait: str | None = None) -> Response:
    notice = _(NOTICES[fait]) if fait in NOTICES else None
    return await _render_card(request, runtime, principal, hub_id, notice=notice)


@router.post("/hubs/{hub_id}/adhesion", response_class=HTMLResponse)
async def join(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser
               ) -> Response:
    if principal is None:
        return sign_in_redirect(request, _card_path(request, hub_id))
    try:
        membership = await use_cases.join(runtime, principal, hub_id)
    except DomainError as exc:
        return await _render_card(request, runtime, principal, hub_id, error=exc.message,
                                  status=exc.status)
    if paying := pay_path(membership.id, membership.status):
        return RedirectResponse(paying, status_code=303)
    return _back_to_card(request, hub_id, "bienvenue")


@router.post("/hubs/{hub_id}/adhesion/depart", response_class=HTMLResponse)
async def leave(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser
                ) -> Response:
    if principal is None:
        return sign_in_redirect(request, _card_path(request, hub_id))
    try:
        await use_cases.leave(runtime, principal, hub_id)
    except DomainError as exc:
        return await _render_card(request, runtime, principal, hub_id, error=exc.message,
                                  status=exc.status)
    return _back_to_card(request, hub_id, "depart")


# --- hub admins: the terms and the members ----------------------------------------------


@router.get("/hubs/{hub_id}/adhesion/conditions", response_class=HTMLResponse,
            name="membership_terms_page")
async def terms_form(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser
                     ) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    try:
        hub, terms = await use_cases.editing_terms(runtime, principal, hub_id)
    except (Forbidden, NotFound) as exc:
        return _problem(request, principal, exc)
    form = {"open": terms.open, "fee": _euros(terms.fee_cents),
            "months": "" if terms.duration_months is None else str(terms.duration_months),
            "benefits": terms.benefits}
    return _terms_page(request, principal, hub, form)


@router.post("/hubs/{hub_id}/adhesion/conditions", response_class=HTMLResponse)
async def set_terms(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser,
                    open_: Annotated[str, Form(alias="ouverte", max_length=10)] = "",
                    fee: Annotated[str, Form(alias="cotisation", max_length=20)] = "0",
                    months: Annotated[str, Form(alias="duree", max_length=10)] = "",
                    benefits: Annotated[str, Form(alias="avantages", max_length=2000)] = ""
                    ) -> Response:
    if principal is None:
        return sign_in_redirect(request, request.url_for("membership_terms_page", hub_id=hub_id).path)
    try:
        hub, _terms = await use_cases.editing_terms(runtime, principal, hub_id)
    except (Forbidden, NotFound) as exc:
        return _problem(request, principal, exc)
    form = {"open": bool(open_), "fee": fee, "months": months, "benefits": benefits}
    try:
        details = MembershipTermsDetails(open=bool(open_), fee_cents=_cents(fee),
                                         duration_months=months.strip() or None,
                                         benefits=benefits)
        await use_cases.set_terms(runtime, principal, hub_id, details)
    except (ValidationError, DomainError) as exc:
        return _terms_page(request, principal, hub, form, error=_refusal_text(exc),
                           status=getattr(exc, "status", 422))
    return RedirectResponse(f"{request.url_for('hub_members_page', hub_id=hub_id).path}"
                            "?fait=conditions", status_code=303)


@router.get("/hubs/{hub_id}/adherents", response_class=HTMLResponse, name="hub_members_page")
async def members_page(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser,
                       fait: str | None = None) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    try:
        listing = await use_cases.hub_members(runtime, principal, hub_id)
        terms = await use_cases.membership_terms(runtime, hub_id)
    except (Forbidden, NotFound) as exc:
        return _problem(request, principal, exc)
    return templates.TemplateResponse(request, "membership_members.html", {
        "principal": principal, "listing": listing, "terms": terms,
        "notice": _(NOTICES[fait]) if fait in NOTICES else None})


@router.get("/hubs/{hub_id}/adherents.csv", name="hub_members_csv")
async def members_csv(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser
                      ) -> Response:
    """Semicolons and a byte-order mark, as a French Excel opens it; dates in Paris."""
    if principal is None:
        return sign_in_redirect(request)
    try:
        listing = await use_cases.hub_members(runtime, principal, hub_id)
    except (Forbidden, NotFound) as exc:
        return _problem(request, principal, exc)
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";")
    writer.writerow(["numero", "nom", "email", "adherent_depuis", "statut", "valide_jusqu_au",
                     "carte_valide"])
    for member in listing.members:
        writer.writerow([member.number, member.name, member.email, _paris_day(member.since),
                         member.status, _paris_day(member.expires_at),
                         "oui" if member.valid else "non"])
    return Response("\ufeff" + text.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="adherents.csv"'})


# --- the desk: is this card valid? ------------------------------------------------------


@router.get("/desk/{hub_id}/adherents", response_class=HTMLResponse, name="desk_member_check")
async def desk_check(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser,
                     numero: Annotated[str, Query(max_length=40)] = "") -> Response:
    if principal is None:
        return sign_in_redirect(request)
    try:
        hub = await use_cases.staff_hub(runtime, principal, hub_id)
    except (Forbidden, NotFound) as exc:
        return _problem(request, principal, exc)
    found, error, status = None, None, 200
    if numero.strip():
        try:
            found = await use_cases.check_member(runtime, principal, hub_id, numero)
        except (NotFound, Unprocessable) as exc:
            error, status = exc.message, exc.status
    return templates.TemplateResponse(request, "membership_desk_check.html", {
        "principal": principal, "hub": hub, "typed": numero, "found": found, "error": error,
    }, status_code=status)


# --- helpers ----------------------------------------------------------------------------


async def _render_card(request: Request, runtime: ServiceRuntime, principal: Principal | None,
                       hub_id: UUID, *, error: str | None = None, notice: str | None = None,
                       status: int = 200) -> Response:
    try:
        page = await use_cases.membership_page(runtime, principal, hub_id)
    except NotFound as exc:
        return _problem(request, principal, exc)
    membership = page.membership
    qr = (Markup(card_qr_svg(membership.number))
          if membership is not None and membership.number and membership.valid else None)
    return templates.TemplateResponse(request, "membership_card.html", {
        "principal": principal, "page": page, "qr": qr, "error": error, "notice": notice,
        "pay_path": pay_path(membership.id, membership.status) if membership else None,
        "renewal_pay_path": (pay_path(page.pending_renewal.id, page.pending_renewal.status)
                             if page.pending_renewal else None),
    }, status_code=status)


def _terms_page(request: Request, principal: Principal, hub, form: dict, *,
                error: str | None = None, status: int = 200) -> Response:
    return templates.TemplateResponse(request, "membership_terms.html", {
        "principal": principal, "hub": hub, "form": form, "error": error,
        "max_months": MAX_DURATION_MONTHS}, status_code=status)


def _cents(typed: str) -> int:
    """Euros as typed in France (« 10 », « 10,50 », « 10.5 »), in cents."""
    text = typed.strip().replace(" ", "").replace("€", "").replace(",", ".") or "0"
    try:
        euros = Decimal(text)
    except InvalidOperation:
        raise Unprocessable(_("Cotisation : un montant en euros est attendu, par exemple "
                              "10 ou 12,50")) from None
    if not euros.is_finite() or euros != euros.quantize(Decimal("0.01")):
        raise Unprocessable(_("Cotisation : deux chiffres après la virgule au plus"))
    return int(euros * 100)


def _euros(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}" if cents % 100 else str(cents // 100)


def _refusal_text(refusal: Exception) -> str:
    if isinstance(refusal, DomainError):
        return refusal.message
    problems = []
    for error in refusal.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        label = _(FIELD_LABELS[field]) if field in FIELD_LABELS else _("Adhésion")
        problems.append(f"{label} : {_(_PYDANTIC_WORDS.get(error['type'], N_('valeur refusée')))}")
    return " ; ".join(problems)


_PYDANTIC_WORDS = {
    "string_too_long": N_("trop long"),
    "int_parsing": N_("un nombre entier de mois est attendu"),
    "greater_than_equal": N_("trop petit"),
    "less_than_equal": N_("trop grand"),
}


def _paris_day(moment) -> str:
    return moment.astimezone(PARIS).date().isoformat() if moment else ""


def _problem(request: Request, principal: Principal | None, exc: DomainError) -> Response:
    title = _("Accès réservé") if exc.status == 403 else _("Tiers-lieu introuvable")
    return problem_page(request, principal, exc.status, title=title, detail=exc.message)


def _card_path(request: Request, hub_id: UUID) -> str:
    return request.url_for("membership_card", hub_id=hub_id).path


def _back_to_card(request: Request, hub_id: UUID, notice: str) -> Response:
    return RedirectResponse(f"{_card_path(request, hub_id)}?fait={notice}", status_code=303)
