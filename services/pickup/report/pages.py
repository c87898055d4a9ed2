"""The funders' report page (French or English, no JavaScript: charts are inline SVG, each with
a table of the same figures) and its CSV, for the hub's admins.

The CSV is a data format, French whatever the page's language: one file with a ``section``
column, one figure per row, separated by semicolons, UTF-8 with a byte-order mark: a French
Excel opens it as it is, accents and all; money is in cents, with euros and a decimal comma
beside it."""

from __future__ import annotations

import csv
import io
from typing import Annotated
from uuid import UUID

from babel.dates import get_day_names
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from libs.auth.tokens import Principal
from libs.auth.web import MaybeUser
from libs.kit.app import Runtime
from libs.kit.errors import Forbidden, NotFound, Unprocessable
from libs.kit.i18n import N_, babel_locale
from libs.kit.i18n import gettext as _
from libs.kit.pages import problem_page, sign_in_redirect
from services.pickup.domain import paris_today
from services.pickup.pages import templates
from services.pickup.report import use_cases
from services.pickup.report.domain import Period, Report, csv_rows, sales_chart, visits_chart

router = APIRouter(include_in_schema=False)
TITLES = {403: N_("Rapport réservé aux administrateurs du tiers-lieu"),
          404: N_("Tiers-lieu introuvable"), 422: N_("Période illisible")}

@router.get("/hubs/{hub_id}/rapport", response_class=HTMLResponse, name="hub_report_page")
async def report_page(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser,
                      first: Annotated[str | None, Query(alias="from", max_length=20)] = None,
                      last: Annotated[str | None, Query(alias="to", max_length=20)] = None
                      ) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    today = paris_today(use_cases.utc_now())
    error, status = None, 200
    try:
        period = Period.asked(first, last, today)
    except Unprocessable as exc:
        period, error, status = Period.asked(None, None, today), exc.message, 422
    try:
        report = await use_cases.hub_report(runtime, principal, hub_id, period)
    except (Forbidden, NotFound) as exc:
        return _problem(request, principal, exc)
    return templates.TemplateResponse(request, "report.html", {
        "principal": principal, "report": report, "error": error,
        "sales_chart": Markup(sales_chart(report)), "visits_chart": Markup(visits_chart(report)),
        "hour_grid": _hour_grid(report),
    }, status_code=status)


@router.get("/hubs/{hub_id}/rapport.csv", name="hub_report_csv")
async def report_csv(request: Request, hub_id: UUID, runtime: Runtime, principal: MaybeUser,
                     first: Annotated[str | None, Query(alias="from", max_length=20)] = None,
                     last: Annotated[str | None, Query(alias="to", max_length=20)] = None
                     ) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    try:
        period = Period.asked(first, last, paris_today(use_cases.utc_now()))
        report = await use_cases.hub_report(runtime, principal, hub_id, period)
    except (Forbidden, NotFound, Unprocessable) as exc:
        return _problem(request, principal, exc)
    text = io.StringIO()
    csv.writer(text, delimiter=";").writerows(csv_rows(report))
    name = f"rapport-{report.first_month}_{report.last_month}.csv"
    return Response("\ufeff" + text.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _hour_grid(report: Report) -> dict:
    """Visits by weekday (rows) and hour (columns), the hours and days that had any."""
    counted = {(cell.weekday, cell.hour): cell.visits for cell in report.hours}
    hours = sorted({hour for _, hour in counted})
    days = sorted({day for day, _hour in counted})
    names = get_day_names("wide", locale=babel_locale())
    return {"hours": hours,
            "rows": [(names[day], [counted.get((day, hour), 0) for hour in hours])
                     for day in days]}


def _problem(request: Request, principal: Principal, exc: Forbidden | NotFound | Unprocessable
             ) -> Response:
    title = TITLES.get(exc.status)
    return problem_page(request, principal, exc.status, title=_(title) if title else None,
                        detail=exc.message,
                        back=(request.url_for("desk_index").path, _("Retour à mes tiers-lieux")))
