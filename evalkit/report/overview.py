"""The corpus overview: what the project holds, by source kind and sector."""

from __future__ import annotations

import datetime as dt

from docx import Document
from docx.document import Document as DocumentType
from docx.shared import Pt

KIND_TITLES = {
    "interview": "Key-informant interviews",
    "observation": "Meeting observations",
    "document": "Historical documents",
}


def overview_report(store, *, title: str = "Evaluation corpus overview") -> DocumentType:
    """A Word document describing the project's sources and excerpts.

    Returns
    -------
    docx.document.Document
        Save it with :func:`evalkit.fileio.save_docx`.
    """
    stats = store.stats()
    sources = store.sources_df()
    document = Document()
    document.styles["Normal"].font.name = "Calibri"
    document.styles["Normal"].font.size = Pt(11)
    document.add_heading(title, level=0)
    document.add_paragraph(
        f"Prepared {dt.date.today():%d %B %Y} with evalkit from the project store. "
        "All text was processed locally, on this computer. Counts are of the sources as "
        "ingested."
    )

    document.add_heading("Sources by kind", level=1)
    document.add_paragraph(
        "Rapid appraisal triangulates three kinds of source: interviews with task force "
        "members, evaluators' observations of meetings, and historical documents."
    )
    table = document.add_table(rows=1, cols=4)
    table.style = "Light Grid Accent 1"
    for cell, text in zip(
        table.rows[0].cells, ("Kind", "Sources", "Excerpts", "Words"), strict=True
    ):
        cell.text = text
    for kind, counts in stats["by_kind"].items():
        row = table.add_row().cells
        row[0].text = KIND_TITLES.get(kind, kind)
        row[1].text = str(counts["sources"])
        row[2].text = str(counts["excerpts"])
        row[3].text = f"{counts['words']:,}"
    row = table.add_row().cells
    row[0].text, row[1].text = "Total", str(stats["sources"])
    row[2].text, row[3].text = str(stats["excerpts"]), f"{stats['words']:,}"

    for kind, title_text in KIND_TITLES.items():
        subset = sources[sources["kind"] == kind]
        if subset.empty:
            continue
        document.add_heading(title_text, level=1)
        columns = [("source_id", "Source"), ("date", "Date")]
        if kind == "interview":
            columns += [("sector", "Sector"), ("role", "Role")]
        elif kind == "observation":
            columns += [("meeting", "Meeting"), ("subcommittee", "Subcommittee")]
        else:
            columns += [("title", "Title")]
        columns += [("words", "Words"), ("excerpts", "Excerpts")]
        columns = [(key, label) for key, label in columns if key in subset.columns]
        table = document.add_table(rows=1, cols=len(columns))
        table.style = "Light Grid Accent 1"
        for cell, (_, label) in zip(table.rows[0].cells, columns, strict=True):
            cell.text = label
        for _, record in subset.sort_values("source_id").iterrows():
            cells = table.add_row().cells
            for cell, (key, _) in zip(cells, columns, strict=True):
                value = record.get(key)
                if value is None or value != value:
                    cell.text = ""
                elif isinstance(value, int | float) and not isinstance(value, bool):
                    cell.text = f"{value:,.0f}"
                else:
                    cell.text = str(value).replace("_", " ")
    return document
