"""``adopte``: the one entry point for every command."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Adopte mon commerçant: a town's shops online, collected at the tiers-lieu.",
                  no_args_is_help=True, add_completion=False)
contracts_app = typer.Typer(help="Event contracts.", no_args_is_help=True)
app.add_typer(contracts_app, name="contracts")

REPO = Path(__file__).resolve().parent.parent


@app.command()
def dev(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: Annotated[Path, typer.Option(help="Where the SQLite files live.")] = Path("var"),
    no_demo: Annotated[bool, typer.Option("--no-demo", help="Start empty, without demo data.")
                       ] = False,
) -> None:
    """Run the whole hub in one process: every service, SQLite, the embedded bus."""
    import uvicorn

    from libs.kit.logs import configure_logging
    from services.host import EmbeddedHost

    configure_logging(os.environ.get("ADOPTE_LOG_LEVEL", "INFO"))
    hub = EmbeddedHost(data_dir.resolve(), seed_demo=not no_demo)
    typer.echo(f"Adopte mon commerçant on http://{host}:{port}/  (data in {data_dir})", err=True)
    uvicorn.run(hub, host=host, port=port, log_config=None, lifespan="on")


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="accounts, catalog, order, payment or pickup.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run one service as its own process (settings from ADOPTE_<SERVICE>_* and ADOPTE_*)."""
    from importlib import import_module

    import uvicorn

    from libs.kit.logs import configure_logging
    from services.host import service_bootstrap

    try:
        settings = service_bootstrap(service).SERVICE_SETTINGS()
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="SERVICE") from None
    configure_logging(settings.log_level, json_lines=settings.log_json)
    service_app = import_module(f"services.{service}.main").create_app(settings)
    uvicorn.run(service_app, host=host, port=port, log_config=None, lifespan="on")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def test(ctx: typer.Context) -> None:
    """Run the whole test suite (extra arguments go to pytest)."""
    import pytest

    os.chdir(REPO)
    raise typer.Exit(pytest.main(["-p", "no:cacheprovider", *ctx.args]))


@contracts_app.command("export")
def export_contracts(
    check: Annotated[bool, typer.Option("--check", help="Fail if the committed schemas are stale.")
                     ] = False,
) -> None:
    """Write the JSON Schema of every event to libs/contracts/schemas/."""
    from libs.contracts.schemas import export_schemas

    stale = export_schemas(write=not check)
    if check and stale:
        typer.echo("stale event schemas: " + ", ".join(stale) +
                   "\nrun `adopte contracts export` and commit the result", err=True)
        raise typer.Exit(1)
    typer.echo("schemas are current" if check else f"wrote {len(stale)} changed schema file(s)")


def main() -> None:
    app(prog_name="adopte")


if __name__ == "__main__":
    sys.exit(main())
