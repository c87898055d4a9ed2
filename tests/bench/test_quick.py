"""The benchmark's quick mode, end to end, on both runtimes: every section gives figures and the
report is written. Nothing about speed is asserted: this keeps the harness working."""

from __future__ import annotations

import json

import pytest

from bench.hub import BARE, STACK
from bench.run import Options, run
from bench.seed import QUICK

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.timeout(900)]


# deploy/local's broker and server on their usual ports are shared by every test session of the
# machine: their `adopte serve` processes join the same consumer groups (adopte.<service>) and
# take half our partitions, and a session that started the server stops it when it ends. There
# the bench starts its own (other ports, bench/run.py); a container or a given address is ours.
SHARED_KAFKA, SHARED_POSTGRES = "127.0.0.1:19092", "@127.0.0.1:15432/"


def test_quick_mode_measures_every_section_on_both_runtimes(tmp_path, kafka_bootstrap_servers,
                                                             postgres_url):
    out = tmp_path / "report"
    results = run(Options(
        quick=True, out=out,
        kafka=None if kafka_bootstrap_servers == SHARED_KAFKA else kafka_bootstrap_servers,
        postgres=None if SHARED_POSTGRES in postgres_url else postgres_url))

    for runtime in ("embedded", "distributed"):
        figures = results["runtimes"][runtime]
        assert figures["seed"]["products"] == QUICK.products
        for target in (BARE, STACK, "hub page", "hub page, search"):
            assert figures["hub"][target]["steps"][0]["p95_ms"] > 0, (runtime, target)
        first_rate = figures["saga"][0]
        assert first_rate["orders"] > 0
        # On a saturated machine some orders may still be on their way after the drain.
        assert first_rate["confirmed"]["count"] >= first_rate["scheduled"]["count"] > 0
        assert first_rate["confirmed"]["p50_ms"] > 0
        assert [sql["rate"] for sql in figures["sql"]] == [5.0, 1.0]
        for sql in figures["sql"]:
            assert sql["orders"] > 0 and sql["total"] > 0
            assert sql["per_service"]["order"] > 0
        assert all(memory["peak_mib"] > 0 for memory in figures["memory"].values())
    assert set(results["runtimes"]["distributed"]["memory"]) == {
        "accounts", "catalog", "notification", "order", "payment", "pickup"}
    assert {path["path"] for path in results["hop"]["paths"]} == {"raw", "kafka", "embedded"}
    assert results["hop"]["latency_p50_ratio"] > 0

    assert json.loads((out / "results.json").read_text())["mode"] == "quick"
    report = (out / "report.md").read_text()
    assert "| goal | target | measured | status |" in report
    assert {"saga_confirmed.svg", "saga_scheduled.svg", "hub_embedded.svg",
            "hub_distributed.svg"} <= {path.name for path in out.iterdir()}
