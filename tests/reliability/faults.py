"""Faults for the fault matrix: a Kafka broker of the test's own (so that restarting it disturbs
no other test), a seeded plan of SIGKILLs and broker restarts, the task that carries it out while
orders are placed, and the orders themselves, retried with their Idempotency-Key while the order
service is down."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.load import open_loop
from bench.processes import Deployment, Process
from bench.saga import Api, Town, order_body
from tests.support.processes import REPO_ROOT, free_port

KAFKA_SCRIPT = REPO_ROOT / "deploy" / "local" / "kafka.sh"
KAFKA = "kafka"


class PrivateKafka:
    """deploy/local/kafka.sh on free ports with its state in ``state_dir`` (the jars' cache is
    the machine's, already installed)."""

    def __init__(self, state_dir: Path) -> None:
        self.env = {"KAFKA_PORT": str(free_port()), "KAFKA_CONTROLLER_PORT": str(free_port()),
                    "ADOPTE_LOCAL_DIR": str(state_dir)}

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.env['KAFKA_PORT']}"

    def _script(self, *args: str) -> None:
        done = subprocess.run(["bash", str(KAFKA_SCRIPT), *args], env={**os.environ, **self.env},
                              capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"kafka.sh {' '.join(args)} exited {done.returncode}:\n"
                               f"{done.stderr[-2000:]}")

    def install(self) -> None:
        self._script("install")

    def start(self) -> None:
        self._script("start")

    def stop(self, *, wipe: bool = False) -> None:
        self._script("stop", *(["--wipe"] if wipe else []))

    def restart(self, down_s: float) -> None:
        """A clean stop, the broker away for ``down_s`` (the services' clients keep failing to
        reach it meanwhile), then a start on the same data."""
        self.stop()
        time.sleep(down_s)  # the outage itself: its length is the fault, not a wait for anything
        self.start()


# --- the plan -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    at_s: float  # seconds after the load started
    target: str  # a service, or KAFKA


def plan_faults(rng: random.Random, services: list[str], *, kills_each: int, kafka_restarts: int,
                window_s: float) -> list[Fault]:
    """Each service killed ``kills_each`` times and Kafka restarted ``kafka_restarts`` times at
    random moments of the load's window (its first and last 5 % left alone, so that every fault
    falls while orders flow). One target's faults are at least a fair share of the window apart:
    a process is killed again only once it has had time to come back."""
    first, last = 0.05 * window_s, 0.95 * window_s
    faults = []
    for target, count in [*((s, kills_each) for s in services), (KAFKA, kafka_restarts)]:
        gap = (last - first) / (count + 1) / 2
        while True:
            moments = sorted(rng.uniform(first, last) for _ in range(count))
            if all(b - a >= gap for a, b in zip(moments, moments[1:], strict=False)):
                break
        faults += [Fault(round(at, 2), target) for at in moments]
    return sorted(faults, key=lambda f: f.at_s)


# --- carrying it out ----------------------------------------------------------------------------


@dataclass
class Struck:
    target: str
    planned_s: float
    at_s: float
    back_after_s: float  # from the kill (or the stop) until it answered again


class Chaos:
    """Carries out a plan against a deployment: a service is SIGKILLed and started again at
    once (on the same port, the same databases), Kafka stopped and started; a target still
    coming back from its last fault is struck again only once it is back."""

    def __init__(self, deployment: Deployment, kafka: PrivateKafka, *, kafka_down_s: float,
                 ready_timeout_s: float = 180.0) -> None:
        self.deployment = deployment
        self.kafka = kafka
        self.kafka_down_s = kafka_down_s
        self.ready_timeout_s = ready_timeout_s
        self.struck: list[Struck] = []
        self._locks: dict[str, asyncio.Lock] = {}

    async def run(self, faults: list[Fault], started: float) -> None:
        strikes = []
        for fault in faults:
            await asyncio.sleep(max(0.0, started + fault.at_s - time.perf_counter()))
            strikes.append(asyncio.create_task(self._strike(fault, started)))
        await asyncio.gather(*strikes)

    async def _strike(self, fault: Fault, started: float) -> None:
        async with self._locks.setdefault(fault.target, asyncio.Lock()):
            began = time.perf_counter()
            if fault.target == KAFKA:
                # A thread of its own: the default executor may be busy with the HTTP client's
                # work, and the script blocks for as long as the broker takes.
                with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka") as thread:
                    await asyncio.get_running_loop().run_in_executor(
                        thread, self.kafka.restart, self.kafka_down_s)
            else:
                await self._kill_and_start(self.deployment.processes[fault.target])
            self.struck.append(Struck(fault.target, fault.at_s, round(began - started, 2),
                                      round(time.perf_counter() - began, 2)))

    async def _kill_and_start(self, process: Process) -> None:
        """On the event loop, not in a thread: a blocking wait for readiness in a thread was
        once starved for minutes by the loop's own work while the process had long been up."""
        process.process.kill()
        while process.process.poll() is None:
            await asyncio.sleep(0.05)
        process.start()
        began = time.monotonic()
        last = "no answer"
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() - began < self.ready_timeout_s:
                if process.process.poll() is not None:
                    raise RuntimeError(f"{process.name} exited on restart:\n{process.log_tail()}")
                try:
                    answer = await client.get(f"{process.url}/readyz")
                    if answer.status_code == 200:
                        return
                    last = f"{answer.status_code} {answer.text[:200]}"
                except httpx.TransportError as error:
                    last = repr(error)
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{process.name} not ready {self.ready_timeout_s:.0f}s after its "
                           f"restart (last /readyz: {last}):\n{process.log_tail()}")


