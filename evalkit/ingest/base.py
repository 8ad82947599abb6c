"""What every reader returns, and the helpers readers share."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import InputFileError
from evalkit.model import Unit


@dataclass
class Extracted:
    """Text pulled out of one file (or one spreadsheet row) before it becomes a Source.

    ``text`` has ``\\n`` line endings only; unit offsets point into it. ``key`` tells rows of
    one spreadsheet apart and is ``None`` for ordinary files.
    """

    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    units: list[Unit] | None = None
    warnings: list[str] = field(default_factory=list)
    key: str | None = None


def normalise_newlines(text: str) -> str:
    # Offsets are defined on LF-only text, so that a file saved on Windows and the same file
    # saved on a Mac give the same excerpts and the same IDs.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def require_text(text: str, path: Path) -> str:
    if not text.strip():
        raise InputFileError(
            "the file has no text",
            path=path,
            hint="Check that it is the right file and that it was saved with its content",
        )
    return text


_FULL_DATE = re.compile(
    r"(?<!\d)((?:19|20)\d{2})[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])(?!\d)"
)
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")


def iso_date(value: Any) -> str | None:
    """Normalise a date-like value to ``YYYY-MM-DD`` (or ``YYYY`` when only a year is known).

    Examples
    --------
    >>> iso_date("2019-12-12_bulletin")
    '2019-12-12'
    >>> iso_date("annual_report_2014")
    '2014'
    >>> iso_date(dt.date(2024, 1, 17))
    '2024-01-17'
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    match = _FULL_DATE.search(text)
    if match:
        try:
            return dt.date(*map(int, match.groups())).isoformat()
        except ValueError:
            return None
    match = _YEAR.search(text)
    return match.group(1) if match else None


def timestamp_seconds(stamp: str) -> float:
    """Seconds in a caption or transcript timestamp.

    Examples
    --------
    >>> timestamp_seconds("00:01:23.500"), timestamp_seconds("00:00:05,250")
    (83.5, 5.25)
    """
    value = 0.0
    for part in stamp.replace(",", ".").split(":"):
        value = value * 60 + float(part)
    return round(value, 3)


def slug(text: str) -> str:
    """A source ID from a file name: letters, digits and ``_.-`` only.

    >>> slug("P07 interview (final).txt")
    'P07_interview_final_.txt'
    """
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.-") or "source"


def unique(base: str, taken: set[str]) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever is not taken yet."""
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate
