"""ASGI middleware every service app carries: the correlation id, HTTP metrics, and a cap on
JSON bodies."""

from __future__ import annotations

import re
import time
from uuid import uuid4

from prometheus_client import Histogram
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from libs.correlation import current_correlation_id
from libs.kit.errors import error_body

HTTP_LATENCY = Histogram(
    "adopte_http_request_duration_seconds",
    "HTTP request latency.",
    ["service", "method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class CorrelationMiddleware:
    """Takes the caller's X-Correlation-ID (or makes one) and returns it on the response."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = dict(scope["headers"]).get(b"x-correlation-id", b"").decode("latin-1")
        value = given if _VALID_ID.match(given) else uuid4().hex
        token = current_correlation_id.set(value)

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-correlation-id", value.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_correlation_id.reset(token)


class MetricsMiddleware:
    """Observes latency by route template, so /orders/{id} is one series, not one per order."""

    def __init__(self, app, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def send_and_note(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            HTTP_LATENCY.labels(self.service, scope["method"], template, str(status)).observe(
                time.perf_counter() - started
            )


# A JSON body says what to do and never carries a file (photos and CSV files come as forms,
# capped by the CSRF check): a mebibyte is far more than any needs, and the cap keeps a caller
# from making a service hold gigabytes in memory.
MAX_JSON_BYTES = 2**20


class JsonBodyTooHeavy(HTTPException):
    """An HTTPException, so that a route reading the body answers it like any other refusal."""

    def __init__(self) -> None:
        super().__init__(413, f"a JSON body may weigh {MAX_JSON_BYTES // 2**10} KiB at most")


class JsonBodyLimitMiddleware:
    """Refuses a JSON body over MAX_JSON_BYTES with 413: at once when its Content-Length says
    so, else as soon as that much has arrived, before the app holds it all."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        headers = Headers(scope=scope) if scope["type"] == "http" else None
        if headers is None or not _is_json(headers.get("content-type", "")):
            return await self.app(scope, receive, send)
        announced = headers.get("content-length", "")
        if announced.isdigit() and int(announced) > MAX_JSON_BYTES:
            return await _too_heavy(JsonBodyTooHeavy())(scope, receive, send)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_JSON_BYTES:
                raise JsonBodyTooHeavy()
            return message

        await self.app(scope, counted, send)


def _is_json(content_type: str) -> bool:
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _too_heavy(refusal: JsonBodyTooHeavy) -> JSONResponse:
    return JSONResponse(error_body(413, "payload_too_large", refusal.detail), 413)
