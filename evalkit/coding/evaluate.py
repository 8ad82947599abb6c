"""How close does the suggester come to a human coder? Leak-free cross-validation.

Units are split into K folds. For each fold, a fresh :class:`CodeSuggester` is fitted on
the coder's labels of the other folds only — its TF-IDF vocabulary, models and thresholds
all come from those — and predicts the held-out fold. The pooled held-out predictions are
compared with the coder's labels, and with another human coder's agreement on the same
units where there is one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support
from sklearn.model_selection import KFold

from evalkit.coding.suggester import CodeSuggester
from evalkit.errors import EvalkitError
from evalkit.model import Codebook

MACRO_MIN_POSITIVES = 10
EFFORT = 0.30


def read_coded_units(path: str | Path) -> pd.DataFrame:
    """A long ``unit,text,coder,code`` table (CSV or XLSX), blanks as ``""``."""
    from evalkit.ingest.tabular import load_table, require_columns

    frame = load_table(path)
    require_columns(frame, ["unit", "text", "coder", "code"], Path(path), "coder-eval")
    return frame


def label_sets(frame: pd.DataFrame, coder: str) -> tuple[list[str], list[str], list[set[str]]]:
    """Units, their texts and the coder's code sets (an empty set: coded, none applied)."""
    mine = frame[frame["coder"] == coder]
    units = list(dict.fromkeys(mine["unit"]))
    texts = mine.groupby("unit")["text"].first()
    codes = mine.groupby("unit")["code"].apply(lambda c: {x for x in c if x})
    return units, [str(texts[u]) for u in units], [codes[u] for u in units]


