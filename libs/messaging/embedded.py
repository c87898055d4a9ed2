"""The embedded bus: a durable, SQLite-backed partitioned log for the one-process runtime.

It keeps the semantics the services rely on from Kafka: a key always maps to the same partition
and keeps its order, each consumer group has its own committed offsets, delivery is at least once
(an offset is committed only after its handler returned), a restart resumes from the committed
offsets, and a record that keeps failing goes to ``<topic>.dlq`` without holding up the others.

Its SQLite work runs on the event loop's thread, one call at a time on the single connection: a
statement on a local file takes microseconds, less than handing it to a thread and back. Only
another process writing the same file (none does while the host runs) could make the loop wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

from libs.messaging.delivery import deliver_all
from libs.messaging.metrics import CONSUMER_LAG, EVENTS_PUBLISHED
from libs.messaging.port import (
    BatchHandler,
    Handler,
    Message,
    Record,
    RetryPolicy,
    TopicSpec,
    dead_letter_topic,
)

log = logging.getLogger(__name__)

_SCHEMA = """
create table if not exists topics (name text primary key, partitions integer not null);
create table if not exists records (
    topic text not null, partition integer not null, "offset" integer not null,
    key text not null, value blob not null, headers text not null, timestamp_ms integer not null,
    primary key (topic, partition, "offset")
) without rowid;
create table if not exists group_offsets (
    grp text not null, topic text not null, partition integer not null, next_offset integer not null,
    primary key (grp, topic, partition)
) without rowid;
"""


def partition_for(key: str, partitions: int) -> int:
    return zlib.crc32(key.encode()) % partitions


def _encode_headers(headers: Sequence[tuple[str, bytes]]) -> str:
    return json.dumps([[name, value.decode("latin-1")] for name, value in headers])


def _decode_headers(raw: str) -> tuple[tuple[str, bytes], ...]:
    return tuple((name, value.encode("latin-1")) for name, value in json.loads(raw))


class EmbeddedBus:
    def __init__(self, path: str | Path, *, default_partitions: int = 3) -> None:
        self.path = str(path)
        self.default_partitions = default_partitions
        self._db: sqlite3.Connection | None = None
        self._partitions: dict[str, int] = {}
        self._next_offset: dict[tuple[str, int], int] = {}
        # Each partition's consumers, woken when records land there and only then: every
        # partition of every group polling at each publish would cost more than the handling.
        self._waiters: dict[tuple[str, int], set[asyncio.Event]] = {}
        self._groups: set[str] = set()

    async def start(self) -> None:
        self._open()

    def _open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("pragma journal_mode=wal")
        self._db.execute("pragma synchronous=normal")
        self._db.executescript(_SCHEMA)
        self._load_positions()

    def _load_positions(self) -> None:
        self._partitions = dict(self._db.execute("select name, partitions from topics"))
        self._next_offset = {
            (topic, partition): last + 1
            for topic, partition, last in self._db.execute(
                'select topic, partition, max("offset") from records group by topic, partition'
            )
        }

    async def stop(self) -> None:
        if self._db is None:
            return
        self._db.close()
        self._db = None

    async def ensure_topics(self, topics: Sequence[TopicSpec]) -> None:
        specs = [(s.name, s.partitions) for s in topics]
        specs += [(dead_letter_topic(name), partitions) for name, partitions in specs]
        self._create_topics(specs)

    def _create_topics(self, specs: Sequence[tuple[str, int]]) -> None:
        for name, partitions in specs:
            if name not in self._partitions:
                self._db.execute("insert into topics values (?, ?)", (name, partitions))
                self._partitions[name] = partitions

    async def publish(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        landed = self._append(messages)
        for message in messages:
            EVENTS_PUBLISHED.labels(message.topic).inc()
        for slot in landed:
            for waiter in self._waiters.get(slot, ()):
                waiter.set()

    def _append(self, messages: Sequence[Message]) -> set[tuple[str, int]]:
        try:
            return self._append_at_known_offsets(messages)
        except sqlite3.IntegrityError:
            # Another process appended to the file (`adopte dlq replay` while the hub runs), so
            # the offsets kept here are behind: take them from the file and append after its.
            self._load_positions()
            return self._append_at_known_offsets(messages)

    def _append_at_known_offsets(self, messages: Sequence[Message]) -> set[tuple[str, int]]:
        now_ms = int(time.time() * 1000)
        partitions = dict(self._partitions)
        next_offset: dict[tuple[str, int], int] = {}
        new_topics, rows = [], []
        for message in messages:
            if message.topic not in partitions:
                partitions[message.topic] = self.default_partitions
                new_topics.append((message.topic, self.default_partitions))
            partition = partition_for(message.key, partitions[message.topic])
            slot = (message.topic, partition)
            offset = next_offset.get(slot, self._next_offset.get(slot, 0))
            next_offset[slot] = offset + 1
            rows.append((message.topic, partition, offset, message.key, message.value,
                         _encode_headers(message.headers), now_ms))
        with self._db:
            self._db.execute("begin immediate")
            self._db.executemany("insert into topics values (?, ?)", new_topics)
            self._db.executemany("insert into records values (?, ?, ?, ?, ?, ?, ?)", rows)
        self._partitions = partitions
        self._next_offset.update(next_offset)
        return set(next_offset)

    def consumer(
        self,
        group: str,
        topics: Sequence[str],
        handler: Handler,
        *,
        retry: RetryPolicy | None = None,
        batch_handler: BatchHandler | None = None,
    ) -> EmbeddedConsumer:
        return EmbeddedConsumer(self, group, list(topics), handler, retry or RetryPolicy(),
                                batch_handler)

    # Used by consumers.

    def _fetch(self, topic: str, partition: int, from_offset: int, limit: int) -> list[Record]:
        rows = self._db.execute(
            'select "offset", key, value, headers, timestamp_ms from records '
            'where topic = ? and partition = ? and "offset" >= ? order by "offset" limit ?',
            (topic, partition, from_offset, limit),
        ).fetchall()
        if rows and rows[-1][0] >= self._next_offset.get((topic, partition), 0):
            # Appended by another process: keeps the lag right and the next append clear of it.
            self._next_offset[(topic, partition)] = rows[-1][0] + 1
        return [
            Record(topic, partition, offset, key, value, _decode_headers(headers), ts)
            for offset, key, value, headers, ts in rows
        ]

    def _committed(self, group: str, topic: str, partition: int) -> int:
        row = self._db.execute(
            "select next_offset from group_offsets where grp = ? and topic = ? and partition = ?",
            (group, topic, partition),
        ).fetchone()
        return row[0] if row else 0

    def _commit(self, group: str, topic: str, partition: int, next_offset: int) -> None:
        self._db.execute(
            "insert into group_offsets values (?, ?, ?, ?) on conflict (grp, topic, partition) "
            "do update set next_offset = excluded.next_offset",
            (group, topic, partition, next_offset),
        )

    def _end_offset(self, topic: str, partition: int) -> int:
        return self._next_offset.get((topic, partition), 0)

    def _topic_partitions(self, topic: str) -> int:
        if topic not in self._partitions:
            self._create_topics([(topic, self.default_partitions)])
        return self._partitions[topic]


class EmbeddedConsumer:
    """The one member of its group: one task per partition, each strictly in order."""

    batch_size = 200
    idle_poll_s = 1.0

    def __init__(self, bus: EmbeddedBus, group: str, topics: list[str], handler: Handler,
                 retry: RetryPolicy, batch_handler: BatchHandler | None = None) -> None:
        self.bus = bus
        self.group = group
        self.topics = topics
        self.handler = handler
        self.retry = retry
        self.batch_handler = batch_handler
        self._tasks: list[asyncio.Task] = []
        self._stopping = asyncio.Event()
        self._wakeups: set[asyncio.Event] = set()
        self._positions: dict[tuple[str, int], int] = {}

    async def start(self) -> None:
        if self.group in self.bus._groups:
            raise RuntimeError(f"consumer group {self.group!r} already has a member here")
        self.bus._groups.add(self.group)
        for topic in self.topics:
            partitions = self.bus._topic_partitions(topic)
            for partition in range(partitions):
                committed = self.bus._committed(self.group, topic, partition)
                self._positions[(topic, partition)] = committed
                self._tasks.append(asyncio.create_task(
                    self._consume(topic, partition), name=f"{self.group}:{topic}[{partition}]"
                ))

    async def _consume(self, topic: str, partition: int) -> None:
        wakeup = asyncio.Event()
        self._wakeups.add(wakeup)
        waiters = self.bus._waiters.setdefault((topic, partition), set())
        waiters.add(wakeup)
        try:
            while not self._stopping.is_set():
                wakeup.clear()
                position = self._positions[(topic, partition)]
                records = self.bus._fetch(topic, partition, position, self.batch_size)
                if not records:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wakeup.wait(), self.idle_poll_s)
                    continue
                slot = (topic, partition)
                before = self._positions[slot]
                try:
                    await deliver_all(
                        records, self.handler, group=self.group, retry=self.retry,
                        publish_dead_letter=self._dead_letter,
                        advanced=lambda offset, slot=slot: self._positions.__setitem__(slot, offset),
                        batch_handler=self.batch_handler, stopping=self._stopping.is_set)
                finally:
                    # One offset write per batch: handlers are idempotent (the inbox), so a crash
                    # between records only redelivers what this batch already applied.
                    if self._positions[slot] != before:
                        self.bus._commit(self.group, topic, partition, self._positions[slot])
        finally:
            waiters.discard(wakeup)
            self._wakeups.discard(wakeup)

    async def _dead_letter(self, message: Message) -> None:
        await self.bus.publish([message])

    async def stop(self, grace_s: float = 5.0) -> None:
        self._stopping.set()
        for wakeup in self._wakeups:
            wakeup.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self.bus._groups.discard(self.group)

    async def lag(self) -> int:
        lag = sum(
            self.bus._end_offset(topic, partition) - position
            for (topic, partition), position in self._positions.items()
        )
        CONSUMER_LAG.labels(self.group).set(lag)
        return lag
