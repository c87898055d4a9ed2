"""`adopte backup` and `adopte restore` on the embedded mode: a backup taken while the hub runs
and writes restores into a hub that has lost nothing and handles no event twice; and what a
restore refuses, before touching anything."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import json
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from services.backup import BackupError, backup, hub_running_on, restore
from tests.e2e.conftest import running_embedded_hub
from tests.e2e.hub import Hub
from tests.e2e.test_compensations import place, stock_of
from tests.e2e.test_journey import open_hub_with_two_shops, wait_for_order, wait_for_payment
from tests.support.processes import REPO_ROOT
from tests.support.waiting import eventually

SETTLED = {"awaiting_payment", "confirmed", "ready", "completed", "rejected", "cancelled"}
HOLDING_STOCK = {"awaiting_payment", "confirmed", "ready", "completed"}


def adopte(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.cli", *map(str, args)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


def bus_offsets(data_dir: Path) -> dict[tuple[str, str, int], int]:
    with contextlib.closing(sqlite3.connect(data_dir / "bus.sqlite3")) as bus:
        return {(group, topic, partition): offset for group, topic, partition, offset
                in bus.execute("select grp, topic, partition, next_offset from group_offsets")}


def bus_settled(data_dir: Path) -> bool:
    with contextlib.closing(sqlite3.connect(data_dir / "bus.sqlite3")) as bus:
        behind = bus.execute(
            'select count(*) from group_offsets g join (select topic, partition, '
            'max("offset") + 1 as ends from records group by topic, partition) r '
            'using (topic, partition) where g.next_offset < r.ends').fetchone()[0]
    return behind == 0


async def keep_writing(hub: Hub, town: dict, bread: str, token: str, stop: asyncio.Event,
                       writes: list[str]) -> None:
    """New accounts and one-loaf orders, as residents would, until told to stop."""
    while not stop.is_set():
        email, _ = await hub.sign_up(f"Passant{len(writes)}")
        await place(hub, town, token, [{"product_id": bread, "quantity": 1}])
        writes.append(email)


async def my_orders(hub: Hub, token: str) -> list[dict]:
    answer = await hub.request("GET", "/orders/api/v1/orders", token=token)
    assert answer.status_code == 200, answer.text
    return answer.json()


def loaves_held(orders: list[dict], bread: str) -> int:
    return sum(line["quantity"] for order in orders if order["status"] in HOLDING_STOCK
               for part in order["parts"] for line in part["lines"]
               if line["product_id"] == bread)


async def test_a_backup_taken_while_the_hub_writes_restores_with_nothing_lost(tmp_path):
    archive = tmp_path / "hub.tar.gz"
    (tmp_path / "original").mkdir()
    async with running_embedded_hub(tmp_path / "original") as hub:
        town = await open_hub_with_two_shops(hub)
        bread = next(s for s in town["shops"].values() if s["stock"] == 10)["product_id"]
        resident_email, resident = await hub.sign_up("Noa")
        unpaid = (await place(hub, town, resident,
                              [{"product_id": bread, "quantity": 2}])).json()["id"]
        await wait_for_payment(hub, unpaid, resident)
        paid = (await place(hub, town, resident,
                            [{"product_id": bread, "quantity": 1}])).json()["id"]
        payment = (await wait_for_payment(hub, paid, resident))["payment"]["id"]
        settled = await hub.request("POST", f"/payments/api/v1/payments/{payment}/simulate",
                                    token=resident, json={"outcome": "succeeded"})
        assert settled.status_code == 200, settled.text
        await wait_for_order(hub, paid, resident, "confirmed")
        _, passer_by = await hub.sign_up("Passant")

        stop, writes = asyncio.Event(), []
        writing = asyncio.create_task(keep_writing(hub, town, bread, passer_by, stop, writes))
        await eventually(lambda: writing.done() or writes, message="writes under way")
        written_before = len(writes)
        backed_up = await asyncio.to_thread(adopte, "backup", "--data-dir",
                                            tmp_path / "original" / "data", "--to", archive)
        stop.set()
        await writing
        assert len(writes) > written_before, "the hub took no write during the backup"
        assert backed_up.returncode == 0, backed_up.stderr
        assert backed_up.stdout.strip() == str(archive)
        assert "integrity ok" in backed_up.stderr and "backed up" in backed_up.stderr

        while_running = adopte("restore", archive, "--data-dir", tmp_path / "original" / "data",
                               "--force")
        assert while_running.returncode == 1
        assert "a hub is running" in while_running.stderr

    restored_dir = tmp_path / "restored" / "data"
    restored = adopte("restore", archive, "--data-dir", restored_dir)
    assert restored.returncode == 0, restored.stderr
    assert "restored" in restored.stderr
    offsets_at_backup = bus_offsets(restored_dir)
    assert offsets_at_backup

    async with running_embedded_hub(tmp_path / "restored") as hub:
        # A token signed before the backup still passes: the same key pair came back.
        before = await hub.eventually_ok("GET", f"/orders/api/v1/orders/{unpaid}",
                                         token=resident)
        assert before.json()["status"] == "awaiting_payment"
        assert (await hub.request("GET", f"/orders/api/v1/orders/{paid}", token=resident)
                ).json()["status"] == "confirmed"
        assert await hub.token(hub.admin_email, hub.admin_password)
        assert await hub.token(resident_email, "Noa-secret-123")
        products = (await hub.request("GET", "/catalog/api/v1/products",
                                      params={"hub_id": town["hub_id"]})).json()
        assert {p["name"] for p in products} == {"Pain de campagne", "Tomme de Bretagne"}

        async def settled_everywhere() -> bool:
            orders = await my_orders(hub, resident) + await my_orders(hub, passer_by)
            return (all(order["status"] in SETTLED for order in orders)
                    and bus_settled(restored_dir))

        await eventually(settled_everywhere, timeout=30, message="restored hub settled")
        orders = await my_orders(hub, resident) + await my_orders(hub, passer_by)
        assert await stock_of(hub, town["hub_id"], bread) == 10 - loaves_held(orders, bread)
        offsets_now = bus_offsets(restored_dir)
        assert all(offsets_now[position] >= offset
                   for position, offset in offsets_at_backup.items()), "offsets went back"


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A data dir as the embedded hub leaves it: WAL databases, a key pair, a photo."""
    folder = tmp_path / "data"
    (folder / "keys").mkdir(parents=True)
    (folder / "keys" / "jwt-private.pem").write_text("private")
    (folder / "media").mkdir()
    (folder / "media" / "photo.webp").write_bytes(b"\x00photo")
    for name in ("bus", "order"):
        with contextlib.closing(sqlite3.connect(folder / f"{name}.sqlite3")) as db:
            db.execute("pragma journal_mode=wal")
            db.execute("create table facts (value text)")
            db.execute("insert into facts values (?)", (name,))
            db.execute("create table alembic_version (version_num varchar(32) primary key)")
            db.execute("insert into alembic_version values ('0001_first')")
            db.commit()
    return folder