# --- the orders ---------------------------------------------------------------------------------


@dataclass
class Placing:
    """What became of each order the load meant to place. An order is *accepted* once the order
    service answered 202 with its id; a POST that failed for want of an answer (the process
    down, a connection cut by a kill, a 5xx) is sent again with the same Idempotency-Key until
    it is accepted or ``retry_for_s`` runs out, so no order is placed twice by the retries and
    one whose first answer was lost is found again."""

    accepted: dict[str, int] = field(default_factory=dict)  # order id -> attempts it took
    refused: dict[int, int] = field(default_factory=dict)  # 4xx status -> orders
    given_up: int = 0
    failed_attempts: Counter[str] = field(default_factory=Counter)  # why, e.g. ConnectError

    @property
    def retried(self) -> int:
        return sum(1 for attempts in self.accepted.values() if attempts > 1)


async def place_orders(api: Api, town: Town, *, count: int, rate: float, start_at: float,
                       retry_for_s: float = 180.0, first_index: int = 1,
                       on_accepted: Callable[[str, int], None] = lambda order_id, number: None,
                       ) -> Placing:
    """Orders ``first_index`` .. ``first_index + count - 1`` of the town, open loop at
    ``rate``; ``on_accepted(order id, number)`` is told of each one accepted."""
    placing = Placing()

    async def place(index: int) -> None:
        number = first_index + index
        token = town.residents[number % len(town.residents)]
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        body = order_body(town, number)
        deadline = time.monotonic() + retry_for_s
        attempts = 0
        while True:
            attempts += 1
            try:
                answer = await api.request("POST", "/orders/api/v1/orders", token=token,
                                           headers=dict(headers), json=body)
            except httpx.TransportError as error:
                answer = None
                placing.failed_attempts[type(error).__name__] += 1
            if answer is not None and answer.status_code in (200, 202):
                placing.accepted[answer.json()["id"]] = attempts
                on_accepted(answer.json()["id"], number)
                return
            if answer is not None and answer.status_code < 500 and answer.status_code != 429:
                placing.refused[answer.status_code] = placing.refused.get(answer.status_code, 0) + 1
                return
            if answer is not None:
                placing.failed_attempts[f"HTTP {answer.status_code}"] += 1
            if time.monotonic() > deadline:
                placing.given_up += 1
                return
            await asyncio.sleep(random.uniform(0.5, 1.5))  # spread out: no retry storm

    await open_loop(place, rate=rate, seconds=count / rate, start_at=start_at,
                    max_in_flight=count, drain_s=retry_for_s + 60)
    return placing


# --- what people do meanwhile -------------------------------------------------------------------


@dataclass
class ShopCancellations:
    """Shops giving parts up while the faults go on (an administrator acting for them), so that
    the undoing paths run too: refunds into the ledger, stock released, pickups no longer
    expected. Every ``every``-th accepted order loses the part of its first shop once it is
    confirmed; every ``2 * every``-th loses both parts, which cancels the order. A request that
    got no answer is sent again; a 409 is success when the part is found cancelled."""

    api: Api
    town: Town
    admin_token: str
    every: int = 10
    retry_for_s: float = 240.0
    parts_cancelled: int = 0
    orders_emptied: int = 0
    given_up: int = 0
    _tasks: set[asyncio.Task] = field(default_factory=set)

    def accepted(self, order_id: str, number: int) -> None:
        if number % self.every == 0:
            task = asyncio.get_running_loop().create_task(self._cancel(order_id, number))
            self._tasks.add(task)

    async def wait(self) -> None:
        await asyncio.gather(*self._tasks)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _cancel(self, order_id: str, number: int) -> None:
        resident = self.town.residents[number % len(self.town.residents)]
        deadline = time.monotonic() + self.retry_for_s
        order = await self._order_when_settled(order_id, resident, deadline)
        if order is None or order["status"] != "confirmed":
            return
        shops = [part["shop_id"] for part in order["parts"]]
        chosen = shops if number % (2 * self.every) == 0 else shops[:1]
        for shop_id in chosen:
            if not await self._cancel_part(order_id, shop_id, resident, deadline):
                self.given_up += 1
                return
            self.parts_cancelled += 1
        self.orders_emptied += len(chosen) == len(shops)

    async def _order_when_settled(self, order_id: str, resident: str, deadline: float
                                  ) -> dict | None:
        while time.monotonic() < deadline:
            order = await self._read(order_id, resident)
            if order is not None and order["status"] not in ("placed", "awaiting_payment"):
                return order
            await asyncio.sleep(1.0)
        self.given_up += 1
        return None

    async def _read(self, order_id: str, resident: str) -> dict | None:
        try:
            answer = await self.api.request("GET", f"/orders/api/v1/orders/{order_id}",
                                            token=resident)
        except httpx.TransportError:
            return None
        return answer.json() if answer.status_code == 200 else None

    async def _cancel_part(self, order_id: str, shop_id: str, resident: str, deadline: float
                           ) -> bool:
        while time.monotonic() < deadline:
            try:
                answer = await self.api.request(
                    "POST", f"/orders/api/v1/orders/{order_id}/parts/{shop_id}/cancel",
                    token=self.admin_token, json={"reason": "banc d'essai : panne simulée"})
            except httpx.TransportError:
                answer = None
            if answer is not None and answer.status_code == 200:
                return True
            if answer is not None and answer.status_code == 409:
                order = await self._read(order_id, resident)
                if order is not None and any(p["shop_id"] == shop_id and p["status"] == "cancelled"
                                             for p in order["parts"]):
                    return True
            await asyncio.sleep(1.0)
        return False
