"""CAB review packets and the decisions that come back in them."""

from __future__ import annotations

import json

import pandas as pd

from evalkit.store.base import now


class ReviewsMixin:
    def put_packet(self, packet_id: str, reviewer: str, selection: dict, items: list[dict]):
        """Record a packet handed to a reviewer: which excerpt and code each row (ref) asks
        about, so the filled packet can be read back whatever happens to its text."""
        self._write(
            "INSERT INTO packets (id, reviewer, selection, items, created_at, created_by)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (packet_id, reviewer, json.dumps(selection), json.dumps(items), now(), self._actor),
        )
        self.log(
            "packet.create",
            "packet",
            packet_id,
            {"reviewer": reviewer, "items": len(items), **selection},
        )

    def packet(self, packet_id: str) -> dict | None:
        row = self.connection.execute("SELECT * FROM packets WHERE id = ?", (packet_id,)).fetchone()
        if row is None:
            return None
        return {
            "id": row["id"],
            "reviewer": row["reviewer"],
            "selection": json.loads(row["selection"]),
            "items": json.loads(row["items"]),
            "created_at": row["created_at"],
        }

    def add_reviews(self, packet_id: str, reviewer: str, decisions: list[dict]) -> int:
        """Store decisions (``ref, excerpt_id, code, decision, comment``); returns how many
        are new. The same decision read twice from the same packet is stored once."""
        stamp = now()
        added = 0
        for d in decisions:
            cursor = self._write(
                "INSERT OR IGNORE INTO reviews (packet_id, ref, excerpt_id, code, reviewer,"
                " decision, comment, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    packet_id,
                    d["ref"],
                    d["excerpt_id"],
                    d["code"],
                    reviewer,
                    d["decision"],
                    d["comment"],
                    stamp,
                    self._actor,
                ),
            )
            added += cursor.rowcount
        self.log(
            "reviews.import",
            "packet",
            packet_id,
            {"reviewer": reviewer, "read": len(decisions), "new": added},
        )
        return added

    def reviews_df(self, *, latest: bool = True) -> pd.DataFrame:
        """CAB decisions: ``review_id, packet_id, ref, excerpt_id, source_id, code, reviewer,
        decision, comment, created_at``. With ``latest``, only each reviewer's most recent
        decision on each (excerpt, code) counts."""
        frame = pd.read_sql_query(
            "SELECT r.id AS review_id, r.packet_id, r.ref, r.excerpt_id, e.source_id, r.code,"
            " r.reviewer, r.decision, r.comment, r.created_at FROM reviews r"
            " JOIN excerpts e ON e.id = r.excerpt_id ORDER BY r.id",
            self.connection,
        )
        if latest and len(frame):
            frame = frame.drop_duplicates(["excerpt_id", "code", "reviewer"], keep="last")
        return frame.reset_index(drop=True)
