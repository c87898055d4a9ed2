"""Distributed on one host: real Kafka, PostgreSQL (one database per service) and every service
as its own process behind one gateway port; `adopte up`, `adopte status`, `adopte down`.

Kafka and PostgreSQL come from deploy/local's scripts unless the caller points at running ones;
`down` stops only what `up` started. Everything a run leaves lives in its run folder: a pid file
and a log per process, and `up.json` (the address, the ports, the local services started).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.host import SERVICES, service_bootstrap

REPO = Path(__file__).resolve().parent.parent
LOCAL_SCRIPTS = REPO / "deploy" / "local"
GATEWAY = "gateway"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
DATABASE_PREFIX = re.compile(r"[a-z_][a-z0-9_]{0,40}")


class DistributedError(Exception):
    """Why the hub could not be brought up (whatever had started is stopped again)."""


@dataclass(frozen=True)
class UpOptions:
    run_dir: Path
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    base_port: int = 8001
    kafka: str | None = None
    postgres: str | None = None
    database_prefix: str = "adopte_"
    ready_timeout_s: float = 120.0


@dataclass
class RunFolder:
    root: Path

    @property
    def state(self) -> Path:
        return self.root / "up.json"

    def pid_file(self, name: str) -> Path:
        return self.root / "pids" / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def names(self) -> list[str]:
        """The processes with a pid file, the gateway first (it stops first)."""
        found = sorted(path.stem for path in (self.root / "pids").glob("*.pid"))
        return sorted(found, key=lambda name: name != GATEWAY)

    def read_state(self) -> dict:
        return json.loads(self.state.read_text()) if self.state.exists() else {}


@dataclass
class ProcessStatus:
    name: str
    pid: int | None
    running: bool
    url: str | None
    ready: bool | None = None
    log: Path | None = None


@dataclass
class Started:
    """What one `up` has started so far, so that a failure can undo exactly that."""

    folder: RunFolder
    local_services: list[str] = field(default_factory=list)


def up(options: UpOptions, say: Callable[[str], None] = print) -> str:
    """Start everything, wait until every service is ready; returns the gateway's URL."""
    if not DATABASE_PREFIX.fullmatch(options.database_prefix):
        raise DistributedError("the database prefix takes lowercase letters, digits and _")
    folder = RunFolder(options.run_dir.resolve())
    if any(_alive(folder, name) for name in folder.names()):
        raise DistributedError(f"already up (run folder {folder.root}): `adopte status` tells "
                               "what runs, `adopte down` stops it")
    for stale in (folder.root / "pids").glob("*.pid"):
        stale.unlink()
    (folder.root / "logs").mkdir(parents=True, exist_ok=True)
    (folder.root / "pids").mkdir(parents=True, exist_ok=True)
    started = Started(folder)
    try:
        return _bring_up(options, started, say)
    except BaseException:
        say("stopping what had started")
        down(folder.root, say=say, local_services=started.local_services)
        raise


def _bring_up(options: UpOptions, started: Started, say: Callable[[str], None]) -> str:
    folder = started.folder
    kafka = options.kafka or _local_service("kafka", "KAFKA_BOOTSTRAP_SERVERS", started, say)
    postgres = options.postgres or _local_service("postgres", "ADOPTE_TEST_DATABASE_URL", started,
                                                  say)
    databases = {name: f"{options.database_prefix}{name}" for name in SERVICES}
    urls = asyncio.run(_create_databases(postgres, databases))
    say(f"databases: {', '.join(databases.values())}")
    data_dir = options.data_dir.resolve()
    _shared_key_pair(data_dir)
    ports = _ports(options.base_port, len(SERVICES))
    gateway_url = f"http://{_url_host(options.host)}:{options.port}"
    env = _service_environment(kafka, urls, data_dir, gateway_url, options.host)
    routes = {}
    for name, port in zip(SERVICES, ports, strict=True):
        _spawn(folder, name, ["serve", name, "--host", "127.0.0.1", "--port", str(port)], env)
        routes[service_bootstrap(name).SERVICE.prefix] = f"http://127.0.0.1:{port}"
    _spawn(folder, GATEWAY, ["gateway", "--host", options.host, "--port", str(options.port),
                             *(f"--route={prefix}={url}" for prefix, url in routes.items())], env)
    folder.state.write_text(json.dumps({
        "url": gateway_url,
        "services": {name: f"http://127.0.0.1:{port}"
                     for name, port in zip(SERVICES, ports, strict=True)},
        "gateway": gateway_url,
        "local_services": started.local_services,
    }, indent=2))
    _wait_until_ready(folder, options.ready_timeout_s, say)
    return gateway_url


