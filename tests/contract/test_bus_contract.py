"""One contract body, run against every EventBus adapter: the semantics the services rely on.

Each test builds its buses through ``open_bus`` so that it can "restart" one: a new instance on
the same storage (the same SQLite file, or the same Kafka cluster).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select, update

from libs.contracts import registry
from libs.contracts.pickup import HubOpened
from libs.kit.db import Database
from libs.messaging.delivery import PoisonMessage
from libs.messaging.embedded import EmbeddedBus
from libs.messaging.inbox import Inbox, inbox_table
from libs.messaging.outbox import Outbox, OutboxRelay, outbox_table
from libs.messaging.port import Message, Record, RetryPolicy, TopicSpec, dead_letter_topic
from tests.support.waiting import eventually

FAST_RETRY = RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.05)


@pytest.fixture(params=["embedded", "kafka"])
async def open_bus(request, tmp_path: Path):
    """A function that opens (and later closes) a bus on this test's storage."""
    if request.param == "kafka":
        from libs.messaging.kafka import KafkaBus

        servers = request.getfixturevalue("kafka_bootstrap_servers")

        def make():
            return KafkaBus(servers, client_id=f"contract-{uuid.uuid4().hex[:8]}")
    else:
        path = tmp_path / "bus.sqlite3"

        def make():
            return EmbeddedBus(path)

    opened = []

    async def open_():
        bus = make()
        await bus.start()
        opened.append(bus)
        return bus

    yield open_
    for bus in reversed(opened):
        await bus.stop()


@pytest.fixture
def names():
    suffix = uuid.uuid4().hex[:10]
    return lambda stem: f"contract.{stem}.{suffix}"


