"""The hub page and its search, beside the bare endpoint: the highest rate each sustains.

Each target is driven open-loop at rising rates (×1.5 a step) over keep-alive connections by
``bench.http.LeanClient``, until a step fails: an error, an accepted rate below 95 % of the
target, or a p95 above the bound (the goal's 50 ms). Its *sustained* rate is the last step that
passed. The ratio hub page / bare is the figure: the same machine, the same client, the same
uvicorn, minutes apart.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote_plus

from bench.bare import PAGE_PATH, PATH
from bench.catalog import QUERIES
from bench.http import LeanClient
from bench.load import open_loop

P95_BOUND_MS = 50.0
GROWTH = 1.5
MAX_RATE = 20_000.0


@dataclass(frozen=True)
class Ladder:
    first_rate: float
    step_s: float
    max_steps: int
    warmup_requests: int
    # Steps halving the gap between the last rate passed and the first failed: ×1.5 steps alone
    # leave the sustained rate up to a third short, too coarse for a ratio of two of them.
    refinements: int = 0


FULL = Ladder(first_rate=10, step_s=10, max_steps=20, warmup_requests=100, refinements=3)
QUICK = Ladder(first_rate=10, step_s=1.5, max_steps=2, warmup_requests=10)


BARE, STACK = "bare endpoint", "constant page, services' middleware"


def targets(catalog_url: str, bare_url: str, stack_url: str, hub_id: str
            ) -> dict[str, tuple[str, list[str]]]:
    """name -> (base URL, paths sent in turn)."""
    return {
        BARE: (bare_url, [PATH]),
        STACK: (stack_url, [PAGE_PATH]),
        "hub page": (catalog_url, [f"/catalog/hubs/{hub_id}"]),
        "hub page, search": (catalog_url, [f"/catalog/hubs/{hub_id}?q={quote_plus(q)}"
                                            for q in QUERIES]),
    }


async def climb(base_url: str, paths: list[str], ladder: Ladder,
                on_step: Callable[[float], None] = lambda rate: None) -> dict:
    client = LeanClient(base_url)
    cycle = itertools.cycle(paths)

    async def step(rate: float) -> dict:
        on_step(rate)
        cpu_before = time.process_time()
        load = await open_loop(lambda _i: client.get(next(cycle)), rate=rate,
                               seconds=ladder.step_s, max_in_flight=2000, drain_s=10)
        figures = load.figures()
        figures["client_cpu_ms_per_req"] = round(
            (time.process_time() - cpu_before) * 1000 / max(1, load.due), 3)
        figures["passed"] = (load.error_count == 0 and load.achieved_rate >= 0.95 * rate
                             and figures["p95_ms"] is not None
                             and figures["p95_ms"] <= P95_BOUND_MS)
        return figures

    try:
        for _ in range(ladder.warmup_requests):
            await client.get(next(cycle))
        steps = []
        rate = ladder.first_rate
        for _ in range(ladder.max_steps):
            steps.append(await step(rate))
            if not steps[-1]["passed"] or rate * GROWTH > MAX_RATE:
                break
            rate = round(rate * GROWTH, 1)
        climbed = steps[-1]["passed"]
        if not climbed and len(steps) > 1:
            passed, failed = steps[-2]["rate"], steps[-1]["rate"]
            for _ in range(ladder.refinements):
                steps.append(await step(round((passed + failed) / 2, 1)))
                passed, failed = ((steps[-1]["rate"], failed) if steps[-1]["passed"]
                                  else (passed, steps[-1]["rate"]))
    finally:
        await client.aclose()
    steps.sort(key=lambda figures: figures["rate"])
    passed = [step for step in steps if step["passed"]]
    return {"steps": steps,
            "sustained_rate": passed[-1]["rate"] if passed else 0.0,
            "sustained_achieved": passed[-1]["achieved_rate"] if passed else 0.0,
            "p95_at_first_rate_ms": steps[0]["p95_ms"] if steps else None,
            "ceiling_reached": climbed}
