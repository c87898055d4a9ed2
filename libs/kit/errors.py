"""One JSON error body for every 4xx and 5xx, whatever raised it:

    {"error": {"status": 404, "code": "not_found", "message": "...", "details": [...]},
     "correlation_id": "..."}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

from libs.correlation import current_correlation_id

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule of the domain said no; the message is for the person who asked."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class NotFound(DomainError):
    status, code = 404, "not_found"


class Conflict(DomainError):
    status, code = 409, "conflict"


class Unprocessable(DomainError):
    """Well-formed, but it names something that does not exist or cannot be used here."""

    status, code = 422, "unprocessable"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class Unauthorized(DomainError):
    status, code = 401, "unauthorized"


_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 422: "validation_error"}


def error_body(status: int, code: str, message: str, details: list[Any] | None = None) -> dict:
    return {
        "error": {"status": status, "code": code, "message": message, "details": details or []},
        "correlation_id": current_correlation_id.get(),
    }


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(error_body(exc.status, exc.code, exc.message, exc.details), exc.status)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = _CODES.get(exc.status_code, "error")
        return JSONResponse(error_body(exc.status_code, code, str(exc.detail)), exc.status_code,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
            for err in exc.errors()
        ]
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        return JSONResponse(error_body(422, "validation_error", f"invalid request: {summary}",
                                       details), 422)

    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        log.exception("database error")
        if exc.connection_invalidated:  # the server dropped it: the pool has new ones now
            return JSONResponse(error_body(503, "unavailable", "the database was unreachable; "
                                           "try again"), 503, headers={"Retry-After": "1"})
        return JSONResponse(error_body(500, "internal_error", "something went wrong on our side"),
                            500)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body(500, "internal_error", "something went wrong on our side"),
                            500)
