"""The hub's desk, server-rendered in French or English for a tablet or a phone, no JavaScript
needed: the day's pickups by slot, a search by code, name or e-mail, drop-offs onto shelves,
hand-overs and no-shows."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from babel.dates import format_date
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from libs.auth.tokens import Principal
from libs.auth.web import MaybeUser
from libs.kit.app import Runtime
from libs.kit.errors import DomainError, Forbidden, NotFound
from libs.kit.i18n import N_, babel_locale
from libs.kit.i18n import gettext as _
from libs.kit.pages import problem_page, sign_in_redirect
from libs.kit.runtime import ServiceRuntime
from services.pickup import use_cases
from services.pickup.desk import use_cases as desk_use_cases
from services.pickup.desk.domain import SEARCH_MAX_LENGTH, SHELF_MAX_LENGTH
from services.pickup.domain import paris_today
from services.pickup.no_show import use_cases as no_show_use_cases
from services.pickup.pages import templates

router = APIRouter(prefix="/desk", include_in_schema=False)

PICKUP_STATUS = {"scheduled": N_("en attente des dépôts"), "ready": N_("prête"),
                 "picked_up": N_("remise"), "cancelled": N_("annulée"),
                 "no_show": N_("non retirée")}
PART_STATUS = {"pending": N_("attendue"), "dropped_off": N_("déposée"),
               "handed_over": N_("remise"), "cancelled": N_("annulée par la boutique")}
# Notices are named in the redirect rather than written into it, so nobody can make the desk
# display a message of their choosing through a link.
NOTICES = {"depot": N_("La part est enregistrée comme déposée."),
           "remise": N_("La commande est remise."),
           "absence": N_("La commande est enregistrée comme non retirée : ses produits "
                         "retournent aux boutiques.")}

Day = Annotated[str | None, Form(alias="date")]
# The search the form was on, to come back to it.
Searched = Annotated[str | None, Form(alias="q", max_length=SEARCH_MAX_LENGTH)]


@router.get("", response_class=HTMLResponse, name="desk_index")
async def desk_index(request: Request, runtime: Runtime, principal: MaybeUser) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    hubs = await use_cases.desk_hubs(runtime, principal)
    return templates.TemplateResponse(request, "desk_index.html",
                                      {"principal": principal, "hubs": hubs})


@router.get("/{hub_id}", response_class=HTMLResponse, name="desk")
async def desk(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser,
               day: Annotated[str | None, Query(alias="date")] = None,
               fait: str | None = None) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    return await _render(request, runtime, principal, hub_id, day, None, notice=_notice(fait))


@router.get("/{hub_id}/recherche", response_class=HTMLResponse, name="desk_search")
async def search(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser,
                 q: Annotated[str, Query(max_length=SEARCH_MAX_LENGTH)] = "",
                 fait: str | None = None) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    return await _render(request, runtime, principal, hub_id, None, q, notice=_notice(fait))


@router.post("/{hub_id}/pickups/{order_id}/drop-off", response_class=HTMLResponse)
async def drop_off(request: Request, hub_id: UUID, order_id: UUID, runtime: Runtime,
                   principal: MaybeUser, shop_id: Annotated[UUID, Form()],
                   shelf: Annotated[str, Form(max_length=SHELF_MAX_LENGTH)] = "",
                   day: Day = None, q: Searched = None) -> Response:
    if principal is None:
        return sign_in_redirect(request, _desk_path(request, hub_id))
    try:
        await use_cases.drop_off(runtime, principal, order_id, shop_id, shelf)
    except DomainError as exc:
        return await _render(request, runtime, principal, hub_id, day, q,
                             error=_about(order_id, exc), status=exc.status)
    return _back(request, hub_id, day, q, "depot")


@router.post("/{hub_id}/pickups/{order_id}/handover", response_class=HTMLResponse)
async def hand_over(request: Request, hub_id: UUID, order_id: UUID, runtime: Runtime,
                    principal: MaybeUser, code: Annotated[str, Form(max_length=32)],
                    day: Day = None, q: Searched = None) -> Response:
    if principal is None:
        return sign_in_redirect(request, _desk_path(request, hub_id))
    try:
        await use_cases.hand_over(runtime, principal, order_id, code)
    except DomainError as exc:
        return await _render(request, runtime, principal, hub_id, day, q,
                             error=_about(order_id, exc), status=exc.status)
    return _back(request, hub_id, day, q, "remise")


@router.post("/{hub_id}/pickups/{order_id}/no-show", response_class=HTMLResponse)
async def record_no_show(request: Request, hub_id: UUID, order_id: UUID, runtime: Runtime,
                         principal: MaybeUser, day: Day = None, q: Searched = None) -> Response:
    if principal is None:
        return sign_in_redirect(request, _desk_path(request, hub_id))
    try:
        await no_show_use_cases.record_no_show(runtime, principal, order_id)
    except DomainError as exc:
        return await _render(request, runtime, principal, hub_id, day, q,
                             error=_about(order_id, exc), status=exc.status)
    return _back(request, hub_id, day, q, "absence")


async def _render(request: Request, runtime: ServiceRuntime, principal: Principal, hub_id: UUID,
                  asked_day: str | None, searched: str | None, *, error: str | None = None,
                  notice: str | None = None, status: int = 200) -> Response:
    """The search page when the action came from a search, the day's page otherwise."""
    if searched is not None:
        return await _render_search(request, runtime, principal, hub_id, searched,
                                    error=error, notice=notice, status=status)
    return await _render_day(request, runtime, principal, hub_id, asked_day, error=error,
                             notice=notice, status=status)


