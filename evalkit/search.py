"""Keyword-in-context search over excerpts, and coding what a search found.

Four kinds of query:

- ``word``: every word must occur in the excerpt (``housing shelter``);
- ``phrase``: the words in this order (``bad date list``);
- ``lemma``: any inflection of the words, through spaCy's English lookup lemmas
  (``arrest`` finds *arrested*, *arrests*, *arresting*);
- ``regex``: a regular expression, case-insensitive, in RE2's syntax (Python's without
  backreferences or look-around), matched in time linear in the text;
- ``meaning``: the excerpts closest in meaning to the query (cosine of sentence
  embeddings, :mod:`evalkit.embedding`), best first, whether or not they share a word
  with it (``nowhere to sleep`` finds *the shelter had no beds*). The whole excerpt is the
  match, and ``score`` is the similarity.

Word, phrase and lemma queries use the project's SQLite FTS5 index of excerpt text, which
triggers keep in step with every ingest, de-identification and undo; a regular expression
is matched excerpt by excerpt.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import defaultdict
from functools import lru_cache
from importlib import resources
from typing import Any

import pandas as pd
import re2

from evalkit.errors import EvalkitError
from evalkit.util.patterns import compile_user_pattern

MODES = ("word", "phrase", "lemma", "regex", "meaning")
MEANING_LIMIT = 20  # hits a meaning search returns unless told
MEANING_FLOOR = 0.25  # below this cosine, an excerpt is not about the query at all
COLUMNS = (
    "left",
    "match",
    "right",
    "excerpt_id",
    "source_id",
    "kind",
    "speaker",
    "sector",
    "participant_id",
    "date",
    "start",
    "end",
)


@lru_cache(maxsize=1)
def _inflections() -> dict[str, frozenset[str]]:
    """Lemma -> every form the English lookup table maps to it (and the lemma itself)."""
    data = resources.files("spacy_lookups_data") / "data" / "en_lemma_lookup.json.gz"
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as stream:
        lookup = json.load(stream)
    forms: dict[str, set[str]] = defaultdict(set)
    for form, lemma in lookup.items():
        forms[lemma.lower()].add(form.lower())
    return {lemma: frozenset(found | {lemma}) for lemma, found in forms.items()}


def lemma_forms(word: str) -> list[str]:
    """Every inflection sharing ``word``'s lemma, ``word`` itself first.

    Examples
    --------
    >>> sorted(lemma_forms("arrest"))
    ['arrest', 'arrested', 'arresting', 'arrests']
    """
    from evalkit.nlp import pipeline

    word = word.lower()
    lemma = pipeline(lemmas=True)(word)[0].lemma_.lower() or word
    forms = set(_inflections().get(lemma, ())) | {word, lemma}
    return [word, *sorted(forms - {word})]


def _words(query: str) -> list[str]:
    return re.findall(r"[\w'’-]+", query.lower())


def _fts_query(query: str, mode: str) -> str:
    quote = '"{}"'.format
    words = _words(query)
    if not words:
        raise EvalkitError(f"the query '{query}' has no words to look for")
    if mode == "phrase":
        return quote(" ".join(words))
    if mode == "lemma":
        return " AND ".join(
            "(" + " OR ".join(quote(f) for f in lemma_forms(w)) + ")" for w in words
        )
    return " AND ".join(quote(w) for w in words)


def _highlighter(query: str, mode: str) -> re.Pattern[str] | re2._Regexp:
    if mode == "regex":
        # The user's own pattern runs on RE2, linear in the text; the patterns built below
        # from escaped words need look-around, which only ``re`` has, and cannot backtrack.
        return compile_user_pattern(
            query,
            where="the search",
            hint="Escape special characters with \\, or search with --mode word",
        )
    words = _words(query)
    if mode == "phrase":
        body = r"\W+".join(map(re.escape, words))
    elif mode == "lemma":
        body = "|".join(re.escape(f) for w in words for f in lemma_forms(w))
    else:
        body = "|".join(map(re.escape, words))
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.I)


def search(
    store,
    query: str,
    *,
    mode: str = "word",
    kind: str | None = None,
    sector: str | None = None,
    speaker: str | None = None,
    code: str | None = None,
    without_code: str | None = None,
    coder: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    context: int = 50,
    limit: int | None = None,
    embedder=None,
) -> pd.DataFrame:
    """Find a query in the project's excerpts and show each hit in its context.

    Parameters
    ----------
    query, mode
        What to look for, and how (``word``, ``phrase``, ``lemma`` or ``regex``).
    kind, sector, speaker
        Only excerpts of this source kind, source sector, or speaker (a pseudonym).
    code, without_code, coder
        Only excerpts someone (or ``coder``) coded with ``code``; only excerpts nobody
        (or not ``coder``) coded with ``without_code``.
    date_from, date_to
        Only sources dated within these ISO dates (inclusive; a year alone counts as
        that year).
    context
        Characters of context on each side.
    limit
        At most this many hits (a meaning search: 20 unless told).
    embedder
        For ``mode="meaning"``: an :class:`evalkit.embedding.Embedder` (the project's
        cached one, :func:`evalkit.project.embeddings.project_embedder`).

    Returns
    -------
    pandas.DataFrame
        One row per hit: ``left, match, right, excerpt_id, source_id, kind, speaker,
        sector, participant_id, date, start, end``; ``start``/``end`` are the match's
        offsets in its source text, so ``source.text[start:end] == match``. A meaning
        search adds ``score``.
    """
    if mode not in MODES:
        raise EvalkitError(f"mode must be one of {', '.join(MODES)}; got '{mode}'")
    if mode == "meaning" and embedder is None:
        raise EvalkitError("a meaning search needs the sentence-embedding model")
    pattern = None if mode == "meaning" else _highlighter(query, mode)
    fts = None if mode in ("regex", "meaning") else _fts_query(query, mode)
    sources = {s.id: s for s in store.sources()}
    allowed = _allowed(store, code=code, without_code=without_code, coder=coder)
    rows = []
    for row in store.excerpt_texts(fts):
        source = sources[row["source_id"]]
        attrs = source.attributes
        if kind and source.kind != kind:
            continue
        if sector and attrs.get("sector") != sector:
            continue
        if speaker and (row["speaker"] or "").lower() != speaker.lower():
            continue
        if allowed is not None and row["id"] not in allowed:
            continue
        if not _within(attrs.get("date"), date_from, date_to):
            continue
        rows.append(row)
    if mode == "meaning":
        return _by_meaning(query, rows, sources, embedder, limit or MEANING_LIMIT)
    hits: list[dict[str, Any]] = []
    for row in rows:
        source = sources[row["source_id"]]
        attrs = source.attributes
        body = row["body"]
        for match in pattern.finditer(body):
            if match.end() == match.start():
                continue
            a, b = match.span()
            hits.append(
                {
                    "left": " ".join(body[max(0, a - context) : a].split()),
                    "match": match.group(0),
                    "right": " ".join(body[b : b + context].split()),
                    "excerpt_id": row["id"],
                    "source_id": row["source_id"],
                    "kind": source.kind,
                    "speaker": row["speaker"],
                    "sector": attrs.get("sector"),
                    "participant_id": attrs.get("participant_id"),
                    "date": attrs.get("date"),
                    "start": row["start"] + a,
                    "end": row["start"] + b,
                }
            )
            if limit is not None and len(hits) >= limit:
                return pd.DataFrame(hits, columns=COLUMNS)
    return pd.DataFrame(hits, columns=COLUMNS)


def _by_meaning(query: str, rows, sources, embedder, limit: int) -> pd.DataFrame:
    import numpy as np

    if not query.strip() or not rows:
        return pd.DataFrame(columns=[*COLUMNS, "score"])
    vectors = embedder.embed([row["body"] for row in rows])
    scores = vectors @ embedder.embed([query])[0]
    hits = []
    for i in np.argsort(-scores, kind="stable")[:limit]:
        if scores[i] < MEANING_FLOOR:
            break
        row = rows[i]
        attrs = sources[row["source_id"]].attributes
        hits.append(
            {
                "left": "",
                "match": row["body"],
                "right": "",
                "excerpt_id": row["id"],
                "source_id": row["source_id"],
                "kind": sources[row["source_id"]].kind,
                "speaker": row["speaker"],
                "sector": attrs.get("sector"),
                "participant_id": attrs.get("participant_id"),
                "date": attrs.get("date"),
                "start": row["start"],
                "end": row["start"] + len(row["body"]),
                "score": round(float(scores[i]), 4),
            }
        )
    return pd.DataFrame(hits, columns=[*COLUMNS, "score"])


def _allowed(store, *, code, without_code, coder) -> set[str] | None:
    if not (code or without_code or coder):
        return None
    codings = store.codings_df()
    if coder:
        codings = codings[codings["coder"] == coder]
    excerpts = set(store.excerpt_ids())
    allowed = set(codings["excerpt_id"]) if coder and not (code or without_code) else excerpts
    if code:
        allowed &= set(codings.loc[codings["code"] == code, "excerpt_id"])
    if without_code:
        allowed -= set(codings.loc[codings["code"] == without_code, "excerpt_id"])
    return allowed


def _within(date: Any, first: str | None, last: str | None) -> bool:
    if not (first or last):
        return True
    if not date:
        return False
    text = str(date)
    if first and text[: len(first)] < first and not first.startswith(text):
        return False
    if last and text[: len(last)] > last:
        return False
    return True