def _local_service(script: str, variable: str, started: Started, say: Callable[[str], None]
                   ) -> str:
    """Start deploy/local/<script>.sh (or find it running) and return the address it prints."""
    running = _script(script, "status").returncode == 0
    result = _script(script, "start")
    if result.returncode != 0:
        raise DistributedError(f"deploy/local/{script}.sh start failed:\n{result.stderr[-2000:]}")
    if not running:
        started.local_services.append(script)
    lines = result.stdout.strip().splitlines()
    if not lines or not lines[-1].startswith(f"{variable}="):
        raise DistributedError(f"deploy/local/{script}.sh start printed no {variable}")
    address = lines[-1].split("=", 1)[1]
    say(f"{script}: {address}" + ("" if script in started.local_services else " (already running)"))
    return address


def _script(script: str, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LOCAL_SCRIPTS / f"{script}.sh"), command], cwd=REPO,
                          capture_output=True, text=True, timeout=900)


async def _create_databases(server_url: str, databases: dict[str, str]) -> dict[str, str]:
    """Create each service's database unless it exists; returns service → SQLAlchemy URL."""
    import asyncpg
    from sqlalchemy.engine import make_url

    server = make_url(server_url).set(drivername="postgresql+asyncpg")
    try:
        connection = await asyncpg.connect(
            server.set(drivername="postgresql").render_as_string(hide_password=False), timeout=30)
        try:
            existing = {row["datname"]
                        for row in await connection.fetch("SELECT datname FROM pg_database")}
            for name in databases.values():
                if name not in existing:
                    await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise DistributedError(f"cannot create the databases on {server!r}: "
                               f"{type(exc).__name__}: {exc}") from exc
    return {service: server.set(database=name).render_as_string(hide_password=False)
            for service, name in databases.items()}


def _shared_key_pair(data_dir: Path) -> None:
    """Every service verifies tokens with the key pair under the shared data dir."""
    if not os.environ.get("ADOPTE_JWT_PUBLIC_KEY_FILE"):
        from libs.auth.tokens import ensure_keypair

        ensure_keypair(data_dir / "keys")


def _ports(base_port: int, count: int) -> list[int]:
    """Consecutive ports from base_port, or free ones chosen by the system when it is 0."""
    if base_port:
        return list(range(base_port, base_port + count))
    ports = []
    for _ in range(count):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    return ports


def _url_host(host: str) -> str:
    if host in {"0.0.0.0", "::"}:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _service_environment(kafka: str, database_urls: dict[str, str], data_dir: Path,
                         gateway_url: str, host: str) -> dict[str, str]:
    # Browsers drop Secure cookies sent over plain http, which is how a hub is tried locally.
    defaults = {"ADOPTE_ACCOUNTS_COOKIE_SECURE": str(host not in LOCAL_HOSTS).lower(),
                "ADOPTE_NOTIFICATION_PUBLIC_URL": gateway_url}
    required = {"ADOPTE_BUS": "kafka", "ADOPTE_KAFKA_BOOTSTRAP_SERVERS": kafka,
                "ADOPTE_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1",
                **{f"ADOPTE_{name.upper()}_DATABASE_URL": url
                   for name, url in database_urls.items()}}
    return {**defaults, **os.environ, **required}


