"""Each service's schema through Alembic: its revisions live in services/<name>/migrations, one
environment per service, on SQLite and PostgreSQL alike.

A database made before migrations (by ``create_all``, so without a version table) is stamped at
the head revision when its tables match the models; otherwise starting refuses with what to do.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, inspect, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

VERSION_TABLE = "alembic_version"


class SchemaError(RuntimeError):
    """The database's schema is not one this code can run on."""


def migrations_of(service: str) -> Path | None:
    """services/<service>/migrations, or None for a service without any (tests' own)."""
    try:
        spec = find_spec(f"services.{service}")
    except ModuleNotFoundError:
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "migrations"
    return folder if (folder / "env.py").is_file() else None


def migrations_for(service: str, metadata: MetaData) -> Path | None:
    """The service's migrations when ``metadata`` is its own: a test's stand-in service that
    borrows a name, with tables of its own, still gets them made by create_all."""
    bootstrap = sys.modules.get(f"services.{service}.bootstrap")
    definition = getattr(bootstrap, "SERVICE", None)
    if getattr(definition, "metadata", None) is not metadata:
        return None
    return migrations_of(service)


def alembic_config(location: Path, connection: Connection | None = None) -> Config:
    config = Config(str(location / "alembic.ini"))
    config.set_main_option("script_location", str(location))
    config.attributes["connection"] = connection
    return config


def head_revision(location: Path) -> str | None:
    return ScriptDirectory.from_config(alembic_config(location)).get_current_head()


async def prepare(engine: AsyncEngine, location: Path, *, apply: bool) -> None:
    """Bring the database to the head revision (``apply``), or refuse to run on one behind it."""
    async with engine.begin() as connection:
        await connection.run_sync(_prepare, location, apply)


async def upgrade(database_url: str, location: Path) -> str | None:
    """Upgrade (or stamp a create_all database); returns the revision the database is then at."""
    _make_sqlite_folder(database_url)
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_prepare, location, True)
            return await connection.run_sync(current_revision)
    finally:
        await engine.dispose()


async def downgrade(database_url: str, location: Path, revision: str = "base") -> None:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(
                lambda sync: command.downgrade(alembic_config(location, sync), revision))
    finally:
        await engine.dispose()


async def differences(database_url: str, location: Path) -> list[Any]:
    """What autogenerate would change to make the database match the models ([] when none)."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_differences, location)
    finally:
        await engine.dispose()


def _make_sqlite_folder(database_url: str) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


def _prepare(connection: Connection, location: Path, apply: bool) -> None:
    if connection.dialect.name == "postgresql":
        # Two replicas starting together: one migrates, the other then finds it done.
        connection.execute(text("select pg_advisory_xact_lock(hashtext(:key))"),
                           {"key": f"adopte-migrations:{location.parent.name}"})
    config = alembic_config(location, connection)
    head = head_revision(location)
    current = current_revision(connection)
    if current is None and _has_tables(connection):
        _adopt_created_schema(connection, location, config)
        current = head
    if current == head:
        return
    if not apply:
        raise SchemaError(
            f"the database {_shown(connection)} is at revision {current or 'none'}, the code "
            f"needs {head}: run `adopte migrate` first (or set ADOPTE_MIGRATE_ON_START=true)")
    command.upgrade(config, "head")


def _adopt_created_schema(connection: Connection, location: Path, config: Config) -> None:
    found = _differences(connection, location)
    if found:
        raise SchemaError(
            f"the database {_shown(connection)} was made without migrations and does not match "
            f"the models ({len(found)} differences, first: {found[0]}); recreate it (or migrate "
            "it by hand, then `alembic stamp head`)")
    command.stamp(config, "head")


def _differences(connection: Connection, location: Path) -> list[Any]:
    config = alembic_config(location, connection)
    config.attributes["differences"] = found = []
    script = ScriptDirectory.from_config(config)
    with EnvironmentContext(config, script, fn=lambda _revision, _context: []):
        script.run_env()
    return found


def _has_tables(connection: Connection) -> bool:
    return any(name != VERSION_TABLE for name in inspect(connection).get_table_names())


def _shown(connection: Connection) -> str:
    return connection.engine.url.render_as_string(hide_password=True)


def run_environment(metadata: MetaData, default_url: Callable[[], str],
                    hand_made: Iterable[str] = ()) -> None:
    """The body of a service's env.py: migrate ``metadata`` on the connection the runner gives,
    or (alembic's own command line) on ``-x database_url=...``, else ``default_url()``.

    ``hand_made`` names what the revisions create by hand and the models do not describe (a
    full-text index); a table named there hides its shadow tables (``<name>_...``) too.
    """
    include_name = _leaving_out(frozenset(hand_made))
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection, metadata, include_name)
        return
    url = context.get_x_argument(as_dictionary=True).get("database_url") or default_url()
    asyncio.run(_run_on_url(url, metadata, include_name))


async def _run_on_url(url: str, metadata: MetaData, include_name: Callable[..., bool]) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run, metadata, include_name)
    finally:
        await engine.dispose()


def _run(connection: Connection, metadata: MetaData, include_name: Callable[..., bool]) -> None:
    context.configure(
        connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite", include_name=include_name,
        compare_type=True,
    )
    found = context.config.attributes.get("differences")
    if found is not None:
        found.extend(compare_metadata(context.get_context(), metadata))
        return
    with context.begin_transaction():
        context.run_migrations()


def _leaving_out(hand_made: frozenset[str]) -> Callable[..., bool]:
    def include_name(name: str | None, type_: str, _parent_names: dict) -> bool:
        if name is None:
            return True
        if type_ == "table":
            return not any(name == made or name.startswith(f"{made}_") for made in hand_made)
        return name not in hand_made

    return include_name
