"""The gatherings' pages, in French or English: the hub's public calendar (« animations ») with
sign-up and cancellation, the admins' forms, the staff's lists of who signed up and who came,
and the calendar as ICS. Forms POST then redirect (303); a notice is named in the redirect,
never written into it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import groupby
from typing import Annotated
from uuid import UUID

from babel.dates import format_date
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from libs.auth.tokens import Principal
from libs.auth.web import MaybeUser
from libs.kit.app import Runtime
from libs.kit.errors import DomainError, Forbidden, NotFound
from libs.kit.i18n import N_, babel_locale
from libs.kit.i18n import gettext as _
from libs.kit.pages import PARIS, problem_page, sign_in_redirect
from libs.kit.runtime import ServiceRuntime
from services.pickup.gatherings import ics, use_cases
from services.pickup.gatherings.domain import GatheringChanges, GatheringDetails
from services.pickup.gatherings.use_cases import GatheringView
from services.pickup.pages import templates
from services.pickup.tables import Hub

router = APIRouter(include_in_schema=False)

NOTICES = {
    "inscription": N_("Vous êtes inscrit·e. À bientôt !"),
    "desinscription": N_("Votre inscription est annulée : la place est libérée."),
    "programmee": N_("L'animation est programmée."),
    "modifiee": N_("L'animation est modifiée."),
    "annulee": N_("L'animation est annulée."),
    "presence": N_("La présence est enregistrée."),
}
FIELD_LABELS = {"title": N_("Titre"), "description": N_("Description"), "starts_at": N_("Début"),
                "ends_at": N_("Fin"), "capacity": N_("Places"), "shop_ids": N_("Boutiques"),
                "collection_capacity": N_("Commandes à retirer")}


@dataclass
class GatheringForm:
    """The admin's form as typed, so a refused form comes back filled in."""

    title: str = ""
    description: str = ""
    day: str = ""
    starts: str = ""
    ends: str = ""
    capacity: str = "0"
    shop_ids: list[str] = field(default_factory=list)
    collection_capacity: str = ""

    @classmethod
    def of(cls, gathering: GatheringView) -> GatheringForm:
        starts, ends = gathering.starts_at.astimezone(PARIS), gathering.ends_at.astimezone(PARIS)
        return cls(gathering.title, gathering.description, starts.date().isoformat(),
                   f"{starts:%H:%M}", f"{ends:%H:%M}", str(gathering.capacity),
                   [str(shop.id) for shop in gathering.shops])

    def fields(self) -> dict:
        """What the form says, as the API takes it (times on the Paris clock)."""
        day = _parsed(date.fromisoformat, self.day, "starts_at", N_("la date est illisible"))
        starts = _parsed(time.fromisoformat, self.starts, "starts_at",
                         N_("l'heure de début est illisible"))
        ends = _parsed(time.fromisoformat, self.ends, "ends_at", N_("l'heure de fin est illisible"))
        return {"title": self.title, "description": self.description.replace("\r\n", "\n"),
                "starts_at": datetime.combine(day, starts), "ends_at": datetime.combine(day, ends),
                "capacity": self.capacity.strip() or "0", "shop_ids": self.shop_ids,
                "collection_capacity": self.collection_capacity.strip() or None}


