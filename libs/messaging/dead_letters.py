"""Dead letters read back from the ``<topic>.dlq`` topics, and replayed to where they came from.

A replay republishes the original key, value and headers (less the ``dlq.*`` ones, plus
``adopte.replayed-from``) to the origin topic, then writes a mark keyed by the dead letter's id
on ``REPLAY_MARKS_TOPIC`` (compacted on Kafka: one mark per id is kept for good). Marks are
written after the replays they stand for, so a crash in between can replay a record twice, never
drop one; and twice does no harm: every group's inbox keys on the event id, so a group that had
applied the event skips it, while the group that dead-lettered it never kept its claim (the
handler's transaction rolled back) and applies it now.

A replayed record lands after whatever its key received since it failed: its handler must still
make sense of it then (the saga's handlers look at the current state, not at arrival order).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from libs.messaging.port import DLQ_SUFFIX, Message, Record, dead_letter_topic

REPLAYED_FROM_HEADER = "adopte.replayed-from"
REPLAY_MARKS_TOPIC = "adopte.dlq-replays"
_DLQ_HEADER_PREFIX = "dlq."
_SHORT_REASON = 80


class DeadLetterError(Exception):
    """Something an operator asked for that cannot be done; the message says why."""


class BadLetterId(DeadLetterError):
    pass


class NoSuchLetter(DeadLetterError):
    pass


class AlreadyReplayed(DeadLetterError):
    pass


class BusUnreachable(DeadLetterError):
    pass


@dataclass(frozen=True, slots=True)
class LetterId:
    """Where a dead letter sits: ``<topic>.dlq:<partition>:<offset>``."""

    topic: str
    partition: int
    offset: int

    @classmethod
    def parse(cls, text: str) -> LetterId:
        topic, _, place = text.strip().partition(":")
        partition, _, offset = place.partition(":")
        if not topic.endswith(DLQ_SUFFIX) or not partition.isdigit() or not offset.isdigit():
            raise BadLetterId(f"{text!r} is not a dead letter id (<topic>.dlq:<partition>:<offset>, "
                              "as `adopte dlq list` shows them)")
        return cls(topic, int(partition), int(offset))

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


def dead_letter_topic_named(topic: str) -> str:
    """``topic`` as a dead-letter topic, whether it was given with its ``.dlq`` or not."""
    return topic if topic.endswith(DLQ_SUFFIX) else dead_letter_topic(topic)


@dataclass(frozen=True, slots=True)
class ReplayMark:
    letter_id: str
    replayed_at: datetime

    def to_message(self) -> Message:
        value = json.dumps({"replayed_at": self.replayed_at.isoformat()}).encode()
        return Message(REPLAY_MARKS_TOPIC, self.letter_id, value)

    @classmethod
    def from_record(cls, record: Record) -> ReplayMark | None:
        try:
            replayed_at = datetime.fromisoformat(json.loads(record.value)["replayed_at"])
        except (ValueError, KeyError, TypeError):
            return None  # not a mark this code wrote: it cannot stand for a replay
        return cls(record.key, replayed_at)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record of ``<topic>.dlq``, with what the consumer that gave up on it said."""

    record: Record

    @property
    def id(self) -> str:
        return str(LetterId(self.record.topic, self.record.partition, self.record.offset))

    def _header(self, name: str) -> str:
        value = self.record.header(name)
        return value.decode("utf-8", "replace") if value is not None else ""

    @property
    def dead_at(self) -> datetime:
        return datetime.fromtimestamp(self.record.timestamp_ms / 1000, UTC)

    @property
    def origin_topic(self) -> str:
        return self._header("dlq.origin.topic") or self.record.topic.removesuffix(DLQ_SUFFIX)

    @property
    def origin(self) -> str:
        return (f"{self.origin_topic}:{self._header('dlq.origin.partition') or '?'}:"
                f"{self._header('dlq.origin.offset') or '?'}")

    @property
    def group(self) -> str:
        return self._header("dlq.group")

    @property
    def attempts(self) -> str:
        return self._header("dlq.attempts")

    @property
    def error_type(self) -> str:
        return self._header("dlq.error.type")

    @property
    def error(self) -> str:
        return self._header("dlq.error")

    @property
    def reason(self) -> str:
        return self._header("dlq.reason") or self.error

    @property
    def short_reason(self) -> str:
        line = " ".join(self.reason.split())
        return line if len(line) <= _SHORT_REASON else line[:_SHORT_REASON - 1] + "…"

    @property
    def trace(self) -> str:
        return self._header("dlq.error.trace")

    @property
    def other_headers(self) -> list[tuple[str, bytes]]:
        return [(name, value) for name, value in self.record.headers
                if not name.startswith(_DLQ_HEADER_PREFIX)]

    def envelope(self) -> dict[str, Any] | None:
        """The value as JSON, when it is JSON at all."""
        try:
            value = json.loads(self.record.value)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    @property
    def event_type(self) -> str | None:
        envelope = self.envelope()
        if envelope is None or not isinstance(envelope.get("type"), str):
            return None
        version = envelope.get("version")
        return f"{envelope['type']} v{version}" if version is not None else envelope["type"]

    def replay_message(self) -> Message:
        headers = tuple(
            (name, value) for name, value in self.record.headers
            if not name.startswith(_DLQ_HEADER_PREFIX) and name != REPLAYED_FROM_HEADER
        ) + ((REPLAYED_FROM_HEADER, self.id.encode()),)
        return Message(self.origin_topic, self.record.key, self.record.value, headers)


