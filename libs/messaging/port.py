"""The port every bus adapter implements, and the records that cross it.

The services rely on these semantics, whichever adapter is behind the port:
- records with the same key land in the same partition and are delivered in publish order;
- each consumer group receives every record of its topics;
- a record's offset is committed only after its handler (or the batch handler given the records
  with it) returned, so delivery is at least once;
- a handler that keeps failing does not stop its partition: the record goes to ``<topic>.dlq``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

DLQ_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


@dataclass(frozen=True, slots=True)
class Message:
    """A record to publish."""

    topic: str
    key: str
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class Record:
    """A record as a consumer receives it."""

    topic: str
    partition: int
    offset: int
    key: str
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int = 0

    def header(self, name: str) -> bytes | None:
        return next((value for key, value in self.headers if key == name), None)


Handler = Callable[[Record], Awaitable[None]]
BatchHandler = Callable[[Sequence[Record]], Awaitable[None]]
"""Applies several records of one partition together, all or none; raises if it can't."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often a failing handler is retried before its record is dead-lettered."""

    max_attempts: int = 5
    initial_backoff_s: float = 0.05
    max_backoff_s: float = 5.0
    multiplier: float = 2.0

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return min(self.max_backoff_s, self.initial_backoff_s * self.multiplier ** (attempt - 1))


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int = 3


class Consumer(Protocol):
    """One member of a consumer group, delivering records to one handler."""

    group: str

    async def start(self) -> None:
        """Join the group and start delivering in the background."""

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop fetching, let the record in hand finish for up to ``grace_s``, commit, leave.

        A handler still running after the grace period is cancelled and its record is not
        committed: the group receives it again, as after a crash.
        """

    async def lag(self) -> int:
        """Records published to the group's partitions and not yet committed."""


class EventBus(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ensure_topics(self, topics: Sequence[TopicSpec]) -> None:
        """Create the topics (and their dead-letter topics) that do not exist yet."""

    async def publish(self, messages: Sequence[Message]) -> None:
        """Publish in order; returns once every message is durably stored."""

    def consumer(
        self,
        group: str,
        topics: Sequence[str],
        handler: Handler,
        *,
        retry: RetryPolicy | None = None,
        batch_handler: BatchHandler | None = None,
    ) -> Consumer:
        """A consumer for ``group``; call ``start()`` on it to begin.

        With ``batch_handler``, records fetched together may be handed to it at once (see
        ``libs.messaging.delivery.deliver_all``); ``handler`` still takes them one at a time
        when a batch fails."""
