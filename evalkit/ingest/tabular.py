"""Spreadsheets (.csv, .xlsx) of open-ended responses, one source per respondent.

Row numbers in messages count the way a spreadsheet shows them: the header is row 1, so
the first answer is row 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from evalkit.errors import InputFileError
from evalkit.ingest.base import Extracted
from evalkit.model import Unit
from evalkit.util.tables import TABLE_SUFFIXES, load_table, require_columns, spreadsheet_row
from evalkit.util.text import normalise_newlines

__all__ = ["TABLE_SUFFIXES", "load_table", "read_responses", "require_columns", "spreadsheet_row"]


def read_responses(
    path: Path,
    *,
    id_column: str,
    text_columns: Sequence[str],
    attribute_columns: Sequence[str] | None = None,
) -> list[Extracted]:
    """One Extracted per respondent row; each answer is a unit labelled with its question."""
    frame = load_table(path)
    if not text_columns:
        raise InputFileError(
            "a spreadsheet of responses needs at least one text column",
            path=path,
            hint=f"Pass --text-column NAME; columns are: {', '.join(frame.columns)}",
        )
    require_columns(frame, [id_column, *text_columns], path, "responses")
    if attribute_columns is None:
        attribute_columns = [c for c in frame.columns if c not in (id_column, *text_columns)]
    require_columns(frame, attribute_columns, path, "responses")

    seen: dict[str, int] = {}
    results: list[Extracted] = []
    for index, row in frame.iterrows():
        row_number = spreadsheet_row(int(index))
        key = row[id_column]
        if not key:
            raise InputFileError(
                f"empty respondent ID in column '{id_column}'",
                path=path,
                row=row_number,
                hint="Give every row an ID",
            )
        if key in seen:
            raise InputFileError(
                f"respondent ID '{key}' repeats row {seen[key]}",
                path=path,
                row=row_number,
                hint="IDs must be unique",
            )
        seen[key] = row_number
        parts: list[str] = []
        units: list[Unit] = []
        position = 0
        for column in text_columns:
            answer = normalise_newlines(row[column]).strip()
            if not answer:
                continue
            heading = f"{column}\n\n"
            start = position + len(heading)
            units.append(Unit(start=start, end=start + len(answer), section=column))
            parts.append(heading + answer)
            position = start + len(answer) + 2
        if not units:
            continue  # a respondent who skipped every open question has nothing to code
        meta = {c: row[c] for c in attribute_columns if row[c] != ""}
        meta["row"] = row_number
        results.append(Extracted(text="\n\n".join(parts), meta=meta, units=units, key=key))
    if not results:
        raise InputFileError(
            "no row has an answer in the text column(s)",
            path=path,
            hint="Check that --text-column names the columns with the answers",
        )
    return results
