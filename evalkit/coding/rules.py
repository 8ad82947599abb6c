"""The codebook rule matcher: a registered spaCy component, ``evalkit_codebook_matcher``.

Each code's rule hints become patterns:

- ``keywords``: phrases matched on lower-cased lemmas (so "pocket cards" matches the
  keyword "pocket card") and on lower-case surface forms;
- ``patterns``: regular expressions, case-insensitive, over the text, matched by RE2 in
  time linear in the text (see :mod:`evalkit.util.patterns`);
- ``exclude``: phrases that veto that code's matches in the same sentence.

A match directly preceded (within ``negation_window`` tokens) by a negation such as "not",
"no", "never" or "without" is dropped. Matches are written to ``doc.spans["evalkit_codes"]``
with the code as label and the matched term in ``span._.evalkit_term``.

The component works in anyone's pipeline that has a sentencizer and a lemmatizer::

    nlp.add_pipe("evalkit_codebook_matcher", config={"rules": rules_config(codebook)})
"""

from __future__ import annotations

import bisect
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import re2
import spacy
from spacy.attrs import LOWER, NORM, ORTH, SENT_START
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span

from evalkit.errors import EvalkitError
from evalkit.model import Codebook
from evalkit.nlp import pipeline
from evalkit.util.patterns import compile_user_pattern
from evalkit.util.text import content_hash

SPAN_KEY = "evalkit_codes"
NEGATIONS = frozenset({"not", "no", "never", "n't", "without", "nor", "neither", "none"})

if not Span.has_extension("evalkit_term"):
    Span.set_extension("evalkit_term", default=None)


@dataclass(frozen=True)
class RuleHit:
    """A code's rule matched ``text[start:end]`` because of ``term``."""

    code: str
    start: int
    end: int
    term: str


def rules_config(codebook: Codebook) -> dict[str, dict[str, list[str]]]:
    """The JSON-serialisable rule hints of every code that has any."""
    return {
        c.name: {
            "keywords": list(c.keywords),
            "patterns": list(c.patterns),
            "exclude": list(c.exclude),
        }
        for c in codebook.codes
        if c.keywords or c.patterns
    }


class CodebookMatcher:
    """Doc -> Doc: adds a span per rule match, labelled with its code."""

    def __init__(self, nlp: Language, rules: dict[str, dict[str, list[str]]], negation_window: int):
        self.negation_window = negation_window
        self.strings = nlp.vocab.strings
        self.lemmas = _lemma_table(nlp)
        self._norms: dict[int, int] = {}  # LOWER hash -> hash of the lower-cased lemma
        self.sentence_ends = np.array(
            [self.strings.add(p) for p in (".", "!", "?", "…", "...", "?!", "!?")], dtype="uint64"
        )
        self.by_lemma = PhraseMatcher(nlp.vocab, attr="NORM")
        self.by_lower = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.excluders = PhraseMatcher(nlp.vocab, attr="NORM")
        self.patterns: list[tuple[str, re2._Regexp]] = []
        self.terms: dict[int, str] = {}
        for code, hints in rules.items():
            keywords = [k for k in hints.get("keywords", []) if k.strip()]
            if keywords:
                self.by_lemma.add(code, [self._pattern(nlp, k) for k in keywords])
                self.by_lower.add(code, [nlp.make_doc(k.lower()) for k in keywords])
            excludes = [k for k in hints.get("exclude", []) if k.strip()]
            if excludes:
                self.excluders.add(code, [self._pattern(nlp, k) for k in excludes])
            for pattern in hints.get("patterns", []):
                self.patterns.append((code, compile_user_pattern(pattern, where=f"code '{code}'")))
        # One pass of all patterns together finds the (few) texts worth testing one by one
        # (ten times faster than testing each pattern on every text, measured on QMSum).
        self.any_pattern: re2._Regexp | None = None
        if self.patterns:
            together = "|".join(f"(?:{pattern.pattern})" for _, pattern in self.patterns)
            try:
                self.any_pattern = compile_user_pattern(together, where="all patterns together")
            except EvalkitError:  # over MAX_PATTERN_MEMORY together: test each pattern
                pass

    def _pattern(self, nlp: Language, phrase: str) -> Doc:
        return self._set_norms(nlp.make_doc(phrase))

    def _set_norms(self, doc: Doc) -> Doc:
        """NORM := lower-cased lookup lemma, set in one array write (no Token objects)."""
        if not len(doc):
            return doc
        unique, inverse = np.unique(doc.to_array([LOWER]), return_inverse=True)
        norms = self._norms
        mapped = np.empty(len(unique), dtype="uint64")
        for i, value in enumerate(unique.tolist()):
            if value not in norms:
                lower = self.strings[value]
                norms[value] = self.strings.add(str(self.lemmas.get(lower, lower)).lower())
            mapped[i] = norms[value]
        doc.from_array([NORM], mapped[inverse.reshape(-1)].reshape(-1, 1))
        return doc

    def __call__(self, doc: Doc) -> Doc:
        self._set_norms(doc)
        found: dict[tuple[str, int, int], str] = {}
        for matcher in (self.by_lemma, self.by_lower):
            for match_id, start, end in matcher(doc):
                found.setdefault((doc.vocab.strings[match_id], start, end), doc[start:end].text)
        text = doc.text  # built from the tokens on every access, so read it once
        patterns = self.patterns
        if patterns and self.any_pattern is not None and not self.any_pattern.search(text):
            patterns = []
        for code, pattern in patterns:
            for match in pattern.finditer(text):
                span = doc.char_span(match.start(), match.end(), alignment_mode="expand")
                if span is not None and len(span):
                    found.setdefault((code, span.start, span.end), match.group(0))
        spans = []
        if found:
            # Sentences matter only around a match: find them once, and only then.
            starts = self._sentence_starts(doc)

            def sentence_of(index: int) -> int:
                return starts[bisect.bisect_right(starts, index) - 1]

            vetoed = {
                (doc.vocab.strings[match_id], sentence_of(start))
                for match_id, start, _end in self.excluders(doc)
            }
            for (code, start, end), term in sorted(
                found.items(), key=lambda kv: (kv[0][1], kv[0][0])
            ):
                sentence = sentence_of(start)
                if (code, sentence) in vetoed or self._negated(doc, start, sentence):
                    continue
                span = Span(doc, start, end, label=code)
                span._.evalkit_term = term
                spans.append(span)
        doc.spans[SPAN_KEY] = spans
        return doc

    def _sentence_starts(self, doc: Doc) -> list[int]:
        """Sentence starts from the pipeline's sentencizer, else after . ! ? tokens."""
        if doc.has_annotation("SENT_START"):
            starts = np.flatnonzero(doc.to_array([SENT_START]) == 1).tolist()
        else:
            ends = np.flatnonzero(np.isin(doc.to_array([ORTH]), self.sentence_ends))
            starts = (ends + 1).tolist()
        if not starts or starts[0] != 0:
            starts.insert(0, 0)
        return starts

    def _negated(self, doc: Doc, start: int, sentence: int) -> bool:
        window = doc[max(sentence, start - self.negation_window) : start]
        return any(token.lower_ in NEGATIONS for token in window)