class _Unreadable(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name


def _parsed(parse, value: str, field_name: str, message: str):
    try:
        return parse(value.strip())
    except ValueError:
        raise _Unreadable(field_name, message) from None


def _form(title: Annotated[str, Form(max_length=400)] = "",
          description: Annotated[str, Form(max_length=8000)] = "",
          day: Annotated[str, Form(alias="date", max_length=20)] = "",
          starts: Annotated[str, Form(alias="debut", max_length=10)] = "",
          ends: Annotated[str, Form(alias="fin", max_length=10)] = "",
          capacity: Annotated[str, Form(alias="places", max_length=10)] = "0",
          shop_ids: Annotated[list[str] | None, Form(alias="boutiques")] = None,
          collection_capacity: Annotated[str, Form(alias="retraits", max_length=10)] = ""
          ) -> GatheringForm:
    return GatheringForm(title, description, day, starts, ends, capacity, shop_ids or [],
                         collection_capacity)


Filled = Annotated[GatheringForm, Depends(_form)]


# --- the public calendar ----------------------------------------------------------------


@router.get("/hubs/{hub_id}/animations", response_class=HTMLResponse, name="gathering_calendar")
async def calendar_page(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser
                        ) -> Response:
    try:
        calendar = await use_cases.hub_calendar(runtime, principal, hub_id)
    except NotFound as exc:
        return _problem(request, principal, exc)
    months = [(format_date(month, "LLLL y", locale=babel_locale()), list(gatherings))
              for month, gatherings in groupby(calendar.gatherings, key=_paris_month)]
    return templates.TemplateResponse(request, "gathering_calendar.html", {
        "principal": principal, "calendar": calendar, "months": months})


@router.get("/hubs/{hub_id}/animations.ics", name="gathering_calendar_ics")
async def calendar_feed(request: Request, hub_id: UUID, runtime: Runtime) -> Response:
    calendar = await use_cases.hub_calendar(runtime, None, hub_id,
                                            since=use_cases.utc_now() - use_cases.RECENT)
    return _ics(request, calendar.hub, calendar.gatherings,
                _("Animations · %(hub)s") % {"hub": calendar.hub.name}, "animations.ics")


@router.get("/hubs/{hub_id}/animations/nouvelle", response_class=HTMLResponse,
            name="gathering_new")
async def new_gathering(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser
                        ) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    return await _render_form(request, runtime, principal, hub_id, None, GatheringForm())


@router.post("/hubs/{hub_id}/animations", response_class=HTMLResponse)
async def schedule_gathering(request: Request, hub_id: UUID, runtime: Runtime,
                             principal: MaybeUser, form: Filled) -> Response:
    if principal is None:
        return sign_in_redirect(request, request.url_for("gathering_new", hub_id=hub_id).path)
    try:
        details = GatheringDetails.model_validate(form.fields())
        gathering = await use_cases.schedule_gathering(runtime, principal, hub_id, details)
    except (ValidationError, _Unreadable, DomainError) as exc:
        return await _render_form(request, runtime, principal, hub_id, None, form, exc)
    return _back_to_gathering(request, hub_id, gathering.id, "programmee")


@router.get("/hubs/{hub_id}/animations/{gathering_id}.ics", name="gathering_ics")
async def gathering_feed(request: Request, hub_id: UUID, gathering_id: UUID, runtime: Runtime
                         ) -> Response:
    page = await use_cases.gathering_page(runtime, None, hub_id, gathering_id)
    return _ics(request, page.hub, [page.gathering], page.gathering.title,
                f"animation-{str(gathering_id)[:8]}.ics")


@router.get("/hubs/{hub_id}/animations/{gathering_id}", response_class=HTMLResponse,
            name="gathering")
async def gathering_page(request: Request, hub_id: UUID, gathering_id: UUID, runtime: Runtime,
                         principal: MaybeUser, fait: str | None = None) -> Response:
    return await _render_gathering(request, runtime, principal, hub_id, gathering_id,
                                   notice=_notice(fait))


@router.post("/hubs/{hub_id}/animations/{gathering_id}/inscription", response_class=HTMLResponse)
async def sign_up(request: Request, hub_id: UUID, gathering_id: UUID, runtime: Runtime,
                  principal: MaybeUser) -> Response:
    if principal is None:
        return sign_in_redirect(request, _gathering_path(request, hub_id, gathering_id))
    try:
        await use_cases.sign_up(runtime, principal, hub_id, gathering_id)
    except DomainError as exc:
        return await _render_gathering(request, runtime, principal, hub_id, gathering_id,
                                       error=exc.message, status=exc.status)
    return _back_to_gathering(request, hub_id, gathering_id, "inscription")


@router.post("/hubs/{hub_id}/animations/{gathering_id}/desinscription",
             response_class=HTMLResponse)
async def cancel_sign_up(request: Request, hub_id: UUID, gathering_id: UUID, runtime: Runtime,
                         principal: MaybeUser) -> Response:
    if principal is None:
        return sign_in_redirect(request, _gathering_path(request, hub_id, gathering_id))
    try:
        await use_cases.cancel_sign_up(runtime, principal, hub_id, gathering_id)
    except DomainError as exc:
        return await _render_gathering(request, runtime, principal, hub_id, gathering_id,
                                       error=exc.message, status=exc.status)
    return _back_to_gathering(request, hub_id, gathering_id, "desinscription")


# --- hub admins: changing and cancelling ------------------------------------------------


@router.get("/hubs/{hub_id}/animations/{gathering_id}/modifier", response_class=HTMLResponse,
            name="gathering_edit")
async def edit_gathering(request: Request, hub_id: UUID, gathering_id: UUID, runtime: Runtime,
                         principal: MaybeUser) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    return await _render_form(request, runtime, principal, hub_id, gathering_id, None)


@router.post("/hubs/{hub_id}/animations/{gathering_id}/modifier", response_class=HTMLResponse)
async def change_gathering(request: Request, hub_id: UUID, gathering_id: UUID, runtime: Runtime,
                           principal: MaybeUser, form: Filled) -> Response:
    if principal is None:
        return sign_in_redirect(request, request.url_for(
            "gathering_edit", hub_id=hub_id, gathering_id=gathering_id).path)
    try:
        changes = GatheringChanges.model_validate(form.fields())
        await use_cases.change_gathering(runtime, principal, hub_id, gathering_id, changes)
    except (ValidationError, _Unreadable, DomainError) as exc:
        return await _render_form(request, runtime, principal, hub_id, gathering_id, form, exc)
    return _back_to_gathering(request, hub_id, gathering_id, "modifiee")


@router.post("/hubs/{hub_id}/animations/{gathering_id}/annulation", response_class=HTMLResponse)
async def cancel_gathering(request: Request, hub_id: UUID, gathering_id: UUID, runtime: Runtime,
                           principal: MaybeUser,
                           reason: Annotated[str, Form(alias="raison", max_length=500)] = ""
                           ) -> Response:
    if principal is None:
        return sign_in_redirect(request, _gathering_path(request, hub_id, gathering_id))
    reason = " ".join(reason.split())
    if not reason:
        return await _render_gathering(request, runtime, principal, hub_id, gathering_id,
                                       error=_("Dites en un mot pourquoi l'animation est "
                                               "annulée."),
                                       status=422)
    try:
        await use_cases.cancel_gathering(runtime, principal, hub_id, gathering_id, reason)
    except DomainError as exc:
        return await _render_gathering(request, runtime, principal, hub_id, gathering_id,
                                       error=exc.message, status=exc.status)
    return _back_to_gathering(request, hub_id, gathering_id, "annulee")


# --- staff: who signed up, who came -----------------------------------------------------


@router.get("/desk/{hub_id}/animations", response_class=HTMLResponse, name="desk_gatherings")
async def desk_gatherings(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser
                          ) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    try:
        calendar = await use_cases.staff_gatherings(runtime, principal, hub_id)
    except (Forbidden, NotFound) as exc:
        return _problem(request, principal, exc)
    return templates.TemplateResponse(request, "gathering_desk_list.html", {
        "principal": principal, "calendar": calendar, "now": use_cases.utc_now()})


@router.get("/desk/{hub_id}/animations/{gathering_id}", response_class=HTMLResponse,
            name="desk_gathering")
async def desk_gathering(request: Request, hub_id: UUID, gathering_id: UUID, runtime: Runtime,
                         principal: MaybeUser, fait: str | None = None) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    return await _render_sheet(request, runtime, principal, hub_id, gathering_id,
                               notice=_notice(fait))


@router.post("/desk/{hub_id}/animations/{gathering_id}/presences", response_class=HTMLResponse)
async def record_attendance(request: Request, hub_id: UUID, gathering_id: UUID, runtime: Runtime,
                            principal: MaybeUser,
                            user_id: Annotated[UUID | None, Form()] = None,
                            email: Annotated[str, Form(max_length=320)] = "") -> Response:
    sheet_path = request.url_for("desk_gathering", hub_id=hub_id, gathering_id=gathering_id).path
    if principal is None:
        return sign_in_redirect(request, sheet_path)
    if user_id is None and not email.strip():
        return await _render_sheet(request, runtime, principal, hub_id, gathering_id,
                                   error=_("Indiquez l'adresse e-mail de la personne."),
                                   status=422)
    try:
        await use_cases.record_attendance(runtime, principal, hub_id, gathering_id,
                                          user_id=user_id, email=None if user_id else email)
    except DomainError as exc:
        return await _render_sheet(request, runtime, principal, hub_id, gathering_id,
                                   error=exc.message, status=exc.status)
    return RedirectResponse(f"{sheet_path}?fait=presence", status_code=303)


# --- helpers ----------------------------------------------------------------------------


def _notice(fait: str | None) -> str | None:
    return _(NOTICES[fait]) if fait in NOTICES else None


async def _render_gathering(request: Request, runtime: ServiceRuntime, principal: Principal | None,
                            hub_id: UUID, gathering_id: UUID, *, error: str | None = None,
                            notice: str | None = None, status: int = 200) -> Response:
    try:
        page = await use_cases.gathering_page(runtime, principal, hub_id, gathering_id)
    except NotFound as exc:
        return _problem(request, principal, exc)
    return templates.TemplateResponse(request, "gathering_page.html", {
        "principal": principal, "page": page, "error": error, "notice": notice,
        "upcoming": page.gathering.status == "scheduled"
                    and page.gathering.starts_at > use_cases.utc_now(),
    }, status_code=status)


async def _render_form(request: Request, runtime: ServiceRuntime, principal: Principal,
                       hub_id: UUID, gathering_id: UUID | None, form: GatheringForm | None,
                       refusal: Exception | None = None) -> Response:
    try:
        editing = await use_cases.editing(runtime, principal, hub_id, gathering_id)
    except (Forbidden, NotFound) as exc:
        return _problem(request, principal, exc)
    return templates.TemplateResponse(request, "gathering_form.html", {
        "principal": principal, "editing": editing,
        "form": form or GatheringForm.of(editing.gathering),
        "error": _refusal_text(refusal) if refusal else None,
    }, status_code=getattr(refusal, "status", 422) if refusal else 200)


async def _render_sheet(request: Request, runtime: ServiceRuntime, principal: Principal,
                        hub_id: UUID, gathering_id: UUID, *, error: str | None = None,
                        notice: str | None = None, status: int = 200) -> Response:
    try:
        sheet = await use_cases.sign_up_sheet(runtime, principal, hub_id, gathering_id)
    except (Forbidden, NotFound) as exc:
        return _problem(request, principal, exc)
    return templates.TemplateResponse(request, "gathering_desk_sheet.html", {
        "principal": principal, "sheet": sheet, "error": error, "notice": notice,
    }, status_code=status)


def _refusal_text(refusal: Exception) -> str:
    """A refused form in words: the domain's message, or each field that is wrong."""
    if isinstance(refusal, DomainError):
        return refusal.message
    if isinstance(refusal, _Unreadable):
        return _field_problem(FIELD_LABELS[refusal.field_name], _(str(refusal)))
    problems = []
    for error in refusal.errors():
        label = FIELD_LABELS.get(str(error["loc"][0]) if error["loc"] else "", N_("Animation"))
        said = error["ctx"]["error"] if error["type"] == "value_error" else None
        words = _PYDANTIC_WORDS.get(error["type"], N_("valeur refusée"))
        problems.append(_field_problem(label, said or _(words)))
    # Translators: what separates two problems of a form.
    return _(" ; ").join(problems)


def _field_problem(label: str, problem: str) -> str:
    return _("%(field)s : %(problem)s") % {"field": _(label), "problem": problem}


_PYDANTIC_WORDS = {
    "string_too_short": N_("à remplir"),
    "string_too_long": N_("trop long"),
    "int_parsing": N_("un nombre entier est attendu"),
    "greater_than_equal": N_("trop petit"),
    "less_than_equal": N_("trop grand"),
    "uuid_parsing": N_("boutique inconnue"),
    "too_long": N_("trop nombreuses"),
}


def _problem(request: Request, principal: Principal | None, exc: Forbidden | NotFound
             ) -> Response:
    title = _("Accès réservé") if exc.status == 403 else _("Animation introuvable")
    return problem_page(request, principal, exc.status, title=title, detail=exc.message)


def _paris_month(gathering: GatheringView) -> date:
    return gathering.starts_at.astimezone(PARIS).date().replace(day=1)


def _gathering_path(request: Request, hub_id: UUID, gathering_id: UUID) -> str:
    return request.url_for("gathering", hub_id=hub_id, gathering_id=gathering_id).path


def _back_to_gathering(request: Request, hub_id: UUID, gathering_id: UUID, notice: str
                       ) -> Response:
    return RedirectResponse(f"{_gathering_path(request, hub_id, gathering_id)}?fait={notice}",
                            status_code=303)


def _ics(request: Request, hub: Hub, gatherings: list[GatheringView], name: str,
         filename: str) -> Response:
    location = ", ".join(part for part in (hub.name, hub.address, hub.town) if part)
    events = [
        ics.CalendarEvent(
            uid_key=f"animation-{gathering.id}", summary=gathering.title,
            description=_ics_description(gathering), location=location,
            starts_at=gathering.starts_at, ends_at=gathering.ends_at,
            stamped_at=gathering.updated_at, sequence=gathering.revision,
            cancelled=gathering.status == "cancelled",
            url=str(request.url_for("gathering", hub_id=hub.id, gathering_id=gathering.id)))
        for gathering in gatherings
    ]
    return Response(ics.calendar(name, events), media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})


def _ics_description(gathering: GatheringView) -> str:
    parts = [gathering.description] if gathering.description else []
    if gathering.shops:
        parts.append(_("Avec : %(shops)s") % {"shops": ", ".join(s.name for s in gathering.shops)})
    if gathering.cancel_reason:
        parts.append(_("Annulée : %(reason)s") % {"reason": gathering.cancel_reason})
    return "\n\n".join(parts)
