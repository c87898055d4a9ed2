"""bench/floor.py: the skeleton saga carries every order to PickupScheduled through the real
outbox, relay, bus and inbox, and the statements it counts are those the machinery implies.
Nothing here is about speed."""

from __future__ import annotations

import json

import pytest

from bench import floor
from bench.floor_skeleton import SERVICES, expected_claims, expected_reads

# Outbox rows per checkout, per service: what each one emits in the chain.
OUTBOX_ROWS = {"catalog": 3, "order": 3, "payment": 3, "pickup": 2, "notification": 0}
# Transactions that write to an outbox per checkout: the order placed, catalog's reservation,
# pickup's hold and schedule, order's payment request and confirmation, payment's three events.
EMITTING_TRANSACTIONS = 7


def test_the_chain_is_read_from_the_real_subscriptions():
    assert expected_claims() == {"catalog": 1, "order": 7, "payment": 3, "pickup": 2,
                                 "notification": 4}
    assert sum(expected_reads().values()) == 32


def check(run: dict, *, orders: int, serial: int, sqlite: bool) -> None:
    load, one_by_one = run["results"]
    assert (load["regime"], load["orders"]) == ("load", orders)
    assert (one_by_one["regime"], one_by_one["orders"]) == ("serial", serial)
    for result in run["results"]:
        assert result["pickups_scheduled"] == result["orders"]
        assert result["latency_ms"]["count"] == result["orders"]
        assert result["latency_ms"]["p50"] > 0 and result["orders_per_s"] > 0
        assert result["cpu_ms_per_checkout"]["python"] > 0
        assert result["ceiling_orders_per_s"]["python_alone"] > 0
        assert result["events_written_per_checkout"] == 11
        assert result["inbox_claims_per_checkout"] == 17
        assert result["records_read_per_checkout"] == 32
        kinds = result["statements_by_kind_per_checkout"]
        # The runtime's counter (ADOPTE_COUNT_SQL) and the skeleton's, statement by statement.
        assert result["sql_statements_per_checkout"] == pytest.approx(
            sum(v for k, v in kinds.items() if k != "bus"), abs=0.01)
        assert kinds.get("other", 0) == 0
        if sqlite:
            # Every transaction begins once: each handling one (one claim statement each), the
            # order placed, and each pass of a relay.
            assert kinds["begin"] == pytest.approx(
                kinds["inbox claim"] + 1 + kinds["relay select"], abs=0.01)
        else:
            assert kinds["relay lock"] == kinds["relay select"]

    serial_kinds = one_by_one["statements_by_kind_per_checkout"]
    assert serial_kinds["outbox insert"] == EMITTING_TRANSACTIONS
    assert serial_kinds["relay update"] == EMITTING_TRANSACTIONS
    assert serial_kinds["relay select"] >= EMITTING_TRANSACTIONS
    # One claim statement per handling transaction: 17 events less those that arrive together
    # (payment's PaymentSucceeded with ProcessorFeeCharged, the order's PaymentStarted with
    # PaymentSucceeded, and its two StockLevelChanged when their products share a partition).
    # On Kafka a fetch may split records published together: at most one claim per event.
    assert 14 <= serial_kinds["inbox claim"] <= (15 if sqlite else 17)
    # Under load, consumers take batches: fewer claims and outbox writes than events.
    load_kinds = load["statements_by_kind_per_checkout"]
    assert load_kinds["inbox claim"] < serial_kinds["inbox claim"]
    assert load_kinds["outbox insert"] < EMITTING_TRANSACTIONS

    checkouts = floor.WARMUP_ORDERS + orders + serial
    claims = expected_claims()
    assert run["rows"] == {s: {"outbox": OUTBOX_ROWS[s] * checkouts,
                               "inbox": claims[s] * checkouts} for s in SERVICES}


def test_quick_embedded_run_takes_every_order_to_pickup_scheduled(tmp_path, monkeypatch):
    monkeypatch.setenv("ADOPTE_COUNT_SQL", "1")
    out = tmp_path / "floor.json"

    run = floor.main(["--quick", "--idle", "0.5", "--json", str(out)])

    assert json.loads(out.read_text()) == run
    check(run, orders=100, serial=10, sqlite=True)
    assert run["results"][0]["statements_by_kind_per_checkout"]["bus"] > 0
    assert run["idle_cpu_ms_per_s"]["python"] > 0


@pytest.mark.kafka
@pytest.mark.postgres
def test_quick_distributed_run_takes_every_order_to_pickup_scheduled(
        tmp_path, monkeypatch, kafka_bootstrap_servers, postgres_url):
    monkeypatch.setenv("ADOPTE_COUNT_SQL", "1")

    run = floor.main(["--runtime", "distributed", "--quick", "--idle", "0.5",
                      "--kafka", kafka_bootstrap_servers, "--postgres", postgres_url])

    check(run, orders=100, serial=10, sqlite=False)
    cpu = run["results"][0]["cpu_ms_per_checkout"]
    assert all(cpu[s] > 0 for s in SERVICES)
