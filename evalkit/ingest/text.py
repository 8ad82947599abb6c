"""Plain text and Markdown: encodings, and YAML front matter."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import yaml

from evalkit.errors import InputFileError
from evalkit.ingest.base import Extracted, normalise_newlines, require_text


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


def split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str]:
    """Separate a ``---`` YAML header from the body; the body is what gets coded."""
    if not text.startswith("---\n"):
        return {}, text
    closing = -1
    position = 4
    for line in text[4:].split("\n"):
        if line.strip() in ("---", "..."):
            closing = position
            break
        position += len(line) + 1
    if closing < 0:
        raise InputFileError(
            "front matter starts with '---' on line 1 but is never closed",
            path=path,
            line=1,
            hint="Add a line with '---' after the header fields",
        )
    header = text[4:closing]
    body_start = text.find("\n", closing)
    body = text[body_start + 1 :] if body_start >= 0 else ""
    try:
        meta = yaml.safe_load(header) or {}
    except yaml.YAMLError as exc:
        line, problem = yaml_error_location(exc)
        raise InputFileError(
            f"front matter is not valid YAML ({problem})",
            path=path,
            line=line + 1 if line is not None else None,  # the opening '---' is line 1
            hint="Fix the header, e.g. 'date: 2024-01-17' with one field per line",
        ) from None
    if not isinstance(meta, dict):
        raise InputFileError(
            "front matter must be 'field: value' lines",
            path=path,
            line=2,
            hint="Write one 'field: value' per line between the '---' lines",
        )
    return meta, body.lstrip("\n")


def yaml_error_location(exc: yaml.YAMLError) -> tuple[int | None, str]:
    """The 1-based line and the short description of a YAML parse error."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return (mark.line + 1 if mark is not None else None), problem


def read_text(path: Path) -> list[Extracted]:
    text, warnings = decode(path.read_bytes(), path)
    text = normalise_newlines(text).lstrip("\ufeff")
    meta, body = split_front_matter(text, path)
    return [Extracted(text=require_text(body, path), meta=meta, warnings=warnings)]
