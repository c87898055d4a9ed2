"""The embedded runtime: every service in one process, on SQLite files and the embedded bus.

Each service keeps its own app, database and consumer group; the host only shares the bus and
routes each request to the service whose path prefix it starts with.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from importlib import import_module
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from libs.kit.app import operations_router
from libs.kit.i18n import LocaleMiddleware
from libs.kit.runtime import ServiceRuntime, freeze_start_up_objects
from libs.kit.security_headers import SecurityHeadersMiddleware
from libs.messaging.embedded import EmbeddedBus

SERVICES = ("accounts", "catalog", "order", "payment", "pickup", "notification")
HOME_PAGE = "/orders/hubs"

log = logging.getLogger(__name__)


def service_bootstrap(name: str):
    if name not in SERVICES:
        raise ValueError(f"no service {name!r}; the services are {', '.join(SERVICES)}")
    return import_module(f"services.{name}.bootstrap")


class EmbeddedHost:
    """An ASGI app: a request goes to the service owning its path prefix, the rest to the host."""

    def __init__(self, data_dir: Path, *, seed_demo: bool = True, cookie_secure: bool = True
                 ) -> None:
        self.data_dir = data_dir
        self.bus = EmbeddedBus(data_dir / "bus.sqlite3")
        self.apps: list[tuple[str, FastAPI]] = []
        self.runtimes: list[ServiceRuntime] = []
        for name in SERVICES:
            main = import_module(f"services.{name}.main")
            settings_class = service_bootstrap(name).SERVICE_SETTINGS
            settings = settings_class(data_dir=data_dir, bus="embedded", cookie_secure=cookie_secure)
            app = main.create_app(settings, bus=self.bus)
            self.apps.append((app.state.runtime.definition.prefix, app))
            self.runtimes.append(app.state.runtime)
        self.seed_demo = seed_demo
        self._seeding: asyncio.Task | None = None
        self.root = self._root_app()

    def runtime(self, name: str) -> ServiceRuntime:
        return next(r for r in self.runtimes if r.definition.name == name)

    def _root_app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_: FastAPI):
            await self.bus.start()
            started: list[ServiceRuntime] = []
            try:
                for runtime in self.runtimes:
                    await runtime.start()
                    started.append(runtime)
                freeze_start_up_objects()
                if self.seed_demo:
                    # In the background: the hub answers at once, the demo fills in a second.
                    self._seeding = asyncio.create_task(self._seed())
                yield
            finally:
                if self._seeding:
                    self._seeding.cancel()
                for runtime in reversed(started):
                    await runtime.stop()
                await self.bus.stop()

        root = FastAPI(title="Adopte mon commerçant", lifespan=lifespan, docs_url=None,
                       redoc_url=None, openapi_url=None)
        root.include_router(operations_router(lambda: self.runtimes))
        root.add_middleware(LocaleMiddleware)
        root.add_middleware(SecurityHeadersMiddleware)

        @root.get("/", include_in_schema=False)
        async def home() -> RedirectResponse:
            """The site starts at the hubs; each service's API docs stay at <prefix>/docs."""
            return RedirectResponse(HOME_PAGE, status_code=303)

        return root

    async def _seed(self) -> None:
        from services.demo import seed_demo

        try:
            await seed_demo(self)
        except Exception:
            log.exception("demo data could not be seeded")

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        for prefix, app in self.apps:
            if path == prefix or path.startswith(prefix + "/"):
                return await app(scope, receive, send)
        return await self.root(scope, receive, send)
