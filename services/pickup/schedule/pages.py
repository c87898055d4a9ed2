"""The hub's public page with its hours, and the hub admin's page to edit them, in French or
English."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from babel.dates import format_date, get_day_names
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from libs.auth.tokens import Principal
from libs.auth.web import MaybeUser
from libs.kit.app import Runtime
from libs.kit.errors import DomainError, Forbidden, NotFound
from libs.kit.i18n import N_, babel_locale
from libs.kit.i18n import gettext as _
from libs.kit.pages import problem_page, sign_in_redirect
from libs.kit.runtime import ServiceRuntime
from services.pickup.pages import templates
from services.pickup.schedule import use_cases
from services.pickup.schedule.domain import (
    WEEKDAYS,
    ExceptionDetails,
    SlotSettings,
    TimeRange,
    WeeklyHours,
    first_error,
    parse_ranges,
)

router = APIRouter(prefix="/hubs", include_in_schema=False)

# Named notices, so no link can make the page say what its author wants.
NOTICES = {"horaires": N_("Les horaires sont enregistrés. Les créneaux suivront à la prochaine "
                          "génération, ou tout de suite avec « Générer les créneaux »."),
           "exception": N_("L'exception est ajoutée."),
           "supprimee": N_("L'exception est supprimée."),
           "ferme": N_("Le créneau est fermé : plus aucune commande ne peut le choisir.")}


@router.get("/{hub_id}", response_class=HTMLResponse, name="hub_page")
async def hub_page(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser
                   ) -> Response:
    try:
        schedule = await use_cases.schedule_of(runtime, hub_id)
    except NotFound as exc:
        return problem_page(request, principal, 404, title=_("Tiers-lieu introuvable"),
                            detail=exc.message)
    return templates.TemplateResponse(request, "schedule_hub.html", {
        "principal": principal, "schedule": schedule, "week": _week(schedule.weekly),
        "has_hours": any(schedule.weekly.on_weekday(day) for day in WEEKDAYS),
        "exceptions": [_exception_line(e) for e in schedule.exceptions],
        "may_edit": principal is not None
        and await use_cases.may_edit(runtime, principal, hub_id),
    })


@router.get("/{hub_id}/horaires", response_class=HTMLResponse, name="hub_hours")
async def hours_page(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser,
                     fait: str | None = None, ouverts: int | None = None,
                     fermes: int | None = None) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    notice = _(NOTICES[fait]) if fait in NOTICES else None
    if fait == "creneaux" and ouverts is not None and fermes is not None:
        notice = _("Créneaux générés : %(opened)d ouvert(s), %(closed)d fermé(s).") % {
            "opened": ouverts, "closed": fermes}
    return await _render(request, runtime, principal, hub_id, notice=notice)


@router.post("/{hub_id}/horaires", response_class=HTMLResponse)
async def save_hours(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser
                     ) -> Response:
    if principal is None:
        return sign_in_redirect(request, _hours_path(request, hub_id))
    form = await request.form()
    typed = {name: str(form.get(name, "")) for name in (*WEEKDAYS, *SlotSettings.model_fields)}
    try:
        weekly = WeeklyHours(**{day: _ranges(name, typed[day])
                                for day, name in zip(WEEKDAYS, _day_names(), strict=True)})
        settings = SlotSettings(**{name: typed[name] for name in SlotSettings.model_fields})
    except ValueError as exc:
        return await _render(request, runtime, principal, hub_id, typed=typed,
                             error=_message(exc), status=422)
    try:
        await use_cases.set_schedule(runtime, principal, hub_id, weekly=weekly, settings=settings)
    except DomainError as exc:
        return await _render(request, runtime, principal, hub_id, typed=typed,
                             error=exc.message, status=exc.status)
    return _back(request, hub_id, fait="horaires")


@router.post("/{hub_id}/horaires/exceptions", response_class=HTMLResponse)
async def add_exception(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser,
                        premier_jour: Annotated[str, Form()] = "",
                        dernier_jour: Annotated[str, Form()] = "",
                        libelle: Annotated[str, Form()] = "",
                        horaires: Annotated[str, Form()] = "") -> Response:
    if principal is None:
        return sign_in_redirect(request, _hours_path(request, hub_id))
    typed = {"premier_jour": premier_jour, "dernier_jour": dernier_jour, "libelle": libelle,
             "horaires": horaires}
    try:
        details = ExceptionDetails(first_day=premier_jour, last_day=dernier_jour or None,
                                   label=libelle, hours=_ranges(_("ces jours-là"), horaires))
        await use_cases.add_exception(runtime, principal, hub_id, details)
    except (ValueError, DomainError) as exc:
        return await _render(request, runtime, principal, hub_id, typed_exception=typed,
                             error=_message(exc), status=getattr(exc, "status", 422))
    return _back(request, hub_id, fait="exception")


@router.post("/{hub_id}/horaires/exceptions/{exception_id}/supprimer",
             response_class=HTMLResponse)
async def remove_exception(request: Request, hub_id: UUID, exception_id: UUID, runtime: Runtime,
                           principal: MaybeUser) -> Response:
    if principal is None:
        return sign_in_redirect(request, _hours_path(request, hub_id))
    try:
        await use_cases.remove_exception(runtime, principal, hub_id, exception_id)
    except DomainError as exc:
        return await _render(request, runtime, principal, hub_id, error=exc.message,
                             status=exc.status)
    return _back(request, hub_id, fait="supprimee")


@router.post("/{hub_id}/horaires/creneaux", response_class=HTMLResponse)
async def generate_slots(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser
                         ) -> Response:
    if principal is None:
        return sign_in_redirect(request, _hours_path(request, hub_id))
    try:
        generation = await use_cases.generate_hub_slots(runtime, principal, hub_id)
    except DomainError as exc:
        return await _render(request, runtime, principal, hub_id, error=exc.message,
                             status=exc.status)
    return _back(request, hub_id, fait="creneaux", ouverts=len(generation.opened),
                 fermes=len(generation.closed))


@router.post("/{hub_id}/horaires/creneaux/{slot_id}/fermer", response_class=HTMLResponse)
async def close_slot(request: Request, hub_id: UUID, slot_id: UUID, runtime: Runtime,
                     principal: MaybeUser) -> Response:
    if principal is None:
        return sign_in_redirect(request, _hours_path(request, hub_id))
    try:
        # The reason travels in SlotClosed to other services: French, like every event's text.
        await use_cases.close_hub_slot(runtime, principal, hub_id, slot_id,
                                       "retiré par le tiers-lieu : hors des horaires d'ouverture")
    except DomainError as exc:
        return await _render(request, runtime, principal, hub_id, error=exc.message,
                             status=exc.status)
    return _back(request, hub_id, fait="ferme")


async def _render(request: Request, runtime: ServiceRuntime, principal: Principal, hub_id: UUID,
                  *, typed: dict[str, str] | None = None,
                  typed_exception: dict[str, str] | None = None, error: str | None = None,
                  notice: str | None = None, status: int = 200) -> Response:
    try:
        kept_held = await use_cases.held_outside_hours(runtime, principal, hub_id)
        schedule = await use_cases.schedule_of(runtime, hub_id)
    except (Forbidden, NotFound) as exc:
        title = _("Réservé aux administrateurs du tiers-lieu") if exc.status == 403 else \
            _("Tiers-lieu introuvable")
        return problem_page(request, principal, exc.status, title=title, detail=exc.message)
    return templates.TemplateResponse(request, "schedule_edit.html", {
        "principal": principal, "schedule": schedule, "error": error, "notice": notice,
        "days": list(zip(WEEKDAYS, _day_names(), strict=True)),
        "typed": typed or _typed(schedule), "typed_exception": typed_exception or {},
        "exceptions": [(e, _exception_line(e)) for e in schedule.exceptions],
        "kept_held": kept_held,
    }, status_code=status)


def _typed(schedule: use_cases.Schedule) -> dict[str, str]:
    """The form as the schedule stands."""
    typed = {day: _written(schedule.weekly.on_weekday(day)) for day in WEEKDAYS}
    typed.update({name: str(value) for name, value in schedule.settings.model_dump().items()})
    return typed


def _day_names() -> list[str]:
    """Monday to Sunday, in the reader's language."""
    names = get_day_names("wide", locale=babel_locale())
    return [names[index] for index in range(7)]


