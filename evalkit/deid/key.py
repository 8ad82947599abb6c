"""The key file: what was replaced, real names included. It lives outside the project."""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from evalkit.deid.detect import Replacement
from evalkit.fileio import atomic_write
from evalkit.util.sheets import restore, write_csv

KEY_COLUMNS = ("source_id", "type", "original", "replacement", "count")


def default_key_path(project_id: str) -> Path:
    """``$EVALKIT_KEY_DIR/<project id>.deid-key.csv``, else under ``~/.evalkit/keys``."""
    folder = Path(os.environ.get("EVALKIT_KEY_DIR") or Path.home() / ".evalkit" / "keys")
    return folder / f"{project_id}.deid-key.csv"


def key_rows(source_id: str, replacements: Iterable[Replacement]) -> list[dict]:
    counts = Counter((r.type, r.original, r.token) for r in replacements)
    return [
        {"source_id": source_id, "type": t, "original": o, "replacement": k, "count": n}
        for (t, o, k), n in sorted(counts.items())
    ]


def write_key(path: str | Path, rows: list[dict]) -> Path:
    """Merge ``rows`` into the key file at ``path``, readable by its owner only.

    A row already in the key (same source, type, original and replacement) takes the new
    count; no row is ever dropped, so a key written for a change that then failed to land
    still holds every row the project needs.
    """
    path = Path(path)
    merged: dict[tuple, dict] = {}
    for row in [*read_key(path), *rows]:
        merged[_row_key(row)] = row
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with atomic_write(path, "w") as stream:
        os.chmod(stream.fileno(), 0o600)
        # A program reads the key back (csv.DictReader, utf-8): no byte-order mark.
        write_csv(sorted(merged.values(), key=_row_key), stream, columns=KEY_COLUMNS, bom=False)
    return path


def read_key(path: str | Path) -> list[dict]:
    """The rows of a key file (empty when there is none), without the ``'`` the writer
    puts before a value that a spreadsheet could read as a formula (``@handle``)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as stream:
        return [{k: restore(v) for k, v in row.items()} for row in csv.DictReader(stream)]


def _row_key(row: dict) -> tuple:
    return (str(row["source_id"]), row["type"], str(row["original"]), row["replacement"])
