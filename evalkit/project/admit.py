"""The one way sources enter a project.

Every route in (``ingest``, ``qdpx import``, ``codings import`` of survey answers) turns
what it read into :class:`Entry` values and calls :func:`prepare`, then
:meth:`Admission.write` inside its transaction. Admission does, once and the same way for
every route:

1. de-identification of everything that enters: the text (with unit offsets and speakers
   moved onto the new text), every attribute value at any depth (keys of mappings too),
   the name, and the ID derived from a file name or a foreign name;
2. hashing and dedupe (against the project and within the batch);
3. ID assignment;
4. segmentation;
5. storage, the audit entry, the key rows (written before the store commits) and the
   candidate list of names the roster does not cover.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from evalkit.deid import (
    Redaction,
    Replacement,
    candidates_for,
    key_rows,
    remap_unit,
    write_key,
)
from evalkit.model import Excerpt, Source, Unit
from evalkit.project.privacy import Privacy, remember
from evalkit.segment import DEFAULT_MAX_CHARS, segment_many
from evalkit.util import content_hash, iso_date, slug, unique
from evalkit.util.text import replace_controls


@dataclass(frozen=True)
class Entry:
    """One source on its way in, as a reader or a foreign file gave it (names and all).

    ``name`` is the name it arrived with (a file name, ``file#row``, a foreign tool's
    name); ``id_base`` what its ID is made from. ``attributes`` may be nested (front
    matter); they are flattened after cleaning, see :func:`flatten`. ``whole`` keeps the
    text as one excerpt whose ID is the source ID (a survey answer coded as a unit).
    """

    name: str
    text: str
    kind: str
    id_base: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    units: tuple[Unit, ...] | None = None
    whole: bool = False


@dataclass(frozen=True)
class Admitted:
    """An entry after admission: its de-identified source and what was replaced."""

    entry: Entry
    source: Source
    status: Literal["added", "updated", "unchanged"]
    redaction: Redaction
    replaced: tuple[Replacement, ...]

    def counts(self) -> dict[str, int]:
        return dict(Counter(r.type for r in self.replaced))


@dataclass(frozen=True)
class Admission:
    """What :func:`prepare` decided; nothing is written until :meth:`write`."""

    items: tuple[Admitted, ...]
    privacy: Privacy
    route: str

    @property
    def pending(self) -> list[Admitted]:
        """The entries that add or change a source."""
        return [a for a in self.items if a.status != "unchanged"]

    def segment(self, max_chars: int = DEFAULT_MAX_CHARS) -> dict[str, list[Excerpt]]:
        """Excerpts for every pending source, keyed by source ID."""
        pending = self.pending
        cut = segment_many([a.source for a in pending if not a.entry.whole], max_chars=max_chars)
        for a in pending:
            if a.entry.whole:
                body = a.source.text
                cut[a.source.id] = [Excerpt(a.source.id, a.source.id, 0, len(body), 1)]
        return cut

    def write(
        self,
        store,
        cut: Mapping[str, list[Excerpt]],
        *,
        extra_key_rows: Sequence[dict] = (),
    ) -> dict[str, list[str]]:
        """Store the pending sources, log the admission and write the key rows; call it
        inside the route's transaction. Returns ``{"added": [...], "updated": [...]}``.

        The key rows are written before the transaction commits, so a crash leaves either
        the old state (and a key with some rows to spare) or the new state with its key.
        """
        done: dict[str, list[str]] = {"added": [], "updated": []}
        for a in self.pending:
            status = store.put_source(a.source, list(cut[a.source.id]))
            done[status].append(a.source.id)
        if done["updated"]:
            # A changed source's old excerpt texts are gone: so are their cached values.
            store.prune_text_cache()
        remember(store, self.privacy)
        if self.pending:
            kinds = sorted({a.source.kind for a in self.pending})
            store.log(
                "ingest",
                "project",
                None,
                {
                    "route": self.route,
                    "kind": kinds[0] if len(kinds) == 1 else "mixed",
                    **done,
                    "deidentified": self.privacy.deidentify,
                    "roster": len(self.privacy.roster.entries) if self.privacy.roster else 0,
                    "roster_sha256": self.privacy.roster_sha256,
                    "replaced": {a.source.id: a.counts() for a in self.pending if a.replaced},
                },
            )
        rows = [row for a in self.pending for row in key_rows(a.source.id, a.replaced)]
        write_key_rows(self.privacy, [*rows, *extra_key_rows])
        return done

    def candidates(self) -> pd.DataFrame:
        """Capitalised names in the admitted text that the roster does not cover."""
        if not self.privacy.deidentify:
            return pd.DataFrame(columns=["candidate", "count", "sources", "reason", "example"])
        return candidates_for([a.source for a in self.pending], roster=self.privacy.roster)

    def replaced_by_source(self) -> dict[str, dict[str, int]]:
        return {a.source.id: a.counts() for a in self.pending if a.replaced}


def write_key_rows(privacy: Privacy, rows: Sequence[dict]) -> Path | None:
    """Merge rows into the project's key file (nothing to do without rows)."""
    if not rows or not privacy.deidentify:
        return None
    return write_key(privacy.key_path, list(rows))