def _lemma_table(nlp: Language):
    """The lookup lemmatizer's table: the pipeline's own, else spacy-lookups-data's."""
    if "lemmatizer" in nlp.pipe_names:
        lookups = nlp.get_pipe("lemmatizer").lookups
        if lookups.has_table("lemma_lookup"):
            return lookups.get_table("lemma_lookup")
    from spacy.lookups import load_lookups

    return load_lookups("en", ["lemma_lookup"]).get_table("lemma_lookup")


@Language.factory(
    "evalkit_codebook_matcher",
    default_config={"rules": {}, "negation_window": 2},
)
def make_codebook_matcher(
    nlp: Language, name: str, rules: dict[str, Any], negation_window: int
) -> CodebookMatcher:
    return CodebookMatcher(nlp, rules, negation_window)


@lru_cache(maxsize=4)
def _rule_pipeline(frozen_rules: str) -> Language:
    # The matcher lemmatizes with the lookup table itself and finds sentence ends from
    # punctuation only where it has a match to check: a bare tokenizer is all it needs,
    # and both shortcuts avoid a Python object per token.
    nlp = spacy.blank("en")
    nlp.max_length = pipeline().max_length
    nlp.add_pipe("evalkit_codebook_matcher", config={"rules": json.loads(frozen_rules)})
    return nlp


def rule_pipeline(codebook: Codebook) -> Language:
    """``spacy.blank("en")`` with this codebook's matcher."""
    return _rule_pipeline(json.dumps(rules_config(codebook), sort_keys=True))


@lru_cache(maxsize=1)
def _engine_fingerprint() -> str:
    # The matcher's own code and spaCy's version: a change to either changes the hits.
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(spacy.__version__.encode())
    return digest.hexdigest()


def rules_fingerprint(codebook: Codebook) -> str:
    """What the hits of this codebook's rules depend on: the rules, the matcher, spaCy."""
    digest = hashlib.sha256(_engine_fingerprint().encode())
    digest.update(json.dumps(rules_config(codebook), sort_keys=True).encode())
    return digest.hexdigest()[:16]


def match_rules(
    texts: list[str], codebook: Codebook, *, batch_size: int = 256, cache=None
) -> list[list[RuleHit]]:
    """Rule hits for each text, via ``nlp.pipe`` in batches.

    ``cache`` (optional, a text cache as :class:`evalkit.embedding.CachedEmbedder` takes)
    keeps each text's hits under the rules' fingerprint, so a re-run matches only new
    texts.

    Examples
    --------
    >>> from evalkit.model import Code, Codebook
    >>> cb = Codebook("t", (Code("BULLETIN", keywords=("pocket card",), exclude=("poker",)),))
    >>> [h.term for h in match_rules(["They handed out pocket cards."], cb)[0]]
    ['pocket cards']
    >>> match_rules(["We did not get pocket cards."], cb)
    [[]]
    """
    if cache is None:
        return _match(texts, codebook, batch_size)
    version = rules_fingerprint(codebook)
    keys = [content_hash(t) for t in texts]
    known: dict[str, list[RuleHit]] = {}
    for key, value in cache.cached("rules", version, dict.fromkeys(keys)).items():
        try:
            known[key] = [RuleHit(*hit) for hit in json.loads(value)]
        except (TypeError, ValueError):
            continue  # a damaged entry is recomputed
    missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in known}
    if missing:
        fresh = dict(
            zip(missing, _match(list(missing.values()), codebook, batch_size), strict=True)
        )
        known.update(fresh)
        cache.cache(
            "rules",
            version,
            {
                k: json.dumps([[h.code, h.start, h.end, h.term] for h in hits]).encode()
                for k, hits in fresh.items()
            },
        )
    return [list(known[k]) for k in keys]


def _match(texts: list[str], codebook: Codebook, batch_size: int) -> list[list[RuleHit]]:
    nlp = rule_pipeline(codebook)
    return [
        [RuleHit(s.label_, s.start_char, s.end_char, s._.evalkit_term) for s in doc.spans[SPAN_KEY]]
        for doc in nlp.pipe(texts, batch_size=batch_size)
    ]
