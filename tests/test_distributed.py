"""Distributed on one host: `adopte up` brings every service up behind the gateway on real Kafka
and PostgreSQL (the suite's own, passed with --kafka and --postgres), `adopte status` reports
them, `adopte down` leaves no process; and the gateway forwards requests faithfully."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid

import httpx
import pytest

from services import distributed
from services.distributed import RunFolder, process_exists
from services.gateway import Gateway
from services.host import SERVICES, service_bootstrap
from tests.support.processes import REPO_ROOT, free_port
from tests.support.services import _admin, _run_coroutine


def adopte(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", *args], cwd=REPO_ROOT,
                          env=dict(os.environ), capture_output=True, text=True, timeout=timeout)


@contextlib.contextmanager
def dropped_afterwards(server_url: str, prefix: str):
    try:
        yield
    finally:
        for name in SERVICES:
            _run_coroutine(lambda name=name: _admin(
                server_url, f'DROP DATABASE IF EXISTS "{prefix}{name}" WITH (FORCE)'))


@pytest.mark.kafka
@pytest.mark.postgres
async def test_up_serves_every_service_on_one_port_and_down_stops_them_all(
        tmp_path, kafka_bootstrap_servers, postgres_url):
    run_dir, port, prefix = tmp_path / "run", free_port(), f"t{uuid.uuid4().hex[:10]}_"
    with dropped_afterwards(postgres_url, prefix):
        started = adopte("up", "--port", str(port), "--base-port", "0", "--kafka",
                         kafka_bootstrap_servers, "--postgres", postgres_url, "--database-prefix",
                         prefix, "--run-dir", str(run_dir), "--data-dir", str(tmp_path / "data"),
                         timeout=300)
        try:
            assert started.returncode == 0, started.stderr
            url = started.stdout.strip().splitlines()[-1]
            assert url == f"http://127.0.0.1:{port}"
            await _every_service_answers_through(url)
            status = adopte("status", "--run-dir", str(run_dir))
            assert status.returncode == 0, status.stdout + status.stderr
            assert status.stdout.count(" ready ") == len(SERVICES) + 1
            again = adopte("up", "--port", str(free_port()), "--run-dir", str(run_dir))
            assert again.returncode == 1 and "already up" in again.stderr
        finally:
            pids = [int(path.read_text()) for path in (run_dir / "pids").glob("*.pid")]
            stopped = adopte("down", "--run-dir", str(run_dir), timeout=120)
        assert stopped.returncode == 0, stopped.stderr
        assert len(pids) == len(SERVICES) + 1
        assert not [pid for pid in pids if process_exists(pid)]
        assert adopte("status", "--run-dir", str(run_dir)).returncode == 3
        assert all(RunFolder(run_dir).log_file(name).stat().st_size
                   for name in (*SERVICES, "gateway"))
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/healthz", timeout=2)


async def _every_service_answers_through(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=15) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert set(ready.json()["services"].values()) == {"ready"}
        for name in SERVICES:
            prefix = service_bootstrap(name).SERVICE.prefix
            schema = await client.get(f"{prefix}/openapi.json")
            assert schema.status_code == 200, prefix
            assert schema.json()["info"]["title"].endswith(f": {name}")
        email = f"up-{uuid.uuid4().hex[:8]}@adopte.test"
        created = await client.post("/accounts/api/v1/users", json={
            "email": email, "password": "un-secret-assez-long", "name": "Up"})
        assert created.status_code == 201, created.text
        token = (await client.post("/accounts/api/v1/token", json={
            "email": email, "password": "un-secret-assez-long"})).json()["access_token"]
        # Signed by the accounts process, accepted by the order process: one shared key pair.
        mine = await client.get("/orders/api/v1/orders", headers={"Authorization": f"Bearer {token}"})
        assert mine.status_code == 200, mine.text
        assert mine.json() == []


def test_up_says_why_when_postgresql_does_not_answer(tmp_path):
    run_dir, closed = tmp_path / "run", free_port()
    failed = adopte("up", "--port", str(free_port()), "--kafka", "127.0.0.1:1", "--postgres",
                    f"postgresql://adopte:secret@127.0.0.1:{closed}/adopte",
                    "--run-dir", str(run_dir), "--data-dir", str(tmp_path / "data"))
    assert failed.returncode == 1
    assert "error: cannot create the databases on" in failed.stderr
    assert "ConnectionRefusedError" in failed.stderr
    assert "Traceback" not in failed.stderr and "secret" not in failed.stderr
    assert not list((run_dir / "pids").glob("*.pid"))
    assert not (run_dir / "up.json").exists()


FAKE_SCRIPT = """#!/usr/bin/env bash
here="$(dirname "$0")"
echo "$(basename "$0" .sh) $1" >>"$here/calls"
case "$1" in
  status) [[ -f "$here/$(basename "$0" .sh).running" ]] ;;
  start) touch "$here/$(basename "$0" .sh).running"; echo "{line}" ;;
  stop) rm -f "$here/$(basename "$0" .sh).running" ;;
