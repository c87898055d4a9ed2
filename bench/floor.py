"""The checkout's floor: what the saga costs when the services do nothing but the messaging the
design mandates (bench/floor_skeleton.py), on the embedded or the distributed runtime.

Five skeleton services (catalog, order, payment, pickup, notification) on the real ServiceRuntime,
outbox, relay, inbox and bus adapters, subscribed to exactly the event types of the real ones,
pass the checkout's 11 events along (OrderPlaced ... PickupScheduled) with real contracts and
payloads and no business rows. Orders are placed as the order service's POST would place them, in
a unit of work of the order runtime emitting OrderPlaced, with no HTTP.

Two regimes: under load (orders in waves, two waves in flight at most, or --rate orders/s on an
open-loop schedule), where consumers take batches; and one order at a time (each placed once
every handler of the previous one has run), the unbatched cost. The figure that matters is CPU
time of the Python processes per checkout; the implied ceiling is 1000 ms / that, per core.

    uv run python -m bench.floor [--orders N] [--rate R] [--quick] [--json PATH]
    uv run python -m bench.floor --runtime distributed --kafka HOST:PORT --postgres URL

Distributed: one process per service (``--serve <service>``, driven over its stdin/stdout),
KafkaBus on topics and groups with a prefix of the run's, a fresh PostgreSQL database each; the
order process is the injector. Kafka's and PostgreSQL's CPU is read from /proc when they run here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table as RichTable
from sqlalchemy.engine import make_url

from bench.bus import kafka_admin, machine, percentile
from bench.floor_skeleton import (
    CHAIN,
    SERVICES,
    STATEMENT_KINDS,
    Node,
    PrefixedBus,
    expected_claims,
    expected_reads,
)
from bench.processes import cpu_seconds
from libs.kit.settings import ServiceSettings
from libs.messaging.embedded import EmbeddedBus
from libs.messaging.port import dead_letter_topic

PARTITIONS = 3
WARMUP_ORDERS = 20
WAVE = 100
REPO_ROOT = Path(__file__).resolve().parents[1]

progress = Console(stderr=True)


# --- CPU from /proc ------------------------------------------------------------------------


def cpu_s(pid: int) -> float | None:
    """The process's CPU seconds so far, or None when it is gone."""
    try:
        return cpu_seconds(pid)
    except (FileNotFoundError, ProcessLookupError):
        return None


def listening_pid(port: int) -> int | None:
    try:
        listed = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True,
                                text=True, check=False).stdout
    except FileNotFoundError:
        return None
    found = re.search(r"pid=(\d+)", listed)
    return int(found.group(1)) if found else None


def postgres_processes(postmaster: int, databases: Sequence[str]) -> dict[str, dict[int, float]]:
    """CPU seconds of the server's processes: the backends of our databases, and the rest (the
    postmaster, its background writers and other clients' backends, shared with other work)."""
    ours: dict[int, float] = {}
    rest: dict[int, float] = {postmaster: cpu_s(postmaster) or 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) != postmaster:
                continue
            title = (entry / "cmdline").read_bytes().decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        seconds = cpu_s(int(entry.name))
        if seconds is None:
            continue
        (ours if any(f" {d} " in title for d in databases) else rest)[int(entry.name)] = seconds
    return {"ours": ours, "rest": rest}


def delta(before: dict[int, float], after: dict[int, float]) -> float:
    # A backend that appeared during the phase counts from zero; one that left is lost.
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


# --- one process's nodes, seen by the driver ---------------------------------------------


