"""Every service's migrations: from empty they make exactly what the models describe, on SQLite and
PostgreSQL; they go down and up again; a database made by create_all is adopted (stamped) when it
matches and refused when it does not; a service refuses a database behind the head when it must
not migrate it itself."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from libs.kit.db import Database
from libs.kit.migrations import (
    SchemaError,
    current_revision,
    differences,
    downgrade,
    head_revision,
    migrations_of,
    prepare,
    upgrade,
)
from services.host import SERVICES, service_bootstrap


async def _tables(database_url: str) -> set[str]:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def _revision(database_url: str) -> str | None:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(current_revision)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_from_empty_make_the_models(database_url, service):
    location = migrations_of(service)

    assert await upgrade(database_url, location) == head_revision(location)

    assert await differences(database_url, location) == []
    model_tables = set(service_bootstrap(service).SERVICE.metadata.tables)
    assert model_tables <= await _tables(database_url)


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_go_down_to_empty_and_up_again(database_url, service):
    location = migrations_of(service)
    await upgrade(database_url, location)

    await downgrade(database_url, location)
    assert await _tables(database_url) <= {"alembic_version"}
    assert await _revision(database_url) is None

    await upgrade(database_url, location)
    assert await differences(database_url, location) == []


async def test_the_catalog_search_index_is_made_by_the_migration(database_url):
    await upgrade(database_url, migrations_of("catalog"))

    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                found = await connection.scalar(text(
                    "select count(*) from sqlite_master where name like 'catalogue_entries_fts%'"
                    " and type in ('table', 'trigger')"))
                assert found >= 4  # the FTS5 table and its three triggers
            else:
                found = await connection.scalar(text(
                    "select count(*) from information_schema.columns where table_name = "
                    "'catalogue_entries' and column_name = 'document'"))
                assert found == 1
    finally:
        await engine.dispose()


async def _create_all(database_url: str, metadata) -> None:
    database = Database(database_url, metadata)
    await database.start()
    await database.stop()


async def test_a_database_made_by_create_all_is_stamped_when_it_matches(database_url):
    location = migrations_of("catalog")
    await _create_all(database_url, service_bootstrap("catalog").SERVICE.metadata)

    assert await upgrade(database_url, location) == head_revision(location)
    assert await differences(database_url, location) == []


async def test_a_database_made_by_create_all_that_differs_is_refused(tmp_path):
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'order.sqlite3'}"
    await _create_all(database_url, service_bootstrap("order").SERVICE.metadata)
    engine = create_async_engine(database_url, poolclass=NullPool)
    async with engine.begin() as connection:
        await connection.execute(text("drop table inbox"))

    with pytest.raises(SchemaError, match="recreate it"):
        await prepare(engine, migrations_of("order"), apply=True)
    await engine.dispose()
    assert await _revision(database_url) is None


async def test_a_service_that_must_not_migrate_refuses_a_database_behind_the_head(tmp_path):
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'pickup.sqlite3'}",
                                 poolclass=NullPool)
    try:
        with pytest.raises(SchemaError, match="adopte migrate"):
            await prepare(engine, migrations_of("pickup"), apply=False)
        await prepare(engine, migrations_of("pickup"), apply=True)
        await prepare(engine, migrations_of("pickup"), apply=False)
    finally:
        await engine.dispose()


async def test_the_embedded_host_starts_on_a_fresh_data_dir_through_migrations(tmp_path):
    from services.host import EmbeddedHost

    host = EmbeddedHost(tmp_path, seed_demo=False)
    async with host.root.router.lifespan_context(host.root):
        for name in SERVICES:
            url = f"sqlite+aiosqlite:///{tmp_path / f'{name}.sqlite3'}"
            assert await _revision(url) == head_revision(migrations_of(name)), name


def test_adopte_migrate_brings_every_service_to_its_head(tmp_path):
    from typer.testing import CliRunner

    from services.cli import app

    result = CliRunner().invoke(app, ["migrate", "--all", "--data-dir", str(tmp_path)])

    assert result.exit_code == 0, result.output
    for name in SERVICES:
        assert f"{name}: at revision {head_revision(migrations_of(name))}" in result.output
    refused = CliRunner().invoke(app, ["migrate", "--database-url", "sqlite+aiosqlite://"])
    assert refused.exit_code == 2
