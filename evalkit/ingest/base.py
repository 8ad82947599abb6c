"""What every reader returns, and the helpers readers share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import InputFileError
from evalkit.model import Unit
from evalkit.util.dates import iso_date, timestamp_seconds
from evalkit.util.text import normalise_newlines, slug, unique

__all__ = [
    "Extracted",
    "iso_date",
    "normalise_newlines",
    "require_text",
    "slug",
    "timestamp_seconds",
    "unique",
]


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


def require_text(text: str, path: Path) -> str:
    if not text.strip():
        raise InputFileError(
            "the file has no text",
            path=path,
            hint="Check that it is the right file and that it was saved with its content",
        )
    return text
