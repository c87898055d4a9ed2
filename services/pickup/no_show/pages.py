"""The hub admin's no-show policy page, in French or English: reminder delay and hold period;
the refund rate is the payment service's, and the page says where it is set."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from libs.auth.tokens import Principal
from libs.auth.web import MaybeUser
from libs.kit.app import Runtime
from libs.kit.errors import DomainError, Forbidden, NotFound
from libs.kit.i18n import N_
from libs.kit.i18n import gettext as _
from libs.kit.pages import problem_page, sign_in_redirect
from libs.kit.runtime import ServiceRuntime
from services.pickup.no_show import use_cases
from services.pickup.no_show.api import refund_setting_path
from services.pickup.no_show.domain import NoShowTerms
from services.pickup.pages import templates

router = APIRouter(prefix="/hubs", include_in_schema=False)

FIELDS = ("reminder_after_hours", "hold_hours")


@router.get("/{hub_id}/absences", response_class=HTMLResponse, name="no_show_policy")
async def policy_page(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser,
                      fait: str | None = None) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    notice = _("Les règles d'absence sont enregistrées.") if fait == "regles" else None
    return await _render(request, runtime, principal, hub_id, notice=notice)


@router.post("/{hub_id}/absences", response_class=HTMLResponse)
async def save_policy(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser,
                      reminder_after_hours: Annotated[str, Form()] = "",
                      hold_hours: Annotated[str, Form()] = "") -> Response:
    if principal is None:
        return sign_in_redirect(request, request.url.path)
    typed = {"reminder_after_hours": reminder_after_hours, "hold_hours": hold_hours}
    try:
        terms = NoShowTerms(**typed)
        await use_cases.set_policy(runtime, principal, hub_id, terms)
    except ValidationError as exc:
        return await _render(request, runtime, principal, hub_id, typed=typed,
                             error=_message(exc), status=422)
    except DomainError as exc:
        return await _render(request, runtime, principal, hub_id, typed=typed,
                             error=exc.message, status=exc.status)
    path = request.url_for("no_show_policy", hub_id=hub_id).path
    return RedirectResponse(f"{path}?fait=regles", status_code=303)


async def _render(request: Request, runtime: ServiceRuntime, principal: Principal, hub_id: UUID,
                  *, typed: dict[str, str] | None = None, error: str | None = None,
                  notice: str | None = None, status: int = 200) -> Response:
    try:
        policy = await use_cases.policy_of(runtime, principal, hub_id)
        may_edit = await use_cases.may_set_policy(runtime, principal, hub_id)
    except (Forbidden, NotFound) as exc:
        title = (_("Accès réservé à l'équipe") if exc.status == 403
                 else _("Tiers-lieu introuvable"))
        return problem_page(request, principal, exc.status, title=title, detail=exc.message)
    return templates.TemplateResponse(request, "no_show_policy.html", {
        "principal": principal, "policy": policy, "may_edit": may_edit,
        "typed": typed or {name: str(getattr(policy.terms, name)) for name in FIELDS},
        "refund_setting": refund_setting_path(hub_id), "error": error, "notice": notice,
    }, status_code=status)


def _message(exc: ValidationError) -> str:
    labels = {"reminder_after_hours": N_("Rappel"), "hold_hours": N_("Garde")}
    first = exc.errors()[0]
    label = labels.get(str(first["loc"][0])) if first["loc"] else None
    where = _(label) if label else ""
    message = first["msg"].removeprefix("Value error, ")
    return f"{where} : {message}" if where else message