def prepare(store, entries: Iterable[Entry], privacy: Privacy, *, route: str) -> Admission:
    """De-identify, hash, dedupe and name every entry; reads the store, writes nothing."""
    taken = store.source_ids()
    names = store.source_names()
    excerpt_ids: set[str] | None = None  # read once, only if a whole-text entry needs it
    by_hash: dict[str, Admitted] = {}
    items: list[Admitted] = []
    for entry in entries:
        # One for one, so the reader's units keep their offsets.
        redaction = privacy.clean_text(replace_controls(entry.text))
        units = None
        if entry.units is not None:
            units = tuple(remap_unit(u, redaction, privacy.roster) for u in entry.units)
        # Cleaned while still nested, so a name used as a mapping key is found whole.
        attributes, in_attributes = privacy.clean_value(dict(entry.attributes))
        attributes = flatten(attributes)
        name, in_name = privacy.clean_name(replace_controls(entry.name))
        id_base, in_id = privacy.clean_id(entry.id_base, known=in_name)
        replaced = (*redaction.findings, *in_attributes, *in_name, *in_id)
        digest = content_hash(redaction.text)
        if digest in by_hash:
            # The same text twice in one batch: the first one stands for both.
            items.append(replace(by_hash[digest], entry=entry, status="unchanged"))
            continue
        status: Literal["added", "updated", "unchanged"] = "added"
        source_id = store.source_id_for_hash(digest)
        current = store.source(source_id) if source_id is not None else None
        if current is not None and (current.attributes == attributes or entry.whole):
            status = "unchanged"
        elif current is not None:
            # Same text, new attributes: update the existing source, not a duplicate.
            status, name = "updated", current.name
        elif (source_id := store.source_id_for_name(name)) is not None:
            status = "updated"
        else:
            avoid = taken
            if entry.whole:  # its ID is also its one excerpt's ID
                excerpt_ids = store.excerpt_ids() if excerpt_ids is None else excerpt_ids
                avoid = taken | excerpt_ids
            source_id = unique(slug(id_base), avoid)
            name = unique(name, names)
        source = (
            current
            if status == "unchanged"
            else Source(
                id=source_id,
                name=name,
                kind=entry.kind,
                text=redaction.text,
                content_hash=digest,
                attributes=attributes,
                units=units,
            )
        )
        taken.add(source.id)
        names.add(source.name)
        admitted = Admitted(entry, source, status, redaction, tuple(replaced))
        by_hash[digest] = admitted
        items.append(admitted)
    return Admission(tuple(items), privacy, route)


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested front matter as flat attributes: ``attendance.law_enforcement``, lists
    joined with ``; ``, dates as ISO text."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            flat[name] = "; ".join(map(_listed, value))
        elif value is None or isinstance(value, str | int | float | bool):
            flat[name] = value
        else:
            flat[name] = iso_date(value) or str(value)
    return flat


def _listed(item: Any) -> str:
    """One list item as text: a mapping as ``key: value`` pairs."""
    if isinstance(item, dict):
        return "; ".join(f"{k}: {v}" for k, v in flatten(item).items())
    return str(item)