class LocalHandle:
    """The node in this process."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.services = list(node.runtimes)
        self.pid = os.getpid()

    async def stats(self) -> dict:
        return self.node.stats()

    async def reach(self, kind: str, target: int) -> None:
        await self.node.tally.reach(kind, target)

    async def place(self, count: int) -> None:
        await self.node.place(count)

    async def take_latencies(self) -> list[float]:
        taken, self.node.tally.latencies_ms = self.node.tally.latencies_ms, []
        return taken

    async def rows(self) -> dict:
        return await self.node.rows()

    def cpu_s(self) -> float:
        return time.process_time()


class RemoteHandle:
    """A node in a process of its own (``--serve``), driven by JSON lines on its stdin/stdout."""

    def __init__(self, service: str, args: list[str], env: dict[str, str]) -> None:
        self.services = [service]
        self.args = args
        self.env = env
        self._replies: dict[int, asyncio.Future] = {}
        self._next = 0

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.floor", *self.args, cwd=REPO_ROOT, env=self.env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, limit=2**24)
        self.pid = self.process.pid
        self._reading = asyncio.create_task(self._read())
        await self.call("ready")

    async def _read(self) -> None:
        async for line in self.process.stdout:
            reply = json.loads(line)
            future = self._replies.pop(reply["id"], None)
            if future is not None and not future.done():
                if "error" in reply:
                    future.set_exception(RuntimeError(f"{self.services[0]}: {reply['error']}"))
                else:
                    future.set_result(reply.get("result"))
        for future in self._replies.values():
            if not future.done():
                future.set_exception(RuntimeError(f"{self.services[0]} process exited"))

    async def call(self, command: str, **arguments):
        self._next += 1
        future = asyncio.get_running_loop().create_future()
        self._replies[self._next] = future
        self.process.stdin.write(json.dumps({"id": self._next, "cmd": command, **arguments})
                                 .encode() + b"\n")
        await self.process.stdin.drain()
        return await future

    async def stats(self) -> dict:
        return await self.call("stats")

    async def reach(self, kind: str, target: int) -> None:
        await self.call("reach", kind=kind, target=target)

    async def place(self, count: int) -> None:
        await self.call("place", count=count)

    async def take_latencies(self) -> list[float]:
        return await self.call("latencies")

    async def rows(self) -> dict:
        return await self.call("rows")

    def cpu_s(self) -> float:
        return cpu_s(self.pid) or 0.0

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(RuntimeError, ConnectionError):
                await asyncio.wait_for(self.call("stop"), 60)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), 30)
            if self.process.returncode is None:
                self.process.kill()
                await self.process.wait()
        self._reading.cancel()


async def serve(options: argparse.Namespace) -> None:
    """The child side of RemoteHandle: one skeleton service, on Kafka and PostgreSQL."""
    settings = ServiceSettings(data_dir=Path(options.data_dir), bus="kafka",
                               kafka_bootstrap_servers=options.kafka,
                               database_url=options.database_url, topic_partitions=PARTITIONS,
                               outbox_relay=True, migrate_on_start=True)
    from libs.messaging.kafka import KafkaBus

    node = Node([options.serve], lambda _: settings,
                bus_for=lambda name: PrefixedBus(KafkaBus(options.kafka, client_id=name),
                                                 options.prefix))
    local = LocalHandle(node)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks: set[asyncio.Task] = set()

    def answer(request: dict, **reply) -> None:
        sys.stdout.write(json.dumps({"id": request["id"], **reply}) + "\n")
        sys.stdout.flush()

    async def run(request: dict) -> None:
        try:
            command = request["cmd"]
            if command == "ready":
                result = None
            elif command == "stats":
                result = await local.stats()
            elif command == "reach":
                result = await local.reach(request["kind"], request["target"])
            elif command == "place":
                result = await local.place(request["count"])
            elif command == "latencies":
                result = await local.take_latencies()
            elif command == "rows":
                result = await local.rows()
            else:
                raise ValueError(f"unknown command {command!r}")
            answer(request, result=result)
        except Exception as exc:  # noqa: BLE001 (the driver shows it and stops the run)
            answer(request, error=repr(exc))

    stop = None
    await node.start()
    try:
        while line := await reader.readline():
            request = json.loads(line)
            if request["cmd"] == "stop":
                stop = request
                break
            task = asyncio.create_task(run(request))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    finally:
        for task in tasks:
            task.cancel()
        await node.stop()
    if stop is not None:
        answer(stop, result=None)


# --- the phases ---------------------------------------------------------------------------


class Outside:
    """Kafka's and PostgreSQL's CPU, when they are processes of this machine."""

    def __init__(self, kafka_port: int | None, postgres_port: int | None,
                 databases: Sequence[str]) -> None:
        self.kafka = listening_pid(kafka_port) if kafka_port else None
        self.postmaster = listening_pid(postgres_port) if postgres_port else None
        self.databases = list(databases)

    def read(self) -> dict:
        read = {}
        if self.kafka:
            read["kafka"] = {self.kafka: cpu_s(self.kafka) or 0.0}
        if self.postmaster:
            server = postgres_processes(self.postmaster, self.databases)
            read["postgres (our backends)"] = server["ours"]
            read["postgres (rest, shared)"] = server["rest"]
        return read


async def drive(handles: list, order, mode: str, orders: int, *, rate: float | None,
                wave: int, timeout_s: float, outside: Outside | None = None,
                measure: bool = True) -> dict:
    """Place ``orders`` and wait for every handler of each to have run; the figures of it."""
    claims = {id(h): sum(expected_claims(h.services).values()) for h in handles}
    reads = {id(h): sum(expected_reads(h.services).values()) for h in handles}
    before = {id(h): await h.stats() for h in handles}
    base = {id(h): before[id(h)]["counts"].get("claimed", 0) for h in handles}
    base_read = {id(h): before[id(h)]["counts"].get("read", 0) for h in handles}
    base_done = before[id(order)]["counts"].get("done", 0)
    cpu_before = {id(h): h.cpu_s() for h in handles}
    outside_before = outside.read() if outside else {}

    async def all_handled(placed: int) -> None:
        # Records no handler wants are read too, and may come after the last claim.
        await asyncio.gather(*(h.reach("claimed", base[id(h)] + placed * claims[id(h)])
                               for h in handles),
                             *(h.reach("read", base_read[id(h)] + placed * reads[id(h)])
                               for h in handles))

    async def run() -> None:
        if mode == "serial":
            for i in range(orders):
                await order.place(1)
                await all_handled(i + 1)
            return
        if rate:
            began, placed = time.perf_counter(), 0
            while placed < orders:
                due = min(orders, int((time.perf_counter() - began) * rate) + 1)
                if due > placed:
                    await order.place(due - placed)
                    placed = due
                await asyncio.sleep(max(0.0, began + placed / rate - time.perf_counter()))
        else:
            placed = 0
            while placed < orders:
                if placed >= 2 * wave:
                    await order.reach("done", base_done + placed - wave)
                count = min(wave, orders - placed)
                await order.place(count)
                placed += count
        await all_handled(orders)

    began = time.perf_counter()
    try:
        await asyncio.wait_for(run(), timeout_s)
    except TimeoutError:
        counts = [(h.services, (await h.stats())["counts"]) for h in handles]
        raise RuntimeError(f"{mode}: not every handler ran within {timeout_s:.0f}s: {counts}"
                           ) from None
    seconds = time.perf_counter() - began
    after = {id(h): await h.stats() for h in handles}
    cpu_after = {id(h): h.cpu_s() for h in handles}
    outside_after = outside.read() if outside else {}
    latencies = await order.take_latencies()
    if not measure:
        return {}
    return figures(handles, mode, orders, rate, wave, seconds, latencies, before, after,
                   cpu_before, cpu_after, outside_before, outside_after)


def figures(handles, mode, orders, rate, wave, seconds, latencies, before, after, cpu_before,
            cpu_after, outside_before, outside_after) -> dict:
    def per_order(value: float) -> float:
        return round(value / orders, 3)

    def counted(kind: str) -> float:
        return sum(after[id(h)]["counts"].get(kind, 0) - before[id(h)]["counts"].get(kind, 0)
                   for h in handles)

    cpu = {_process_name(h): (cpu_after[id(h)] - cpu_before[id(h)]) * 1000 / orders for h in handles}
    python_ms = sum(cpu.values())
    outside_ms = {name: delta(outside_before[name], outside_after[name]) * 1000 / orders
                  for name in outside_after}
    sql = {s: per_order(sum(after[id(h)]["sql"].get(s, 0) - before[id(h)]["sql"].get(s, 0)
                            for h in handles)) for h in handles for s in h.services}
    kinds: dict[str, float] = {}
    for h in handles:
        for kind, value in after[id(h)]["statements"].items():
            kinds[kind] = kinds.get(kind, 0) + value - before[id(h)]["statements"].get(kind, 0)
    return {
        "regime": mode, "orders": orders, "rate": rate, "wave": wave if mode == "load" else None,
        "seconds": round(seconds, 3),
        "orders_per_s": round(orders / seconds, 1),
        "latency_ms": {"p50": round(percentile(latencies, 0.5), 1),
                       "p99": round(percentile(latencies, 0.99), 1),
                       "max": round(max(latencies), 1), "count": len(latencies)},
        "cpu_ms_per_checkout": {"python": round(python_ms, 3),
                                **{k: round(v, 3) for k, v in cpu.items()},
                                **{k: round(v, 3) for k, v in outside_ms.items()}},
        "sql_statements_per_checkout": round(sum(sql.values()), 3),
        "sql_statements_per_service": sql,
        "statements_by_kind_per_checkout": {k: per_order(kinds.get(k, 0))
                                            for k in (*STATEMENT_KINDS, "bus") if k in kinds},
        "events_written_per_checkout": per_order(counted("emitted")),
        "records_read_per_checkout": per_order(counted("read")),
        "inbox_claims_per_checkout": per_order(counted("claimed")),
        "pickups_scheduled": int(counted("done")),
    }


def ceilings(result: dict, cores: int, shared: Sequence[str]) -> dict:
    """Orders/s the CPU per checkout allows on ``cores``, for the Python processes alone and
    with what the bus and database processes took as well."""
    cpu = result["cpu_ms_per_checkout"]
    alone = cores * 1000 / cpu["python"]
    with_servers = cpu["python"] + sum(cpu.get(name, 0.0) for name in shared)
    return {"cores": cores, "python_alone": round(alone, 1),
            "with_bus_and_database": round(cores * 1000 / with_servers, 1)
            if with_servers > cpu["python"] else None}


# --- the runtimes -------------------------------------------------------------------------


async def run_embedded(options: argparse.Namespace, workdir: Path) -> dict:
    bus = EmbeddedBus(workdir / "bus.sqlite3", default_partitions=PARTITIONS)

    def settings(name: str) -> ServiceSettings:
        # As the embedded host configures each service: a SQLite file under one data dir.
        return ServiceSettings(data_dir=workdir, bus="embedded",
                               database_url=f"sqlite+aiosqlite:///{workdir / name}.sqlite3",
                               topic_partitions=PARTITIONS, outbox_relay=True)

    node = Node(SERVICES, settings, bus=bus)
    await node.start()
    try:
        handle = LocalHandle(node)
        return await phases(options, [handle], handle, outside=None)
    finally:
        await node.stop()


async def run_distributed(options: argparse.Namespace, workdir: Path) -> dict:
    from bench.run import postgres_databases
    from libs.auth.tokens import ensure_keypair

    ensure_keypair(workdir / "keys")  # made once here, not raced by five processes
    prefix = f"floor.{uuid.uuid4().hex[:8]}."
    topics = sorted({e.topic for e in CHAIN}
                    | {t for s in SERVICES for t in _service_topics(s)})
    env = {**os.environ, "ADOPTE_COUNT_SQL": "1", "PYTHONUNBUFFERED": "1"}
    handles: list[RemoteHandle] = []
    async with postgres_databases(options.postgres, list(SERVICES)) as urls:
        try:
            for service in SERVICES:
                handles.append(RemoteHandle(service, [
                    "--serve", service, "--kafka", options.kafka, "--database-url", urls[service],
                    "--prefix", prefix, "--data-dir", str(workdir)], env))
            progress.log(f"distributed: starting {len(handles)} processes (prefix {prefix})")
            await asyncio.gather(*(h.start() for h in handles))
            order = next(h for h in handles if h.services == ["order"])
            kafka_port = int(options.kafka.rsplit(":", 1)[1])
            outside = Outside(kafka_port, make_url(options.postgres).port or 5432,
                              [make_url(u).database for u in urls.values()])
            if not outside.kafka or not outside.postmaster:
                progress.log("distributed: Kafka or PostgreSQL is not a process of this machine;"
                             " their CPU is left out")
            return await phases(options, handles, order, outside=outside)
        finally:
            await asyncio.gather(*(h.stop() for h in handles), return_exceptions=True)
            with contextlib.suppress(Exception):
                await kafka_admin(options.kafka, delete=[
                    prefix + t for topic in topics for t in (topic, dead_letter_topic(topic))])


def _service_topics(service: str) -> set[str]:
    from importlib import import_module

    real = import_module(f"services.{service}.bootstrap").SERVICE
    return {*real.published_topics(), *real.subscribed_topics()}


async def phases(options: argparse.Namespace, handles: list, order, outside) -> dict:
    timeout_s = 120.0 + options.orders * (0.5 if options.runtime == "distributed" else 0.1)
    progress.log(f"{options.runtime}: warm-up, {WARMUP_ORDERS} orders")
    await drive(handles, order, "load", WARMUP_ORDERS, rate=None, wave=WARMUP_ORDERS // 2,
                timeout_s=timeout_s, measure=False)
    idle = await idle_cpu(handles, outside, options.idle)
    results = []
    load_label = f"at {options.rate:g} orders/s" if options.rate else f"in waves of {options.wave}"
    progress.log(f"{options.runtime}: under load, {options.orders} orders {load_label}")
    results.append(await drive(handles, order, "load", options.orders, rate=options.rate,
                               wave=options.wave, timeout_s=timeout_s, outside=outside))
    progress.log(f"{options.runtime}: one at a time, {options.serial} orders")
    results.append(await drive(handles, order, "serial", options.serial, rate=None,
                               wave=1, timeout_s=timeout_s * 4, outside=outside))
    rows: dict = {}
    for h in handles:
        rows.update(await h.rows())
    shared = ("kafka", "postgres (our backends)") if options.runtime == "distributed" else ()
    cores = 1 if options.runtime == "embedded" else 2
    for result in results:
        result["ceiling_orders_per_s"] = ceilings(result, cores, shared)
    return {"results": results, "idle_cpu_ms_per_s": idle, "rows": rows}


async def idle_cpu(handles: list, outside: Outside | None, seconds: float) -> dict[str, float]:
    """CPU each process spends per second with no order in flight (relay and consumer polls):
    a cost per second, not per checkout, which one order at a time pays in full."""
    progress.log(f"idle for {seconds:g}s")
    cpu_before = {id(h): h.cpu_s() for h in handles}
    outside_before = outside.read() if outside else {}
    began = time.perf_counter()
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - began
    idle = {_process_name(h): (h.cpu_s() - cpu_before[id(h)]) * 1000 / elapsed for h in handles}
    idle["python"] = sum(idle.values())
    if outside:
        for name, after in outside.read().items():
            idle[name] = delta(outside_before[name], after) * 1000 / elapsed
    return {name: round(value, 2) for name, value in idle.items()}


def _process_name(handle) -> str:
    return handle.services[0] if len(handle.services) == 1 else "all five services (one process)"


# --- report -------------------------------------------------------------------------------


GOALS = {"embedded": 200, "distributed": 300}


def report(console: Console, env: dict, run: dict) -> None:
    runtime = run["settings"]["runtime"]
    info = RichTable(title="Machine", show_header=False)
    for key, value in env.items():
        info.add_row(key, str(value))
    console.print(info)

    main = RichTable(title=f"The checkout's floor, {runtime} ({env['date']}): "
                           f"the mandated messaging, no business")
    columns = ("regime", "orders", "CPU ms/checkout", "ceiling orders/s", "goal", "wall orders/s",
               "p50 ms", "p99 ms", "SQL stmts", "events written", "records read", "inbox claims")
    for column in columns:
        main.add_column(column, justify="left" if column == "regime" else "right")
    for r in run["results"]:
        ceiling = r["ceiling_orders_per_s"]
        shown = ceiling["with_bus_and_database"] or ceiling["python_alone"]
        main.add_row(_regime(r), str(r["orders"]), f"{r['cpu_ms_per_checkout']['python']:.2f}",
                     f"{shown:,.0f}", str(GOALS[runtime]), f"{r['orders_per_s']:,.1f}",
                     f"{r['latency_ms']['p50']:.1f}", f"{r['latency_ms']['p99']:.1f}",
                     f"{r['sql_statements_per_checkout']:.2f}",
                     f"{r['events_written_per_checkout']:.2f}",
                     f"{r['records_read_per_checkout']:.2f}",
                     f"{r['inbox_claims_per_checkout']:.2f}")
    console.print(main)

    cpu = RichTable(title="CPU ms per checkout, by process")
    cpu.add_column("process")
    _regime_columns(cpu, run)
    cpu.add_column("idle, ms per second", justify="right")
    for name in run["results"][0]["cpu_ms_per_checkout"]:
        cpu.add_row(name, *(f"{r['cpu_ms_per_checkout'].get(name, 0):.2f}" for r in run["results"]),
                    f"{run['idle_cpu_ms_per_s'].get(name, 0):.2f}")
    console.print(cpu)

    kinds = RichTable(title="Statements per checkout, by kind (and per service)")
    kinds.add_column("statement")
    _regime_columns(kinds, run)
    names = dict.fromkeys(k for r in run["results"] for k in r["statements_by_kind_per_checkout"])
    for name in names:
        kinds.add_row(name, *(f"{r['statements_by_kind_per_checkout'].get(name, 0):.2f}"
                              for r in run["results"]))
    for service in SERVICES:
        kinds.add_row(f"service {service} (ADOPTE_COUNT_SQL)",
                      *(f"{r['sql_statements_per_service'].get(service, 0):.2f}"
                        for r in run["results"]))
    console.print(kinds)
    console.print(
        "CPU: this process (embedded) or each service process (/proc) from the first order "
        "placed to the last handler run, divided by orders; the ceiling is cores x 1000 / CPU ms "
        "(embedded: one core, the Python process; distributed: two cores, shared by the five "
        "processes, Kafka and our PostgreSQL backends). Latency: placed -> PickupScheduled "
        "handled by the order service. 'bus' statements are the embedded bus's own SQLite "
        "statements, not in the SQL count.")


def _regime(result: dict) -> str:
    return "under load" if result["regime"] == "load" else "one at a time"


def _regime_columns(table: RichTable, run: dict) -> None:
    for result in run["results"]:
        table.add_column(_regime(result), justify="right")


# --- entry point --------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.floor",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--runtime", choices=("embedded", "distributed"), default="embedded")
    parser.add_argument("--orders", type=int, help="orders under load (2000; quick 100)")
    parser.add_argument("--serial", type=int,
                        help="orders one at a time (orders / 10, at least 10)")
    parser.add_argument("--rate", type=float, help="orders/s, open loop (default: waves)")
    parser.add_argument("--wave", type=int, default=WAVE, help=f"orders per wave ({WAVE})")
    parser.add_argument("--kafka", help="HOST:PORT (distributed; default KAFKA_BOOTSTRAP_SERVERS)")
    parser.add_argument("--postgres", help="a PostgreSQL server URL (distributed; default "
                                           "ADOPTE_TEST_DATABASE_URL)")
    parser.add_argument("--idle", type=float, help="seconds of idle CPU measured (5; quick 2)")
    parser.add_argument("--quick", action="store_true", help="100 orders, for a test")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--serve", choices=SERVICES, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    options.orders = options.orders or (100 if options.quick else 2000)
    options.idle = options.idle or (2.0 if options.quick else 5.0)
    options.serial = options.serial or max(10, options.orders // 10)
    if options.runtime == "distributed" and not options.serve:
        options.kafka = options.kafka or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        options.postgres = options.postgres or os.environ.get("ADOPTE_TEST_DATABASE_URL")
        if not options.kafka or not options.postgres:
            parser.error("distributed needs --kafka and --postgres")
    return options


def main(argv: list[str] | None = None) -> dict | None:
    options = parse(argv)
    # The runtime's own statement counter (libs/kit/db.py), read before the databases start.
    os.environ["ADOPTE_COUNT_SQL"] = "1"
    # Below INFO: the runtime's "event handled" line per event is a cost of logging, not of the
    # mandated messaging.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s",
                        stream=sys.stderr)
    warnings.filterwarnings("ignore", r"(?s).*session\.exec", DeprecationWarning)
    if options.serve:
        asyncio.run(serve(options))
        return None
    env = {"date": datetime.now(UTC).isoformat(timespec="minutes"), **machine()}
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as workdir:
        runner = run_embedded if options.runtime == "embedded" else run_distributed
        run = asyncio.run(runner(options, Path(workdir)))
    env["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    settings = {"runtime": options.runtime, "orders": options.orders, "serial": options.serial,
                "rate": options.rate, "wave": options.wave, "warmup": WARMUP_ORDERS,
                "idle_s": options.idle,
                "partitions": PARTITIONS,
                "expected_per_checkout": {"events": len(CHAIN),
                                          "inbox_claims": expected_claims(),
                                          "records_read": expected_reads()}}
    if options.runtime == "distributed":
        settings["kafka"] = options.kafka
    run = {"machine": env, "settings": settings, **run}
    console = Console()
    console.width = max(console.width, 140)  # rich assumes 80 columns when piped
    report(console, env, run)
    if options.json:
        options.json.write_text(json.dumps(run, indent=2) + "\n")
    return run


if __name__ == "__main__":
    main()
