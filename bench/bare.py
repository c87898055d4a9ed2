"""The baseline: a bare FastAPI app with one route returning a small JSON, served by uvicorn with the
arguments ``adopte serve`` gives it (uvloop and httptools when installed), in a process of its own.

    uv run python -m bench.bare --port 8123
"""

from __future__ import annotations

import argparse

from fastapi import FastAPI

PATH = "/bare"


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get(PATH)
    async def bare() -> dict:
        return {"status": "ok", "name": "La Fabrique", "shops": 100}

    @app.get("/readyz")
    async def ready() -> dict:
        return {"status": "ready"}

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.bare")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args(argv)
    # As `adopte serve` calls it; but no logging is configured here, so nothing is logged.
    uvicorn.run(create_app(), host=options.host, port=options.port, log_config=None,
                lifespan="on")


if __name__ == "__main__":
    main()
