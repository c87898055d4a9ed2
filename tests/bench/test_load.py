"""The open-loop generator: requests go out on schedule, and a slow server shows as latency."""

from __future__ import annotations

import asyncio
import time

from bench.load import open_loop, percentile, summary


async def test_requests_go_out_at_their_due_times_whatever_the_answers_take():
    sent: dict[int, float] = {}

    async def slow_call(index: int) -> None:
        sent[index] = time.perf_counter()
        await asyncio.sleep(0.2)  # far longer than the interval: a closed loop would fall behind

    began = time.perf_counter()
    result = await open_loop(slow_call, rate=200, seconds=0.5)

    assert result.due == 100 and result.succeeded == 100 and not result.errors
    # Bounds loose enough for a machine busy with other work; a closed loop would take 20 s.
    lateness_ms = sorted((sent[i] - (began + i / 200)) * 1000 for i in range(100))
    assert lateness_ms[50] < 25 and lateness_ms[-1] < 250, lateness_ms
    assert sent[99] - sent[0] < 1.0  # all 100 sent within about the schedule's 0.5 s


async def test_a_stalled_server_shows_as_latency_of_every_request_due_during_the_stall():
    server = asyncio.Lock()

    async def one_request_at_a_time(index: int) -> None:
        async with server:  # serves 50 requests/s; 100/s are due
            await asyncio.sleep(0.02)

    result = await open_loop(one_request_at_a_time, rate=100, seconds=1.0)

    # Served one at a time, each takes 20 ms; measured from when each was due, the queue shows:
    # the last ones waited for about half the run.
    assert result.succeeded == 100
    latencies = result.latencies_ms
    assert min(latencies) >= 19
    assert percentile(sorted(latencies), 0.99) > 700
    assert result.achieved_rate == 100.0  # all answered, late


async def test_failures_are_counted_by_kind_and_excess_in_flight_is_refused():
    async def flaky(index: int) -> None:
        if index % 4 == 0:
            raise ValueError("refused")
        await asyncio.sleep(0.3)

    result = await open_loop(flaky, rate=100, seconds=0.2, max_in_flight=5)

    assert result.errors["ValueError: refused"] >= 2  # 0 and 4 at least: before the limit bites
    assert result.errors["overflow"] > 0
    assert result.succeeded + result.error_count == result.due


async def test_calls_still_running_after_the_drain_are_unfinished():
    async def hangs(index: int) -> None:
        await asyncio.sleep(60)

    result = await open_loop(hangs, rate=50, seconds=0.1, drain_s=0.1)

    assert result.errors == {"unfinished": 5}
    assert result.latencies_ms == []


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, q) for q in (0.0, 0.5, 0.95, 0.99, 1.0)] == [1, 50, 95, 99, 100]
    figures = summary(list(reversed(values)))
    assert figures == {"count": 100, "p50_ms": 50, "p95_ms": 95, "p99_ms": 99, "max_ms": 100,
                       "mean_ms": 50.5}
    assert summary([])["p99_ms"] is None
