"""Analytic memos: on the project, a code, a source or an excerpt."""

from __future__ import annotations

import pandas as pd

from evalkit.errors import EvalkitError
from evalkit.store.base import now

TARGETS = ("project", "code", "source", "excerpt")
KINDS = ("note", "recommendation")
LISTING = {"code": "codebook show", "source": "sources", "excerpt": "excerpts"}


class MemosMixin:
    def add_memo(
        self,
        title: str,
        body: str = "",
        *,
        on: str = "project",
        target: str | None = None,
        author: str,
        kind: str = "note",
    ) -> int:
        """Write a memo (inside a transaction); returns its ID.

        Raises
        ------
        EvalkitError
            If the code, source or excerpt does not exist, or the title is blank.
        """
        if on not in TARGETS:
            raise EvalkitError(f"a memo is on one of {', '.join(TARGETS)}; got '{on}'")
        if kind not in KINDS:
            raise EvalkitError(f"a memo's kind is one of {', '.join(KINDS)}; got '{kind}'")
        if not title.strip():
            raise EvalkitError("a memo needs a title", hint="Pass --title TEXT")
        if on == "project":
            target = None
        else:
            table, column = {
                "code": ("codes", "name"),
                "source": ("sources", "id"),
                "excerpt": ("excerpts", "id"),
            }[on]
            found = self.connection.execute(
                f"SELECT 1 FROM {table} WHERE {column} = ?", (target,)
            ).fetchone()
            if found is None:
                raise EvalkitError(
                    f"no {on} '{target}' in the project",
                    path=str(self.folder),
                    hint=f"Check the {on} name; 'evalkit {LISTING[on]}' lists them",
                )
        memo_id = self._write(
            "INSERT INTO memos (target_kind, target, title, body, author, created_at, kind)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (on, target, title.strip(), body, author, now(), kind),
        ).lastrowid
        self.log(
            "memo.add",
            "memo",
            str(memo_id),
            {"on": on, "target": target, "title": title, "kind": kind},
        )
        return memo_id

    def memos_df(
        self, *, on: str | None = None, target: str | None = None, kind: str | None = None
    ) -> pd.DataFrame:
        """Memos, oldest first: ``memo_id, target_kind, target, title, body, author,
        created_at, kind`` (``note`` or ``recommendation``)."""
        sql = (
            "SELECT id AS memo_id, target_kind AS target_kind, target, title, body, author,"
            " created_at, kind FROM memos"
        )
        where, params = [], []
        if kind:
            where.append("kind = ?")
            params.append(kind)
        if on:
            where.append("target_kind = ?")
            params.append(on)
        if target:
            where.append("target = ?")
            params.append(target)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return pd.read_sql_query(sql + " ORDER BY id", self.connection, params=params)
