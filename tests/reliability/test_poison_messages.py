"""Poison messages, through a service's real event handling on both buses: malformed JSON, an
unknown event type, an unknown version, a payload the schema refuses and a handler that raises
each go to ``<topic>.dlq`` with their reason, the partition flows on past them, and the metrics
count them. An undecodable record is dead-lettered on its first attempt (no retry can mend it);
only the raising handler is retried."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from libs.contracts.pickup import HubOpened
from libs.kit.app import operations_router
from libs.messaging.dead_letters import DeadLetter
from libs.messaging.port import Message, TopicSpec, dead_letter_topic
from tests.support.buses import BROKEN_HUB, FAST_RETRY, BusKind, hub_opened, hub_service, unique_names
from tests.support.waiting import eventually


@pytest.fixture(params=["embedded", "kafka"])
def kind(request, tmp_path) -> BusKind:
    return BusKind(request.param, request, tmp_path)


def envelope_json(event: HubOpened, **changes) -> bytes:
    """``event``'s envelope as JSON, with some of its fields (or its payload's) changed."""
    envelope = json.loads(event.envelope(correlation_id="poison").to_bytes())
    payload = changes.pop("payload", {})
    envelope.update(changes)
    envelope["payload"].update(payload)
    return json.dumps(envelope).encode()


POISONS = {
    "malformed JSON": (lambda e: b'{"type": "HubOpened", "version": 1, ', "InvalidEvent",
                       "not an event envelope"),
    "unknown type": (lambda e: envelope_json(e, type="HubDemolished"), "UnknownEvent",
                     "no such event type"),
    "unknown version": (lambda e: envelope_json(e, version=9), "UnknownEvent",
                        "known versions: [1]"),
    "schema-invalid payload": (lambda e: envelope_json(e, payload={"hub_id": "not-a-uuid"}),
                               "InvalidEvent", "invalid HubOpened v1 payload: hub_id"),
    "a handler that raises": (lambda e: hub_opened(BROKEN_HUB, e.hub_id).envelope(
        correlation_id="poison").to_bytes(), "RuntimeError", "the handler cannot apply Boom"),
}


async def test_each_poison_message_is_dead_lettered_with_its_reason_and_the_partition_flows(
        kind, tmp_path):
    names = unique_names()
    topic, group = names("hubs"), names("pickup")
    hub_id = uuid.uuid4()  # one key: every record lands in the same partition, in this order
    good = [f"Halle {n}" for n in range(len(POISONS) + 1)]
    values = [hub_opened(good[0], hub_id).envelope(correlation_id="poison").to_bytes()]
    for n, (make, _, _) in enumerate(POISONS.values(), start=1):
        values += [make(hub_opened("poisoned", hub_id)),
                   hub_opened(good[n], hub_id).envelope(correlation_id="poison").to_bytes()]

    bus = kind.bus()
    await bus.start()
    log = kind.log()
    async with hub_service("pickup", tmp_path / "pickup") as service:
        await bus.ensure_topics([TopicSpec(topic, partitions=1)])
        await bus.publish([Message(topic, str(hub_id), value) for value in values])
        consumer = bus.consumer(group, [topic], service.runtime.handle, retry=FAST_RETRY,
                                batch_handler=service.runtime.handle_batch)
        await consumer.start()
        async def settled() -> bool:
            # The lag alone reads 0 before a Kafka consumer is assigned its partition.
            return (len(await service.applied()) == len(good)
                    and len(await log.read([dead_letter_topic(topic)])) == len(POISONS)
                    and await consumer.lag() == 0)

        try:
            await eventually(settled, message="every record handled or dead-lettered, committed")
            applied = await service.applied()
        finally:
            await consumer.stop()
    dead = [DeadLetter(record) for record in await log.read([dead_letter_topic(topic)])]
    await log.close()
    await bus.stop()

    assert applied == good, "each good record once, in order, past every poison one"
    assert [letter.record.value for letter in dead] == values[1::2]
    for letter, (case, (_, error_type, reason)) in zip(dead, POISONS.items(), strict=True):
        assert letter.error_type == error_type, case
        assert reason in letter.reason, case
        assert letter.record.key == str(hub_id)
        assert letter.origin_topic == topic and letter.group == group
        assert letter.origin == f"{topic}:0:{values.index(letter.record.value)}"
        assert letter.trace.startswith("Traceback"), case
    assert [letter.attempts for letter in dead] == ["1", "1", "1", "1", str(FAST_RETRY.max_attempts)]
    counted = {"group": group, "topic": topic}
    assert REGISTRY.get_sample_value("adopte_events_failed_total", counted) == \
        4 + FAST_RETRY.max_attempts, "an undecodable record is tried once, not retried"
    assert REGISTRY.get_sample_value("adopte_events_dead_lettered_total", counted) == 5
    assert REGISTRY.get_sample_value("adopte_events_consumed_total", counted) == len(good)
    assert f'adopte_events_dead_lettered_total{{group="{group}",topic="{topic}"}} 5.0' in \
        await _metrics_page()


async def _metrics_page() -> str:
    app = FastAPI()
    app.include_router(operations_router(lambda: []))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text
