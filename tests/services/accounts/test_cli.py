"""`adopte accounts`: accounts written straight into the accounts database, whether the hub runs
or not, their UserRegistered left in the outbox for the hub's relay."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
from sqlalchemy import select
from typer.testing import CliRunner

from libs.contracts import registry
from libs.contracts.accounts import UserRegistered
from services.accounts.bootstrap import AccountsSettings
from services.cli import app
from services.host import EmbeddedHost
from tests.services.accounts.conftest import PASSWORD, running_accounts
from tests.support.waiting import eventually

REPO = Path(__file__).resolve().parents[3]


async def adopte(*args: str):
    """The command in this process (typer's runner), off the event loop: it runs its own."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


async def test_the_cli_creates_a_platform_admin_who_can_then_sign_in(tmp_path):
    result = await adopte("accounts", "create", "--email", " Awa@Example.org", "--password", PASSWORD,
                          "--role", "platform_admin", "--name", "Awa Diallo",
                          "--data-dir", str(tmp_path))

    assert result.exit_code == 0, result.output
    user_id = result.stdout.strip()
    async with running_accounts(AccountsSettings(data_dir=tmp_path, bus="embedded")) as accounts:
        token = await accounts.token(email="awa@example.org")
        me = await accounts.client.get("/accounts/api/v1/me",
                                       headers={"Authorization": f"Bearer {token}"})
        assert me.json() == {"id": user_id, "email": "awa@example.org", "name": "Awa Diallo",
                             "roles": ["platform_admin", "resident"]}
        [written] = await accounts.outbox()
        assert written.event == UserRegistered(user_id=user_id, email="awa@example.org",
                                               name="Awa Diallo",
                                               roles=["platform_admin", "resident"])


async def test_the_cli_refuses_an_address_already_used(tmp_path):
    create = ("accounts", "create", "--password", PASSWORD, "--role", "resident",
              "--data-dir", str(tmp_path))
    assert (await adopte(*create, "--email", "awa@example.org")).exit_code == 0

    again = await adopte(*create, "--email", "AWA@example.org")

    assert again.exit_code == 1
    assert "an account already exists for awa@example.org" in again.stderr


async def test_the_cli_refuses_invalid_input_and_writes_nothing(tmp_path):
    result = await adopte("accounts", "create", "--email", "awa@", "--password", "too short",
                          "--role", "resident", "--data-dir", str(tmp_path))

    assert result.exit_code == 2
    assert "--email: this is not a valid e-mail address" in result.stderr
    assert "--password: the password must be at least 10 characters long" in result.stderr
    assert not (tmp_path / "accounts.sqlite3").exists()


async def test_the_cli_lists_the_accounts(tmp_path):
    await adopte("accounts", "create", "--email", "awa@example.org", "--password", PASSWORD,
                 "--role", "resident", "--name", "Awa", "--data-dir", str(tmp_path))

    listed = await adopte("accounts", "list", "--data-dir", str(tmp_path))

    assert listed.exit_code == 0 and "awa@example.org" in listed.stdout


async def adopte_in_another_process(*args: str) -> str:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ADOPTE_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", *args, cwd=REPO, env=environment,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    return stdout.decode().strip()


async def test_accounts_created_by_the_cli_reach_the_bus_whether_the_hub_runs_or_not(tmp_path):
    create = ("accounts", "create", "--password", PASSWORD, "--role", "resident",
              "--data-dir", str(tmp_path))
    before = (await adopte(*create, "--email", "before@example.org")).stdout.strip()
    host = EmbeddedHost(tmp_path, seed_demo=False)
    async with host.root.router.lifespan_context(host.root):
        during = await adopte_in_another_process(*create, "--email", "during@example.org")
        accounts = host.runtime("accounts")
        outbox = accounts.definition.metadata.tables["outbox"]

        async def published() -> dict[str, bool]:
            async with accounts.database.sessions() as session:
                rows = (await session.execute(select(outbox.c.envelope, outbox.c.published_at))).all()
            return {str(registry.decode_bytes(r.envelope)[1].user_id): r.published_at is not None
                    for r in rows}

        await eventually(lambda: _all_true(published(), {before, during}), timeout=10,
                         message="the hub's relay publishing the CLI's UserRegistered")
        transport = httpx.ASGITransport(app=host)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            for email in ("before@example.org", "during@example.org"):
                token = await client.post("/accounts/api/v1/token",
                                          json={"email": email, "password": PASSWORD})
                assert token.status_code == 200, token.text


async def _all_true(flags, expected: set[str]) -> bool:
    found = await flags
    return set(found) == expected and all(found.values())
