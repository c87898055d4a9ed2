"""The accounts service running in-process on a database of its own, and what it wrote."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from libs.contracts import Envelope, Event, registry
from libs.kit.runtime import ServiceRuntime
from services.accounts.bootstrap import AccountsSettings
from services.accounts.main import create_app
from tests.support.csrf import csrf_ready

PASSWORD = "correct horse battery staple"


@dataclass
class Written:
    topic: str
    envelope: Envelope
    event: Event


@dataclass
class RunningAccounts:
    client: httpx.AsyncClient
    runtime: ServiceRuntime

    async def sign_up(self, email: str = "alice@example.org", name: str = "Alice Martin",
                      password: str = PASSWORD) -> dict:
        response = await self.client.post("/accounts/api/v1/users",
                                          json={"email": email, "password": password, "name": name})
        assert response.status_code == 201, response.text
        return response.json()

    async def token(self, email: str = "alice@example.org", password: str = PASSWORD) -> str:
        response = await self.client.post("/accounts/api/v1/token",
                                          json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    async def outbox(self) -> list[Written]:
        table = self.runtime.definition.metadata.tables["outbox"]
        async with self.runtime.database.sessions() as session:
            rows = (await session.execute(select(table.c.topic, table.c.envelope)
                                          .order_by(table.c.id))).all()
        return [Written(row.topic, *registry.decode_bytes(row.envelope)) for row in rows]

    async def user_count(self) -> int:
        table = self.runtime.definition.metadata.tables["users"]
        async with self.runtime.database.sessions() as session:
            return len((await session.execute(select(table.c.id))).all())


@asynccontextmanager
async def running_accounts(settings: AccountsSettings) -> AsyncIterator[RunningAccounts]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with csrf_ready(httpx.AsyncClient(transport=transport, base_url="http://accounts")) as client:
            yield RunningAccounts(client, app.state.runtime)


@pytest.fixture
async def accounts(tmp_path) -> AsyncIterator[RunningAccounts]:
    """On SQLite, with the Secure cookie flag on as in production."""
    settings = AccountsSettings(data_dir=tmp_path, bus="embedded", database_url=None)
    async with running_accounts(settings) as running:
        yield running


@pytest.fixture
async def accounts_on_each_database(tmp_path, database_url) -> AsyncIterator[RunningAccounts]:
    settings = AccountsSettings(data_dir=tmp_path, bus="embedded", database_url=database_url)
    async with running_accounts(settings) as running:
        yield running
