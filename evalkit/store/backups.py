"""Snapshots of the project store, taken with SQLite's online backup API.

A snapshot is a complete copy of ``evalkit.sqlite`` in the project's ``backups/`` folder,
named ``<UTC time>-<reason>.sqlite``. One is taken before bulk and destructive operations
(replacing the codebook, bulk accepting suggestions, re-running de-identification,
importing a project, undo), before a schema migration and before a restore. The newest
:data:`KEEP` are kept.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import tempfile
from pathlib import Path

import pandas as pd

from evalkit.errors import ProjectError
from evalkit.store.schema import DB_NAME

BACKUP_DIR = "backups"
KEEP = 10
_NAME = re.compile(r"^(?P<stamp>\d{8}T\d{6}\d{6})-(?P<reason>.+)\.sqlite$")


def backup_folder(folder: Path) -> Path:
    return folder / BACKUP_DIR


def list_backups(folder: Path) -> list[Path]:
    """Snapshot files, newest first."""
    found = [p for p in backup_folder(folder).glob("*.sqlite") if _NAME.match(p.name)]
    return sorted(found, key=lambda p: p.name, reverse=True)


def newest_backup_hint(folder: Path) -> str:
    found = list_backups(folder)
    if not found:
        return (
            "There is no backup in the project's backups/ folder; restore the folder from"
            " your own backup"
        )
    return (
        f"The newest backup is {found[0].stem}; restore it with 'evalkit backups restore"
        f" {found[0].stem} --project {folder}'"
    )


def copy_database(source: sqlite3.Connection, target: Path) -> Path:
    """Copy a database with the online backup API into ``target``, atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".snapshot-", suffix=".sqlite", dir=target.parent)
    os.close(handle)
    try:
        destination = sqlite3.connect(temporary)
        try:
            source.backup(destination)
        finally:
            destination.close()
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


class BackupsMixin:
    def snapshot(self, reason: str) -> Path:
        """Copy the committed state of the project to ``backups/``; returns the file.

        A separate connection reads, so this works inside a transaction that holds the
        write lock (WAL readers see the last commit and are never blocked).
        """
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        slug = re.sub(r"[^a-z0-9]+", "-", reason.lower()).strip("-")[:60] or "snapshot"
        target = backup_folder(self.folder) / f"{stamp}-{slug}.sqlite"
        reader = sqlite3.connect(self.folder / DB_NAME)
        try:
            copy_database(reader, target)
        finally:
            reader.close()
        for old in list_backups(self.folder)[KEEP:]:
            old.unlink(missing_ok=True)
        return target

    def backups_df(self) -> pd.DataFrame:
        """Snapshots, newest first: ``backup, created, reason, size_mb``."""
        return backups_df(self.folder)

    def restore_backup(self, backup: str, *, actor: str | None = None) -> dict:
        """Bring the project back to a snapshot, keeping the audit log whole.

        The current state is snapshotted first (so a restore can itself be reversed by
        restoring that snapshot). Audit entries and operations made after the snapshot are
        carried over, and the restore is logged.
        """
        from evalkit.store import Store

        path = backup_folder(self.folder) / f"{Path(backup).stem}.sqlite"
        if not path.is_file():
            raise ProjectError(
                f"no backup named '{backup}'",
                path=str(self.folder),
                hint="See 'evalkit backups list' for the names",
            )
        before = self.snapshot("before restore")
        with tempfile.TemporaryDirectory() as work:
            work_db = Path(work) / DB_NAME
            source = sqlite3.connect(path)
            try:
                ok = source.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                if not ok:
                    raise ProjectError(
                        "that backup is damaged", path=path, hint="Choose another backup"
                    )
                copy_database(source, work_db)
            finally:
                source.close()
            restored = Store.open(work)  # migrates an older backup forward
            try:
                carried = _carry_history(self.connection, restored.connection)
                with restored.transaction(actor=actor, command="backups restore"):
                    restored.describe(f"restored backup {path.stem}")
                    # Operations after the snapshot no longer have effect: mark them so.
                    restored.connection.execute(
                        "UPDATE operations SET undone_by = ? WHERE id > ? AND id < ?",
                        (restored._operation, carried.pop("last_kept"), restored._operation),
                    )
                    restored.log(
                        "backups.restore",
                        "project",
                        path.stem,
                        {"backup": path.stem, "saved_current_as": before.stem, **carried},
                    )
                # One backup step copies every page at once: the live file changes whole.
                restored.connection.backup(self.connection)
            finally:
                restored.close()
        return {"restored": path.stem, "saved_current_as": before.stem, **carried}


def backups_df(folder: Path) -> pd.DataFrame:
    records = []
    for path in list_backups(folder):
        match = _NAME.match(path.name)
        created = dt.datetime.strptime(match["stamp"], "%Y%m%dT%H%M%S%f").replace(tzinfo=dt.UTC)
        records.append(
            {
                "backup": path.stem,
                "created": created.isoformat(timespec="seconds"),
                "reason": match["reason"].replace("-", " "),
                "size_mb": round(path.stat().st_size / 1e6, 2),
            }
        )
    return pd.DataFrame.from_records(records, columns=["backup", "created", "reason", "size_mb"])


def _carry_history(live: sqlite3.Connection, restored: sqlite3.Connection) -> dict:
    """Copy operations and audit entries newer than the snapshot into it (append-only)."""
    carried = {
        "last_kept": restored.execute("SELECT COALESCE(MAX(id), 0) FROM operations").fetchone()[0]
    }
    for table in ("operations", "audit"):
        top = restored.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
        rows = live.execute(f"SELECT * FROM {table} WHERE id > ? ORDER BY id", (top,)).fetchall()
        if rows:
            columns = rows[0].keys()
            names = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join("?" * len(columns))
            restored.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({marks})", [tuple(r) for r in rows]
            )
        carried[f"{table}_carried"] = len(rows)
    return carried
