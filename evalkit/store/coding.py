"""Codebook versions and codings."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import pandas as pd

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
