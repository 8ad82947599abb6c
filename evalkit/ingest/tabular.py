"""Spreadsheets (.csv, .xlsx) of open-ended responses, and the shared table loader.

Row numbers in messages count the way a spreadsheet shows them: the header is row 1, so
the first answer is row 2.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from evalkit.errors import InputFileError
from evalkit.ingest.base import Extracted, normalise_newlines
from evalkit.ingest.text import decode
from evalkit.model import Unit

TABLE_SUFFIXES = (".csv", ".xlsx")


def spreadsheet_row(index: int) -> int:
    """The row number a spreadsheet shows for DataFrame row ``index`` (header is row 1)."""
    return index + 2


def load_table(path: str | Path) -> pd.DataFrame:
    """Read a .csv or .xlsx into a DataFrame of strings, blanks as ``""``.

    Raises
    ------
    InputFileError
        If the file is missing, empty, corrupt or undecodable.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError("file not found", path=path, hint="Check the path")
    suffix = path.suffix.lower()
    try:
        if suffix == ".xlsx":
            frame = pd.read_excel(path, dtype=str, engine="openpyxl").fillna("")
        elif suffix == ".csv":
            text, _ = decode(path.read_bytes(), path)
            frame = pd.read_csv(
                io.StringIO(normalise_newlines(text).lstrip("\ufeff")),
                dtype=str,
                keep_default_na=False,
                skipinitialspace=True,
            )
        else:
            raise InputFileError(
                f"unsupported table format '{suffix}'",
                path=path,
                hint="Use a .csv or .xlsx file",
            )
    except InputFileError:
        raise
    except pd.errors.EmptyDataError:
        raise InputFileError("the table is empty", path=path, hint="Add a header row") from None
    except pd.errors.ParserError as exc:
        raise InputFileError(
            f"the CSV cannot be parsed ({str(exc).splitlines()[0]})",
            path=path,
            hint="Check quoting and the number of columns on that line",
        ) from None
    except (zipfile.BadZipFile, ValueError, KeyError, OSError) as exc:
        raise InputFileError(
            f"not a readable spreadsheet ({type(exc).__name__})",
            path=path,
            hint="Open it in Excel or LibreOffice and save it again as .xlsx or .csv",
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.map(lambda v: v.strip() if isinstance(v, str) else v)


def require_columns(frame: pd.DataFrame, columns: Sequence[str], path: Path, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputFileError(
            f"{what}: no column {', '.join(repr(c) for c in missing)} "
            f"(columns are: {', '.join(repr(c) for c in frame.columns)})",
            path=path,
            row=1,
            hint="Rename the header cell or choose another column",
        )


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
