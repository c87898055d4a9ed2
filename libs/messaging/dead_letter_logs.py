"""Reading a bus's topics from their start, outside any consumer group: the embedded bus's file
and a Kafka cluster, for ``libs.messaging.dead_letters``."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from libs.messaging.dead_letters import REPLAY_MARKS_TOPIC, BusUnreachable, LetterId
from libs.messaging.embedded import EmbeddedBus, _decode_headers
from libs.messaging.port import DLQ_SUFFIX, Message, Record


class EmbeddedDeadLetterLog:
    """The embedded bus's SQLite file, which a running hub may hold open: reads go straight to
    the file, replays through an ``EmbeddedBus`` of their own (it copes with the hub's writes)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise BusUnreachable(f"no embedded bus at {path}: give the hub's --data-dir, or "
                                 "--kafka for a distributed hub")
        self.path = path
        self._db = sqlite3.connect(path)
        self._bus: EmbeddedBus | None = None

    async def dead_letter_topics(self) -> list[str]:
        rows = self._db.execute("select name from topics order by name").fetchall()
        return [name for (name,) in rows if name.endswith(DLQ_SUFFIX)]

    async def read(self, topics: Sequence[str]) -> list[Record]:
        records = []
        for topic in topics:
            rows = self._db.execute(
                'select partition, "offset", key, value, headers, timestamp_ms from records '
                'where topic = ? order by partition, "offset"', (topic,)).fetchall()
            records += [Record(topic, partition, offset, key, value, _decode_headers(headers), ts)
                        for partition, offset, key, value, headers, ts in rows]
        return records

    async def read_at(self, letter: LetterId) -> Record | None:
        row = self._db.execute(
            'select key, value, headers, timestamp_ms from records '
            'where topic = ? and partition = ? and "offset" = ?',
            (letter.topic, letter.partition, letter.offset)).fetchone()
        if row is None:
            return None
        key, value, headers, ts = row
        return Record(letter.topic, letter.partition, letter.offset, key, value,
                      _decode_headers(headers), ts)

    async def publish(self, messages: Sequence[Message]) -> None:
        if self._bus is None:
            self._bus = EmbeddedBus(self.path)
            await self._bus.start()
        await self._bus.publish(messages)

    async def close(self) -> None:
        if self._bus is not None:
            await self._bus.stop()
        self._db.close()


