"""What every adapter does with the records it fetched: hand them to the batch handler at once,
or to the handler one at a time with retries, back-off and dead letters.

Adapters differ in how they fetch and commit; the policy for a failing handler lives here once.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import traceback
from collections.abc import Callable, Sequence

from libs.messaging.metrics import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED, EVENTS_FAILED
from libs.messaging.port import BatchHandler, Handler, Message, Record, RetryPolicy, dead_letter_topic

log = logging.getLogger(__name__)

MAX_BATCH = 100
"""Records handed to a batch handler at once: one transaction, so a longer batch would hold
SQLite's write lock (and keep requests waiting) for longer."""


class PoisonMessage(Exception):
    """A record no retry can mend (undecodable, unknown type): dead-lettered at once."""


async def deliver(
    record: Record,
    handler: Handler,
    *,
    group: str,
    retry: RetryPolicy,
    publish_dead_letter,
) -> bool:
    """Hand ``record`` to ``handler`` until it succeeds or the policy gives up.

    Returns True when the handler succeeded, False when the record was dead-lettered.
    Cancellation propagates untouched, so a stopped consumer does not commit the record.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            await handler(record)
        except PoisonMessage as exc:
            EVENTS_FAILED.labels(group, record.topic).inc()
            error = exc
            break
        except Exception as exc:
            EVENTS_FAILED.labels(group, record.topic).inc()
            if attempt >= retry.max_attempts:
                error = exc
                break
            delay = retry.backoff(attempt)
            log.warning(
                "handler failed, retrying",
                extra={"group": group, "topic": record.topic, "offset": record.offset,
                       "attempt": attempt, "retry_in_s": delay, "error": repr(exc)},
            )
            await asyncio.sleep(delay)
        else:
            EVENTS_CONSUMED.labels(group, record.topic).inc()
            return True
    log.error(
        "record dead-lettered",
        extra={"group": group, "topic": record.topic, "partition": record.partition,
               "offset": record.offset, "attempts": attempt, "error": repr(error)},
    )
    await publish_dead_letter(dead_letter_message(record, group=group, error=error, attempts=attempt))
    EVENTS_DEAD_LETTERED.labels(group, record.topic).inc()
    return False


async def deliver_all(
    records: Sequence[Record],
    handler: Handler,
    *,
    group: str,
    retry: RetryPolicy,
    publish_dead_letter,
    advanced: Callable[[int], None],
    batch_handler: BatchHandler | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> None:
    """Deliver ``records`` (of one partition, in offset order), calling ``advanced(offset)``
    with the next offset to commit each time some are done.

    Several records go to ``batch_handler`` together, which applies all or none of them. When
    it raises, nothing of the batch was applied and each record goes through ``deliver`` in
    turn, so a failing record is retried and dead-lettered on its own, as without batches.
    """
    for start in range(0, len(records), MAX_BATCH):
        chunk = records[start:start + MAX_BATCH]
        if stopping():
            return
        if batch_handler is not None and len(chunk) > 1 and await _applied_together(
                chunk, batch_handler, group):
            advanced(chunk[-1].offset + 1)
            continue
        for record in chunk:
            if stopping():
                return
            await deliver(record, handler, group=group, retry=retry,
                          publish_dead_letter=publish_dead_letter)
            advanced(record.offset + 1)


async def _applied_together(records: Sequence[Record], batch_handler: BatchHandler,
                            group: str) -> bool:
    try:
        await batch_handler(records)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 (any failure: the records go one at a time)
        log.info("batch failed, delivering its records one at a time",
                 extra={"group": group, "topic": records[0].topic,
                        "partition": records[0].partition, "offset": records[0].offset,
                        "records": len(records), "error": repr(exc)})
        return False
    for topic, count in collections.Counter(r.topic for r in records).items():
        EVENTS_CONSUMED.labels(group, topic).inc(count)
    return True


def dead_letter_message(record: Record, *, group: str, error: BaseException, attempts: int) -> Message:
    """The original key, value and headers, plus headers saying where it came from and why."""
    # A poison message wraps what made it undecodable (UnknownEvent, InvalidEvent...): that
    # names the problem better than "PoisonMessage" in a list of dead letters.
    cause = error.__cause__ if isinstance(error, PoisonMessage) and error.__cause__ else error
    origin = (
        ("dlq.error", repr(error).encode()[:2000]),
        ("dlq.error.type", type(cause).__name__.encode()),
        ("dlq.reason", str(error).encode()[:2000]),
        ("dlq.error.trace", "".join(traceback.format_exception(error)).encode()[-4000:]),
        ("dlq.origin.topic", record.topic.encode()),
        ("dlq.origin.partition", str(record.partition).encode()),
        ("dlq.origin.offset", str(record.offset).encode()),
        ("dlq.group", group.encode()),
        ("dlq.attempts", str(attempts).encode()),
    )
    return Message(
        topic=dead_letter_topic(record.topic),
        key=record.key,
        value=record.value,
        headers=tuple(record.headers) + origin,
    )