def _spawn(folder: RunFolder, name: str, args: list[str], env: dict[str, str]) -> None:
    with folder.log_file(name).open("ab") as log:
        # A session of its own: the process outlives this command and a Ctrl-C in its terminal.
        process = subprocess.Popen([sys.executable, "-m", "services.cli", *args], cwd=REPO,
                                   env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    folder.pid_file(name).write_text(f"{process.pid}\n")


def _wait_until_ready(folder: RunFolder, timeout_s: float, say: Callable[[str], None]) -> None:
    deadline = time.monotonic() + timeout_s
    waiting = set(folder.names())
    while waiting:
        for state in statuses(folder.root):
            if state.name not in waiting:
                continue
            if not state.running:
                raise DistributedError(f"{state.name} exited during startup:\n"
                                       f"{_tail(folder.log_file(state.name))}")
            if state.ready:
                say(f"{state.name} ready on {state.url}")
                waiting.discard(state.name)
        if waiting and time.monotonic() > deadline:
            tails = "\n".join(f"--- {name}:\n{_tail(folder.log_file(name))}" for name in waiting)
            raise DistributedError(f"not ready after {timeout_s:.0f}s: {', '.join(sorted(waiting))}"
                                   f"\n{tails}")
        if waiting:
            time.sleep(0.2)


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def statuses(run_dir: Path) -> list[ProcessStatus]:
    """Every process of the run: alive or not, and whether it answers /readyz."""
    folder = RunFolder(run_dir.resolve())
    state = folder.read_state()
    urls = {**state.get("services", {}), GATEWAY: state.get("gateway")}
    found = []
    for name in folder.names():
        pid = _pid(folder, name)
        running = _alive(folder, name)
        url = urls.get(name)
        ready = _answers_ready(url) if running and url else None
        found.append(ProcessStatus(name, pid, running, url, ready, folder.log_file(name)))
    return found


def _answers_ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def down(run_dir: Path, *, timeout_s: float = 20.0, say: Callable[[str], None] = print,
         local_services: list[str] | None = None) -> None:
    """Stop the gateway, then the services (SIGTERM, wait, then SIGKILL), then the local Kafka
    and PostgreSQL that `up` started."""
    folder = RunFolder(run_dir.resolve())
    state = folder.read_state()
    names = folder.names()
    # The gateway first, so that no request reaches a service on its way out.
    _stop(folder, [name for name in names if name == GATEWAY], timeout_s, say)
    _stop(folder, [name for name in names if name != GATEWAY], timeout_s, say)
    started = local_services if local_services is not None else state.get("local_services", [])
    for script in reversed(started):
        result = _script(script, "stop")
        say(f"{script}: " + ("stopped" if result.returncode == 0 else
                             f"stop failed: {result.stderr[-500:]}"))
    folder.state.unlink(missing_ok=True)


def _stop(folder: RunFolder, names: list[str], timeout_s: float, say: Callable[[str], None]
          ) -> None:
    """SIGTERM to each at once, wait for all, SIGKILL whoever is left at the deadline."""
    running = {name: _pid(folder, name) for name in names if _alive(folder, name)}
    for pid in running.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while any(process_exists(pid) for pid in running.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    for name, pid in running.items():
        if process_exists(pid):
            say(f"{name}: still running after {timeout_s:.0f}s, killing it")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    while any(process_exists(pid) for pid in running.values()):
        time.sleep(0.05)
    for name in names:
        folder.pid_file(name).unlink(missing_ok=True)
        if name in running:
            say(f"{name}: stopped")


def _pid(folder: RunFolder, name: str) -> int | None:
    try:
        return int(folder.pid_file(name).read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(folder: RunFolder, name: str) -> bool:
    """The pid file's process runs and is still ours (a recycled pid belongs to someone else)."""
    pid = _pid(folder, name)
    if pid is None or not process_exists(pid):
        return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return True
    marker = "services.cli gateway" if name == GATEWAY else f"services.cli serve {name}"
    return marker in command


def process_exists(pid: int) -> bool:
    """Running and not a zombie (a zombie has exited and only waits for its parent)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
