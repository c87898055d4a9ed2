"""A shop's catalogue as a CSV file in the catalog's JSON API (under /catalog/api/v1): export,
the template, and imports (the format: file_format.py)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.datastructures import UploadFile

from libs.auth.web import CurrentUser
from libs.kit.app import Runtime
from libs.kit.errors import error_responses
from services.catalog.csv_catalogue import use_cases as csv_use_cases
from services.catalog.csv_catalogue.file_format import (
    MAX_FILE_BYTES,
    TEMPLATE_ROWS,
    FileTooLarge,
    MissingFile,
    write_catalogue,
)
from services.catalog.csv_catalogue.use_cases import ImportReport

router = APIRouter(prefix="/api/v1", tags=["catalog import"])

UPLOAD_FIELD = "file"
_FORM_OVERHEAD_BYTES = 16 * 1024
_UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": [UPLOAD_FIELD],
    "properties": {UPLOAD_FIELD: {"type": "string", "format": "binary",
                                  "description": "The catalogue as CSV (see the template)."}},
}}}}}
CSV_TYPE = "text/csv; charset=utf-8"


class RowErrorOut(BaseModel):
    line: int
    column: str | None
    message: str


class ImportReportOut(BaseModel):
    dry_run: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    errors: list[RowErrorOut]

    @classmethod
    def of(cls, report: ImportReport) -> ImportReportOut:
        return cls(dry_run=report.dry_run, rows=report.rows, created=report.created,
                   updated=report.updated, unchanged=report.unchanged,
                   errors=[RowErrorOut(line=e.line, column=e.column, message=e.message)
                           for e in report.errors])


async def received_file(request: Request) -> tuple[bytes, dict[str, str]]:
    """The file sent as the multipart field ``file``, and the form's other fields; a body
    announced heavier than the limit is refused before it is read."""
    announced = request.headers.get("content-length", "")
    too_large = FileTooLarge(f"the file is over {MAX_FILE_BYTES // 2**20} MiB")
    if announced.isdigit() and int(announced) - _FORM_OVERHEAD_BYTES > MAX_FILE_BYTES:
        raise too_large
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get(UPLOAD_FIELD)
        if not isinstance(upload, UploadFile):
            raise MissingFile(f"send the CSV file as the multipart form field {UPLOAD_FIELD!r}")
        data = await upload.read(MAX_FILE_BYTES + 1)
        fields = {name: value for name, value in form.items() if isinstance(value, str)}
    if len(data) > MAX_FILE_BYTES:
        raise too_large
    return data, fields


def csv_download(text: str, filename: str) -> Response:
    return Response(text.encode(), media_type=CSV_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/shops/{shop_id}/catalog.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
async def export_catalogue(shop_id: UUID, principal: CurrentUser, runtime: Runtime) -> Response:
    """Those who manage the shop: its catalogue, one row per variant; it imports back unchanged."""
    text = await csv_use_cases.export_catalogue(runtime, principal, shop_id)
    return csv_download(text, f"catalogue-{shop_id}.csv")


@router.get("/shops/{shop_id}/catalog-template.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
async def catalogue_template(shop_id: UUID) -> Response:
    """The columns an import reads, with one example row."""
    return csv_download(write_catalogue(TEMPLATE_ROWS), "modele-catalogue.csv")


@router.post("/shops/{shop_id}/imports", response_model=ImportReportOut,
             openapi_extra=_UPLOAD_BODY, responses=error_responses(413))
async def import_catalogue(shop_id: UUID, request: Request, principal: CurrentUser,
                           runtime: Runtime, dry_run: bool = True) -> ImportReportOut:
    """Those who manage the shop. Every row is checked and every bad one reported with its line;
    ``dry_run`` (the default) writes nothing, an import writes all rows or, when one is bad,
    none. A variant is found by its SKU: importing a file again changes nothing. 413 over
    5 MiB."""
    data, _ = await received_file(request)
    report = await csv_use_cases.import_catalogue(runtime, principal, shop_id, data,
                                                  dry_run=dry_run)
    return ImportReportOut.of(report)
