"""Rich Text Format, converted to plain text with striprtf."""

from __future__ import annotations

from pathlib import Path

from evalkit.errors import InputFileError
from evalkit.ingest.base import Extracted, normalise_newlines, require_text


def read_rtf(path: Path) -> list[Extracted]:
    from striprtf.striprtf import rtf_to_text

    # RTF is 7-bit ASCII by definition; non-ASCII arrives as \'xx or \uN escapes.
    raw = path.read_bytes().decode("latin-1")
    if not raw.lstrip().startswith("{\\rtf"):
        raise InputFileError(
            "not an RTF file (it does not start with '{\\rtf')",
            path=path,
            hint="Check the file extension, or re-save the document as RTF",
        )
    try:
        text = rtf_to_text(raw, errors="replace")
    except Exception as exc:  # striprtf raises bare exceptions on broken groups
        raise InputFileError(
            f"RTF could not be parsed ({type(exc).__name__})",
            path=path,
            hint="Open it in a word processor and re-save it as RTF or .docx",
        ) from None
    text = "\n".join(line.rstrip() for line in normalise_newlines(text).split("\n")).strip()
    return [Extracted(text=require_text(text, path))]
