"""Opening a project, transactions and the audit log."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import pandas as pd

from evalkit.errors import ProjectError
from evalkit.store.schema import DB_NAME, MIGRATIONS, SCHEMA_VERSION

# Another process writing holds the project for at most this long under normal use (the
# longest writes are big ingests); waiting beats failing with "database is locked".
BUSY_SECONDS = 300
UNDO_DEPTH = 50


@contextmanager
def translate_errors(path: Path) -> Iterator[None]:
    """SQLite's I/O errors as one-line ProjectErrors that say what to do."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc).lower()
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            raise ProjectError(
                "the project cannot be written (the folder or file is read-only)",
                path=path,
                hint="Copy the project folder somewhere you can write, or fix its permissions",
            ) from None
        if "full" in text:
            raise ProjectError(
                "the disk is full, so nothing was changed",
                path=path,
                hint="Free some space and run the command again",
            ) from None
        if "locked" in text or "busy" in text:
            raise ProjectError(
                f"another evalkit command kept the project busy for over {BUSY_SECONDS} s",
                path=path,
                hint="Wait for it to finish and run this command again",
            ) from None
        raise


def describe_actions(actions: list[tuple[str, dict]]) -> str:
    """A one-line summary of what an operation did, from its audit entries."""
    parts = []
    for action, detail in actions:
        if action in ("suggestions.accept", "suggestions.reject"):
            verb = "accepted" if action.endswith("accept") else "rejected"
            parts.append(f"{verb} {len(detail.get('ids', []))} suggestion(s)")
        elif action == "ingest":
            parts.append(
                f"ingested {len(detail.get('added', []))} new and"
                f" {len(detail.get('updated', []))} changed {detail.get('kind', '')} source(s)"
            )
        elif action == "codings.replace":
            parts.append(
                f"imported {detail.get('codings')} coding(s) of {detail.get('units')} unit(s)"
            )
        elif action == "codebook.load":
            parts.append(f"loaded codebook '{detail.get('title')}' ({detail.get('codes')} codes)")
        elif action == "suggestions.run":
            parts.append(f"stored {detail.get('stored')} suggestion(s)")
        elif action == "reviews.import":
            parts.append(f"recorded {detail.get('new')} CAB decision(s)")
        elif action == "qdpx.import":
            parts.append(
                f"imported {len(detail.get('sources', []))} source(s) and"
                f" {detail.get('codings')} coding(s) from {detail.get('file')}"
            )
        elif action not in ("source.add", "source.update"):
            parts.append(action)
    return "; ".join(dict.fromkeys(parts)) or "no changes"


