"""The whole benchmark of issue 8, section by section, on each runtime; figures into a report.

Sections: ``hub`` (hub page and search beside a bare endpoint), ``saga`` (checkout at fixed
rates), ``sql`` (statements per checkout, per service), ``memory`` (peak RSS per process),
``hop`` (one event hop against raw aiokafka: bench/bus.py). Runtimes: ``embedded`` (one
`adopte dev` process, SQLite, the embedded bus) and ``distributed`` (an `adopte serve` process
per service, Kafka, a PostgreSQL database per service).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import make_url

from bench import hub as hub_bench
from bench import processes, saga, seed
from bench.bus import Bench as HopBench
from bench.bus import kafka_version, machine, postgres_version

SECTIONS = ("hub", "saga", "sql", "memory", "hop")
RUNTIMES = ("embedded", "distributed")
FULL_RATES = [10.0, 20.0, 50.0, 100.0, 200.0, 300.0, 400.0, 500.0]
GOAL_RATE = 100.0  # issue 8: checkout → confirmed p99 < 250 ms at 100 orders/s
QUICK_RATES = [10.0]
LOCAL = Path(__file__).resolve().parents[1] / "deploy" / "local"
# A broker and a database server of the bench's own (when no --kafka, --postgres is given), so
# that no test suite's consumers join the services' groups, no other traffic counts in the lag,
# and no test run stops the server under the bench; started, then stopped, by the run.
PRIVATE_KAFKA = {"KAFKA_PORT": "29092", "KAFKA_CONTROLLER_PORT": "29093"}
PRIVATE_POSTGRES = {"PGPORT_LOCAL": "25432"}
PRIVATE_STATE = {"ADOPTE_LOCAL_DIR": str(LOCAL.parents[1] / "var" / "bench")}
BENCH_ENV = {"ADOPTE_COUNT_SQL": "1", "ADOPTE_PAYMENT_SIMULATED_PAYMENTS_SUCCEED_AT_ONCE": "true"}

console = Console(stderr=True)


@dataclass
class Options:
    quick: bool = False
    only: tuple[str, ...] = SECTIONS
    runtimes: tuple[str, ...] = RUNTIMES
    rates: list[float] | None = None
    duration: float | None = None
    out: Path | None = None
    kafka: str | None = None
    postgres: str | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rates = self.rates or (QUICK_RATES if self.quick else FULL_RATES)
        self.duration = self.duration or (4.0 if self.quick else 60.0)
        unknown = set(self.only) - set(SECTIONS) | set(self.runtimes) - set(RUNTIMES)
        if unknown:
            raise ValueError(f"unknown: {', '.join(sorted(unknown))}")

    @property
    def network(self) -> seed.Network:
        return seed.QUICK if self.quick else seed.FULL

    @property
    def ladder(self) -> hub_bench.Ladder:
        return hub_bench.QUICK if self.quick else hub_bench.FULL

    @property
    def drain_s(self) -> float:
        return 30.0 if self.quick else 60.0

    @property
    def sql_orders(self) -> int:
        return 6 if self.quick else 200

    @property
    def needs_deployment(self) -> bool:
        return bool({"hub", "saga", "sql", "memory"} & set(self.only))


# --- the infrastructure ---------------------------------------------------------------------


def _script(name: str, command: str, env: dict[str, str], *args: str
            ) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(LOCAL / name), command, *args], text=True,
                          capture_output=True, env={**os.environ, **env},
                          stdin=subprocess.DEVNULL)


@contextlib.contextmanager
def local_service(name: str, variable: str, env: dict[str, str]) -> Iterator[str]:
    """deploy/local/<name> started (installed first if need be) and its address; stopped and
    wiped again if this run started it."""
    _script(name, "install", env).check_returncode()
    started = _script(name, "start", env)
    if started.returncode != 0:
        raise RuntimeError(f"{name} start failed:\n{started.stderr[-2000:]}")
    address = [line for line in started.stdout.splitlines() if line.startswith(f"{variable}=")]
    try:
        yield address[-1].split("=", 1)[1]
    finally:
        if "already running" not in started.stderr:
            _script(name, "stop", env, "--wipe")


@contextlib.contextmanager
def infrastructure(options: Options) -> Iterator[tuple[str | None, str | None]]:
    """(Kafka bootstrap, PostgreSQL server URL), each only when a section needs it."""
    distributed = "distributed" in options.runtimes and options.needs_deployment
    with contextlib.ExitStack() as stack:
        kafka = postgres = None
        if distributed or "hop" in options.only:
            kafka = options.kafka or stack.enter_context(local_service(
                "kafka.sh", "KAFKA_BOOTSTRAP_SERVERS", {**PRIVATE_KAFKA, **PRIVATE_STATE}))
        if distributed:
            postgres = options.postgres or stack.enter_context(local_service(
                "postgres.sh", "ADOPTE_TEST_DATABASE_URL", {**PRIVATE_POSTGRES, **PRIVATE_STATE}))
        yield kafka, postgres


def _script_version(name: str, variable: str) -> str:
    found = re.search(rf"^{variable}=(\S+)", (LOCAL / name).read_text(), re.M)
    return found.group(1) if found else "unknown"


@contextlib.asynccontextmanager
async def postgres_databases(server_url: str, services: list[str]) -> AsyncIterator[dict[str, str]]:
    """A fresh database per service on the server, dropped afterwards."""
    run = uuid.uuid4().hex[:8]
    names = {service: f"bench_{run}_{service}" for service in services}
    dsn = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        await _each(dsn, [f'create database "{name}"' for name in names.values()])
        yield {service: make_url(server_url).set(drivername="postgresql+asyncpg", database=name)
               .render_as_string(hide_password=False) for service, name in names.items()}
    finally:
        # A connection of its own: the server may have been restarted meanwhile.
        await _each(dsn, [f'drop database if exists "{name}" with (force)'
                          for name in names.values()])


async def _each(dsn: str, statements: list[str]) -> None:
    admin = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await admin.execute(statement)
    finally:
        await admin.close()


# --- one runtime ----------------------------------------------------------------------------


class Run:
    def __init__(self, options: Options, workdir: Path, progress: Progress,
                 kafka: str | None, postgres: str | None) -> None:
        self.options = options
        self.workdir = workdir
        self.progress = progress
        self.kafka = kafka
        self.postgres = postgres

    def log(self, message: str) -> None:
        self.progress.console.log(message)

    @contextlib.asynccontextmanager
    async def deployment(self, runtime: str) -> AsyncIterator[tuple[processes.Deployment, str]]:
        """The runtime's processes, their catalog seeded first; and the catalog's database URL."""
        folder = self.workdir / runtime
        data_dir = folder / "data"
        async with contextlib.AsyncExitStack() as stack:
            if runtime == "embedded":
                env = {"ADOPTE_DATA_DIR": str(data_dir), **BENCH_ENV}
                catalog_url = f"sqlite+aiosqlite:///{data_dir / 'catalog.sqlite3'}"
                deployment = processes.Deployment(runtime, {"embedded": processes.adopte(
                    "embedded", ["dev", "--no-demo", "--data-dir", str(data_dir)], env=env,
                    log_dir=folder / "logs")}, env)
            else:
                urls = await stack.enter_async_context(
                    postgres_databases(self.postgres, processes.SERVICES))
                env = {"ADOPTE_BUS": "kafka", "ADOPTE_KAFKA_BOOTSTRAP_SERVERS": self.kafka,
                       "ADOPTE_DATA_DIR": str(data_dir), **BENCH_ENV,
                       **{f"ADOPTE_{s.upper()}_DATABASE_URL": url for s, url in urls.items()}}
                catalog_url = urls["catalog"]
                deployment = processes.Deployment(runtime, {
                    s: processes.adopte(s, ["serve", s], env=env, log_dir=folder / "logs")
                    for s in processes.SERVICES}, env)
            self.seeded = None
            if "hub" in self.options.only:
                self.seeded = await self.seed(runtime, catalog_url)
            self.log(f"{runtime}: starting {len(deployment.processes)} process(es)")
            await asyncio.to_thread(deployment.start)
            stack.callback(deployment.stop)
            yield deployment, catalog_url

    async def seed(self, runtime: str, url: str) -> seed.SeededNetwork:
        network = self.options.network
        task = self.progress.add_task(f"{runtime}: seeding {network.products:,} products",
                                      total=network.products)
        seeded = await seed.seed_network(
            url, network, lambda products: self.progress.advance(task, products))
        self.log(f"{runtime}: seeded {seeded.hubs} hubs, {seeded.shops:,} shops, "
                 f"{seeded.products:,} products in {seeded.seconds:.1f}s")
        # What the bench holds once it has seeded is moved out of the collector's reach: a full
        # collection of that heap paused the load generator 100 ms or more, counted as latency.
        gc.collect()
        gc.freeze()
        return seeded

    async def runtime(self, runtime: str) -> dict:
        figures: dict = {}
        async with self.deployment(runtime) as (deployment, _):
            if self.seeded is not None:
                figures["seed"] = self.seeded.figures()
            if "hub" in self.options.only:
                figures["hub"] = await self.hub(runtime, deployment)
            if {"saga", "sql"} & set(self.options.only):
                figures.update(await self.checkout(runtime, deployment))
            if "memory" in self.options.only:
                figures["memory"] = {
                    name: {"peak_mib": round(m["VmHWM"] / 1024, 1),
                           "rss_mib": round(m["VmRSS"] / 1024, 1)}
                    for name, process in deployment.processes.items()
                    if (m := process.memory_kib())}
        return figures

    async def hub(self, runtime: str, deployment: processes.Deployment) -> dict:
        logs = self.workdir / runtime / "logs"
        bare, stack = processes.bare(logs).start(), processes.bare(logs, stack=True).start()
        try:
            await asyncio.to_thread(bare.wait_ready)
            await asyncio.to_thread(stack.wait_ready)
            results = {}
            for name, (base, paths) in hub_bench.targets(
                    deployment.base_url("/catalog/"), bare.url, stack.url,
                    str(self.seeded.main_hub_id)).items():
                task = self.progress.add_task(f"{runtime}: {name}",
                                              total=self.options.ladder.max_steps)

                def step(rate: float, task=task, name=name) -> None:
                    self.progress.update(task, description=f"{runtime}: {name} at {rate:g}/s")
                    self.progress.advance(task)

                results[name] = await hub_bench.climb(base, paths, self.options.ladder, step)
                self.progress.update(task, completed=self.options.ladder.max_steps)
                self.log(f"{runtime}: {name}: sustained {results[name]['sustained_rate']:g} req/s")
        finally:
            bare.stop()
            stack.stop()
        bare_rate = results[hub_bench.BARE]["sustained_rate"]
        for name in (hub_bench.STACK, "hub page", "hub page, search"):
            results[name]["share_of_bare"] = (round(results[name]["sustained_rate"] / bare_rate, 3)
                                              if bare_rate else None)
        return results

    async def checkout(self, runtime: str, deployment: processes.Deployment) -> dict:
        options = self.options
        api = saga.Api(deployment)
        seen = saga.Seen()
        planned = (sum(int(rate * options.duration) for rate in options.rates)
                   + options.sql_orders + options.sql_orders // 10)
        try:
            self.log(f"{runtime}: opening the town of the checkout (hub, slots, shops, residents)")
            town = await saga.open_town(api, orders=planned + 10,
                                        residents=2 if options.quick else 10,
                                        shops=2 if options.quick else 4)
            watcher = (saga.EmbeddedWatcher(Path(deployment.env["ADOPTE_DATA_DIR"]) /
                                            "bus.sqlite3", seen)
                       if runtime == "embedded" else saga.KafkaWatcher(self.kafka, seen))
            await watcher.start()
            try:
                checkout = saga.Checkout(api, town, seen)
                figures: dict = {"town": {"seconds": round(town.seconds, 1),
                                          "shops": len({s for s, _ in town.products}),
                                          "products": len(town.products),
                                          "residents": len(town.residents)}}
                # Statements first: a rate the runtime cannot hold leaves a backlog behind it.
                if "sql" in options.only:
                    figures["sql"] = await self.statements(runtime, checkout)
                if "saga" in options.only:
                    figures["saga"] = await self.rates(runtime, checkout)
                    held = [r["rate"] for r in figures["saga"] if r["held"]]
                    figures["max_held_rate"] = max(held, default=0.0)
            finally:
                await watcher.stop()
        finally:
            await api.aclose()
        return figures

    async def statements(self, runtime: str, checkout: saga.Checkout) -> list[dict]:
        """Per checkout, at two rates: under load, where each consumer takes several events in
        one transaction, and one order at a time, where it takes them one by one."""
        options, measured = self.options, []
        for orders, rate in ((options.sql_orders, 5.0 if options.quick else 20.0),
                             (max(2, options.sql_orders // 10), 1.0)):
            self.log(f"{runtime}: SQL statements per checkout ({orders} orders at {rate:g}/s)")
            measured.append(await saga.statements_per_checkout(
                checkout, orders=orders, rate=rate, idle_s=2.0 if options.quick else 15.0,
                drain_s=options.drain_s))
        return measured

    async def rates(self, runtime: str, checkout: saga.Checkout) -> list[dict]:
        results, failed = [], False
        for rate in self.options.rates:
            # Past the first rate not held, only the goal's rate is still worth its minutes:
            # the report wants its latency even when the runtime cannot hold it.
            if failed and rate != GOAL_RATE:
                continue
            await saga.quiet(checkout.api)
            orders = int(rate * self.options.duration)
            task = self.progress.add_task(f"{runtime}: checkout at {rate:g}/s", total=orders)
            result = await checkout.run(
                rate, self.options.duration, drain_s=self.options.drain_s,
                on_progress=lambda sent, task=task: self.progress.update(task, completed=sent))
            results.append(result)
            confirmed = result["confirmed"]
            self.log(f"{runtime}: {rate:g} orders/s: confirmed p50/p95/p99 "
                     f"{confirmed['p50_ms']}/{confirmed['p95_ms']}/{confirmed['p99_ms']} ms, "
                     + ("held" if result["held"] else f"not held ({'; '.join(result['why_not'])})"))
            failed = failed or not result["held"]
        return results

    async def hop(self) -> dict:
        quick = self.options.quick
        hop_options = argparse.Namespace(events=300 if quick else 5000, writers=8, rate=100.0,
                                         seconds=2.0 if quick else 15.0,
                                         database=self.postgres or "sqlite")
        task = self.progress.add_task("event hop (bench/bus.py)", total=None)
        workdir = self.workdir / "hop"
        workdir.mkdir(parents=True, exist_ok=True)
        results = await HopBench(hop_options, self.kafka, workdir).run()
        self.progress.update(task, total=1, completed=1)
        by_path = {r["path"]: r for r in results}
        raw, kafka = by_path["raw"], by_path["kafka"]
        return {"settings": vars(hop_options) | {"database": "PostgreSQL" if self.postgres
                                                 else "SQLite"},
                "paths": results,
                "latency_p50_ratio": round(kafka["latency"]["p50_ms"]
                                           / raw["latency"]["p50_ms"], 1),
                "throughput_ratio": round(raw["throughput"]["events_per_s"]
                                          / kafka["throughput"]["events_per_s"], 1)}


async def _run(options: Options, workdir: Path, kafka: str | None, postgres: str | None
               ) -> dict:
    results: dict = {"runtimes": {}}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        run = Run(options, workdir, progress, kafka, postgres)
        if options.needs_deployment:
            for runtime in options.runtimes:
                results["runtimes"][runtime] = await run.runtime(runtime)
        if "hop" in options.only:
            results["hop"] = await run.hop()
    return results


def run(options: Options) -> dict:
    """Runs the benchmark; returns its figures (and writes the report when ``options.out``)."""
    import uvloop

    from bench import report

    warnings.filterwarnings("ignore", r"(?s).*session\.exec", DeprecationWarning)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    started = datetime.now(UTC)
    began = time.perf_counter()
    with infrastructure(options) as (kafka, postgres), \
            tempfile.TemporaryDirectory(prefix="adopte-bench-") as workdir:
        env = {**machine(), "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}
        if kafka:
            env["kafka"] = (_script_version("kafka.sh", "KAFKA_VERSION")
                            if kafka.endswith(f":{PRIVATE_KAFKA['KAFKA_PORT']}")
                            else kafka_version(kafka))
        if postgres:
            env["postgresql"] = uvloop.run(postgres_version(postgres))
        results = uvloop.run(_run(options, Path(workdir), kafka, postgres))
    results = {
        "date": started.date().isoformat(), "started_at": started.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - began, 1),
        "mode": "quick" if options.quick else "full", "machine": env,
        "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        "settings": {"sections": list(options.only), "runtimes": list(options.runtimes),
                     "rates": options.rates, "duration_s": options.duration,
                     "network": vars(options.network) | {"products": options.network.products},
                     "hub_ladder": vars(options.ladder), "p95_bound_ms": hub_bench.P95_BOUND_MS},
        **results,
    }
    results["goals"] = report.goals(results)
    console.print("\n".join(report.goals_table(results)), markup=False)
    if options.out:
        report.write(results, options.out)
        console.log(f"report in {options.out}/report.md")
    return results


def default_out() -> Path:
    return Path(__file__).resolve().parent / "results" / datetime.now(UTC).date().isoformat()


if __name__ == "__main__":
    sys.exit("use `adopte bench` or `python -m bench`")
