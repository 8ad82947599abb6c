"""Rapid-appraisal matrix cells: a machine draft per source and domain, and a person's
edited summary, which always wins over the draft."""

from __future__ import annotations

import json

import pandas as pd

from evalkit.store.base import now

CELL_COLUMNS = (
    "source_id",
    "domain",
    "draft",
    "evidence",
    "drafted_at",
    "drafted_by",
    "summary",
    "edited_at",
    "edited_by",
)


class MatrixMixin:
    def put_rqa_drafts(self, drafts: list[dict], *, drafted_by: str) -> int:
        """Write machine drafts (inside a transaction): each ``{source_id, domain, draft,
        evidence}`` with evidence a list of ``{excerpt_id, start, end}``. A person's edited
        summary is never touched. Returns how many drafts changed."""
        changed = 0
        at = now()
        for row in drafts:
            evidence = json.dumps(row["evidence"], sort_keys=True)
            old = self.connection.execute(
                "SELECT draft, evidence FROM rqa_cells WHERE source_id = ? AND domain = ?",
                (row["source_id"], row["domain"]),
            ).fetchone()
            if old is not None and (old["draft"], old["evidence"]) == (row["draft"], evidence):
                continue
            self._write(
                "INSERT INTO rqa_cells (source_id, domain, draft, evidence, drafted_at,"
                " drafted_by) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source_id, domain) DO"
                " UPDATE SET draft = excluded.draft, evidence = excluded.evidence,"
                " drafted_at = excluded.drafted_at, drafted_by = excluded.drafted_by",
                (row["source_id"], row["domain"], row["draft"], evidence, at, drafted_by),
            )
            changed += 1
        if changed:
            self.log("matrix.draft", "rqa_cells", None, {"drafts": changed, "by": drafted_by})
        return changed

    def set_rqa_summary(self, source_id: str, domain: str, summary: str | None) -> None:
        """Record (inside a transaction) a person's summary of one cell; ``None`` takes it
        back, so the cell shows its draft again."""
        at, editor = (now(), self._actor) if summary is not None else (None, None)
        self._write(
            "INSERT INTO rqa_cells (source_id, domain, summary, edited_at, edited_by)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (source_id, domain) DO UPDATE SET"
            " summary = excluded.summary, edited_at = excluded.edited_at,"
            " edited_by = excluded.edited_by",
            (source_id, domain, summary, at, editor),
        )
        self.log(
            "matrix.edit" if summary is not None else "matrix.revert",
            "rqa_cell",
            f"{source_id}/{domain}",
            {"words": len(summary.split()) if summary else 0},
        )

    def rqa_cells_df(self) -> pd.DataFrame:
        """Every matrix cell with a draft or a summary: :data:`CELL_COLUMNS`, evidence
        parsed back into a list."""
        frame = pd.read_sql_query(
            f"SELECT {', '.join(CELL_COLUMNS)} FROM rqa_cells ORDER BY source_id, domain",
            self.connection,
        )
        frame["evidence"] = [json.loads(value) for value in frame["evidence"]]
        return frame
