"""Codebooks as spreadsheets: one row per code; XLSX adds codebook and domain sheets.

Columns: code, parent, brief, definition, when_to_use, when_not_to_use, example, keywords,
patterns, exclude, color, tension. Several examples or patterns go on separate lines of
one cell; keywords and exclusions are separated by semicolons.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

import pandas as pd

from evalkit.codebook.validate import Problem, RawCode, RawDomain, build_codebook
from evalkit.errors import CodebookError
from evalkit.ingest.tabular import load_table, spreadsheet_row
from evalkit.model import Codebook
from evalkit.util import sheets
from evalkit.util.archive import DAMAGED_FILE_ERRORS, check_zip

COLUMNS = (
    "code",
    "parent",
    "brief",
    "definition",
    "when_to_use",
    "when_not_to_use",
    "example",
    "keywords",
    "patterns",
    "exclude",
    "color",
    "tension",
)
META_FIELDS = ("title", "version", "authors", "date", "description")


def codes_frame(codebook: Codebook) -> pd.DataFrame:
    """One row per code, in the spreadsheet columns."""
    rows = [
        {
            "code": c.name,
            "parent": c.parent or "",
            "brief": c.brief,
            "definition": c.definition,
            "when_to_use": c.when_to_use,
            "when_not_to_use": c.when_not_to_use,
            "example": "\n".join(c.examples),
            "keywords": "; ".join(c.keywords),
            "patterns": "\n".join(c.patterns),
            "exclude": "; ".join(c.exclude),
            "color": c.color or "",
            "tension": "yes" if c.tension else "",
        }
        for c in codebook.codes
    ]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def write_csv(codebook: Codebook, stream: IO[bytes]) -> None:
    sheets.write_csv(codes_frame(codebook), stream)


def write_xlsx(codebook: Codebook, stream: IO[bytes]) -> None:

    meta = pd.DataFrame(
        {
            "field": list(META_FIELDS),
            "value": [
                codebook.title,
                codebook.version,
                "; ".join(codebook.authors),
                codebook.date or "",
                codebook.description,
            ],
        }
    )
    domains = pd.DataFrame(
        [(d, c) for d, codes in codebook.domains.items() for c in codes],
        columns=["domain", "code"],
    )
    workbook = sheets.new_workbook()
    sheet = sheets.write_frame(workbook, codes_frame(codebook), "codes")
    sheets.write_frame(workbook, meta, "codebook")
    sheets.write_frame(workbook, domains, "domains")
    widths = {"A": 24, "B": 18, "C": 30, "D": 60, "E": 45, "F": 45, "G": 50, "H": 40}
    sheets.style_table(sheet, freeze="B2", widths=widths)
    sheets.save_workbook(workbook, stream)


def read_table_codebook(path: str | Path) -> tuple[Codebook | None, list[Problem]]:
    """Read a CSV or XLSX codebook; problems carry spreadsheet row numbers."""
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        # Before both reads below (the codes sheet, then the codebook and domains sheets).
        check_zip(path, error=CodebookError, kind="codebook workbook")
    frame = load_table(path)
    if "code" not in frame.columns:
        raise CodebookError(
            f"no 'code' column (columns are: {', '.join(frame.columns)})",
            path=path,
            row=1,
            hint=f"A codebook sheet needs the columns {', '.join(COLUMNS[:8])}",
        )
    codes: list[RawCode] = []
    for index, record in frame.iterrows():
        if not any(str(v).strip() for v in record.values):
            continue
        row = spreadsheet_row(int(index))
        values = {
            "name": record.get("code", ""),
            "parent": record.get("parent", ""),
            "brief": record.get("brief", ""),
            "definition": record.get("definition", ""),
            "when_to_use": record.get("when_to_use", ""),
            "when_not_to_use": record.get("when_not_to_use", ""),
            "examples": record.get("example", record.get("examples", "")),
            "color": record.get("color", "") or None,
            "tension": record.get("tension", ""),
            "rules": {
                "keywords": record.get("keywords", ""),
                "patterns": record.get("patterns", ""),
                "exclude": record.get("exclude", ""),
            },
        }
        codes.append(RawCode(values=values, where=f"row {row}", key_where={}))
    meta: dict = {}
    domains: list[RawDomain] = []
    if path.suffix.lower() == ".xlsx":
        meta, domains = _xlsx_extras(path)
    return build_codebook(meta, codes, domains, default_title=path.stem)


def _xlsx_extras(path: Path) -> tuple[dict, list[RawDomain]]:
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=str, engine="openpyxl")
    except DAMAGED_FILE_ERRORS as exc:
        raise CodebookError(
            f"not a readable workbook ({type(exc).__name__})",
            path=path,
            hint="Open it in Excel or LibreOffice and save it again as .xlsx",
        ) from None
    meta: dict = {}
    if "codebook" in sheets:
        for _, record in sheets["codebook"].fillna("").iterrows():
            if record.get("field") in META_FIELDS:
                meta[record["field"]] = record.get("value", "")
        if meta.get("authors"):
            meta["authors"] = [a.strip() for a in str(meta["authors"]).split(";") if a.strip()]
    domains: dict[str, RawDomain] = {}
    if "domains" in sheets:
        for index, record in sheets["domains"].fillna("").iterrows():
            name = str(record.get("domain", "")).strip()
            if not name:
                continue
            where = f"row {spreadsheet_row(int(index))} of sheet 'domains'"
            domain = domains.setdefault(name, RawDomain(name, [], where))
            domain.codes.append(record.get("code", ""))
    return meta, list(domains.values())
