"""Operations and undo.

Every command is one *operation*: a row in ``operations`` that its audit entries point
to. TEMP triggers, created on each connection, record every row the operation inserts,
updates or deletes in ``changes`` (the old values as JSON). Undo applies the inverse of
the last operation's changes, newest first, in one transaction; the undo is itself an
operation whose changes are recorded, and the audit log only ever grows.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

import pandas as pd

from evalkit.errors import ProjectError
from evalkit.store.schema import TRACKED_TABLES

# Undo never crosses these: a restore replaced everything, and de-identification must
# not be reversible (that would bring the names back).
NOT_UNDOABLE = ("init", "undo", "backups restore", "deid")


def install_change_triggers(connection: sqlite3.Connection) -> None:
    """TEMP triggers that log this connection's row changes to the current operation."""
    for table in TRACKED_TABLES:
        columns = [r[1] for r in connection.execute(f"PRAGMA main.table_info({table})")]
        old = ", ".join(f"'{c}', OLD.\"{c}\"" for c in columns)
        current = "(SELECT MAX(id) FROM main.operations)"
        connection.executescript(
            f"""
            CREATE TEMP TRIGGER IF NOT EXISTS log_{table}_insert AFTER INSERT ON main.{table}
            BEGIN INSERT INTO changes (operation, tbl, kind, row, old)
                  VALUES ({current}, '{table}', 'insert', NEW.rowid, NULL); END;
            CREATE TEMP TRIGGER IF NOT EXISTS log_{table}_update AFTER UPDATE ON main.{table}
            BEGIN INSERT INTO changes (operation, tbl, kind, row, old)
                  VALUES ({current}, '{table}', 'update', OLD.rowid, json_object({old})); END;
            CREATE TEMP TRIGGER IF NOT EXISTS log_{table}_delete AFTER DELETE ON main.{table}
            BEGIN INSERT INTO changes (operation, tbl, kind, row, old)
                  VALUES ({current}, '{table}', 'delete', OLD.rowid, json_object({old})); END;
            """
        )


