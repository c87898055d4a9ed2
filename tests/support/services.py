"""Real Kafka, PostgreSQL and stripe-mock for the test suite.

Each session fixture takes the first of:
  1. the address in the environment (KAFKA_BOOTSTRAP_SERVERS, ADOPTE_TEST_DATABASE_URL,
     STRIPE_API_BASE), used as is;
  2. a container from testcontainers, when a Docker engine answers;
  3. the scripts in deploy/local (install + start; stopped at the end of the session only
     when this session started it);
and otherwise skips the tests that need it, or fails them when CI=true.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_SCRIPTS = REPO_ROOT / "deploy" / "local"

STRIPE_MOCK_IMAGE = "stripe/stripe-mock:v0.197.0"
STRIPE_TEST_KEY = "sk_test_123"

INSTALL_TIMEOUT = 900.0
START_TIMEOUT = 240.0


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip, or fail under CI where a missing service must never pass silently."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing service is a failure)", pytrace=False)
    pytest.skip(reason)


@functools.cache
def docker_available() -> bool:
    """A Docker engine answers a ping within a few seconds."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


class LocalServiceError(RuntimeError):
    pass


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _run_script(script: str, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
    path = LOCAL_SCRIPTS / script
    try:
        proc = subprocess.run(
            ["bash", str(path), command],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise LocalServiceError(f"deploy/local/{script} {command} timed out after {timeout:.0f}s") from exc
    if proc.returncode != 0:
        raise LocalServiceError(
            f"deploy/local/{script} {command} exited {proc.returncode}:\n{_tail(proc.stderr + proc.stdout)}"
        )
    return proc


@contextlib.contextmanager
def local_service(script: str, env_var: str) -> Iterator[str]:
    """Install and start a service with its deploy/local script; yield its address."""
    _run_script(script, "install", INSTALL_TIMEOUT)
    proc = _run_script(script, "start", START_TIMEOUT)
    prefix = f"{env_var}="
    values = [line[len(prefix) :] for line in proc.stdout.splitlines() if line.startswith(prefix)]
    if not values:
        raise LocalServiceError(
            f"deploy/local/{script} start printed no {prefix} line:\n{_tail(proc.stdout)}"
        )
    started_here = "already running" not in proc.stderr
    try:
        yield values[-1]
    finally:
        if started_here:
            with contextlib.suppress(LocalServiceError):
                _run_script(script, "stop", 120)


# --- containers (imported lazily: only when a Docker engine answers) -----------------


@contextlib.contextmanager
def kafka_container() -> Iterator[str]:
    try:
        from testcontainers.community.kafka import KafkaContainer
    except ImportError:
        from testcontainers.kafka import KafkaContainer

    with KafkaContainer() as kafka:
        yield kafka.get_bootstrap_server()


@contextlib.contextmanager
def postgres_container() -> Iterator[str]:
    try:
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:
        from testcontainers.postgres import PostgresContainer

    with PostgresContainer(
        "postgres:16-alpine", username="adopte", password="adopte", dbname="adopte", driver="asyncpg"
    ) as postgres:
        yield postgres.get_connection_url()


@contextlib.contextmanager
def stripe_mock_container() -> Iterator[str]:
    import httpx
    from testcontainers.core.container import DockerContainer

    with DockerContainer(STRIPE_MOCK_IMAGE).with_exposed_ports(12111) as container:
        base = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(12111)}"
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(
                    f"{base}/v1/customers", headers={"Authorization": f"Bearer {STRIPE_TEST_KEY}"}, timeout=2
                )
                if response.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{STRIPE_MOCK_IMAGE} gave no answer on {base}/v1/customers within 60s")
            time.sleep(0.3)
        yield base


# --- choosing a source ------------------------------------------------------------------


@dataclass(frozen=True)
class Service:
    name: str
    env_var: str
    script: str
    container: Callable[[], AbstractContextManager[str]]
    normalize: Callable[[str], str] = str.strip


def provide(service: Service) -> Iterator[str]:
    """Generator body of a session fixture: yields the service's address."""
    value = os.environ.get(service.env_var, "").strip()
    if value:
        yield service.normalize(value)
        return
    reasons = []
    with contextlib.ExitStack() as stack:
        address = None
        if docker_available():
            try:
                address = stack.enter_context(service.container())
            except Exception as exc:
                reasons.append(f"testcontainers: {type(exc).__name__}: {exc}")
        else:
            reasons.append("no Docker engine answers")
        if address is None:
            try:
                address = stack.enter_context(local_service(service.script, service.env_var))
            except LocalServiceError as exc:
                reasons.append(str(exc))
        if address is None:
            unavailable(
                f"{service.name} is not available: {service.env_var} is not set; " + "; ".join(reasons)
            )
        yield service.normalize(address)


def asyncpg_url(url: str) -> str:
    """Any PostgreSQL URL as an SQLAlchemy async URL (postgresql+asyncpg://)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {parsed!r}")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


KAFKA = Service("Kafka", "KAFKA_BOOTSTRAP_SERVERS", "kafka.sh", kafka_container)
POSTGRES = Service(
    "PostgreSQL", "ADOPTE_TEST_DATABASE_URL", "postgres.sh", postgres_container, asyncpg_url
)
STRIPE_MOCK = Service(
    "stripe-mock", "STRIPE_API_BASE", "stripe-mock.sh", stripe_mock_container,
    lambda url: url.strip().rstrip("/"),
)


# --- throwaway databases ----------------------------------------------------------------


def asyncpg_dsn(url: str) -> str:
    """An SQLAlchemy URL as a DSN that asyncpg.connect() accepts."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run_coroutine(factory: Callable[[], object]) -> None:
    # In a thread of its own, so that it works from sync code and inside a running loop alike.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, factory()).result()


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(asyncpg_dsn(url), timeout=30)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.contextmanager
def unique_database(postgres_url: str) -> Iterator[str]:
    """Create a database with a random name on the server of postgres_url, yield its URL,
    and drop it afterwards."""
    from sqlalchemy.engine import make_url

    name = f"test_{uuid.uuid4().hex[:16]}"
    _run_coroutine(lambda: _admin(postgres_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _run_coroutine(lambda: _admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kafka_bootstrap_servers() -> Iterator[str]:
    """host:port of a real Kafka broker."""
    yield from provide(KAFKA)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """postgresql+asyncpg:// URL of a real PostgreSQL database (shared by the session)."""
    yield from provide(POSTGRES)


@pytest.fixture(scope="session")
def stripe_api_base() -> Iterator[str]:
    """Base URL of stripe-mock (use it with the API key sk_test_123)."""
    yield from provide(STRIPE_MOCK)


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """postgresql+asyncpg:// URL of an empty database of its own, dropped after the test."""
    with unique_database(postgres_url) as url:
        yield url
