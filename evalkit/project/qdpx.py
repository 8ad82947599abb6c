"""``evalkit qdpx import``: a REFI-QDA project from another tool, into a project.

Its text sources enter through :mod:`evalkit.project.admit` like any ingested file: text,
case variable values, the TextSource names (and the IDs made from them) are
de-identified. So are the Notes (which become memos) and the user names (which become
coders and memo authors).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from evalkit.codebook.refi import guid_key
from evalkit.deid import Roster, key_rows
from evalkit.errors import ExchangeError
from evalkit.interop.refi import (
    KIND_VARIABLE,
    QdpxImport,
    merge_codebooks,
    read_qdpx,
    selections_on,
)
from evalkit.model import KINDS
from evalkit.project.admit import Entry, prepare
from evalkit.project.codebooks import project_codebook, store_codebook
from evalkit.project.privacy import privacy_for


def import_qdpx(
    store,
    path: str | Path,
    *,
    kind: str = "interview",
    roster: Roster | str | Path | None = None,
    deidentify: bool = True,
    key_path: str | Path | None = None,
    actor: str | None = None,
) -> QdpxImport:
    """Bring a ``.qdpx`` (or a ``.qde`` with its ``sources/`` folder) into a project.

    Parameters
    ----------
    store
        The open project (it may be empty).
    path
        The archive or ``.qde`` file.
    kind
        The source kind for sources the file does not say the kind of.
    roster, deidentify, key_path
        As for :func:`evalkit.project.ingest`.

    Returns
    -------
    QdpxImport

    Raises
    ------
    ExchangeError
        For an unsafe or invalid file; nothing is written then.
    """
    path = Path(path)
    if kind not in KINDS:
        raise ExchangeError(f"kind must be one of {', '.join(KINDS)}; got '{kind}'")
    privacy = privacy_for(store, roster=roster, deidentify=deidentify, key_path=key_path)
    report = QdpxImport(path=str(path))
    content = read_qdpx(path, report)
    clean = privacy.cleaner()
    users = {guid: clean(name) for guid, name in content.users.items()}
    report.users = sorted(set(users.values()))

    entries = []
    for item in content.texts:
        attrs = dict(item.attributes)
        source_kind = attrs.pop(KIND_VARIABLE, None)
        entries.append(
            Entry(
                name=item.name,
                text=item.text,
                kind=source_kind if source_kind in KINDS else kind,
                id_base=Path(item.name).stem,
                attributes=attrs,
            )
        )
    admission = prepare(store, entries, privacy, route="qdpx import")
    cut = admission.segment()
    source_for: dict[str, str] = {}  # TextSource GUID -> source ID
    excerpt_for: dict[str, str] = {}  # PlainTextSelection GUID -> excerpt ID
    rows: list[tuple[str, str, str]] = []
    seen_codings: Counter = Counter()
    already: dict[str, set[str]] = {}  # a source already stored -> its excerpt IDs
    code_for = content.code_for
    for item, admitted in zip(content.texts, admission.items, strict=True):
        source = admitted.source
        source_for[guid_key(item.guid)] = source.id
        if admitted.status == "unchanged":
            # The same text is already here (an earlier import): code it there.
            report.warnings.append(
                f"source '{source.name}' is already in the project as '{source.id}'; its"
                " codings are added there"
            )
            if source.id not in cut:
                cut[source.id] = store.excerpts(source.id)
                already[source.id] = {e.id for e in cut[source.id]}
            excerpts = cut[source.id]
        else:
            excerpts = cut[source.id]
        selections, excerpts, span_ids = selections_on(
            source, excerpts, item.selections, admitted.redaction
        )
        cut[source.id] = excerpts
        for selection in selections:
            excerpt_id = span_ids[(selection.start, selection.end)]
            excerpt_for[guid_key(selection.guid)] = excerpt_id
            report.selections += 1
            for coding_guid, user_guid, code_guid in selection.codings:
                code = code_for.get(guid_key(code_guid))
                if code is None:
                    report.skipped.append(
                        {
                            "guid": coding_guid,
                            "what": "coding",
                            "reason": f"its code {code_guid} is not in the CodeBook",
                        }
                    )
                    continue
                coder = users.get(guid_key(user_guid)) or user_guid or "unknown"
                seen_codings[(excerpt_id, coder, code)] += 1
                rows.append((excerpt_id, coder, code))
        if admitted.replaced:
            report.deid[source.id] = admitted.counts()
    duplicates = sum(n - 1 for n in seen_codings.values() if n > 1)
    if duplicates:
        report.warnings.append(
            f"{duplicates} coding(s) repeat a code the same user applied to the same"
            " selection; each is kept once"
        )
    report.coders = sorted({c for _, c, _ in rows})
    report.sources = list(dict.fromkeys(a.source.id for a in admission.items))
    notes = [
        {k: clean(note[k]) if k in ("title", "body", "author") else v for k, v in note.items()}
        for note in content.notes(source_for, excerpt_for)
    ]
    extra = key_rows(f"qdpx:{path.name}", clean.found)

    with store.transaction(actor=actor, command="qdpx import", backup="before qdpx import"):
        if content.codebook is not None and content.codebook.codes:
            merged = merge_codebooks(project_codebook(store), content.codebook)
            store_codebook(store, merged, origin=str(path))
            report.codes = len(content.codebook.codes)
        admission.write(store, cut, extra_key_rows=extra)
        for source_id, existing in already.items():
            # New selection spans on a source already here become excerpts of it.
            if any(e.id not in existing for e in cut[source_id]):
                store.put_source(store.source(source_id), cut[source_id])
        report.codings = store.add_codings(list(dict.fromkeys(rows)), origin=f"qdpx:{path.name}")
        for note in notes:
            store.add_memo(
                note["title"],
                note["body"],
                on=note["on"],
                target=note["target"],
                author=note["author"],
            )
            report.notes += 1
        store.log(
            "qdpx.import",
            "project",
            None,
            {
                "file": str(path),
                "origin": report.origin,
                "sources": report.sources,
                "codes": report.codes,
                "codings": report.codings,
                "coders": report.coders,
                "skipped": len(report.skipped),
            },
        )
    report.warnings.extend(privacy.notes)
    found = admission.candidates()
    if len(found):
        report.warnings.append(
            f"{len(found)} capitalised name(s) are not on the roster and were left as"
            " they are; list them with 'evalkit deid --dry-run'"
        )
    return report