class KafkaDeadLetterLog:
    """A Kafka cluster, read with a consumer outside any group (assigned every partition and
    reading up to the end offsets it found at the start), so reading moves no group's offsets."""

    def __init__(self, bootstrap_servers: str, *, timeout_s: float = 10.0) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.timeout_s = timeout_s
        self._admin = None
        self._bus = None

    async def _admin_client(self):
        from aiokafka.admin import AIOKafkaAdminClient

        if self._admin is None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers,
                                        client_id="adopte-dlq",
                                        request_timeout_ms=int(self.timeout_s * 1000))
            await self._started(admin)
            self._admin = admin
        return self._admin

    async def _started(self, client) -> None:
        from aiokafka.errors import KafkaError

        try:
            await asyncio.wait_for(client.start(), self.timeout_s)
        except (KafkaError, TimeoutError, OSError) as exc:
            await _quietly_closed(client)
            raise BusUnreachable(f"cannot reach Kafka at {self.bootstrap_servers}: {exc}") from None

    async def dead_letter_topics(self) -> list[str]:
        with self._answering():
            admin = await self._admin_client()
            return sorted(name for name in await admin.list_topics() if name.endswith(DLQ_SUFFIX))

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        """Kafka failing half-way through is one more way of being out of reach."""
        from aiokafka.errors import KafkaError

        try:
            yield
        except (KafkaError, TimeoutError) as exc:
            raise BusUnreachable(f"Kafka at {self.bootstrap_servers} failed: {exc!r}") from None

    async def _partitions(self, topics: Sequence[str]) -> list:
        from aiokafka import TopicPartition

        admin = await self._admin_client()
        existing = set(await admin.list_topics())
        wanted = [topic for topic in topics if topic in existing]
        if not wanted:
            return []
        return [TopicPartition(described["topic"], partition["partition"])
                for described in await admin.describe_topics(wanted)
                for partition in described["partitions"]]

    async def read(self, topics: Sequence[str]) -> list[Record]:
        with self._answering():
            partitions = await self._partitions(topics)
            return await self._read(partitions) if partitions else []

    async def read_at(self, letter: LetterId) -> Record | None:
        from aiokafka import TopicPartition

        wanted = TopicPartition(letter.topic, letter.partition)
        with self._answering():
            if wanted not in await self._partitions([letter.topic]):
                return None
            found = await self._read([wanted], start_at=letter.offset, stop_after=letter.offset)
        return next((record for record in found if record.offset == letter.offset), None)

    async def _read(self, partitions: list, *, start_at: int | None = None,
                    stop_after: int | None = None) -> list[Record]:
        from aiokafka import AIOKafkaConsumer

        from libs.messaging.kafka import _record

        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap_servers, group_id=None,
                                    client_id="adopte-dlq", enable_auto_commit=False,
                                    auto_offset_reset="earliest",
                                    request_timeout_ms=int(self.timeout_s * 1000))
        await self._started(consumer)
        try:
            consumer.assign(partitions)
            beginning = await consumer.beginning_offsets(partitions)
            end = await consumer.end_offsets(partitions)
            if stop_after is not None:
                end = {tp: min(offset, stop_after + 1) for tp, offset in end.items()}
            left = {tp for tp in partitions if end[tp] > max(beginning[tp], start_at or 0)}
            for tp in left:
                consumer.seek(tp, max(beginning[tp], start_at or 0))
            records: list[Record] = []
            progressed = time.monotonic()
            while left:
                batches = await consumer.getmany(*left, timeout_ms=500)
                if any(batches.values()):
                    progressed = time.monotonic()
                elif time.monotonic() - progressed > self.timeout_s:
                    raise TimeoutError(f"nothing read for {self.timeout_s} s")
                for tp, raws in batches.items():
                    records += [_record(raw) for raw in raws if raw.offset < end[tp]]
                for tp in list(left):
                    if await consumer.position(tp) >= end[tp]:
                        left.discard(tp)
                        consumer.pause(tp)
            return records
        finally:
            await consumer.stop()

    async def publish(self, messages: Sequence[Message]) -> None:
        with self._answering():
            await self._publish(messages)

    async def _publish(self, messages: Sequence[Message]) -> None:
        from libs.messaging.kafka import KafkaBus

        if any(message.topic == REPLAY_MARKS_TOPIC for message in messages):
            await self._ensure_marks_topic()
        if self._bus is None:
            bus = KafkaBus(self.bootstrap_servers, client_id=f"adopte-dlq-{uuid.uuid4().hex[:8]}",
                           connect_timeout_s=self.timeout_s)
            try:
                await bus.start()
            except Exception as exc:  # noqa: BLE001 (whatever stopped it, the bus is out of reach)
                raise BusUnreachable(f"cannot reach Kafka at {self.bootstrap_servers}: {exc}"
                                     ) from None
            self._bus = bus
        await self._bus.publish(messages)

    async def _ensure_marks_topic(self) -> None:
        from aiokafka.admin import NewTopic
        from aiokafka.errors import TopicAlreadyExistsError, for_code

        admin = await self._admin_client()
        if REPLAY_MARKS_TOPIC in await admin.list_topics():
            return
        brokers = (await admin.describe_cluster())["brokers"]
        response = await admin.create_topics([NewTopic(
            REPLAY_MARKS_TOPIC, num_partitions=1, replication_factor=min(3, len(brokers)),
            topic_configs={"cleanup.policy": "compact"})])
        for topic, code, *detail in response.topic_errors:
            if code and for_code(code) is not TopicAlreadyExistsError:
                raise for_code(code)(f"cannot create topic {topic}", *detail)

    async def close(self) -> None:
        if self._bus is not None:
            await self._bus.stop()
        if self._admin is not None:
            await self._admin.close()


async def _quietly_closed(client) -> None:
    stop = getattr(client, "stop", None) or client.close
    try:
        await stop()
    except Exception:  # noqa: BLE001, S110 (closing what never started: nothing to report)
        pass
