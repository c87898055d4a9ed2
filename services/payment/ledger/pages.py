"""The ledger's pages (French or English) and CSV files (French): a shop's monthly statement,
the platform's commission report, the yearly DAC7 export."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from libs.auth.tokens import Principal
from libs.auth.web import MaybeUser
from libs.kit.app import Runtime
from libs.kit.errors import DomainError
from libs.kit.i18n import N_
from libs.kit.i18n import gettext as _
from libs.kit.months import Month
from libs.kit.pages import problem_page, sign_in_redirect, templates_for
from services.payment.ledger import exports, use_cases
from services.payment.ledger.domain import PARIS

router = APIRouter(include_in_schema=False)
templates = templates_for(__file__)

CSV_TYPE = "text/csv; charset=utf-8"
PROBLEMS = {
    403: N_("Seuls la personne qui tient la boutique, les administrateurs de son tiers-lieu et "
            "ceux de la plateforme consultent ses relevés."),
    404: N_("Cette boutique est introuvable."),
    422: N_("Ce mois n'existe pas : écrivez-le AAAA-MM, comme 2026-03."),
}
ADMINS_ONLY = N_("Seuls les administrateurs de la plateforme consultent ce rapport.")


def _this_year() -> int:
    return datetime.now(UTC).astimezone(PARIS).year


Year = Annotated[int | None, Query(ge=2000, le=2999)]


@router.get("/shops/{shop_id}/statements", response_class=HTMLResponse)
async def current_statement(shop_id: UUID) -> Response:
    return RedirectResponse(f"/payments/shops/{shop_id}/statements/"
                            f"{Month.of(datetime.now(UTC))}", status_code=303)


@router.get("/shops/{shop_id}/statements/{month}.csv")
async def statement_file(request: Request, shop_id: UUID, month: str, runtime: Runtime,
                         principal: MaybeUser) -> Response:
    async def download(principal: Principal) -> Response:
        found = await use_cases.shop_statement(runtime, principal, shop_id, Month.parse(month))
        return _csv(exports.statement_csv(found.statement),
                    exports.statement_filename(shop_id, found.statement))
    return await _as_page(request, principal, download)


@router.get("/shops/{shop_id}/statements/{month}", response_class=HTMLResponse)
async def statement_page(request: Request, shop_id: UUID, month: str, runtime: Runtime,
                         principal: MaybeUser) -> Response:
    async def render(principal: Principal) -> Response:
        found = await use_cases.shop_statement(runtime, principal, shop_id, Month.parse(month))
        return templates.TemplateResponse(request, "statement.html", {
            "principal": principal, "shop_id": shop_id, "shop_name": found.shop_name,
            "statement": found.statement, "operations": exports.OPERATION_WORDS,
            "month_label": found.statement.month.label,
        })
    return await _as_page(request, principal, render)


@router.get("/reports/commission", response_class=HTMLResponse)
async def commission_page(request: Request, runtime: Runtime, principal: MaybeUser,
                          year: Year = None) -> Response:
    async def render(_: Principal) -> Response:
        report = await use_cases.platform_commission(runtime, year or _this_year())
        return templates.TemplateResponse(request, "commission.html", {
            "principal": principal, "report": report,
        })
    return await _as_admin_page(request, principal, render)


@router.get("/reports/commission.csv")
async def commission_file(request: Request, runtime: Runtime, principal: MaybeUser,
                          year: Year = None) -> Response:
    async def download(_: Principal) -> Response:
        report = await use_cases.platform_commission(runtime, year or _this_year())
        return _csv(exports.commission_csv(report), f"commissions-{report.year}.csv")
    return await _as_admin_page(request, principal, download)


@router.get("/reports/dac7", response_class=HTMLResponse)
async def dac7_page(request: Request, runtime: Runtime, principal: MaybeUser,
                    year: Year = None) -> Response:
    async def render(_: Principal) -> Response:
        chosen = year or _this_year()
        return templates.TemplateResponse(request, "dac7.html", {
            "principal": principal, "year": chosen,
            "sellers": await use_cases.dac7_report(runtime, chosen),
        })
    return await _as_admin_page(request, principal, render)


@router.get("/reports/dac7.csv")
async def dac7_file(request: Request, runtime: Runtime, principal: MaybeUser,
                    year: Year = None) -> Response:
    async def download(_: Principal) -> Response:
        chosen = year or _this_year()
        sellers = await use_cases.dac7_report(runtime, chosen)
        return _csv(exports.dac7_csv(chosen, sellers), f"dac7-{chosen}.csv")
    return await _as_admin_page(request, principal, download)


Answer = Callable[[Principal], Awaitable[Response]]


async def _as_page(request: Request, principal: Principal | None, answer: Answer) -> Response:
    """Signed in first; a refusal is a page in the reader's language."""
    if principal is None:
        return sign_in_redirect(request)
    try:
        return await answer(principal)
    except DomainError as refused:
        return problem_page(request, principal, refused.status,
                            message=_(PROBLEMS[refused.status]) if refused.status in PROBLEMS
                            else refused.message,
                            back=("/catalog/shops", _("Retour à mes boutiques")))


async def _as_admin_page(request: Request, principal: Principal | None, answer: Answer
                         ) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    if not principal.is_platform_admin:
        return problem_page(request, principal, 403, message=_(ADMINS_ONLY))
    return await answer(principal)


def _csv(text: str, filename: str) -> Response:
    return Response(text.encode(), media_type=CSV_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
