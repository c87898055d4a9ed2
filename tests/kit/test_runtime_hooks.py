"""What an event handler gets from the runtime besides its transaction: the service's settings and
adapters, and work left for once its transaction has committed (never if it rolled back), run in
the background, its failures logged, and waited for (for a while) when the service stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Column, MetaData, String, Table, insert, select

from libs.contracts import registry
from libs.contracts.pickup import HubOpened
from libs.kit.runtime import (
    EventHandler,
    Periodic,
    RuntimeWork,
    ServiceDefinition,
    ServiceRuntime,
    UnitOfWork,
    build_runtime,
)
from libs.kit.settings import ServiceSettings
from libs.messaging.inbox import inbox_table
from libs.messaging.outbox import Outbox, outbox_table
from libs.messaging.port import Record

METADATA = MetaData()
outbox_table(METADATA)
inbox_table(METADATA)
STAMPS = Table("stamps", METADATA, Column("id", String(36), primary_key=True))


class HookSettings(ServiceSettings):
    greeting: str = "bonjour"
    every_s: float = 7.0


class Till:
    """A stand-in for a port of the service (a payment provider, say)."""


@contextlib.asynccontextmanager
async def running(tmp_path, database_url: str, *handlers: EventHandler
                  ) -> AsyncIterator[ServiceRuntime]:
    """A small service answering HubOpened with ``handlers`` (under the pickup's name, whose
    contracts it borrows), on its own database."""
    definition = ServiceDefinition(name="pickup", prefix="/hooks", metadata=METADATA,
                                   subscriptions={HubOpened: list(handlers)})
    settings = HookSettings(data_dir=tmp_path, database_url=database_url, outbox_relay=False)
    runtime = build_runtime(definition, settings, adapters={"till": Till()})
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


async def deliver(runtime: ServiceRuntime) -> str:
    """One HubOpened handled, as the consumer would; its hub id."""
    event = HubOpened(hub_id=uuid.uuid4(), name="La Fabrique", town="Lannion", address="1 rue")
    await runtime.handle(Record(event.topic, partition=0, offset=0, key=event.key,
                                value=event.envelope(correlation_id="hooks").to_bytes()))
    return str(event.hub_id)


def stamping(*works: RuntimeWork, then_fail: bool = False) -> EventHandler:
    """A handler that writes a stamp (the hub's id), leaves ``works`` for after its commit, and
    maybe fails after that."""

    async def handler(event: HubOpened, uow: UnitOfWork) -> None:
        await uow.session.execute(insert(STAMPS).values(id=str(event.hub_id)))
        for work in works:
            uow.after_commit(work)
        if then_fail:
            raise RuntimeError("the handler fails after leaving work")

    return handler


async def stamps(runtime: ServiceRuntime) -> set[str]:
    """The stamps committed, read in a transaction of their own."""
    async with runtime.database.sessions() as session:
        return set((await session.execute(select(STAMPS.c.id))).scalars())


async def test_after_commit_work_runs_once_the_transaction_has_committed(tmp_path, database_url):
    seen = []

    async def look(runtime: ServiceRuntime) -> None:
        seen.append((runtime, await stamps(runtime)))

    async with running(tmp_path, database_url, stamping(look)) as runtime:
        hub_id = await deliver(runtime)
        await runtime.settle()
        assert seen == [(runtime, {hub_id})]

        async with runtime.unit_of_work() as uow:  # a use case's transaction, likewise
            await uow.session.execute(insert(STAMPS).values(id="use case"))
            uow.after_commit(look)
        await runtime.settle()
        assert seen[1:] == [(runtime, {hub_id, "use case"})]


async def test_after_commit_work_is_dropped_when_the_transaction_rolls_back(tmp_path, database_url):
    ran = []

    async def remember(runtime: ServiceRuntime) -> None:
        ran.append("work")

    async with running(tmp_path, database_url, stamping(remember, then_fail=True)) as runtime:
        with pytest.raises(RuntimeError, match="fails after leaving work"):
            await deliver(runtime)
        with pytest.raises(LookupError):
            async with runtime.unit_of_work() as uow:
                await uow.session.execute(insert(STAMPS).values(id="use case"))
                uow.after_commit(remember)
                raise LookupError("the use case fails")
        await runtime.settle()
        assert ran == []
        assert await stamps(runtime) == set()


async def test_failing_after_commit_work_is_logged_and_the_handler_stands(
    tmp_path, database_url, caplog
):
    ran = []

    async def call_outside(runtime: ServiceRuntime) -> None:
        raise ConnectionError("the outside world does not answer")

    async def remember(runtime: ServiceRuntime) -> None:
        ran.append("next")

    async with running(tmp_path, database_url, stamping(call_outside, remember)) as runtime:
        with caplog.at_level(logging.ERROR, logger="libs.kit.runtime"):
            hub_id = await deliver(runtime)
            await runtime.settle()
        assert await stamps(runtime) == {hub_id}  # the handler's transaction stands
        assert ran == ["next"]  # and the work left after the failing one still ran
        [failed] = [r for r in caplog.records if r.getMessage() == "after-commit work failed"]
        assert failed.work.endswith("call_outside")
        assert isinstance(failed.exc_info[1], ConnectionError)


async def test_handlers_see_the_services_settings_and_adapters(tmp_path, database_url):
    seen = []

    async def handler(event: HubOpened, uow: UnitOfWork) -> None:
        seen.append((uow.settings, uow.settings.greeting, uow.adapters["till"]))

    async with running(tmp_path, database_url, handler) as runtime:
        await deliver(runtime)
        assert seen == [(runtime.settings, "bonjour", runtime.adapters["till"])]
        async with runtime.unit_of_work() as uow:
            assert (uow.settings, uow.adapters) == (runtime.settings, runtime.adapters)


def test_a_unit_of_work_made_without_a_runtime_has_no_settings_nor_adapters():
    uow = UnitOfWork(session=None, outbox=Outbox(METADATA.tables["outbox"]), correlation_id="cli")
    assert (uow.settings, dict(uow.adapters)) == (None, {})


def test_a_periodic_period_may_be_a_setting(tmp_path):
    async def work(runtime: ServiceRuntime) -> None:
        return None

    settings = HookSettings(data_dir=tmp_path, every_s=3.5)
    assert Periodic(every_s=2.0, run=work).period_s(settings) == 2.0
    assert Periodic(every_s=lambda s: s.every_s, run=work).period_s(settings) == 3.5


async def test_stopping_waits_for_after_commit_work_then_cancels_what_outlasts_the_grace(
    tmp_path, caplog
):
    finished, cancelled = [], []

    async def quick(runtime: ServiceRuntime) -> None:
        await asyncio.sleep(0.05)
        finished.append("quick")

    async def stuck(runtime: ServiceRuntime) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append("stuck")
            raise

    url = f"sqlite+aiosqlite:///{tmp_path / 'hooks.sqlite3'}"
    with caplog.at_level(logging.WARNING, logger="libs.kit.runtime"):
        async with running(tmp_path, url, stamping(quick)) as runtime:
            runtime.after_commit_grace_s = 0.5
            await deliver(runtime)
            async with runtime.unit_of_work() as uow:
                uow.after_commit(stuck)
    assert finished == ["quick"]
    assert cancelled == ["stuck"]
    assert any(r.getMessage() == "cancelling after-commit work still running at stop"
               for r in caplog.records)


def opened(n: int, correlation: str) -> Record:
    event = HubOpened(hub_id=uuid.uuid4(), name=f"Hub {n}", town="Lannion", address="1 rue")
    return Record(event.topic, partition=0, offset=n, key=event.key,
                  value=event.envelope(correlation_id=correlation).to_bytes())


async def test_a_batch_is_applied_in_one_transaction_each_event_once_in_its_own_saga(
        tmp_path, database_url):
    async def announce(event: HubOpened, uow: UnitOfWork) -> None:
        await uow.emit(HubOpened(hub_id=uuid.uuid4(), name=f"after {event.name}",
                                 town="Lannion", address="2 rue"))

    records = [opened(n, correlation=f"saga-{n}") for n in range(5)]
    async with running(tmp_path, database_url, stamping(), announce) as runtime:
        await runtime.handle_batch([*records, records[2]])
        await runtime.handle_batch(records[:2])  # delivered again: nothing more
        async with runtime.database.sessions() as session:
            written = (await session.scalars(
                select(runtime.outbox.table.c.envelope).order_by(runtime.outbox.table.c.id))).all()
        assert len(await stamps(runtime)) == 5
    envelopes = [registry.decode_bytes(row) for row in written]
    assert [event.name for _, event in envelopes] == [f"after Hub {n}" for n in range(5)]
    assert [envelope.correlation_id for envelope, _ in envelopes] == [
        f"saga-{n}" for n in range(5)]
    assert [envelope.causation_id for envelope, _ in envelopes] == [
        str(registry.decode_bytes(r.value)[0].event_id) for r in records]


async def test_a_batch_with_a_failing_handler_leaves_nothing_behind(tmp_path, database_url):
    async def refuse_the_third(event: HubOpened, uow: UnitOfWork) -> None:
        await uow.emit(HubOpened(hub_id=uuid.uuid4(), name="echo", town="Lannion", address="2"))
        if event.name == "Hub 2":
            raise RuntimeError("cannot apply the third")

    async with running(tmp_path, database_url, stamping(), refuse_the_third) as runtime:
        with pytest.raises(RuntimeError, match="cannot apply the third"):
            await runtime.handle_batch([opened(n, correlation="c") for n in range(5)])
        async with runtime.database.sessions() as session:
            claimed = (await session.scalars(select(runtime.inbox.table.c.event_id))).all()
            emitted = (await session.scalars(select(runtime.outbox.table.c.id))).all()
        assert (await stamps(runtime), claimed, emitted) == (set(), [], [])
