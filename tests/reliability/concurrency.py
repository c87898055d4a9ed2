"""Making concurrent work really concurrent: a gate that holds the first callers until all of
them are in flight (each with its own open transaction), and a connection pool wide enough for
all of them at once. ``asyncio.gather`` alone does not prove it: a pool of 30 connections, or a
handler that finishes before the next one starts, would serialise the race the test is about."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from libs.kit.runtime import ServiceRuntime

GATE_TIMEOUT_S = 30.0


class Gate:
    """Holds each of the first ``parties`` callers of ``wait`` until all of them have arrived,
    then lets them (and anyone after them) through. Times out, loudly, when they never all
    arrive: then the work under test was serialised somewhere before the gate."""

    def __init__(self, parties: int, timeout: float = GATE_TIMEOUT_S) -> None:
        self.parties = parties
        self._barrier = asyncio.Barrier(parties)
        self._to_hold = parties
        self._timeout = timeout

    async def wait(self) -> None:
        if self._to_hold == 0:
            return
        self._to_hold -= 1
        try:
            async with asyncio.timeout(self._timeout):
                await self._barrier.wait()
        except TimeoutError:
            raise AssertionError(
                f"only {self._barrier.n_waiting} of {self.parties} got to the gate together: "
                "something serialises them before it") from None


def wide_pool(monkeypatch, connections: int) -> None:
    """Services started from now on get a PostgreSQL pool of ``connections`` connections (the
    default is 10 + 20 overflow), so that every racing transaction holds its own."""
    from libs.kit import db

    def engine(url, **options: Any):
        if make_url(url).get_backend_name() == "sqlite":
            return create_async_engine(url, **options)
        return create_async_engine(url, **{**options, "pool_size": connections,
                                           "max_overflow": 0, "pool_timeout": GATE_TIMEOUT_S})

    monkeypatch.setattr(db, "create_async_engine", engine)


def gate_handlers(runtime: ServiceRuntime, event_type: type, gate: Gate) -> None:
    """The handlers of ``event_type`` wait at ``gate`` first, inside their event's transaction
    (the inbox claim is made, the handler's statements are not)."""

    def gated(handler: Callable[[Any, Any], Awaitable[None]]):
        async def handle(event, uow) -> None:
            await gate.wait()
            await handler(event, uow)

        return handle

    subscriptions = dict(runtime.definition.subscriptions)
    subscriptions[event_type] = [gated(handler) for handler in subscriptions[event_type]]
    runtime.definition = replace(runtime.definition, subscriptions=subscriptions)


def gate_units_of_work(runtime: ServiceRuntime, gate: Gate) -> None:
    """The runtime's use-case transactions wait at ``gate`` once they have begun."""
    opened = runtime.unit_of_work

    @contextlib.asynccontextmanager
    async def gated():
        async with opened() as uow:
            await gate.wait()
            yield uow

    runtime.unit_of_work = gated

