"""The suggestion workflow on a project: run, review, and choose what to code next.

The suggester learns from the team's human codings (:func:`evalkit.codings.team_codes`:
the consensus where there is one, else every code a person applied).
Interviewer turns are neither suggested for nor proposed for coding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from evalkit.codebook import require_codebook
from evalkit.coding.rules import match_rules
from evalkit.coding.suggester import CodeSuggester
from evalkit.codings import team_codes
from evalkit.errors import EvalkitError
from evalkit.model import Codebook


def _codebook(store) -> Codebook:
    return require_codebook(store, purpose="there is nothing to suggest")


def training_data(store) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(coded, uncoded)`` excerpt tables; ``coded`` has a ``labels`` column of code sets."""
    excerpts = store.excerpts_df()
    excerpts = excerpts[excerpts["speaker_role"] != "interviewer"]
    labels = team_codes(store.codings_df())
    coded = excerpts[excerpts["excerpt_id"].isin(labels)].copy()
    coded["labels"] = coded["excerpt_id"].map(labels)
    uncoded = excerpts[~excerpts["excerpt_id"].isin(labels)].copy()
    return coded.reset_index(drop=True), uncoded.reset_index(drop=True)


def fit_project_suggester(
    codebook: Codebook, coded: pd.DataFrame, *, min_examples: int = 8, embedder=None, cache=None
) -> CodeSuggester | None:
    """A suggester trained on the coded excerpts of :func:`training_data` (None under two).

    ``cache`` (the store) keeps rule hits across runs."""
    if len(coded) < 2:
        return None
    return CodeSuggester(
        codebook=codebook, min_examples=min_examples, embedder=embedder, cache=cache
    ).fit(coded["text"].tolist(), coded["labels"].tolist())


@dataclass(frozen=True)
class SuggestionRun:
    """What a suggestion run stored."""

    model_version: str
    trained_on: int
    excerpts_scored: int
    suggestions: int
    codes_with_models: tuple[str, ...]
    llm_suggestions: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "codes_with_models": list(self.codes_with_models)}


@dataclass(frozen=True)
class Review:
    """What a review of suggestions did: how many were accepted or rejected, and how many
    codings the accepted ones became (by the reviewer)."""

    reviewer: str
    accepted: int = 0
    rejected: int = 0
    codings: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_suggestions(
    store, *, min_examples: int = 8, actor: str | None = None, embedder=None, llm=None
) -> SuggestionRun:
    """Suggest codes for every uncoded excerpt and store them for review.

    ``embedder`` (see :func:`evalkit.project.embeddings.project_embedder`) adds sentence
    embeddings to the suggester; its model id is part of every suggestion's model version.
    ``llm`` (:class:`evalkit.project.llmgate.LLMSettings`) adds the local LLM coder's
    suggestions for the codes its measured gate enabled (:mod:`evalkit.project.llmgate`);
    where both coders suggest the same code for an excerpt, one suggestion carries both
    rationales.

    Earlier unreviewed suggestions are withdrawn; (excerpt, code) pairs a person already
    accepted or rejected are not suggested again. With fewer than two coded excerpts,
    only the codebook rules suggest (origin ``rule``).

    Raises
    ------
    CodebookError
        When the project has no codebook.
    """
    codebook = _codebook(store)
    coded, uncoded = training_data(store)
    texts = uncoded["text"].tolist()
    rows: list[dict[str, Any]] = []
    model = fit_project_suggester(
        codebook, coded, min_examples=min_examples, embedder=embedder, cache=store
    )
    if model is not None:
        version = model.model_version_
        for excerpt_id, suggestions in zip(
            uncoded["excerpt_id"], model.suggest(texts), strict=True
        ):
            rows.extend(
                {
                    "excerpt_id": excerpt_id,
                    "code": s.code,
                    "origin": s.origin,
                    "confidence": s.confidence,
                    "rationale": s.rationale,
                }
                for s in suggestions
            )
    else:
        version = "rules-only"
        for excerpt_id, hits in zip(
            uncoded["excerpt_id"], match_rules(texts, codebook, cache=store), strict=True
        ):
            terms: dict[str, list[str]] = {}
            for hit in hits:
                terms.setdefault(hit.code, []).append(hit.term)
            for code, found in terms.items():
                distinct = list(dict.fromkeys(found))
                rows.append(
                    {
                        "excerpt_id": excerpt_id,
                        "code": code,
                        "origin": "rule",
                        "confidence": round(min(0.9, 0.5 + 0.1 * len(distinct)), 2),
                        "rationale": "rule matched " + ", ".join(f"“{t}”" for t in distinct),
                    }
                )
    llm_count = 0
    if llm is not None:
        from evalkit.project.llmgate import llm_rows

        extra, llm_version = llm_rows(store, llm, codebook, coded, uncoded)
        llm_count = len(extra)
        rows = _merge(rows, extra)
        if llm_version:
            version = f"{version}; {llm_version}"
    with store.transaction(actor=actor, command="suggest run"):
        stored = store.replace_open_suggestions(rows, model_version=version)
    return SuggestionRun(
        model_version=version,
        trained_on=len(coded),
        excerpts_scored=len(uncoded),
        suggestions=stored,
        llm_suggestions=llm_count,
        codes_with_models=tuple(
            sorted(
                c for c, m in (model.models_.items() if model else []) if m and m.kind == "model"
            )
        ),
    )


