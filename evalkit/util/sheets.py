"""The one writer for every spreadsheet evalkit writes (.csv and .xlsx), formula-safe.

Participants' words end up in cells, and a spreadsheet program reads a cell that starts
with ``=``, ``+``, ``-`` or ``@`` as a formula: ``=HYPERLINK("http://…"&A1, …)`` in an
excerpt becomes a live link that can send the sheet's contents away, and innocent minutes
(``- item``) become ``#NAME?``. This module follows OWASP's CSV-injection guidance
(https://owasp.org/www-community/attacks/CSV_Injection):

- The triggers are :data:`FORMULA_TRIGGERS`: ``=`` ``+`` ``-`` ``@``, tab, carriage return,
  and the full-width ``＝`` ``＋`` ``－`` ``＠`` that Excel also starts formulas with.
- Text counts as a formula when its first character is a trigger, or when it starts with
  whitespace (any Unicode space or line break) and its first other character is one: an
  importer that trims leading spaces, as LibreOffice's CSV import can, turns `` =1+1`` into
  ``=1+1`` before it looks. Prefixing text that never needed it costs nothing; a trimmed
  formula that runs does.
- CSV: such text gets a leading ``'`` (:func:`neutralise`), which spreadsheet programs take
  as "this is text". Text that already starts with ``'`` gets one too, so that
  :func:`restore` (used by :func:`evalkit.util.tables.load_table`) can take exactly one
  ``'`` off again and a round trip gives back the original string. Numbers (a negative
  kappa) are written as numbers. A carriage return inside text is written as a newline, the
  way evalkit's reader reads it anyway, so that every reader sees a quoted line break.
- XLSX: text is stored unchanged (the CAB packet compares excerpt text on re-import) but
  always as a string cell, never a formula (``data_type 'f'``) nor an error value
  (``#N/A``), and text that counts as a formula carries the ``quotePrefix`` style so Excel
  and LibreOffice keep it as text when someone edits the cell.

No module outside this one calls ``to_csv``, ``to_excel``, ``ExcelWriter``, ``Workbook()``
or the ``csv`` writers (tests/test_exports_safe.py checks), so a new export cannot skip it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import pandas as pd

from evalkit.fileio import atomic_write
from evalkit.util.text import normalise_newlines

FORMULA_TRIGGERS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
"""First characters a spreadsheet program may read as the start of a formula."""
TEXT_PREFIX = "'"
"""What a CSV cell that could be read as a formula is prefixed with."""
LINE_END = "\n"


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet program could read ``text`` as a formula.

    Examples
    --------
    >>> looks_like_formula("=1+1"), looks_like_formula("  @SUM(1)"), looks_like_formula("a-b")
    (True, True, False)
    """
    return text[:1] in FORMULA_TRIGGERS or text.lstrip()[:1] in FORMULA_TRIGGERS


def neutralise(value: Any) -> Any:
    """``value`` as a CSV cell: text that could be read as a formula, or that starts with
    ``'``, gets a leading ``'``; anything else (numbers too) is returned as it is.

    Examples
    --------
    >>> neutralise("=HYPERLINK(A1)"), neutralise("- item"), neutralise("'quoted"), neutralise(-0.2)
    ("'=HYPERLINK(A1)", "'- item", "''quoted", -0.2)
    """
    if isinstance(value, str) and (looks_like_formula(value) or value.startswith(TEXT_PREFIX)):
        return TEXT_PREFIX + value
    return value


def restore(value: Any) -> Any:
    """Undo :func:`neutralise`: take one leading ``'`` off when what follows it is text
    :func:`neutralise` would have prefixed.

    Examples
    --------
    >>> restore("'=1+1"), restore("''quoted"), restore("'tis")
    ('=1+1', "'quoted", "'tis")
    """
    if isinstance(value, str) and value.startswith(TEXT_PREFIX):
        rest = value[len(TEXT_PREFIX) :]
        if looks_like_formula(rest) or rest.startswith(TEXT_PREFIX):
            return rest
    return value


# -- CSV -------------------------------------------------------------------------------------


def _frame(data: pd.DataFrame | Iterable, columns: Sequence[str] | None) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data if columns is None else data.loc[:, list(columns)]
    return pd.DataFrame(list(data), columns=list(columns) if columns is not None else None)


def _csv_cell(value: Any) -> Any:
    return neutralise(normalise_newlines(value)) if isinstance(value, str) else value


