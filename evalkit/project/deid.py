"""``evalkit deid``: de-identify a project again, after its roster grew.

Everything already stored goes through the same cleaning as at the way in: source text
(excerpts keep their IDs where their text did not change; the work on those that did
moves to the new excerpt for the same passage), source names and attributes, memos,
CAB comments, suggestion rationales, packets and codebook versions. Then what was
removed is removed from the audit log's text, the undo history and the snapshots, the
search index is rebuilt and the file compacted, so no removed string is left on disk.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evalkit.deid import (
    TYPES,
    Replacement,
    Roster,
    key_rows,
    renames_for,
    summary_by_source,
    token_counts,
)
from evalkit.deid import candidates_for as find_candidates
from evalkit.deid.remap import remap_unit
from evalkit.model import Source
from evalkit.project.admit import write_key_rows
from evalkit.project.privacy import privacy_for, remember
from evalkit.segment import DEFAULT_MAX_CHARS, segment_many
from evalkit.util import content_hash, slug, unique


@dataclass(frozen=True)
class DeidReport:
    """What a de-identification pass replaced, and the names it left for review."""

    replacements: dict[str, list[Replacement]]
    candidates: pd.DataFrame
    in_text: pd.DataFrame
    key_path: Path | None = None
    changed: list[str] = field(default_factory=list)
    moved: int = 0
    dry_run: bool = False
    forgotten: dict = field(default_factory=dict)
    other_text: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)

    def by_source(self) -> pd.DataFrame:
        """What this run replaced (or would replace), per source and type."""
        return summary_by_source(self.replacements)

    def by_type(self) -> dict[str, int]:
        counts = Counter(r.type for items in self.replacements.values() for r in items)
        return {t: counts[t] for t in TYPES if counts[t]}

    def to_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "changed_sources": self.changed,
            "moved_excerpts": self.moved,
            "replaced": self.by_type(),
            "by_source": self.by_source().to_dict(orient="records"),
            "tokens_in_text": self.in_text.to_dict(orient="records"),
            "candidates": self.candidates.to_dict(orient="records"),
            "key_file": str(self.key_path) if self.key_path else None,
            "forgotten": self.forgotten,
            "other_text": self.other_text,
            "notes": self.notes,
            "renamed_sources": self.renamed,
        }


def deidentify_project(
    store,
    *,
    roster: Roster | str | Path | None = None,
    key_path: str | Path | None = None,
    dry_run: bool = False,
    actor: str | None = None,
    max_chars: int | None = None,
) -> DeidReport:
    """Run de-identification again over everything a project holds.

    Text that is already de-identified keeps its tokens; new roster names are replaced.

    Parameters
    ----------
    store
        The open project.
    roster
        A :class:`Roster` or the path of a roster CSV/XLSX; without one, the roster the
        project used last.
    key_path
        Where the key file goes; by default where the project's key went last.
    dry_run
        Report what would change, and the candidates, without changing anything.

    Returns
    -------
    DeidReport
    """
    privacy = privacy_for(store, roster=roster, key_path=key_path)
    sources = store.sources()
    taken = {s.id for s in sources}
    new_ids: dict[str, str] = {}  # old source ID -> new, for IDs made from a name
    redactions = {}
    replaced: dict[str, list[Replacement]] = {}
    updated: list[Source] = []
    for source in sources:
        redaction = privacy.clean_text(source.text)
        name, in_name = privacy.clean_name(source.name)
        attributes, in_attributes = privacy.clean_value(source.attributes)
        clean_id, in_id = privacy.clean_id(source.id, known=in_name)
        if clean_id != source.id:
            new_id = unique(slug(clean_id), taken)
            taken.add(new_id)
            new_ids[source.id] = new_id
        found = [*redaction.findings, *in_name, *in_attributes, *in_id]
        replaced[source.id] = found
        if not found and redaction.text == source.text:
            continue
        redactions[source.id] = redaction
        units = None
        if source.units is not None:
            units = tuple(remap_unit(u, redaction, privacy.roster) for u in source.units)
        updated.append(
            Source(
                id=new_ids.get(source.id, source.id),
                name=name,
                kind=source.kind,
                text=redaction.text,
                content_hash=content_hash(redaction.text),
                attributes=attributes,
                units=units,
            )
        )
    old_id = {new_ids.get(s.id, s.id): s.id for s in sources}
    final = {s.id: s for s in sources if s.id not in new_ids} | {s.id: s for s in updated}
    removed = _removed(r for items in replaced.values() for r in items)
    report_args = dict(
        candidates=find_candidates(list(final.values()), roster=privacy.roster),
        in_text=token_counts({s.id: s.text for s in final.values()}, roster=privacy.roster),
        changed=[s.id for s in updated],
        renamed=dict(new_ids),
        dry_run=dry_run,
        notes=list(privacy.notes),
    )
    if dry_run:
        return DeidReport(replaced, **report_args)
    cut = segment_many(updated, max_chars=max_chars or DEFAULT_MAX_CHARS)
    # No snapshot first, on purpose: it would keep the very names being removed.
    try:
        key_file, other, forgotten, moved = _apply(
            store, privacy, updated, cut, redactions, replaced, removed, old_id, actor
        )
    except _NothingChanged:
        return DeidReport(replaced, **report_args)
    forgotten["compacted"] = store.compact()
    return DeidReport(
        replaced,
        key_path=key_file,
        moved=moved,
        forgotten=forgotten,
        other_text=other,
        **report_args,
    )


class _NothingChanged(Exception):
    """Raised inside the transaction to roll it back: nothing needed replacing."""


def _apply(store, privacy, updated, cut, redactions, replaced, removed, old_id, actor):
    moved = 0
    ids: dict[str, str] = {}  # every ID that changed (sources and excerpts): old -> new
    with store.transaction(actor=actor, command="deid"):
        for source in updated:
            before = old_id[source.id]
            old_excerpts = store.excerpts(before)
            if before != source.id:
                store.rename_source(before, source.id)
                ids[before] = source.id
            renames = renames_for(old_excerpts, cut[source.id], redactions[before])
            store.put_source(source, cut[source.id], renames=renames)
            ids.update(renames)
            moved += len(renames)
        scrub = _scrubber(removed, ids)
        other = store.redact_free_text(lambda text: privacy.clean_text(scrub(text)).text)
        if not updated and not other:
            raise _NothingChanged
        remember(store, privacy)
        store.log(
            "deid",
            "project",
            None,
            {
                "replaced": {
                    s.id: dict(Counter(r.type for r in replaced[old_id[s.id]])) for s in updated
                },
                "sources": [s.id for s in updated],
                "moved_excerpts": moved,
                "other_text": other,
            },
        )
        # The undo history and the snapshots hold the text as it was, names and all; the
        # audit log's own text (file names, summaries) may quote a removed name too.
        forgotten = store.forget_history(
            "de-identification removed names that the undo history and backups still held"
        )
        forgotten["audit_rows_redacted"] = store.redact_history(scrub) if removed or ids else 0
        store.compact_later()
        key_file = write_key_rows(
            privacy,
            [row for s in updated for row in key_rows(s.id, replaced[old_id[s.id]])],
        )
        store.rebuild_search_index()
        store.prune_text_cache()
    return key_file, other, forgotten, moved


def _removed(replacements) -> dict[str, str]:
    """Removed string -> its token, for strings long enough to be safely replaced
    wherever they occur (a two-letter fragment could be part of any word)."""
    found: dict[str, str] = {}
    for r in replacements:
        original = " ".join(r.original.split())
        if len(original) >= 3 and original != r.token:
            found.setdefault(original, r.token)
    return found


def _scrubber(removed: dict[str, str], ids: dict[str, str] | None = None):
    """A function that puts each changed ID's new value in place of the old one, then
    replaces each removed string, as written or JSON-escaped."""
    ids = ids or {}
    rename = (
        re.compile("|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True)))
        if ids
        else None
    )
    if not removed and rename is None:
        return lambda text: text
    forms: dict[str, str] = {}
    for original, token in removed.items():
        forms[original] = token
        escaped = json.dumps(original)[1:-1]
        forms.setdefault(escaped, token)
    pattern = re.compile(
        "|".join(
            r"\s+".join(map(re.escape, f.split())) for f in sorted(forms, key=len, reverse=True)
        )
        or "(?!)",
        re.IGNORECASE,
    )
    folded = {" ".join(f.split()).casefold(): t for f, t in forms.items()}

    def scrub(text: str) -> str:
        if rename is not None:
            text = rename.sub(lambda m: ids[m.group(0)], text)
        if not forms:
            return text
        return pattern.sub(lambda m: folded.get(" ".join(m.group(0).split()).casefold(), ""), text)

    return scrub


def check_key(store) -> pd.DataFrame:
    """Problems with the project's key file, as :meth:`Store.check` reports them.

    Every source the audit log says had something replaced (at any way in, or by a
    re-run) must have rows in the key file, else the replacements could never be traced
    back (``problem, where, fix``).
    """
    from evalkit.deid import read_key

    problems = []
    expected: dict[str, int] = {}
    audit = store.audit_df()
    current = store.source_ids()
    for detail in audit.loc[audit["action"].isin(["ingest", "deid"]), "detail"]:
        data = json.loads(detail)
        for source_id, counts in (data.get("replaced") or {}).items():
            if isinstance(counts, dict) and source_id in current:
                expected[source_id] = expected.get(source_id, 0) + sum(counts.values())
    if not expected:
        return pd.DataFrame(problems, columns=["problem", "where", "fix"])
    where = store.setting("key_path")
    rows = read_key(where) if where else []
    keyed = {r["source_id"] for r in rows}
    for source_id in sorted(s for s, n in expected.items() if n and s not in keyed):
        problems.append(
            {
                "problem": "de-identification replaced text in this source, but the key file"
                " has no row for it",
                "where": f"source {source_id} (key {where or 'not recorded'})",
                "fix": "restore the key file from your backup; without it the replacements"
                " cannot be traced back",
            }
        )
    return pd.DataFrame(problems, columns=["problem", "where", "fix"])
