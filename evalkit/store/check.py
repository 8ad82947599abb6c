"""``evalkit check``: is the project store whole, and does every offset fit its source?"""

from __future__ import annotations

import hashlib

import pandas as pd

from evalkit.store.backups import list_backups

COLUMNS = ("problem", "where", "fix")


class CheckMixin:
    def check(self) -> pd.DataFrame:
        """Problems found, in plain words with the command that fixes each.

        Checks the SQLite file (``PRAGMA integrity_check``), foreign keys, that every
        excerpt lies inside its source text, that each source's text matches its recorded
        hash, and that the sources agree with the audit log (each one added by an
        operation that was not undone). An empty DataFrame means all is well.

        Returns
        -------
        pandas.DataFrame
            Columns ``problem, where, fix``.
        """
        problems: list[dict] = []
        newest = list_backups(self.folder)
        restore = (
            f"evalkit backups restore {newest[0].stem} --project {self.folder}"
            if newest
            else "restore the project folder from your own backup"
        )
        c = self.connection
        for (message,) in c.execute("PRAGMA integrity_check").fetchall():
            if message != "ok":
                problems.append(
                    {
                        "problem": f"the database file is damaged: {message}",
                        "where": "evalkit.sqlite",
                        "fix": restore,
                    }
                )
        for row in c.execute("PRAGMA foreign_key_check").fetchall():
            problems.append(
                {
                    "problem": f"a row of {row[0]} points at a missing row of {row[2]}",
                    "where": f"{row[0]} rowid {row[1]}",
                    "fix": restore,
                }
            )
        for row in c.execute(
            'SELECT e.id, e.start, e."end", s.id AS source, length(s.text) AS size'
            " FROM excerpts e JOIN sources s ON s.id = e.source_id"
            ' WHERE e.start < 0 OR e."end" > length(s.text) OR e.start >= e."end"'
        ):
            problems.append(
                {
                    "problem": f"excerpt offsets {row['start']}-{row['end']} fall outside its"
                    f" source ({row['size']} characters)",
                    "where": f"excerpt {row['id']}",
                    "fix": f"re-ingest the file of source {row['source']}, or {restore}",
                }
            )
        for row in c.execute("SELECT id, name, text, content_hash FROM sources"):
            if hashlib.sha256(row["text"].encode("utf-8")).hexdigest() != row["content_hash"]:
                problems.append(
                    {
                        "problem": "the source text no longer matches its recorded hash"
                        " (changed outside evalkit)",
                        "where": f"source {row['id']}",
                        "fix": f"re-ingest {row['name']}, or {restore}",
                    }
                )
        stored = {r[0] for r in c.execute("SELECT id FROM sources")}
        logged = {
            r[0]
            for r in c.execute(
                "SELECT a.entity_id FROM audit a LEFT JOIN operations o ON o.id = a.operation"
                " WHERE a.action = 'source.add' AND o.undone_by IS NULL"
            )
        }
        for source in sorted(stored - logged):
            problems.append(
                {
                    "problem": "the source is in the store but no operation in the audit log"
                    " added it",
                    "where": f"source {source}",
                    "fix": restore,
                }
            )
        for source in sorted(logged - stored):
            problems.append(
                {
                    "problem": "the audit log says the source was added, but it is missing",
                    "where": f"source {source}",
                    "fix": restore,
                }
            )
        return pd.DataFrame(problems, columns=COLUMNS)
