"""``CodeSuggester``: learns the team's own coding, one calibrated model per code.

Features are word (1-2) and character (2-4) n-gram TF-IDF of the excerpt, the codebook
rule hits when a codebook is given, and, when an ``embedder`` is given, the excerpt's
sentence embedding (a dense block, :mod:`evalkit.embedding`), which carries meaning that
shares no word with the training texts. For each code with at least ``min_examples``
human examples:

1. out-of-fold decision scores come from ``cv``-fold logistic regression with balanced
   class weights (rare codes are not drowned by the absent class);
2. a sigmoid (Platt) fitted on those scores turns them into probabilities;
3. the decision threshold is the mean of two on the out-of-fold probabilities: the one
   that maximises Cohen's κ against the training coder, and the one that predicts the
   code as often as the coder applied it (the κ-best cut alone overfits a few dozen
   positives; the mean was better for both sample coders over four fold seeds);
4. the final model is fitted on all the training data.

A code with fewer examples starts *cold*: it is scored by cosine similarity to a seed made
of the codebook's MacQueen fields (brief, definition, when to use, examples, keywords)
plus the few human examples — in embedding space when there is an embedder, else in
TF-IDF space — and its suggestions say so.

Everything the suggester learns — vocabulary, models, thresholds — comes from the texts
passed to ``fit``; nothing from the texts it later scores.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from evalkit.model import Codebook

RULE_WEIGHT = 1.0
SCORE_BATCH = 2000  # texts scored at a time: memory stays flat however many there are
DENSE_WEIGHT = 2.0


@dataclass(frozen=True)
class Suggestion:
    """A machine suggestion: a code for a text, how sure, and why."""

    code: str
    confidence: float
    origin: str  # "model", "cold-start" or "rule"
    rationale: str


@dataclass
class _CodeModel:
    kind: str  # "model" or "cold-start"
    threshold: float
    n_pos: int
    classifier: LogisticRegression | None = None
    platt: LogisticRegression | None = None
    centroid: np.ndarray | None = None


def kappa_threshold(probabilities: np.ndarray, truth: np.ndarray) -> float:
    """The threshold on ``probabilities`` that maximises Cohen's κ against ``truth``."""
    truth = truth.astype(bool)
    candidates = np.unique(np.quantile(probabilities, np.linspace(0.0, 1.0, 201)))
    n = len(truth)
    best, best_threshold = -np.inf, 0.5
    positives = truth.mean()
    for threshold in candidates:
        predicted = probabilities >= threshold
        observed = np.mean(predicted == truth)
        rate = predicted.mean()
        expected = rate * positives + (1 - rate) * (1 - positives)
        kappa = (observed - expected) / (1 - expected) if expected < 1 else 0.0
        if kappa > best + 1e-12:
            best, best_threshold = kappa, float(threshold)
    return best_threshold if n else 0.5


