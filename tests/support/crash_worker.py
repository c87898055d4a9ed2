"""A service-shaped process for the crash tests: it changes state and writes the outbox in one
transaction, publishes through the relay, and applies events behind the inbox. Each mode stops
at a chosen point and waits there to be SIGKILLed.

    python -m tests.support.crash_worker MODE --db URL (--bus-file PATH | --kafka SERVERS) --group G
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid

from sqlalchemy import Column, Integer, MetaData, String, Table, select, update

from libs.contracts import registry
from libs.contracts.pickup import HubOpened
from libs.kit.db import Database
from libs.messaging.inbox import Inbox, inbox_table
from libs.messaging.outbox import Outbox, OutboxRelay, outbox_table
from libs.messaging.port import Message, Record, TopicSpec

metadata = MetaData()
outbox_rows = outbox_table(metadata)
inbox_rows = inbox_table(metadata)
hubs = Table("hubs", metadata, Column("id", String(36), primary_key=True))
tally = Table(
    "tally", metadata,
    Column("hub_id", String(36), primary_key=True),
    Column("deliveries", Integer, nullable=False),
    Column("applied", Integer, nullable=False),
)


def say(line: str) -> None:
    print(line, flush=True)


async def hang() -> None:
    say("waiting to be killed")
    await asyncio.Event().wait()


async def commit_then_hang(database: Database) -> None:
    """State and event committed together; the relay never gets to run."""
    event = HubOpened(hub_id=uuid.uuid4(), name="Crash", town="Morlaix", address="1 quai")
    async with database.sessions() as session, session.begin():
        await session.execute(hubs.insert().values(id=str(event.hub_id)))
        await Outbox(outbox_rows).add(session, event, correlation_id="crash-test")
    say(f"committed {event.hub_id}")
    await hang()


async def publish_then_hang(database: Database, bus) -> None:
    """The relay's publish went through; the process dies before marking the rows."""
    async with database.sessions() as session:
        rows = (await session.execute(
            select(outbox_rows.c.topic, outbox_rows.c.key, outbox_rows.c.envelope)
            .where(outbox_rows.c.published_at.is_(None)).order_by(outbox_rows.c.id)
        )).all()
    await bus.publish([Message(r.topic, r.key, r.envelope) for r in rows])
    say(f"published {len(rows)}")
    await hang()


async def run(database: Database, bus, group: str) -> None:
    """Relay and consumer, as a restarted service runs them."""
    inbox = Inbox(inbox_rows)

    async def count_hub(record: Record) -> None:
        envelope, event = registry.decode_bytes(record.value)
        hub_id = str(event.hub_id)
        async with database.sessions() as session, session.begin():
            row = (await session.execute(select(tally).where(tally.c.hub_id == hub_id))).first()
            if row is None:
                await session.execute(tally.insert().values(hub_id=hub_id, deliveries=0, applied=0))
            await session.execute(update(tally).where(tally.c.hub_id == hub_id)
                                  .values(deliveries=tally.c.deliveries + 1))
            if await inbox.claim(session, consumer=group, event_id=str(envelope.event_id)):
                await session.execute(update(tally).where(tally.c.hub_id == hub_id)
                                      .values(applied=tally.c.applied + 1))

    consumer = bus.consumer(group, [HubOpened.topic], count_hub)
    await consumer.start()
    relay = OutboxRelay(Outbox(outbox_rows), database.sessions, bus, service="crash",
                        poll_interval_s=0.05)
    await relay.start()
    say("running")
    try:
        await asyncio.Event().wait()
    finally:
        await relay.stop()
        await consumer.stop()


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["commit-then-hang", "publish-then-hang", "run"])
    parser.add_argument("--db", required=True)
    parser.add_argument("--bus-file")
    parser.add_argument("--kafka")
    parser.add_argument("--group", default="crash-test")
    args = parser.parse_args(argv)

    database = Database(args.db, metadata)
    await database.start()
    if args.kafka:
        from libs.messaging.kafka import KafkaBus

        bus = KafkaBus(args.kafka, client_id="crash-worker")
    else:
        from libs.messaging.embedded import EmbeddedBus

        bus = EmbeddedBus(args.bus_file)
    await bus.start()
    await bus.ensure_topics([TopicSpec(HubOpened.topic)])
    if args.mode == "commit-then-hang":
        await commit_then_hang(database)
    elif args.mode == "publish-then-hang":
        await publish_then_hang(database, bus)
    else:
        await run(database, bus, args.group)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