def _merge(rows: list[dict], extra: list[dict]) -> list[dict]:
    """``rows`` plus ``extra``; a pair in both becomes one row with both rationales."""
    index = {(r["excerpt_id"], r["code"]): r for r in rows}
    merged = list(rows)
    for row in extra:
        key = (row["excerpt_id"], row["code"])
        if key in index:
            first = index[key]
            first["origin"] = f"{first['origin']}+llm"
            first["confidence"] = max(first["confidence"], row["confidence"])
            first["rationale"] = f"{first['rationale']}; {row['rationale']}"
        else:
            merged.append(row)
    return merged


def review(
    store,
    ids: list[int] | None = None,
    *,
    accept: bool,
    reviewer: str,
    above: float | None = None,
    code: str | None = None,
    actor: str | None = None,
) -> Review:
    """Accept or reject suggestions by ID, or in bulk above a confidence threshold."""
    if not reviewer:
        raise EvalkitError("a reviewer name is required", hint="Pass --reviewer NAME")
    chosen = list(ids or [])
    if above is not None:
        pending = store.suggestions_df(status="suggested")
        pending = pending[pending["confidence"] >= above]
        if code:
            pending = pending[pending["code"] == code]
        chosen += [int(i) for i in pending["suggestion_id"] if int(i) not in chosen]
    if not chosen:
        raise EvalkitError(
            "no suggestions chosen",
            hint="Give suggestion IDs, or --above CONFIDENCE for bulk review",
        )
    bulk = "bulk review of suggestions" if above is not None else None
    with store.transaction(actor=actor or reviewer, command="suggest review", backup=bulk):
        done = store.review_suggestions(chosen, accept=accept, reviewer=reviewer)
    return Review(
        reviewer=reviewer,
        accepted=done.get("accepted", 0),
        rejected=done.get("rejected", 0),
        codings=done["codings"],
    )


@dataclass(frozen=True)
class ReadingPlan:
    """What to code next, and how far the reading has got.

    ``picks`` are the excerpts to code next (:func:`next_to_code`). ``progress`` has one
    row per code with a model of its own: ``found`` (coded excerpts with the code),
    ``expected_unread`` (the calibrated model's expected count among uncoded excerpts),
    ``estimated_recall`` and ``to_read_for_90`` (uncoded excerpts, in ranked order, the
    model expects a reader to need for 90% estimated recall). ``read``/``unread`` count
    excerpts (interviewers' turns and transcript headers aside)."""

    picks: pd.DataFrame
    progress: pd.DataFrame
    read: int
    unread: int

    @property
    def read_share(self) -> float:
        total = self.read + self.unread
        return self.read / total if total else 0.0

    def sentences(self) -> list[str]:
        """ "about 92% of HOUSING_GAP excerpts found after reading 31%", per code."""
        share = f"{self.read_share:.0%}"
        return [
            f"about {r.estimated_recall:.0%} of {r.code} excerpts found after reading {share}"
            + (
                f"; about {r.to_read_for_90} more in ranked order for 90%"
                if r.to_read_for_90
                else ""
            )
            for r in self.progress.itertuples()
            if r.estimated_recall == r.estimated_recall  # not NaN
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "excerpts": self.picks.to_dict(orient="records"),
            "progress": self.progress.to_dict(orient="records"),
            "read": self.read,
            "unread": self.unread,
            "read_share": round(self.read_share, 4),
            "summary": self.sentences(),
        }


PROGRESS_COLUMNS = ["code", "found", "expected_unread", "estimated_recall", "to_read_for_90"]


def next_to_code(
    store, n: int = 20, *, diversity: float = 0.5, min_examples: int = 8, embedder=None
) -> pd.DataFrame:
    """The uncoded excerpts whose human coding would help the suggester most
    (:func:`plan_reading`'s ``picks``)."""
    return plan_reading(
        store, n, diversity=diversity, min_examples=min_examples, embedder=embedder
    ).picks


