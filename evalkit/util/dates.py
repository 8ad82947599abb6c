"""Dates and timestamps as the readers and the codebook formats find them."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

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
