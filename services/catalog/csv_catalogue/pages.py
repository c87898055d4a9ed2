"""The shop's import page in its back office: a form that checks (« Vérifier ») or imports
(« Importer ») a CSV file, and the result, every bad row by its line, in French."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from libs.auth.web import MaybeUser
from libs.kit.app import Runtime
from libs.kit.errors import DomainError, Forbidden, NotFound
from libs.kit.i18n import N_
from libs.kit.i18n import gettext as _
from libs.kit.pages import problem_page, sign_in_redirect
from services.catalog.csv_catalogue import use_cases as csv_use_cases
from services.catalog.csv_catalogue.api import received_file
from services.catalog.csv_catalogue.file_format import COLUMNS, MAX_FILE_BYTES, FileTooLarge, MissingFile
from services.catalog.pages import templates

router = APIRouter(include_in_schema=False)

IMPORT = "importer"


@router.get("/shops/{shop_id}/import")
async def import_page(request: Request, shop_id: UUID, principal: MaybeUser,
                      runtime: Runtime) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    try:
        shop = await csv_use_cases.managed_shop(runtime, principal, shop_id)
    except DomainError as refusal:
        return _refused(request, principal, shop_id, refusal)
    return _render(request, principal, shop, report=None)


@router.post("/shops/{shop_id}/import")
async def import_file(request: Request, shop_id: UUID, principal: MaybeUser,
                      runtime: Runtime) -> Response:
    if principal is None:
        return sign_in_redirect(request, f"/catalog/shops/{shop_id}/import")
    try:
        shop = await csv_use_cases.managed_shop(runtime, principal, shop_id)
        data, fields = await received_file(request)
        report = await csv_use_cases.import_catalogue(
            runtime, principal, shop_id, data, dry_run=fields.get("mode") != IMPORT)
    except DomainError as refusal:
        return _refused(request, principal, shop_id, refusal)
    return _render(request, principal, shop, report=report,
                   status_code=422 if report.errors else 200)


def _render(request: Request, principal, shop, *, report, status_code: int = 200) -> Response:
    return templates.TemplateResponse(
        request, "shop_import.html",
        {"principal": principal, "shop": shop, "report": report, "columns": COLUMNS,
         "max_megabytes": MAX_FILE_BYTES // 2**20}, status_code=status_code)


def _refused(request: Request, principal, shop_id: UUID, refusal: DomainError) -> Response:
    messages = {
        FileTooLarge: N_("Le fichier dépasse %(megabytes)d Mo."),
        MissingFile: N_("Choisissez d'abord un fichier CSV à envoyer."),
        Forbidden: N_("Seuls ceux qui gèrent la boutique peuvent importer son catalogue."),
        NotFound: N_("Cette boutique n'existe pas (ou plus)."),
    }
    message = next((text for kind, text in messages.items() if isinstance(refusal, kind)),
                   N_("Le fichier n'a pas pu être importé."))
    return problem_page(request, principal, refusal.status, title=_("Import refusé"),
                        message=_(message) % {"megabytes": MAX_FILE_BYTES // 2**20},
                        back=(f"/catalog/shops/{shop_id}/import", _("Retour à l'import")))
