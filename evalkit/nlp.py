"""spaCy pipelines built from ``spacy.blank("en")``: nothing is ever downloaded."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.language import Language


@lru_cache(maxsize=2)
def pipeline(*, lemmas: bool = False) -> Language:
    """A blank English pipeline with a sentencizer and, if asked, the lookup lemmatizer.

    The lemma tables come from the ``spacy-lookups-data`` package, installed locally.
    spaCy is imported here, not at module load, so that commands that never cut text
    start quickly.
    """
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    if lemmas:
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        nlp.initialize()
    # Long observation notes and documents exceed spaCy's default guard for parser memory,
    # which does not apply to a blank pipeline.
    nlp.max_length = 50_000_000
    return nlp