class DeadLetterLog(Protocol):
    """Reads a bus's topics from their start, outside any consumer group, and publishes."""

    async def dead_letter_topics(self) -> list[str]:
        """Every ``<topic>.dlq`` there is."""

    async def read(self, topics: Sequence[str]) -> list[Record]:
        """Every record of ``topics`` there is now, each partition in offset order; a topic
        that does not exist has none."""

    async def read_at(self, letter: LetterId) -> Record | None: ...

    async def publish(self, messages: Sequence[Message]) -> None:
        """Stores ``messages`` durably, in order; the replay marks topic is made on first use."""

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Entry:
    letter: DeadLetter
    mark: ReplayMark | None


class DeadLetterDesk:
    """What `adopte dlq` does, on whichever bus the log reads."""

    def __init__(self, log: DeadLetterLog) -> None:
        self.log = log

    async def entries(self, topic: str | None = None) -> list[Entry]:
        """The dead letters of ``topic`` (or of every topic), oldest first, with their marks."""
        topics = ([dead_letter_topic_named(topic)] if topic
                  else await self.log.dead_letter_topics())
        if not topics:
            return []
        marks = await self._marks()
        letters = sorted(map(DeadLetter, await self.log.read(topics)),
                         key=lambda letter: (letter.record.timestamp_ms, letter.id))
        return [Entry(letter, marks.get(letter.id)) for letter in letters]

    async def entry(self, letter_id: str) -> Entry:
        where = LetterId.parse(letter_id)
        record = await self.log.read_at(where)
        if record is None:
            raise NoSuchLetter(f"no dead letter {where} (`adopte dlq list` shows them)")
        return Entry(DeadLetter(record), (await self._marks()).get(str(where)))

    async def replay_one(self, letter_id: str) -> DeadLetter:
        found = await self.entry(letter_id)
        if found.mark is not None:
            raise AlreadyReplayed(f"{found.letter.id} was replayed at "
                                  f"{found.mark.replayed_at:%Y-%m-%d %H:%M:%S} UTC; if it failed "
                                  "again, its new dead letter has an id of its own")
        await self._replay([found.letter])
        return found.letter

    async def replay_pending(self, topic: str | None = None) -> list[DeadLetter]:
        """Replays every dead letter (of ``topic``) not replayed yet; returns them."""
        pending = [entry.letter for entry in await self.entries(topic) if entry.mark is None]
        await self._replay(pending)
        return pending

    async def _replay(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        await self.log.publish([letter.replay_message() for letter in letters])
        now = datetime.now(UTC)
        await self.log.publish([ReplayMark(letter.id, now).to_message() for letter in letters])

    async def _marks(self) -> dict[str, ReplayMark]:
        marks = {}
        for record in await self.log.read([REPLAY_MARKS_TOPIC]):
            mark = ReplayMark.from_record(record)
            if mark is not None:
                marks[mark.letter_id] = mark
        return marks
