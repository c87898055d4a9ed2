"""The order saga's figures for Prometheus: how orders end, how long they took to get there, and
how long the oldest order has waited on the saga (not on a person): what the stuck-saga alert
watches."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.orm import object_session

ORDERS_MOVED = Counter(
    "adopte_order_transitions_total", "Orders that reached a status (counted once committed).",
    ["status"],
)
SAGA_DURATION = Histogram(
    "adopte_order_saga_seconds", "Time from placing an order to it reaching a status.", ["status"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400, 604800),
)
SAGA_WAITING = Gauge(
    "adopte_order_saga_waiting_seconds",
    "How long the oldest order has waited on the saga at a stage: 'placed' (stock and slot not "
    "yet answered) or 'payment_overdue' (past its pay-by time, not yet cancelled).",
    ["stage"],
)


_MOVES = "order_moves"  # the session's moves not yet committed: (status, seconds since placed)


def count_once_committed(order, now: datetime) -> None:
    """Counts the order's new status once its transaction commits: a handler that rolls back
    and is retried would otherwise count the same move twice. The session keeps its moves
    under one pair of listeners, however many orders its transactions move."""
    status, waited = str(order.status), (now - order.placed_at).total_seconds()
    session = object_session(order)
    if session is None:
        _count([(status, waited)])
        return
    if _MOVES not in session.info:
        event.listen(session, "after_commit", _count_committed)
        event.listen(session, "after_rollback", _forget_rolled_back)
    session.info.setdefault(_MOVES, []).append((status, waited))


def _count_committed(session) -> None:
    moves, session.info[_MOVES] = session.info[_MOVES], []
    _count(moves)


def _forget_rolled_back(session) -> None:
    session.info[_MOVES] = []


def _count(moves: list[tuple[str, float]]) -> None:
    for status, waited in moves:
        ORDERS_MOVED.labels(status).inc()
        SAGA_DURATION.labels(status).observe(max(waited, 0.0))


def note_waiting(stage: str, since: datetime | None, now: datetime) -> None:
    SAGA_WAITING.labels(stage).set(0.0 if since is None else max((now - since).total_seconds(), 0))