def test_an_archive_holds_a_manifest_of_every_file_with_its_checksum(data_dir, tmp_path):
    archive = tmp_path / "b.tar.gz"
    backup(data_dir, archive)

    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    files = {entry["path"]: entry for entry in manifest["files"]}
    assert set(files) == {"bus.sqlite3", "order.sqlite3", "keys/jwt-private.pem",
                          "media/photo.webp"}
    assert files["order.sqlite3"]["integrity"] == "ok"
    assert files["order.sqlite3"]["schema_version"] == "0001_first"
    assert files["media/photo.webp"]["size"] == 6 and len(files["media/photo.webp"]["sha256"]) == 64
    assert manifest["app_version"] and manifest["created_at"].endswith("+00:00")
    assert not list(tmp_path.glob(".*")), "a temporary file was left behind"


def test_a_restore_brings_back_every_file(data_dir, tmp_path):
    archive = tmp_path / "b.tar.gz"
    backup(data_dir, archive)
    entries, aside = restore(archive, tmp_path / "again")

    assert aside is None and len(entries) == 4
    assert (tmp_path / "again" / "media" / "photo.webp").read_bytes() == b"\x00photo"
    with contextlib.closing(sqlite3.connect(tmp_path / "again" / "order.sqlite3")) as db:
        assert db.execute("select value from facts").fetchall() == [("order",)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again", "b.tar.gz", "data"]


def test_a_backup_needs_a_data_dir(tmp_path):
    with pytest.raises(BackupError, match="no data dir"):
        backup(tmp_path / "missing", tmp_path / "b.tar.gz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackupError, match="holds no database"):
        backup(tmp_path / "empty", tmp_path / "b.tar.gz")
    assert not (tmp_path / "b.tar.gz").exists()


def test_a_failed_write_leaves_no_archive(data_dir, tmp_path, monkeypatch):
    def disk_full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("services.backup.os.fsync", disk_full)
    with pytest.raises(BackupError, match="No space left on device"):
        backup(data_dir, tmp_path / "b.tar.gz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_a_data_dir_in_use_is_not_restored_over(data_dir, tmp_path):
    archive = tmp_path / "b.tar.gz"
    backup(data_dir, archive)
    with contextlib.closing(sqlite3.connect(data_dir / "bus.sqlite3")) as open_bus:
        open_bus.execute("select count(*) from facts").fetchone()
        assert hub_running_on(data_dir) == "bus.sqlite3"
        with pytest.raises(BackupError, match="a hub is running"):
            restore(archive, data_dir, force=True)
    assert hub_running_on(data_dir) is None
    assert not list(tmp_path.glob("data.before-restore-*"))


def test_an_existing_data_dir_is_moved_aside_only_with_force(data_dir, tmp_path):
    archive = tmp_path / "b.tar.gz"
    backup(data_dir, archive)
    (data_dir / "media" / "later.webp").write_bytes(b"later")

    with pytest.raises(BackupError, match="--force"):
        restore(archive, data_dir)
    assert (data_dir / "media" / "later.webp").exists()

    _, aside = restore(archive, data_dir, force=True)
    assert aside.name.startswith("data.before-restore-")
    assert (aside / "media" / "later.webp").read_bytes() == b"later"
    assert not (data_dir / "media" / "later.webp").exists()
    assert (data_dir / "media" / "photo.webp").exists()


def rewrite(archive: Path, change) -> None:
    """The archive with one member's bytes changed, its manifest left as it was."""
    with tarfile.open(archive) as tar:
        members = [(member, tar.extractfile(member).read()) for member in tar.getmembers()]
    with tarfile.open(archive, "w:gz") as tar:
        for member, data in members:
            data = change(member.name, data)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))


def test_a_corrupt_archive_is_refused_before_anything_is_touched(data_dir, tmp_path):
    archive = tmp_path / "b.tar.gz"
    backup(data_dir, archive)
    rewrite(archive, lambda name, data: data + b"!" if name == "media/photo.webp" else data)
    (data_dir / "media" / "later.webp").write_bytes(b"later")

    with pytest.raises(BackupError, match="media/photo.webp does not match its checksum"):
        restore(archive, data_dir, force=True)
    assert (data_dir / "media" / "later.webp").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.tar.gz", "data"]


def test_a_truncated_archive_is_refused(data_dir, tmp_path):
    archive = tmp_path / "b.tar.gz"
    backup(data_dir, archive)
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(BackupError, match="not a readable backup"):
        restore(archive, tmp_path / "again")
    assert not (tmp_path / "again").exists()


def test_a_file_slipped_into_an_archive_is_refused(data_dir, tmp_path):
    archive = tmp_path / "b.tar.gz"
    backup(data_dir, archive)
    with tarfile.open(archive) as tar:
        members = [(member, tar.extractfile(member).read()) for member in tar.getmembers()]
    extra = tarfile.TarInfo("keys/extra.pem")
    extra.size = 5
    with tarfile.open(archive, "w:gz") as tar:
        for member, data in [*members, (extra, b"extra")]:
            tar.addfile(member, io.BytesIO(data))
    with pytest.raises(BackupError, match="keys/extra.pem not in its manifest"):
        restore(archive, tmp_path / "again")


def test_the_commands_say_what_they_did_and_why_they_refuse(data_dir, tmp_path):
    archive = tmp_path / "b.tar.gz"
    made = adopte("backup", "--data-dir", data_dir, "--to", archive)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == str(archive)
    assert "order.sqlite3: integrity ok" in made.stderr
    assert f"backed up {data_dir}: 4 files in {archive}" in made.stderr

    missing = adopte("backup", "--data-dir", tmp_path / "missing", "--to", tmp_path / "x.tar.gz")
    assert missing.returncode == 1
    assert f"backup failed: no data dir at {tmp_path / 'missing'}" in missing.stderr

    refused = adopte("restore", archive, "--data-dir", data_dir)
    assert refused.returncode == 1
    assert "restore refused" in refused.stderr and "--force" in refused.stderr

    archive.write_bytes(gzip.compress(b"not a tar"))
    corrupt = adopte("restore", archive, "--data-dir", tmp_path / "again")
    assert corrupt.returncode == 1 and "not a readable backup" in corrupt.stderr

    backup(data_dir, archive)
    forced = adopte("restore", archive, "--data-dir", data_dir, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "the previous data dir is kept in" in forced.stderr
    assert f"restored 4 files into {data_dir}" in forced.stderr
