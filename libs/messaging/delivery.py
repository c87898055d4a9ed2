"""What every adapter does with one record: run the handler, retry with back-off, dead-letter.

Adapters differ in how they fetch and commit; the policy for a failing handler lives here once.
"""

from __future__ import annotations

import asyncio
import logging
import traceback

from libs.messaging.metrics import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED, EVENTS_FAILED
from libs.messaging.port import Handler, Message, Record, RetryPolicy, dead_letter_topic

log = logging.getLogger(__name__)


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


def dead_letter_message(record: Record, *, group: str, error: BaseException, attempts: int) -> Message:
    """The original key, value and headers, plus headers saying where it came from and why."""
    origin = (
        ("dlq.error", repr(error).encode()[:2000]),
        ("dlq.error.type", type(error).__name__.encode()),
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