@dataclass(frozen=True)
class CoderEval:
    """How well the suggester, trained on one coder, reproduces that coder in
    cross-validation: per code (``codes``: n_pos, precision, recall, f1, kappa,
    human_kappa, note) and on average (``macro``), with the recall of that coder's codings
    in the top 30% of (unit, code) pairs by confidence. ``seconds`` is how long it took,
    for people; it is not part of the result's meaning."""

    coder: str
    n_units: int
    folds: int
    seed: int
    codes: dict[str, dict[str, Any]]
    macro: dict[str, Any]
    recall_at_30pct_effort: float | None
    seconds: float
    model: str = ""  # what was measured: the coder's features and models, without fold detail

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def coder_eval(
    frame: pd.DataFrame,
    coder: str,
    *,
    folds: int = 5,
    seed: int = 0,
    codebook: Codebook | None = None,
    min_examples: int = 8,
    embedder=None,
    make_coder=None,
    max_train: int | None = None,
) -> CoderEval:
    """Cross-validated agreement of the suggester with ``coder``.

    ``embedder`` adds the dense block to the suggester (each text is embedded once for all
    folds). ``make_coder`` (no arguments, returns an unfitted coder with the
    :class:`CodeSuggester` contract: ``fit``, ``predict_proba``, ``thresholds``) measures
    another coder, such as :class:`evalkit.coding.llm.LLMCoder`, exactly the same way.
    ``max_train`` fits each fold on a random ``max_train`` of its training units (seeded),
    for learning curves; the test folds are unchanged.

    Returns
    -------
    CoderEval
        ``codes`` (per code: ``n_pos, precision, recall, f1, kappa`` and ``human_kappa``
        where another coder coded the same units; codes too rare for a model carry a
        ``note``), ``macro`` (means over codes with at least 10 positives),
        ``recall_at_30pct_effort``, ``n_units``, ``folds``, ``seconds``.

    Raises
    ------
    EvalkitError
        For an unknown coder, or fewer units than folds.
    """
    started = time.perf_counter()
    frame = frame.copy()
    for column in ("unit", "coder", "code", "text"):
        frame[column] = frame[column].where(frame[column].notna(), "").astype(str).str.strip()
    coders = sorted(set(frame["coder"]) - {""})
    if coder not in coders:
        raise EvalkitError(
            f"coder '{coder}' is not in the file",
            hint=f"Coders in the file: {', '.join(coders) or '(none)'}",
        )
    units, texts, truth_sets = label_sets(frame, coder)
    if folds < 2:
        raise EvalkitError(f"--folds must be at least 2, got {folds}")
    if len(units) < folds:
        raise EvalkitError(
            f"coder '{coder}' coded {len(units)} unit(s), fewer than the {folds} folds",
            hint="Use fewer --folds or code more units",
        )
    # Every code anyone used (or the codebook defines) is reported, even one this coder
    # never applied: a code with no positives is a finding, not something to hide.
    codes = sorted(set().union(*truth_sets) | (set(frame["code"]) - {""}))
    if codebook is not None:
        codes = sorted(set(codes) | {c.name for c in codebook.codes})
    truth = pd.DataFrame(
        {c: [c in s for s in truth_sets] for c in codes}, index=units, columns=codes
    ).astype(bool)
    probabilities = pd.DataFrame(0.0, index=units, columns=codes)
    decisions = pd.DataFrame(False, index=units, columns=codes)
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    text_array = np.array(texts, dtype=object)
    if embedder is not None and make_coder is None:
        from evalkit.embedding import CachedEmbedder

        embedder = embedder if isinstance(embedder, CachedEmbedder) else CachedEmbedder(embedder)
    rng = np.random.default_rng(seed)
    for train, test in splitter.split(units):
        if max_train is not None:
            if max_train > len(train):
                raise EvalkitError(
                    f"{max_train} training units asked for, but a fold has only {len(train)}"
                )
            train = np.sort(rng.choice(train, size=max_train, replace=False))
        model = (
            make_coder()
            if make_coder is not None
            else CodeSuggester(
                codebook=codebook, min_examples=min_examples, random_state=seed, embedder=embedder
            )
        )
        model.fit(text_array[train].tolist(), [truth_sets[i] for i in train])
        held_out = text_array[test].tolist()
        proba = model.predict_proba(held_out)
        limits = model.thresholds()
        test_units = [units[i] for i in test]
        for code in codes:
            if code in proba.columns:
                probabilities.loc[test_units, code] = proba[code].to_numpy()
                decisions.loc[test_units, code] = proba[code].to_numpy() >= limits[code]

    others = [c for c in coders if c != coder]
    per_code: dict[str, dict[str, Any]] = {}
    for code in codes:
        y, predicted = truth[code].to_numpy(), decisions[code].to_numpy()
        precision, recall, f1, _ = precision_recall_fscore_support(
            y, predicted, average="binary", zero_division=0
        )
        entry: dict[str, Any] = {
            "n_pos": int(y.sum()),
            "precision": round(float(precision), 4),
            "recall": round(float(recall), 4),
            "f1": round(float(f1), 4),
            "kappa": _kappa(y, predicted),
        }
        # Only a calibrated model's scores are probabilities; a cold start's are similarities.
        calibrated = make_coder is not None or y.sum() >= min_examples
        stop = stopping_check(probabilities[code].to_numpy(), y) if calibrated else None
        if stop is not None:
            entry["stop_read_share"] = stop["read_share"]
            entry["stop_true_recall"] = stop["true_recall"]
        human = _human_kappa(frame, coder, others, code)
        if human is not None:
            entry["human_kappa"] = human
        if y.sum() == 0:
            entry["note"] = f"no positives: {coder} never applied this code, so nothing to learn"
        elif y.sum() < min_examples:
            entry["note"] = (
                f"only {int(y.sum())} positive(s): too few for a model of its own; "
                "suggested from similarity (cold start)"
            )
        per_code[code] = entry
    macro_codes = [c for c, e in per_code.items() if e["n_pos"] >= MACRO_MIN_POSITIVES]
    macro = {
        "n_codes": len(macro_codes),
        "kappa": _mean(per_code[c]["kappa"] for c in macro_codes),
        "human_kappa": _mean(per_code[c].get("human_kappa") for c in macro_codes),
        "f1": _mean(per_code[c]["f1"] for c in macro_codes),
    }
    return CoderEval(
        coder=coder,
        n_units=len(units),
        folds=folds,
        seed=seed,
        codes=per_code,
        macro=macro,
        recall_at_30pct_effort=recall_at_effort(probabilities, truth, EFFORT),
        seconds=round(time.perf_counter() - started, 2),
        model=_describe(model),
    )


def _describe(model) -> str:
    version = str(getattr(model, "model_version_", type(model).__name__))
    # A learned coder's version ends in a digest of its fold's training data.
    return version.rsplit("-", 1)[0] if isinstance(model, CodeSuggester) else version


STOP_RECALL = 0.90


def estimated_recall(found: int, unread_probabilities: np.ndarray) -> float | None:
    """Recall so far, estimated the technology-assisted-review way: the positives found,
    over those plus the positives the calibrated model still expects among the unread
    (the sum of their probabilities). None when there is nothing to find."""
    expected = float(np.sum(unread_probabilities))
    if found + expected <= 0:
        return None
    return found / (found + expected)


def to_read_for(found: int, unread_probabilities: np.ndarray, target: float = STOP_RECALL) -> int:
    """How many unread texts, taken in ranked order, the model expects a reader to need
    for the estimated recall to reach ``target``."""
    p = np.sort(np.asarray(unread_probabilities, dtype=float))[::-1]
    total = found + float(p.sum())
    if total <= 0 or found >= target * total:
        return 0
    needed = target * total - found
    reached = np.flatnonzero(np.cumsum(p) >= needed - 1e-9)
    return int(reached[0] + 1) if len(reached) else len(p)


