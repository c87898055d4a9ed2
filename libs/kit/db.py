"""A service's database: an async engine and sessions, built at start-up, never at import.

SQLite (aiosqlite) for the embedded runtime, PostgreSQL (asyncpg) for the distributed one.

``sessions`` is for the work that writes, ``read_sessions`` for what only reads (public pages,
searches): on SQLite they are separate connections, so reads run beside each other and beside
the writer instead of queueing behind it.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
from prometheus_client import Counter
from sqlalchemy import MetaData, event
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlmodel.ext.asyncio.session import AsyncSession

SQLITE_READERS = 4  # connections of the reading pool: one per request served at a time, or so
POSTGRES_VALUE_READERS = 4  # read_value's own connections: a round trip each, never more is needed


class InlineSqliteConnection(aiosqlite.Connection):
    """aiosqlite's connection with its calls made on the event loop's thread, not handed to a
    thread of its own.

    A statement on a local SQLite file takes a few microseconds; handing it to aiosqlite's
    thread and back cost about 150 µs of CPU (two thread switches and a loop wake-up), most of
    the embedded runtime's time. The cost of running inline is that a wait for a lock would hold
    the whole loop. The pools here never wait for one another (one writer connection per
    database, the readers on WAL snapshots), so only another process writing the same file (an
    `adopte` command while the host runs) can make the loop wait, for as long as its
    transaction lasts.
    """

    def __await__(self):
        return self._connect().__await__()

    async def _connect(self) -> InlineSqliteConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    async def _execute(self, fn, *args, **kwargs):
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None
# Off unless ADOPTE_COUNT_SQL=1 (the benchmark's statements per checkout): an event listener on
# every statement is a cost nobody else should pay. With it, ADOPTE_TRACE_SQL=<file> also appends
# each statement there (service, whether SQLAlchemy compiled it anew, the statement), to see
# which ones a checkout sends.
SQL_STATEMENTS = Counter(
    "adopte_sql_statements", "Statements sent to the database, when ADOPTE_COUNT_SQL=1.",
    ["service"],
)


async def _kept_as_is(_connection: asyncpg.Connection) -> None:
    """A connection that only ever ran one SELECT at a time has no session state to undo: the
    reset the pool would run otherwise is a round trip per read."""


class Database:
    def __init__(self, url: str, metadata: MetaData, *, echo: bool = False,
                 service: str | None = None) -> None:
        self.url = make_url(url)
        self.metadata = metadata
        self.echo = echo
        self.service = service
        self.engine: AsyncEngine | None = None
        self.sessions: async_sessionmaker[AsyncSession] | None = None
        self.read_sessions: async_sessionmaker[AsyncSession] | None = None
        self._read_engine: AsyncEngine | None = None
        self._value_reader: sqlite3.Connection | None = None
        self._value_readers: asyncpg.Pool | None = None
        self._value_pool_made = asyncio.Lock()

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    async def start(self, *, create_tables: bool = True) -> None:
        if self.is_sqlite:
            self.engine = self._sqlite_engine()
        else:
            # No ping before each use: it was a round trip per transaction, a tenth of a busy
            # consumer's CPU. A connection the server dropped fails its one transaction, which
            # invalidates the pool; the consumer retries the event, a request answers 503
            # (libs/kit/errors.py).
            self.engine = create_async_engine(
                self.url, echo=self.echo, pool_size=10, max_overflow=20, pool_recycle=1800
            )
        self._count_statements(self.engine)
        self.sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        if create_tables:
            async with self.engine.begin() as connection:
                await connection.run_sync(self.metadata.create_all)
        self.read_sessions = async_sessionmaker(
            await self._reading_engine(), class_=AsyncSession, expire_on_commit=False,
            autoflush=False,
        )

    async def read_value(self, sql: str, *parameters: Any) -> Any:
        """The first column of the first row ``sql`` gives (or None), read at the last commit,
        outside any transaction and without SQLAlchemy: for a read on the path of a page served
        from memory, where a pooled session cost ten times the read itself. ``sql`` and
        ``parameters`` are the driver's own (``?`` and a UUID's hex on SQLite, ``$1`` and a UUID
        on PostgreSQL), and the statement counter does not see them.

        SQLite: a connection of its own that only reads, called on the event loop's thread (see
        InlineSqliteConnection); each read sees the last commit (WAL). PostgreSQL: a few driver
        connections of their own, no BEGIN nor COMMIT (one round trip instead of three). Not
        SQLAlchemy's pool: dozens of requests waiting for it at once made each checkout cost
        twice as much, and a busy catalog served fewer pages the more it was asked for.
        """
        if not self.is_sqlite:
            return await (await self._value_pool()).fetchval(sql, *parameters)
        if self._in_memory:  # another connection would open another, empty, database
            async with self.engine.connect() as connection:
                return (await connection.exec_driver_sql(sql, parameters)).scalar()
        if self._value_reader is None:
            self._value_reader = self._sqlite_connector(("query_only=on", "busy_timeout=30000"))()
        row = self._value_reader.execute(sql, parameters).fetchone()
        return row[0] if row else None

    async def _value_pool(self) -> asyncpg.Pool:
        async with self._value_pool_made:
            if self._value_readers is None:
                dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
                self._value_readers = await asyncpg.create_pool(
                    dsn, min_size=1, max_size=POSTGRES_VALUE_READERS, reset=_kept_as_is)
        return self._value_readers

    async def _reading_engine(self) -> AsyncEngine:
        if not self.is_sqlite:
            # One pool for both: PostgreSQL's reads never wait for its writes. READ ONLY costs
            # nothing (asyncpg says it in the BEGIN) and makes a stray write fail loudly.
            return self.engine.execution_options(postgresql_readonly=True)
        if self._in_memory:
            return self.engine  # another connection would open another, empty, database
        # The writer's first connection puts the file in WAL mode (lasting), which is what lets
        # readers read while it writes: make sure it happened before any reader connects.
        async with self.engine.connect():
            pass
        self._read_engine = self._sqlite_reader()
        self._count_statements(self._read_engine)
        return self._read_engine

    def _count_statements(self, engine: AsyncEngine) -> None:
        if os.environ.get("ADOPTE_COUNT_SQL") != "1":
            return
        counted = SQL_STATEMENTS.labels(service=self.service or self.url.database or "")
        trace_path = os.environ.get("ADOPTE_TRACE_SQL")

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _count(_conn, _cursor, statement, _parameters, context, _many):
            counted.inc()
            if trace_path:
                compiled = getattr(getattr(context, "cache_hit", None), "name", "-")
                with open(trace_path, "a") as trace:
                    trace.write(f"{self.service}\t{compiled}\t"
                                f"{' '.join(statement.split())[:160]}\n")

    @property
    def _in_memory(self) -> bool:
        return self.url.database in (None, "", ":memory:") or "mode=memory" in str(self.url)

    def _sqlite_engine(self) -> AsyncEngine:
        database = self.url.database
        if not self._in_memory:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # One connection: SQLite has one writer at a time anyway, and every transaction here
        # writes (see below), so waiters queue in the pool, in order, instead of polling in
        # SQLite's busy handler, whose back-off can leave one of them waiting a second or more.
        # Take the write lock up front: a read that later writes cannot then fail with
        # "database is locked", and read-modify-write (stock, capacity) is serialised.
        return self._sqlite_pool(pool_size=1, begin="begin immediate", pragmas=(
            "journal_mode=wal", "synchronous=normal", "foreign_keys=on", "busy_timeout=30000"))

    def _sqlite_reader(self) -> AsyncEngine:
        """A few connections that only read, each transaction a snapshot of the last commit
        (WAL): they neither take nor wait for the write lock. Deferred: the snapshot is taken
        at the first read, and no lock is asked for."""
        return self._sqlite_pool(pool_size=SQLITE_READERS, begin="begin",
                                 pragmas=("query_only=on", "busy_timeout=30000"))

    def _sqlite_pool(self, *, pool_size: int, begin: str, pragmas: tuple[str, ...]
                     ) -> AsyncEngine:
        engine = create_async_engine(
            self.url, echo=self.echo, poolclass=AsyncAdaptedQueuePool, pool_size=pool_size,
            max_overflow=0, pool_timeout=60, async_creator=self._inline_connector(pragmas),
        )

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(connection):
            connection.exec_driver_sql(begin)

        return engine

    def _inline_connector(self, pragmas: tuple[str, ...]):
        connect = self._sqlite_connector(pragmas)

        async def connected() -> InlineSqliteConnection:
            return await InlineSqliteConnection(connect, 64)

        return connected

    def _sqlite_connector(self, pragmas: tuple[str, ...]):
        args, kwargs = SQLiteDialect_pysqlite().create_connect_args(
            self.url.set(drivername="sqlite"))

        def connect() -> sqlite3.Connection:
            # Autocommit in the driver: SQLAlchemy, not the driver, opens transactions, so
            # that the "begin" above is ours.
            connection = sqlite3.connect(*args, **{**kwargs, "timeout": 30,
                                                   "isolation_level": None,
                                                   "check_same_thread": False})
            for pragma in pragmas:
                connection.execute(f"pragma {pragma}")
            return connection

        return connect

    async def stop(self) -> None:
        if self._value_reader is not None:
            self._value_reader.close()
            self._value_reader = None
        if self._value_readers is not None:
            await self._value_readers.close()
            self._value_readers = None
        if self._read_engine is not None:
            await self._read_engine.dispose()
            self._read_engine = None
        if self.engine is not None:
            await self.engine.dispose()
            self.engine = None
