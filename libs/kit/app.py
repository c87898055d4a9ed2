"""Builds a service's FastAPI app: routes under its prefix, health, metrics, errors, lifespan."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from libs.kit.csrf import CsrfMiddleware
from libs.kit.errors import ERROR_RESPONSES, ErrorBody, error_body, install_error_handlers
from libs.kit.http import CorrelationMiddleware, JsonBodyLimitMiddleware, MetricsMiddleware
from libs.kit.i18n import LocaleMiddleware
from libs.kit.runtime import ServiceRuntime, freeze_start_up_objects
from libs.kit.security_headers import SecurityHeadersMiddleware


# async so FastAPI calls it on the event loop rather than through its thread pool.
async def current_runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


Runtime = Annotated[ServiceRuntime, Depends(current_runtime)]


def operations_router(runtimes: Callable[[], list[ServiceRuntime]]) -> APIRouter:
    """/healthz (the process is alive), /readyz (every part can take traffic), /metrics."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @router.get("/readyz", responses={503: {"model": ErrorBody, "description": "Some part is not ready"}})
    async def readyz() -> JSONResponse:
        problems = {}
        for runtime in runtimes():
            for part, reason in (await runtime.ready()).items():
                problems[f"{runtime.definition.name}.{part}"] = reason
        if problems:
            body = error_body(503, "not_ready", "some parts are not ready", [problems])
            return JSONResponse(body, 503)
        return JSONResponse({"status": "ready"})

    @router.get("/metrics", response_class=Response,
                responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                                 "description": "Prometheus text format"}})
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def create_service_app(build_runtime: Callable[[], ServiceRuntime]) -> FastAPI:
    """The app of one service. ``build_runtime`` is its bootstrap: it picks the adapters without
    connecting to anything; the lifespan starts them."""
    runtime = build_runtime()
    definition = runtime.definition

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await runtime.start()
        freeze_start_up_objects()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title=f"Adopte mon commerçant: {definition.name}",
        lifespan=lifespan,
        openapi_url=f"{definition.prefix}/openapi.json",
        docs_url=f"{definition.prefix}/docs",
        redoc_url=None,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    for router in definition.routers:
        app.include_router(router, prefix=definition.prefix, responses=ERROR_RESPONSES)
    app.include_router(operations_router(lambda: [runtime]))
    for middleware in definition.middleware:
        app.add_middleware(middleware, prefix=definition.prefix)
    add_service_middleware(app, definition.name)
    return app


def add_service_middleware(app: FastAPI, service: str) -> None:
    """What every request to a service passes through, outermost last: body limits, CSRF, the
    visitor's language, security headers, metrics, the correlation id."""
    app.add_middleware(JsonBodyLimitMiddleware)
    app.add_middleware(CsrfMiddleware)
    app.add_middleware(LocaleMiddleware, domain=service)
    # Outside the middleware that answer by themselves (CSRF refusals, language switches).
    app.add_middleware(SecurityHeadersMiddleware, docs_paths=[app.docs_url])
    app.add_middleware(MetricsMiddleware, service=service)
    app.add_middleware(CorrelationMiddleware)
