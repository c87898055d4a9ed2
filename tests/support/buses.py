"""A bus of either adapter on a test's own storage, and a small service that applies HubOpened
through the real runtime (decoding, inbox, one transaction per event), for the dead-letter tests.

On the shared Kafka broker every topic and group name carries a random suffix, so that test runs
at the same time never read each other's records."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from libs.contracts.pickup import HubOpened
from libs.kit.runtime import ServiceDefinition, ServiceRuntime, UnitOfWork
from libs.kit.settings import ServiceSettings
from libs.messaging.dead_letter_logs import EmbeddedDeadLetterLog, KafkaDeadLetterLog
from libs.messaging.embedded import EmbeddedBus
from libs.messaging.inbox import inbox_table
from libs.messaging.outbox import outbox_table
from libs.messaging.port import EventBus, RetryPolicy

FAST_RETRY = RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.05)
BROKEN_HUB = "Boom"
"""The hub name a broken handler cannot apply."""


def unique_names() -> Callable[[str], str]:
    suffix = uuid.uuid4().hex[:10]
    return lambda stem: f"dlq-test.{stem}.{suffix}"


class BusKind:
    """One adapter's bus and dead-letter log, on one test's storage."""

    def __init__(self, kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.kind = kind
        self.data_dir = tmp_path / "hub"
        self.servers = (request.getfixturevalue("kafka_bootstrap_servers") if kind == "kafka"
                        else None)

    def bus(self) -> EventBus:
        if self.servers:
            from libs.messaging.kafka import KafkaBus

            return KafkaBus(self.servers, client_id=f"dlq-test-{uuid.uuid4().hex[:8]}")
        self.data_dir.mkdir(exist_ok=True)
        return EmbeddedBus(self.data_dir / "bus.sqlite3")

    def log(self):
        if self.servers:
            return KafkaDeadLetterLog(self.servers)
        return EmbeddedDeadLetterLog(self.data_dir / "bus.sqlite3")

    def cli_options(self) -> list[str]:
        """What tells `adopte dlq` where this bus is."""
        return ["--kafka", self.servers] if self.servers else ["--data-dir", str(self.data_dir)]


METADATA = MetaData()
outbox_table(METADATA)
inbox_table(METADATA)
HUBS_APPLIED = Table("hubs_applied", METADATA,
                     Column("position", Integer, primary_key=True, autoincrement=True),
                     Column("name", String(200), nullable=False))


class HubService:
    """Applies HubOpened by writing the hub's name; raises on ``BROKEN_HUB`` while ``broken``."""

    runtime: ServiceRuntime

    def __init__(self) -> None:
        self.broken = True

    async def remember(self, event: HubOpened, uow: UnitOfWork) -> None:
        if self.broken and event.name == BROKEN_HUB:
            raise RuntimeError(f"the handler cannot apply {event.name}")
        await uow.session.execute(insert(HUBS_APPLIED).values(name=event.name))

    async def applied(self) -> list[str]:
        async with self.runtime.database.sessions() as session:
            rows = await session.execute(select(HUBS_APPLIED.c.name).order_by(HUBS_APPLIED.c.position))
            return list(rows.scalars())


@contextlib.asynccontextmanager
async def hub_service(name: str, folder: Path) -> AsyncIterator[HubService]:
    """The runtime's event handling (not its consumer: tests give it a group and topic of their
    own) on an SQLite database; ``name`` is a contracts module (pickup, order...), and makes the
    group its inbox keys on."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = ServiceSettings(data_dir=folder, database_url=f"sqlite+aiosqlite:///{folder}/db.sqlite3",
                               outbox_relay=False)
    service = HubService()
    definition = ServiceDefinition(name=name, prefix=f"/{name}", metadata=METADATA,
                                   subscriptions={HubOpened: [service.remember]})
    service.runtime = runtime = ServiceRuntime(definition, settings, bus=None, owns_bus=False)
    await runtime.database.start(create_tables=True)
    try:
        yield service
    finally:
        await runtime.database.stop()


def hub_opened(name: str, hub_id: uuid.UUID | None = None) -> HubOpened:
    return HubOpened(hub_id=hub_id or uuid.uuid4(), name=name, town="Lannion", address="2 quai")