def stopping_check(
    probabilities: np.ndarray, truth: np.ndarray, target: float = STOP_RECALL
) -> dict[str, Any] | None:
    """Read the texts in ranked order and stop when the estimated recall first reaches
    ``target``: how much was read by then, and the true recall at that point.

    This checks the estimator of :func:`estimated_recall` against known answers (the
    held-out folds of cross-validation)."""
    truth = np.asarray(truth, dtype=bool)
    if not truth.any():
        return None
    order = np.argsort(-np.asarray(probabilities, dtype=float), kind="stable")
    p, y = np.asarray(probabilities, dtype=float)[order], truth[order]
    found = np.cumsum(y)
    unread = p.sum() - np.cumsum(p)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = found / (found + unread)
    reached = np.flatnonzero(estimate >= target)
    k = int(reached[0] + 1) if len(reached) else len(p)
    return {
        "read_share": round(k / len(p), 4),
        "true_recall": round(float(found[k - 1] / truth.sum()), 4),
        "estimated_recall": round(float(estimate[k - 1]), 4),
    }


@dataclass(frozen=True)
class LearningPoint:
    """Agreement with the coder when the suggester learns from ``n_train`` units:
    macro κ, the human-human κ on the same codes, and their ratio (None where the data
    has too few units for that size: ``note`` says so)."""

    n_train: int
    kappa: float | None
    human_kappa: float | None
    ratio: float | None
    recall_at_30pct_effort: float | None
    note: str = ""


def learning_curve(
    frame: pd.DataFrame,
    coder: str,
    sizes: list[int],
    *,
    folds: int = 5,
    seed: int = 0,
    **options: Any,
) -> list[LearningPoint]:
    """:func:`coder_eval` with each fold's training set cut to each of ``sizes``.

    Every size is measured on the same held-out folds, so the points differ only in how
    much the suggester learned from. ``options`` go to :func:`coder_eval`.
    """
    units = frame.loc[frame["coder"].astype(str).str.strip() == coder, "unit"].nunique()
    largest = units - int(math.ceil(units / folds))
    points = []
    for size in sizes:
        if size > largest:
            points.append(
                LearningPoint(
                    size,
                    None,
                    None,
                    None,
                    None,
                    f"not measured: {coder} coded {units} unit(s), so a {folds}-fold training"
                    f" set holds at most {largest}",
                )
            )
            continue
        result = coder_eval(frame, coder, folds=folds, seed=seed, max_train=size, **options)
        kappa, human = result.macro["kappa"], result.macro["human_kappa"]
        points.append(
            LearningPoint(
                size,
                kappa,
                human,
                round(kappa / human, 4) if kappa is not None and human else None,
                result.recall_at_30pct_effort,
            )
        )
    return points


def recall_at_effort(
    probabilities: pd.DataFrame, truth: pd.DataFrame, effort: float
) -> float | None:
    """Share of the true (unit, code) pairs found in the top ``effort`` of pairs by confidence."""
    scores = probabilities.to_numpy().ravel()
    labels = truth.to_numpy().ravel()
    if labels.sum() == 0:
        return None
    order = np.argsort(-scores, kind="stable")
    top = order[: int(math.ceil(effort * len(order)))]
    return round(float(labels[top].sum() / labels.sum()), 4)


def _kappa(y: np.ndarray, predicted: np.ndarray) -> float | None:
    if len(set(y.tolist()) | set(predicted.tolist())) < 2:
        return None
    value = cohen_kappa_score(y, predicted)
    return None if math.isnan(value) else round(float(value), 4)


def _human_kappa(frame: pd.DataFrame, coder: str, others: list[str], code: str) -> float | None:
    values = []
    mine = frame[frame["coder"] == coder]
    my_sets = mine.groupby("unit")["code"].apply(set)
    for other in others:
        theirs = frame[frame["coder"] == other].groupby("unit")["code"].apply(set)
        shared = my_sets.index.intersection(theirs.index)
        if len(shared) == 0:
            continue
        a = np.array([code in my_sets[u] for u in shared])
        b = np.array([code in theirs[u] for u in shared])
        value = _kappa(a, b)
        if value is not None:
            values.append(value)
    return round(float(np.mean(values)), 4) if values else None


def _mean(values) -> float | None:
    finite = [v for v in values if v is not None]
    return round(float(np.mean(finite)), 4) if finite else None
