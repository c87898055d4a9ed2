"""The transactional outbox: events are written in the transaction that changes the state, and a
relay publishes them afterwards, in order, until the bus has them.

A crash after the commit and before the publish loses nothing: the rows wait in the table and the
next relay publishes them. A crash after the publish and before the rows are marked publishes them
again, which the consumers' inbox absorbs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import SessionTransaction

from libs.contracts import Event
from libs.correlation import correlation_id as current_correlation_id
from libs.messaging.metrics import OUTBOX_BACKLOG
from libs.messaging.port import EventBus, Message
from libs.sqltypes import UtcDateTime

log = logging.getLogger(__name__)


def outbox_table(metadata: MetaData) -> Table:
    """The outbox table in a service's own database."""
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
               autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("envelope", LargeBinary, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("published_at", UtcDateTime()),
        Index("outbox_unpublished", "published_at", "id"),
    )


class Outbox:
    """Writes events beside a state change; wakes the relay once the transaction commits.

    The rows of one transaction are written together, in one statement, just before it commits:
    a batch of events handled in one transaction writes its follow-up events at once. Rows
    emitted inside a savepoint that rolls back are dropped with it, as its other writes are.
    """

    def __init__(self, table: Table) -> None:
        self.table = table
        self.committed = asyncio.Event()

    async def add(
        self,
        session: AsyncSession,
        event_: Event,
        *,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> None:
        await self.add_all(session, [event_], correlation_id=correlation_id,
                           causation_id=causation_id)

    async def add_all(
        self,
        session: AsyncSession,
        events: Sequence[Event],
        *,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> None:
        """Each event, in order, to be written when ``session`` commits."""
        if not events:
            return
        correlation_id = correlation_id or current_correlation_id()
        sync_session = session.sync_session
        pending = self._pending(sync_session)
        savepoint = sync_session.get_nested_transaction()
        for event_ in events:
            envelope = event_.envelope(correlation_id=correlation_id, causation_id=causation_id)
            pending.append((savepoint, {
                "event_id": str(envelope.event_id), "topic": event_.topic, "key": envelope.key,
                "envelope": envelope.to_bytes(), "created_at": envelope.occurred_at}))

    def _pending(self, sync_session) -> list[tuple[SessionTransaction | None, dict]]:
        info = sync_session.info
        if "outbox_rows" not in info:
            info["outbox_rows"] = []
            event.listen(sync_session, "before_commit", self._write)
            event.listen(sync_session, "after_soft_rollback", self._drop)
            event.listen(sync_session, "after_commit", self._wake_relay)
        return info["outbox_rows"]

    def _write(self, sync_session) -> None:
        # Runs inside the commit, on SQLAlchemy's greenlet: the insert is part of the transaction.
        # A savepoint's release waits for the transaction's own commit.
        rows = sync_session.info["outbox_rows"]
        if rows and not sync_session.in_nested_transaction():
            sync_session.execute(self.table.insert(), [row for _, row in rows])
            rows.clear()
            sync_session.info["outbox_written"] = True

    def _drop(self, sync_session, rolled_back: SessionTransaction) -> None:
        rows = sync_session.info["outbox_rows"]
        if not rolled_back.nested:
            rows.clear()
            return
        rows[:] = [(savepoint, row) for savepoint, row in rows
                   if not _within(savepoint, rolled_back)]

    def _wake_relay(self, sync_session) -> None:
        # Runs on the event loop's thread (SQLAlchemy's greenlet), so setting the Event is safe.
        if sync_session.info.pop("outbox_written", False):
            self.committed.set()


def _within(savepoint: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while savepoint is not None:
        if savepoint is outer:
            return True
        savepoint = savepoint.parent
    return False


class OutboxRelay:
    """Publishes committed outbox rows in id order, retrying until the bus takes them."""

    def __init__(
        self,
        outbox: Outbox,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        *,
        service: str,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        retention: timedelta = timedelta(days=7),
        purge_every_s: float = 600.0,
    ) -> None:
        self.outbox = outbox
        self.table = outbox.table
        self.sessions = sessions
        self.bus = bus
        self.service = service
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.retention = retention
        self.purge_every_s = purge_every_s
        self._last_purge = 0.0
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()
        self.failing = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay:{self.service}")

    async def stop(self, grace_s: float = 10.0) -> None:
        """Let the batch in hand finish: a task cancelled inside its transaction can leave an
        SQLite connection holding the write lock."""
        if self._task is None:
            return
        self._stop.set()
        self.outbox.committed.set()
        _, late = await asyncio.wait([self._task], timeout=grace_s)
        for task in late:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self.outbox.committed.clear()
            try:
                published = await self.publish_pending()
                failures, self.failing = 0, False
            except Exception:
                failures += 1
                self.failing = failures >= 3
                delay = min(30.0, 0.1 * 2**failures)
                log.exception("outbox relay failed; retrying", extra={"retry_in_s": delay})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                continue
            if published < self.batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.outbox.committed.wait(), self.poll_interval_s)

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows; returns how many were published."""
        async with self.sessions() as session, session.begin():
            if session.bind.dialect.name == "postgresql":
                # Replicas of one service share its outbox: one relay at a time keeps the order.
                await session.execute(text("select pg_advisory_xact_lock(hashtext('outbox'))"))
            rows = (
                await session.execute(
                    select(self.table.c.id, self.table.c.topic, self.table.c.key,
                           self.table.c.envelope)
                    .where(self.table.c.published_at.is_(None))
                    .order_by(self.table.c.id)
                    .limit(self.batch_size)
                )
            ).all()
            if rows:
                await self.bus.publish([Message(r.topic, r.key, r.envelope) for r in rows])
                await session.execute(
                    update(self.table)
                    .where(self.table.c.id.in_([r.id for r in rows]))
                    .values(published_at=datetime.now(UTC))
                )
            OUTBOX_BACKLOG.labels(self.service).set(await self._left(session, len(rows)))
            if time.monotonic() - self._last_purge > self.purge_every_s:
                self._last_purge = time.monotonic()
                await session.execute(
                    delete(self.table).where(
                        self.table.c.published_at < datetime.now(UTC) - self.retention
                    )
                )
        return len(rows)

    async def _left(self, session: AsyncSession, published: int) -> int:
        """Rows still waiting; counted only after a full batch, since a partial one took every
        row there was."""
        if published < self.batch_size:
            return 0
        return await session.scalar(
            select(func.count()).select_from(self.table)
            .where(self.table.c.published_at.is_(None))
        )
