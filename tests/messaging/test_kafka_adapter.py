"""The Kafka adapter against a real broker: what the shared bus contract cannot see from outside."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import REGISTRY

from libs.messaging.kafka import KafkaBus
from libs.messaging.port import Message, Record, TopicSpec, dead_letter_topic
from tests.support.waiting import eventually

pytestmark = pytest.mark.kafka


@pytest.fixture
def name():
    suffix = uuid.uuid4().hex[:10]
    return lambda stem: f"kafka-adapter.{stem}.{suffix}"


@pytest.fixture
async def open_bus(kafka_bootstrap_servers):
    opened = []

    async def open_(**options) -> KafkaBus:
        bus = KafkaBus(kafka_bootstrap_servers, f"test-{uuid.uuid4().hex[:8]}", **options)
        await bus.start()
        opened.append(bus)
        return bus

    yield open_
    for bus in reversed(opened):
        await bus.stop()


@pytest.fixture
async def admin(kafka_bootstrap_servers):
    client = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    await client.start()
    yield client
    await client.close()


async def committed_offsets(admin: AIOKafkaAdminClient, group: str) -> dict[tuple[str, int], int]:
    offsets = await admin.list_consumer_group_offsets(group)
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def test_published_records_arrive_with_key_value_and_headers(open_bus, name):
    bus = await open_bus()
    topic = name("roundtrip")
    await bus.ensure_topics([TopicSpec(topic, partitions=3)])
    messages = [
        Message(topic, f"key-{n % 4}", f"value-{n}".encode(),
                headers=(("event-type", b"Thing"), ("seq", str(n).encode())))
        for n in range(20)
    ]
    received: list[Record] = []

    async def collect(record: Record) -> None:
        received.append(record)

    consumer = bus.consumer(name("g"), [topic], collect)
    await consumer.start()
    await bus.publish(messages)
    await eventually(lambda: len(received) == 20, message="20 records")
    await consumer.stop()

    sent = {m.value: m for m in messages}
    for record in received:
        message = sent[record.value]
        assert (record.topic, record.key, record.headers) == (message.topic, message.key, message.headers)
        assert record.header("seq") == record.value.removeprefix(b"value-")
        assert record.timestamp_ms > 0
    by_key: dict[str, list[Record]] = {}
    for record in received:
        by_key.setdefault(record.key, []).append(record)
    for records in by_key.values():
        assert len({r.partition for r in records}) == 1, "one key, one partition"
        assert [int(r.header("seq")) for r in records] == sorted(int(r.header("seq")) for r in records)
    assert REGISTRY.get_sample_value("adopte_events_published_total", {"topic": topic}) == 20


async def test_ensure_topics_creates_the_topic_and_its_dead_letter_topic(open_bus, admin, name):
    bus = await open_bus()
    topic = name("created")
    await bus.ensure_topics([TopicSpec(topic, partitions=4)])
    await bus.ensure_topics([TopicSpec(topic, partitions=4)])  # existing topics are fine

    described = {t["topic"]: t for t in await admin.describe_topics([topic, dead_letter_topic(topic)])}
    assert set(described) == {topic, dead_letter_topic(topic)}
    for t in described.values():
        assert t["error_code"] == 0
        assert len(t["partitions"]) == 4


async def test_stop_cancels_a_handler_stuck_past_the_grace_and_does_not_commit_its_record(
    open_bus, admin, name
):
    bus = await open_bus()
    topic, group = name("stuck"), name("g")
    await bus.ensure_topics([TopicSpec(topic, partitions=1)])
    await bus.publish([Message(topic, "k", b"done"), Message(topic, "k", b"stuck")])
    handled, cancelled = [], asyncio.Event()
    stuck = asyncio.Event()

    async def hangs_on_stuck(record: Record) -> None:
        if record.value == b"stuck":
            stuck.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise
        handled.append(record.value)

    consumer = bus.consumer(group, [topic], hangs_on_stuck)
    await consumer.start()
    await asyncio.wait_for(stuck.wait(), 30)
    started = time.monotonic()
    await consumer.stop(grace_s=0.2)
    assert time.monotonic() - started < 10
    assert cancelled.is_set()
    assert handled == [b"done"]
    assert await committed_offsets(admin, group) == {(topic, 0): 1}, "only the finished record"

    again: list[Record] = []

    async def collect(record: Record) -> None:
        again.append(record)

    consumer = (await open_bus()).consumer(group, [topic], collect)
    await consumer.start()
    await eventually(lambda: [r.value for r in again] == [b"stuck"], message="redelivery")
    assert again[0].offset == 1
    await consumer.stop()


async def test_lag_counts_published_records_not_yet_committed(open_bus, name):
    bus = await open_bus()
    topic, group = name("lag"), name("g")
    await bus.ensure_topics([TopicSpec(topic, partitions=2)])
    release = asyncio.Event()

    async def held(record: Record) -> None:
        await release.wait()

    consumer = bus.consumer(group, [topic], held)
    await consumer.start()
    assert await consumer.lag() == 0
    await bus.publish([Message(topic, f"k{n}", b"x") for n in range(5)])
    await eventually(lambda: _lag_is(consumer, 5), message="lag 5")
    assert REGISTRY.get_sample_value("adopte_consumer_lag", {"group": group}) == 5
    await bus.publish([Message(topic, f"k{n}", b"y") for n in range(3)])
    await eventually(lambda: _lag_is(consumer, 8), message="lag 8 while handlers are held")
    release.set()
    await eventually(lambda: _lag_is(consumer, 0), message="lag 0 once handled")
    assert REGISTRY.get_sample_value("adopte_consumer_lag", {"group": group}) == 0
    await consumer.stop()


async def _lag_is(consumer, expected: int) -> bool:
    return await consumer.lag() == expected


async def test_a_rebalance_commits_finished_records_and_redelivers_the_abandoned_one(open_bus, admin, name):
    bus = await open_bus(rebalance_grace_s=0.2)
    topic, group = name("rebalance"), name("g")
    await bus.ensure_topics([TopicSpec(topic, partitions=1)])
    values = [f"v{n}".encode() for n in range(6)]
    await bus.publish([Message(topic, "k", v) for v in values])
    deliveries: list[bytes] = []
    stuck = asyncio.Event()

    async def hangs_once_on_v2(record: Record) -> None:
        deliveries.append(record.value)
        if record.value == b"v2" and not stuck.is_set():
            stuck.set()
            await asyncio.Event().wait()

    first = bus.consumer(group, [topic], hangs_once_on_v2)
    await first.start()
    await asyncio.wait_for(stuck.wait(), 30)
    # A second member joins: the first is revoked, abandons v2 after the grace, commits v0 and v1.
    second = bus.consumer(group, [topic], hangs_once_on_v2)
    await second.start()
    await eventually(lambda: len(deliveries) == 7, message="v2 again, then the rest")
    await eventually(lambda: _committed_is(admin, group, {(topic, 0): 6}), message="all committed")
    await first.stop()
    await second.stop()

    assert Counter(deliveries) == Counter(values + [b"v2"])
    assert deliveries[:3] == [b"v0", b"v1", b"v2"]
    assert deliveries[3:] == [b"v2", b"v3", b"v4", b"v5"]


async def _committed_is(admin, group, expected) -> bool:
    return await committed_offsets(admin, group) == expected

