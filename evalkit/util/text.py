"""Text helpers every layer needs: decoding, newlines, IDs from names, the content hash."""

from __future__ import annotations

import codecs
import hashlib
import re
from pathlib import Path

import yaml

from evalkit.errors import InputFileError

# The largest file a reader takes. Real transcripts, reports and survey exports are a few
# MB; a file far beyond this is a mistake or an attack, and would be held in memory whole.
MAX_FILE_BYTES = 200_000_000


def check_file_size(path: Path, error: type) -> None:
    """Refuse a file larger than :data:`MAX_FILE_BYTES` before reading any of it."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise error(
            f"the file is {size:,} bytes; the limit MAX_FILE_BYTES is {MAX_FILE_BYTES:,}",
            path=path,
            hint="Split it into smaller files, or export only the text",
        )

def normalise_newlines(text: str) -> str:
    # Offsets are defined on LF-only text, so that a file saved on Windows and the same file
    # saved on a Mac give the same excerpts and the same IDs.
    return text.replace("\r\n", "\n").replace("\r", "\n")


# C0 and C1 control characters other than tab and newline carry no text, and Excel, XML
# and terminals refuse or act on them. Each becomes one character, so offsets stay valid:
# a vertical tab or form feed (Word's manual line and page breaks) a newline, the rest a
# space.
_CONTROLS = {
    c: ("\n" if c in (0x0B, 0x0C) else " ")
    for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, *range(0x80, 0xA0))
}


def replace_controls(text: str) -> str:
    r"""``text`` with each control character replaced by one newline or space.

    >>> replace_controls("We met\x0bat the\x01drop-in\x1b[31m")
    'We met\nat the drop-in [31m'
    """
    return text.translate(_CONTROLS)


def content_hash(text: str) -> str:
    """The SHA-256 of ``text`` as UTF-8: how a source's text is recognised again.

    >>> content_hash("")[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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


def decode(data: bytes, path: Path) -> tuple[str, list[str]]:
    """Decode bytes as UTF-8 (BOM or not), UTF-16 (BOM or not), or cp1252 with a warning."""
    if data.startswith(codecs.BOM_UTF8):
        encodings = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ["utf-16"]
    elif _looks_like_bomless_utf16(data):
        encodings = ["utf-16-le" if data[1:2] == b"\x00" else "utf-16-be"]
    else:
        encodings = ["utf-8", "cp1252"]
    error: UnicodeDecodeError | None = None
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            error = error or exc
            continue
        warnings = []
        if encoding == "cp1252":
            warnings.append(
                f"{path}: not valid UTF-8; read as Windows-1252 (cp1252). "
                "Check accented letters and quotes, or re-save the file as UTF-8"
            )
        if "\x00" in text:
            raise InputFileError(
                "the file contains NUL bytes, so it is binary, not text",
                path=path,
                hint="Export it as plain text (UTF-8) or use the matching reader's extension",
            )
        return text, warnings
    assert error is not None
    raise InputFileError(
        f"undecodable bytes at byte {error.start} (not {', '.join(encodings)})",
        path=path,
        hint="Re-save the file as UTF-8 text",
    )


def _looks_like_bomless_utf16(data: bytes) -> bool:
    sample = data[:2000]
    if len(sample) < 4:
        return False
    # ASCII-heavy UTF-16 has a NUL in every other byte; real UTF-8 text has none.
    return (
        sample[1::2].count(0) > 0.4 * len(sample) / 2
        or sample[0::2].count(0) > 0.4 * len(sample) / 2
    )


def yaml_error_location(exc: yaml.YAMLError) -> tuple[int | None, str]:
    """The 1-based line and the short description of a YAML parse error."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return (mark.line + 1 if mark is not None else None), problem