class CodeSuggester(BaseEstimator):
    """Suggest codes for excerpts, learned from human codings.

    Parameters
    ----------
    codebook
        Optional; supplies rule-hit features and the cold-start seeds.
    embedder
        Optional :class:`evalkit.embedding.Embedder`; adds the dense block and moves cold
        start into embedding space. Its ``model_id`` becomes part of ``model_version_``.
    dense_weight
        Scale of the dense block against the TF-IDF blocks (each row of which has unit norm).
    cache
        Optional text cache for rule hits (see :func:`evalkit.coding.rules.match_rules`).
    min_examples
        Human examples a code needs before it gets its own model.
    C
        Inverse regularisation strength of the logistic regressions.
    cv
        Folds for the out-of-fold scores used in calibration and threshold tuning; by
        default 3, or 2 from 1,000 texts on (where half the data already gives stable
        scores, and fitting time matters).
    n_jobs
        Codes fitted in parallel threads (-1: one per core).
    random_state
        Seed for the folds.

    Examples
    --------
    >>> texts = ["the bulletin took forever", "pocket cards at last", "housing is scarce"] * 4
    >>> labels = [{"POLICY"}, {"POLICY"}, set()] * 4
    >>> model = CodeSuggester(min_examples=3).fit(texts, labels)
    >>> bool(model.predict(["the bulletin and the cards"]).loc[0, "POLICY"])
    True
    """

    def __init__(
        self,
        *,
        codebook: Codebook | None = None,
        embedder=None,
        dense_weight: float = DENSE_WEIGHT,
        cache=None,
        min_examples: int = 8,
        C: float = 4.0,
        cv: int | None = None,
        n_jobs: int = -1,
        random_state: int = 0,
    ) -> None:
        self.codebook = codebook
        self.embedder = embedder
        self.dense_weight = dense_weight
        self.cache = cache
        self.min_examples = min_examples
        self.C = C
        self.cv = cv
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- fitting ------------------------------------------------------------------------

    def fit(self, texts: Sequence[str], labels: Sequence[Iterable[str]]) -> CodeSuggester:
        """Learn from ``texts`` and the set of codes a human applied to each.

        An empty set means the text was coded and no code applies.
        """
        texts = [str(t) for t in texts]
        label_sets = [set(codes) for codes in labels]
        if len(texts) != len(label_sets):
            raise ValueError(f"{len(texts)} texts but {len(label_sets)} label sets")
        if len(texts) < 2:
            raise ValueError("CodeSuggester needs at least two coded texts to fit")
        known = set().union(*label_sets)
        if self.codebook is not None:
            known |= {c.name for c in self.codebook.codes}
        self.codes_ = sorted(known)
        self.vectorizer_ = FeatureUnion(
            [
                (
                    "words",
                    TfidfVectorizer(
                        ngram_range=(1, 2), min_df=2, sublinear_tf=True, strip_accents="unicode"
                    ),
                ),
                (
                    "chars",
                    TfidfVectorizer(
                        analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True
                    ),
                ),
            ]
        )
        text_features = self.vectorizer_.fit_transform(texts)
        self.rule_codes_ = self._rule_codes()
        dense = self._dense(texts)
        features = self._features(text_features, texts, dense=dense)
        self.cv_ = self.cv or (3 if len(texts) < 1000 else 2)
        seeds = self._seed_vectors()
        cold_space = dense if dense is not None else text_features

        def fit_code(code: str) -> _CodeModel | None:
            y = np.array([code in s for s in label_sets], dtype=int)
            positives = int(y.sum())
            if positives >= self.min_examples and len(y) - positives >= self.cv_:
                return self._fit_model(features, y)
            return self._fit_cold(code, cold_space, y, seeds.get(code))

        # The solvers spend their time in compiled code, so threads share the cores well;
        # BLAS gets one thread each, or threads x BLAS threads oversubscribe the cores
        # (several times slower on a machine that is busy with anything else).
        with threadpool_limits(1):
            fitted = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(fit_code)(code) for code in self.codes_
            )
        self.models_: dict[str, _CodeModel | None] = dict(zip(self.codes_, fitted, strict=True))
        digest = hashlib.sha256()
        for text, codes in zip(texts, label_sets, strict=True):
            digest.update(text.encode("utf-8") + b"\x1f" + ";".join(sorted(codes)).encode())
        dense_id = f"+{self.embedder.model_id}" if self.embedder is not None else ""
        self.model_version_ = f"tfidf{dense_id}-lr-{digest.hexdigest()[:10]}"
        self.n_train_ = len(texts)
        return self

    def _fit_model(self, features: sparse.csr_matrix, y: np.ndarray) -> _CodeModel:
        folds = StratifiedKFold(
            n_splits=min(self.cv_, int(y.sum())), shuffle=True, random_state=self.random_state
        )
        scores = cross_val_predict(
            self._classifier(), features, y, cv=folds, method="decision_function"
        )
        platt = LogisticRegression(C=1e6).fit(scores.reshape(-1, 1), y)
        probabilities = platt.predict_proba(scores.reshape(-1, 1))[:, 1]
        classifier = self._classifier().fit(features, y)
        as_often = float(np.quantile(probabilities, 1 - y.mean()))
        return _CodeModel(
            kind="model",
            threshold=(kappa_threshold(probabilities, y) + as_often) / 2,
            n_pos=int(y.sum()),
            classifier=classifier,
            platt=platt,
        )

    def _classifier(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, class_weight="balanced", solver="lbfgs", max_iter=200)

    def _fit_cold(self, code: str, features, y: np.ndarray, seed: np.ndarray | None):
        unit = normalize(features)
        positives = np.flatnonzero(y == 1)
        if not len(positives) and seed is None:
            return None  # no example and nothing in the codebook to start from

        def prototype(leave_out: int | None = None) -> np.ndarray | None:
            keep = [i for i in positives if i != leave_out]
            parts = [np.asarray(unit[keep].mean(axis=0)).ravel()] if keep else []
            if seed is not None:
                parts.append(seed)
            return normalize(np.mean(parts, axis=0).reshape(1, -1)).ravel() if parts else None

        centroid = prototype()
        similarity = np.asarray(unit @ centroid).ravel()
        # A positive scored against a prototype built from itself looks better than any new
        # text will; score each positive against the others (leave one out) to set the bar.
        for i in positives:
            held_out = prototype(leave_out=i)
            similarity[i] = (
                float(np.asarray(unit[i] @ held_out).ravel()[0]) if held_out is not None else 0.0
            )
        # With a handful of examples the best-κ threshold on the training texts is noisy;
        # never let a cold code claim more than twice its share of texts (at most 10%).
        share = min(0.10, 2 * y.mean()) if y.any() else 0.03
        ceiling = float(np.quantile(similarity, 1 - share))
        threshold = max(kappa_threshold(similarity, y), ceiling) if y.any() else ceiling
        return _CodeModel(
            kind="cold-start", threshold=threshold, n_pos=int(y.sum()), centroid=centroid
        )

    def _seed_vectors(self) -> dict[str, np.ndarray]:
        if self.codebook is None:
            return {}
        texts = {}
        for code in self.codebook.codes:
            text = " ".join(
                [code.brief, code.definition, *code.examples, *code.keywords, code.when_to_use]
            ).strip()
            if text:
                texts[code.name] = text
        if not texts:
            return {}
        if self.embedder is not None:
            # The definition and each example are embedded on their own and averaged: one
            # long concatenation would blur them into the model's window. One call for
            # every code's parts.
            parts: dict[str, list[str]] = {}
            for code in self.codebook.codes:
                if code.name in texts:
                    fields = [" ".join([code.brief, code.definition, code.when_to_use]).strip()]
                    parts[code.name] = [p for p in fields + list(code.examples) if p.strip()]
                    parts[code.name] = parts[code.name] or [texts[code.name]]
            flat = [p for chunk in parts.values() for p in chunk]
            vectors = self.embedder.embed(flat)
            seeds, start = {}, 0
            for name, chunk in parts.items():
                block = vectors[start : start + len(chunk)]
                seeds[name] = normalize(block.mean(axis=0, keepdims=True)).ravel()
                start += len(chunk)
            return seeds
        matrix = normalize(self.vectorizer_.transform(list(texts.values()))).toarray()
        return dict(zip(texts, matrix, strict=True))

    def _rule_codes(self) -> list[str]:
        if self.codebook is None:
            return []
        return [c.name for c in self.codebook.codes if c.keywords or c.patterns]

    def _rule_hits(self, texts: Sequence[str]):
        from evalkit.coding.rules import match_rules

        if not self.rule_codes_:
            return [[] for _ in texts]
        return match_rules(list(texts), self.codebook, cache=self.cache)

    def _dense(self, texts: Sequence[str]) -> np.ndarray | None:
        if self.embedder is None:
            return None
        return np.asarray(self.embedder.embed(list(texts)), dtype=np.float64)

    def _features(self, text_features, texts, hits=None, dense=None):
        blocks = [text_features]
        if self.rule_codes_:
            blocks.append(self._rule_matrix(texts, hits))
        if dense is not None:
            blocks.append(sparse.csr_matrix(dense * self.dense_weight))
        return sparse.hstack(blocks).tocsr() if len(blocks) > 1 else text_features.tocsr()

    def _rule_matrix(self, texts, hits=None):
        hits = self._rule_hits(texts) if hits is None else hits
        index = {c: i for i, c in enumerate(self.rule_codes_)}
        rows, cols = [], []
        for row, text_hits in enumerate(hits):
            for column in {index[h.code] for h in text_hits if h.code in index}:
                rows.append(row)
                cols.append(column)
        return sparse.csr_matrix(
            (np.full(len(rows), RULE_WEIGHT), (rows, cols)),
            shape=(len(texts), len(self.rule_codes_)),
        )

    # -- predicting ---------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            raise NotFittedError(
                "This CodeSuggester is not fitted yet. Call 'fit' with coded texts first."
            )

    def predict_proba(self, texts: Sequence[str]) -> pd.DataFrame:
        """Confidence per text (rows) and code (columns), between 0 and 1."""
        self._check_fitted()
        texts = [str(t) for t in texts]
        parts = [
            self._score(texts[i : i + SCORE_BATCH])[0] for i in range(0, len(texts), SCORE_BATCH)
        ]
        probabilities = np.vstack(parts) if parts else np.zeros((0, len(self.codes_)))
        return pd.DataFrame(probabilities, columns=self.codes_)

    def _score(self, texts: list[str], hits=None) -> tuple[np.ndarray, sparse.csr_matrix]:
        self._check_fitted()
        text_features = self.vectorizer_.transform(texts).tocsr()
        dense = self._dense(texts)
        features = self._features(text_features, texts, hits, dense=dense)
        normalised = normalize(dense if dense is not None else text_features)
        result = np.zeros((len(texts), len(self.codes_)))
        for column, code in enumerate(self.codes_):
            model = self.models_[code]
            if model is None:
                continue
            if model.kind == "model":
                scores = model.classifier.decision_function(features)
                result[:, column] = model.platt.predict_proba(scores.reshape(-1, 1))[:, 1]
            else:
                result[:, column] = np.clip(np.asarray(normalised @ model.centroid).ravel(), 0, 1)
        return result, text_features

    def thresholds(self) -> dict[str, float]:
        self._check_fitted()
        return {c: (m.threshold if m else np.inf) for c, m in self.models_.items()}

    def predict(self, texts: Sequence[str]) -> pd.DataFrame:
        """True where a code's confidence reaches its tuned threshold."""
        probabilities = self.predict_proba(texts)
        limits = self.thresholds()
        return pd.DataFrame(
            {c: probabilities[c].to_numpy() >= limits[c] for c in self.codes_},
            columns=self.codes_,
        )

    def suggest(self, texts: Sequence[str], *, max_terms: int = 3) -> list[list[Suggestion]]:
        """Suggestions per text, each with its confidence and a short rationale."""
        texts = [str(t) for t in texts]
        if len(texts) > SCORE_BATCH:
            return [
                found
                for i in range(0, len(texts), SCORE_BATCH)
                for found in self.suggest(texts[i : i + SCORE_BATCH], max_terms=max_terms)
            ]
        hits = self._rule_hits(texts) if self.rule_codes_ else None
        probabilities, text_features = self._score(texts, hits)
        limits = np.array([self.thresholds()[c] for c in self.codes_])
        # The word block comes first in the feature union: its columns are the vocabulary.
        words = self.vectorizer_.transformer_list[0][1]
        vocabulary = words.get_feature_names_out()
        word_features = text_features[:, : len(vocabulary)].tocsr()
        # "she", "were", "of the" explain nothing to a reviewer, whatever their weight.
        informative = np.array(
            [not all(w in ENGLISH_STOP_WORDS for w in term.split()) for term in vocabulary]
        )
        out: list[list[Suggestion]] = []
        for row in range(len(texts)):
            matched: dict[str, list[str]] = {}
            for hit in hits[row] if hits else []:
                matched.setdefault(hit.code, []).append(hit.term)
            present = word_features.indices[
                word_features.indptr[row] : word_features.indptr[row + 1]
            ]
            suggestions = []
            for column in np.flatnonzero(probabilities[row] >= limits):
                code = self.codes_[column]
                model = self.models_[code]
                reasons = []
                if code in matched:
                    terms = ", ".join(f"“{t}”" for t in dict.fromkeys(matched[code]))
                    reasons.append(f"rule matched {terms}")
                if model.kind == "model":
                    coefficients = model.classifier.coef_.ravel()
                    ranked = present[np.argsort(-coefficients[present])]
                    top = [t for t in ranked if coefficients[t] > 0 and informative[t]][:max_terms]
                    if top:
                        reasons.append("words " + ", ".join(f"“{vocabulary[t]}”" for t in top))
                else:
                    reasons.insert(
                        0,
                        f"cold start ({model.n_pos} human example(s)): similar to the code's"
                        " definition and examples",
                    )
                confidence = round(float(probabilities[row, column]), 4)
                suggestions.append(Suggestion(code, confidence, model.kind, "; ".join(reasons)))
            out.append(sorted(suggestions, key=lambda s: -s.confidence))
        return out
