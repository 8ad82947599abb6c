"""The ground floor: helpers every layer may import, which import nothing of evalkit's
but ``errors`` and ``model``."""

from evalkit.util.dates import iso_date, timestamp_seconds
from evalkit.util.tables import TABLE_SUFFIXES, load_table, require_columns, spreadsheet_row
from evalkit.util.text import content_hash, decode, normalise_newlines, slug, unique

__all__ = [
    "TABLE_SUFFIXES",
    "content_hash",
    "decode",
    "iso_date",
    "load_table",
    "normalise_newlines",
    "require_columns",
    "slug",
    "spreadsheet_row",
    "timestamp_seconds",
    "unique",
]
