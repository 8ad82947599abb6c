"""The project store: one SQLite file inside a project folder.

Every read and write of project data goes through :class:`Store`, so that a server database
could replace SQLite later without touching the stages.

- The schema carries a version (``PRAGMA user_version``) and is migrated forward on open.
- Foreign keys are on.
- Changes happen only inside :meth:`Store.transaction`; a command is one transaction, so a
  failure part-way leaves the store as it was.
- The ``audit`` table is append-only (triggers refuse UPDATE and DELETE): it records what
  changed, who changed it, and when.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.errors import ProjectError
from evalkit.model import Excerpt, Source, Unit

DB_NAME = "evalkit.sqlite"

# Append only: each entry moves the schema from version i to i + 1.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE sources (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('interview', 'observation', 'document')),
        text TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        words INTEGER NOT NULL,
        attributes TEXT NOT NULL DEFAULT '{}',
        units TEXT,
        ingested_at TEXT NOT NULL,
        ingested_by TEXT NOT NULL
    );
    CREATE INDEX sources_hash ON sources (content_hash);
    CREATE TABLE excerpts (
        id TEXT PRIMARY KEY,
        source_id TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        speaker TEXT,
        speaker_role TEXT,
        section TEXT,
        t_start REAL,
        t_end REAL,
        CHECK (0 <= start AND start < "end")
    );
    CREATE INDEX excerpts_source ON excerpts (source_id, ordinal);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        command TEXT NOT NULL,
        action TEXT NOT NULL,
        entity TEXT NOT NULL,
        entity_id TEXT,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    """,
    # 2: codebook versions, and the codes of the project (kept when retired, so that
    # codings made under an older version still point at something).
    """
    CREATE TABLE codebooks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        title TEXT NOT NULL,
        version TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        yaml TEXT NOT NULL,
        origin TEXT,
        loaded_at TEXT NOT NULL,
        loaded_by TEXT NOT NULL
    );
    CREATE TABLE codes (
        name TEXT PRIMARY KEY,
        parent TEXT,
        guid TEXT,
        codebook_id INTEGER NOT NULL REFERENCES codebooks (id),
        retired INTEGER NOT NULL DEFAULT 0
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def default_actor() -> str:
    """Who is making changes: ``$EVALKIT_USER``, else the login name."""
    return os.environ.get("EVALKIT_USER") or getpass.getuser() or "unknown"


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Store:
    """An open project. Use :meth:`init` or :meth:`open`, not the constructor."""

    def __init__(self, connection: sqlite3.Connection, folder: Path) -> None:
        self.connection = connection
        self.folder = folder
        self._actor: str | None = None
        self._command: str | None = None

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def init(cls, folder: str | Path, *, actor: str | None = None) -> Store:
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
    def open(cls, folder: str | Path) -> Store:
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
    def _connect(cls, folder: Path) -> Store:
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

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self.connection.execute("PRAGMA user_version").fetchone()[0]

    # -- transactions and the audit log --------------------------------------------------

    @contextmanager
    def transaction(self, *, actor: str | None = None, command: str = "api") -> Iterator[Store]:
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

    # -- sources and excerpts ------------------------------------------------------------

    def source_id_for_hash(self, content_hash: str) -> str | None:
        row = self.connection.execute(
            "SELECT id FROM sources WHERE content_hash = ?", (content_hash,)
        ).fetchone()
        return row["id"] if row else None

    def source_id_for_name(self, name: str) -> str | None:
        row = self.connection.execute("SELECT id FROM sources WHERE name = ?", (name,)).fetchone()
        return row["id"] if row else None

    def source_ids(self) -> set[str]:
        return {r[0] for r in self.connection.execute("SELECT id FROM sources")}

    def source_names(self) -> set[str]:
        return {r[0] for r in self.connection.execute("SELECT name FROM sources")}

    def put_source(self, source: Source, excerpts: list[Excerpt]) -> str:
        """Insert or replace a source and its excerpts; returns ``"added"`` or ``"updated"``.

        Excerpts whose ID survives keep their row, so later work attached to them stays.
        """
        existing = self.connection.execute(
            "SELECT id FROM sources WHERE id = ?", (source.id,)
        ).fetchone()
        units = json.dumps([u.__dict__ for u in source.units]) if source.units is not None else None
        values = (
            source.name,
            source.kind,
            source.text,
            source.content_hash,
            source.words,
            json.dumps(source.attributes, sort_keys=True, default=str),
            units,
            now(),
            self._actor,
            source.id,
        )
        if existing:
            self._write(
                "UPDATE sources SET name=?, kind=?, text=?, content_hash=?, words=?,"
                " attributes=?, units=?, ingested_at=?, ingested_by=? WHERE id=?",
                values,
            )
            status = "updated"
        else:
            self._write(
                "INSERT INTO sources (name, kind, text, content_hash, words, attributes, units,"
                " ingested_at, ingested_by, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            status = "added"
        keep = [e.id for e in excerpts]
        self._write(
            "DELETE FROM excerpts WHERE source_id = ?"
            " AND id NOT IN (SELECT value FROM json_each(?))",
            (source.id, json.dumps(keep)),
        )
        self.connection.executemany(
            'INSERT INTO excerpts (id, source_id, ordinal, start, "end", speaker, speaker_role,'
            " section, t_start, t_end) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET ordinal=excluded.ordinal, start=excluded.start,"
            ' "end"=excluded."end", speaker=excluded.speaker, speaker_role=excluded.speaker_role,'
            " section=excluded.section, t_start=excluded.t_start, t_end=excluded.t_end",
            [
                (
                    e.id,
                    e.source_id,
                    e.ordinal,
                    e.start,
                    e.end,
                    e.speaker,
                    e.speaker_role,
                    e.section,
                    e.t_start,
                    e.t_end,
                )
                for e in excerpts
            ],
        )
        self.log(
            f"source.{'update' if existing else 'add'}",
            "source",
            source.id,
            {
                "name": source.name,
                "kind": source.kind,
                "hash": source.content_hash,
                "excerpts": len(excerpts),
            },
        )
        return status

    def sources(self, ids: Iterable[str] | None = None) -> list[Source]:
        rows = self.connection.execute("SELECT * FROM sources ORDER BY id").fetchall()
        wanted = set(ids) if ids is not None else None
        return [_source(r) for r in rows if wanted is None or r["id"] in wanted]

    def source(self, source_id: str) -> Source | None:
        row = self.connection.execute("SELECT * FROM sources WHERE id = ?", (source_id,)).fetchone()
        return _source(row) if row else None

    def excerpts(self, source_id: str | None = None) -> list[Excerpt]:
        sql = "SELECT * FROM excerpts {} ORDER BY source_id, ordinal"
        if source_id is None:
            rows = self.connection.execute(sql.format(""))
        else:
            rows = self.connection.execute(sql.format("WHERE source_id = ?"), (source_id,))
        return [_excerpt(r) for r in rows]

    # -- codebooks -----------------------------------------------------------------------

    def current_codebook_row(self) -> sqlite3.Row | None:
        return self.connection.execute(
            "SELECT * FROM codebooks ORDER BY id DESC LIMIT 1"
        ).fetchone()

    def put_codebook(
        self,
        *,
        title: str,
        version: str,
        content_hash: str,
        yaml_text: str,
        origin: str | None,
        codes: list[tuple[str, str | None, str | None]],
    ) -> int:
        """Record a codebook version and make its codes current; returns its ID.

        ``codes`` holds ``(name, parent, guid)``. Codes of earlier versions that are not in
        this one are marked retired, not deleted.
        """
        cursor = self._write(
            "INSERT INTO codebooks (title, version, content_hash, yaml, origin, loaded_at,"
            " loaded_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (title, version, content_hash, yaml_text, origin, now(), self._actor),
        )
        codebook_id = cursor.lastrowid
        self._write("UPDATE codes SET retired = 1")
        for name, parent, guid in codes:
            self._write(
                "INSERT INTO codes (name, parent, guid, codebook_id, retired)"
                " VALUES (?, ?, ?, ?, 0) ON CONFLICT (name) DO UPDATE SET"
                " parent = excluded.parent, guid = excluded.guid,"
                " codebook_id = excluded.codebook_id, retired = 0",
                (name, parent, guid, codebook_id),
            )
        self.log(
            "codebook.load",
            "codebook",
            str(codebook_id),
            {"title": title, "version": version, "hash": content_hash, "codes": len(codes)},
        )
        return codebook_id

    def codebooks_df(self) -> pd.DataFrame:
        """Codebook versions loaded into the project, oldest first.

        Columns: ``codebook_id, title, version, content_hash, origin, loaded_at, loaded_by``.
        """
        return pd.read_sql_query(
            "SELECT id AS codebook_id, title, version, content_hash, origin, loaded_at,"
            " loaded_by FROM codebooks ORDER BY id",
            self.connection,
        )

    # -- tabular views -------------------------------------------------------------------

    def sources_df(self) -> pd.DataFrame:
        """One row per source.

        Columns: ``source_id, name, kind, words, excerpts, content_hash, ingested_at,
        ingested_by``, then one column per attribute (participant_id, agency, sector, role,
        date, ...).
        """
        rows = self.connection.execute(
            "SELECT s.*, (SELECT COUNT(*) FROM excerpts e WHERE e.source_id = s.id) AS n"
            " FROM sources s ORDER BY s.id"
        ).fetchall()
        records = [
            {
                "source_id": r["id"],
                "name": r["name"],
                "kind": r["kind"],
                "words": r["words"],
                "excerpts": r["n"],
                "content_hash": r["content_hash"],
                "ingested_at": r["ingested_at"],
                "ingested_by": r["ingested_by"],
                **json.loads(r["attributes"]),
            }
            for r in rows
        ]
        columns = [
            "source_id",
            "name",
            "kind",
            "words",
            "excerpts",
            "content_hash",
            "ingested_at",
            "ingested_by",
        ]
        return pd.DataFrame.from_records(records, columns=_with_extra(columns, records))

    def excerpts_df(self, *, kind: str | None = None, source_id: str | None = None) -> pd.DataFrame:
        """One row per excerpt, with its exact text and its source's attributes.

        Columns: ``excerpt_id, source_id, kind, ordinal, speaker, speaker_role, section, start, end,
        t_start, t_end, text``, then the source attributes. ``text`` is always
        ``source.text[start:end]``.
        """
        where, params = [], []
        if kind:
            where.append("s.kind = ?")
            params.append(kind)
        if source_id:
            where.append("s.id = ?")
            params.append(source_id)
        sql = (
            'SELECT e.*, s.kind, s.attributes, substr(s.text, e.start + 1, e."end" - e.start)'
            " AS body FROM excerpts e JOIN sources s ON s.id = e.source_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY e.source_id, e.ordinal"
        )
        records = [
            {
                "excerpt_id": r["id"],
                "source_id": r["source_id"],
                "kind": r["kind"],
                "ordinal": r["ordinal"],
                "speaker": r["speaker"],
                "speaker_role": r["speaker_role"],
                "section": r["section"],
                "start": r["start"],
                "end": r["end"],
                "t_start": r["t_start"],
                "t_end": r["t_end"],
                "text": r["body"],
                **_prefixed(json.loads(r["attributes"]), _EXCERPT_COLUMNS),
            }
            for r in self.connection.execute(sql, params)
        ]
        return pd.DataFrame.from_records(
            records, columns=_with_extra(list(_EXCERPT_COLUMNS), records)
        )

    def stats(self) -> dict[str, Any]:
        """Counts for the whole project.

        Keys: ``sources, excerpts, words, codes, codings, coders, by_kind`` where
        ``by_kind`` maps each source kind to its ``sources, excerpts, words``.
        """
        by_kind = {}
        for row in self.connection.execute(
            "SELECT kind, COUNT(*) AS sources, SUM(words) AS words,"
            " (SELECT COUNT(*) FROM excerpts e JOIN sources t ON t.id = e.source_id"
            "  WHERE t.kind = s.kind) AS excerpts FROM sources s GROUP BY kind ORDER BY kind"
        ):
            by_kind[row["kind"]] = {
                "sources": row["sources"],
                "excerpts": row["excerpts"],
                "words": row["words"],
            }
        return {
            "sources": sum(v["sources"] for v in by_kind.values()),
            "excerpts": sum(v["excerpts"] for v in by_kind.values()),
            "words": sum(v["words"] for v in by_kind.values()),
            "codes": self._count("codes", "COUNT(*) FILTER (WHERE retired = 0)"),
            "codings": self._count("codings"),
            "coders": self._count("codings", "COUNT(DISTINCT coder)"),
            "by_kind": by_kind,
        }

    def _count(self, table: str, expression: str = "COUNT(*)") -> int:
        exists = self.connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        if not exists:
            return 0
        return self.connection.execute(f"SELECT {expression} FROM {table}").fetchone()[0]


_EXCERPT_COLUMNS = (
    "excerpt_id",
    "source_id",
    "kind",
    "ordinal",
    "speaker",
    "speaker_role",
    "section",
    "start",
    "end",
    "t_start",
    "t_end",
    "text",
)


def _prefixed(attributes: dict[str, Any], reserved: tuple[str, ...]) -> dict[str, Any]:
    # An attribute called "text" or "start" must not overwrite the excerpt's own column.
    return {f"source_{k}" if k in reserved else k: v for k, v in attributes.items()}


def _with_extra(columns: list[str], records: list[dict]) -> list[str]:
    extra: dict[str, None] = {}
    for record in records:
        for key in record:
            if key not in columns:
                extra[key] = None
    return columns + list(extra)


def _source(row: sqlite3.Row) -> Source:
    units = None
    if row["units"] is not None:
        units = tuple(Unit(**u) for u in json.loads(row["units"]))
    return Source(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        text=row["text"],
        content_hash=row["content_hash"],
        attributes=json.loads(row["attributes"]),
        units=units,
    )


def _excerpt(row: sqlite3.Row) -> Excerpt:
    return Excerpt(
        id=row["id"],
        source_id=row["source_id"],
        start=row["start"],
        end=row["end"],
        ordinal=row["ordinal"],
        speaker=row["speaker"],
        speaker_role=row["speaker_role"],
        section=row["section"],
        t_start=row["t_start"],
        t_end=row["t_end"],
    )
