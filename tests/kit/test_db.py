"""Read sessions: what the public pages read with. They see what is committed and nothing else,
run beside a transaction that writes (and beside each other) without waiting for it, and refuse
to write. And SQLite's statements run on the event loop's thread."""

from __future__ import annotations

import asyncio
import threading

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    exc,
    func,
    insert,
    select,
    text,
)

from libs.kit.db import SQLITE_READERS, Database
from libs.kit.errors import install_error_handlers

METADATA = MetaData()
NOTES = Table("notes", METADATA, Column("id", Integer, primary_key=True),
              Column("text", String(50), nullable=False))
PROMPT = 5.0  # seconds: far more than any of these reads takes, far less than a lock wait


@pytest.fixture
async def database(database_url):
    database = Database(database_url, METADATA)
    await database.start()
    try:
        yield database
    finally:
        await database.stop()


async def _write(database: Database, *texts: str) -> None:
    async with database.sessions() as session, session.begin():
        await session.execute(insert(NOTES), [{"text": text} for text in texts])


async def _read(database: Database) -> list[str]:
    async with database.read_sessions() as session:
        return list((await session.execute(select(NOTES.c.text).order_by(NOTES.c.id))).scalars())


async def test_a_read_session_sees_what_was_committed(database):
    await _write(database, "pain", "miel")

    assert await _read(database) == ["pain", "miel"]


async def test_a_read_during_a_write_neither_waits_nor_fails_and_sees_the_last_commit(database):
    await _write(database, "pain")
    async with database.sessions() as writing, writing.begin():
        await writing.execute(insert(NOTES).values(text="miel"))
        await writing.flush()

        during = await asyncio.wait_for(_read(database), PROMPT)

    assert during == ["pain"]
    assert await _read(database) == ["pain", "miel"]


async def test_reads_run_beside_each_other(database):
    await _write(database, "pain")
    all_open = asyncio.Barrier(SQLITE_READERS)

    async def read_while_the_others_do() -> list[str]:
        async with database.read_sessions() as session:
            texts = list((await session.execute(select(NOTES.c.text))).scalars())
            await all_open.wait()  # every transaction open at once, or this never returns
            return texts

    reads = [read_while_the_others_do() for _ in range(SQLITE_READERS)]

    assert await asyncio.wait_for(asyncio.gather(*reads), PROMPT) == [["pain"]] * SQLITE_READERS


async def test_a_read_session_refuses_to_write(database):
    async with database.read_sessions() as session:
        with pytest.raises(exc.DBAPIError, match="(?i)read.?only"):
            await session.execute(insert(NOTES).values(text="pain"))

    assert await _read(database) == []


async def test_a_connection_that_was_read_with_writes_again(database):
    # On PostgreSQL both kinds of session share the pool: read only must not stick to it.
    await _read(database)
    await _write(database, "pain")

    assert await _read(database) == ["pain"]


async def test_an_in_memory_database_reads_what_it_wrote():
    database = Database("sqlite+aiosqlite://", METADATA)
    await database.start()
    try:
        await _write(database, "pain")

        assert await _read(database) == ["pain"]
    finally:
        await database.stop()


async def test_sqlite_statements_run_on_the_event_loops_own_thread(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'inline.sqlite3'}", METADATA)
    await database.start()
    threads = []
    try:
        for engine in (database.engine, database._read_engine):
            async with engine.connect() as connection:
                raw = (await connection.get_raw_connection()).driver_connection
                raw._conn.create_function(
                    "whose", 0, lambda: threads.append(threading.get_ident()) or 1)
                assert await connection.scalar(text("select whose()")) == 1
    finally:
        await database.stop()
    assert threads == [threading.get_ident()] * 2, "no hand-over to another thread"


async def test_a_connection_postgresql_dropped_fails_one_request_with_503_then_all_is_well(
        fresh_postgres_url):
    database = Database(fresh_postgres_url, METADATA)
    await database.start()
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/notes")
    async def notes() -> int:
        async with database.sessions() as session:
            return await session.scalar(select(func.count()).select_from(NOTES))

    try:
        async with database.sessions() as session:
            backend = await session.scalar(text("select pg_backend_pid()"))
        outsider = await asyncpg.connect(fresh_postgres_url.replace("+asyncpg", ""))
        await outsider.execute("select pg_terminate_backend($1)", backend)
        await outsider.close()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            dropped, after = await client.get("/notes"), await client.get("/notes")
    finally:
        await database.stop()
    assert (dropped.status_code, dropped.headers.get("retry-after")) == (503, "1")
    assert dropped.json()["error"]["code"] == "unavailable"
    assert (after.status_code, after.json()) == (200, 0)
