"""Extractive, traceable summaries and quotes (a pure stage).

- :func:`split_sentences`: excerpts into sentences with exact offsets into each excerpt;
- :func:`is_filler` / :func:`content_sentences`: leave out greetings, procedure, fillers,
  stage directions, headers and bare speaker labels;
- :func:`summarize`: relevance to a query, centrality and redundancy removal (MMR) over
  sentence embeddings, or TF-IDF without them; every sentence verbatim, with its
  excerpt ID and offsets;
- :func:`pick_quotes`: two to four informative, representative quotes from different
  voices.
"""

from evalkit.summarize.extract import (
    DEFAULT_WEIGHTS,
    Summary,
    SummarySentence,
    Weights,
    mmr_order,
    query_focus,
    summarize,
)
from evalkit.summarize.filler import content_words, is_filler, strip_stage_directions
from evalkit.summarize.quotes import density, pick_quotes
from evalkit.summarize.sentences import Sentence, content_sentences, split_sentences

__all__ = [
    "DEFAULT_WEIGHTS",
    "Sentence",
    "Summary",
    "SummarySentence",
    "Weights",
    "content_sentences",
    "content_words",
    "density",
    "is_filler",
    "mmr_order",
    "pick_quotes",
    "query_focus",
    "split_sentences",
    "strip_stage_directions",
    "summarize",
]
