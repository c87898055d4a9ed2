"""The hub's desk, server-rendered in French: today's pickups, drop-offs and hand-overs."""

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
from libs.kit.pages import LOCALE, problem_page, sign_in_redirect, templates_for
from libs.kit.runtime import ServiceRuntime
from services.pickup import use_cases
from services.pickup.domain import paris_today

router = APIRouter(prefix="/desk", include_in_schema=False)
templates = templates_for(__file__)

PICKUP_STATUS = {"scheduled": "en attente des dépôts", "ready": "prête", "picked_up": "remise",
                 "cancelled": "annulée"}
PART_STATUS = {"pending": "attendue", "dropped_off": "déposée", "handed_over": "remise",
               "cancelled": "annulée par la boutique"}
# Notices are named in the redirect rather than written into it, so nobody can make the desk
# display a message of their choosing through a link.
NOTICES = {"depot": "La part est enregistrée comme déposée.", "remise": "La commande est remise."}

Day = Annotated[str | None, Form(alias="date")]


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
    return await _render_desk(request, runtime, principal, hub_id, day, notice=NOTICES.get(fait))


@router.post("/{hub_id}/pickups/{order_id}/drop-off", response_class=HTMLResponse)
async def drop_off(request: Request, hub_id: UUID, order_id: UUID, runtime: Runtime,
                   principal: MaybeUser, shop_id: Annotated[UUID, Form()], day: Day = None
                   ) -> Response:
    if principal is None:
        return sign_in_redirect(request, _desk_path(request, hub_id))
    try:
        await use_cases.drop_off(runtime, principal, order_id, shop_id)
    except DomainError as exc:
        return await _render_desk(request, runtime, principal, hub_id, day,
                                  error=_about(order_id, exc), status=exc.status)
    return _back_to_desk(request, hub_id, day, "depot")


@router.post("/{hub_id}/pickups/{order_id}/handover", response_class=HTMLResponse)
async def hand_over(request: Request, hub_id: UUID, order_id: UUID, runtime: Runtime,
                    principal: MaybeUser, code: Annotated[str, Form(max_length=32)],
                    day: Day = None) -> Response:
    if principal is None:
        return sign_in_redirect(request, _desk_path(request, hub_id))
    try:
        await use_cases.hand_over(runtime, principal, order_id, code)
    except DomainError as exc:
        return await _render_desk(request, runtime, principal, hub_id, day,
                                  error=_about(order_id, exc), status=exc.status)
    return _back_to_desk(request, hub_id, day, "remise")


async def _render_desk(request: Request, runtime: ServiceRuntime, principal: Principal, hub_id: UUID,
                       asked_day: str | None, *, error: str | None = None,
                       notice: str | None = None, status: int = 200) -> Response:
    day = _parse_day(asked_day)
    if day is None:
        day = paris_today(use_cases.utc_now())
        error = error or "Date illisible : voici les retraits d'aujourd'hui."
    try:
        sheet = await use_cases.day_sheet(runtime, principal, hub_id, day)
    except (Forbidden, NotFound) as exc:
        return _problem(request, principal, exc)
    return templates.TemplateResponse(request, "desk.html", {
        "principal": principal, "sheet": sheet, "error": error, "notice": notice,
        "day_label": format_date(day, "EEEE d MMMM y", locale=LOCALE),
        "previous_day": (day - timedelta(days=1)).isoformat(),
        "next_day": (day + timedelta(days=1)).isoformat(),
        "pickup_status": PICKUP_STATUS, "part_status": PART_STATUS,
    }, status_code=status)


def _problem(request: Request, principal: Principal, exc: Forbidden | NotFound) -> Response:
    title = "Accès réservé à l'équipe" if exc.status == 403 else "Tiers-lieu introuvable"
    return problem_page(request, principal, exc.status, title=title, detail=exc.message,
                        back=(request.url_for("desk_index").path, "Retour à mes tiers-lieux"))


def _parse_day(asked: str | None) -> date | None:
    if not asked:
        return paris_today(use_cases.utc_now())
    try:
        return date.fromisoformat(asked)
    except ValueError:
        return None


def _about(order_id: UUID, exc: DomainError) -> str:
    return f"Commande {str(order_id)[:8].upper()} : {exc.message}"


def _desk_path(request: Request, hub_id: UUID) -> str:
    return request.url_for("desk", hub_id=hub_id).path


def _back_to_desk(request: Request, hub_id: UUID, day: str | None, notice: str) -> Response:
    query = {"date": day, "fait": notice} if day else {"fait": notice}
    return RedirectResponse(f"{_desk_path(request, hub_id)}?{urlencode(query)}", status_code=303)
