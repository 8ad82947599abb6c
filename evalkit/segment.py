"""Cut sources into excerpts with exact character offsets.

- Interviews are cut by speaker turn; observations and documents by paragraph.
- A turn or paragraph longer than ``max_chars`` is cut at paragraph, then sentence,
  boundaries (spaCy ``blank("en")`` + sentencizer), packing whole sentences up to the limit.
  ``max_chars`` is a hard limit: a sentence longer than it (a run-on transcript, a file
  with no punctuation) is cut at the last whitespace before the limit, or at the limit
  where there is none.
- Excerpt IDs are ``{source_id}-{hash of the excerpt text}``, so they stay the same when an
  unchanged file is ingested again, and when other parts of the file change.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Literal

from evalkit.model import Excerpt, Source, Unit
from evalkit.nlp import pipeline
from evalkit.util.dates import timestamp_seconds

DEFAULT_MAX_CHARS = 1200
# Paragraphs longer than this go to the sentence splitter in windows cut at whitespace,
# so that a 10 MB line costs what ten thousand ordinary paragraphs cost.
SENTENCE_WINDOW = 100_000

_TIME = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?"
# A bracketed token is a pseudonym put in by de-identification: "[P07]: ..." is a turn.
_WORD = r"(?:\[[A-Za-z][\w\- ]{0,30}\]|[A-Z][\w'’.\-]*|[a-z]{1,2}['’][A-Z][\w'’.\-]*|\d+)"
_JOINER = r"(?:de|del|da|van|von|der|la|le|ap|of|the|and|y)"
# "The Chair (Hon. Anthony Rota (Nipissing, Lib.)):" - one nested level of brackets.
_NOTE = r"\([^()\n:]*(?:\([^()\n:]*\)[^()\n:]*)?\)"
TURN_LABEL = re.compile(
    rf"^[ \t]*(?:[\[(](?P<ts1>{_TIME})[\])][ \t]*)?"
    rf"(?P<label>{_WORD}(?:[ \t]+(?:{_WORD}|{_JOINER})){{0,4}})"
    rf"(?:[ \t]*[\[(](?P<ts2>{_TIME})[\])]|[ \t]*{_NOTE})?[ \t]*:(?:[ \t]+|[ \t]*$)",
    re.M,
)
INTERVIEWER_LABEL = re.compile(
    r"^(interviewer|int|i|q|moderator|facilitator|evaluator|researcher)\b\.?\s*\d*$", re.I
)
_ID_LABEL = re.compile(r"^(P|R|Participant|Respondent|Speaker)[ \t]*\d+$", re.I)
_BLANK_LINES = re.compile(r"\n[ \t]*\n")
_NUMBERED = re.compile(r"^(\d+(\.\d+)*|[IVX]+|[A-Z])[.)]?\s+[A-Z]")
_MD_HEADING = re.compile(r"^#{1,6}[ \t]+(?P<title>.+?)[ \t#]*$")


def segment(
    source: Source,
    *,
    by: Literal["auto", "turn", "paragraph"] = "auto",
    max_chars: int = DEFAULT_MAX_CHARS,
) -> list[Excerpt]:
    """Cut one source into excerpts.

    Parameters
    ----------
    source
        The source to cut.
    by
        ``"turn"`` for speaker turns, ``"paragraph"`` for blank-line paragraphs, ``"auto"``
        to use turns for interviews and paragraphs otherwise. Units a reader already found
        (caption turns, spreadsheet answers) are always kept.
    max_chars
        Longest excerpt before it is cut at sentence boundaries.

    Returns
    -------
    list[Excerpt]
        In reading order; ``source.text[e.start:e.end]`` is each excerpt's text.

    Examples
    --------
    >>> from evalkit.model import Source
    >>> s = Source("s1", "s1.txt", "interview", "Interviewer: Hi.\\n\\nP01: Hello there.", "h")
    >>> [(e.speaker, e.speaker_role, s.text[e.start:e.end]) for e in segment(s)]
    [('Interviewer', 'interviewer', 'Hi.'), ('P01', 'participant', 'Hello there.')]
    """
    return segment_many([source], by=by, max_chars=max_chars)[source.id]


def segment_many(
    sources: Sequence[Source],
    *,
    by: Literal["auto", "turn", "paragraph"] = "auto",
    max_chars: int = DEFAULT_MAX_CHARS,
) -> dict[str, list[Excerpt]]:
    """Cut many sources at once; sentence splitting runs in one ``nlp.pipe`` batch."""
    if max_chars < 50:
        raise ValueError(f"max_chars must be at least 50, got {max_chars}")
    planned = {s.id: _pieces(s, by) for s in sources}
    texts = {s.id: s.text for s in sources}

    # Split over-long pieces into paragraphs, and collect over-long paragraphs for spaCy.
    spans: dict[str, list[tuple[Unit, list[tuple[int, int]]]]] = {}
    needs_sentences: list[tuple[str, int, int]] = []
    for source_id, pieces in planned.items():
        text = texts[source_id]
        spans[source_id] = []
        for piece in pieces:
            if piece.end - piece.start <= max_chars:
                parts = [(piece.start, piece.end)]
            else:
                parts = [
                    window
                    for a, b in _paragraphs(text, piece.start, piece.end)
                    for window in _cut(text, a, b, SENTENCE_WINDOW)
                ]
                needs_sentences.extend((source_id, a, b) for a, b in parts if b - a > max_chars)
            spans[source_id].append((piece, parts))

    sentences: dict[tuple[str, int], list[tuple[int, int]]] = {}
    if needs_sentences:
        docs = pipeline().pipe((texts[sid][a:b] for sid, a, b in needs_sentences), batch_size=64)
        for (sid, a, _b), doc in zip(needs_sentences, docs, strict=True):
            sentences[(sid, a)] = [
                (a + sent.start_char, a + sent.end_char) for sent in doc.sents if sent.text.strip()
            ]

    result: dict[str, list[Excerpt]] = {}
    for source_id, planned_pieces in spans.items():
        text = texts[source_id]
        excerpts: list[Excerpt] = []
        seen: Counter[str] = Counter()
        for piece, parts in planned_pieces:
            units: list[tuple[int, int]] = []
            for a, b in parts:
                for c, d in sentences.get((source_id, a), [(a, b)]):
                    units.extend(_cut(text, c, d, max_chars))
            for a, b in _pack(units, max_chars):
                a, b = _trim(text, a, b)
                if a >= b:
                    continue
                digest = hashlib.sha1(text[a:b].encode("utf-8")).hexdigest()[:10]
                seen[digest] += 1
                suffix = f"-{seen[digest]}" if seen[digest] > 1 else ""
                excerpts.append(
                    Excerpt(
                        id=f"{source_id}-{digest}{suffix}",
                        source_id=source_id,
                        start=a,
                        end=b,
                        ordinal=len(excerpts) + 1,
                        speaker=piece.speaker,
                        speaker_role=piece.speaker_role,
                        section=piece.section,
                        t_start=piece.t_start,
                        t_end=piece.t_end,
                    )
                )
        result[source_id] = excerpts
    return result


def parse_turns(text: str) -> list[Unit]:
    """Speaker turns in a transcript: ``Name:``, ``P07:``, ``[00:01:23] Speaker 1:``...

    The speech runs from after the label to the next label. Once two speakers have several
    turns each, a one-word label seen only once is treated as speech ("Honestly: ..."),
    unless it is an interviewer label or a participant code such as ``P07``.
    Text before the first turn (a header) becomes speaker-less paragraphs.
    """
    matches = list(TURN_LABEL.finditer(text))
    counts = Counter(m["label"] for m in matches)
    if sum(1 for n in counts.values() if n > 1) >= 2:
        matches = [m for m in matches if counts[m["label"]] > 1 or _named_speaker(m["label"])]
    pieces: list[Unit] = []
    first = matches[0].start() if matches else len(text)
    pieces.extend(Unit(a, b) for a, b in _paragraphs(text, 0, first))
    for i, match in enumerate(matches):
        following = matches[i + 1] if i + 1 < len(matches) else None
        end = following.start() if following else len(text)
        label = _unbracket(match["label"].strip())
        stamp = match["ts1"] or match["ts2"]
        pieces.append(
            Unit(
                start=match.end(),
                end=end,
                speaker=label,
                speaker_role=_role(label),
                t_start=timestamp_seconds(stamp) if stamp else None,
            )
        )
    return pieces


def _unbracket(label: str) -> str:
    return label[1:-1] if re.fullmatch(r"\[[^\[\]]+\]", label) else label


def _pieces(source: Source, by: str) -> list[Unit]:
    if source.units is not None:
        if source.kind != "interview":
            return list(source.units)
        return [replace(u, speaker_role=_role(u.speaker)) for u in source.units]
    if by == "turn" or (by == "auto" and source.kind == "interview"):
        return parse_turns(source.text)
    return _sectioned_paragraphs(source.text)


def _named_speaker(label: str) -> bool:
    return len(label.split()) > 1 or _role(label) == "interviewer" or bool(_ID_LABEL.match(label))


def _role(speaker: str | None) -> str | None:
    if speaker is None:
        return None
    return "interviewer" if INTERVIEWER_LABEL.match(speaker) else "participant"


def _sectioned_paragraphs(text: str) -> list[Unit]:
    """Paragraphs, with headings recorded as each paragraph's section, not as excerpts."""
    pieces = []
    section = None
    for a, b in _paragraphs(text, 0, len(text)):
        block = text[a:b]
        heading = _MD_HEADING.match(block)
        if heading and "\n" not in block:
            section = heading["title"]
        elif _looks_like_heading(block):
            section = block.strip()
        else:
            pieces.append(Unit(a, b, section=section))
    return pieces


