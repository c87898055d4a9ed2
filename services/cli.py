"""``adopte``: the one entry point for every command."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer

from bench.cli import app as bench_app
from libs.contracts.accounts import GlobalRole
from services.dlq_cli import app as dlq_app

app = typer.Typer(help="Adopte mon commerçant: a town's shops online, collected at the tiers-lieu.",
                  no_args_is_help=True, add_completion=False)
contracts_app = typer.Typer(help="Event contracts.", no_args_is_help=True)
app.add_typer(contracts_app, name="contracts")
accounts_app = typer.Typer(help="User accounts, straight on the accounts database (hub running or not).",
                           no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
catalog_app = typer.Typer(help="Shops' catalogues, straight on the catalog database (hub running "
                               "or not).", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
app.add_typer(bench_app, name="bench", help="Issue 8's benchmark: load, latency, SQL, memory; a report.")
app.add_typer(dlq_app, name="dlq")
i18n_app = typer.Typer(help="The English catalogs (French is the source language).",
                       no_args_is_help=True)
app.add_typer(i18n_app, name="i18n")

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
    # Browsers drop Secure cookies sent over plain http, which is how a hub is tried locally.
    local = host in {"127.0.0.1", "localhost", "::1"}
    hub = EmbeddedHost(data_dir.resolve(), seed_demo=not no_demo, cookie_secure=not local)
    typer.echo(f"Adopte mon commerçant on http://{host}:{port}/  (data in {data_dir})", err=True)
    uvicorn.run(hub, host=host, port=port, log_config=None, lifespan="on")


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="accounts, catalog, order, payment, pickup or "
                                                   "notification.")],
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
    uvicorn.run(service_app, host=host, port=port, log_config=None, lifespan="on",
                forwarded_allow_ips=settings.forwarded_allow_ips)


RunDirOption = Annotated[Path, typer.Option(help="Pid files, logs and up.json of the run.")]


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Address the gateway listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The gateway's port: the hub's one address.")] = 8000,
    base_port: Annotated[int, typer.Option(help="The services listen on 127.0.0.1 from this "
                                                "port on (0: any free ports).")] = 8001,
    kafka: Annotated[str | None, typer.Option(help="host:port of a running Kafka (default: start "
                                                   "deploy/local/kafka.sh).")] = None,
    postgres: Annotated[str | None, typer.Option(help="URL of a running PostgreSQL server whose "
                                                      "user may create databases (default: start "
                                                      "deploy/local/postgres.sh).")] = None,
    database_prefix: Annotated[str, typer.Option(help="Each service's database is named "
                                                      "<prefix><service>.")] = "adopte_",
    data_dir: Annotated[Path, typer.Option(help="Shared by the services: the token key pair, "
                                                "photos, e-mails written as files.")] = Path("var"),
    run_dir: RunDirOption = Path("var/run"),
    ready_timeout: Annotated[float, typer.Option(help="Seconds to wait for every service.")
                             ] = 120.0,
) -> None:
    """Run the hub distributed on this host: Kafka, PostgreSQL, each service its own process, and
    a gateway on one port; returns once every service is ready (`adopte down` stops it all)."""
    from services.distributed import DistributedError, UpOptions
    from services.distributed import up as bring_up

    options = UpOptions(run_dir=run_dir, data_dir=data_dir, host=host, port=port,
                        base_port=base_port, kafka=kafka, postgres=postgres,
                        database_prefix=database_prefix, ready_timeout_s=ready_timeout)
    try:
        url = bring_up(options, say=lambda line: typer.echo(line, err=True))
    except DistributedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Adopte mon commerçant on {url}/  (logs in {run_dir / 'logs'}; "
               "`adopte status`, `adopte down`)", err=True)
    typer.echo(url)


@app.command()
def down(
    run_dir: RunDirOption = Path("var/run"),
    timeout: Annotated[float, typer.Option(help="Seconds each process has to stop after SIGTERM "
                                                "before SIGKILL.")] = 20.0,
) -> None:
    """Stop what `adopte up` started: the gateway, the services, then the local Kafka and
    PostgreSQL if it started them."""
    from services.distributed import down as bring_down

    bring_down(run_dir, timeout_s=timeout, say=lambda line: typer.echo(line, err=True))


@app.command()
def status(run_dir: RunDirOption = Path("var/run")) -> None:
    """What `adopte up` runs: each process, its address and readiness (exit 0 when all are
    ready, 3 when nothing runs, 1 otherwise)."""
    from services.distributed import statuses

    found = statuses(run_dir)
    for state in found:
        condition = ("ready" if state.ready else "not ready") if state.running else "stopped"
        typer.echo(f"{state.name:<13} {condition:<10} pid {state.pid or '-':<8} "
                   f"{state.url or '-':<24} {state.log}")
    if not any(state.running for state in found):
        typer.echo("nothing runs", err=True)
        raise typer.Exit(3)
    if not all(state.ready for state in found):
        raise typer.Exit(1)


@app.command()
def gateway(
    route: Annotated[list[str], typer.Option(help="PREFIX=URL, e.g. /orders=http://127.0.0.1:8003"
                                                  "; repeat for each service.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    forwarded_allow_ips: Annotated[str, typer.Option(
        envvar="ADOPTE_FORWARDED_ALLOW_IPS",
        help="Proxies in front whose X-Forwarded-For is believed (an ingress: '*').")] = "127.0.0.1",
) -> None:
    """One port for services running as separate processes: each path prefix to its service."""
    import uvicorn

    from libs.kit.logs import configure_logging
    from services.gateway import Gateway

    routes = {}
    for value in route:
        prefix, separator, url = value.partition("=")
        if not separator or not prefix.startswith("/") or not url.startswith("http"):
            raise typer.BadParameter(f"{value!r} is not PREFIX=URL", param_hint="--route")
        routes[prefix] = url
    configure_logging(os.environ.get("ADOPTE_LOG_LEVEL", "INFO"))
    # The services already send their own Date and Server headers.
    uvicorn.run(Gateway(routes), host=host, port=port, log_config=None, lifespan="on",
                server_header=False, date_header=False, forwarded_allow_ips=forwarded_allow_ips)


@app.command()
def migrate(
    service: Annotated[str | None, typer.Argument(help="accounts, catalog, order, payment, pickup "
                                                       "or notification (default: --all).")
                       ] = None,
    all_services: Annotated[bool, typer.Option("--all", help="Every service, each on its own "
                                                             "database.")] = False,
    database_url: Annotated[str | None, typer.Option(help="The service's database (default: from "
                                                          "ADOPTE_<SERVICE>_DATABASE_URL, "
                                                          "ADOPTE_DATABASE_URL or the data dir).")
                            ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Where the SQLite files of `adopte dev` "
                                                       "live (default: ADOPTE_DATA_DIR or ./var).")
                        ] = None,
) -> None:
    """Bring services' databases to their head revision: the release step of the distributed
    mode (the embedded hub, and a service unless ADOPTE_MIGRATE_ON_START=false, do it on start)."""
    import asyncio

    from libs.kit.migrations import SchemaError, migrations_of, upgrade
    from services.host import SERVICES, service_bootstrap

    if service is not None and all_services:
        raise typer.BadParameter("name one service or give --all, not both", param_hint="SERVICE")
    names = [service] if service is not None else list(SERVICES)
    if database_url and len(names) > 1:
        raise typer.BadParameter("each service has its own database: name the service",
                                 param_hint="--database-url")
    for name in names:
        try:
            settings_class = service_bootstrap(name).SERVICE_SETTINGS
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="SERVICE") from None
        settings = settings_class(data_dir=data_dir) if data_dir else settings_class()
        try:
            revision = asyncio.run(upgrade(database_url or settings.database_url_for(name),
                                           migrations_of(name)))
        except SchemaError as exc:
            typer.echo(f"{name}: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"{name}: at revision {revision}")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def test(ctx: typer.Context) -> None:
    """Run the whole test suite (extra arguments go to pytest)."""
    import pytest

    os.chdir(REPO)
    raise typer.Exit(pytest.main(["-p", "no:cacheprovider", *ctx.args]))


@app.command("backup")
def backup_data_dir(
    data_dir: Annotated[Path | None, typer.Option(help="The data dir of `adopte dev` (default: "
                                                       "ADOPTE_DATA_DIR or ./var).")] = None,
    to: Annotated[Path | None, typer.Option(help="The archive to write (default: "
                                                 "adopte-backup-<UTC time>.tar.gz here).")
                  ] = None,
) -> None:
    """Back up the embedded hub's data dir while it runs: its SQLite databases (online copies),
    key pair, photos and e-mails, in one tar.gz with a manifest of checksums."""
    from datetime import UTC, datetime

    from rich.console import Console
    from rich.progress import Progress

    from services.backup import BackupError, backup, sources

    errors = Console(stderr=True, soft_wrap=True)
    folder = _embedded_data_dir(data_dir)
    archive = to or Path(f"adopte-backup-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.tar.gz")
    try:
        with Progress(console=errors, transient=True) as progress:
            task = progress.add_task("backing up", total=len(sources(folder)) + 1)
            entries = backup(folder, archive, on_item=lambda name: progress.update(
                task, advance=1, description=name))
    except BackupError as exc:
        errors.print(f"backup failed: {exc}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    _say_integrity(errors, entries)
    errors.print(f"backed up {folder}: {len(entries)} files in {archive} "
                 f"({archive.stat().st_size} bytes)", markup=False, highlight=False)
    typer.echo(archive)


@app.command("restore")
def restore_data_dir(
    archive: Annotated[Path, typer.Argument(help="An archive written by `adopte backup`.")],
    data_dir: Annotated[Path | None, typer.Option(help="Where to restore it (default: "
                                                       "ADOPTE_DATA_DIR or ./var).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing data dir; it is "
                                                        "moved aside, not deleted.")] = False,
) -> None:
    """Restore a backup into a data dir no hub runs on; the archive is checked (checksums,
    integrity_check) before anything is touched."""
    from rich.console import Console
    from rich.progress import Progress

    from services.backup import BackupError, restore

    errors = Console(stderr=True, soft_wrap=True)
    folder = _embedded_data_dir(data_dir)
    try:
        with Progress(console=errors, transient=True) as progress:
            task = progress.add_task("checking", total=None)
            entries, aside = restore(archive, folder, force=force, on_item=lambda name:
                                     progress.update(task, advance=1, description=name))
    except BackupError as exc:
        errors.print(f"restore refused: {exc}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    if aside:
        errors.print(f"the previous data dir is kept in {aside}", markup=False, highlight=False)
    _say_integrity(errors, entries)
    errors.print(f"restored {len(entries)} files into {folder}", markup=False, highlight=False)


def _embedded_data_dir(data_dir: Path | None) -> Path:
    from libs.kit.settings import ServiceSettings

    return (data_dir or ServiceSettings().data_dir).resolve()


def _say_integrity(console, entries) -> None:
    for entry in entries:
        if entry.integrity is not None:
            console.print(f"{entry.path}: integrity {entry.integrity}", markup=False,
                          highlight=False)


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


DataDirOption = Annotated[
    Path | None,
    typer.Option(help="The data dir of `adopte dev` (default: ADOPTE_DATA_DIR or ./var); "
                      "ADOPTE_ACCOUNTS_DATABASE_URL or ADOPTE_DATABASE_URL win over it."),
]


def _accounts_settings(data_dir: Path | None):
    from services.accounts.bootstrap import AccountsSettings

    return AccountsSettings(data_dir=data_dir) if data_dir else AccountsSettings()


@accounts_app.command("create")
def create_account(
    email: Annotated[str, typer.Option(help="The address to sign in with.")],
    role: Annotated[GlobalRole, typer.Option(help="A platform_admin is a resident too.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                          help="Asked for when not given (keeps it out of the "
                                               "shell history).")],
    name: Annotated[str | None, typer.Option(help="Shown on pages; default: the part of the "
                                                  "e-mail before the @.")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create an account and print its id; its UserRegistered goes out through the outbox."""
    import asyncio

    from pydantic import ValidationError
    from rich.console import Console

    from libs.kit.errors import Conflict
    from services.accounts.commands import create_account as create
    from services.accounts.domain import Registration

    errors = Console(stderr=True)
    try:
        registration = Registration(email=email, password=password,
                                    name=name if name is not None else email.split("@")[0])
    except ValidationError as exc:
        for error in exc.errors():
            errors.print(f"--{error['loc'][0]}: {error['msg']}", style="red", markup=False,
                         highlight=False)
        raise typer.Exit(2) from None
    try:
        user = asyncio.run(create(_accounts_settings(data_dir), registration, role))
    except Conflict as exc:
        errors.print(exc.message, style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    errors.print(f"created {user.email} ({', '.join(user.roles)})", markup=False, highlight=False)
    typer.echo(user.id)


@accounts_app.command("list")
def list_accounts(data_dir: DataDirOption = None) -> None:
    """Every account, oldest first."""
    import asyncio

    from rich.console import Console
    from rich.table import Table

    from libs.kit.pages import local_time
    from services.accounts.commands import list_accounts as accounts

    table = Table()
    for column in ("id", "e-mail"):
        table.add_column(column, no_wrap=True)
    for column in ("name", "roles", "created"):
        table.add_column(column)
    for user in asyncio.run(accounts(_accounts_settings(data_dir))):
        table.add_row(str(user.id), user.email, user.name, ", ".join(user.roles),
                      local_time(user.created_at, "yyyy-MM-dd HH:mm"))
    Console().print(table)


def _catalog_settings(data_dir: Path | None):
    from services.catalog.bootstrap import CatalogSettings

    return CatalogSettings(data_dir=data_dir) if data_dir else CatalogSettings()


@catalog_app.command("import")
def import_catalogue(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="The CSV file (see the template).")],
    shop: Annotated[UUID, typer.Option(help="The shop's id.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every row, write nothing.")
                       ] = False,
    timing: Annotated[bool, typer.Option("--timing", help="Print how long the import took.")
                      ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Import a shop's catalogue: every row or, when one is bad, none (exit 1, every bad row
    printed with its line); a variant is found by its SKU, so importing again changes nothing."""
    import asyncio
    import time

    from rich.console import Console
    from rich.progress import Progress

    from libs.kit.errors import DomainError
    from services.catalog.csv_catalogue.commands import import_catalogue as run_import
    from services.catalog.csv_catalogue.file_format import MAX_FILE_BYTES

    errors = Console(stderr=True)
    data = file.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        errors.print(f"the file is over {MAX_FILE_BYTES // 2**20} MiB", style="red")
        raise typer.Exit(1)
    started = time.perf_counter()
    with Progress(console=errors, transient=True) as progress:
        task = progress.add_task("checking" if dry_run else "importing",
                                 total=max(data.count(b"\n") - 1, 1))
        try:
            report = asyncio.run(run_import(
                _catalog_settings(data_dir), shop, data, dry_run=dry_run,
                progress=lambda rows: progress.advance(task, rows)))
        except DomainError as exc:
            errors.print(exc.message, style="red", markup=False, highlight=False)
            raise typer.Exit(1) from None
    elapsed = time.perf_counter() - started
    for error in report.errors:
        column = f" ({error.column})" if error.column else ""
        errors.print(f"line {error.line}{column}: {error.message}", style="red", markup=False,
                     highlight=False)
    summary = (f"{report.rows} rows: {report.created} created, {report.updated} updated, "
               f"{report.unchanged} unchanged")
    if report.errors:
        summary += f"; {len(report.errors)} errors, nothing written"
    elif dry_run:
        summary += " (dry run: nothing written)"
    typer.echo(summary)
    if timing:
        typer.echo(f"{elapsed:.2f} s", err=True)
    if report.errors:
        raise typer.Exit(1)


@catalog_app.command("export")
def export_catalogue(
    shop: Annotated[UUID, typer.Option(help="The shop's id.")],
    output: Annotated[Path | None, typer.Option("-o", "--output",
                                                help="Where to write it (default: stdout).")
                      ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Export a shop's catalogue as CSV; it imports back unchanged."""
    import asyncio

    from rich.console import Console

    from libs.kit.errors import DomainError
    from services.catalog.csv_catalogue.commands import export_catalogue as run_export

    try:
        text = asyncio.run(run_export(_catalog_settings(data_dir), shop))
    except DomainError as exc:
        Console(stderr=True).print(exc.message, style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    if output is None:
        sys.stdout.write(text.removeprefix("\ufeff"))
    else:
        output.write_text(text, encoding="utf-8")


CatalogsArgument = Annotated[
    list[str] | None,
    typer.Argument(help="kit, accounts, catalog, order, payment, pickup, notification "
                        "(default: all)."),
]


def _catalogs(names: list[str] | None) -> list[str]:
    from libs.kit.i18n_catalogs import DOMAINS

    unknown = sorted(set(names or ()) - set(DOMAINS))
    if unknown:
        raise typer.BadParameter(f"no catalog {', '.join(unknown)}; the catalogs are "
                                 f"{', '.join(DOMAINS)}", param_hint="CATALOGS")
    return list(names or DOMAINS)


@i18n_app.command("extract")
def extract_messages(catalogs: CatalogsArgument = None) -> None:
    """Write each catalog's messages.pot from its templates and Python code."""
    from libs.kit.i18n_catalogs import REPO, write_template

    for name in _catalogs(catalogs):
        typer.echo(f"wrote {write_template(name).relative_to(REPO)}")


@i18n_app.command("update")
def update_catalogs(catalogs: CatalogsArgument = None) -> None:
    """Extract, then merge into each locale's messages.po (new messages empty, gone ones out)."""
    from libs.kit.i18n_catalogs import REPO, update

    for name in _catalogs(catalogs):
        for path in update(name):
            typer.echo(f"updated {path.relative_to(REPO)}")


@i18n_app.command("check")
def check_catalogs(catalogs: CatalogsArgument = None) -> None:
    """Fail unless every message is translated (not empty, not fuzzy) and none is obsolete."""
    from libs.kit.i18n_catalogs import check

    problems = [problem for name in _catalogs(catalogs) for problem in check(name)]
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo("every message is translated")


def main() -> None:
    app(prog_name="adopte")


if __name__ == "__main__":
    sys.exit(main())