esac
"""


@pytest.mark.parametrize("kafka_already_running", [False, True])
def test_a_failed_up_stops_the_local_services_it_started_and_only_those(
        tmp_path, monkeypatch, kafka_already_running):
    scripts = tmp_path / "local"
    scripts.mkdir()
    lines = {"kafka": "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1",
             "postgres": f"ADOPTE_TEST_DATABASE_URL=postgresql://a:b@127.0.0.1:{free_port()}/a"}
    for name, line in lines.items():
        (scripts / f"{name}.sh").write_text(FAKE_SCRIPT.replace("{line}", line))
        (scripts / f"{name}.sh").chmod(0o755)
    if kafka_already_running:
        (scripts / "kafka.running").touch()
    monkeypatch.setattr(distributed, "LOCAL_SCRIPTS", scripts)

    with pytest.raises(distributed.DistributedError, match="cannot create the databases"):
        distributed.up(distributed.UpOptions(run_dir=tmp_path / "run", data_dir=tmp_path / "data"),
                       say=lambda line: None)

    calls = (scripts / "calls").read_text().splitlines()
    assert "postgres stop" in calls
    assert ("kafka stop" in calls) is not kafka_already_running
    assert (scripts / "kafka.running").exists() is kafka_already_running


def test_down_and_status_with_nothing_up(tmp_path):
    assert adopte("down", "--run-dir", str(tmp_path)).returncode == 0
    status = adopte("status", "--run-dir", str(tmp_path))
    assert status.returncode == 3
    assert "nothing runs" in status.stderr


def test_the_gateway_refuses_a_route_that_is_not_prefix_equals_url():
    refused = adopte("gateway", "--route", "orders", "--port", str(free_port()))
    assert refused.returncode == 2
    assert "is not PREFIX=URL" in refused.stderr


# --- the gateway, in process ------------------------------------------------------------


def echo(request: httpx.Request) -> httpx.Response:
    """An upstream that tells what it received."""
    if request.url.path == "/readyz":
        return httpx.Response(200 if request.url.host == "orders" else 503)
    if request.url.host == "down":
        raise httpx.ConnectError("refused", request=request)
    body = json.dumps({"url": str(request.url), "method": request.method,
                       "headers": dict(request.headers), "body": request.content.decode()})
    return httpx.Response(201, content=_streamed(body.encode()), headers=[
        ("content-type", "application/json"), ("set-cookie", "a=1"), ("set-cookie", "b=2"),
        ("connection", "close")])


async def _streamed(body: bytes):
    yield body[:10]
    yield body[10:]


@pytest.fixture
async def through_gateway():
    gateway = Gateway({"/orders": "http://orders:8003", "/pickup": "http://down:8005"},
                      transport=httpx.MockTransport(echo))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway),
                                 base_url="http://hub.example") as client:
        yield client
    await gateway.client.aclose()


async def test_the_gateway_forwards_to_the_service_owning_the_prefix(through_gateway):
    answer = await through_gateway.post("/orders/api/v1/orders?hub=1&q=pain%20bio",
                                        json={"lines": [1]}, headers={"X-Correlation-ID": "c-1",
                                                                      "X-Forwarded-For": "6.6.6.6"})
    assert answer.status_code == 201
    received = answer.json()
    assert received["url"] == "http://orders:8003/orders/api/v1/orders?hub=1&q=pain%20bio"
    assert received["method"] == "POST"
    assert json.loads(received["body"]) == {"lines": [1]}
    assert received["headers"]["host"] == "hub.example"
    assert received["headers"]["x-correlation-id"] == "c-1"
    assert received["headers"]["x-forwarded-proto"] == "http"
    # What the visitor claims is dropped: the services believe the gateway's word only.
    assert received["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert answer.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert "connection" not in answer.headers


async def test_the_gateway_answers_502_when_the_service_is_down(through_gateway):
    answer = await through_gateway.get("/pickup/desk")
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "bad_gateway"


async def test_the_gateway_owns_only_the_root_health_and_nothing_else(through_gateway):
    home = await through_gateway.get("/")
    assert (home.status_code, home.headers["location"]) == (303, "/orders/hubs")
    assert (await through_gateway.get("/healthz")).json() == {"status": "ok"}
    assert (await through_gateway.get("/ordersx")).status_code == 404
    ready = await through_gateway.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["error"]["details"] == [
        {"/orders": "ready", "/pickup": "answered 503"}]


async def test_the_gateway_is_ready_when_every_service_is():
    gateway = Gateway({"/orders": "http://orders:8003"}, transport=httpx.MockTransport(echo))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway),
                                 base_url="http://hub.example") as client:
        ready = await client.get("/readyz")
    await gateway.client.aclose()
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "services": {"/orders": "ready"}}
