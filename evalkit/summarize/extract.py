"""Extractive summaries: the sentences that best cover a body of text, or a query on it.

Each sentence is scored by

- **relevance** to the query (when there is one): the cosine of its vector with the
  query's, smoothed over its neighbours in the same source, because the talk about a
  topic runs over several sentences and turns; a sentence whose speaker the query names
  ("what did P07 say about ...") gains ``SPEAKER_BONUS``;
- **centrality**: the cosine with the centroid of all sentences, which is LexRank's
  degree centrality on a complete similarity graph, up to a constant.

Sentences are then chosen by maximal marginal relevance (Carbonell and Goldstein 1998):
each pick maximises ``λ·score − (1 − λ)·(similarity to the closest sentence already
chosen)``, so a near-duplicate of a chosen sentence is passed over. Picking stops once the
summary reaches ``words``: it is at most one sentence over. The summary lists its
sentences in source order.

Vectors are sentence embeddings (:mod:`evalkit.embedding`) mixed with TF-IDF cosines,
whose exact word matches help with names and terms; without an embedder, TF-IDF alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from evalkit.embedding import Embedder
from evalkit.summarize.filler import content_words, is_filler
from evalkit.summarize.sentences import Sentence

SPEAKER_BONUS = 0.15
POOL = 400  # MMR looks at this many best-scored sentences: bounded memory on any project

# "Summarize the discussion about X", "What did the group say about X": the instruction is
# not the topic, and would pull sentences that talk about discussing.
_INSTRUCTION = re.compile(
    r"^\s*(?:please\s+)?(?:(?:summari[sz]e|describe|outline|explain|report)\s+(?:the\s+|their\s+|"
    r"what\s+)?(?:whole\s+|main\s+|overall\s+)?(?:discussions?|debates?|questioning|"
    r"conversation|talk|points?|meeting|session|interview|views?|opinions?)?"
    r"\s*(?:about|on|of|regarding|concerning)?\s*)",
    re.I,
)
_GENERAL = re.compile(r"^\W*(?:the\s+)?(?:whole\s+)?(?:meeting|session|interview)?\W*$", re.I)
_NAME = re.compile(r"\b[A-Z][a-zA-Z'’-]{2,}|\b[A-Z]+\d+\b")
_TITLES = frozenset(
    "the hon honourable mr mrs ms dr prof chair minister deputy member members am mp mla"
    " mpp lib con ndp bq gp what how did does why when who which".split()
)


@dataclass(frozen=True)
class SummarySentence:
    """A sentence of a summary, verbatim: ``excerpt_text[start:end] == text``."""

    text: str
    excerpt_id: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Summary:
    """An extractive summary: its text, and each sentence with where it came from."""

    summary: str
    sentences: tuple[SummarySentence, ...] = field(default_factory=tuple)

    @property
    def words(self) -> int:
        return sum(len(s.text.split()) for s in self.sentences)

    def to_dict(self) -> dict[str, Any]:
        """``{"summary": str, "sentences": [{"text", "excerpt_id", "start", "end", ...}]}``."""
        return {"summary": self.summary, "sentences": [s.to_dict() for s in self.sentences]}


@dataclass(frozen=True)
class Weights:
    """How the scores mix (tuned on the QMSum training meetings, see the benchmark).

    ``relevance``: the query's share of a sentence's score (the rest is centrality);
    ``smoothing``: the share of relevance that comes from the sentence's neighbours;
    ``window``: how many sentences on each side are neighbours; ``lexical``: TF-IDF's share
    of every similarity; ``mmr``: λ; ``min_words``: shorter sentences are not candidates;
    ``length``: a bonus for longer sentences (score × (words/20)^length); ``duplicate``: a
    sentence this similar to a chosen one is never chosen.
    """

    relevance: float = 0.7
    smoothing: float = 0.5
    window: int = 3
    lexical: float = 0.3
    mmr: float = 0.7
    min_words: int = 6
    length: float = 0.3
    duplicate: float = 0.9


DEFAULT_WEIGHTS = Weights()


def query_focus(query: str | None) -> str | None:
    """The topic of a query, without the instruction ("Summarize the discussion about").

    ``None`` for a query that asks for the whole (``"Summarize the whole meeting."``).

    Examples
    --------
    >>> query_focus("Summarize the discussion about the bill to ban physical punishment.")
    'the bill to ban physical punishment.'
    >>> query_focus("Summarize the whole meeting.") is None
    True
    """
    if query is None or not query.strip():
        return None
    focus = _INSTRUCTION.sub("", query, count=1).strip()
    if _GENERAL.match(focus):
        return None
    return focus or query.strip()


def summarize(
    sentences: Sequence[Sentence],
    *,
    query: str | None = None,
    words: int = 120,
    embedder: Embedder | None = None,
    weights: Weights = DEFAULT_WEIGHTS,
    drop_filler: bool = True,
) -> Summary:
    """An extractive summary of ``sentences`` of about ``words`` words.

    Parameters
    ----------
    sentences
        From :func:`evalkit.summarize.split_sentences`, in reading order.
    query
        What the summary is about (a code's definition, a question); ``None`` for a
        summary of the whole.
    words
        The length: the summary stops at the first sentence that reaches it, so it is at
        most one sentence over.
    embedder
        Sentence embeddings (the project's cached one); ``None`` for TF-IDF alone.
    weights
        How relevance, centrality, redundancy and length mix.
    drop_filler
        Leave out greetings, procedure, fillers and stage directions
        (:func:`evalkit.summarize.is_filler`).

    Returns
    -------
    Summary
        Sentences in source order, each verbatim from its excerpt with its offsets.

    Examples
    --------
    >>> from evalkit.summarize import split_sentences
    >>> parts = split_sentences([("e1", "Hi everyone. The shelter has ten beds for youth."),
    ...                          ("e2", "Okay. Youth wait weeks for a shelter bed.")])
    >>> summarize(parts, words=7).summary
    'The shelter has ten beds for youth.'
    """
    if words < 1:
        raise ValueError(f"words must be at least 1, got {words}")
    pool = [
        s
        for s in sentences
        if s.words >= weights.min_words and not (drop_filler and is_filler(s.text))
    ]
    if len(pool) < 3:  # short material: any sentence with content is a candidate
        pool = [s for s in sentences if not (drop_filler and is_filler(s.text))] or pool
    if not pool:
        return Summary("", ())
    focus = query_focus(query)
    vectors, query_vector = _vectors([s.text for s in pool], focus, embedder, weights.lexical)
    score = _scores(pool, vectors, query_vector, focus, weights)
    chosen = _mmr(pool, vectors, score, words, weights.mmr, weights.duplicate)
    picked = sorted(chosen, key=lambda i: pool[i].position)
    parts = tuple(
        SummarySentence(
            pool[i].text, pool[i].excerpt_id, pool[i].start, pool[i].end, round(float(score[i]), 4)
        )
        for i in picked
    )
    return Summary(" ".join(p.text for p in parts), parts)


def _vectors(
    texts: list[str], focus: str | None, embedder: Embedder | None, lexical: float
) -> tuple[np.ndarray | sparse.csr_matrix, np.ndarray | None]:
    """Unit rows for the sentences (and the query): embeddings and TF-IDF side by side.

    Concatenating √(1−w)·embedding with √w·TF-IDF makes a dot product the mix
    ``(1−w)·cos_embedding + w·cos_tfidf``, so one matrix serves every similarity.
    """
    tfidf = tfidf_vectors(texts + ([focus] if focus else []))
    if embedder is None:
        matrix = tfidf
    else:
        dense = embedder.embed(texts + ([focus] if focus else []))
        w = lexical if tfidf is not None else 0.0
        parts = [sparse.csr_matrix(np.sqrt(1 - w) * dense)]
        if tfidf is not None and w > 0:
            parts.append(np.sqrt(w) * tfidf)
        matrix = sparse.hstack(parts, format="csr")
    if matrix is None:  # nothing but stop words: every sentence is as good as another
        matrix = sparse.csr_matrix(np.ones((len(texts) + (1 if focus else 0), 1)))
    if focus:
        return matrix[:-1], np.asarray(matrix[-1].todense()).ravel()
    return matrix, None


def tfidf_vectors(texts: list[str]) -> sparse.csr_matrix | None:
    try:
        matrix = TfidfVectorizer(
            sublinear_tf=True, stop_words="english", token_pattern=r"(?u)\b\w[\w'-]*\w\b"
        ).fit_transform(texts)
    except ValueError:  # an empty vocabulary
        return None
    return normalize(matrix).tocsr()


def _scores(
    pool: list[Sentence],
    vectors: sparse.csr_matrix,
    query_vector: np.ndarray | None,
    focus: str | None,
    weights: Weights,
) -> np.ndarray:
    centroid = np.asarray(vectors.mean(axis=0)).ravel()
    centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
    centrality = unit_range(np.asarray(vectors @ centroid).ravel())
    if query_vector is None:
        base = centrality
    else:
        own = np.asarray(vectors @ query_vector).ravel()
        own = own + SPEAKER_BONUS * _speaker_named(pool, focus)
        near = _smooth(pool, own, weights.window)
        relevance = unit_range((1 - weights.smoothing) * own + weights.smoothing * near)
        base = weights.relevance * relevance + (1 - weights.relevance) * centrality
    length = np.array([min(s.words, 60) / 20 for s in pool]) ** weights.length
    density = np.array([min(1.0, 2.5 * len(content_words(s.text)) / s.words) for s in pool])
    return base * length * np.sqrt(density)


def _smooth(pool: list[Sentence], values: np.ndarray, window: int) -> np.ndarray:
    """Each value averaged with its neighbours within ``window`` sentences of one source."""
    out = values.copy()
    if window <= 0:
        return out
    for i, sentence in enumerate(pool):
        lo, hi = max(0, i - window), min(len(pool), i + window + 1)
        same = [j for j in range(lo, hi) if pool[j].source_id == sentence.source_id]
        out[i] = float(values[same].mean())
    return out


def _speaker_named(pool: list[Sentence], focus: str | None) -> np.ndarray:
    if not focus:
        return np.zeros(len(pool))
    named = {w.lower() for w in _NAME.findall(focus)} - _TITLES
    if not named:
        return np.zeros(len(pool))
    marks = {}
    for s in pool:
        if s.speaker not in marks:
            parts = {w.lower() for w in _NAME.findall(s.speaker or "")} - _TITLES
            marks[s.speaker] = 1.0 if parts & named else 0.0
    return np.array([marks[s.speaker] for s in pool])


def unit_range(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    return np.zeros_like(values) + 1.0 if high - low < 1e-12 else (values - low) / (high - low)


def _mmr(
    pool: list[Sentence],
    vectors: sparse.csr_matrix,
    score: np.ndarray,
    words: int,
    lam: float,
    duplicate: float,
) -> list[int]:
    order = np.argsort(-score, kind="stable")[:POOL]
    sims = (vectors[order] @ vectors[order].T).toarray()
    chosen, total = [], 0
    for pick in mmr_order(score[order], sims, lam=lam, duplicate=duplicate):
        chosen.append(int(order[pick]))
        total += pool[order[pick]].words
        if total >= words:
            break
    return chosen


def mmr_order(
    score: np.ndarray,
    sims: np.ndarray,
    *,
    lam: float = 0.7,
    duplicate: float = 0.9,
    penalty: Callable[[list[int]], np.ndarray] | None = None,
) -> Iterator[int]:
    """Indices in maximal-marginal-relevance order, until none is left that is not a
    near-duplicate (similarity ``>= duplicate``) of one already picked.

    ``penalty(picked)`` may add a cost per candidate given the picks so far (``inf`` to
    hold a candidate back); the caller stops the iteration when it has enough.

    Examples
    --------
    >>> sims = np.array([[1.0, 0.95, 0.1], [0.95, 1.0, 0.1], [0.1, 0.1, 1.0]])
    >>> list(mmr_order(np.array([0.9, 0.85, 0.5]), sims))
    [0, 2]
    """
    closest = np.zeros(len(score))
    taken = np.zeros(len(score), dtype=bool)
    picked: list[int] = []
    while not taken.all():
        gain = lam * score - (1 - lam) * closest
        if penalty is not None:
            gain = gain - penalty(picked)
        gain[taken | (closest >= duplicate)] = -np.inf
        best = int(np.argmax(gain))
        if not np.isfinite(gain[best]):
            return
        taken[best] = True
        picked.append(best)
        closest = np.maximum(closest, sims[best])
        yield best
