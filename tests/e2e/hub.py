"""A running hub for end-to-end tests, reached over real HTTP whichever runtime serves it.

``Hub.url(path)`` sends each path to the process that serves its prefix: the one embedded process,
or, distributed, the process of the service owning the prefix.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from dataclasses import dataclass, field

import httpx

from tests.support.processes import REPO_ROOT, ServiceProcess
from tests.support.waiting import eventually

PREFIXES = {"/accounts": "accounts", "/catalog": "catalog", "/orders": "order",
            "/payments": "payment", "/pickup": "pickup", "/notifications": "notification"}


@dataclass
class Hub:
    processes: dict[str, ServiceProcess]
    env: dict[str, str]
    admin_email: str = "admin@adopte.test"
    admin_password: str = "mot-de-passe-admin"
    client: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=15))

    def url(self, path: str) -> str:
        service = next((s for p, s in PREFIXES.items() if path.startswith(p + "/")), None)
        process = self.processes.get(service) or self.processes["embedded"]
        return process.url + path

    async def request(self, method: str, path: str, *, token: str | None = None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return await self.client.request(method, self.url(path), headers=headers, **kwargs)

    async def eventually_ok(self, method: str, path: str, *, expect: int = 200, timeout=30,
                            **kwargs) -> httpx.Response:
        """Repeat a request until it answers ``expect``: another service may not have heard yet
        of what it needs (a new account, hub or product reaches it by event)."""
        answers: list[httpx.Response] = []

        async def answered() -> bool:
            answers.append(await self.request(method, path, **kwargs))
            return answers[-1].status_code == expect

        try:
            await eventually(answered, timeout=timeout, interval=0.1,
                             message=f"{method} {path} → {expect}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last answer {answers[-1].status_code} "
                                 f"{answers[-1].text[:500]}") from None
        return answers[-1]

    def create_admin(self) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "services.cli", "accounts", "create", "--email", self.admin_email,
             "--password", self.admin_password, "--role", "platform_admin", "--name", "Admin",
             *(["--data-dir", self.env["ADOPTE_DATA_DIR"]] if "ADOPTE_DATA_DIR" in self.env else [])],
            cwd=REPO_ROOT, env={**_base_env(), **self.env}, capture_output=True, text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    async def sign_up(self, name: str) -> tuple[str, str]:
        """A new resident account; returns (e-mail, token)."""
        email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@adopte.test"
        password = f"{name}-secret-123"
        created = await self.request("POST", "/accounts/api/v1/users",
                                     json={"email": email, "password": password, "name": name})
        assert created.status_code == 201, created.text
        return email, await self.token(email, password)

    async def token(self, email: str, password: str) -> str:
        answer = await self.request("POST", "/accounts/api/v1/token",
                                    json={"email": email, "password": password})
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]

    def logged(self) -> list[dict]:
        """Every JSON log line its processes wrote so far."""
        entries = []
        for process in self.processes.values():
            for line in process.log_path.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    entries.append(json.loads(line))
        return entries

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()


def _base_env() -> dict[str, str]:
    import os

    return dict(os.environ)
