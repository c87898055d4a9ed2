"""The checkout saga under load: orders placed over HTTP at a fixed rate, each timed from its due
time to ``OrderConfirmed`` and to ``PickupScheduled``.

How the two times are read: a watcher follows the order and pickup topics (Kafka on the
distributed runtime; the embedded bus's SQLite file, read-only, on the embedded one) and takes
each event's ``occurred_at``, stamped by the service as it emits the event, in the transaction
that confirms the order (``OrderConfirmed``) or makes its pickup code (``PickupScheduled``). So
no request of ours asks the services anything while they work, and the watcher's own delay
(fetching, polling) is not in the figures; the clocks are the same machine's. The resident pays
at once: payment runs with ``ADOPTE_PAYMENT_SIMULATED_PAYMENTS_SUCCEED_AT_ONCE=true``.

A rate is *held* when, over its window, every order was accepted (202), the accepted rate was
within 5 % of the target, at least 99 % of the orders reached ``PickupScheduled`` within the
drain time after the window, and the consumers' lag (``adopte_consumer_lag`` summed over every
group of every process, sampled from /metrics) did not grow: its mean over the window's last
third is no more than its mean over the first third plus half a second of orders.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer

from bench.load import LoadResult, open_loop, summary
from bench.processes import Deployment

SLOT_CAPACITY = 10_000  # pickup's upper bound for one slot
STOCK = 1_000_000  # catalog's upper bound for one variant
ORDER_TOPIC, PICKUP_TOPIC = "order.order", "pickup.pickup"
DONE, FAILED = {"PickupScheduled"}, {"OrderRejected", "OrderCancelled"}
WATCHED = {"OrderConfirmed", *DONE, *FAILED}
PASSWORD = "banc-d-essai-2026"


# --- the town the orders go to --------------------------------------------------------------


@dataclass
class Town:
    hub_id: str
    slot_ids: list[str]
    products: list[tuple[str, str]]  # (shop id, product id)
    residents: list[str]  # tokens
    seconds: float = 0.0


class Api:
    """The deployment's HTTP API, each path sent to the process serving its prefix."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.client = httpx.AsyncClient(timeout=30, limits=httpx.Limits(
            max_connections=1000, max_keepalive_connections=200))

    async def request(self, method: str, path: str, *, token: str | None = None, expect=None,
                      **kwargs) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        answer = await self.client.request(method, self.deployment.url(path), headers=headers,
                                           **kwargs)
        if expect is not None and answer.status_code != expect:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:300]}")
        return answer

    async def until(self, method: str, path: str, *, expect: int, timeout_s: float = 60,
                    **kwargs) -> httpx.Response:
        """Repeats the request until it answers ``expect``: a service may not have heard yet, by
        event, of what it needs (an account, a hub, a product)."""
        deadline = time.monotonic() + timeout_s
        while True:
            answer = await self.request(method, path, **kwargs)
            if answer.status_code == expect or time.monotonic() > deadline:
                if answer.status_code != expect:
                    raise RuntimeError(f"{method} {path}: {answer.status_code} "
                                       f"{answer.text[:300]}")
                return answer
            await asyncio.sleep(0.2)

    async def sign_up(self, name: str) -> tuple[str, str]:
        email = f"{name}-{uuid.uuid4().hex[:8]}@banc.test"
        await self.request("POST", "/accounts/api/v1/users", expect=201,
                           json={"email": email, "password": PASSWORD, "name": name})
        return email, await self.token(email, PASSWORD)

    async def token(self, email: str, password: str) -> str:
        answer = await self.request("POST", "/accounts/api/v1/token", expect=200,
                                    json={"email": email, "password": password})
        return answer.json()["access_token"]

    async def aclose(self) -> None:
        await self.client.aclose()


async def open_town(api: Api, *, orders: int, residents: int, shops: int = 4,
                    products_per_shop: int = 3) -> Town:
    """Through the API, as a hub starts: an admin, a hub, its staff and slots for ``orders``,
    shops and products with all the stock they can hold, residents. Then one order placed and
    followed until its pickup is scheduled, so every service has heard of everything."""
    started = time.perf_counter()
    admin_email = f"admin-{uuid.uuid4().hex[:8]}@banc.test"
    await asyncio.to_thread(api.deployment.cli, "accounts", "create", "--email", admin_email,
                            "--password", PASSWORD, "--role", "platform_admin", "--name", "Admin")
    admin = await api.token(admin_email, PASSWORD)
    hub = await api.until("POST", "/pickup/api/v1/hubs", expect=201, token=admin, json={
        "name": "Le Banc d'Essai", "town": "Lannion", "address": "1 quai de la Mesure"})
    hub_id = hub.json()["id"]
    staff_email, staff = await api.sign_up("accueil")
    await api.until("POST", f"/pickup/api/v1/hubs/{hub_id}/staff", expect=201, token=admin,
                    json={"email": staff_email, "role": "staff"})
    slot_ids = []
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    for number in range(orders // SLOT_CAPACITY + 1):
        starts = first + timedelta(hours=2 * number)
        slot = await api.request("POST", f"/pickup/api/v1/hubs/{hub_id}/slots", token=staff,
                                 expect=201, json={
                                     "starts_at": starts.isoformat(),
                                     "ends_at": (starts + timedelta(hours=2)).isoformat(),
                                     "capacity": SLOT_CAPACITY})
        slot_ids.append(slot.json()["id"])
    products = []
    for number in range(shops):
        owner_email, owner = await api.sign_up(f"commerce{number}")
        shop = await api.until("POST", "/catalog/api/v1/shops", expect=201, token=admin, json={
            "hub_id": hub_id, "name": f"Commerce du banc n° {number + 1}",
            "owner_email": owner_email})
        shop_id = shop.json()["id"]
        for item in range(products_per_shop):
            listed = await api.request(
                "POST", f"/catalog/api/v1/shops/{shop_id}/products", token=owner, expect=201,
                json={"name": f"Article {item + 1} du commerce {number + 1}",
                      "price_cents": 250 + 100 * item, "stock": STOCK})
            products.append((shop_id, listed.json()["id"]))
    tokens = [(await api.sign_up(f"habitant{number}"))[1] for number in range(residents)]
    town = Town(hub_id, slot_ids, products, tokens)
    probe = await api.until("POST", "/orders/api/v1/orders", expect=202, token=tokens[0],
                            headers={"Idempotency-Key": str(uuid.uuid4())},
                            json=order_body(town, 0))
    order_id = probe.json()["id"]
    deadline = time.monotonic() + 60
    while True:
        order = (await api.request("GET", f"/orders/api/v1/orders/{order_id}", token=tokens[0],
                                   expect=200)).json()
        if order["status"] == "confirmed" and order.get("pickup"):
            break
        if order["status"] in {"rejected", "cancelled"} or time.monotonic() > deadline:
            raise RuntimeError(f"the first order did not go through: {order}")
        await asyncio.sleep(0.2)
    town.seconds = time.perf_counter() - started
    return town


def order_body(town: Town, index: int) -> dict:
    """Order ``index``: one unit from each of two shops, taken in turn, its slot filled in turn."""
    by_shop: dict[str, list[str]] = {}
    for shop, product in town.products:
        by_shop.setdefault(shop, []).append(product)
    shops = sorted(by_shop)
    lines = [by_shop[shop][index % len(by_shop[shop])]
             for shop in (shops[index % len(shops)], shops[(index + 1) % len(shops)])]
    slot = town.slot_ids[(index // SLOT_CAPACITY) % len(town.slot_ids)]
    return {"hub_id": town.hub_id, "slot_id": slot,
            "lines": [{"product_id": product, "quantity": 1} for product in lines]}


# --- watching the saga's events -----------------------------------------------------------


@dataclass
class Seen:
    """When (epoch seconds, as stamped by the producing service) each order passed each step."""

    confirmed: dict[str, float] = field(default_factory=dict)
    scheduled: dict[str, float] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, raw: bytes) -> None:
        envelope = json.loads(raw)
        kind = envelope["type"]
        if kind not in WATCHED:
            return
        order_id = envelope["payload"].get("order_id") or envelope["key"]
        at = datetime.fromisoformat(envelope["occurred_at"]).timestamp()
        if kind == "OrderConfirmed":
            self.confirmed.setdefault(order_id, at)
        elif kind in DONE:
            self.scheduled.setdefault(order_id, at)
        else:
            self.failed.setdefault(order_id, kind)
        self.changed.set()


class EmbeddedWatcher:
    """Reads the embedded bus's records table (SQLite, WAL: a reader does not block the host)."""

    def __init__(self, bus_path: Path, seen: Seen, every_s: float = 0.05) -> None:
        self.bus_path, self.seen, self.every_s = bus_path, seen, every_s
        self._task: asyncio.Task | None = None
        self._next: dict[tuple[str, int], int] = {}

    async def start(self) -> None:
        self._db = sqlite3.connect(f"file:{self.bus_path}?mode=ro", uri=True,
                                   check_same_thread=False)
        for topic, partitions in self._db.execute(
                "select name, partitions from topics where name in (?, ?)",
                (ORDER_TOPIC, PICKUP_TOPIC)).fetchall():
            for partition in range(partitions):
                end = self._db.execute(
                    'select max("offset") + 1 from records where topic = ? and partition = ?',
                    (topic, partition)).fetchone()[0]
                self._next[(topic, partition)] = end or 0
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        while True:
            for raw in await asyncio.to_thread(self._read):
                self.seen.record(raw)
            await asyncio.sleep(self.every_s)

    def _read(self) -> list[bytes]:
        values = []
        for (topic, partition), start in self._next.items():
            rows = self._db.execute(
                'select "offset", value from records where topic = ? and partition = ? '
                'and "offset" >= ? order by "offset"', (topic, partition, start)).fetchall()
            if rows:
                values += [value for _, value in rows]
                self._next[(topic, partition)] = rows[-1][0] + 1
        return values

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._db.close()


class KafkaWatcher:
    """Reads the order and pickup topics from their ends, in no consumer group (nothing of the
    services' own consumption changes)."""

    def __init__(self, bootstrap: str, seen: Seen) -> None:
        self.bootstrap, self.seen = bootstrap, seen
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                          enable_auto_commit=False, auto_offset_reset="latest",
                                          fetch_max_wait_ms=20)
        await self._consumer.start()
        # Without a group, subscribing assigns every partition of the topics.
        self._consumer.subscribe([ORDER_TOPIC, PICKUP_TOPIC])
        deadline = time.monotonic() + 30
        while len(self._consumer.assignment()) == 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the order and pickup topics never showed up")
            await asyncio.sleep(0.1)
        for partition in self._consumer.assignment():  # their ends, before any order is placed
            await self._consumer.position(partition)
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    self.seen.record(record.value)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()


# --- the processes' metrics -----------------------------------------------------------------


async def scrape(api: Api) -> dict[str, dict[str, float]]:
    """Each process's /metrics: {metric name: {labels: value}} summed over the processes."""
    figures: dict[str, dict[str, float]] = {}
    for process in api.deployment.processes.values():
        text = (await api.client.get(f"{process.url}/metrics")).text
        for line in text.splitlines():
            if line.startswith("#") or " " not in line:
                continue
            sample, value = line.rsplit(" ", 1)
            name, _, labels = sample.partition("{")
            per = figures.setdefault(name, {})
            per[labels.rstrip("}")] = per.get(labels.rstrip("}"), 0.0) + float(value)
    return figures


async def backlog(api: Api) -> float:
    """Events not yet handled: consumer lag plus outbox rows not yet published."""
    figures = await scrape(api)
    # Each gauge at zero at least: the outbox's backlog is an estimate that can dip below.
    return sum(max(0.0, value) for name in ("adopte_consumer_lag", "adopte_outbox_backlog")
               for value in figures.get(name, {}).values())


async def sql_statements(api: Api) -> dict[str, float]:
    figures = (await scrape(api)).get("adopte_sql_statements_total", {})
    return {labels.split('"')[1]: value for labels, value in figures.items()}


async def quiet(api: Api, timeout_s: float = 60.0) -> bool:
    """Waits until no event is waiting anywhere (as far as the metrics, refreshed every few
    seconds, say)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await backlog(api) == 0:
            return True
        await asyncio.sleep(0.5)
    return False


# --- one rate -------------------------------------------------------------------------------


@dataclass
class Placed:
    due_wall: dict[str, float] = field(default_factory=dict)  # order id -> due (epoch s)


class Checkout:
    """Places orders into a town and follows them through ``seen``."""

    def __init__(self, api: Api, town: Town, seen: Seen) -> None:
        self.api, self.town, self.seen = api, town, seen
        self.count = 1  # the town's first order

    async def run(self, rate: float, seconds: float, *, drain_s: float,
                  lag_every_s: float = 1.0,
                  on_progress: Callable[[int], None] | None = None) -> dict:
        placed = Placed()
        first = self.count
        self.count += max(1, round(rate * seconds))
        lead = 0.1
        start_perf, start_wall = time.perf_counter() + lead, time.time() + lead

        async def place(index: int) -> None:
            number = first + index
            answer = await self.api.request(
                "POST", "/orders/api/v1/orders",
                token=self.town.residents[number % len(self.town.residents)],
                headers={"Idempotency-Key": str(uuid.uuid4())}, json=order_body(self.town, number))
            if answer.status_code != 202:
                raise RuntimeError(f"HTTP {answer.status_code}")
            placed.due_wall[answer.json()["id"]] = start_wall + index / rate

        lags: list[tuple[float, float]] = []
        cpu_before = self._cpu_seconds()
        sampling = asyncio.create_task(self._sample_lag(lags, start_perf, lag_every_s))
        try:
            load = await open_loop(place, rate=rate, seconds=seconds, start_at=start_perf,
                                   max_in_flight=max(200, int(rate * 10)),
                                   on_progress=on_progress)
            finished = await self._drain(placed, drain_s)
        finally:
            sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling
        figures = self._figures(rate, seconds, load, placed, lags, finished)
        done = max(1, figures["scheduled"]["count"])
        figures["cpu_ms_per_order"] = {
            name: round((after - cpu_before[name]) * 1000 / done, 1)
            for name, after in self._cpu_seconds().items()}
        return figures

    def _cpu_seconds(self) -> dict[str, float]:
        return {name: process.cpu_seconds()
                for name, process in self.api.deployment.processes.items()}

    async def _sample_lag(self, lags: list[tuple[float, float]], start: float, every_s: float
                          ) -> None:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                lags.append((round(time.perf_counter() - start, 2), await backlog(self.api)))
            await asyncio.sleep(every_s)

    async def _drain(self, placed: Placed, drain_s: float) -> float:
        """Seconds after the window until every placed order was scheduled or failed (or the
        drain time, if not)."""
        began = time.perf_counter()
        deadline = began + drain_s
        while time.perf_counter() < deadline:
            left = [o for o in placed.due_wall
                    if o not in self.seen.scheduled and o not in self.seen.failed]
            if not left:
                break
            self.seen.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.seen.changed.wait(), 0.5)
        return time.perf_counter() - began

    def _figures(self, rate: float, seconds: float, load: LoadResult, placed: Placed,
                 lags: list[tuple[float, float]], drained_s: float) -> dict:
        confirmed = [(self.seen.confirmed[o] - due) * 1000 for o, due in placed.due_wall.items()
                     if o in self.seen.confirmed]
        scheduled = [(self.seen.scheduled[o] - due) * 1000 for o, due in placed.due_wall.items()
                     if o in self.seen.scheduled]
        failed = sum(1 for o in placed.due_wall if o in self.seen.failed)
        window = [lag for at, lag in lags if 0 <= at <= seconds]
        third = max(1, len(window) // 3)
        lag_first = sum(window[:third]) / third if window else 0.0
        lag_last = sum(window[-third:]) / third if window else 0.0
        reasons = []
        if load.error_count:
            reasons.append(f"{load.error_count} orders refused or unanswered")
        if load.achieved_rate < 0.95 * rate:
            reasons.append(f"accepted {load.achieved_rate:.0f}/s")
        if len(scheduled) < 0.99 * load.due:
            reasons.append(f"{len(scheduled)} of {load.due} scheduled after a {drained_s:.0f} s "
                           "drain")
        if failed:
            reasons.append(f"{failed} rejected or cancelled")
        if lag_last > lag_first + max(20.0, 0.5 * rate):
            reasons.append(f"lag grew from {lag_first:.0f} to {lag_last:.0f}")
        return {"rate": rate, "seconds": seconds, "orders": load.due,
                "placed": load.figures(), "confirmed": summary(confirmed),
                "scheduled": summary(scheduled), "failed": failed,
                "drain_s": round(drained_s, 1),
                "lag": {"first_third_mean": round(lag_first, 1),
                        "last_third_mean": round(lag_last, 1),
                        "max": max(window, default=0.0), "samples": lags},
                "held": not reasons, "why_not": reasons}


async def statements_per_checkout(checkout: Checkout, *, orders: int, rate: float,
                                  idle_s: float, drain_s: float) -> dict:
    """SQL statements per checkout, per service: the counters over a window of ``orders``
    orders, less what the same services do idle (periodic jobs, lag refresh) over as long,
    measured just before on a quiet hub."""
    api = checkout.api
    await quiet(api)
    idle_start, idle_began = await sql_statements(api), time.perf_counter()
    await asyncio.sleep(idle_s)  # the measured idle window itself, not a wait for something
    idle_end, idle_took = await sql_statements(api), time.perf_counter() - idle_began
    began = time.perf_counter()
    result = await checkout.run(rate, orders / rate, drain_s=drain_s)
    await quiet(api)
    end, took = await sql_statements(api), time.perf_counter() - began
    completed = result["scheduled"]["count"]
    per_service, raw = {}, {}
    for service in sorted(end):
        idle_rate = (idle_end.get(service, 0) - idle_start.get(service, 0)) / idle_took
        busy = end[service] - idle_end.get(service, 0)
        # Not clamped: a negative figure says the idle rate was noisier than the orders' work.
        per_service[service] = round((busy - idle_rate * took) / max(1, completed), 1)
        raw[service] = {"window": busy, "idle_per_s": round(idle_rate, 2)}
    return {"orders": completed, "rate": rate, "window_s": round(took, 1),
            "idle_window_s": round(idle_took, 1),
            "per_service": per_service, "total": round(sum(per_service.values()), 1),
            "raw": raw,
            "counted": "before_cursor_execute on every engine of the service (SQLite: the "
                       "explicit BEGIN included; PostgreSQL: asyncpg's BEGIN/COMMIT are not "
                       "statements through the cursor)"}
