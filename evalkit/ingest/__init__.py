"""Ingestion: files in, sources and excerpts out. One reader per format.

Every file is read and checked before anything is written, and all writes happen in one
transaction, so a bad file leaves the project exactly as it was.
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.deid import (
    Replacement,
    Roster,
    candidates_for,
    default_key_path,
    deidentify_extracted,
    key_rows,
    load_roster,
    write_key,
)
from evalkit.errors import InputFileError
from evalkit.ingest.attributes import load_attributes, match_attributes
from evalkit.ingest.base import Extracted, iso_date, slug, unique
from evalkit.ingest.captions import read_captions
from evalkit.ingest.pdf import read_pdf
from evalkit.ingest.rtf import read_rtf
from evalkit.ingest.tabular import TABLE_SUFFIXES, read_responses
from evalkit.ingest.text import read_text
from evalkit.ingest.word import read_docx
from evalkit.model import KINDS, Source
from evalkit.segment import DEFAULT_MAX_CHARS, segment_many
from evalkit.store import Store

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


@dataclass
class IngestReport:
    """What an ingest did. ``unchanged`` pairs a file with the source that already holds it."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    excerpts: int = 0
    words: int = 0
    deid: dict[str, dict[str, int]] = field(default_factory=dict)
    candidates: list[dict] = field(default_factory=list)
    key_path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "deid": self.deid,
            "candidates": self.candidates,
            "key_file": str(self.key_path) if self.key_path else None,
            "added": self.added,
            "updated": self.updated,
            "unchanged": [{"file": f, "source_id": s} for f, s in self.unchanged],
            "skipped": self.skipped,
            "warnings": self.warnings,
            "excerpts": self.excerpts,
            "words": self.words,
        }


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
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                relative = child.relative_to(path)
                if any(part.startswith((".", "~$")) for part in relative.parts):
                    continue
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
    if not files:
        raise InputFileError(
            "no files to ingest",
            path=", ".join(str(p) for p in paths) or None,
            hint=f"Supported formats: {', '.join(SUPPORTED)}",
        )
    return files, skipped


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


