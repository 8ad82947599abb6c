"""Normalising text for de-identification, with edits that keep offsets exact.

Names and numbers arrive decomposed (NFD, from macOS and PDF extractors: ``"Toma\\u0301s"``)
or with invisible characters pasted from Word inside them (``"Ta\\u200bnya"``,
``"415\\u200b-555-0134"``). Matching happens on the normalised text; these edits say how it
differs from the original, so a finding there can be mapped back to the original's offsets,
and the edits outside findings can join the :class:`~evalkit.deid.detect.Redaction` as type
``"normalise"``.

An edit is a tuple ``(start, end, new, new_start)``: ``original[start:end]`` became ``new``
(the NFC form of the run, or ``""`` for invisible characters) at ``new_start`` in the
normalised text. Edits are sorted and never overlap.
"""

from __future__ import annotations

import bisect
import re
import unicodedata

NORMALISE = "normalise"

Edit = tuple[int, int, str, int]

# Zero-width space, non-joiner and joiner, word joiner, byte-order mark, soft hyphen.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_INVISIBLE = re.compile(f"[{INVISIBLE}]")
_JOINERS = "\u200c\u200d"
# NFC never changes an ASCII character, nor composes one with what precedes it, so the text
# can be normalised piece by piece: each run of non-ASCII with the character before it.
_RUN = re.compile(r"[\x00-\x7f]?[^\x00-\x7f]+")


def normalise_edits(text: str) -> list[Edit]:
    """The edits that make ``text`` composed (NFC) and free of invisible characters.

    Zero-width joiners and non-joiners stay between two letters of a script that needs them
    (Devanagari, Arabic, Persian, emoji sequences): there they change how a word is spelled
    or drawn, and no Latin-script name passes through them.

    Examples
    --------
    >>> normalise_edits("Ta\\u200bnya Toma\\u0301s")
    [(2, 3, '', 2), (10, 12, 'á', 9)]
    >>> normalise_edits("already clean")
    []
    """
    if text.isascii():
        return []
    if unicodedata.is_normalized("NFC", text) and not _INVISIBLE.search(text):
        return []
    edits: list[Edit] = []
    shift = 0
    for run in _RUN.finditer(text):
        old, offset = run.group(0), run.start()
        kept = "".join(
            c for i, c in enumerate(old, offset) if c not in INVISIBLE or _joins(text, i)
        )
        new = unicodedata.normalize("NFC", kept)
        if new == old:
            continue
        # Only what changed: "é\u200b" -> "é" is the edit "\u200b" -> "".
        a = 0
        while a < min(len(old), len(new)) and old[a] == new[a]:
            a += 1
        b = 0
        while b < min(len(old), len(new)) - a and old[-1 - b] == new[-1 - b]:
            b += 1
        start, end, new = offset + a, run.end() - b, new[a : len(new) - b]
        edits.append((start, end, new, start + shift))
        shift += len(new) - (end - start)
    return edits


def to_original(start: int, end: int, edits: list[Edit]) -> tuple[int, int]:
    """The span of the original text that the normalised span ``[start, end)`` came from.

    A span that begins or ends inside an edit takes in the whole edit, so no edit is ever
    split by a finding. An invisible character just outside the span stays outside.

    Examples
    --------
    >>> edits = normalise_edits("Ta\\u200bnya Toma\\u0301s")
    >>> to_original(0, 5, edits), to_original(6, 11, edits)
    ((0, 6), (7, 13))
    """
    if not edits:
        return start, end
    new_starts = [e[3] for e in edits]
    # Start: the edits beginning at or before it (an empty edit there lies before the span).
    i = bisect.bisect_right(new_starts, start)
    if i:
        s, e, new, n = edits[i - 1]
        start = s if n + len(new) > start else start + e - (n + len(new))
    # End: the edits beginning before it (an empty edit there lies after the span).
    j = bisect.bisect_left(new_starts, end)
    if j:
        s, e, new, n = edits[j - 1]
        end = e if n + len(new) > end else end + e - (n + len(new))
    return start, end


def _joins(text: str, i: int) -> bool:
    """Whether the invisible character at ``i`` is a joiner between two non-Latin letters."""
    if text[i] not in _JOINERS:
        return False
    left = i - 1
    while left >= 0 and unicodedata.category(text[left]).startswith("M"):
        left -= 1
    right = i + 1
    return left >= 0 and right < len(text) and _scripted(text[left]) and _scripted(text[right])


def _scripted(char: str) -> bool:
    if char.isascii() or unicodedata.name(char, "").startswith("LATIN"):
        return False
    return unicodedata.category(char)[0] in "LMNS"
