"""Excerpts cut into sentences, each an exact span of its excerpt's text.

Sentences come from the project's blank spaCy pipeline with its sentencizer
(:func:`evalkit.nlp.pipeline`), run over all excerpts in one ``nlp.pipe`` batch. A
sentence never crosses a line break that starts a list item or heading, or that ends a
line closed by punctuation (field notes are lists as often as prose); a hard-wrapped
line inside a sentence stays in it. Each span is trimmed of whitespace, list bullets and
leading stage directions, so ``excerpt_text[start:end]`` is exactly the sentence's text.
Offsets count code points, as Python strings do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from evalkit.nlp import pipeline
from evalkit.summarize.filler import STAGE_DIRECTION, is_filler

_BULLET = re.compile(r"(?:[-*•‣◦–—]|\d{1,3}[.)]|[a-z][.)]|#{1,6})[ \t]+")
_LINE_BREAK = re.compile(r"\n")
_NEW_LINE_STARTS_BLOCK = re.compile(r"[ \t]*(?:[-*•‣◦–—#]|\d{1,3}[.)])[ \t]")
_LINE_CLOSED = re.compile(r"[.!?:;…\"”’)\]]\s*$")


@dataclass(frozen=True)
class Sentence:
    """One sentence of an excerpt: ``text == excerpt_text[start:end]``.

    ``position`` is its place in reading order among the sentences it was split with, and
    ``speaker`` the excerpt's speaker, which a query may name ("what did P07 say ...").
    """

    text: str
    excerpt_id: str
    start: int
    end: int
    position: int = 0
    source_id: str | None = None
    speaker: str | None = None

    @property
    def words(self) -> int:
        return len(self.text.split())


def split_sentences(
    excerpts: pd.DataFrame | Iterable[tuple[str, str]], *, drop_filler: bool = False
) -> list[Sentence]:
    """Every sentence of the excerpts, in their order.

    Parameters
    ----------
    excerpts
        A DataFrame with ``excerpt_id`` and ``text`` (and optionally ``source_id`` and
        ``speaker``), such as ``Store.excerpts_df()``, or ``(excerpt_id, text)`` pairs.
    drop_filler
        Leave out sentences :func:`evalkit.summarize.is_filler` finds empty.

    Returns
    -------
    list[Sentence]
        Offsets are into each excerpt's own text.

    Examples
    --------
    >>> [(s.text, s.start, s.end) for s in split_sentences([("e1", "Okay. We had no beds.")])]
    [('Okay.', 0, 5), ('We had no beds.', 6, 21)]
    """
    rows = list(_rows(excerpts))
    docs = pipeline().pipe((text for _, text, _, _ in rows), batch_size=64)
    found: list[Sentence] = []
    for (excerpt_id, text, source_id, speaker), doc in zip(rows, docs, strict=True):
        for start, stop in _boundaries(text, doc):
            for a, b in _lines(text, start, stop):
                a, b = _trim(text, a, b)
                if a >= b:
                    continue
                if drop_filler and is_filler(text[a:b]):
                    continue
                found.append(Sentence(text[a:b], excerpt_id, a, b, len(found), source_id, speaker))
    return found


def content_sentences(sentences: Sequence[Sentence]) -> list[Sentence]:
    """The sentences that are not filler (:func:`evalkit.summarize.is_filler`)."""
    return [s for s in sentences if not is_filler(s.text)]


def _rows(excerpts: Any) -> Iterable[tuple[str, str, str | None, str | None]]:
    if isinstance(excerpts, pd.DataFrame):
        ids, texts = excerpts["excerpt_id"], excerpts["text"]
        sources = excerpts["source_id"] if "source_id" in excerpts else [None] * len(excerpts)
        speakers = excerpts["speaker"] if "speaker" in excerpts else [None] * len(excerpts)
        for excerpt_id, text, source_id, speaker in zip(ids, texts, sources, speakers, strict=True):
            yield str(excerpt_id), str(text), _str(source_id), _str(speaker)
    else:
        for excerpt_id, text in excerpts:
            yield str(excerpt_id), str(text), None, None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _boundaries(text: str, doc) -> list[tuple[int, int]]:
    """The sentencizer's spans, with an opening bracket moved to the sentence it opens:
    it leaves "[" of "... long time. [laughs] Which ..." on the sentence before."""
    starts = [sent.start_char for sent in doc.sents]
    for i, start in enumerate(starts[1:], start=1):
        back = start
        while back > starts[i - 1] and text[back - 1].isspace():
            back -= 1
        while back > starts[i - 1] + 1 and text[back - 1] in "[(":
            back -= 1
        if back < start and text[back] in "[(":
            starts[i] = back
    ends = [*starts[1:], len(doc.text)]
    return list(zip(starts, ends, strict=True))


def _lines(text: str, a: int, b: int) -> Iterable[tuple[int, int]]:
    """``text[a:b]`` cut at the line breaks that end a block, not at hard wraps."""
    start = a
    for match in _LINE_BREAK.finditer(text, a, b):
        before, after = text[start : match.start()], text[match.end() : b]
        if (
            not before.strip()
            or not after.strip()
            or _LINE_CLOSED.search(before)
            or _NEW_LINE_STARTS_BLOCK.match(after)
            or after.startswith("\n")
        ):
            yield start, match.start()
            start = match.end()
    yield start, b


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while True:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        bullet = _BULLET.match(text, a, b)
        stage = STAGE_DIRECTION.match(text, a, b)
        if bullet and bullet.end() < b:
            a = bullet.end()
        elif stage and stage.end() < b:
            a = stage.end()
        else:
            return a, b
