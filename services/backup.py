"""Backups of the embedded mode's data dir: every SQLite database (copied with SQLite's online
backup API, so the hub keeps running), the token key pair, photos and e-mails written as files,
in one tar.gz with a manifest; and their restore, checked before anything is touched."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE_SUFFIX = ".sqlite3"
FOLDERS = ("keys", "media", "outbox-mail")
# How long a copy waits on a writer holding the database: writes are short.
BUSY_TIMEOUT_S = 30.0


class BackupError(Exception):
    """What stops a backup or a restore, said for the person at the terminal."""


@dataclass(frozen=True)
class Entry:
    path: str
    size: int
    sha256: str
    integrity: str | None = None
    schema_version: str | None = None


def sources(data_dir: Path) -> list[Path]:
    """What a backup of ``data_dir`` holds, databases first."""
    if not data_dir.is_dir():
        raise BackupError(f"no data dir at {data_dir}")
    databases = sorted(data_dir.glob(f"*{DATABASE_SUFFIX}"))
    if not databases:
        raise BackupError(f"{data_dir} holds no database: is it the data dir of `adopte dev`?")
    files = sorted(path for folder in FOLDERS for path in (data_dir / folder).rglob("*")
                   if path.is_file())
    return databases + files


def backup(data_dir: Path, archive: Path, *, on_item: Callable[[str], None] = lambda _: None
           ) -> list[Entry]:
    """Write the archive of ``data_dir`` at ``archive``, whole or not at all."""
    items = sources(data_dir)
    archive.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=archive.parent, prefix=".backup-") as staging:
            entries = [_stage(data_dir, item, Path(staging), on_item) for item in items]
            on_item(archive.name)
            _write_archive(Path(staging), entries, archive)
    except OSError as exc:
        raise BackupError(f"could not write {archive}: {exc.strerror or exc}") from None
    return entries


def _stage(data_dir: Path, item: Path, staging: Path, on_item: Callable[[str], None]) -> Entry:
    name = item.relative_to(data_dir).as_posix()
    on_item(name)
    copy = staging / name
    copy.parent.mkdir(parents=True, exist_ok=True)
    if item.suffix != DATABASE_SUFFIX:
        shutil.copy2(item, copy)
        return _entry(copy, name)
    _copy_database(item, copy)
    integrity, schema_version = _inspect(copy)
    return _entry(copy, name, integrity=integrity, schema_version=schema_version)


def _copy_database(source: Path, copy: Path) -> None:
    """One step of the online backup API: the copy is the database as of one read transaction,
    whatever the hub writes meanwhile (a stepwise copy would restart on each write)."""
    origin = sqlite3.connect(f"file:{source}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_S)
    target = sqlite3.connect(copy)
    try:
        with target:
            origin.backup(target)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"could not copy {source.name}: {exc}") from None
    finally:
        target.close()
        origin.close()


def _inspect(database: Path) -> tuple[str, str | None]:
    """(integrity_check's verdict, the Alembic revision or else SQLite's user_version)."""
    # Read-write, so that closing it folds and removes the -wal and -shm files it opens.
    connection = sqlite3.connect(f"file:{database}?mode=rw", uri=True)
    try:
        rows = connection.execute("pragma integrity_check").fetchall()
        return "; ".join(row[0] for row in rows), _schema_version(connection)
    except sqlite3.DatabaseError as exc:
        return str(exc), None
    finally:
        connection.close()


def _schema_version(connection: sqlite3.Connection) -> str | None:
    if connection.execute("select 1 from sqlite_master where type = 'table' and name = "
                          "'alembic_version'").fetchone():
        revisions = connection.execute("select version_num from alembic_version").fetchall()
        return ",".join(sorted(row[0] for row in revisions)) or None
    user_version = connection.execute("pragma user_version").fetchone()[0]
    return str(user_version) if user_version else None


def _entry(path: Path, name: str, **facts) -> Entry:
    return Entry(path=name, size=path.stat().st_size, sha256=_sha256(path), **facts)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_archive(staging: Path, entries: list[Entry], archive: Path) -> None:
    manifest = json.dumps({
        "format": FORMAT, "app_version": version("adopte-mon-commercant"),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": [vars(entry) for entry in entries],
    }, indent=2).encode()
    handle, partial = tempfile.mkstemp(dir=archive.parent, prefix=f".{archive.name}.",
                                       suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as file:
            with tarfile.open(fileobj=file, mode="w:gz") as tar:
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime = len(manifest), int(datetime.now(UTC).timestamp())
                tar.addfile(info, io.BytesIO(manifest))
                for entry in entries:
                    tar.add(staging / entry.path, arcname=entry.path)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, archive)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def hub_running_on(data_dir: Path) -> str | None:
    """The database a running hub holds open in ``data_dir``, if any: every open SQLite
    connection keeps a lock that an exclusive one cannot get past."""
    for database in sorted(data_dir.glob(f"*{DATABASE_SUFFIX}")) if data_dir.is_dir() else ():
        probe = sqlite3.connect(f"file:{database}?mode=rw", uri=True, timeout=0,
                                isolation_level=None)
        try:
            probe.execute("pragma locking_mode=exclusive")
            probe.execute("begin exclusive")
            probe.execute("rollback")
        except sqlite3.OperationalError:
            return database.name
        finally:
            probe.close()
    return None


def restore(archive: Path, data_dir: Path, *, force: bool = False,
            on_item: Callable[[str], None] = lambda _: None) -> tuple[list[Entry], Path | None]:
    """Put the archive's data dir in place; returns its entries and where the old data dir was
    moved aside, if there was one."""
    held = hub_running_on(data_dir)
    if held:
        raise BackupError(f"a hub is running on {data_dir} ({held} is open): stop it first")
    if data_dir.exists() and any(data_dir.iterdir()) and not force:
        raise BackupError(f"{data_dir} exists and is not empty: restore elsewhere, or --force "
                          "to move it aside")
    if not archive.is_file():
        raise BackupError(f"no archive at {archive}")
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=data_dir.parent, prefix=f".{data_dir.name}.restoring-"))
    try:
        entries = _unpack(archive, staging, on_item)
        aside = _move_aside(data_dir)
        _put_in_place(staging, data_dir, aside)
    except OSError as exc:
        raise BackupError(f"could not restore into {data_dir}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return entries, aside


def _put_in_place(staging: Path, data_dir: Path, aside: Path | None) -> None:
    try:
        os.replace(staging, data_dir)
    except OSError:
        if aside:
            aside.rename(data_dir)
        raise


def _unpack(archive: Path, staging: Path, on_item: Callable[[str], None]) -> list[Entry]:
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            manifest = json.load(tar.extractfile(MANIFEST))
            entries = [Entry(**facts) for facts in manifest["files"]]
            tar.extractall(staging, filter="data")
    except (tarfile.TarError, OSError, EOFError, KeyError, TypeError, ValueError) as exc:
        raise BackupError(f"{archive} is not a readable backup: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{archive} is a backup of format {manifest.get('format')}; this "
                          f"version reads format {FORMAT}")
    listed = {entry.path for entry in entries} | {MANIFEST}
    unlisted = sorted(path.relative_to(staging).as_posix() for path in staging.rglob("*")
                      if path.is_file() and path.relative_to(staging).as_posix() not in listed)
    if unlisted:
        raise BackupError(f"{archive} is corrupt: {', '.join(unlisted)} not in its manifest")
    for entry in entries:
        on_item(entry.path)
        _verify(staging, entry, archive)
    (staging / MANIFEST).unlink()
    return entries


def _verify(staging: Path, entry: Entry, archive: Path) -> None:
    path = staging / entry.path
    if not path.is_file() or path.stat().st_size != entry.size or _sha256(path) != entry.sha256:
        raise BackupError(f"{archive} is corrupt: {entry.path} does not match its checksum")
    if entry.integrity is not None:
        integrity, _ = _inspect(path)
        if integrity != "ok":
            raise BackupError(f"{entry.path} fails its integrity check: {integrity}")


def _move_aside(data_dir: Path) -> Path | None:
    if not data_dir.exists():
        return None
    if not any(data_dir.iterdir()):
        data_dir.rmdir()
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = data_dir.with_name(f"{data_dir.name}.before-restore-{stamp}")
    data_dir.rename(aside)
    return aside