async def _render_day(request: Request, runtime: ServiceRuntime, principal: Principal,
                      hub_id: UUID, asked_day: str | None, *, error: str | None,
                      notice: str | None, status: int) -> Response:
    day = _parse_day(asked_day)
    if day is None:
        day = paris_today(use_cases.utc_now())
        error = error or _("Date illisible : voici les retraits d'aujourd'hui.")
    try:
        sheet = await use_cases.day_sheet(runtime, principal, hub_id, day)
    except (Forbidden, NotFound) as exc:
        return _problem(request, principal, exc)
    return templates.TemplateResponse(request, "desk.html", {
        "principal": principal, "hub": sheet.hub, "sheet": sheet, "error": error,
        "notice": notice,
        "day_label": format_date(day, "EEEE d MMMM y", locale=babel_locale()),
        "previous_day": (day - timedelta(days=1)).isoformat(),
        "next_day": (day + timedelta(days=1)).isoformat(),
        "back": {"date": day.isoformat()}, "now": use_cases.utc_now(), **_status_words(),
    }, status_code=status)


async def _render_search(request: Request, runtime: ServiceRuntime, principal: Principal,
                         hub_id: UUID, searched: str, *, error: str | None,
                         notice: str | None, status: int) -> Response:
    try:
        hub = await _desk_hub(runtime, principal, hub_id)
    except (Forbidden, NotFound) as exc:
        return _problem(request, principal, exc)
    found = []
    if searched.strip():
        try:
            found = await desk_use_cases.search_pickups(runtime, principal, hub_id, searched)
        except DomainError as exc:
            error, status = error or exc.message, exc.status if status == 200 else status
    return templates.TemplateResponse(request, "desk_search.html", {
        "principal": principal, "hub": hub, "searched": searched, "found": found,
        "error": error, "notice": notice, "back": {"q": searched}, "now": use_cases.utc_now(),
        **_status_words(),
    }, status_code=status)


async def _desk_hub(runtime: ServiceRuntime, principal: Principal, hub_id: UUID):
    async with runtime.database.sessions() as session:
        return await use_cases.require_role(session, principal, hub_id, "staff")


def _problem(request: Request, principal: Principal, exc: Forbidden | NotFound) -> Response:
    title = _("Accès réservé à l'équipe") if exc.status == 403 else _("Tiers-lieu introuvable")
    return problem_page(request, principal, exc.status, title=title, detail=exc.message,
                        back=(request.url_for("desk_index").path, _("Retour à mes tiers-lieux")))


def _notice(fait: str | None) -> str | None:
    return _(NOTICES[fait]) if fait in NOTICES else None


def _status_words() -> dict[str, dict[str, str]]:
    return {"pickup_status": {status: _(word) for status, word in PICKUP_STATUS.items()},
            "part_status": {status: _(word) for status, word in PART_STATUS.items()}}


def _parse_day(asked: str | None) -> date | None:
    if not asked:
        return paris_today(use_cases.utc_now())
    try:
        return date.fromisoformat(asked)
    except ValueError:
        return None


def _about(order_id: UUID, exc: DomainError) -> str:
    return _("Commande %(id)s : %(problem)s") % {"id": str(order_id)[:8].upper(),
                                                  "problem": exc.message}


def _desk_path(request: Request, hub_id: UUID) -> str:
    return request.url_for("desk", hub_id=hub_id).path


def _back(request: Request, hub_id: UUID, day: str | None, searched: str | None,
          notice: str) -> Response:
    if searched is not None:
        path, query = request.url_for("desk_search", hub_id=hub_id).path, {"q": searched}
    else:
        path, query = _desk_path(request, hub_id), {"date": day} if day else {}
    return RedirectResponse(f"{path}?{urlencode({**query, 'fait': notice})}", status_code=303)