def _week(weekly: WeeklyHours) -> list[tuple[str, str]]:
    return [(name.capitalize(), _written(weekly.on_weekday(day)) or _("fermé"))
            for day, name in zip(WEEKDAYS, _day_names(), strict=True)]


def _written(ranges: list[TimeRange] | tuple[TimeRange, ...]) -> str:
    return ", ".join(r.label().replace("–", "-") for r in ranges)


def _exception_line(exception) -> str:
    days = _day(exception.first_day)
    if exception.last_day != exception.first_day:
        days = _("du %(first)s au %(last)s") % {"first": days, "last": _day(exception.last_day)}
    hours = _written([TimeRange.model_validate(r) for r in exception.hours])
    opening = _("ouvert %(hours)s") % {"hours": hours} if hours else _("fermé")
    return f"{days} : {exception.label} — {opening}"


def _day(day: date) -> str:
    return format_date(day, "EEEE d MMMM y", locale=babel_locale())


def _ranges(day_name: str, text: str) -> list[TimeRange]:
    try:
        return parse_ranges(text)
    except ValueError as exc:
        raise ValueError(_("%(field)s : %(problem)s") % {"field": day_name.capitalize(),
                                                          "problem": exc}) from exc


FIELDS = {"slot_minutes": N_("Durée d'un créneau (5 à 480 minutes)"),
          "capacity": N_("Commandes par créneau (1 à 10 000)"),
          "lead_time_hours": N_("Délai de commande (0 à 720 heures)"),
          "horizon_days": N_("Créneaux ouverts à l'avance (1 à 90 jours)"),
          "first_day": N_("Premier jour"), "last_day": N_("Dernier jour"),
          "label": N_("Libellé")}


def _message(exc: Exception) -> str:
    if isinstance(exc, DomainError):
        return exc.message
    if not isinstance(exc, ValidationError):
        return str(exc)
    error = exc.errors()[0]
    if error["type"] == "value_error":
        return first_error(exc)
    field = FIELDS.get(str(error["loc"][0]) if error["loc"] else "", N_("Saisie"))
    return _("%(field)s : valeur manquante ou impossible") % {"field": _(field)}


def _hours_path(request: Request, hub_id: UUID) -> str:
    return request.url_for("hub_hours", hub_id=hub_id).path


def _back(request: Request, hub_id: UUID, **query: object) -> Response:
    return RedirectResponse(f"{_hours_path(request, hub_id)}?{urlencode(query)}",
                            status_code=303)