def csv_text(data: pd.DataFrame | Iterable, *, columns: Sequence[str] | None = None) -> str:
    """``data`` (a DataFrame, or rows as dicts or sequences) as CSV text, header first.

    Text cells and header names go through :func:`neutralise`; numeric and date columns
    are written as pandas writes them. No index column.

    Examples
    --------
    >>> print(csv_text([{"text": "=1+1", "kappa": -0.25}]), end="")
    text,kappa
    '=1+1,-0.25
    """
    frame = _frame(data, columns)
    safe = frame.rename(columns=_csv_cell)
    for position, dtype in enumerate(frame.dtypes):
        if not (
            pd.api.types.is_numeric_dtype(dtype)
            or pd.api.types.is_datetime64_any_dtype(dtype)
            or pd.api.types.is_timedelta64_dtype(dtype)
        ):
            safe.isetitem(position, frame.iloc[:, position].map(_csv_cell))
    return safe.to_csv(index=False, lineterminator=LINE_END)


def write_csv(
    data: pd.DataFrame | Iterable,
    target: str | Path | IO,
    *,
    columns: Sequence[str] | None = None,
    bom: bool = True,
) -> None:
    """Write ``data`` as formula-safe CSV (see :func:`csv_text`) to a path or a stream.

    Parameters
    ----------
    data
        A DataFrame, or rows (dicts or sequences; pass ``columns`` for the header).
    target
        A path (written atomically), a binary stream or a text stream.
    columns
        The columns to write, in order.
    bom
        Start with a UTF-8 byte-order mark, so that Excel opens accents and curly quotes
        correctly (the default); turn it off for files that only programs read.
    """
    text = ("\ufeff" if bom else "") + csv_text(data, columns=columns)
    if isinstance(target, str | Path):
        with atomic_write(target) as stream:
            stream.write(text.encode("utf-8"))
    elif isinstance(target, io.TextIOBase):
        target.write(text)
    else:
        target.write(text.encode("utf-8"))


# -- XLSX ------------------------------------------------------------------------------------


def new_workbook():
    """An openpyxl Workbook with no sheets: add them with :func:`write_frame` or
    ``workbook.create_sheet`` and fill them with :func:`set_cell` / :func:`append_row`."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    return workbook


def _store(cell, value: Any):
    """Put ``value`` in ``cell``: text as a string cell (quote-prefixed when it could be
    read as a formula), numbers and dates as themselves, blanks as an empty cell."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        cell.value = None
        return cell
    if not pd.api.types.is_scalar(value):
        value = str(value)  # what pandas' to_excel did with values Excel has no type for
    if isinstance(value, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        # Characters XML 1.0 cannot hold (text evalkit stores has none; a name or an
        # attribute from an old project might): a replacement character, not a crash.
        cell.value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
        # openpyxl makes text starting with "=" a formula and "#N/A" an error value.
        cell.data_type = "s"
        if looks_like_formula(value):
            cell.quotePrefix = True
    else:
        cell.value = value
    return cell


def set_cell(sheet, row: int, column: int, value: Any):
    """Set one cell of an openpyxl worksheet safely; returns the cell."""
    return _store(sheet.cell(row=row, column=column), value)


def append_row(sheet, values: Iterable[Any]) -> None:
    """``sheet.append(values)``, each value stored as :func:`set_cell` stores it."""
    from openpyxl.cell.cell import Cell

    sheet.append([_store(Cell(sheet), value) for value in values])


def write_frame(workbook, frame: pd.DataFrame, title: str):
    """Add a sheet named ``title`` holding ``frame`` (header row, no index) to
    ``workbook``; returns the sheet, for the caller to style."""
    sheet = workbook.create_sheet(title)
    append_row(sheet, frame.columns)
    for row in frame.itertuples(index=False, name=None):
        append_row(sheet, row)
    return sheet


def style_table(sheet, *, freeze: str, widths: dict[str, float] | Sequence[float]) -> None:
    """The look every evalkit table sheet has: a bold header row, text wrapped at the top
    of its cell, panes frozen at ``freeze``, and column widths (by letter, or in order)."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    sheet.freeze_panes = freeze
    if not isinstance(widths, dict):
        widths = {get_column_letter(i): w for i, w in enumerate(widths, start=1)}
    for column, width in widths.items():
        sheet.column_dimensions[column].width = width
    wrap = Alignment(wrap_text=True, vertical="top")
    for row in sheet.iter_rows():
        for cell in row:
            cell.alignment = wrap
    for cell in sheet[1]:
        cell.font = Font(bold=True)


def save_workbook(workbook, target: str | Path | IO[bytes]) -> None:
    """Save ``workbook`` to a path (atomically) or a binary stream."""
    if isinstance(target, str | Path):
        with atomic_write(target) as stream:
            workbook.save(stream)
    else:
        workbook.save(target)