def default_actor() -> str:
    """Who is making changes: ``$EVALKIT_USER``, else the login name."""
    return os.environ.get("EVALKIT_USER") or getpass.getuser() or "unknown"


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class StoreBase:
    """An open project. Use :meth:`init` or :meth:`open`, not the constructor."""

    def __init__(self, connection: sqlite3.Connection, folder: Path) -> None:
        self.connection = connection
        self.folder = folder
        self._actor: str | None = None
        self._command: str | None = None
        self._operation: int | None = None
        self._summary: str | None = None

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def init(cls, folder: str | Path, *, actor: str | None = None) -> Self:
        """Create a project folder (if needed) and its store.

        Raises
        ------
        ProjectError
            If the folder already holds a project.
        """
        folder = Path(folder)
        if (folder / DB_NAME).exists():
            raise ProjectError(
                "already an evalkit project",
                path=folder,
                hint="Use it as it is, or choose another folder",
            )
        if folder.exists() and not folder.is_dir():
            raise ProjectError("exists and is not a folder", path=folder)
        folder.mkdir(parents=True, exist_ok=True)
        store = cls._connect(folder)
        with store.transaction(actor=actor, command="init"):
            store.log("init", "project", str(folder.resolve()), {"schema": SCHEMA_VERSION})
        return store

    @classmethod
    def open(cls, folder: str | Path) -> Self:
        """Open an existing project folder.

        Raises
        ------
        ProjectError
            If the folder does not exist or is not an evalkit project.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise ProjectError(
                "project folder does not exist",
                path=folder,
                hint=f"Create it with 'evalkit init {folder}'",
            )
        if not (folder / DB_NAME).is_file():
            raise ProjectError(
                f"not an evalkit project (no {DB_NAME})",
                path=folder,
                hint=f"Create one with 'evalkit init {folder}' or point --project at one",
            )
        return cls._connect(folder)

    @classmethod
    def _connect(cls, folder: Path) -> Self:
        from evalkit.store.backups import newest_backup_hint
        from evalkit.store.history import install_change_triggers

        path = folder / DB_NAME
        try:
            connection = sqlite3.connect(path, isolation_level=None, timeout=BUSY_SECONDS)
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("PRAGMA journal_mode = WAL")
            # Deleted text is overwritten, not left in free pages: the store holds
            # interviews with people who must not be identifiable.
            connection.execute("PRAGMA secure_delete = ON")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            tables = connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
            if version == 0 and tables:
                # Some other program's database: never "migrate" it into ours.
                raise sqlite3.DatabaseError("it has tables but no evalkit schema version")
        except sqlite3.DatabaseError as exc:
            raise ProjectError(
                f"the project store cannot be opened: it is not an evalkit database or it is"
                f" damaged ({exc})",
                path=path,
                hint=newest_backup_hint(folder),
            ) from None
        connection.row_factory = sqlite3.Row
        if version > SCHEMA_VERSION:
            raise ProjectError(
                f"the project was written by a newer evalkit (schema {version}, "
                f"this one knows {SCHEMA_VERSION})",
                path=folder,
                hint="Upgrade evalkit",
            )
        store = cls(connection, folder)
        with translate_errors(path):
            if 0 < version < SCHEMA_VERSION:
                store.snapshot(f"before migration to schema {SCHEMA_VERSION}")
            store._migrate(version)
            install_change_triggers(connection)
            if store.connection.execute(
                "SELECT 1 FROM project WHERE key = 'compact_pending'"
            ).fetchone():
                # A de-identification run died between its commit and its compaction: the
                # removed names may still sit in free pages and the log. Finish the job.
                store.compact()
        return store

    def _migrate(self, version: int) -> None:
        for target in range(version, SCHEMA_VERSION):
            # executescript() commits anything pending first, so the script carries its own
            # BEGIN/COMMIT: a failed migration rolls back and leaves the old version.
            try:
                self.connection.executescript(
                    "BEGIN IMMEDIATE;"
                    + MIGRATIONS[target]
                    + f";PRAGMA user_version = {target + 1}; COMMIT;"
                )
            except BaseException:
                if self.connection.in_transaction:
                    self.connection.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def project_id(self) -> str:
        """A random ID made when the project was created (or migrated to schema 5)."""
        return self.connection.execute("SELECT value FROM project WHERE key = 'id'").fetchone()[0]

    def setting(self, key: str) -> str | None:
        """A project setting (the roster's place and fingerprint, the key file's place)."""
        row = self.connection.execute("SELECT value FROM project WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_setting(self, key: str, value: str | None) -> None:
        """Set (or with ``None`` remove) a project setting, inside the current operation."""
        if key in ("id", "compact_pending"):
            raise ValueError(f"'{key}' is not a setting")
        if value is None:
            self._write("DELETE FROM project WHERE key = ?", (key,))
        else:
            self._write(
                "INSERT INTO project (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    @property
    def schema_version(self) -> int:
        return self.connection.execute("PRAGMA user_version").fetchone()[0]

    # -- transactions and the audit log --------------------------------------------------

    @contextmanager
    def transaction(
        self, *, actor: str | None = None, command: str = "api", backup: str | None = None
    ) -> Iterator[Self]:
        """Run a block as one operation: all of its changes land, or none do.

        The operation is recorded (``evalkit history``) with the row changes it makes, so
        it can be undone. ``backup`` names a reason to snapshot the project first (bulk
        and destructive operations); the snapshot is taken inside the write lock, so it is
        exactly the state the operation starts from.
        """
        if self._actor is not None:
            raise RuntimeError("transactions do not nest; one command is one transaction")
        with translate_errors(self.folder / DB_NAME):
            self.connection.execute("BEGIN IMMEDIATE")
            self._actor, self._command = actor or default_actor(), command
            self._summary = None
            try:
                if backup:
                    self.snapshot(backup)
                self._operation = self.connection.execute(
                    "INSERT INTO operations (command, actor, started_at) VALUES (?, ?, ?)",
                    (command, self._actor, now()),
                ).lastrowid
                yield self
                self.connection.execute(
                    "UPDATE operations SET summary = ? WHERE id = ?",
                    (self._summary or self._default_summary(), self._operation),
                )
                # Undo reaches back UNDO_DEPTH operations (undos themselves not counted);
                # older row changes are dropped so the history does not grow without end.
                # The audit log keeps everything.
                self.connection.execute(
                    "DELETE FROM changes WHERE operation < (SELECT MIN(id) FROM (SELECT id"
                    " FROM operations WHERE undoes IS NULL ORDER BY id DESC LIMIT ?))",
                    (UNDO_DEPTH,),
                )
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            else:
                self.connection.execute("COMMIT")
            finally:
                self._actor = self._command = self._operation = None

    def describe(self, summary: str) -> None:
        """Set the one-line summary of the current operation (``evalkit history``)."""
        self._summary = summary

    def _default_summary(self) -> str:
        rows = self.connection.execute(
            "SELECT action, detail FROM audit WHERE operation = ? ORDER BY id", (self._operation,)
        ).fetchall()
        return describe_actions([(r["action"], json.loads(r["detail"])) for r in rows])

    def _write(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        if self._actor is None:
            raise RuntimeError("store writes must happen inside Store.transaction()")
        return self.connection.execute(sql, tuple(params))

    def log(self, action: str, entity: str, entity_id: str | None, detail: dict | None = None):
        """Append one entry to the audit log (inside the current transaction)."""
        self._write(
            "INSERT INTO audit (at, actor, command, action, entity, entity_id, detail, operation)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                now(),
                self._actor,
                self._command,
                action,
                entity,
                entity_id,
                json.dumps(detail or {}, sort_keys=True, default=str),
                self._operation,
            ),
        )

    def audit_df(self) -> pd.DataFrame:
        """The audit log: ``id, at, actor, command, action, entity, entity_id, detail``."""
        return pd.read_sql_query("SELECT * FROM audit ORDER BY id", self.connection)

    def _count(self, table: str, expression: str = "COUNT(*)") -> int:
        exists = self.connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        if not exists:
            return 0
        return self.connection.execute(f"SELECT {expression} FROM {table}").fetchone()[0]
