"""The embedding cache: each excerpt text is embedded once per model.

Rows are keyed by the sha256 of the text and the model id, so a vector can only ever be
returned for exactly the text it was made from: an edited, re-ingested, de-identified or
undone excerpt simply misses the cache. The cache is derived data, not a decision, so it
is neither audited nor undone; it is pruned to the texts of current excerpts whenever it
is written and when the project is de-identified, so no vector of a removed text (which
might be inverted back towards a name) outlives it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from evalkit.util.text import content_hash

# SQLite allows at most 32,766 bound parameters; stay well under.
_CHUNK = 900


class EmbeddingsMixin:
    def cached_vectors(self, model_id: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """The cached vectors of ``model_id`` for the given text hashes (those it has)."""
        found: dict[str, np.ndarray] = {}
        wanted = list(hashes)
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            for row in self.connection.execute(
                f"SELECT text_hash, vector FROM embeddings WHERE model_id = ?"
                f" AND text_hash IN ({marks})",
                (model_id, *chunk),
            ):
                found[row[0]] = np.frombuffer(row[1], dtype=np.float32).copy()
        return found

    def cache_vectors(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        """Keep ``vectors`` (text hash -> vector), then prune the cache.

        Outside an operation this is its own short write; inside one, part of it.
        """
        rows = [
            (k, model_id, np.asarray(v, dtype=np.float32).tobytes()) for k, v in vectors.items()
        ]
        own = self._actor is None
        if own:
            self.connection.execute("BEGIN IMMEDIATE")
        try:
            self.connection.executemany(
                "INSERT OR REPLACE INTO embeddings (text_hash, model_id, vector) VALUES (?, ?, ?)",
                rows,
            )
            self._prune_embeddings(keep=set(vectors))
        except BaseException:
            if own:
                self.connection.execute("ROLLBACK")
            raise
        if own:
            self.connection.execute("COMMIT")

    def prune_embeddings(self) -> int:
        """Drop cached vectors of texts no excerpt has any more (inside an operation)."""
        if self._actor is None:
            raise RuntimeError("store writes must happen inside Store.transaction()")
        return self._prune_embeddings(keep=set())

    def _prune_embeddings(self, keep: set[str]) -> int:
        current = keep | {
            content_hash(row[0])
            for row in self.connection.execute(
                'SELECT substr(s.text, e.start + 1, e."end" - e.start)'
                " FROM excerpts e JOIN sources s ON s.id = e.source_id"
            )
        }
        stale = [
            (row[0], row[1])
            for row in self.connection.execute("SELECT text_hash, model_id FROM embeddings")
            if row[0] not in current
        ]
        self.connection.executemany(
            "DELETE FROM embeddings WHERE text_hash = ? AND model_id = ?", stale
        )
        return len(stale)

    def embedding_count(self, model_id: str | None = None) -> int:
        sql, params = "SELECT COUNT(*) FROM embeddings", ()
        if model_id:
            sql, params = sql + " WHERE model_id = ?", (model_id,)
        return self.connection.execute(sql, params).fetchone()[0]
