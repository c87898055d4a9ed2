"""One event published by one service and consumed by another, in both runtimes: pickup opens a
hub (HubOpened) and the catalog learns of it, so shops can join it."""

from __future__ import annotations

import uuid

import httpx
import pytest

from libs.auth.tokens import Principal, TokenIssuer, ensure_keypair
from services.host import EmbeddedHost
from tests.support.processes import ServiceProcess
from tests.support.services import unique_database
from tests.support.waiting import eventually

HUB = {"name": "Le Grenier Partagé", "town": "Paimpol", "address": "3 place du Martray"}


def admin_headers(data_dir) -> dict[str, str]:
    private_key, _ = ensure_keypair(data_dir / "keys")
    admin = Principal(uuid.uuid4(), "admin@adopte.test", "Admin",
                      frozenset({"platform_admin", "resident"}))
    return {"Authorization": f"Bearer {TokenIssuer(private_key.read_text()).issue(admin)}"}


@pytest.fixture
async def embedded(tmp_path):
    host = EmbeddedHost(tmp_path, seed_demo=False)
    async with host.root.router.lifespan_context(host.root):
        transport = httpx.ASGITransport(app=host)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub",
                                     headers=admin_headers(tmp_path)) as client:
            yield client


async def test_a_hub_opened_in_pickup_reaches_the_catalog_in_one_process(embedded):
    opened = await embedded.post("/pickup/api/v1/hubs", json=HUB,
                                 headers={"X-Correlation-ID": "journey-42"})
    assert opened.status_code == 201, opened.text
    assert opened.headers["x-correlation-id"] == "journey-42"
    hub = opened.json()
    assert hub["opened_at"].endswith("Z") or hub["opened_at"].endswith("+00:00")

    async def catalog_knows_it() -> bool:
        hubs = (await embedded.get("/catalog/api/v1/hubs")).json()
        return [h["id"] for h in hubs] == [hub["id"]]

    await eventually(catalog_knows_it, message="catalog's read model")
    metrics = (await embedded.get("/metrics")).text
    assert 'adopte_events_consumed_total{group="adopte.catalog",topic="pickup.hub"}' in metrics
    assert (await embedded.get("/readyz")).json() == {"status": "ready"}


async def test_errors_have_one_json_shape(embedded):
    invalid = await embedded.post("/pickup/api/v1/hubs", json={"name": " ", "town": "Paimpol"})
    assert invalid.status_code == 422
    body = invalid.json()["error"]
    assert body["code"] == "validation_error"
    assert {d["field"] for d in body["details"]} == {"body.name", "body.address"}

    missing = await embedded.get("/pickup/api/v1/hubs/7f1d1f39-9b8e-4f0e-a3f4-8c1d0e0c9a11")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"].startswith("no hub ")

    not_a_route = await embedded.get("/catalog/api/v1/nothing-here")
    assert not_a_route.status_code == 404
    assert not_a_route.json()["error"]["code"] == "not_found"


async def test_a_hub_opened_in_pickup_reaches_the_catalog_across_processes(
    kafka_bootstrap_servers, postgres_url, tmp_path
):
    with unique_database(postgres_url) as pickup_db, unique_database(postgres_url) as catalog_db:
        common = {"ADOPTE_BUS": "kafka", "ADOPTE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
                  "ADOPTE_LOG_JSON": "true", "ADOPTE_DATA_DIR": str(tmp_path)}
        pickup = ServiceProcess(["serve", "pickup"], log_path=tmp_path / "pickup.log",
                                env={**common, "ADOPTE_PICKUP_DATABASE_URL": pickup_db})
        catalog = ServiceProcess(["serve", "catalog"], log_path=tmp_path / "catalog.log",
                                 env={**common, "ADOPTE_CATALOG_DATABASE_URL": catalog_db})
        try:
            pickup.start()
            catalog.start()
            async with httpx.AsyncClient(timeout=10, headers=admin_headers(tmp_path)) as client:
                opened = await client.post(f"{pickup.url}/pickup/api/v1/hubs", json=HUB)
                assert opened.status_code == 201, opened.text
                hub_id = opened.json()["id"]

                async def catalog_knows_it() -> bool:
                    hubs = (await client.get(f"{catalog.url}/catalog/api/v1/hubs")).json()
                    return hub_id in [h["id"] for h in hubs]

                await eventually(catalog_knows_it, timeout=60, message="catalog over Kafka")
                metrics = (await client.get(f"{pickup.url}/metrics")).text
            assert 'adopte_events_published_total{topic="pickup.hub"}' in metrics
        finally:
            catalog.stop()
            pickup.stop()
