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

from typing import Any

from evalkit.store.backups import BackupsMixin
from evalkit.store.base import StoreBase, default_actor, now
from evalkit.store.cache import TextCacheMixin
from evalkit.store.check import CheckMixin
from evalkit.store.coding import CodingMixin
from evalkit.store.history import HistoryMixin
from evalkit.store.matrix import MatrixMixin
from evalkit.store.memos import MemosMixin
from evalkit.store.reviews import ReviewsMixin
from evalkit.store.schema import DB_NAME, MIGRATIONS, SCHEMA_VERSION
from evalkit.store.sources import SourcesMixin


class Store(
    SourcesMixin,
    CodingMixin,
    TextCacheMixin,
    ReviewsMixin,
    MemosMixin,
    MatrixMixin,
    HistoryMixin,
    BackupsMixin,
    CheckMixin,
    StoreBase,
):
    """An open project: sources, excerpts, codebooks and codings, with an audit log.

    Use :meth:`Store.init` or :meth:`Store.open`, not the constructor.
    """

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


__all__ = ["DB_NAME", "MIGRATIONS", "SCHEMA_VERSION", "Store", "default_actor", "now"]