def ingest(
    store: Store,
    paths: Iterable[str | Path],
    *,
    kind: str,
    attributes: str | Path | None = None,
    id_column: str = "id",
    text_columns: Sequence[str] = (),
    max_chars: int = DEFAULT_MAX_CHARS,
    roster: Roster | str | Path | None = None,
    deidentify: bool = True,
    key_path: str | Path | None = None,
    actor: str | None = None,
    progress: bool = False,
) -> IngestReport:
    """Ingest files (and folders of files) into a project as one kind of source.

    Parameters
    ----------
    store
        The open project.
    paths
        Files and folders; folders are walked recursively.
    kind
        ``"interview"``, ``"observation"`` or ``"document"``.
    attributes
        A CSV/XLSX keyed by file name or source ID whose other columns become attributes.
    id_column, text_columns
        For spreadsheets of open-ended responses: the respondent ID column and the answer
        columns. Each row becomes one source.
    max_chars
        Longest excerpt before it is cut at sentence boundaries.
    roster
        A :class:`~evalkit.deid.Roster` or the path of a roster CSV/XLSX: names on it are
        replaced by their pseudonyms.
    deidentify
        Replace names and contact details before anything is stored (the default). Turn it
        off only for public documents.
    key_path
        Where the key file (what was replaced, real names included) goes; by default
        outside the project folder, see :func:`evalkit.deid.default_key_path`.
    actor
        Who is ingesting (for the audit log); defaults to ``$EVALKIT_USER`` or the login.
    progress
        Show a progress bar (the CLI turns this on when stderr is a terminal).

    Returns
    -------
    IngestReport

    Raises
    ------
    EvalkitError
        For any file that cannot be read or any attribute row that fits no file. Nothing
        is written in that case.
    """
    from tqdm import tqdm

    if kind not in KINDS:
        raise InputFileError(
            f"kind must be one of {', '.join(KINDS)}; got '{kind}'",
            hint="Pass --kind interview, --kind observation or --kind document",
        )
    files, skipped = collect_files(paths, tables=bool(text_columns))
    report = IngestReport(skipped=skipped)

    if isinstance(roster, str | Path):
        roster = load_roster(roster)
    extracted: list[tuple[Path, Extracted]] = []
    replaced: dict[str, list[Replacement]] = {}
    for path in tqdm(files, desc="reading", unit="file", disable=not progress, file=sys.stderr):
        for item in read_file(path, id_column=id_column, text_columns=text_columns):
            if deidentify:
                item, replaced[_name(path, item)] = deidentify_extracted(item, roster)
            extracted.append((path, item))
            report.warnings.extend(item.warnings)

    names = {_name(path, item): _keys(path, item) for path, item in extracted}
    extra: dict[str, dict[str, Any]] = {}
    if attributes is not None:
        rows = load_attributes(attributes)
        known = store.source_ids() | store.source_names()
        extra = match_attributes(rows, names, known, attributes)

    taken = store.source_ids()
    pending: list[Source] = []
    hashes: dict[str, str] = {}
    for path, item in extracted:
        name = _name(path, item)
        digest = hashlib.sha256(item.text.encode("utf-8")).hexdigest()
        attrs = _attributes(kind, path, item, extra.get(name, {}), report)
        if digest in hashes:
            report.unchanged.append((name, hashes[digest]))
            continue
        source_id = store.source_id_for_hash(digest)
        if source_id is not None:
            current = store.source(source_id)
            if current is not None and current.attributes == attrs:
                report.unchanged.append((name, source_id))
                continue
            # Same text, new attributes: update the existing source rather than duplicate it.
            name = current.name if current is not None else name
        else:
            source_id = store.source_id_for_name(name) or _new_id(path, item, taken)
        taken.add(source_id)
        hashes[digest] = source_id
        pending.append(
            Source(
                id=source_id,
                name=name,
                kind=kind,
                text=item.text,
                content_hash=digest,
                attributes=attrs,
                units=tuple(item.units) if item.units is not None else None,
            )
        )

    if deidentify:
        kept = {s.name: s.id for s in pending}
        for name, items in replaced.items():
            if name in kept:
                report.deid[kept[name]] = dict(Counter(r.type for r in items))
        report.candidates = candidates_for(pending, roster=roster).to_dict(orient="records")
    cut = segment_many(pending, max_chars=max_chars)
    with store.transaction(actor=actor, command="ingest"):
        for source in pending:
            status = store.put_source(source, cut[source.id])
            (report.added if status == "added" else report.updated).append(source.id)
            report.excerpts += len(cut[source.id])
            report.words += source.words
        if pending:
            store.log(
                "ingest",
                "project",
                None,
                {
                    "kind": kind,
                    "added": report.added,
                    "updated": report.updated,
                    "deidentified": deidentify,
                    "roster": len(roster.entries) if roster is not None else 0,
                    "replaced": report.deid,
                },
            )
    rows = [row for source in pending for row in key_rows(source.id, replaced.get(source.name, ()))]
    if rows:
        report.key_path = write_key(
            key_path or default_key_path(store.project_id),
            rows,
            replace_sources=[s.id for s in pending],
        )
    return report


def _name(path: Path, item: Extracted) -> str:
    return f"{path.name}#{item.key}" if item.key is not None else path.name


def _keys(path: Path, item: Extracted) -> list[str]:
    if item.key is not None:
        return [f"{path.name}#{item.key}", item.key, slug(f"{path.stem}-{item.key}")]
    return [path.name, path.stem, slug(path.stem)]


def _new_id(path: Path, item: Extracted, taken: set[str]) -> str:
    return unique(slug(path.stem if item.key is None else f"{path.stem}-{item.key}"), taken)


def _attributes(
    kind: str, path: Path, item: Extracted, extra: dict[str, Any], report: IngestReport
) -> dict[str, Any]:
    """Merge what the file says about itself with the attributes table (the table wins)."""
    meta = dict(item.meta)
    property_date = meta.pop("property_date", None)
    attrs = _flatten(meta)
    attrs.update(extra)
    date = iso_date(attrs.get("date")) or iso_date(path.stem) or property_date
    if date:
        attrs["date"] = date
    elif kind in ("observation", "document"):
        report.warnings.append(
            f"{path}: no date found in front matter, file name or document properties; "
            "add a 'date' column to the attributes table"
        )
    return attrs


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            flat[name] = "; ".join(str(v) for v in value)
        elif value is None or isinstance(value, str | int | float | bool):
            flat[name] = value
        else:
            flat[name] = iso_date(value) or str(value)
    return flat
