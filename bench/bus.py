"""Throughput and end-to-end latency of one event hop, three ways, side by side in one run.

  raw aiokafka   AIOKafkaProducer (acks=all, idempotent) -> AIOKafkaConsumer (manual commit)
  KafkaBus       use case writes a row + outbox row in one transaction -> OutboxRelay -> KafkaBus
                 -> bus.consumer() -> handler applies it behind Inbox.claim in one transaction
  EmbeddedBus    the same outbox/inbox path on the SQLite-backed EmbeddedBus

Each path runs two phases, each on a fresh topic, consumer group and databases, after a warm-up:
  throughput  --writers concurrent writers, one event per transaction (raw: one send_and_wait),
              until --events events; events/s = events / (first write began -> last handler done)
  latency     --rate events/s on an open-loop schedule for a few seconds: each event starts on
              time whether or not the previous ones are done, so a slow event shows as latency
              instead of silently delaying the next, and the rate is low enough not to queue.

Latency runs from just before the producer side is asked to send (raw: send_and_wait; outbox:
before the transaction begins) to just after the consumer's handler finished (outbox: after its
inbox transaction committed). Producer, relay and consumer share this process and event loop.

    uv run python -m bench.bus [--events N] [--kafka HOST:PORT] [--database sqlite|URL]
                               [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import platform
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import aiokafka
import asyncpg
import sqlalchemy
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from rich.console import Console
from rich.table import Table as RichTable
from sqlalchemy import Column, MetaData, String, Table
from sqlalchemy.engine import make_url

from libs.contracts import registry
from libs.contracts.pickup import HubOpened
from libs.kit.db import Database
from libs.messaging.embedded import EmbeddedBus
from libs.messaging.inbox import Inbox, inbox_table
from libs.messaging.kafka import KafkaBus
from libs.messaging.outbox import Outbox, OutboxRelay, outbox_table
from libs.messaging.port import EventBus, Message, Record, TopicSpec, dead_letter_topic

KAFKA_SCRIPT = Path(__file__).resolve().parents[1] / "deploy" / "local" / "kafka.sh"
PARTITIONS = 3
WARMUP_EVENTS = 50
DRAIN_TIMEOUT_S = 120.0
# The outbox path's milestones, in the order an event passes them.
STAGES = {
    "write tx": ("begin", "written"),
    "relay pickup": ("written", "published"),
    "bus transit": ("published", "handling"),
    "inbox tx": ("handling", "done"),
}
HUB = {"name": "Le Banc d'Essai", "town": "Redon", "address": "1 quai de la Mesure"}

progress = Console(stderr=True)


class Tracker:
    """When each event of the round in hand passed each milestone (perf_counter seconds)."""

    def __init__(self) -> None:
        self.expect(0)

    def expect(self, count: int) -> None:
        self.count = count
        self.marks: dict[str, dict[str, float]] = {}
        self.finished = 0
        self.all_done = asyncio.Event()

    def begin(self, key: str, at: float | None = None) -> None:
        self.marks[key] = {"begin": time.perf_counter() if at is None else at}

    def mark(self, key: str, milestone: str, at: float | None = None) -> None:
        # Keys not begun in this round are late redeliveries of an earlier one; a redelivery
        # of this round keeps the first time.
        if (marks := self.marks.get(key)) is not None:
            marks.setdefault(milestone, time.perf_counter() if at is None else at)

    def finish(self, key: str) -> None:
        marks = self.marks.get(key)
        if marks is None or "done" in marks:
            return
        marks["done"] = time.perf_counter()
        self.finished += 1
        if self.finished == self.count:
            self.all_done.set()

    async def drained(self) -> None:
        try:
            await asyncio.wait_for(self.all_done.wait(), DRAIN_TIMEOUT_S)
        except TimeoutError:
            raise RuntimeError(
                f"only {self.finished} of {self.count} events delivered after {DRAIN_TIMEOUT_S:.0f}s"
            ) from None

    def last_done(self) -> float:
        return max(marks["done"] for marks in self.marks.values())

    def spans_ms(self, start: str, end: str) -> list[float]:
        return [(m[end] - m[start]) * 1000 for m in self.marks.values() if start in m and end in m]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def new_key() -> str:
    return str(uuid.uuid4())


# --- the three paths -------------------------------------------------------------------------


async def kafka_admin(bootstrap: str, *, create: Sequence[str] = (),
                      delete: Sequence[str] = ()) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench")
    await admin.start()
    try:
        if create:
            await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in create])
        if delete:
            await admin.delete_topics(delete)
    finally:
        await admin.close()


class RawKafka:
    """The floor: what aiokafka itself costs for the same durability (acks=all, manual commit)."""

    start_mark = "sent"
    stages: dict[str, tuple[str, str]] = {}

    def __init__(self, tracker: Tracker, bootstrap: str, topic: str) -> None:
        self.tracker = tracker
        self.bootstrap = bootstrap
        self.topic = topic
        # As large as the outbox path's envelopes, so the broker moves as many bytes.
        sample = HubOpened(hub_id=uuid.uuid4(), **HUB).envelope(correlation_id=uuid.uuid4().hex)
        self.size = len(sample.to_bytes())

    async def start(self) -> None:
        await kafka_admin(self.bootstrap, create=[self.topic])
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True
        )
        self.consumer = AIOKafkaConsumer(
            self.topic, bootstrap_servers=self.bootstrap, group_id=self.topic,
            enable_auto_commit=False, auto_offset_reset="earliest",
        )
        await self.producer.start()
        await self.consumer.start()
        self.consuming = asyncio.create_task(self._consume())

    async def write(self, key: str) -> None:
        sent = time.perf_counter()
        self.tracker.begin(key, sent)
        value = json.dumps({"key": key, "sent": sent}).encode()
        value += b" " * (self.size - len(value))
        await self.producer.send_and_wait(self.topic, value, key=key.encode())
        self.tracker.mark(key, "written")

    async def _consume(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    payload = json.loads(record.value)
                    # The latency is read from the payload, as it would be across processes.
                    self.tracker.mark(payload["key"], "sent", payload["sent"])
                    self.tracker.finish(payload["key"])
            if batches:
                await self.consumer.commit()

    async def stop(self) -> None:
        self.consuming.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.consuming
        await self.consumer.stop()
        await self.producer.stop()

    def topics(self) -> list[str]:
        return [self.topic]


def routed(topic_: str) -> type[HubOpened]:
    # abstract=True keeps it out of the registry: it is written, sent and decoded as a plain
    # HubOpened, only routed to this run's topic.
    class RoutedHubOpened(HubOpened, abstract=True):
        topic = topic_

    return RoutedHubOpened


class _StampingBus:
    """Notes when the relay hands each row to the bus; the relay uses nothing but publish()."""

    def __init__(self, bus: EventBus, tracker: Tracker) -> None:
        self.bus = bus
        self.tracker = tracker

    async def publish(self, messages: list[Message]) -> None:
        now = time.perf_counter()
        for message in messages:
            self.tracker.mark(message.key, "published", now)
        await self.bus.publish(messages)


class OutboxPath:
    """A producing service (hubs + outbox) and a consuming one (a hub directory + inbox), each
    with its own Database, joined by a bus, as two services of the distributed runtime are."""

    start_mark = "begin"
    stages = STAGES

    def __init__(self, tracker: Tracker, bus: EventBus, topic: str,
                 producer_url: str, consumer_url: str) -> None:
        self.tracker = tracker
        self.bus = bus
        self.topic = topic
        self.group = f"{topic}.group"
        self.event = routed(topic)
        producing, consuming = MetaData(), MetaData()
        self.hubs = Table("hubs", producing, Column("id", String(36), primary_key=True),
                          Column("name", String(200), nullable=False))
        self.directory = Table("hub_directory", consuming,
                               Column("id", String(36), primary_key=True),
                               Column("name", String(200), nullable=False))
        self.outbox = Outbox(outbox_table(producing))
        self.inbox = Inbox(inbox_table(consuming))
        self.source = Database(producer_url, producing)
        self.sink = Database(consumer_url, consuming)

    async def start(self) -> None:
        await self.source.start()
        await self.sink.start()
        await self.bus.start()
        await self.bus.ensure_topics([TopicSpec(self.topic, PARTITIONS)])
        self.relay = OutboxRelay(self.outbox, self.source.sessions,
                                 _StampingBus(self.bus, self.tracker), service="bench")
        self.consumer = self.bus.consumer(self.group, [self.topic], self._handle)
        await self.consumer.start()
        await self.relay.start()

    async def write(self, key: str) -> None:
        self.tracker.begin(key)
        async with self.source.sessions() as session, session.begin():
            await session.execute(self.hubs.insert().values(id=key, name=HUB["name"]))
            await self.outbox.add(session, self.event(hub_id=key, **HUB))
        self.tracker.mark(key, "written")

    async def _handle(self, record: Record) -> None:
        envelope, event = registry.decode_bytes(record.value)
        key = str(event.hub_id)
        self.tracker.mark(key, "handling")
        async with self.sink.sessions() as session, session.begin():
            if await self.inbox.claim(session, consumer=self.group, event_id=str(envelope.event_id)):
                await session.execute(self.directory.insert().values(id=key, name=event.name))
        self.tracker.finish(key)

    async def stop(self) -> None:
        await self.relay.stop()
        await self.consumer.stop()
        await self.bus.stop()
        await self.sink.stop()
        await self.source.stop()

    def topics(self) -> list[str]:
        return [self.topic, dead_letter_topic(self.topic)]


# --- phases ----------------------------------------------------------------------------------


async def throughput(path: RawKafka | OutboxPath, tracker: Tracker, events: int, writers: int) -> dict:
    tracker.expect(events)
    todo = iter(range(events))

    async def writer() -> None:
        for _ in todo:
            await path.write(new_key())

    cpu, began = time.process_time(), time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    written = time.perf_counter()
    await tracker.drained()
    seconds = tracker.last_done() - began
    return {
        "events": events,
        "writers": writers,
        "seconds": round(seconds, 3),
        "written_per_s": round(events / (written - began)),
        "events_per_s": round(events / seconds),
        "cpu_ms_per_event": round((time.process_time() - cpu) * 1000 / events, 3),
    }


async def latency(path: RawKafka | OutboxPath, tracker: Tracker, rate: float, seconds: float) -> dict:
    count = round(rate * seconds)
    tracker.expect(count)
    began = time.perf_counter()
    writes = []
    for i in range(count):
        await asyncio.sleep(began + i / rate - time.perf_counter())
        writes.append(asyncio.create_task(path.write(new_key())))
    await asyncio.gather(*writes)
    await tracker.drained()
    return {
        "rate": rate,
        "events": count,
        **summary(tracker.spans_ms(path.start_mark, "done")),
        "stages": {name: summary(tracker.spans_ms(*span)) for name, span in path.stages.items()},
    }


def summary(values_ms: list[float]) -> dict:
    return {"p50_ms": round(percentile(values_ms, 0.50), 2),
            "p99_ms": round(percentile(values_ms, 0.99), 2),
            "max_ms": round(max(values_ms), 2)}


# --- environment -----------------------------------------------------------------------------


@contextlib.contextmanager
def kafka_broker(address: str | None) -> Iterator[str]:
    """--kafka, else KAFKA_BOOTSTRAP_SERVERS, else deploy/local/kafka.sh, stopped again only when
    this run started it."""
    address = address or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if address:
        yield address
        return
    subprocess.run(["bash", str(KAFKA_SCRIPT), "install"], check=True, stdin=subprocess.DEVNULL)
    started = subprocess.run(["bash", str(KAFKA_SCRIPT), "start"], text=True,
                             capture_output=True, stdin=subprocess.DEVNULL)
    sys.stderr.write(started.stderr)
    started.check_returncode()
    prefix = "KAFKA_BOOTSTRAP_SERVERS="
    address = [line for line in started.stdout.splitlines() if line.startswith(prefix)][-1]
    try:
        yield address.removeprefix(prefix)
    finally:
        if "already running" not in started.stderr:
            subprocess.run(["bash", str(KAFKA_SCRIPT), "stop"], stdin=subprocess.DEVNULL)


def kafka_version(address: str) -> str:
    """The version deploy/local/kafka.sh runs, when the broker is that one; Kafka's protocol
    does not tell."""
    status = subprocess.run(["bash", str(KAFKA_SCRIPT), "status"], text=True,
                            capture_output=True, stdin=subprocess.DEVNULL)
    if status.returncode == 0 and f"KAFKA_BOOTSTRAP_SERVERS={address}" in status.stdout:
        return re.search(r"^KAFKA_VERSION=(\S+)", KAFKA_SCRIPT.read_text(), re.M).group(1)
    return "unknown (external broker)"


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def throwaway_postgres(server_url: str) -> AsyncIterator[str]:
    """A database of its own on the server of ``server_url``, dropped afterwards: the bench
    never touches the tables of a database it was pointed at."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await admin.execute(f'create database "{name}"')
        yield (make_url(server_url).set(drivername="postgresql+asyncpg", database=name)
               .render_as_string(hide_password=False))
    finally:
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()


async def postgres_version(server_url: str) -> str:
    connection = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        return await connection.fetchval("show server_version")
    finally:
        await connection.close()


def machine() -> dict:
    cpu = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    ram = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    return {
        "cpu": cpu.group(1).strip() if cpu else platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "ram_gib": round(int(ram.group(1)) / 2**20, 1) if ram else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "aiokafka": aiokafka.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
    }


# --- the run ---------------------------------------------------------------------------------


class Bench:
    def __init__(self, options: argparse.Namespace, bootstrap: str, workdir: Path) -> None:
        self.options = options
        self.bootstrap = bootstrap
        self.workdir = workdir
        self.run_id = uuid.uuid4().hex[:8]
        self.tracker = Tracker()
        self.topics: list[str] = []
        self.postgres = options.database != "sqlite"

    def _name(self, path: str, phase: str) -> str:
        return f"bench.{self.run_id}.{path}.{phase}"

    def _sqlite(self, name: str, service: str) -> str:
        return f"sqlite+aiosqlite:///{self.workdir / name / service}.sqlite3"

    @contextlib.asynccontextmanager
    async def _path(self, path: str, phase: str) -> AsyncIterator[RawKafka | OutboxPath]:
        name = self._name(path, phase)
        async with contextlib.AsyncExitStack() as stack:
            if path == "raw":
                built = RawKafka(self.tracker, self.bootstrap, name)
            else:
                if path == "embedded":
                    bus = EmbeddedBus(self.workdir / name / "bus.sqlite3", default_partitions=PARTITIONS)
                else:
                    bus = KafkaBus(self.bootstrap, client_id="bench")
                if path == "kafka" and self.postgres:
                    url = await stack.enter_async_context(throwaway_postgres(self.options.database))
                    urls = (url, url)
                else:
                    urls = (self._sqlite(name, "producer"), self._sqlite(name, "consumer"))
                built = OutboxPath(self.tracker, bus, name, *urls)
            if path != "embedded":
                self.topics += built.topics()
            await built.start()
            stack.push_async_callback(built.stop)
            # Joins the consumer group, opens connections, fills caches: not part of the figures.
            await throughput(built, self.tracker, WARMUP_EVENTS, self.options.writers)
            yield built

    async def run(self) -> list[dict]:
        options = self.options
        database = "PostgreSQL" if self.postgres else "SQLite"
        paths = [("raw", "raw aiokafka"),
                 ("kafka", f"KafkaBus + outbox/inbox ({database})"),
                 ("embedded", "EmbeddedBus + outbox/inbox (SQLite)")]
        results = []
        try:
            for path, label in paths:
                progress.log(f"{label}: throughput, {options.events} events")
                async with self._path(path, "throughput") as built:
                    fast = await throughput(built, self.tracker, options.events, options.writers)
                progress.log(f"{label}: latency, {options.rate:g} events/s for {options.seconds:g}s")
                async with self._path(path, "latency") as built:
                    paced = await latency(built, self.tracker, options.rate, options.seconds)
                results.append({"path": path, "label": label, "throughput": fast, "latency": paced})
        finally:
            if self.topics:
                with contextlib.suppress(Exception):
                    await kafka_admin(self.bootstrap, delete=self.topics)
        return results


