"""The two runtimes the journey must work on: one embedded process, and one process per service
on real Kafka and PostgreSQL."""

from __future__ import annotations

import contextlib

import pytest

from tests.e2e.hub import PREFIXES, Hub
from tests.support.processes import ServiceProcess
from tests.support.services import unique_database

FAST_SAGA = {"ADOPTE_ORDER_PAYMENT_DELAY_S": "900", "ADOPTE_ORDER_SWEEP_INTERVAL_S": "0.5"}


@contextlib.asynccontextmanager
async def running_embedded_hub(folder, **settings: str):
    env = {"ADOPTE_DATA_DIR": str(folder / "data"), **FAST_SAGA, **settings}
    process = ServiceProcess(["dev", "--no-demo", "--data-dir", env["ADOPTE_DATA_DIR"]],
                             env=env, log_path=folder / "hub.log")
    hub = Hub({"embedded": process.start()}, env)
    try:
        yield hub
    finally:
        await hub.client.aclose()
        hub.stop()


@pytest.fixture
async def embedded_hub(tmp_path):
    async with running_embedded_hub(tmp_path) as hub:
        yield hub


@pytest.fixture
async def impatient_hub(tmp_path):
    """A hub whose residents have one second to pay."""
    async with running_embedded_hub(tmp_path, ADOPTE_ORDER_PAYMENT_DELAY_S="1") as hub:
        yield hub


@pytest.fixture
async def distributed_hub(tmp_path, kafka_bootstrap_servers, postgres_url):
    services = sorted(set(PREFIXES.values()))
    with _databases(postgres_url, services) as urls:
        env = {"ADOPTE_BUS": "kafka", "ADOPTE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
               "ADOPTE_DATA_DIR": str(tmp_path / "data"), **FAST_SAGA,
               **{f"ADOPTE_{s.upper()}_DATABASE_URL": urls[s] for s in services}}
        processes = {s: ServiceProcess(["serve", s], env=env, log_path=tmp_path / f"{s}.log")
                     for s in services}
        hub = Hub(processes, env)
        try:
            for process in processes.values():
                process.start()
            yield hub
        finally:
            await hub.client.aclose()
            hub.stop()


@contextlib.contextmanager
def _databases(server_url: str, services: list[str]):
    """One fresh PostgreSQL database per service, dropped afterwards."""
    with contextlib.ExitStack() as stack:
        yield {s: stack.enter_context(unique_database(server_url)) for s in services}