def _looks_like_heading(block: str) -> bool:
    line = block.strip()
    return (
        "\n" not in line
        and len(line) <= 80
        and len(line.split()) <= 10
        and not line.endswith((".", "?", "!", ",", ";", ":", '"', "”"))
        and (line[:1].isupper() or _NUMBERED.match(line) is not None)
    )


def _paragraphs(text: str, start: int, end: int) -> Iterable[tuple[int, int]]:
    position = start
    for match in _BLANK_LINES.finditer(text, start, end):
        if text[position : match.start()].strip():
            yield _trim(text, position, match.start())
        position = match.end()
    if text[position:end].strip():
        yield _trim(text, position, end)


def _cut(text: str, a: int, b: int, limit: int) -> Iterable[tuple[int, int]]:
    """``text[a:b]`` in pieces of at most ``limit`` characters, each ending at whitespace
    where the piece has any (the whitespace stays with the piece before it)."""
    while b - a > limit:
        end = a + limit
        space = next((i for i in range(end, a, -1) if text[i - 1].isspace()), None)
        cut = space if space is not None and space > a + limit // 2 else end
        yield a, cut
        a = cut
    if a < b:
        yield a, b


def _pack(units: list[tuple[int, int]], max_chars: int) -> list[tuple[int, int]]:
    packed: list[tuple[int, int]] = []
    for a, b in units:
        if packed and b - packed[-1][0] <= max_chars:
            packed[-1] = (packed[-1][0], b)
        else:
            packed.append((a, b))
    return packed


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b
