"""``evalkit ingest``: files in, de-identified sources and excerpts out.

Every file is read and checked before anything is written, and all writes happen in one
transaction, so a bad file leaves the project exactly as it was.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.deid import Roster
from evalkit.errors import InputFileError
from evalkit.ingest import collect_files, read_file
from evalkit.ingest.attributes import load_attributes, match_attributes
from evalkit.ingest.base import Extracted
from evalkit.model import KINDS
from evalkit.project.admit import Entry, prepare
from evalkit.project.privacy import privacy_for
from evalkit.segment import DEFAULT_MAX_CHARS
from evalkit.util import iso_date, slug


@dataclass(frozen=True)
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
    notes: list[str] = field(default_factory=list)

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
            "notes": self.notes,
            "excerpts": self.excerpts,
            "words": self.words,
        }


def ingest(
    store,
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
        replaced by their pseudonyms. Without one, the roster the project used last.
    deidentify
        Replace names and contact details before anything is stored (the default). Turn it
        off only for public documents.
    key_path
        Where the key file (what was replaced, real names included) goes; by default where
        it went last, else outside the project folder, see
        :func:`evalkit.deid.default_key_path`.
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
    privacy = privacy_for(store, roster=roster, deidentify=deidentify, key_path=key_path)
    files, skipped = collect_files(paths, tables=bool(text_columns))
    extracted: list[tuple[Path, Extracted]] = []
    warnings: list[str] = []
    for path in tqdm(files, desc="reading", unit="file", disable=not progress, file=sys.stderr):
        for item in read_file(path, id_column=id_column, text_columns=text_columns):
            extracted.append((path, item))
            warnings.extend(item.warnings)

    extra: dict[str, dict[str, Any]] = {}
    if attributes is not None:
        rows = load_attributes(attributes)
        known = store.source_ids() | store.source_names()
        names = {_name(path, item): _keys(path, item) for path, item in extracted}
        extra = match_attributes(rows, names, known, attributes)

    entries = []
    for path, item in extracted:
        name = _name(path, item)
        attrs = _attributes(kind, path, item, extra.get(name, {}), warnings)
        entries.append(
            Entry(
                name=name,
                text=item.text,
                kind=kind,
                id_base=path.stem if item.key is None else f"{path.stem}-{item.key}",
                attributes=attrs,
                units=tuple(item.units) if item.units is not None else None,
            )
        )
    admission = prepare(store, entries, privacy, route="ingest")
    cut = admission.segment(max_chars)
    with store.transaction(actor=actor, command="ingest"):
        done = admission.write(store, cut)
    pending = admission.pending
    return IngestReport(
        added=list(done["added"]),
        updated=list(done["updated"]),
        unchanged=list(
            (a.entry.name, a.source.id) for a in admission.items if a.status == "unchanged"
        ),
        skipped=list(skipped),
        warnings=list(warnings),
        excerpts=sum(len(cut[a.source.id]) for a in pending),
        words=sum(a.source.words for a in pending),
        deid=admission.replaced_by_source(),
        candidates=list(admission.candidates().to_dict(orient="records")),
        key_path=privacy.key_path if any(a.replaced for a in pending) else None,
        notes=list(privacy.notes),
    )


def _name(path: Path, item: Extracted) -> str:
    return f"{path.name}#{item.key}" if item.key is not None else path.name


def _keys(path: Path, item: Extracted) -> list[str]:
    if item.key is not None:
        return [f"{path.name}#{item.key}", item.key, slug(f"{path.stem}-{item.key}")]
    return [path.name, path.stem, slug(path.stem)]


def _attributes(
    kind: str, path: Path, item: Extracted, extra: dict[str, Any], warnings: list[str]
) -> dict[str, Any]:
    """Merge what the file says about itself with the attributes table (the table wins)."""
    meta = dict(item.meta)
    property_date = meta.pop("property_date", None)
    attrs = dict(meta)
    attrs.update(extra)
    date = iso_date(attrs.get("date")) or iso_date(path.stem) or property_date
    if date:
        attrs["date"] = date
    elif kind in ("observation", "document"):
        warnings.append(
            f"{path}: no date found in front matter, file name or document properties; "
            "add a 'date' column to the attributes table"
        )
    return attrs
