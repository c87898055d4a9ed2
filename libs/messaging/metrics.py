"""Prometheus metrics of the event backbone, labelled so one process can host every service."""

from prometheus_client import Counter, Gauge

EVENTS_PUBLISHED = Counter(
    "adopte_events_published_total", "Records published to the bus.", ["topic"]
)
EVENTS_CONSUMED = Counter(
    "adopte_events_consumed_total", "Records whose handler succeeded.", ["group", "topic"]
)
EVENTS_FAILED = Counter(
    "adopte_events_failed_total", "Handler attempts that raised.", ["group", "topic"]
)
EVENTS_DEAD_LETTERED = Counter(
    "adopte_events_dead_lettered_total", "Records sent to a dead-letter topic.", ["group", "topic"]
)
CONSUMER_LAG = Gauge(
    "adopte_consumer_lag", "Records published and not yet committed by a group.", ["group"]
)
OUTBOX_BACKLOG = Gauge(
    "adopte_outbox_backlog", "Outbox rows committed and not yet published.", ["service"]
)
