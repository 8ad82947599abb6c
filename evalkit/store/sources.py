"""Sources and excerpts, and their tabular views."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

import pandas as pd

from evalkit.errors import ProjectError
from evalkit.model import Excerpt, Source, Unit
from evalkit.store.base import now

# Tables whose rows are someone's work on an excerpt.
EXCERPT_WORK = ("codings", "suggestions", "reviews")


class SourcesMixin:
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

    def put_source(
        self, source: Source, excerpts: list[Excerpt], *, renames: dict[str, str] | None = None
    ) -> str:
        """Insert or replace a source and its excerpts; returns ``"added"`` or ``"updated"``.

        Excerpts whose ID survives keep their row, so later work attached to them stays.
        ``renames`` maps old excerpt IDs to new ones whose text is the same passage with
        some words replaced (de-identification): codings, suggestions and reviews move.
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
        moved = self._move_excerpt_work(renames or {}, set(keep))
        vanishing = (
            "SELECT id FROM excerpts WHERE source_id = ?"
            " AND id NOT IN (SELECT value FROM json_each(?))"
        )
        params = (source.id, json.dumps(keep))
        # Unreviewed suggestions for text that is gone are simply withdrawn; human
        # decisions (codings, reviewed suggestions, CAB reviews) must never vanish with it.
        self._write(
            f"DELETE FROM suggestions WHERE status = 'suggested' AND excerpt_id IN ({vanishing})",
            params,
        )
        coded = self.connection.execute(
            " UNION ".join(
                f"SELECT excerpt_id FROM {table} WHERE excerpt_id IN ({vanishing})"
                for table in EXCERPT_WORK
            ),
            params * len(EXCERPT_WORK),
        ).fetchall()
        if coded:
            raise ProjectError(
                f"source '{source.id}' changed, and {len(coded)} coded excerpt(s) would be lost"
                f" ({', '.join(r[0] for r in coded[:5])}{'…' if len(coded) > 5 else ''})",
                path=source.name,
                hint="Keep the earlier file, or ingest the new one under another name",
            )
        self._write(
            "DELETE FROM excerpts WHERE source_id = ?"
            " AND id NOT IN (SELECT value FROM json_each(?))",
            (source.id, json.dumps(keep)),
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
                "moved": moved,
            },
        )
        return status

    def rename_source(self, old: str, new: str) -> None:
        """Give a source a new ID (inside the current operation); its excerpts follow.

        Excerpt IDs are left as they are: the caller re-segments under the new ID and moves
        the work with ``put_source(..., renames=...)``.
        """
        if self.connection.execute("SELECT 1 FROM sources WHERE id = ?", (new,)).fetchone():
            raise ProjectError(f"a source '{new}' exists already", path=str(self.folder))
        # Both rows change in one statement pair; the references are checked at commit.
        self.connection.execute("PRAGMA defer_foreign_keys = ON")
        self._write("UPDATE sources SET id = ? WHERE id = ?", (new, old))
        self._write("UPDATE excerpts SET source_id = ? WHERE source_id = ?", (new, old))
        self._write("UPDATE rqa_cells SET source_id = ? WHERE source_id = ?", (new, old))
        self.log("source.rename", "source", new, {"excerpts_follow": True})

    def _move_excerpt_work(self, renames: dict[str, str], new_ids: set[str]) -> dict[str, str]:
        moved = {}
        for old, new in renames.items():
            if old == new or new not in new_ids:
                continue
            for table in EXCERPT_WORK:
                # OR IGNORE: a coding that already exists on the new excerpt is the same
                # decision; the old row then stays and the check below refuses to drop it.
                self._write(
                    f"UPDATE OR IGNORE {table} SET excerpt_id = ? WHERE excerpt_id = ?", (new, old)
                )
            moved[old] = new
        return moved

    def excerpt_texts(self, match: str | None = None) -> list[sqlite3.Row]:
        """Excerpts in reading order with their text: ``id, source_id, start, end, speaker,
        body``. With ``match`` (an FTS5 query), only those the full-text index matches."""
        if match is None:
            return self.connection.execute(
                'SELECT e.id, e.source_id, e.start, e."end", e.speaker,'
                ' substr(s.text, e.start + 1, e."end" - e.start) AS body'
                " FROM excerpts e JOIN sources s ON s.id = e.source_id"
                " ORDER BY e.source_id, e.ordinal"
            ).fetchall()
        return self.connection.execute(
            'SELECT e.id, e.source_id, e.start, e."end", e.speaker, f.body'
            " FROM excerpts_fts f JOIN excerpts e ON e.rowid = f.rowid"
            " WHERE excerpts_fts MATCH ? ORDER BY e.source_id, e.ordinal",
            (match,),
        ).fetchall()

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

    def excerpt_ids(self) -> set[str]:
        return {r[0] for r in self.connection.execute("SELECT id FROM excerpts")}

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
