"""The shared table loader: CSV and XLSX as DataFrames of strings.

Row numbers in messages count the way a spreadsheet shows them: the header is row 1, so
the first data row is row 2.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from evalkit.errors import InputFileError
from evalkit.util.archive import DAMAGED_FILE_ERRORS, check_zip
from evalkit.util.sheets import restore
from evalkit.util.text import check_file_size, decode, normalise_newlines

TABLE_SUFFIXES = (".csv", ".xlsx")


def spreadsheet_row(index: int) -> int:
    """The row number a spreadsheet shows for DataFrame row ``index`` (header is row 1)."""
    return index + 2


def load_table(path: str | Path) -> pd.DataFrame:
    """Read a .csv or .xlsx into a DataFrame of strings, blanks as ``""``.

    In a CSV, a cell (or header) that :func:`evalkit.util.sheets.neutralise` prefixed with
    ``'`` loses that one ``'`` again, so a table evalkit wrote reads back as it was (and,
    as always, with values stripped).

    Raises
    ------
    InputFileError
        If the file is missing, empty, corrupt or undecodable.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError("file not found", path=path, hint="Check the path")
    check_file_size(path, InputFileError)
    suffix = path.suffix.lower()
    try:
        if suffix == ".xlsx":
            check_zip(path, error=InputFileError, kind="spreadsheet")
            frame = pd.read_excel(path, dtype=str, engine="openpyxl", header=None).fillna("")
        elif suffix == ".csv":
            text, _ = decode(path.read_bytes(), path)
            frame = pd.read_csv(
                io.StringIO(normalise_newlines(text).lstrip("\ufeff")),
                dtype=str,
                header=None,
                keep_default_na=False,
                skipinitialspace=True,
            )
            # Undo the "'" evalkit's CSV writer puts before formula-like text.
            frame = frame.map(restore)
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
    except DAMAGED_FILE_ERRORS as exc:
        raise InputFileError(
            f"not a readable spreadsheet ({type(exc).__name__})",
            path=path,
            hint="Open it in Excel or LibreOffice and save it again as .xlsx or .csv",
        ) from None
    if frame.empty:
        raise InputFileError("the table is empty", path=path, hint="Add a header row")
    frame = _with_header(frame, path)
    return frame.map(lambda v: v.strip() if isinstance(v, str) else v)


def column_letter(index: int) -> str:
    """The spreadsheet letter of 0-based column ``index``: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _with_header(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The first row as column names; two columns with one name are an error, because
    one of them would silently shadow the other."""
    names = [str(c).strip() for c in frame.iloc[0]]
    names = [n or f"Unnamed: {i}" for i, n in enumerate(names)]
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in first:
            j = first[name]
            raise InputFileError(
                f"columns {column_letter(j)} and {column_letter(i)} are both named '{name}'",
                path=path,
                row=1,
                hint="Rename one of them, or delete the copy, so each column has its own name",
            )
        first[name] = i
    body = frame.iloc[1:].reset_index(drop=True)
    body.columns = names
    return body


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
