"""The correlation id of the work in hand: set per HTTP request or consumed event, read by logs
and by the outbox, so every event of one saga carries the id of the request that began it."""

from __future__ import annotations

from contextvars import ContextVar
from uuid import uuid4

current_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def correlation_id() -> str:
    """The id in force, or a new one when the work began outside any request or event."""
    value = current_correlation_id.get()
    if value is None:
        value = uuid4().hex
        current_correlation_id.set(value)
    return value