@dataclass(frozen=True)
class Undone:
    """What :meth:`HistoryMixin.undo` reverted: the operation, its command and summary,
    and how many row changes were put back."""

    undone: int
    command: str
    summary: str
    changes: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class HistoryMixin:
    def history_df(self, limit: int | None = None) -> pd.DataFrame:
        """Operations, newest first: ``operation, at, actor, command, summary, changes,
        undone_by, undoes``."""
        sql = (
            "SELECT o.id AS operation, o.started_at AS at, o.actor, o.command, o.summary,"
            " (SELECT COUNT(*) FROM changes c WHERE c.operation = o.id) AS changes,"
            " o.undone_by, o.undoes FROM operations o ORDER BY o.id DESC"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        return pd.read_sql_query(sql, self.connection)

    def compact(self) -> bool:
        """Fold the write-ahead log into the database and rebuild the file, so that no
        earlier version of any row remains on disk. Returns False if another process was
        reading and the log could not be emptied; the compaction is then retried the next
        time the project is opened (see :meth:`compact_later`)."""
        self.connection.execute("VACUUM")
        busy = self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if not busy:
            # Only now: until the log is folded in, the old pages are still in the file.
            self.connection.execute("DELETE FROM project WHERE key = 'compact_pending'")
            self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return not busy

    def rebuild_search_index(self) -> None:
        """Rebuild the full-text index from the excerpts (inside the current operation):
        its segments keep the terms of deleted rows until they are merged."""
        self._write("INSERT INTO excerpts_fts (excerpts_fts) VALUES ('rebuild')")
        self._write("INSERT INTO excerpts_fts (excerpts_fts) VALUES ('optimize')")

    def compact_later(self) -> None:
        """Mark (inside the current operation) that the store must be compacted: if the
        process dies before :meth:`compact` runs, the next open compacts first."""
        self._write("INSERT OR REPLACE INTO project (key, value) VALUES ('compact_pending', '1')")

    def redact_free_text(self, transform) -> dict[str, int]:
        """Rewrite every free-text column that is not source text (memos, CAB comments,
        suggestion rationales, packet contents, codebook versions) with ``transform``
        (str -> str), inside the current operation; returns rows changed per table."""
        columns = {
            "memos": ("title", "body"),
            "reviews": ("comment",),
            "suggestions": ("rationale",),
            "packets": ("reviewer", "selection", "items"),
            "codebooks": ("yaml",),
            "rqa_cells": ("draft", "evidence", "drafted_by", "summary", "edited_by"),
        }
        changed: dict[str, int] = {}
        for table, names in columns.items():
            listed = ", ".join(names)
            for row in self.connection.execute(f"SELECT rowid, {listed} FROM {table}").fetchall():
                new = [transform(row[n]) if isinstance(row[n], str) else row[n] for n in names]
                if new != [row[n] for n in names]:
                    sets = ", ".join(f"{n} = ?" for n in names)
                    self._write(f"UPDATE {table} SET {sets} WHERE rowid = ?", (*new, row[0]))
                    changed[table] = changed.get(table, 0) + 1
        return changed

    def redact_history(self, transform) -> int:
        """Rewrite the text of the audit log and the operation summaries with
        ``transform`` (str -> str), inside the current operation; returns rows changed.

        The audit log is append-only, with one exception: de-identification may remove
        from it the names it removes everywhere else. That is logged, so the log still
        says that it happened (and who did it), without saying what the names were.
        """
        changed = 0
        c = self.connection
        # The trigger's own definition, so it comes back exactly as the schema made it.
        guard = c.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_no_update'"
        ).fetchone()[0]
        c.execute("DROP TRIGGER audit_no_update")
        try:
            # Entity IDs change too: a source or excerpt renamed by the same operation must
            # still be the one its earlier entries name.
            for row in c.execute("SELECT id, entity_id, detail FROM audit").fetchall():
                entity = transform(row["entity_id"]) if row["entity_id"] else row["entity_id"]
                detail = transform(row["detail"])
                if entity != row["entity_id"] or detail != row["detail"]:
                    self._write(
                        "UPDATE audit SET entity_id = ?, detail = ? WHERE id = ?",
                        (entity, detail, row["id"]),
                    )
                    changed += 1
            for row in c.execute("SELECT id, summary FROM operations").fetchall():
                summary = transform(row["summary"])
                if summary != row["summary"]:
                    self._write(
                        "UPDATE operations SET summary = ? WHERE id = ?", (summary, row["id"])
                    )
                    changed += 1
        finally:
            c.execute(guard)
        self.log("history.redact", "project", None, {"rows": changed})
        return changed

    def forget_history(self, reason: str) -> dict:
        """Drop the undo history and every snapshot (inside the current operation).

        For when the old state must not survive: de-identification that removed names.
        The audit log keeps what happened; only the means to go back is removed.
        """
        from evalkit.store.backups import list_backups

        changes = self._write("DELETE FROM changes").rowcount
        snapshots = list_backups(self.folder)
        for path in snapshots:
            path.unlink(missing_ok=True)
        detail = {"reason": reason, "changes": changes, "snapshots": len(snapshots)}
        self.log("history.forget", "project", None, detail)
        return detail

    def undo(self, *, actor: str | None = None) -> Undone:
        """Revert the most recent operation that has not been undone.

        Returns
        -------
        Undone

        Raises
        ------
        ProjectError
            If there is nothing to undo.
        """
        with self.transaction(actor=actor, command="undo"):
            target = self.connection.execute(
                "SELECT * FROM operations o WHERE undone_by IS NULL AND undoes IS NULL"
                " AND id < ? AND (command IN ({}) OR EXISTS"
                " (SELECT 1 FROM changes c WHERE c.operation = o.id))"
                " ORDER BY id DESC LIMIT 1".format(", ".join("?" * len(NOT_UNDOABLE))),
                (self._operation, *NOT_UNDOABLE),
            ).fetchone()
            if target is None or target["command"] in NOT_UNDOABLE:
                raise ProjectError(
                    "nothing to undo"
                    + (f" after '{target['command']}'" if target is not None else ""),
                    path=str(self.folder),
                    hint="See 'evalkit history'; undo reaches back 50 operations; to go"
                    " further back, restore a backup ('evalkit backups list')",
                )
            self.snapshot("before undo")
            changes = self.connection.execute(
                "SELECT * FROM changes WHERE operation = ? ORDER BY seq DESC", (target["id"],)
            ).fetchall()
            # Deferred: rows come back in reverse order, so a coding may return before
            # the excerpt it points to within this one transaction.
            self.connection.execute("PRAGMA defer_foreign_keys = ON")
            for change in changes:
                _revert(self.connection, change)
            mine = self._operation
            self._write("UPDATE operations SET undone_by = ? WHERE id = ?", (mine, target["id"]))
            self._write("UPDATE operations SET undoes = ? WHERE id = ?", (target["id"], mine))
            summary = f"undid #{target['id']} ({target['summary'] or target['command']})"
            self.describe(summary)
            self.log(
                "undo",
                "operation",
                str(target["id"]),
                {"command": target["command"], "changes": len(changes)},
            )
        return Undone(target["id"], target["command"], target["summary"], len(changes))


def _revert(connection: sqlite3.Connection, change: sqlite3.Row) -> None:
    table, row = change["tbl"], change["row"]
    if change["kind"] == "insert":
        connection.execute(f"DELETE FROM {table} WHERE rowid = ?", (row,))
        return
    old = json.loads(change["old"])
    columns = list(old)
    if change["kind"] == "update":
        assignments = ", ".join(f'"{c}" = ?' for c in columns)
        connection.execute(
            f"UPDATE {table} SET {assignments} WHERE rowid = ?", [old[c] for c in columns] + [row]
        )
    else:
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(columns))
        connection.execute(
            f"INSERT INTO {table} (rowid, {names}) VALUES (?, {marks})",
            [row] + [old[c] for c in columns],
        )
