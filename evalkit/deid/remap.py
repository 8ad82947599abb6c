"""Keeping offsets and speakers right when text is de-identified."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from evalkit.deid.detect import Redaction, pseudonymise_label
from evalkit.deid.roster import Roster
from evalkit.model import Unit


def renames_for(old: Iterable, new: Iterable, redaction: Redaction) -> dict[str, str]:
    """Old excerpt ID -> the new excerpt that holds the same passage after replacement.

    The old span is mapped through the replacements; the new excerpt with that exact span
    wins, else the one overlapping most (and at least half of the mapped span).
    """
    new = list(new)
    by_span = {(e.start, e.end): e.id for e in new}
    renames = {}
    for excerpt in old:
        a, b = redaction.map_offset(excerpt.start), redaction.map_offset(excerpt.end)
        target = by_span.get((a, b))
        if target is None:
            overlaps = [(min(b, e.end) - max(a, e.start), e.id) for e in new]
            best = max(overlaps, default=(0, None))
            target = best[1] if best[0] * 2 >= max(b - a, 1) else None
        if target is not None and target != excerpt.id:
            renames[excerpt.id] = target
    return renames


def remap_unit(unit: Unit, redaction: Redaction, roster: Roster | None) -> Unit:
    """A unit of the original text, moved onto the de-identified text (speaker too)."""
    return replace(
        unit,
        start=redaction.map_offset(unit.start),
        end=redaction.map_offset(unit.end),
        speaker=pseudonymise_label(unit.speaker, roster),
    )


