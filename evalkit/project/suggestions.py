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
    codebook: Codebook, coded: pd.DataFrame, *, min_examples: int = 8
) -> CodeSuggester | None:
    """A suggester trained on the coded excerpts of :func:`training_data` (None under two)."""
    if len(coded) < 2:
        return None
    return CodeSuggester(codebook=codebook, min_examples=min_examples).fit(
        coded["text"].tolist(), coded["labels"].tolist()
    )


@dataclass(frozen=True)
class SuggestionRun:
    """What a suggestion run stored."""

    model_version: str
    trained_on: int
    excerpts_scored: int
    suggestions: int
    codes_with_models: tuple[str, ...]

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


def run_suggestions(store, *, min_examples: int = 8, actor: str | None = None) -> SuggestionRun:
    """Suggest codes for every uncoded excerpt and store them for review.

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
    model = fit_project_suggester(codebook, coded, min_examples=min_examples)
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
            uncoded["excerpt_id"], match_rules(texts, codebook), strict=True
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
    with store.transaction(actor=actor, command="suggest run"):
        stored = store.replace_open_suggestions(rows, model_version=version)
    return SuggestionRun(
        model_version=version,
        trained_on=len(coded),
        excerpts_scored=len(uncoded),
        suggestions=stored,
        codes_with_models=tuple(
            sorted(
                c for c, m in (model.models_.items() if model else []) if m and m.kind == "model"
            )
        ),
    )


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


def next_to_code(
    store, n: int = 20, *, diversity: float = 0.5, min_examples: int = 8
) -> pd.DataFrame:
    """The uncoded excerpts whose human coding would help the suggester most.

    Uncertainty is how close an excerpt's most doubtful code is to its decision threshold
    (1 at the threshold, 0 far from it); without a model yet, every excerpt is equally
    uncertain. Excerpts are then picked greedily, each time maximising uncertainty minus
    ``diversity`` × its highest TF-IDF similarity to those already picked, so that a batch
    covers different ground.

    Returns
    -------
    pandas.DataFrame
        ``excerpt_id, source_id, kind, speaker, uncertainty, closest_code, text``.
    """
    codebook = _codebook(store)
    coded, uncoded = training_data(store)
    # A transcript's header lines (before the first speaker) are not worth a coder's time.
    header = (uncoded["kind"] == "interview") & uncoded["speaker"].isna()
    uncoded = uncoded[~header].reset_index(drop=True)
    if uncoded.empty:
        return pd.DataFrame(
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
    texts = uncoded["text"].tolist()
    model = fit_project_suggester(codebook, coded, min_examples=min_examples)
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
    else:
        uncertainty = np.ones(len(texts))
        closest = np.array([None] * len(texts))
    vectors = normalize(TfidfVectorizer(sublinear_tf=True, min_df=1).fit_transform(texts))
    picked: list[int] = []
    best_similarity = np.zeros(len(texts))
    for _ in range(min(n, len(texts))):
        score = uncertainty - diversity * best_similarity
        score[picked] = -np.inf
        choice = int(np.argmax(score))
        picked.append(choice)
        best_similarity = np.maximum(
            best_similarity, np.asarray(vectors @ vectors[choice].T.toarray()).ravel()
        )
    result = uncoded.iloc[picked][["excerpt_id", "source_id", "kind", "speaker", "text"]].copy()
    result.insert(4, "uncertainty", np.round(uncertainty[picked], 4))
    result.insert(5, "closest_code", closest[picked])
    return result.reset_index(drop=True)
