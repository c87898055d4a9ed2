"""The Kafka adapter of the bus port, on aiokafka.

Consumer design: one fetch loop; each partition's batch runs in its own task while that
partition is paused, so partitions proceed concurrently and each one strictly in order.
A partition's offset is committed once its batch is done; on rebalance or stop the in-flight
batches get a grace period, are cancelled after it, and only the records whose handler
completed (or that were dead-lettered) are committed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    ConsumerStoppedError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    TopicAlreadyExistsError,
    for_code,
)
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_delay,
    stop_never,
    wait_exponential,
    wait_random,
)

from libs.messaging.delivery import deliver_all
from libs.messaging.metrics import CONSUMER_LAG, EVENTS_PUBLISHED
from libs.messaging.port import (
    BatchHandler,
    Handler,
    Message,
    Record,
    RetryPolicy,
    TopicSpec,
    dead_letter_topic,
)

log = logging.getLogger(__name__)

_POLL_TIMEOUT_MS = 500
# aiokafka keeps one fetch in flight per broker, so a partition resumed after its batch waits for
# that fetch to return: a long broker-side wait becomes latency on quiet topics.
_FETCH_MAX_WAIT_MS = 50
_UNEXPECTED_ERROR_BACKOFF_S = 1.0


def _retrying(what: str, *, errors=(KafkaError,), give_up_after_s: float | None = None) -> AsyncRetrying:
    def before_sleep(state: RetryCallState) -> None:
        log.warning(
            "%s failed, retrying", what,
            extra={"attempt": state.attempt_number, "retry_in_s": state.upcoming_sleep,
                   "error": repr(state.outcome.exception())},
        )

    return AsyncRetrying(
        retry=retry_if_exception_type(errors),
        wait=wait_exponential(multiplier=0.1, max=5.0) + wait_random(0, 0.1),
        stop=stop_never if give_up_after_s is None else stop_after_delay(give_up_after_s),
        before_sleep=before_sleep,
        reraise=True,
    )


async def _start(make: Callable[[], Any], what: str, give_up_after_s: float):
    """Start a fresh client per attempt: aiokafka clients cannot be restarted after a failed start."""
    async for attempt in _retrying(what, errors=(KafkaConnectionError, KafkaTimeoutError),
                                   give_up_after_s=give_up_after_s):
        with attempt:
            client = make()
            try:
                await client.start()
            except BaseException:
                await client.stop()
                raise
    return client


class KafkaBus:
    def __init__(
        self,
        bootstrap_servers: str,
        client_id: str,
        *,
        replication_factor: int = 1,
        connect_timeout_s: float = 30.0,
        topic_timeout_s: float = 30.0,
        rebalance_grace_s: float = 10.0,
        producer_options: Mapping[str, Any] | None = None,
        consumer_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.replication_factor = replication_factor
        self.connect_timeout_s = connect_timeout_s
        self.topic_timeout_s = topic_timeout_s
        self.rebalance_grace_s = rebalance_grace_s
        self.producer_options = dict(producer_options or {})
        self.consumer_options = dict(consumer_options or {})
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        if self._producer is None:
            self._producer = await _start(
                lambda: AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap_servers, client_id=self.client_id,
                    enable_idempotence=True, acks="all", **self.producer_options,
                ),
                "kafka producer start", self.connect_timeout_s,
            )

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await producer.flush()
            finally:
                await producer.stop()

    async def ensure_topics(self, topics: Sequence[TopicSpec]) -> None:
        wanted = {name: spec.partitions for spec in topics
                  for name in (spec.name, dead_letter_topic(spec.name))}
        if not wanted:
            return
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers, client_id=self.client_id)
        await admin.start()
        try:
            response = await admin.create_topics([
                NewTopic(name, num_partitions=partitions, replication_factor=self.replication_factor)
                for name, partitions in wanted.items()
            ])
            for topic, code, *detail in response.topic_errors:
                if code and for_code(code) is not TopicAlreadyExistsError:
                    raise for_code(code)(f"cannot create topic {topic}", *detail)
            await self._wait_visible(admin, list(wanted))
        finally:
            await admin.close()

    async def _wait_visible(self, admin: AIOKafkaAdminClient, names: list[str]) -> None:
        # Creation is acknowledged by the controller before every broker serves the metadata.
        deadline = time.monotonic() + self.topic_timeout_s
        while True:
            described = await admin.describe_topics(names)
            ready = {t["topic"] for t in described
                     if not t["error_code"] and t["partitions"]
                     and all(p["leader"] >= 0 for p in t["partitions"])}
            if ready >= set(names):
                return
            if time.monotonic() > deadline:
                raise KafkaTimeoutError(f"topics not visible: {sorted(set(names) - ready)}")
            await asyncio.sleep(0.1)

    async def publish(self, messages: Sequence[Message]) -> None:
        if self._producer is None:
            raise RuntimeError("KafkaBus.publish() before start()")
        # Send everything first so the producer batches; the idempotent producer keeps per-partition order.
        sent = [
            await self._producer.send(m.topic, m.value, key=_key_bytes(m.key), headers=list(m.headers))
            for m in messages
        ]
        await asyncio.gather(*sent)
        for topic, count in collections.Counter(m.topic for m in messages).items():
            EVENTS_PUBLISHED.labels(topic).inc(count)

    def consumer(
        self,
        group: str,
        topics: Sequence[str],
        handler: Handler,
        *,
        retry: RetryPolicy | None = None,
        batch_handler: BatchHandler | None = None,
    ) -> KafkaConsumer:
        return KafkaConsumer(self, group, topics, handler, retry=retry or RetryPolicy(),
                             batch_handler=batch_handler)


class KafkaConsumer:
    def __init__(
        self, bus: KafkaBus, group: str, topics: Sequence[str], handler: Handler, *,
        retry: RetryPolicy, batch_handler: BatchHandler | None = None,
    ) -> None:
        self.group = group
        self.topics = list(topics)
        self._bus = bus
        self._handler = handler
        self._batch_handler = batch_handler
        self._retry = retry
        self._consumer: AIOKafkaConsumer | None = None
        self._fetching: asyncio.Task | None = None
        self._workers: dict[TopicPartition, asyncio.Task] = {}
        # Next offset to commit per partition: every record before it was handled or dead-lettered.
        self._done: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        if self._consumer is not None:
            return
        listener = _Rebalance(self)

        def make() -> AIOKafkaConsumer:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bus.bootstrap_servers, client_id=self._bus.client_id,
                group_id=self.group, enable_auto_commit=False, auto_offset_reset="earliest",
                **{"fetch_max_wait_ms": _FETCH_MAX_WAIT_MS, **self._bus.consumer_options},
            )
            consumer.subscribe(self.topics, listener=listener)
            return consumer

        self._consumer = await _start(make, f"kafka consumer {self.group} start", self._bus.connect_timeout_s)
        self._fetching = asyncio.create_task(self._fetch_loop(), name=f"kafka-consumer-{self.group}")

    async def stop(self, grace_s: float = 5.0) -> None:
        if self._consumer is None:
            return
        if self._fetching is not None:
            self._fetching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._fetching
        await self._settle(grace_s)
        consumer, self._consumer = self._consumer, None
        await consumer.stop()

    async def lag(self) -> int:
        consumer = self._consumer
        partitions = list(consumer.assignment()) if consumer is not None else []
        total = 0
        if partitions:
            # end_offsets is the high watermark, or the last stable offset under read_committed;
            # asked of the broker because consumer.highwater() is stale for paused partitions.
            end = await consumer.end_offsets(partitions)
            committed = await asyncio.gather(*(consumer.committed(tp) for tp in partitions))
            never = [tp for tp, offset in zip(partitions, committed, strict=True) if offset is None]
            start = await consumer.beginning_offsets(never) if never else {}
            total = sum(
                max(0, end[tp] - (offset if offset is not None else start[tp]))
                for tp, offset in zip(partitions, committed, strict=True)
            )
        CONSUMER_LAG.labels(self.group).set(total)
        return total

    async def _fetch_loop(self) -> None:
        consumer = self._consumer
        while True:
            try:
                async for attempt in _retrying(f"kafka consumer {self.group} fetch"):
                    with attempt:
                        batches = await consumer.getmany(timeout_ms=_POLL_TIMEOUT_MS)
            except ConsumerStoppedError:
                return
            except Exception:
                log.exception("kafka consumer fetch loop crashed", extra={"group": self.group})
                raise
            for tp, records in batches.items():
                # Paused until its batch is done: no later record of tp is fetched meanwhile.
                consumer.pause(tp)
                self._workers[tp] = asyncio.create_task(self._work(tp, records))

    async def _work(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        try:
            await deliver_all(
                [_record(raw) for raw in records], self._handler, group=self.group,
                retry=self._retry, publish_dead_letter=self._publish_dead_letter,
                advanced=lambda offset: self._done.__setitem__(tp, offset),
                batch_handler=self._batch_handler)
            await self._commit({tp: self._done[tp]})
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("kafka consumer batch failed, fetching it again",
                          extra={"group": self.group, "topic": tp.topic, "partition": tp.partition})
            await asyncio.sleep(_UNEXPECTED_ERROR_BACKOFF_S)
            # Not assigned any more: its next owner starts from the committed offset anyway.
            with contextlib.suppress(KafkaError):
                self._consumer.seek(tp, self._done.get(tp, records[0].offset))
        if tp in self._consumer.assignment():
            self._consumer.resume(tp)

    async def _publish_dead_letter(self, message: Message) -> None:
        # The record is committed only once its dead letter is stored, so wait out broker trouble.
        async for attempt in _retrying(f"dead-letter publish to {message.topic}"):
            with attempt:
                await self._bus.publish([message])

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except KafkaError as exc:
            # Not fatal: the records are delivered again, which at-least-once allows.
            log.warning("kafka commit failed", extra={"group": self.group, "error": repr(exc)})
            return
        for tp, offset in offsets.items():
            if self._done.get(tp) == offset:
                del self._done[tp]

    async def _settle(self, grace_s: float) -> None:
        """Let in-flight batches finish for up to ``grace_s``, cancel the rest, commit what is done."""
        workers = list(self._workers.values())
        if workers:
            _, late = await asyncio.wait(workers, timeout=grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            for tp, task in list(self._workers.items()):
                if task.done():
                    del self._workers[tp]
        await self._commit(dict(self._done))
        # After a revocation the partitions restart from their committed offsets.
        self._done.clear()


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, consumer: KafkaConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Runs before the group reassigns: commit now, or another member redoes our finished work.
        await self._consumer._settle(self._consumer._bus.rebalance_grace_s)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("kafka partitions assigned",
                 extra={"group": self._consumer.group, "partitions": sorted(map(str, assigned))})


def _key_bytes(key: str) -> bytes:
    # surrogateescape: a key that is not UTF-8 (written by another producer) still reaches the
    # handler, and its dead letter keeps the original bytes.
    return key.encode("utf-8", "surrogateescape")


def _record(raw: ConsumerRecord) -> Record:
    return Record(
        topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        key=raw.key.decode("utf-8", "surrogateescape") if raw.key is not None else "",
        value=raw.value if raw.value is not None else b"",
        headers=tuple(raw.headers),
        timestamp_ms=raw.timestamp,
    )
