"""`adopte dlq list|show|replay` on both buses: what an operator reads about each dead letter,
a replay to the origin topic that happens once, a replay after the fix that the failed group
applies (and the others skip, by their inbox), and a clear refusal for what cannot be done."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from libs.contracts import InvalidEvent
from libs.messaging.dead_letters import REPLAYED_FROM_HEADER, LetterId
from libs.messaging.delivery import PoisonMessage, dead_letter_message
from libs.messaging.embedded import EmbeddedBus
from libs.messaging.port import Message, Record, TopicSpec, dead_letter_topic
from services.cli import app
from tests.support.buses import BROKEN_HUB, FAST_RETRY, BusKind, hub_opened, hub_service, unique_names
from tests.support.waiting import eventually


@pytest.fixture(params=["embedded", "kafka"])
def kind(request, tmp_path) -> BusKind:
    return BusKind(request.param, request, tmp_path)


async def adopte(*args: str, env: dict[str, str] | None = None):
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


def failed(record: Record, error: Exception, group: str, attempts: int) -> Message:
    """The dead letter a consumer would write, the way it writes it."""
    try:
        raise error
    except Exception as raised:  # noqa: BLE001 (a traceback like a handler's)
        return dead_letter_message(record, group=group, error=raised, attempts=attempts)


def undecodable() -> PoisonMessage:
    poison = PoisonMessage("not an event envelope: <root>: Invalid JSON")
    poison.__cause__ = InvalidEvent("not an event envelope: <root>: Invalid JSON")
    return poison


async def two_dead_letters(kind: BusKind, topic: str, group: str):
    """A HubOpened whose handler raised, then a record that is not JSON; both on one key."""
    event = hub_opened(BROKEN_HUB)
    records = [
        Record(topic, 0, 4, event.key, event.envelope(correlation_id="saga-7").to_bytes(),
               (("traceparent", b"00-abc-01"),)),
        Record(topic, 0, 9, event.key, b"\xff{not json"),
    ]
    bus = kind.bus()
    await bus.start()
    await bus.ensure_topics([TopicSpec(topic, partitions=1)])
    await bus.publish([failed(records[0], RuntimeError("the handler cannot apply Boom"), group, 5),
                       failed(records[1], undecodable(), group, 1)])
    return bus, event, records


async def test_list_and_show_tell_where_each_dead_letter_came_from_and_why(kind):
    names = unique_names()
    topic, group = names("hubs"), names("pickup")
    bus, event, _ = await two_dead_letters(kind, topic, group)
    await bus.stop()
    raising, garbage = f"{topic}.dlq:0:0", f"{topic}.dlq:0:1"

    listed = await adopte("dlq", "list", "--topic", topic, *kind.cli_options())
    assert listed.exit_code == 0, listed.output
    rows = [line for line in listed.stdout.splitlines() if f"{topic}.dlq:" in line]
    assert len(rows) == 2 and raising in rows[0] and garbage in rows[1]
    for expected in (topic, group, "HubOpened v1", "RuntimeError", "the handler cannot apply",
                     " no "):
        assert expected in rows[0], expected
    for expected in ("(unreadable)", "InvalidEvent", "not an event envelope"):
        assert expected in rows[1], expected

    shown = await adopte("dlq", "show", raising, *kind.cli_options())
    assert shown.exit_code == 0, shown.output
    for expected in (f"origin:         {topic}:0:4", f"key:            {event.key}",
                     f"group:          {group}", "attempts:       5", "traceparent: 00-abc-01",
                     "RuntimeError('the handler cannot apply Boom')", "Traceback (most recent",
                     '"name": "Boom"', '"correlation_id": "saga-7"'):
        assert expected in shown.stdout, expected
    assert "dlq.origin.topic" not in shown.stdout, "dlq.* headers are shown by name, not raw"
    shown = await adopte("dlq", "show", garbage, *kind.cli_options())
    assert "\\xff{not json" in shown.stdout and "InvalidEvent" in shown.stdout


async def test_a_replay_republishes_to_the_origin_topic_once(kind):
    names = unique_names()
    topic, group = names("hubs"), names("pickup")
    bus, event, records = await two_dead_letters(kind, topic, group)
    await bus.stop()
    raising = f"{topic}.dlq:0:0"

    replayed = await adopte("dlq", "replay", raising, *kind.cli_options())
    assert replayed.exit_code == 0, replayed.output
    assert replayed.stdout.strip() == f"replayed {raising} to {topic}"
    again = await adopte("dlq", "replay", raising, *kind.cli_options())
    assert again.exit_code == 1 and "was replayed at" in again.stderr
    listed = await adopte("dlq", "list", "--topic", topic, "--pending", *kind.cli_options())
    assert raising not in listed.stdout and f"{topic}.dlq:0:1" in listed.stdout

    rest = await adopte("dlq", "replay", "--all", "--topic", topic, *kind.cli_options())
    assert rest.stdout.strip() == f"replayed {topic}.dlq:0:1 to {topic}"
    nothing = await adopte("dlq", "replay", "--all", "--topic", topic, *kind.cli_options())
    assert nothing.exit_code == 0 and "nothing to replay" in nothing.stderr

    log = kind.log()
    arrived = await log.read([topic])
    await log.close()
    assert [(r.key, r.value) for r in arrived] == [(r.key, r.value) for r in records]
    assert arrived[0].headers == (("traceparent", b"00-abc-01"),
                                  (REPLAYED_FROM_HEADER, raising.encode()))
    assert arrived[1].headers == ((REPLAYED_FROM_HEADER, f"{topic}.dlq:0:1".encode()),)


async def test_a_replay_after_the_fix_is_applied_by_the_group_that_failed_and_only_by_it(
        kind, tmp_path):
    names = unique_names()
    topic = names("hubs")
    event = hub_opened(BROKEN_HUB)
    bus = kind.bus()
    await bus.start()
    await bus.ensure_topics([TopicSpec(topic, partitions=1)])
    await bus.publish([Message(topic, event.key, event.envelope(correlation_id="c").to_bytes())])
    async with (hub_service("pickup", tmp_path / "pickup") as broken,
                hub_service("order", tmp_path / "order") as working):
        working.broken = False
        consumers = [bus.consumer(names(service.runtime.definition.name), [topic],
                                  service.runtime.handle, retry=FAST_RETRY)
                     for service in (broken, working)]
        for consumer in consumers:
            await consumer.start()
        try:
            log = kind.log()
            await eventually(lambda: _count(log, dead_letter_topic(topic), 1), message="a dead letter")
            await eventually(working.applied, message="the working group applied it")

            broken.broken = False  # the fix is deployed
            replayed = await adopte("dlq", "replay", "--all", "--topic", topic, *kind.cli_options())
            assert replayed.exit_code == 0, replayed.output
            await eventually(broken.applied, message="the replay applied where it had failed")
            await eventually(lambda: _count(log, topic, 2), message="the replayed record")
            await eventually(lambda: _no_lag(consumers), message="both groups past the replay")
            await log.close()
            assert await broken.applied() == [BROKEN_HUB]
            assert await working.applied() == [BROKEN_HUB], "its inbox skipped the replay"
        finally:
            for consumer in consumers:
                await consumer.stop()
    await bus.stop()


async def _count(log, topic: str, expected: int) -> bool:
    return len(await log.read([topic])) == expected


async def _no_lag(consumers) -> bool:
    return all([await consumer.lag() == 0 for consumer in consumers])


async def test_a_replay_while_the_embedded_hub_runs_leaves_its_bus_working(tmp_path):
    kind = BusKind("embedded", None, tmp_path)
    topic, group = "pickup.hub", "adopte.pickup"
    hub, event, _ = await two_dead_letters(kind, topic, group)  # the hub's bus, open meanwhile
    await hub.publish([Message(topic, event.key, b"before")])

    replayed = await adopte("dlq", "replay", f"{topic}.dlq:0:0", *kind.cli_options())
    assert replayed.exit_code == 0, replayed.output
    await hub.publish([Message(topic, event.key, b"after")])  # appends after the replay
    received = []

    async def collect(record: Record) -> None:
        received.append(record.value)

    consumer = hub.consumer("reader", [topic], collect)
    await consumer.start()
    await eventually(lambda: len(received) == 3, message="three records")
    await consumer.stop()
    await hub.stop()
    assert received[0] == b"before" and received[2] == b"after"
    assert received[1].startswith(b'{"event_id"')


@pytest.mark.parametrize("letter_id, message", [
    ("pickup.hub:0:1", "is not a dead letter id"),
    ("pickup.hub.dlq:zero:1", "is not a dead letter id"),
    ("pickup.hub.dlq:0:99", "no dead letter pickup.hub.dlq:0:99"),
    ("nowhere.dlq:0:0", "no dead letter nowhere.dlq:0:0"),
])
async def test_a_bad_id_gets_a_clear_refusal(tmp_path, letter_id, message):
    kind = BusKind("embedded", None, tmp_path)
    bus, _, _ = await two_dead_letters(kind, "pickup.hub", "adopte.pickup")
    await bus.stop()
    for command in ("show", "replay"):
        refused = await adopte("dlq", command, letter_id, *kind.cli_options())
        assert refused.exit_code == 1, refused.output
        assert message in refused.stderr


async def test_an_unreachable_bus_gets_a_clear_refusal(tmp_path):
    missing = await adopte("dlq", "list", "--data-dir", str(tmp_path / "nothing"))
    assert missing.exit_code == 1
    assert f"no embedded bus at {tmp_path / 'nothing' / 'bus.sqlite3'}" in missing.stderr
    unreachable = await adopte("dlq", "list", "--kafka", "127.0.0.1:1", "--timeout", "2")
    assert unreachable.exit_code == 1
    assert "cannot reach Kafka at 127.0.0.1:1" in unreachable.stderr
    from_settings = await adopte("dlq", "list", env={
        "ADOPTE_BUS": "kafka", "ADOPTE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert "cannot reach Kafka at 127.0.0.1:1" in from_settings.stderr
    from_settings = await adopte("dlq", "list", env={"ADOPTE_BUS": "embedded",
                                                     "ADOPTE_DATA_DIR": str(tmp_path)})
    assert f"no embedded bus at {tmp_path / 'bus.sqlite3'}" in from_settings.stderr
    neither = await adopte("dlq", "replay", "--data-dir", str(tmp_path))
    assert neither.exit_code == 2 and "give one dead letter's ID, or --all" in neither.output


async def test_with_no_dead_letters_list_says_so(tmp_path):
    bus = EmbeddedBus(tmp_path / "bus.sqlite3")
    await bus.start()
    await bus.ensure_topics([TopicSpec("pickup.hub")])
    await bus.stop()
    listed = await adopte("dlq", "list", "--data-dir", str(tmp_path))
    assert listed.exit_code == 0 and "no dead letters" in listed.stderr
    nothing = await adopte("dlq", "replay", "--all", "--data-dir", str(tmp_path))
    assert nothing.exit_code == 0 and "nothing to replay" in nothing.stderr


def test_a_dead_letter_id_reads_back_as_written():
    assert str(LetterId.parse(" order.placed.dlq:2:17 ")) == "order.placed.dlq:2:17"
