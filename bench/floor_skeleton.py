"""The skeleton saga of bench/floor.py: the five services of the checkout with their business taken
out, keeping only what the design mandates (outbox in the producing transaction, relay, durable
bus, inbox in the consuming transaction) on the real runtime, bus adapters and contracts.

A ``Node`` is the part of the saga one process runs: all five services (embedded) or one
(distributed). Its ``Tally`` counts what crosses it, and wakes whoever waits for a count.
"""

from __future__ import annotations

import asyncio
import collections
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib import import_module
from typing import Any

from sqlalchemy import MetaData, event, func, select

from libs.contracts import Event
from libs.contracts.catalog import ReservedLine, StockLevelChanged, StockReserved
from libs.contracts.order import (
    OrderConfirmed,
    OrderLine,
    OrderPart,
    OrderPlaced,
    PaymentRequested,
)
from libs.contracts.payment import PaymentStarted, PaymentSucceeded, ProcessorFeeCharged, ShopShare
from libs.contracts.pickup import PickupScheduled, SlotHeld
from libs.correlation import current_correlation_id
from libs.kit.db import SQL_STATEMENTS
from libs.kit.runtime import (
    EventHandler,
    ServiceDefinition,
    ServiceRuntime,
    UnitOfWork,
    freeze_start_up_objects,
)
from libs.kit.settings import ServiceSettings
from libs.messaging.embedded import EmbeddedBus
from libs.messaging.inbox import inbox_table
from libs.messaging.outbox import outbox_table
from libs.messaging.port import BatchHandler, EventBus, Handler, Message, RetryPolicy, TopicSpec

SERVICES = ("catalog", "order", "payment", "pickup", "notification")
# The checkout's events, in the order the saga emits them, with the services whose handlers
# take each one (read from the real subscriptions at import, see expected_claims).
CHAIN = (OrderPlaced, StockReserved, StockLevelChanged, StockLevelChanged, SlotHeld,
         PaymentRequested, PaymentStarted, PaymentSucceeded, ProcessorFeeCharged, OrderConfirmed,
         PickupScheduled)
COMMISSION_BPS = 800
STATEMENT_KINDS = ("begin", "inbox claim", "outbox insert", "relay select", "relay update",
                   "relay lock", "other")


def real_subscriptions(service: str) -> list[type[Event]]:
    """The event types the real service subscribes to: the skeleton reads the same topics and
    claims the same events."""
    return list(import_module(f"services.{service}.subscriptions").SUBSCRIPTIONS)


def expected_claims(services: Sequence[str] = SERVICES) -> dict[str, int]:
    """Inbox claims per checkout, per service: one per event of the chain it subscribes to."""
    return {s: sum(1 for e in CHAIN if e in set(real_subscriptions(s))) for s in services}


def expected_reads(services: Sequence[str] = SERVICES) -> dict[str, int]:
    """Records delivered per checkout, per service: every record of the topics it reads."""
    reads = {}
    for s in services:
        topics = {e.topic for e in real_subscriptions(s)}
        reads[s] = sum(1 for e in CHAIN if e.topic in topics)
    return reads


class Tally:
    """What one process has counted, and futures waiting for a count to reach a target."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.injected: dict[uuid.UUID, float] = {}
        self.latencies_ms: list[float] = []
        self._waiting: list[tuple[str, int, asyncio.Future]] = []

    def bump(self, kind: str, by: int = 1) -> None:
        self.counts[kind] += by
        if self._waiting:
            reached = [w for w in self._waiting if self.counts[w[0]] >= w[1]]
            for waiter in reached:
                self._waiting.remove(waiter)
                if not waiter[2].done():
                    waiter[2].set_result(None)

    async def reach(self, kind: str, target: int) -> None:
        if self.counts[kind] >= target:
            return
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((kind, target, future))
        await future


def statement_kind(statement: str) -> str:
    words = statement.lstrip().lower()
    if words.startswith("begin"):
        return "begin"
    if words.startswith("insert into inbox"):
        return "inbox claim"
    if words.startswith("insert into outbox"):
        return "outbox insert"
    if "pg_advisory_xact_lock" in words:
        return "relay lock"
    if words.startswith("select") and "from outbox" in words:
        return "relay select"
    if words.startswith("update outbox"):
        return "relay update"
    return "other"


class PrefixedBus:
    """A bus whose topics and groups carry a prefix of the run's: the skeleton shares a broker
    with other work, whose consumers must neither read its records nor lend it theirs."""

    def __init__(self, bus: EventBus, prefix: str) -> None:
        self.bus = bus
        self.prefix = prefix

    async def start(self) -> None:
        await self.bus.start()

    async def stop(self) -> None:
        await self.bus.stop()

    async def ensure_topics(self, topics: Sequence[TopicSpec]) -> None:
        await self.bus.ensure_topics([TopicSpec(self.prefix + t.name, t.partitions) for t in topics])

    async def publish(self, messages: Sequence[Message]) -> None:
        await self.bus.publish([replace(m, topic=self.prefix + m.topic) for m in messages])

    def consumer(self, group: str, topics: Sequence[str], handler: Handler, *,
                 retry: RetryPolicy | None = None, batch_handler: BatchHandler | None = None):
        return self.bus.consumer(self.prefix + group, [self.prefix + t for t in topics], handler,
                                 retry=retry, batch_handler=batch_handler)


class CountingRuntime(ServiceRuntime):
    """The real runtime; it only counts the records its consumer hands over."""

    tally: Tally

    async def handle_batch(self, records) -> None:
        self.tally.bump("read", len(records))
        self.tally.bump(f"read:{self.definition.name}", len(records))
        await super().handle_batch(records)


def new_order() -> OrderPlaced:
    """Two shops' parts, one line each: the payloads of a small real basket."""
    parts = []
    for shop, (name, label, price) in enumerate((("Pain de campagne", "800 g", 420),
                                                 ("Comté 18 mois", "250 g", 690))):
        shop_id = uuid.uuid4()
        line = OrderLine(product_id=uuid.uuid4(), variant_id=uuid.uuid4(), shop_id=shop_id,
                         name=name, variant_label=label, quantity=shop + 1, unit_price_cents=price)
        parts.append(OrderPart(shop_id=shop_id, total_cents=line.quantity * price, lines=[line]))
    return OrderPlaced(order_id=uuid.uuid4(), hub_id=uuid.uuid4(), slot_id=uuid.uuid4(),
                       resident_id=uuid.uuid4(), resident_email="camille.martin@example.org",
                       parts=parts, total_cents=sum(p.total_cents for p in parts))


