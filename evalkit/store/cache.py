"""The text cache: what is computed from an excerpt's text alone, computed once.

Rows are keyed by what was computed (``kind``: ``embedding``, ``rules``), with which
version (a model id, a rules fingerprint) and the sha256 of the text, so a value can only
ever be returned for exactly the text it was made from: an edited, re-ingested,
de-identified or undone excerpt simply misses the cache. The cache is derived data, not a
decision, so it is neither audited nor undone. :meth:`TextCacheMixin.prune_text_cache`
drops the values of texts no excerpt has any more; ingest and de-identification call it,
so no vector of a removed text (which might be inverted back towards a name) outlives it.
"""

from __future__ import annotations

from collections.abc import Iterable

from evalkit.util.text import content_hash

# SQLite allows at most 32,766 bound parameters; stay well under.
_CHUNK = 900


class TextCacheMixin:
    def cached(self, kind: str, version: str, hashes: Iterable[str]) -> dict[str, bytes]:
        """The cached values of ``kind``/``version`` for these text hashes (those it has)."""
        found: dict[str, bytes] = {}
        wanted = list(hashes)
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            for row in self.connection.execute(
                f"SELECT text_hash, value FROM text_cache WHERE kind = ? AND version = ?"
                f" AND text_hash IN ({marks})",
                (kind, version, *chunk),
            ):
                found[row[0]] = bytes(row[1])
        return found

    def cache(self, kind: str, version: str, values: dict[str, bytes]) -> None:
        """Keep ``values`` (text hash -> bytes). Outside an operation this is its own short
        write (a cache fill is not something to undo); inside one, part of it."""
        rows = [(k, kind, version, v) for k, v in values.items()]
        own = self._actor is None
        if own:
            self.connection.execute("BEGIN IMMEDIATE")
        try:
            self.connection.executemany(
                "INSERT OR REPLACE INTO text_cache (text_hash, kind, version, value)"
                " VALUES (?, ?, ?, ?)",
                rows,
            )
        except BaseException:
            if own:
                self.connection.execute("ROLLBACK")
            raise
        if own:
            self.connection.execute("COMMIT")

    def prune_text_cache(self) -> int:
        """Drop cached values of texts no excerpt has any more (inside an operation);
        returns how many rows went."""
        if self._actor is None:
            raise RuntimeError("store writes must happen inside Store.transaction()")
        current = {
            content_hash(row[0])
            for row in self.connection.execute(
                'SELECT substr(s.text, e.start + 1, e."end" - e.start)'
                " FROM excerpts e JOIN sources s ON s.id = e.source_id"
            )
        }
        stale = [
            tuple(row)
            for row in self.connection.execute("SELECT kind, version, text_hash FROM text_cache")
            if row[2] not in current
        ]
        self.connection.executemany(
            "DELETE FROM text_cache WHERE kind = ? AND version = ? AND text_hash = ?", stale
        )
        return len(stale)

    def cache_count(self, kind: str | None = None) -> int:
        sql, params = "SELECT COUNT(*) FROM text_cache", ()
        if kind:
            sql, params = sql + " WHERE kind = ?", (kind,)
        return self.connection.execute(sql, params).fetchone()[0]
