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
        path = folder / DB_NAME
        try:
            connection = sqlite3.connect(path, isolation_level=None, timeout=30)
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("PRAGMA journal_mode = WAL")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise ProjectError(
                f"the project store cannot be opened ({exc})",
                path=path,
                hint="Restore it from a backup",
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
        store._migrate(version)
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

    @property
    def schema_version(self) -> int:
        return self.connection.execute("PRAGMA user_version").fetchone()[0]

    # -- transactions and the audit log --------------------------------------------------

    @contextmanager
    def transaction(self, *, actor: str | None = None, command: str = "api") -> Iterator[Self]:
        """Run a block as one transaction: all of its changes land, or none do."""
        if self._actor is not None:
            raise RuntimeError("transactions do not nest; one command is one transaction")
        self.connection.execute("BEGIN IMMEDIATE")
        self._actor, self._command = actor or default_actor(), command
        try:
            yield self
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        else:
            self.connection.execute("COMMIT")
        finally:
            self._actor = self._command = None

    def _write(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        if self._actor is None:
            raise RuntimeError("store writes must happen inside Store.transaction()")
        return self.connection.execute(sql, tuple(params))

    def log(self, action: str, entity: str, entity_id: str | None, detail: dict | None = None):
        """Append one entry to the audit log (inside the current transaction)."""
        self._write(
            "INSERT INTO audit (at, actor, command, action, entity, entity_id, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                now(),
                self._actor,
                self._command,
                action,
                entity,
                entity_id,
                json.dumps(detail or {}, sort_keys=True, default=str),
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
