"""Emergent themes: non-negative matrix factorisation over excerpt TF-IDF.

Themes are found without the codebook, so they can show what it misses. With a fixed
seed the same corpus gives the same themes. Each theme reports its top terms, its most
representative excerpts (highest weight), and its share of each source kind's and each
sector's excerpts (an excerpt belongs to its dominant theme).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.decomposition import NMF
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from evalkit.errors import EvalkitError

# Speech fills transcripts with words that carry no topic; left in, they make a theme.
SPOKEN_FILLERS = frozenset(
    """it's that's don't i'm i've i'd i'll you're you've we're we've they're they've there's
    what's can't won't didn't doesn't isn't wasn't aren't couldn't wouldn't shouldn't let's
    he's she's here's who's um uh yeah yes okay ok like just know mean think really got
    lot kind sort thing things gonna wanna actually basically right going say said
    want way little bit maybe pretty""".split()
)
STOP_WORDS = sorted(ENGLISH_STOP_WORDS | SPOKEN_FILLERS)


@dataclass
class Themes:
    """``themes``: one row per theme (``theme, top_terms, excerpts, share``);
    ``examples``: representative excerpts; ``by_kind`` and ``by_sector``: theme x group
    shares of excerpts."""

    themes: pd.DataFrame
    examples: pd.DataFrame
    by_kind: pd.DataFrame
    by_sector: pd.DataFrame

    def to_dict(self) -> dict:
        return {
            "themes": self.themes.to_dict(orient="records"),
            "examples": self.examples.to_dict(orient="records"),
            "by_kind": self.by_kind.reset_index().to_dict(orient="records"),
            "by_sector": self.by_sector.reset_index().to_dict(orient="records"),
        }


def find_themes(
    excerpts: pd.DataFrame,
    k: int = 8,
    *,
    top_terms: int = 8,
    examples: int = 3,
    seed: int = 0,
) -> Themes:
    """Themes in a table of excerpts (columns ``excerpt_id, text, kind`` and optionally
    ``sector``).

    Raises
    ------
    EvalkitError
        With fewer excerpts than themes asked for.
    """
    if k < 2:
        raise EvalkitError(f"--k must be at least 2, got {k}")
    if len(excerpts) < k:
        raise EvalkitError(
            f"{len(excerpts)} excerpt(s) cannot make {k} themes", hint="Ask for fewer themes"
        )
    vectorizer = TfidfVectorizer(
        stop_words=STOP_WORDS,
        # On a handful of excerpts, a term in two of them or in half of them is all there is.
        min_df=2 if len(excerpts) >= 20 else 1,
        max_df=0.5 if len(excerpts) >= 20 else 1.0,
        ngram_range=(1, 2),
        sublinear_tf=True,
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z'-]+\b",
    )
    try:
        matrix = vectorizer.fit_transform(excerpts["text"].tolist())
    except ValueError:
        raise EvalkitError(
            f"the {len(excerpts)} excerpts have no content words in common to build themes from",
            hint="Ingest more sources or ask for fewer themes",
        ) from None
    model = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=500)
    weights = model.fit_transform(matrix)
    terms = np.array(vectorizer.get_feature_names_out())
    dominant = weights.argmax(axis=1)
    dominant[weights.max(axis=1) == 0] = -1
    names = [f"T{i + 1}" for i in range(k)]
    rows, picks = [], []
    for i, name in enumerate(names):
        top = terms[np.argsort(-model.components_[i])[:top_terms]]
        members = int((dominant == i).sum())
        rows.append(
            {
                "theme": name,
                "top_terms": ", ".join(top),
                "excerpts": members,
                "share": round(members / len(excerpts), 4),
            }
        )
        for rank, index in enumerate(np.argsort(-weights[:, i])[:examples], start=1):
            record = excerpts.iloc[index]
            picks.append(
                {
                    "theme": name,
                    "rank": rank,
                    "excerpt_id": record["excerpt_id"],
                    "weight": round(float(weights[index, i]), 4),
                    "text": record["text"],
                }
            )
    labelled = excerpts.assign(theme=[names[d] if d >= 0 else "(none)" for d in dominant])
    return Themes(
        themes=pd.DataFrame(rows),
        examples=pd.DataFrame(picks),
        by_kind=_shares(labelled, "kind"),
        by_sector=_shares(labelled, "sector") if "sector" in labelled else pd.DataFrame(),
    )


def _shares(labelled: pd.DataFrame, column: str) -> pd.DataFrame:
    groups = labelled[labelled[column].notna()]
    if groups.empty:
        return pd.DataFrame()
    table = pd.crosstab(groups["theme"], groups[column], normalize="columns").round(4)
    table.columns.name = None
    return table


def project_themes(store, k: int = 8, *, uncovered: bool = False, seed: int = 0) -> Themes:
    """Themes in a project's excerpts (interviewer turns left out).

    ``uncovered`` keeps only excerpts that no code covers yet: no human coding and no
    accepted suggestion — "what is our codebook missing?".
    """
    excerpts = store.excerpts_df()
    excerpts = excerpts[excerpts["speaker_role"] != "interviewer"]
    if uncovered:
        coded = set(store.codings_df()["excerpt_id"])
        excerpts = excerpts[~excerpts["excerpt_id"].isin(coded)]
    return find_themes(excerpts.reset_index(drop=True), k, seed=seed)
