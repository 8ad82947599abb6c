"""Codebook versions and codings."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

import pandas as pd

from evalkit.errors import ProjectError
from evalkit.store.base import now


class CodingMixin:
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

    # -- codings -------------------------------------------------------------------------

    def replace_codings(
        self, rows: list[tuple[str, str, str | None]], *, origin: str
    ) -> dict[str, int]:
        """Set each (excerpt, coder)'s codes to exactly those given.

        ``rows`` holds ``(excerpt_id, coder, code or None)``; ``None`` records "coded,
        nothing applied". Earlier codes of those (excerpt, coder) pairs are replaced, and
        the audit log keeps what they were.
        """
        current = self.current_codebook_row()
        codebook_id = current["id"] if current is not None else None
        pairs = sorted({(excerpt, coder) for excerpt, coder, _ in rows})
        replaced = []
        for excerpt, coder in pairs:
            old = self.connection.execute(
                "SELECT code FROM codings WHERE excerpt_id = ? AND coder = ? ORDER BY code",
                (excerpt, coder),
            ).fetchall()
            if old:
                replaced.append([excerpt, coder, [r[0] for r in old]])
            self._write("DELETE FROM codings WHERE excerpt_id = ? AND coder = ?", (excerpt, coder))
        stamp = now()
        unique = list(dict.fromkeys(rows))
        for excerpt, coder, code in unique:
            self._write(
                "INSERT INTO codings (excerpt_id, coder, code, codebook_id, origin, created_at,"
                " created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (excerpt, coder, code, codebook_id, origin, stamp, self._actor),
            )
        self.log(
            "codings.replace",
            "codings",
            None,
            {
                "origin": origin,
                "units": len(pairs),
                "codings": len(unique),
                "coders": sorted({c for _, c in pairs}),
                "replaced": replaced,
            },
        )
        return {"units": len(pairs), "codings": len(unique), "replaced": len(replaced)}

    def codings_df(self, *, coders: Iterable[str] | None = None) -> pd.DataFrame:
        """Every coding: ``excerpt_id, source_id, coder, code, codebook_id, origin,
        created_at, created_by``. ``code`` is None where a coder applied nothing."""
        frame = pd.read_sql_query(
            "SELECT c.excerpt_id, e.source_id, c.coder, c.code, c.codebook_id, c.origin,"
            " c.created_at, c.created_by FROM codings c JOIN excerpts e ON e.id = c.excerpt_id"
            " ORDER BY c.excerpt_id, c.coder, c.code",
            self.connection,
        )
        if coders is not None:
            frame = frame[frame["coder"].isin(list(coders))].reset_index(drop=True)
        return frame

    def code_names(self, *, include_retired: bool = False) -> dict[str, str | None]:
        """Code name -> parent name, for the current codes (optionally retired ones too)."""
        sql = "SELECT name, parent FROM codes" + ("" if include_retired else " WHERE retired = 0")
        return {r["name"]: r["parent"] for r in self.connection.execute(sql)}

    def add_codings(self, rows: list[tuple[str, str, str]], *, origin: str) -> int:
        """Add codes to (excerpt, coder) pairs, keeping what is there; returns how many."""
        current = self.current_codebook_row()
        codebook_id = current["id"] if current is not None else None
        added = 0
        for excerpt, coder, code in dict.fromkeys(rows):
            # Applying a code overrides an earlier "coded, nothing applied" by that coder.
            self._write(
                "DELETE FROM codings WHERE excerpt_id = ? AND coder = ? AND code IS NULL",
                (excerpt, coder),
            )
            cursor = self._write(
                "INSERT OR IGNORE INTO codings (excerpt_id, coder, code, codebook_id, origin,"
                " created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (excerpt, coder, code, codebook_id, origin, now(), self._actor),
            )
            added += cursor.rowcount
        return added

    # -- suggestions ----------------------------------------------------------------------

    def replace_open_suggestions(self, rows: list[dict], *, model_version: str) -> int:
        """Withdraw unreviewed suggestions and store a new run's; returns how many.

        A row may carry its own ``model_version`` (a run that mixes coders); otherwise
        ``model_version`` is recorded."""
        current = self.current_codebook_row()
        codebook_id = current["id"] if current is not None else None
        withdrawn = self._write("DELETE FROM suggestions WHERE status = 'suggested'").rowcount
        reviewed = {
            (r[0], r[1])
            for r in self.connection.execute(
                "SELECT excerpt_id, code FROM suggestions WHERE status != 'suggested'"
            )
        }
        stamp = now()
        stored = 0
        for row in rows:
            if (row["excerpt_id"], row["code"]) in reviewed:
                continue  # a person already decided; do not ask again
            self._write(
                "INSERT INTO suggestions (excerpt_id, code, origin, confidence, rationale,"
                " codebook_id, model_version, created_at, created_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row["excerpt_id"],
                    row["code"],
                    row["origin"],
                    row["confidence"],
                    row["rationale"],
                    codebook_id,
                    row.get("model_version") or model_version,
                    stamp,
                    self._actor,
                ),
            )
            stored += 1
        self.log(
            "suggestions.run",
            "suggestions",
            None,
            {"model_version": model_version, "stored": stored, "withdrawn": withdrawn},
        )
        return stored

    def suggestions_df(self, *, status: str | None = None) -> pd.DataFrame:
        """Suggestions: ``suggestion_id, excerpt_id, source_id, code, origin, confidence,
        rationale, status, reviewer, reviewed_at, codebook_id, model_version, created_at``."""
        sql = (
            "SELECT s.id AS suggestion_id, s.excerpt_id, e.source_id, s.code, s.origin,"
            " s.confidence, s.rationale, s.status, s.reviewer, s.reviewed_at, s.codebook_id,"
            " s.model_version, s.created_at FROM suggestions s"
            " JOIN excerpts e ON e.id = s.excerpt_id"
        )
        params: tuple = ()
        if status:
            sql += " WHERE s.status = ?"
            params = (status,)
        return pd.read_sql_query(
            sql + " ORDER BY s.confidence DESC, s.id", self.connection, params=params
        )

    def review_suggestions(self, ids: list[int], *, accept: bool, reviewer: str) -> dict:
        """Accept or reject suggestions; an accepted one becomes the reviewer's coding."""
        ids = [int(i) for i in ids]  # IDs taken from a DataFrame are NumPy integers
        found = {
            r["id"]: r
            for r in self.connection.execute(
                "SELECT * FROM suggestions WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(ids),),
            )
        }
        missing = [i for i in ids if i not in found]
        if missing:
            raise ProjectError(
                f"no suggestion with ID {', '.join(map(str, missing[:10]))}",
                path=str(self.folder),
                hint="See 'evalkit suggest list' for the IDs",
            )
        done = [i for i in ids if found[i]["status"] != "suggested"]
        if done:
            raise ProjectError(
                f"suggestion(s) {', '.join(map(str, done[:10]))} were already reviewed",
                path=str(self.folder),
                hint="Each suggestion is reviewed once; change the coding itself instead",
            )
        status = "accepted" if accept else "rejected"
        stamp = now()
        for suggestion_id in ids:
            self._write(
                "UPDATE suggestions SET status = ?, reviewer = ?, reviewed_at = ? WHERE id = ?",
                (status, reviewer, stamp, suggestion_id),
            )
        coded = 0
        if accept:
            for suggestion_id in ids:
                row = found[suggestion_id]
                coded += self.add_codings(
                    [(row["excerpt_id"], reviewer, row["code"])],
                    origin=f"suggestion:{suggestion_id}:{row['origin']}:{row['model_version']}",
                )
        self.log(
            "suggestions.accept" if accept else "suggestions.reject",
            "suggestions",
            None,
            {"ids": ids, "reviewer": reviewer},
        )
        return {status: len(ids), "codings": coded}
