"""Source attributes (participant ID, agency, sector, role, date) from a CSV or XLSX table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import AttributesError
from evalkit.ingest.tabular import load_table, spreadsheet_row

KEY_COLUMNS = ("file", "filename", "source_id", "source")


@dataclass(frozen=True)
class AttributeRow:
    key: str
    row: int
    values: dict[str, Any]


def load_attributes(path: str | Path) -> list[AttributeRow]:
    """Read an attributes table keyed by file name or source ID.

    The key column is the first of ``file``, ``filename``, ``source_id`` or ``source``; every
    other column becomes an attribute. Blank cells are left out.

    Raises
    ------
    AttributesError
        If there is no key column, or a key is blank or repeated.
    """
    path = Path(path)
    frame = load_table(path)
    key_column = next((c for c in KEY_COLUMNS if c in frame.columns), None)
    if key_column is None:
        raise AttributesError(
            f"no key column (columns are: {', '.join(frame.columns)})",
            path=path,
            row=1,
            hint="Add a 'file' column with each file's name (or 'source_id' with its ID)",
        )
    rows: list[AttributeRow] = []
    seen: dict[str, int] = {}
    for index, record in frame.iterrows():
        row = spreadsheet_row(int(index))
        key = record[key_column]
        if not key:
            if any(record.values):
                raise AttributesError(
                    f"blank '{key_column}'", path=path, row=row, hint="Fill it in or delete the row"
                )
            continue
        if key in seen:
            raise AttributesError(
                f"'{key}' is listed twice (first in row {seen[key]})",
                path=path,
                row=row,
                hint="Keep one row per file",
            )
        seen[key] = row
        values = {c: v for c, v in record.items() if c != key_column and v != ""}
        rows.append(AttributeRow(key=key, row=row, values=values))
    return rows


def match_attributes(
    rows: list[AttributeRow], names: dict[str, list[str]], known: set[str], path: str | Path
) -> dict[str, dict[str, Any]]:
    """Attach attribute rows to the files being ingested.

    ``names`` maps each incoming source name to the keys it answers to (file name, stem,
    source ID). A row may also name a source already in the project (``known``); rows that
    match neither are an error that lists them all.
    """
    lookup: dict[str, str] = {}
    for name, keys in names.items():
        for key in keys:
            lookup.setdefault(key, name)
    matched: dict[str, dict[str, Any]] = {}
    unmatched: list[AttributeRow] = []
    for row in rows:
        name = lookup.get(row.key)
        if name is not None:
            matched[name] = row.values
        elif row.key not in known:
            unmatched.append(row)
    if unmatched:
        listed = ", ".join(f"row {r.row} '{r.key}'" for r in unmatched[:10])
        more = f" and {len(unmatched) - 10} more" if len(unmatched) > 10 else ""
        raise AttributesError(
            f"{len(unmatched)} row(s) match no file being ingested and no source in the"
            f" project: {listed}{more}",
            path=path,
            hint="Fix the file names in the key column, or ingest those files in the same command",
        )
    return matched
