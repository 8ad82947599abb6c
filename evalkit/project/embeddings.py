"""Embeddings for a project's excerpts, cached in its store.

:func:`project_embedder` is what every workflow that wants meaning (suggestions, active
learning, cold start, search) asks for: the chosen model wrapped in a cache that reads and
writes the project's ``embeddings`` table, so each excerpt text is embedded once per model
and a re-run costs a lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.embedding import CachedEmbedder, load_embedder


def project_embedder(
    store, model: str | Path | None = None, *, enabled: bool = True
) -> CachedEmbedder | None:
    """The project's cached embedder (None when embeddings are switched off).

    ``model`` is a model folder; without one, ``$EVALKIT_EMBEDDING_MODEL`` or the default
    model that installs with evalkit (:mod:`evalkit.embedding`).
    """
    if not enabled:
        return None
    return CachedEmbedder(load_embedder(model), store)


@dataclass(frozen=True)
class EmbedRun:
    """What :func:`embed_excerpts` did: the model, how many excerpt texts it embedded now
    and how many the cache already held."""

    model_id: str
    model_source: str
    excerpts: int
    embedded: int
    cached: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def embed_excerpts(store, model: str | Path | None = None) -> EmbedRun:
    """Embed every excerpt the cache lacks (so later commands start warm)."""
    embedder = project_embedder(store, model)
    texts = store.excerpts_df()["text"].tolist()
    embedder.embed(texts)
    distinct = len(set(texts))
    return EmbedRun(
        model_id=embedder.model_id,
        model_source=embedder.embedder.spec.source,
        excerpts=len(texts),
        embedded=embedder.computed,
        cached=distinct - embedder.computed,
    )
