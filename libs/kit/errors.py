"""One JSON error body for every 4xx and 5xx, whatever raised it:

    {"error": {"status": 404, "code": "not_found", "message": "...", "details": [...]},
     "correlation_id": "..."}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from libs.correlation import current_correlation_id

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule of the domain said no; the message is for the person who asked."""

    status = 400
    code = "bad_request"
    # Sent with the JSON error (Retry-After, say).
    headers: dict[str, str] | None = None

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
          405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
          422: "validation_error"}


class ErrorDetail(BaseModel):
    status: int
    code: str
    message: str
    details: list[Any]


class ErrorBody(BaseModel):
    """What every 4xx and 5xx carries, as the OpenAPI of each route declares it."""

    error: ErrorDetail
    correlation_id: str | None


_MEANINGS = {
    400: "The request breaks a rule of the domain",
    401: "The bearer token is missing, invalid or expired",
    403: "Not allowed to this person, or a form post without its CSRF token",
    404: "Nothing with this id here",
    409: "It conflicts with the current state",
    413: "The body or the file sent is too heavy",
    415: "The file sent is not of a kind taken here",
    422: "Invalid request, or it names something that cannot be used here",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` declaring these statuses with the JSON error body."""
    return {status: {"model": ErrorBody, "description": _MEANINGS[status]} for status in statuses}


# Declared on every API route: a bearer token may be refused on any of them, a form-like post
# without its CSRF token too, a body too heavy (libs/kit/http.py), and the domain answers 400,
# 404, 409 or 422 as its rules say.
ERROR_RESPONSES = error_responses(400, 401, 403, 404, 409, 413, 422)


def error_body(status: int, code: str, message: str, details: list[Any] | None = None) -> dict:
    return {
        "error": {"status": status, "code": code, "message": message, "details": details or []},
        "correlation_id": current_correlation_id.get(),
    }


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> str:
    """Every method some route takes at this path. The 405 of the router names only those of the
    first route matching the path, when one path often has a route per method (GET and POST
    /shops)."""
    def taken(method: str) -> bool:
        scope = {**request.scope, "method": method}
        return any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes)

    return ", ".join(method for method in _METHODS if taken(method))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(error_body(exc.status, exc.code, exc.message, exc.details), exc.status,
                            headers=exc.headers)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = _CODES.get(exc.status_code, "error")
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return JSONResponse(error_body(exc.status_code, code, str(exc.detail)), exc.status_code,
                            headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        details = [
            {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
            for err in exc.errors()
        ]
        if "text/html" in request.headers.get("accept", ""):
            # A browser's form: a page saying so, not JSON. The pages build on this module.
            from libs.kit.invalid_form import invalid_form_page

            return await invalid_form_page(request, [err["loc"] for err in exc.errors()])
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
