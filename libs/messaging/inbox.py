"""The inbox: the ids of the events a consumer has applied, written in the same transaction as
the handler's effects, so a redelivered event changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Column, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncSession

from libs.sqltypes import UtcDateTime, conflict_insert


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(200), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("processed_at", UtcDateTime(), nullable=False),
    )


class Inbox:
    def __init__(self, table: Table) -> None:
        self.table = table

    async def claim(self, session: AsyncSession, *, consumer: str, event_id: str) -> bool:
        """Record ``event_id`` as applied by ``consumer``; False when it already was."""
        return event_id in await self.claim_all(session, consumer=consumer, event_ids=[event_id])

    async def claim_all(self, session: AsyncSession, *, consumer: str,
                        event_ids: Sequence[str]) -> set[str]:
        """Record each of ``event_ids`` as applied by ``consumer``, in one statement; returns
        those that were not already.

        On PostgreSQL a concurrent claim of the same id waits for the first transaction, then
        finds the row, so two deliveries racing each other still apply once.
        """
        if not event_ids:
            return set()
        now = datetime.now(UTC)
        statement = (
            conflict_insert(session, self.table)
            .values([{"consumer": consumer, "event_id": event_id, "processed_at": now}
                     for event_id in dict.fromkeys(event_ids)])
            .on_conflict_do_nothing()
            .returning(self.table.c.event_id)
        )
        return set((await session.execute(statement)).scalars())
