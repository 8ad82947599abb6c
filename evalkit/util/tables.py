"""The shared table loader: CSV and XLSX as DataFrames of strings.

Row numbers in messages count the way a spreadsheet shows them: the header is row 1, so
the first data row is row 2.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from evalkit.errors import InputFileError
from evalkit.util.archive import check_zip
from evalkit.util.text import decode, normalise_newlines

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
            check_zip(path, error=InputFileError, kind="spreadsheet")
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