def report(console: Console, env: dict, settings: dict, results: list[dict]) -> None:
    info = RichTable(title="Machine", show_header=False)
    for key, value in env.items():
        info.add_row(key, str(value))
    console.print(info)

    main = RichTable(title=f"One event hop, same broker, one run ({env['date']})")
    for column in ("path", "events/s", "written/s", "CPU ms/event",
                   "latency p50 ms", "p99 ms", "max ms"):
        main.add_column(column, justify="left" if column == "path" else "right")
    for r in results:
        t, lat = r["throughput"], r["latency"]
        main.add_row(r["label"], f"{t['events_per_s']:,}", f"{t['written_per_s']:,}",
                     f"{t['cpu_ms_per_event']:.2f}", f"{lat['p50_ms']:.1f}",
                     f"{lat['p99_ms']:.1f}", f"{lat['max_ms']:.1f}")
    console.print(main)

    stages = RichTable(title="Where the latency goes (latency phase, p50 / p99 ms)")
    stages.add_column("path")
    for name in STAGES:
        stages.add_column(name, justify="right")
    for r in results:
        if r["latency"]["stages"]:
            s = r["latency"]["stages"]
            stages.add_row(r["label"], *(f"{s[n]['p50_ms']:.1f} / {s[n]['p99_ms']:.1f}"
                                          for n in STAGES))
    console.print(stages)

    console.print(
        f"throughput: {settings['events']} events by {settings['writers']} concurrent writers, "
        "one event per transaction (raw: per send_and_wait); events/s from the first write to "
        "the last handler done; written/s is the producing side alone; CPU is this process's "
        "(producer, relay, consumer), not the broker's.\n"
        f"latency: {settings['rate']:g} events/s on an open-loop schedule for "
        f"{settings['seconds']:g}s; from before the send / the transaction began to after the "
        "handler finished / its transaction committed.\n"
        f"each phase: fresh topic ({PARTITIONS} partitions), group and databases, after "
        f"{WARMUP_EVENTS} warm-up events; everything in one process and event loop."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bus", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, help="events in the throughput phase (5000; quick 500)")
    parser.add_argument("--writers", type=int, default=8, help="concurrent writers (8)")
    parser.add_argument("--rate", type=float, default=100.0, help="events/s in the latency phase (100)")
    parser.add_argument("--seconds", type=float, help="length of the latency phase (15; quick 3)")
    parser.add_argument("--kafka", help="HOST:PORT (default: KAFKA_BOOTSTRAP_SERVERS, "
                                        "else deploy/local/kafka.sh)")
    parser.add_argument("--database", default="sqlite",
                        help="'sqlite' or a PostgreSQL server URL, for the KafkaBus path (sqlite)")
    parser.add_argument("--quick", action="store_true", help="a ~20 s smoke run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    options = parser.parse_args(argv)
    options.events = options.events or (500 if options.quick else 5000)
    options.seconds = options.seconds or (3.0 if options.quick else 15.0)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    # As in the tests: Core statements go through AsyncSession.execute on purpose.
    warnings.filterwarnings("ignore", r"(?s).*session\.exec", DeprecationWarning)

    with kafka_broker(options.kafka) as bootstrap, \
            tempfile.TemporaryDirectory(prefix="bench-bus-") as workdir:
        env = {"date": datetime.now(UTC).date().isoformat(), **machine(),
               "kafka": f"{kafka_version(bootstrap)} at {bootstrap}"}
        if options.database != "sqlite":
            env["postgresql"] = asyncio.run(postgres_version(options.database))
        results = asyncio.run(Bench(options, bootstrap, Path(workdir)).run())

    settings = {k: getattr(options, k) for k in ("events", "writers", "rate", "seconds", "database")}
    if options.database != "sqlite":
        settings["database"] = make_url(options.database).render_as_string(hide_password=True)
    console = Console()
    console.width = max(console.width, 120)  # rich assumes 80 columns when piped
    report(console, env, settings, results)
    if options.json:
        options.json.write_text(json.dumps(
            {"machine": env, "settings": settings, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