class Node:
    """The skeleton services one process runs, on the real ServiceRuntime."""

    def __init__(self, services: Sequence[str], settings: Callable[[str], ServiceSettings],
                 bus: EventBus | None = None, bus_for: Callable[[str], EventBus] | None = None,
                 ) -> None:
        self.tally = Tally()
        self.placed: dict[uuid.UUID, OrderPlaced] = {}
        self.halves: collections.Counter[uuid.UUID] = collections.Counter()
        self.statements: collections.Counter[str] = collections.Counter()
        self.bus = bus
        self.runtimes: dict[str, CountingRuntime] = {}
        for name in services:
            definition = self._definition(name)
            service_bus = bus if bus is not None else bus_for(name)
            runtime = CountingRuntime(definition, settings(name), bus=service_bus,
                                      owns_bus=bus is None)
            runtime.tally = self.tally
            self.runtimes[name] = runtime

    def _definition(self, name: str) -> ServiceDefinition:
        metadata = MetaData()
        outbox_table(metadata)
        inbox_table(metadata)
        chain = self._chain(name)
        subscriptions = {t: [self._counted(chain.get(t, _noop))] for t in real_subscriptions(name)}
        return ServiceDefinition(name=name, prefix=f"/{name}", metadata=metadata,
                                 subscriptions=subscriptions)

    def _counted(self, handler: EventHandler) -> EventHandler:
        async def counted(event_: Any, uow: UnitOfWork) -> None:
            self.tally.bump("claimed")
            await handler(event_, uow)
        return counted

    def _chain(self, name: str) -> dict[type[Event], EventHandler]:
        return {
            "catalog": {OrderPlaced: self._reserve},
            "pickup": {OrderPlaced: self._hold, OrderConfirmed: self._schedule},
            "order": {StockReserved: self._half, SlotHeld: self._half,
                      PaymentSucceeded: self._confirm, PickupScheduled: self._done},
            "payment": {PaymentRequested: self._pay},
        }.get(name, {})

    async def start(self) -> None:
        if self.bus is not None:
            await self.bus.start()
        for runtime in self.runtimes.values():
            await runtime.start()
            self._watch_statements(runtime)
        if isinstance(self.bus, EmbeddedBus):
            self.bus._db.set_trace_callback(lambda _: self.statements.update(("bus",)))
        freeze_start_up_objects()  # as the real hosts do once started

    async def stop(self) -> None:
        for runtime in reversed(self.runtimes.values()):
            await runtime.stop()
        if self.bus is not None:
            await self.bus.stop()

    def _watch_statements(self, runtime: ServiceRuntime) -> None:
        counted = self.statements

        @event.listens_for(runtime.database.engine.sync_engine, "before_cursor_execute")
        def _kind(_conn, _cursor, statement, _parameters, _context, _many):
            counted[statement_kind(statement)] += 1

    def sql_statements(self) -> dict[str, float]:
        """The runtime's own counter (ADOPTE_COUNT_SQL=1), per service."""
        return {name: SQL_STATEMENTS.labels(service=name)._value.get() for name in self.runtimes}

    def stats(self) -> dict:
        return {"counts": dict(self.tally.counts), "sql": self.sql_statements(),
                "statements": dict(self.statements), "cpu_s": time.process_time()}

    async def rows(self) -> dict[str, dict[str, int]]:
        """Rows in each service's outbox and inbox: what the machinery wrote, counted in the
        databases rather than by the skeleton."""
        rows = {}
        for name, runtime in self.runtimes.items():
            tables = runtime.definition.metadata.tables
            async with runtime.database.sessions() as session:
                rows[name] = {t: await session.scalar(select(func.count()).select_from(tables[t]))
                              for t in ("outbox", "inbox")}
        return rows

    # --- the order service's POST, minus its rows ---------------------------------------------

    async def place(self, count: int) -> None:
        await asyncio.gather(*(self._place_one() for _ in range(count)))

    async def _place_one(self) -> None:
        current_correlation_id.set(uuid.uuid4().hex)
        order = new_order()
        self.placed[order.order_id] = order
        self.tally.injected[order.order_id] = time.perf_counter()
        async with self.runtimes["order"].unit_of_work() as uow:
            await self._emit(uow, [order])

    # --- the chain --------------------------------------------------------------------------

    async def _emit(self, uow: UnitOfWork, events: list[Event]) -> None:
        self.tally.bump("emitted", len(events))
        await uow.emit_all(events)

    async def _reserve(self, placed: OrderPlaced, uow: UnitOfWork) -> None:
        lines = [line for part in placed.parts for line in part.lines]
        await self._emit(uow, [
            StockReserved(order_id=placed.order_id, lines=[
                ReservedLine(product_id=li.product_id, variant_id=li.variant_id,
                             quantity=li.quantity) for li in lines]),
            *(StockLevelChanged(product_id=li.product_id, variant_id=li.variant_id,
                                shop_id=li.shop_id, hub_id=placed.hub_id, available=12 - li.quantity,
                                revision=2) for li in lines)])

    async def _hold(self, placed: OrderPlaced, uow: UnitOfWork) -> None:
        starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
        await self._emit(uow, [SlotHeld(order_id=placed.order_id, slot_id=placed.slot_id,
                                        hub_id=placed.hub_id, starts_at=starts,
                                        ends_at=starts + timedelta(hours=2))])

    async def _half(self, arrived: StockReserved | SlotHeld, uow: UnitOfWork) -> None:
        self.halves[arrived.order_id] += 1
        if self.halves[arrived.order_id] != 2:
            return
        del self.halves[arrived.order_id]
        placed = self.placed[arrived.order_id]
        await self._emit(uow, [PaymentRequested(
            order_id=placed.order_id, hub_id=placed.hub_id, resident_id=placed.resident_id,
            total_cents=placed.total_cents, parts=placed.parts,
            pay_by=datetime.now(UTC) + timedelta(minutes=15))])

    async def _pay(self, requested: PaymentRequested, uow: UnitOfWork) -> None:
        payment_id = uuid.uuid5(uuid.NAMESPACE_URL, f"payment:{requested.order_id}")
        shares = [ShopShare(shop_id=p.shop_id, amount_cents=p.total_cents,
                            commission_cents=p.total_cents * COMMISSION_BPS // 10_000)
                  for p in requested.parts]
        await self._emit(uow, [
            PaymentStarted(payment_id=payment_id, order_id=requested.order_id,
                           amount_cents=requested.total_cents, provider="simulated"),
            PaymentSucceeded(payment_id=payment_id, order_id=requested.order_id,
                             hub_id=requested.hub_id, amount_cents=requested.total_cents,
                             commission_cents=sum(s.commission_cents for s in shares),
                             shares=shares),
            ProcessorFeeCharged(payment_id=payment_id, order_id=requested.order_id,
                                fee_cents=25 + requested.total_cents * 15 // 1000)])

    async def _confirm(self, paid: PaymentSucceeded, uow: UnitOfWork) -> None:
        placed = self.placed[paid.order_id]
        await self._emit(uow, [OrderConfirmed(
            order_id=placed.order_id, hub_id=placed.hub_id, slot_id=placed.slot_id,
            resident_id=placed.resident_id, parts=placed.parts, total_cents=placed.total_cents)])

    async def _schedule(self, confirmed: OrderConfirmed, uow: UnitOfWork) -> None:
        await self._emit(uow, [PickupScheduled(
            order_id=confirmed.order_id, hub_id=confirmed.hub_id, slot_id=confirmed.slot_id,
            code=confirmed.order_id.hex[:6].upper())])

    async def _done(self, scheduled: PickupScheduled, uow: UnitOfWork) -> None:
        # Noted in the handler, just before its transaction commits.
        began = self.tally.injected.pop(scheduled.order_id, None)
        if began is not None:
            self.tally.latencies_ms.append((time.perf_counter() - began) * 1000)
            self.placed.pop(scheduled.order_id, None)
            self.tally.bump("done")


async def _noop(_event: Any, _uow: UnitOfWork) -> None:
    return None