class Collector:
    """A handler that records what it received, for tests to wait on."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    async def __call__(self, record: Record) -> None:
        self.records.append(record)

    def values(self) -> list[bytes]:
        return [r.value for r in self.records]


async def start(consumer):
    await consumer.start()
    return consumer


async def test_records_of_one_key_arrive_in_publish_order(open_bus, names):
    bus = await open_bus()
    topic = names("order")
    await bus.ensure_topics([TopicSpec(topic, partitions=3)])
    keys = [f"key-{n}" for n in range(6)]
    for batch in range(5):
        await bus.publish([
            Message(topic, key, f"{key}:{batch * 10 + i}".encode())
            for i in range(10) for key in keys
        ])
    collector = Collector()
    consumer = await start(bus.consumer(names("g"), [topic], collector))
    await eventually(lambda: len(collector.records) >= 300, message="300 records")
    await consumer.stop()

    by_key = defaultdict(list)
    for record in collector.records:
        key, sequence = record.value.decode().split(":")
        assert record.key == key
        by_key[key].append(int(sequence))
    assert set(by_key) == set(keys)
    for sequences in by_key.values():
        assert sequences == list(range(50))
    assert len({(r.topic, r.partition) for r in collector.records}) > 1, "keys spread"


async def test_a_failing_handler_is_retried_and_its_partition_waits_for_it(open_bus, names):
    bus = await open_bus()
    topic = names("retry")
    await bus.ensure_topics([TopicSpec(topic, partitions=1)])
    attempts = defaultdict(int)
    delivered = []

    async def flaky(record: Record) -> None:
        attempts[record.value] += 1
        if record.value == b"second" and attempts[record.value] < 3:
            raise RuntimeError("transient")
        delivered.append(record.value)

    await bus.publish([Message(topic, "k", v) for v in (b"first", b"second", b"third")])
    consumer = await start(bus.consumer(names("g"), [topic], flaky, retry=FAST_RETRY))
    await eventually(lambda: len(delivered) == 3, message="three deliveries")
    await consumer.stop()
    assert delivered == [b"first", b"second", b"third"]
    assert attempts[b"second"] == 3


async def test_a_record_whose_handler_never_finished_is_delivered_again(open_bus, names):
    bus = await open_bus()
    topic = names("crash")
    group = names("g")
    await bus.ensure_topics([TopicSpec(topic, partitions=1)])
    await bus.publish([Message(topic, "k", b"done"), Message(topic, "k", b"interrupted")])

    seen = []
    stuck = asyncio.Event()

    async def dies_on_second(record: Record) -> None:
        seen.append(record.value)
        if record.value == b"interrupted":
            stuck.set()
            await asyncio.Event().wait()  # the process "dies" here: the handler never returns

    consumer = await start(bus.consumer(group, [topic], dies_on_second))
    await asyncio.wait_for(stuck.wait(), 30)
    await consumer.stop(grace_s=0.1)

    again = Collector()
    consumer = await start((await open_bus()).consumer(group, [topic], again))
    await eventually(lambda: again.values() == [b"interrupted"], message="redelivery")
    await consumer.stop()
    assert seen == [b"done", b"interrupted"]


async def test_a_group_resumes_from_its_committed_offset_after_a_restart(open_bus, names):
    bus = await open_bus()
    topic = names("resume")
    group = names("g")
    await bus.ensure_topics([TopicSpec(topic, partitions=2)])
    before = [f"before-{n}".encode() for n in range(10)]
    await bus.publish([Message(topic, f"k{n % 3}", v) for n, v in enumerate(before)])
    first = Collector()
    consumer = await start(bus.consumer(group, [topic], first))
    await eventually(lambda: len(first.records) == 10, message="first run")
    await consumer.stop()
    await bus.stop()

    restarted = await open_bus()
    after = [f"after-{n}".encode() for n in range(10)]
    await restarted.publish([Message(topic, f"k{n % 3}", v) for n, v in enumerate(after)])
    second = Collector()
    consumer = await start(restarted.consumer(group, [topic], second))
    await eventually(lambda: len(second.records) >= 10, message="second run")
    await consumer.stop()
    assert sorted(second.values()) == sorted(after)
    assert sorted(first.values()) == sorted(before)


async def test_each_group_receives_every_record(open_bus, names):
    bus = await open_bus()
    topic = names("groups")
    await bus.ensure_topics([TopicSpec(topic, partitions=3)])
    values = [str(n).encode() for n in range(40)]
    await bus.publish([Message(topic, f"k{n}", v) for n, v in enumerate(values)])
    catalog, order = Collector(), Collector()
    consumers = [await start(bus.consumer(names("catalog"), [topic], catalog)),
                 await start(bus.consumer(names("order"), [topic], order))]
    await eventually(lambda: len(catalog.records) == len(order.records) == 40,
                     message="both groups")
    for consumer in consumers:
        await consumer.stop()
    assert sorted(catalog.values()) == sorted(order.values()) == sorted(values)


async def test_a_poison_record_goes_to_the_dead_letter_topic_and_the_rest_flows(open_bus, names):
    bus = await open_bus()
    topic = names("poison")
    group = names("g")
    await bus.ensure_topics([TopicSpec(topic, partitions=1)])
    delivered = []

    async def handler(record: Record) -> None:
        if record.value == b"poison":
            raise ValueError("cannot apply this")
        if record.value == b"garbage":
            raise PoisonMessage("undecodable")
        delivered.append(record.value)

    await bus.publish([Message(topic, "k", v) for v in
                       (b"a", b"poison", b"b", b"garbage", b"c")])
    consumer = await start(bus.consumer(group, [topic], handler, retry=FAST_RETRY))
    dead = Collector()
    dlq_consumer = await start(bus.consumer(names("dlq-reader"), [dead_letter_topic(topic)], dead))
    await eventually(lambda: delivered == [b"a", b"b", b"c"] and len(dead.records) == 2,
                     message="flow past poison")
    await eventually(lambda: _no_lag(consumer), message="every offset committed")
    await consumer.stop()
    await dlq_consumer.stop()

    assert dead.values() == [b"poison", b"garbage"]
    poison, garbage = dead.records
    assert poison.key == "k"
    assert b"cannot apply this" in poison.header("dlq.error")
    assert poison.header("dlq.error.type") == b"ValueError"
    assert poison.header("dlq.origin.topic") == topic.encode()
    assert poison.header("dlq.origin.offset") == b"1"
    assert poison.header("dlq.group") == group.encode()
    assert poison.header("dlq.attempts") == b"3"
    assert garbage.header("dlq.attempts") == b"1", "no retry for a poison message"


async def test_records_fetched_together_go_to_the_batch_handler_and_one_by_one_when_it_fails(
        open_bus, names):
    bus = await open_bus()
    topic = names("batch")
    await bus.ensure_topics([TopicSpec(topic, partitions=1)])
    await bus.publish([Message(topic, "k", str(n).encode()) for n in range(40)])
    applied: list[int] = []
    batches: list[int] = []

    async def apply_together(records) -> None:
        batches.append(len(records))
        if len(batches) == 1:
            raise RuntimeError("the first batch fails")
        applied.extend(int(r.value) for r in records)

    async def apply_one(record: Record) -> None:
        applied.append(int(record.value))

    consumer = await start(bus.consumer(names("g"), [topic], apply_one, retry=FAST_RETRY,
                                        batch_handler=apply_together))
    await eventually(lambda: len(applied) >= 40, message="40 records")
    await eventually(lambda: _no_lag(consumer), message="every offset committed")
    await consumer.stop()

    assert applied == list(range(40)), "each record once, in order"
    assert batches[0] > 1, "records fetched together were handed over together"
    assert len(batches) >= 2 or batches[0] == 40


async def _no_lag(consumer) -> bool:
    return await consumer.lag() == 0


# The outbox and the inbox, over each bus, on a service database (SQLite here; the same tests
# run on PostgreSQL in tests/messaging/test_outbox_inbox.py).

HUB = HubOpened(hub_id=uuid.uuid4(), name="La Fabrique", town="Lannion", address="2 quai")


def service_metadata() -> tuple[MetaData, Table, Table, Table]:
    metadata = MetaData()
    hubs = Table("hubs_seen", metadata, Column("hub_id", String(36), primary_key=True),
                 Column("times_applied", Integer, nullable=False))
    return metadata, outbox_table(metadata), inbox_table(metadata), hubs


async def test_an_event_committed_before_a_crash_is_published_after_restart(
    open_bus, names, tmp_path
):
    metadata, outbox_rows, _, hubs = service_metadata()
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'service.sqlite3'}", metadata)
    await database.start()
    outbox = Outbox(outbox_rows)
    async with database.sessions() as session, session.begin():
        await session.execute(hubs.insert().values(hub_id=str(HUB.hub_id), times_applied=0))
        await outbox.add(session, HUB, correlation_id="saga-1")
    # The process dies here: committed, never published. Nothing of it survives but the file.
    await database.stop()

    database = Database(database.url.render_as_string(), metadata)
    await database.start()
    bus = await open_bus()
    await bus.ensure_topics([TopicSpec(HubOpened.topic)])
    received = Collector()
    consumer = await start(bus.consumer(names("g"), [HubOpened.topic], received))
    relay = OutboxRelay(Outbox(outbox_rows), database.sessions, bus, service="contract",
                        poll_interval_s=0.05)
    await relay.start()
    ours = lambda: [r for r in received.records if r.key == str(HUB.hub_id)]  # noqa: E731
    await eventually(lambda: len(ours()) == 1, message="the committed event")
    await relay.stop()
    await consumer.stop()
    envelope, event = registry.decode_bytes(ours()[0].value)
    assert event == HUB
    assert envelope.correlation_id == "saga-1"
    async with database.sessions() as session:
        pending = await session.scalar(
            select(outbox_rows.c.id).where(outbox_rows.c.published_at.is_(None))
        )
    assert pending is None
    await database.stop()


async def test_a_redelivered_event_is_applied_once(open_bus, names, tmp_path):
    metadata, _, inbox_rows, hubs = service_metadata()
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'consumer.sqlite3'}", metadata)
    await database.start()
    inbox = Inbox(inbox_rows)
    group = names("g")
    handled = []

    async def count_hub(record: Record) -> None:
        envelope, event = registry.decode_bytes(record.value)
        async with database.sessions() as session, session.begin():
            if await inbox.claim(session, consumer=group, event_id=str(envelope.event_id)):
                row = await session.scalar(
                    select(hubs.c.times_applied).where(hubs.c.hub_id == str(event.hub_id))
                )
                if row is None:
                    await session.execute(
                        hubs.insert().values(hub_id=str(event.hub_id), times_applied=1))
                else:
                    await session.execute(
                        update(hubs).where(hubs.c.hub_id == str(event.hub_id))
                        .values(times_applied=row + 1))
        handled.append(envelope.event_id)

    bus = await open_bus()
    topic = names("hubs")
    await bus.ensure_topics([TopicSpec(topic)])
    raw = HUB.envelope(correlation_id="saga-2").to_bytes()
    key = str(HUB.hub_id)
    await bus.publish([Message(topic, key, raw), Message(topic, key, raw)])
    consumer = await start(bus.consumer(group, [topic], count_hub))
    await eventually(lambda: len(handled) == 2, message="both deliveries")
    await consumer.stop()
    async with database.sessions() as session:
        applied = await session.scalar(
            select(hubs.c.times_applied).where(hubs.c.hub_id == key))
    assert applied == 1
    await database.stop()
