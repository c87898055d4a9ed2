"""The outbox and the inbox on both database engines the services use."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

from sqlalchemy import Column, MetaData, String, Table, select

from libs.contracts import registry
from libs.contracts.pickup import HubOpened
from libs.kit.db import Database
from libs.messaging.embedded import EmbeddedBus
from libs.messaging.inbox import Inbox, inbox_table
from libs.messaging.metrics import OUTBOX_BACKLOG
from libs.messaging.outbox import Outbox, OutboxRelay, outbox_table
from libs.messaging.port import Record
from libs.sqltypes import UtcDateTime
from tests.support.waiting import eventually


def hub(n: int) -> HubOpened:
    return HubOpened(hub_id=uuid.uuid4(), name=f"Hub {n}", town="Guingamp", address=f"{n} rue")


async def open_database(url: str) -> tuple[Database, Table, Table]:
    metadata = MetaData()
    outbox_rows, inbox_rows = outbox_table(metadata), inbox_table(metadata)
    Table("stamps", metadata, Column("id", String(10), primary_key=True),
          Column("at", UtcDateTime()))
    database = Database(url, metadata)
    await database.start()
    return database, outbox_rows, inbox_rows


async def test_the_relay_publishes_committed_events_in_order_and_marks_them(
    database_url, tmp_path
):
    database, outbox_rows, _ = await open_database(database_url)
    outbox = Outbox(outbox_rows)
    events = [hub(n) for n in range(30)]
    for chunk in (events[:10], events[10:]):
        async with database.sessions() as session, session.begin():
            for event in chunk:
                await outbox.add(session, event, correlation_id="c")
    async with database.sessions() as session:
        rolled_back = session.begin()
        await rolled_back.start()
        await outbox.add(session, hub(99), correlation_id="c")
        await rolled_back.rollback()

    bus = EmbeddedBus(tmp_path / "bus.sqlite3")
    await bus.start()
    received: list[Record] = []

    async def collect(record: Record) -> None:
        received.append(record)

    consumer = bus.consumer("reader", [HubOpened.topic], collect)
    await consumer.start()
    relay = OutboxRelay(outbox, database.sessions, bus, service="test", batch_size=7)
    await relay.start()
    await eventually(lambda: len(received) == 30, message="30 events")
    await relay.stop()
    await consumer.stop()
    await bus.stop()

    decoded = sorted((registry.decode_bytes(r.value)[1] for r in received),
                     key=lambda e: int(e.name.split()[1]))
    assert decoded == events, "every committed event, none rolled back"
    assert all(r.key == str(registry.decode_bytes(r.value)[1].hub_id) for r in received)
    async with database.sessions() as session:
        pending = await session.scalar(
            select(outbox_rows.c.id).where(outbox_rows.c.published_at.is_(None)))
        ids = (await session.scalars(select(outbox_rows.c.id).order_by(outbox_rows.c.id))).all()
    assert pending is None
    assert len(ids) == 30
    await database.stop()


async def test_events_of_a_savepoint_that_rolls_back_are_dropped_with_it(database_url):
    database, outbox_rows, _ = await open_database(database_url)
    outbox = Outbox(outbox_rows)
    before, inside, released, after = hub(1), hub(2), hub(3), hub(4)
    async with database.sessions() as session, session.begin():
        await outbox.add(session, before, correlation_id="c")
        savepoint = await session.begin_nested()
        await outbox.add(session, inside, correlation_id="c")
        await savepoint.rollback()
        async with session.begin_nested():
            await outbox.add(session, released, correlation_id="c")
        await outbox.add(session, after, correlation_id="c")
        assert await session.scalar(select(outbox_rows.c.id)) is None, \
            "rows are written when the transaction commits"
    async with database.sessions() as session:
        written = (await session.scalars(
            select(outbox_rows.c.envelope).order_by(outbox_rows.c.id))).all()
    assert [registry.decode_bytes(row)[1] for row in written] == [before, released, after]
    assert outbox.committed.is_set(), "the relay is woken"
    await database.stop()


async def test_the_backlog_gauge_counts_the_rows_still_waiting(database_url, tmp_path):
    database, outbox_rows, _ = await open_database(database_url)
    outbox = Outbox(outbox_rows)
    async with database.sessions() as session, session.begin():
        await outbox.add_all(session, [hub(n) for n in range(12)], correlation_id="c")
    bus = EmbeddedBus(tmp_path / "bus.sqlite3")
    await bus.start()
    relay = OutboxRelay(outbox, database.sessions, bus, service="gauge", batch_size=5)
    published, left = [], []
    for _ in range(4):
        published.append(await relay.publish_pending())
        left.append(OUTBOX_BACKLOG.labels("gauge")._value.get())
    await bus.stop()
    await database.stop()
    assert published == [5, 5, 2, 0]
    assert left == [7, 2, 0, 0]


async def test_the_inbox_claims_an_event_once_even_when_claims_race(database_url):
    database, _, inbox_rows = await open_database(database_url)
    inbox = Inbox(inbox_rows)
    event_id = str(uuid.uuid4())

    async def claim() -> bool:
        async with database.sessions() as session, session.begin():
            return await inbox.claim(session, consumer="catalog", event_id=event_id)

    outcomes = await asyncio.gather(*(claim() for _ in range(8)))
    assert sorted(outcomes) == [False] * 7 + [True]
    async with database.sessions() as session, session.begin():
        assert await inbox.claim(session, consumer="order", event_id=event_id), \
            "another consumer claims the same event for itself"
    await database.stop()


async def test_times_come_back_aware_and_in_utc(database_url):
    database, _, _ = await open_database(database_url)
    stamps = database.metadata.tables["stamps"]
    paris_noon = datetime.fromisoformat("2026-07-14T12:00:00+02:00")
    async with database.sessions() as session, session.begin():
        await session.execute(stamps.insert().values(id="a", at=paris_noon))
    async with database.sessions() as session:
        stored = await session.scalar(select(stamps.c.at))
    assert stored == paris_noon
    assert stored.tzinfo is not None and stored.utcoffset().total_seconds() == 0
    assert stored.isoformat() == "2026-07-14T10:00:00+00:00"
    await database.stop()
