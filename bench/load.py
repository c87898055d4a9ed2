"""An open-loop load generator: requests start on a fixed schedule, whatever the server does.

Request ``i`` of a run at ``rate`` per second is due at ``start + i / rate``. It is sent then (or
as soon as the event loop gets to it) without waiting for the earlier ones, and its latency runs
from the time it was *due*, not from the time it was sent: a server that stalls for a second
shows a second of latency on every request due during the stall, instead of quietly delaying
them (coordinated omission). With ``max_in_flight``, a request due while that many are still
running is not sent and counts as an error (``overflow``), so a dead server cannot pile up
unbounded work in the generator.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

# Requests due within this much of now are started together rather than each after a sleep:
# asyncio's timers are not finer than a millisecond or so anyway.
BATCH_S = 0.0005


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values (q in [0, 1])."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary(values_ms: list[float]) -> dict:
    """count, p50, p95, p99, max and mean of latencies in milliseconds, rounded to 0.01."""
    ordered = sorted(values_ms)
    if not ordered:
        return {"count": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None,
                "mean_ms": None}
    return {"count": len(ordered),
            **{f"p{round(q * 100)}_ms": round(percentile(ordered, q), 2)
               for q in (0.50, 0.95, 0.99)},
            "max_ms": round(ordered[-1], 2),
            "mean_ms": round(sum(ordered) / len(ordered), 2)}


@dataclass
class LoadResult:
    rate: float
    seconds: float
    due: int = 0  # requests the schedule had
    latencies_ms: list[float] = field(default_factory=list)  # of those that succeeded
    errors: dict[str, int] = field(default_factory=dict)  # kind -> count
    late_start_ms: float = 0.0  # the worst delay between a request's due time and its send
    elapsed_s: float = 0.0  # first due time -> last answer

    @property
    def succeeded(self) -> int:
        return len(self.latencies_ms)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def achieved_rate(self) -> float:
        """Successful requests per second over the schedule's length (not the drain after it):
        the rate the server kept up with."""
        return self.succeeded / self.seconds if self.seconds else 0.0

    def figures(self) -> dict:
        return {"rate": self.rate, "seconds": self.seconds, "due": self.due,
                "succeeded": self.succeeded, "errors": dict(self.errors),
                "achieved_rate": round(self.achieved_rate, 1),
                "late_start_ms": round(self.late_start_ms, 2),
                **summary(self.latencies_ms)}


def _error_kind(error: BaseException) -> str:
    return type(error).__name__ if not str(error) else f"{type(error).__name__}: {str(error)[:80]}"


async def open_loop(call: Callable[[int], Awaitable[object]], *, rate: float, seconds: float,
                    max_in_flight: int | None = None, drain_s: float = 30.0,
                    on_progress: Callable[[int], None] | None = None,
                    start_at: float | None = None,
                    clock: Callable[[], float] = time.perf_counter) -> LoadResult:
    """Calls ``call(i)`` for i in 0 .. rate × seconds - 1, each at its due time; a call that
    raises is an error (by exception type). After the schedule, waits up to ``drain_s`` for the
    calls still running; those left are errors (``unfinished``). ``on_progress(sent)`` is told
    as requests go out. ``start_at`` (a ``clock()`` time, now by default) is when request 0 is
    due: request i is due at ``start_at + i / rate``, which lets the caller date what follows
    each request from its due time."""
    result = LoadResult(rate=rate, seconds=seconds, due=max(1, round(rate * seconds)))
    interval = 1.0 / rate
    running: set[asyncio.Task] = set()

    async def one(index: int, due_at: float) -> None:
        try:
            await call(index)
        except Exception as error:  # noqa: BLE001 - every failure is a figure, not a crash
            kind = _error_kind(error)
            result.errors[kind] = result.errors.get(kind, 0) + 1
        else:
            result.latencies_ms.append((clock() - due_at) * 1000)

    start = clock() if start_at is None else start_at
    index = 0
    while index < result.due:
        now = clock()
        due_at = start + index * interval
        if due_at > now + BATCH_S:
            await asyncio.sleep(due_at - now)
            continue
        while index < result.due and (due_at := start + index * interval) <= now + BATCH_S:
            result.late_start_ms = max(result.late_start_ms, (now - due_at) * 1000)
            if max_in_flight is not None and len(running) >= max_in_flight:
                result.errors["overflow"] = result.errors.get("overflow", 0) + 1
            else:
                task = asyncio.create_task(one(index, due_at))
                running.add(task)
                task.add_done_callback(running.discard)
            index += 1
        if on_progress is not None:
            on_progress(index)
        # Let the requests just started run before the next batch is due.
        await asyncio.sleep(0)
    if running:
        _, unfinished = await asyncio.wait(set(running), timeout=drain_s)
        for task in unfinished:
            task.cancel()
        if unfinished:
            result.errors["unfinished"] = len(unfinished)
            await asyncio.gather(*unfinished, return_exceptions=True)
    result.elapsed_s = clock() - start
    return result
