"""A running service: its database, its outbox relay and its consumer, started and stopped together.

Each service's ``bootstrap.py`` builds one from its settings; the app's lifespan starts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, NamedTuple

from fastapi import APIRouter
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncSession

from libs.auth.tokens import TokenVerifier
from libs.contracts import ContractError, Envelope, Event, registry
from libs.correlation import correlation_id, current_correlation_id
from libs.kit.db import Database
from libs.kit.migrations import migrations_for, prepare
from libs.kit.settings import ServiceSettings
from libs.messaging.delivery import PoisonMessage
from libs.messaging.inbox import Inbox
from libs.messaging.outbox import Outbox, OutboxRelay
from libs.messaging.port import Consumer, EventBus, Record, TopicSpec

log = logging.getLogger(__name__)


RuntimeWork = Callable[["ServiceRuntime"], Awaitable[None]]
"""Work done with the running service at hand: periodic work, or work left for after a commit."""


@dataclass
class UnitOfWork:
    """One transaction of a service: state changes and the events they cause, committed together.

    ``settings`` and ``adapters`` are those of the running service, so that an event handler can
    read a setting or reach a port (a payment provider, say). ``after_commit`` leaves work for
    once the transaction has committed, outside it (a call to the outside world, say). A unit of
    work made without a runtime (the CLI's) has no adapters, and nobody runs its after-commit work.
    """

    session: AsyncSession
    outbox: Outbox
    correlation_id: str
    cause: Envelope | None = None
    settings: ServiceSettings | None = None
    adapters: Mapping[str, Any] = field(default_factory=dict)
    after_commit_work: list[RuntimeWork] = field(default_factory=list, init=False, repr=False)

    async def emit(self, event: Event) -> None:
        await self.emit_all([event])

    async def emit_all(self, events: Sequence[Event]) -> None:
        """Each event, in order, written in one statement."""
        await self.outbox.add_all(
            self.session,
            events,
            correlation_id=self.correlation_id,
            causation_id=str(self.cause.event_id) if self.cause else None,
        )

    def after_commit(self, work: RuntimeWork) -> None:
        """Runs ``work(runtime)`` once this transaction has committed, and never if it rolls back.

        The runtime starts it as a task (after the handler's or the use case's transaction),
        in the order the work was left; a failure is logged and does not touch the committed
        transaction, so work that must happen in the end also needs a retry (periodic work)."""
        self.after_commit_work.append(work)


EventHandler = Callable[[Any, UnitOfWork], Awaitable[None]]
# Locks the rows a batch's handlers will take, all at once and in one order, before the first
# handler runs: each handler locking its own rows in a fixed order keeps single events from
# deadlocking, but two batches applying several events each would take them event by event.
BatchLocks = Callable[[AsyncSession, Sequence[Event]], Awaitable[None]]


@dataclass(frozen=True)
class Periodic:
    """Work a service does on a clock (expiring unpaid orders, say), not in answer to an event.

    ``every_s`` is a number of seconds, or a function of the service's settings when the period
    is a setting (``lambda settings: settings.sweep_interval_s``)."""

    every_s: float | Callable[[Any], float]
    run: RuntimeWork

    def period_s(self, settings: ServiceSettings) -> float:
        return self.every_s(settings) if callable(self.every_s) else self.every_s


@dataclass(frozen=True)
class ServiceDefinition:
    """What a service is, independent of how it runs."""

    name: str
    prefix: str
    metadata: MetaData
    subscriptions: Mapping[type[Event], Sequence[EventHandler]] = field(default_factory=dict)
    routers: Sequence[APIRouter] = ()
    periodic: Sequence[Periodic] = ()
    batch_locks: BatchLocks | None = None
    # ASGI middleware of the service's own, inside those of every service (given the prefix):
    # answers it gives before routing.
    middleware: Sequence[type] = ()

    @property
    def group(self) -> str:
        return f"adopte.{self.name}"

    def published_topics(self) -> list[str]:
        contracts = import_module(f"libs.contracts.{self.name}").__name__
        return sorted({c.topic for c in registry if c.__module__ == contracts})

    def subscribed_topics(self) -> list[str]:
        return sorted({event.topic for event in self.subscriptions})


def bus_from_settings(settings: ServiceSettings, client_id: str) -> EventBus:
    if settings.bus == "kafka":
        from libs.messaging.kafka import KafkaBus

        return KafkaBus(settings.kafka_bootstrap_servers, client_id=client_id)
    from libs.messaging.embedded import EmbeddedBus

    return EmbeddedBus(settings.bus_path, default_partitions=settings.topic_partitions)


def build_runtime(
    definition: ServiceDefinition,
    settings: ServiceSettings,
    bus: EventBus | None = None,
    *,
    adapters: Mapping[str, Any] | None = None,
) -> ServiceRuntime:
    """Given a bus (the embedded runtime shares one), the service uses it and its owner starts
    it; otherwise the service makes its own from the settings. ``adapters`` are the service's
    own ports (a payment provider, say); those with start()/stop() run with the service."""
    return ServiceRuntime(
        definition,
        settings,
        bus=bus or bus_from_settings(settings, client_id=definition.name),
        owns_bus=bus is None,
        adapters=adapters,
    )


class ServiceRuntime:
    lag_refresh_s = 5.0
    after_commit_grace_s = 10.0

    def __init__(
        self,
        definition: ServiceDefinition,
        settings: ServiceSettings,
        *,
        bus: EventBus,
        owns_bus: bool,
        database: Database | None = None,
        adapters: Mapping[str, Any] | None = None,
    ) -> None:
        self.definition = definition
        self.settings = settings
        self.bus = bus
        self.owns_bus = owns_bus
        self.database = database or Database(
            settings.database_url_for(definition.name), definition.metadata,
            service=definition.name,
        )
        self.outbox = Outbox(definition.metadata.tables["outbox"])
        self.inbox = Inbox(definition.metadata.tables["inbox"])
        self.relay: OutboxRelay | None = None
        self.consumer: Consumer | None = None
        self.adapters = dict(adapters or {})
        self.token_verifier: TokenVerifier | None = None
        self._tasks: list[asyncio.Task] = []
        self._stopping = asyncio.Event()
        self._after_commit_tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        self._stopping.clear()
        _, public_key = self.settings.jwt_key_files()
        self.token_verifier = TokenVerifier(public_key.read_text())
        migrations = migrations_for(self.definition.name, self.definition.metadata)
        await self.database.start(create_tables=migrations is None)
        if migrations is not None:
            await prepare(self.database.engine, migrations, apply=self.settings.migrate_on_start)
        for adapter in self.adapters.values():
            if hasattr(adapter, "start"):
                await adapter.start()
        if self.owns_bus:
            await self.bus.start()
        topics = set(self.definition.published_topics()) | set(self.definition.subscribed_topics())
        await self.bus.ensure_topics(
            [TopicSpec(t, self.settings.topic_partitions) for t in sorted(topics)]
        )
        if self.settings.outbox_relay and self.definition.published_topics():
            self.relay = OutboxRelay(
                self.outbox, self.database.sessions, self.bus, service=self.definition.name
            )
            await self.relay.start()
        if self.definition.subscriptions:
            self.consumer = self.bus.consumer(
                self.definition.group, self.definition.subscribed_topics(), self.handle,
                batch_handler=self.handle_batch,
            )
            await self.consumer.start()
            self._tasks.append(asyncio.create_task(self._every(self.lag_refresh_s, _refresh_lag)))
        for periodic in self.definition.periodic:
            self._tasks.append(asyncio.create_task(
                self._every(periodic.period_s(self.settings), periodic.run)))

    async def stop(self) -> None:
        # Periodic work finishes its round: cancelled inside a transaction, it could leave an
        # SQLite connection holding the write lock.
        self._stopping.set()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=self.after_commit_grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.consumer:
            await self.consumer.stop()
        if not await self.settle(timeout=self.after_commit_grace_s):
            late = [task for task in self._after_commit_tasks if not task.done()]
            log.warning("cancelling after-commit work still running at stop", extra={"tasks": len(late)})
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self.relay:
            await self.relay.stop()
        if self.owns_bus:
            await self.bus.stop()
        for adapter in reversed(self.adapters.values()):
            if hasattr(adapter, "stop"):
                await adapter.stop()
        await self.database.stop()

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """One transaction of a use case; its after-commit work starts once it has committed."""
        async with self.database.sessions() as session:
            async with session.begin():
                uow = self._unit_of_work(session, correlation_id())
                yield uow
        self._start_after_commit(uow)

    async def handle(self, record: Record) -> None:
        """Apply one event with every handler subscribed to its type, once, in one transaction;
        then start the work the handlers left for after the commit."""
        await self.handle_batch([record])

    async def handle_batch(self, records: Sequence[Record]) -> None:
        """Apply events in order, as ``handle`` does, all in one transaction: one commit (and
        one inbox and one outbox statement) for the lot. Raises, having applied none of them,
        when any handler does; the consumer then hands them over one at a time."""
        due = [arrival for arrival in map(self._decode, records) if arrival.handlers]
        if not due:
            return
        applied = []
        async with self.database.sessions() as session:
            async with session.begin():
                claimed = await self.inbox.claim_all(
                    session, consumer=self.definition.group,
                    event_ids=[str(arrival.envelope.event_id) for arrival in due])
                if self.definition.batch_locks is not None and len(claimed) > 1:
                    await self.definition.batch_locks(session, [
                        arrival.event for arrival in due
                        if str(arrival.envelope.event_id) in claimed])
                for arrival in due:
                    event_id = str(arrival.envelope.event_id)
                    if event_id not in claimed:
                        continue
                    claimed.discard(event_id)  # the same event twice in a batch: applied once
                    with _correlated(arrival.envelope.correlation_id):
                        uow = self._unit_of_work(session, arrival.envelope.correlation_id,
                                                 arrival.envelope)
                        for handler in arrival.handlers:
                            await handler(arrival.event, uow)
                    applied.append((arrival, uow))
        for arrival, uow in applied:
            with _correlated(arrival.envelope.correlation_id):
                # One line per event a service acts on: following a correlation id through the
                # logs shows every step of its saga, in every service.
                log.info("event handled", extra={
                    "service": self.definition.name, "event_type": arrival.envelope.type,
                    "event_id": str(arrival.envelope.event_id), "key": arrival.record.key})
                self._start_after_commit(uow)  # in the event's context: its logs carry its saga

    def _decode(self, record: Record) -> _Arrival:
        # A consumer reads every event of its topics but acts on a few types: the payload of
        # the others is not validated, which was a third of the records a checkout passes.
        try:
            envelope = registry.envelope(record.value)
            handlers = self.definition.subscriptions.get(
                registry.lookup(envelope.type, envelope.version), ())
            event = registry.decode(envelope) if handlers else None
        except ContractError as exc:
            raise PoisonMessage(str(exc)) from exc
        return _Arrival(record, envelope, event, handlers)

    async def settle(self, timeout: float | None = None) -> bool:
        """Waits until the after-commit work started so far (and any work it starts in turn) has
        finished; False when some is still running after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while running := {task for task in self._after_commit_tasks if not task.done()}:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            await asyncio.wait(running, timeout=left)
        return True

    def _unit_of_work(self, session: AsyncSession, correlation: str,
                      cause: Envelope | None = None) -> UnitOfWork:
        return UnitOfWork(session, self.outbox, correlation, cause, settings=self.settings,
                          adapters=self.adapters)

    def _start_after_commit(self, uow: UnitOfWork) -> None:
        if not uow.after_commit_work:
            return
        task = asyncio.create_task(self._after_commit(list(uow.after_commit_work)))
        self._after_commit_tasks.add(task)
        task.add_done_callback(self._after_commit_tasks.discard)

    async def _after_commit(self, works: list[RuntimeWork]) -> None:
        for work in works:
            try:
                await work(self)
            except Exception:
                log.exception("after-commit work failed", extra={"work": _name(work)})

    async def ready(self) -> dict[str, str]:
        """What is not ready, by part; empty when the service can take traffic."""
        problems = {}
        try:
            async with self.database.engine.connect() as connection:
                await connection.execute(text("select 1"))
        except Exception as exc:  # noqa: BLE001 (any failure means not ready)
            problems["database"] = repr(exc)
        if self.relay and self.relay.failing:
            problems["outbox_relay"] = "publishing to the bus keeps failing"
        return problems

    async def _every(self, seconds: float, work: RuntimeWork) -> None:
        while not self._stopping.is_set():
            try:
                await work(self)
            except Exception:
                log.exception("periodic work failed", extra={"work": _name(work)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)


def freeze_start_up_objects() -> None:
    """Moves what start-up built (modules, table metadata, templates, pydantic validators, the
    bus's and the pools' objects), which lives as long as the process, out of the collector's
    reach: each full collection scanned all of it, pausing the process for 100 to 230 ms every
    few seconds under load (the hub page's p95 at 1,000 req/s was 150 ms for it)."""
    gc.collect()
    gc.freeze()


class _Arrival(NamedTuple):
    record: Record
    envelope: Envelope
    event: Event | None  # None when no handler wants it
    handlers: Sequence[EventHandler]


@contextlib.contextmanager
def _correlated(correlation: str) -> Iterator[None]:
    token = current_correlation_id.set(correlation)
    try:
        yield
    finally:
        current_correlation_id.reset(token)


def _name(work: Callable) -> str:
    return getattr(work, "__qualname__", None) or repr(work)


async def _refresh_lag(runtime: ServiceRuntime) -> None:
    await runtime.consumer.lag()
