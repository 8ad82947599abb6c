"""Quotes worth printing: informative, representative, from different voices.

For each excerpt the best **passage** is found: a run of one to four whole sentences
that starts and ends on a sentence with content (:func:`evalkit.summarize.is_filler`),
has at least ``min_words`` words and at most ``max_words`` (one longer sentence is kept
whole rather than cut), with the highest content-word density. Passages are then ranked
by

- **representativeness**: the cosine of the passage with the centroid of the material,
  where the centroid is the mean of the *per-source* means, so one long interview does not
  define what is typical; with a ``query``, relevance to it counts for half;
- **informativeness**: content words per word (greetings, "you know", "I mean" and stop
  words are not content);

and picked by maximal marginal relevance, so a second quote does not repeat the first.
Each value of the first ``diverse`` column (a participant, a source) gives one quote before
any gives a second; sharing a value of the others (a sector) costs ``SHARED_PENALTY``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from evalkit.embedding import Embedder
from evalkit.summarize.extract import mmr_order, query_focus, tfidf_vectors, unit_range
from evalkit.summarize.filler import content_words, is_filler
from evalkit.summarize.sentences import Sentence, split_sentences

MIN_WORDS = 15
MAX_WORDS = 70
MAX_SENTENCES = 4
SHARED_PENALTY = 0.15
HOLD_BACK = 1e3  # a cost that puts a candidate behind every other, without removing it
QUOTE_COLUMNS = [
    "excerpt_id",
    "start",
    "end",
    "quote",
    "words",
    "score",
    "representativeness",
    "density",
]


def pick_quotes(
    excerpts: pd.DataFrame,
    *,
    n: int = 3,
    query: str | None = None,
    embedder: Embedder | None = None,
    diverse: Sequence[str] = ("participant", "sector"),
    min_words: int = MIN_WORDS,
    max_words: int = MAX_WORDS,
    max_chars: int | None = None,
    exclude: set[str] | None = None,
    skip_roles: Sequence[str] = ("interviewer",),
    mmr: float = 0.7,
) -> pd.DataFrame:
    """Choose ``n`` quotes from excerpts: informative, typical, and from different voices.

    Parameters
    ----------
    excerpts
        One row per excerpt: ``excerpt_id`` and ``text``, plus any attributes to carry
        (``source_id``, ``participant``, ``sector``, ``kind``, ``speaker_role``; ``start``
        is taken as the excerpt's offset in its source). Rows repeated per code are
        taken once.
    n
        How many quotes (the report uses two to four).
    query
        What the quotes should be about (a code's definition); ``None`` for the most
        typical.
    embedder
        Sentence embeddings (the project's cached one); ``None`` for TF-IDF.
    diverse
        Attribute columns to spread the quotes over; missing columns are ignored.
    min_words, max_words, max_chars
        A quote's length in words (at least ``min_words`` after trimming), and optionally
        in characters; quotes are never cut inside a sentence.
    exclude
        Excerpt IDs not to quote (already quoted elsewhere).
    skip_roles
        ``speaker_role`` values whose excerpts are not quoted (the interviewer's questions).
    mmr
        λ of maximal marginal relevance: 1 ranks by score alone.

    Returns
    -------
    pandas.DataFrame
        Best first: ``excerpt_id, start, end`` (offsets in the excerpt's text, so
        ``text[start:end] == quote``), ``quote, words, score, representativeness,
        density``, the ``diverse`` and carried attribute columns, and ``source_start,
        source_end`` (offsets in the source) when the excerpts had ``start``.

    Examples
    --------
    >>> text = ("Okay. The bulletin took two years to come out, and by then outreach workers "
    ...         "had stopped promising anyone that police would not arrest them.")
    >>> frame = pd.DataFrame({"excerpt_id": ["a", "b"], "participant": ["P1", "P2"],
    ...                       "text": [text, "Yeah. Right."]})
    >>> quotes = pick_quotes(frame, n=2)
    >>> quotes["excerpt_id"].tolist(), quotes["quote"][0] == text[6:]
    (['a'], True)
    """
    pool = excerpts.drop_duplicates("excerpt_id")
    if exclude:
        pool = pool[~pool["excerpt_id"].isin(exclude)]
    if "speaker_role" in pool and skip_roles:
        pool = pool[~pool["speaker_role"].isin(list(skip_roles))]
    pool = pool.reset_index(drop=True)
    carried = [c for c in pool.columns if c not in ("text", "start", "end", "rollup")]
    columns = [*QUOTE_COLUMNS, *[c for c in carried if c != "excerpt_id"]]
    if "start" in pool:
        columns += ["source_start", "source_end"]
    passages = _passages(pool, min_words, max_words, max_chars)
    if not passages or n < 1:
        return pd.DataFrame(columns=columns)
    rows = pool.set_index("excerpt_id")
    texts = [p[3] for p in passages]
    focus = query_focus(query)
    vectors = _vectors(texts + ([focus] if focus else []), embedder)
    if focus:
        vectors, query_vector = vectors[:-1], vectors[-1]
    groups = [str(rows.loc[p[0]].get("source_id", p[0])) for p in passages]
    centroid = _balanced_centroid(vectors, groups)
    typical = unit_range(vectors @ centroid)
    if focus:
        typical = 0.5 * typical + 0.5 * unit_range(vectors @ query_vector)
    density = np.array([p[4] for p in passages])
    score = (0.25 + typical) * density
    keys = [c for c in diverse if c in pool.columns]
    values = {c: [_value(rows.loc[p[0]][c]) for p in passages] for c in keys}
    chosen = []
    order = mmr_order(
        score,
        vectors @ vectors.T,
        lam=mmr,
        penalty=lambda picked: _spread(picked, values, keys, len(passages)),
    )
    for pick in order:
        chosen.append(pick)
        if len(chosen) >= n:
            break
    records = []
    for pick in chosen:
        excerpt_id, start, end, quote, dens = passages[pick]
        row = rows.loc[excerpt_id]
        record: dict[str, Any] = {
            "excerpt_id": excerpt_id,
            "start": start,
            "end": end,
            "quote": quote,
            "words": len(quote.split()),
            "score": round(float(score[pick]), 4),
            "representativeness": round(float(typical[pick]), 4),
            "density": round(float(dens), 4),
        }
        record.update({c: row[c] for c in carried if c != "excerpt_id"})
        if "start" in pool:
            record["source_start"] = int(row["start"]) + start
            record["source_end"] = int(row["start"]) + end
        records.append(record)
    return pd.DataFrame(records, columns=columns)


def density(text: str) -> float:
    """Content words per word (0 for an empty text)."""
    total = len(text.split())
    return len(content_words(text)) / total if total else 0.0


def _passages(
    pool: pd.DataFrame, min_words: int, max_words: int, max_chars: int | None
) -> list[tuple[str, int, int, str, float]]:
    """The best passage of each excerpt: ``(excerpt_id, start, end, text, density)``."""
    sentences = split_sentences(pool[["excerpt_id", "text"]])
    by_excerpt: dict[str, list[Sentence]] = {}
    for s in sentences:
        by_excerpt.setdefault(s.excerpt_id, []).append(s)
    texts = dict(zip(pool["excerpt_id"], pool["text"], strict=True))
    found = []
    for excerpt_id, parts in by_excerpt.items():
        text = texts[excerpt_id]
        filler = [is_filler(s.text) for s in parts]
        best = None
        for i in range(len(parts)):
            if filler[i]:
                continue
            for j in range(i, min(len(parts), i + MAX_SENTENCES)):
                a, b = parts[i].start, parts[j].end
                size = len(text[a:b].split())
                if j > i and (size > max_words or (max_chars and b - a > max_chars)):
                    break
                if filler[j] or size < min_words:
                    continue
                value = density(text[a:b]) * min(1.0, size / 25) ** 0.5
                if best is None or value > best[0]:
                    best = (value, a, b)
        if best is not None:
            _, a, b = best
            found.append((excerpt_id, a, b, text[a:b], density(text[a:b])))
    return found


def _vectors(texts: list[str], embedder: Embedder | None) -> np.ndarray:
    if embedder is not None:
        return np.asarray(embedder.embed(texts), dtype=np.float64)
    matrix = tfidf_vectors(texts)
    if matrix is None:
        return np.ones((len(texts), 1))
    return np.asarray(sparse.csr_matrix(matrix).todense())


def _balanced_centroid(vectors: np.ndarray, groups: list[str]) -> np.ndarray:
    means = [
        vectors[[i for i, g in enumerate(groups) if g == key]].mean(axis=0)
        for key in dict.fromkeys(groups)
    ]
    centroid = np.mean(means, axis=0)
    return centroid / max(float(np.linalg.norm(centroid)), 1e-12)


def _value(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def _spread(
    picked: list[int], values: dict[str, list[Any]], keys: list[str], size: int
) -> np.ndarray:
    cost = np.zeros(size)
    if not picked or not keys:
        return cost
    first = values[keys[0]]
    used = {first[i] for i in picked}
    fresh = [i for i in range(size) if first[i] not in used and i not in picked]
    if fresh:
        cost += np.array([HOLD_BACK if first[i] in used else 0.0 for i in range(size)])
    for key in keys[1:]:
        seen = {values[key][i] for i in picked}
        cost += np.array([SHARED_PENALTY if values[key][i] in seen else 0.0 for i in range(size)])
    return cost
