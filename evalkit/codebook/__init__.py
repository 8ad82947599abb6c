"""Codebooks: read, check, write and compare, in YAML, CSV, XLSX, REFI-QDA and Word.

The YAML format is the one teams write by hand (see ``codebooks/sf_taskforce.yaml``);
the others exchange with spreadsheets, other QDA tools and community reviewers.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Literal

import pandas as pd

from evalkit.codebook.diff import diff_codebooks
from evalkit.codebook.tables import read_table_codebook, write_csv, write_xlsx
from evalkit.codebook.validate import Problem, raise_for_errors
from evalkit.codebook.yamlfile import dump_yaml, parse_yaml, read_yaml
from evalkit.errors import CodebookError
from evalkit.model import Codebook

ExportFormat = Literal["yaml", "csv", "xlsx", "qdc", "docx"]
EXPORT_FORMATS: tuple[str, ...] = ("yaml", "csv", "xlsx", "qdc", "docx")
READABLE = (".yaml", ".yml", ".csv", ".xlsx", ".qdc", ".qde", ".qdpx")


def check_codebook(path: str | Path) -> tuple[Codebook | None, list[Problem]]:
    """Read a codebook file of any supported format and report every problem in it.

    Returns
    -------
    (Codebook or None, list of Problem)
        The codebook is ``None`` when any problem is an error.

    Raises
    ------
    CodebookError
        When the file cannot be parsed at all (bad YAML or XML, missing ``code`` column,
        unsupported extension).
    """
    path = Path(path)
    if not path.is_file():
        raise CodebookError("file not found", path=path, hint="Check the path")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return read_yaml(path)
    if suffix in (".csv", ".xlsx"):
        return read_table_codebook(path)
    if suffix in (".qdc", ".qde", ".qdpx"):
        from evalkit.codebook.refi import read_refi_codebook

        return read_refi_codebook(path)
    raise CodebookError(
        f"unsupported codebook format '{suffix}'",
        path=path,
        hint=f"Use one of {', '.join(READABLE)}",
    )


def load_codebook(path: str | Path) -> Codebook:
    """Read a codebook of any supported format.

    Raises
    ------
    CodebookError
        One error that lists every problem found, each with its line or row.
    """
    codebook, problems = check_codebook(path)
    raise_for_errors(problems, path)
    assert codebook is not None
    return codebook


def export_codebook(codebook: Codebook, fmt: ExportFormat) -> bytes:
    """The codebook in one of ``EXPORT_FORMATS``, as bytes ready to write."""
    if fmt == "yaml":
        return dump_yaml(codebook).encode("utf-8")
    if fmt == "qdc":
        from evalkit.codebook.refi import codebook_to_qdc

        return codebook_to_qdc(codebook)
    stream = io.BytesIO()
    if fmt == "csv":
        write_csv(codebook, stream)
    elif fmt == "xlsx":
        write_xlsx(codebook, stream)
    elif fmt == "docx":
        from evalkit.codebook.word import codebook_document

        codebook_document(codebook).save(stream)
    else:
        raise CodebookError(
            f"unknown export format '{fmt}'", hint=f"Use one of {', '.join(EXPORT_FORMATS)}"
        )
    return stream.getvalue()


def codebook_tree(codebook: Codebook) -> pd.DataFrame:
    """The hierarchy in reading order.

    Columns: ``code, parent, depth, brief, tension, keywords, patterns, domains``.
    """
    in_domains: dict[str, list[str]] = {}
    for domain, members in codebook.domains.items():
        for member in members:
            in_domains.setdefault(member, []).append(domain)
    rows = []

    def walk(parent: str | None, depth: int) -> None:
        for code in codebook.children(parent):
            rows.append(
                {
                    "code": code.name,
                    "parent": code.parent,
                    "depth": depth,
                    "brief": code.brief,
                    "tension": code.tension,
                    "keywords": len(code.keywords),
                    "patterns": len(code.patterns),
                    "domains": "; ".join(in_domains.get(code.name, [])),
                }
            )
            walk(code.name, depth + 1)

    walk(None, 0)
    return pd.DataFrame(
        rows,
        columns=["code", "parent", "depth", "brief", "tension", "keywords", "patterns", "domains"],
    )


def content_hash(codebook: Codebook) -> str:
    """A hash of the codebook's content (its canonical YAML), to tell versions apart."""
    return hashlib.sha256(dump_yaml(codebook).encode("utf-8")).hexdigest()


__all__ = [
    "EXPORT_FORMATS",
    "Problem",
    "check_codebook",
    "codebook_tree",
    "content_hash",
    "diff_codebooks",
    "dump_yaml",
    "export_codebook",
    "load_codebook",
    "parse_yaml",
    "project_codebook",
    "require_codebook",
]


def project_codebook(store) -> Codebook | None:
    """The project's current codebook, or ``None`` if none has been loaded.

    ``store`` is anything with ``current_codebook_row()`` (a :class:`~evalkit.store.Store`);
    this only reads and parses, so stages that are handed a store may call it.
    """
    row = store.current_codebook_row()
    if row is None:
        return None
    codebook, problems = parse_yaml(row["yaml"], f"project codebook {row['id']}")
    raise_for_errors(problems, "project codebook")
    return codebook


def require_codebook(store, *, purpose: str = "") -> Codebook:
    """:func:`project_codebook`, or a CodebookError that says how to load one.

    ``purpose`` finishes the message: "the project has no codebook, so there is nothing to
    suggest".
    """
    codebook = project_codebook(store)
    if codebook is None:
        raise CodebookError(
            "the project has no codebook" + (f", so {purpose}" if purpose else ""),
            path=str(store.folder),
            hint=f"Load one first: 'evalkit codebook load FILE --project {store.folder}'",
        )
    return codebook
