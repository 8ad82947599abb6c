"""Plain text and Markdown: encodings, and YAML front matter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from evalkit.errors import InputFileError
from evalkit.ingest.base import Extracted, require_text
from evalkit.util.text import decode, normalise_newlines, yaml_error_location
from evalkit.util.yamlsafe import load_yaml

__all__ = ["decode", "read_text", "split_front_matter", "yaml_error_location"]


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
        # The opening '---' is line 1, so the header's first line is line 2.
        meta = load_yaml(header, path=path, error=InputFileError, first_line=2) or {}
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


def read_text(path: Path) -> list[Extracted]:
    text, warnings = decode(path.read_bytes(), path)
    text = normalise_newlines(text).lstrip("\ufeff")
    meta, body = split_front_matter(text, path)
    return [Extracted(text=require_text(body, path), meta=meta, warnings=warnings)]
