"""The processes a benchmark runs against: `adopte dev` (embedded), `adopte serve <service>` per
service (distributed), the bare baseline; started, waited on until they answer /readyz, measured
(peak RSS) and always stopped. Their output goes to log files, for when things go wrong."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVICES = ["accounts", "catalog", "notification", "order", "payment", "pickup"]
PREFIXES = {"/accounts": "accounts", "/catalog": "catalog", "/orders": "order",
            "/payments": "payment", "/pickup": "pickup", "/notifications": "notification"}


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Process:
    def __init__(self, name: str, args: list[str], *, env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.port = free_port()
        self.args = [*args, "--port", str(self.port)]
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def start(self) -> Process:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, *self.args], cwd=REPO_ROOT,
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        return self

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f}s:\n{self.log_tail()}")

    def memory_kib(self) -> dict[str, int]:
        """Peak (VmHWM) and current (VmRSS) resident set, in KiB, while it runs."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        return {key: int(re.search(rf"^{key}:\s+(\d+) kB", status, re.M).group(1))
                for key in ("VmHWM", "VmRSS")}

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def adopte(name: str, args: list[str], *, env: dict[str, str], log_dir: Path) -> Process:
    return Process(name, ["-m", "services.cli", *args], env=env, log_path=log_dir / f"{name}.log")


def bare(log_dir: Path, *, stack: bool = False) -> Process:
    name = "stack" if stack else "bare"
    return Process(name, ["-m", "bench.bare", *(["--stack"] if stack else [])], env={},
                   log_path=log_dir / f"{name}.log")


class Deployment:
    """The processes of one runtime and where each path prefix is served."""

    def __init__(self, runtime: str, processes: dict[str, Process], env: dict[str, str]) -> None:
        self.runtime = runtime
        self.processes = processes
        self.env = env

    def base_url(self, path: str) -> str:
        service = next((s for p, s in PREFIXES.items() if path.startswith(p + "/")), None)
        process = self.processes.get(service) or self.processes["embedded"]
        return process.url

    def url(self, path: str) -> str:
        return self.base_url(path) + path

    def start(self) -> None:
        try:
            for process in self.processes.values():
                process.start()
            for process in self.processes.values():
                process.wait_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()

    def cli(self, *args: str) -> str:
        """An `adopte` command against this deployment's databases (e.g. accounts create)."""
        data_dir = self.env.get("ADOPTE_DATA_DIR")
        done = subprocess.run(
            [sys.executable, "-m", "services.cli", *args,
             *(["--data-dir", data_dir] if data_dir else [])],
            cwd=REPO_ROOT, env={**os.environ, **self.env}, capture_output=True, text=True,
            timeout=120, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"adopte {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout
