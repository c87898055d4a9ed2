"""Column types shared by every service's tables, and the INSERT that can say what to do on a
conflict on either database."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, TypeDecorator
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


class UtcDateTime(TypeDecorator):
    """A timestamp stored in UTC and read back as an aware UTC datetime, on SQLite too
    (whose driver would otherwise hand back a naive one)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing a naive datetime: times are stored in UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def conflict_insert(session: AsyncSession, table):
    """An INSERT that can say what to do ON CONFLICT: SQLite and PostgreSQL spell it alike, each
    in its own dialect's construct."""
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)
