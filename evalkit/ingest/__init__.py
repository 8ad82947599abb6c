"""The readers: files in, :class:`~evalkit.ingest.base.Extracted` values out. One reader
per format.

This package is pure: it reads files and returns values. Putting what it read into a
project (de-identified, segmented, stored) is :func:`evalkit.project.ingest`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from evalkit.errors import InputFileError
from evalkit.ingest.base import Extracted
from evalkit.ingest.captions import read_captions
from evalkit.ingest.pdf import read_pdf
from evalkit.ingest.rtf import read_rtf
from evalkit.ingest.tabular import TABLE_SUFFIXES, read_responses
from evalkit.ingest.text import read_text
from evalkit.ingest.word import read_docx
from evalkit.util.text import check_file_size

READERS: dict[str, Callable[[Path], list[Extracted]]] = {
    ".txt": read_text,
    ".md": read_text,
    ".docx": read_docx,
    ".pdf": read_pdf,
    ".vtt": read_captions,
    ".srt": read_captions,
    ".rtf": read_rtf,
}
SUPPORTED = tuple(READERS) + TABLE_SUFFIXES


def collect_files(
    paths: Iterable[str | Path], *, tables: bool = False
) -> tuple[list[Path], list[str]]:
    """Expand folders (recursively, sorted) into files; return ``(files, skipped)``.

    A file named on the command line must have a supported extension. Inside folders,
    hidden files and unsupported formats are skipped with a notice, and spreadsheets are
    taken only when ``tables`` is true (they could as well be attribute tables).
    """
    files: list[Path] = []
    skipped: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in _walk(path):
                suffix = child.suffix.lower()
                if suffix in READERS or (tables and suffix in TABLE_SUFFIXES):
                    files.append(child)
                else:
                    skipped.append(str(child))
        elif path.is_file():
            _check_supported(path, tables)
            files.append(path)
        else:
            raise InputFileError("no such file or folder", path=path, hint="Check the path")
    for file in files:
        check_file_size(file, InputFileError)
    if not files:
        raise InputFileError(
            "no files to ingest",
            path=", ".join(str(p) for p in paths) or None,
            hint=f"Supported formats: {', '.join(SUPPORTED)}",
        )
    return files, skipped


def _walk(folder: Path) -> list[Path]:
    """The files under ``folder``, sorted, leaving out hidden and Office lock files.

    A symbolic link that points inside ``folder`` is skipped, since its target is read
    anyway; a link out of it, to ``/etc/passwd`` say, is refused, because whoever made the
    folder did not mean its target to be ingested.
    """
    root = folder.resolve()
    files: list[Path] = []
    for here, dirs, names in os.walk(folder):
        base = Path(here)
        dirs[:] = [d for d in dirs if not d.startswith((".", "~$"))]
        names = [n for n in names if not n.startswith((".", "~$"))]
        for name in dirs + names:
            entry = base / name
            if entry.is_symlink() and not entry.resolve().is_relative_to(root):
                raise InputFileError(
                    f"'{entry.relative_to(folder)}' is a link to {entry.resolve()},"
                    " outside the folder",
                    path=entry,
                    hint="Copy the file into the folder if it belongs there, or remove the link",
                )
        dirs[:] = [d for d in dirs if not (base / d).is_symlink()]
        files += [base / n for n in names if not (base / n).is_symlink() and (base / n).is_file()]
    return sorted(files)


def _check_supported(path: Path, tables: bool) -> None:
    suffix = path.suffix.lower()
    if suffix in READERS:
        return
    if suffix in TABLE_SUFFIXES:
        if tables:
            return
        raise InputFileError(
            "a spreadsheet of responses needs --text-column (and --id-column)",
            path=path,
            hint="Name the column(s) that hold the answers; to attach attributes use --attributes",
        )
    raise InputFileError(
        f"unsupported file type '{suffix or '(none)'}'",
        path=path,
        hint=f"Convert it to one of {', '.join(SUPPORTED)}",
    )


def read_file(
    path: str | Path,
    *,
    id_column: str = "id",
    text_columns: Sequence[str] = (),
    attribute_columns: Sequence[str] | None = None,
) -> list[Extracted]:
    """Read one file with the reader for its extension."""
    path = Path(path)
    _check_supported(path, bool(text_columns))
    if path.stat().st_size == 0:
        raise InputFileError("the file is empty", path=path, hint="Check that it was saved fully")
    suffix = path.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return read_responses(
            path,
            id_column=id_column,
            text_columns=text_columns,
            attribute_columns=attribute_columns,
        )
    return READERS[suffix](path)
