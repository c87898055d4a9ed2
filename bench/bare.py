"""The baselines, each served by uvicorn with the arguments ``adopte serve`` gives it (uvloop and
httptools when installed), in a process of its own:

- bare: a FastAPI app with one route returning a small JSON, nothing around it, logging nothing;
- ``--stack``: a constant HTML page the size of a hub page, behind every middleware a service
  has (libs.kit.app.add_service_middleware) and logging as ``adopte serve`` does (an access line
  per request): what a page costs before any work of its own, a reference beside the hub page.

    uv run python -m bench.bare --port 8123 [--stack]
"""

from __future__ import annotations

import argparse

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

PATH = "/bare"
PAGE_PATH = "/page"
PAGE_BYTES = 27_500  # the 100-shop hub's page, as its visitors get it


def create_app(*, stack: bool = False) -> FastAPI:
    app = FastAPI()

    @app.get(PATH)
    async def bare() -> dict:
        return {"status": "ok", "name": "La Fabrique", "shops": 100}

    @app.get("/readyz")
    async def ready() -> dict:
        return {"status": "ready"}

    if stack:
        from libs.kit.app import add_service_middleware

        page = constant_page()

        @app.get(PAGE_PATH)
        async def constant() -> HTMLResponse:
            return HTMLResponse(page)

        add_service_middleware(app, "catalog")
    return app


def constant_page() -> bytes:
    line = "<li><a href=\"/catalog/shops/0/vitrine\">La Fabrique, épicerie fine</a></li>\n"
    head = "<!doctype html>\n<html lang=\"fr\"><head><title>La Fabrique</title></head><body><ul>\n"
    tail = "</ul></body></html>\n"
    body = head + line * ((PAGE_BYTES - len(head) - len(tail)) // len(line.encode())) + tail
    return body.encode()


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.bare")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stack", action="store_true",
                        help="A constant page behind the services' middleware, logging as they do.")
    options = parser.parse_args(argv)
    if options.stack:
        from libs.kit.logs import configure_logging

        configure_logging("INFO", json_lines=True)
    # As `adopte serve` calls it; the bare app configures no logging, so it logs nothing.
    uvicorn.run(create_app(stack=options.stack), host=options.host, port=options.port,
                log_config=None, lifespan="on")


if __name__ == "__main__":
    main()
