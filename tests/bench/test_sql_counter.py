"""The statements counter behind the benchmark's SQL per checkout: off unless asked for."""

from __future__ import annotations

from sqlalchemy import MetaData, text

from libs.kit.db import SQL_STATEMENTS, Database


def _counted(service: str) -> float:
    return SQL_STATEMENTS.labels(service=service)._value.get()


async def _three_statements(database: Database) -> None:
    await database.start()
    try:
        async with database.sessions() as session, session.begin():
            await session.execute(text("select 1"))
            await session.execute(text("select 2"))
        async with database.read_sessions() as session:
            await session.execute(text("select 3"))
    finally:
        await database.stop()


async def test_statements_are_counted_per_service_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("ADOPTE_COUNT_SQL", "1")
    before = _counted("counted")

    await _three_statements(Database(f"sqlite+aiosqlite:///{tmp_path}/a.sqlite3", MetaData(),
                                     service="counted"))

    # The two selects, the read, and the writer's BEGIN IMMEDIATE (the reader's BEGIN too).
    assert _counted("counted") - before >= 3


async def test_nothing_is_counted_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv("ADOPTE_COUNT_SQL", raising=False)
    before = _counted("quiet")

    await _three_statements(Database(f"sqlite+aiosqlite:///{tmp_path}/b.sqlite3", MetaData(),
                                     service="quiet"))

    assert _counted("quiet") == before
