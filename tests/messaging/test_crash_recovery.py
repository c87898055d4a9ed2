"""A process SIGKILLed between commit and publish, then again between publish and marking the
outbox: after a restart the event's effect is applied exactly once, on each bus and database."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from sqlalchemy import select

from libs.kit.db import Database
from tests.support import crash_worker
from tests.support.processes import REPO_ROOT
from tests.support.waiting import eventually


class Worker:
    def __init__(self, mode: str, args: list[str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.crash_worker", mode, *args],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )

    def wait_for(self, prefix: str) -> str:
        # readline blocks until the worker says something or dies; the pytest timeout bounds it.
        for line in self.process.stdout:
            if line.startswith(prefix):
                return line.strip()
        raise AssertionError(f"worker exited ({self.process.wait()}) before saying {prefix!r}")

    def sigkill(self) -> None:
        self.process.kill()
        self.process.wait(10)
        self.process.stdout.close()


@pytest.fixture(params=["embedded", "kafka"])
def bus_args(request, tmp_path) -> list[str]:
    if request.param == "kafka":
        return ["--kafka", request.getfixturevalue("kafka_bootstrap_servers")]
    return ["--bus-file", str(tmp_path / "bus.sqlite3")]


async def test_an_event_survives_sigkill_and_is_applied_exactly_once(database_url, bus_args):
    args = ["--db", database_url, *bus_args, "--group", f"crash-{uuid.uuid4().hex[:8]}"]

    committing = Worker("commit-then-hang", args)
    hub_id = committing.wait_for("committed").split()[1]
    committing.wait_for("waiting")
    committing.sigkill()

    publishing = Worker("publish-then-hang", args)
    assert publishing.wait_for("published") == "published 1"
    publishing.sigkill()

    restarted = Worker("run", args)
    restarted.wait_for("running")
    database = Database(database_url, crash_worker.metadata)
    await database.start(create_tables=False)
    tally = crash_worker.tally
    outbox = crash_worker.outbox_rows
    try:
        async def both_deliveries_seen() -> bool:
            async with database.sessions() as session:
                row = (await session.execute(
                    select(tally.c.deliveries).where(tally.c.hub_id == hub_id))).first()
            return row is not None and row.deliveries == 2

        await eventually(both_deliveries_seen, timeout=60,
                         message="the event delivered twice (published, then republished)")
        async with database.sessions() as session:
            applied = await session.scalar(select(tally.c.applied).where(tally.c.hub_id == hub_id))
            unpublished = await session.scalar(
                select(outbox.c.id).where(outbox.c.published_at.is_(None)))
        assert applied == 1
        assert unpublished is None
    finally:
        restarted.sigkill()
        await database.stop()