def plan_reading(
    store, n: int = 20, *, diversity: float = 0.5, min_examples: int = 8, embedder=None
) -> ReadingPlan:
    """The uncoded excerpts whose human coding would help the suggester most, and the
    estimated recall so far of every code with a model.

    Uncertainty is how close an excerpt's most doubtful code is to its decision threshold
    (1 at the threshold, 0 far from it); without a model yet, every excerpt is equally
    uncertain. Excerpts are then picked greedily, each time maximising uncertainty minus
    ``diversity`` × its highest similarity to those already picked (cosine of sentence
    embeddings with an ``embedder``, else of TF-IDF), so that a batch covers different
    ground.

    The recall estimate follows technology-assisted review practice: the excerpts coded
    so far found ``found`` of a code; the calibrated model expects the sum of its
    probabilities more among the uncoded; recall is estimated as found over both. It is
    an estimate from the model, as good as the model's calibration (``coder-eval``
    checks it against known answers: ``stop_true_recall``).

    Returns
    -------
    ReadingPlan
        ``picks``: ``excerpt_id, source_id, kind, speaker, uncertainty, closest_code,
        text``; ``progress``: see :class:`ReadingPlan`.
    """
    codebook = _codebook(store)
    coded, uncoded = training_data(store)
    # A transcript's header lines (before the first speaker) are not worth a coder's time.
    header = (uncoded["kind"] == "interview") & uncoded["speaker"].isna()
    uncoded = uncoded[~header].reset_index(drop=True)
    if uncoded.empty:
        empty = pd.DataFrame(
            columns=[
                "excerpt_id",
                "source_id",
                "kind",
                "speaker",
                "uncertainty",
                "closest_code",
                "text",
            ]
        )
        return ReadingPlan(empty, pd.DataFrame(columns=PROGRESS_COLUMNS), len(coded), 0)
    texts = uncoded["text"].tolist()
    model = fit_project_suggester(
        codebook, coded, min_examples=min_examples, embedder=embedder, cache=store
    )
    if model is not None:
        probabilities = model.predict_proba(texts)
        limits = model.thresholds()
        closeness = pd.DataFrame(
            {
                code: 1 - np.abs(probabilities[code] - t) / max(t, 1 - t, 1e-9)
                for code, t in limits.items()
                if np.isfinite(t)
            }
        ).clip(lower=0)
        uncertainty = closeness.max(axis=1).to_numpy()
        closest = closeness.idxmax(axis=1).to_numpy()
        progress = _progress(model, coded, probabilities)
    else:
        uncertainty = np.ones(len(texts))
        closest = np.array([None] * len(texts))
        progress = pd.DataFrame(columns=PROGRESS_COLUMNS)
    if embedder is not None:
        vectors = embedder.embed(texts)
    else:
        vectors = normalize(TfidfVectorizer(sublinear_tf=True, min_df=1).fit_transform(texts))
    picked: list[int] = []
    best_similarity = np.zeros(len(texts))
    for _ in range(min(n, len(texts))):
        score = uncertainty - diversity * best_similarity
        score[picked] = -np.inf
        choice = int(np.argmax(score))
        picked.append(choice)
        similarity = vectors @ vectors[choice].T
        best_similarity = np.maximum(
            best_similarity,
            np.asarray(similarity.toarray() if sparse.issparse(similarity) else similarity).ravel(),
        )
    result = uncoded.iloc[picked][["excerpt_id", "source_id", "kind", "speaker", "text"]].copy()
    result.insert(4, "uncertainty", np.round(uncertainty[picked], 4))
    result.insert(5, "closest_code", closest[picked])
    return ReadingPlan(result.reset_index(drop=True), progress, len(coded), len(uncoded))


def _progress(model: CodeSuggester, coded: pd.DataFrame, probabilities: pd.DataFrame):
    from evalkit.coding.evaluate import estimated_recall, to_read_for

    rows = []
    for code, fitted in model.models_.items():
        if fitted is None or fitted.kind != "model":
            continue  # a cold-start score is a similarity, not a probability
        found = int(sum(code in labels for labels in coded["labels"]))
        unread = probabilities[code].to_numpy()
        recall = estimated_recall(found, unread)
        rows.append(
            {
                "code": code,
                "found": found,
                "expected_unread": round(float(unread.sum()), 1),
                "estimated_recall": round(recall, 4) if recall is not None else float("nan"),
                "to_read_for_90": to_read_for(found, unread),
            }
        )
    return pd.DataFrame(rows, columns=PROGRESS_COLUMNS)
