"""Rapid-appraisal analysis: pure functions from a project to DataFrames.

Everything starts from :func:`applied_codes`, the team's codes per excerpt (the consensus
where there is one, else every code a person applied or accepted), joined to the
excerpt's source attributes. Parent themes count an excerpt when it carries the theme or
any code below it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, fisher_exact
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from evalkit.codings import team_codes
from evalkit.errors import EvalkitError
from evalkit.model import Codebook

KIND_ORDER = ("document", "observation", "interview")
APPLIED_COLUMNS = [
    "excerpt_id",
    "code",
    "source_id",
    "kind",
    "participant",
    "sector",
    "date",
    "speaker_role",
    "start",
    "end",
    "text",
]


def applied_codes(store, codebook: Codebook | None = None) -> pd.DataFrame:
    """One row per (excerpt, code) the team applied, with the excerpt's context.

    With a codebook, each code also counts for its ancestors (a child coded
    ``PSSW_POLICY`` is evidence for the theme ``POLICY``), rows marked ``rollup``.

    Columns: ``excerpt_id, code, source_id, kind, participant, sector, date,
    speaker_role, start, end, text, rollup``.

    Raises
    ------
    EvalkitError
        When the project has no codings yet.
    """
    labels = team_codes(store.codings_df())
    if not any(labels.values()):
        raise EvalkitError(
            "the project has no codings to analyse",
            path=str(store.folder),
            hint="Import codings ('evalkit codings import') or accept suggestions first",
        )
    excerpts = store.excerpts_df().set_index("excerpt_id")
    parents = {c.name: c.parent for c in codebook.codes} if codebook else {}
    rows = []
    for excerpt_id, codes in labels.items():
        if excerpt_id not in excerpts.index:
            continue
        info = excerpts.loc[excerpt_id]
        expanded: dict[str, bool] = {code: False for code in codes}
        for code in codes:
            parent = parents.get(code)
            while parent is not None and parent not in expanded:
                expanded[parent] = True
                parent = parents.get(parent)
        for code, rollup in expanded.items():
            rows.append(
                {
                    "excerpt_id": excerpt_id,
                    "code": code,
                    "source_id": info["source_id"],
                    "kind": info["kind"],
                    "participant": _participant(info),
                    "sector": _value(info, "sector"),
                    "date": _value(info, "date"),
                    "speaker_role": _value(info, "speaker_role"),
                    "start": int(info["start"]),
                    "end": int(info["end"]),
                    "text": info["text"],
                    "rollup": rollup,
                }
            )
    return pd.DataFrame(rows, columns=[*APPLIED_COLUMNS, "rollup"])


def _value(info: pd.Series, column: str) -> Any:
    value = info.get(column)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _participant(info: pd.Series) -> str:
    return str(_value(info, "participant_id") or info["source_id"])


def code_by_case(
    applied: pd.DataFrame,
    sources: pd.DataFrame,
    *,
    has: Sequence[str] = (),
    lacks: Sequence[str] = (),
    sector: str | None = None,
    kind: str | None = None,
) -> pd.DataFrame:
    """Which cases mention every code in ``has`` and none in ``lacks``.

    A case is a participant (interviews with a ``participant_id``) or else a source.
    Codes count through their children when ``applied`` came with a codebook.

    Parameters
    ----------
    applied
        From :func:`applied_codes`.
    sources
        ``Store.sources_df()``: every case, coded or not.
    has, lacks
        Code names.
    sector, kind
        Only cases of this sector, and only excerpts of this source kind.

    Returns
    -------
    pandas.DataFrame
        One row per matching case: ``case, sector, kind, excerpts``, then for each code
        named, how many of the case's excerpts carry it.

    Notes
    -----
    "Which participants in law enforcement mention trust but not data sharing?" is
    ``code_by_case(applied, sources, has=["ENFORCEMENT_TRUST"], lacks=["DATA_SHARING"],
    sector="law_enforcement")``.
    """
    cases = sources.assign(
        case=[
            str(p) if isinstance(p, str) and p else s
            for p, s in zip(
                sources.get("participant_id", pd.Series([None] * len(sources))),
                sources["source_id"],
                strict=True,
            )
        ]
    )
    if kind:
        cases = cases[cases["kind"] == kind]
        applied = applied[applied["kind"] == kind]
    if sector:
        cases = cases[cases.get("sector", pd.Series(dtype=object)) == sector]
    names = list(dict.fromkeys([*has, *lacks]))
    counts = (
        applied[applied["code"].isin(names)]
        .groupby(["participant", "code"])["excerpt_id"]
        .nunique()
        .unstack(fill_value=0)
        .reindex(columns=names, fill_value=0)
    )
    table = cases.groupby("case").agg(
        sector=("sector", "first") if "sector" in cases else ("kind", lambda s: None),
        kind=("kind", lambda s: ", ".join(sorted(set(s)))),
        excerpts=("excerpts", "sum"),
    )
    table = table.join(counts, how="left").fillna({n: 0 for n in names})
    for name in names:
        table[name] = table[name].astype(int)
    keep = pd.Series(True, index=table.index)
    for name in has:
        keep &= table[name] > 0
    for name in lacks:
        keep &= table[name] == 0
    return table[keep].rename_axis("case").reset_index()


# -- frequencies and co-occurrence -------------------------------------------------------------


def code_frequencies(applied: pd.DataFrame, *, by: str | None = None) -> pd.DataFrame:
    """How often each code was applied.

    Columns ``excerpts, sources, participants`` (distinct counts); with ``by="kind"`` or
    ``by="sector"``, one more column of excerpt counts per group. Sorted by excerpts.
    """
    grouped = applied.groupby("code")
    table = (
        pd.DataFrame(
            {
                "excerpts": grouped["excerpt_id"].nunique(),
                "sources": grouped["source_id"].nunique(),
                "participants": applied[applied["kind"] == "interview"]
                .groupby("code")["participant"]
                .nunique(),
            }
        )
        .fillna(0)
        .astype(int)
    )
    if by is not None:
        split = applied.pivot_table(
            index="code", columns=by, values="excerpt_id", aggfunc="nunique", fill_value=0
        )
        split.columns = [f"{by}:{c}" for c in split.columns]
        table = table.join(split).fillna(0).astype(int)
    return table.sort_values("excerpts", ascending=False)


def cooccurrence(
    applied: pd.DataFrame, *, within: str = "excerpt", jaccard: bool = False
) -> pd.DataFrame:
    """Code x code: how many excerpts (or sources) carry both codes, or their Jaccard index.

    The diagonal holds each code's own count (1.0 for Jaccard).
    """
    unit = {"excerpt": "excerpt_id", "source": "source_id"}[within]
    presence = pd.crosstab(applied[unit], applied["code"]).clip(upper=1)
    counts = presence.T @ presence
    if not jaccard:
        return counts
    own = np.diag(counts.to_numpy())
    union = own[:, None] + own[None, :] - counts.to_numpy()
    return pd.DataFrame(
        np.divide(counts.to_numpy(), union, out=np.zeros_like(union, dtype=float), where=union > 0),
        index=counts.index,
        columns=counts.columns,
    ).round(4)


def code_by_sector(applied: pd.DataFrame, sources: pd.DataFrame) -> pd.DataFrame:
    """Code x sector: the share of each sector's interview participants who raised the code.

    Raises
    ------
    EvalkitError
        When interview sources have no ``sector`` attribute.
    """
    interviews = _interviews_with_sector(sources)
    raised = applied[applied["kind"] == "interview"].groupby(["code", "sector"])["source_id"]
    counts = raised.nunique().unstack(fill_value=0)
    totals = interviews.groupby("sector")["source_id"].nunique()
    counts = counts.reindex(columns=totals.index, fill_value=0)
    return (counts / totals).round(4)


def _interviews_with_sector(sources: pd.DataFrame) -> pd.DataFrame:
    interviews = sources[sources["kind"] == "interview"]
    if "sector" not in interviews or interviews["sector"].isna().all():
        raise EvalkitError(
            "interview sources have no 'sector' attribute",
            hint="Ingest the interviews with --attributes FILE.csv that has a 'sector' column",
        )
    missing = interviews[interviews["sector"].isna()]["source_id"].tolist()
    if missing:
        raise EvalkitError(
            f"{len(missing)} interview source(s) have no sector: {', '.join(missing[:5])}",
            hint="Add them to the attributes CSV and ingest again",
        )
    return interviews


def timeline(applied: pd.DataFrame) -> pd.DataFrame:
    """Code x year: excerpts of documents and meeting observations, by the source's date."""
    dated = applied[applied["kind"].isin(["document", "observation"]) & applied["date"].notna()]
    years = dated.assign(year=dated["date"].astype(str).str[:4])
    return years.pivot_table(
        index="code", columns="year", values="excerpt_id", aggfunc="nunique", fill_value=0
    )


# -- triangulation and tensions ----------------------------------------------------------------

TRIANGULATION_RULE = (
    "For each theme and source kind: silent — no source of that kind has an excerpt on the "
    "theme; divergent — at least half of that kind's excerpts on the theme also carry a "
    "tension code (the evidence there is contested); convergent — the theme appears in all "
    "three kinds and this kind is not divergent; partial — the theme appears in this kind "
    "and one other only."
)


def triangulation(applied: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    (
        """Theme (parent code) x source kind, each cell convergent, partial, silent or divergent.

    The rule: """
        + TRIANGULATION_RULE
    )
    themes = [c.name for c in codebook.children(None)]
    tension_codes = {c.name for c in codebook.codes if c.tension}
    tension_excerpts = set(applied[applied["code"].isin(tension_codes)]["excerpt_id"])
    rows = {}
    for theme in themes:
        on_theme = applied[applied["code"] == theme]
        present = {k for k in KIND_ORDER if (on_theme["kind"] == k).any()}
        marks = {}
        for kind in KIND_ORDER:
            excerpts = set(on_theme[on_theme["kind"] == kind]["excerpt_id"])
            if not excerpts:
                marks[kind] = "silent"
            elif theme not in tension_codes and len(excerpts & tension_excerpts) >= 0.5 * len(
                excerpts
            ):
                marks[kind] = "divergent"
            elif len(present) == 3:
                marks[kind] = "convergent"
            else:
                marks[kind] = "partial"
        rows[theme] = marks
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(KIND_ORDER))


def sector_tensions(applied: pd.DataFrame, sources: pd.DataFrame) -> pd.DataFrame:
    """Codes whose prevalence differs between one sector and the others, in interviews.

    For each code and sector, a 2x2 table of interview excerpts (this sector / the rest ×
    coded / not) gets Fisher's exact test; p-values are corrected across all tests with
    Benjamini–Hochberg. Effect sizes: the difference in prevalence and the odds ratio
    (with 0.5 added to each cell). Excerpts from one interview are not independent, so
    read q as a screening value, not a confirmatory test.

    Columns: ``code, sector, prevalence_sector, prevalence_rest, difference, odds_ratio,
    p, q``, sorted by q.
    """
    _interviews_with_sector(sources)
    interview = applied[applied["kind"] == "interview"]
    totals = interview.groupby("sector")["excerpt_id"].nunique()
    # All participant excerpts, coded or not, are the denominator.
    rows = []
    for code, group in interview.groupby("code"):
        coded = group.groupby("sector")["excerpt_id"].nunique().reindex(totals.index, fill_value=0)
        for sector in totals.index:
            a, n1 = int(coded[sector]), int(totals[sector])
            b, n2 = int(coded.sum() - a), int(totals.sum() - n1)
            if n1 == 0 or n2 == 0:
                continue
            _, p = fisher_exact([[a, n1 - a], [b, n2 - b]])
            odds = ((a + 0.5) * (n2 - b + 0.5)) / ((n1 - a + 0.5) * (b + 0.5))
            rows.append(
                {
                    "code": code,
                    "sector": sector,
                    "prevalence_sector": round(a / n1, 4),
                    "prevalence_rest": round(b / n2, 4),
                    "difference": round(a / n1 - b / n2, 4),
                    "odds_ratio": round(odds, 3),
                    "p": p,
                }
            )
    table = pd.DataFrame(rows)
    if table.empty:
        return table.assign(q=[])
    table["q"] = false_discovery_control(table["p"].to_numpy(), method="bh")
    return table.sort_values(["q", "p"]).reset_index(drop=True)


# -- quotes ------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’)]*\s+")


def trim_quote(text: str, max_chars: int = 400) -> tuple[int, int]:
    """Offsets of the longest run of whole sentences from the start that fits ``max_chars``.

    A first sentence longer than the limit is kept whole: quotes are never cut mid-sentence.

    Examples
    --------
    >>> text = "First point. Second point is longer. Third."
    >>> start, end = trim_quote(text, 30)
    >>> text[start:end]
    'First point.'
    """
    ends = [m.start() for m in _SENTENCE_END.finditer(text)] + [len(text)]
    end = ends[0]
    for candidate in ends:
        if candidate <= max_chars:
            end = candidate
        else:
            break
    return 0, len(text[:end].rstrip())


def representative_quotes(
    applied: pd.DataFrame,
    code: str,
    *,
    n: int = 3,
    max_chars: int = 400,
    exclude: set[str] | None = None,
) -> pd.DataFrame:
    """Quotes for a code, most central first, spread across participants.

    Centrality is the cosine similarity of an excerpt's TF-IDF vector to the centroid of
    all excerpts with the code. Each participant (or source) gives one quote before any
    gives a second. Quotes are verbatim: ``source.text[start:end]``. Excerpts in
    ``exclude`` (already quoted elsewhere) are passed over.

    Columns: ``code, excerpt_id, source_id, participant, sector, kind, centrality, quote,
    start, end`` (offsets in the source text).
    """
    pool = (
        applied[(applied["code"] == code) & (applied["speaker_role"] != "interviewer")]
        .drop_duplicates("excerpt_id")
        .reset_index(drop=True)
    )
    if exclude:
        pool = pool[~pool["excerpt_id"].isin(exclude)].reset_index(drop=True)
    columns = ["code", "excerpt_id", "source_id", "participant", "sector", "kind"]
    columns += ["centrality", "quote", "start", "end"]
    if pool.empty:
        return pd.DataFrame(columns=columns)
    centrality = _centrality(pool["text"].tolist())
    pool = pool.assign(centrality=np.round(centrality, 4)).sort_values(
        "centrality", ascending=False
    )
    chosen, used = [], set()
    for rounds in range(2):
        for _, row in pool.iterrows():
            if len(chosen) >= n:
                break
            if row["excerpt_id"] in {c["excerpt_id"] for c in chosen}:
                continue
            if rounds == 0 and row["participant"] in used:
                continue
            start, end = trim_quote(row["text"], max_chars)
            chosen.append(
                {
                    "code": code,
                    "excerpt_id": row["excerpt_id"],
                    "source_id": row["source_id"],
                    "participant": row["participant"],
                    "sector": row["sector"],
                    "kind": row["kind"],
                    "centrality": row["centrality"],
                    "quote": row["text"][start:end],
                    "start": int(row["start"]) + start,
                    "end": int(row["start"]) + end,
                }
            )
            used.add(row["participant"])
    return pd.DataFrame(chosen, columns=columns)


def _centrality(texts: list[str]) -> np.ndarray:
    if len(texts) == 1:
        return np.ones(1)
    vectors = normalize(TfidfVectorizer(sublinear_tf=True).fit_transform(texts))
    centroid = normalize(np.asarray(vectors.mean(axis=0)))
    return np.asarray(vectors @ centroid.T).ravel()


# -- rapid qualitative analysis: domains -------------------------------------------------------


def domain_summaries(
    applied: pd.DataFrame, codebook: Codebook, *, per_cell: int = 2, max_chars: int = 300
) -> pd.DataFrame:
    """For every source and RQA domain, its key excerpts on that domain's codes.

    Excerpts are ranked by centrality among all excerpts of the domain (how representative
    they are) and trimmed at sentence boundaries.

    Columns: ``source_id, kind, participant, sector, domain, rank, excerpt_id,
    centrality, quote``.

    Raises
    ------
    EvalkitError
        When the codebook has no domains, or a domain has no codes.
    """
    if not codebook.domains:
        raise EvalkitError(
            f"codebook '{codebook.title}' defines no RQA domains",
            hint="Add a 'domains:' mapping (domain name -> codes) and load the codebook again",
        )
    empty = [name for name, codes in codebook.domains.items() if not codes]
    if empty:
        raise EvalkitError(
            f"domain '{empty[0]}' has no codes",
            hint="Map at least one code to every domain in the codebook, then load it again",
        )
    rows = []
    participants = applied[applied["speaker_role"] != "interviewer"]
    for domain, codes in codebook.domains.items():
        pool = participants[participants["code"].isin(codes)].drop_duplicates("excerpt_id")
        if pool.empty:
            continue
        pool = pool.assign(centrality=_centrality(pool["text"].tolist()))
        for source_id, group in pool.groupby("source_id"):
            best = group.sort_values("centrality", ascending=False).head(per_cell)
            for rank, (_, row) in enumerate(best.iterrows(), start=1):
                start, end = trim_quote(row["text"], max_chars)
                rows.append(
                    {
                        "source_id": source_id,
                        "kind": row["kind"],
                        "participant": row["participant"],
                        "sector": row["sector"],
                        "domain": domain,
                        "rank": rank,
                        "excerpt_id": row["excerpt_id"],
                        "centrality": round(float(row["centrality"]), 4),
                        "quote": row["text"][start:end],
                    }
                )
    return pd.DataFrame(rows)


def domain_matrix(
    summaries: pd.DataFrame, sources: pd.DataFrame, codebook: Codebook
) -> pd.DataFrame:
    """Participant (source) x domain: each cell its key quotes, each ending in [excerpt ID].

    One row per source (all sources, so a silent cell shows as empty), with ``kind``,
    ``participant`` and ``sector`` first, then one column per domain in codebook order.
    """
    cells: dict[tuple[str, str], list[str]] = {}
    for _, row in summaries.sort_values("rank").iterrows():
        cells.setdefault((row["source_id"], row["domain"]), []).append(
            f"“{row['quote']}” [{row['excerpt_id']}]"
        )
    records = []
    for _, source in sources.sort_values(["kind", "source_id"]).iterrows():
        record = {
            "source_id": source["source_id"],
            "kind": source["kind"],
            "participant": source.get("participant_id")
            if isinstance(source.get("participant_id"), str)
            else source["source_id"],
            "sector": source.get("sector") if isinstance(source.get("sector"), str) else "",
        }
        for domain in codebook.domains:
            record[domain] = "\n\n".join(cells.get((source["source_id"], domain), []))
        records.append(record)
    return pd.DataFrame(records)


def write_matrix_xlsx(matrix: pd.DataFrame, path) -> None:
    """The domain matrix as XLSX: a sheet per source kind, wrapped text, frozen headers."""
    from evalkit.util import sheets

    workbook = sheets.new_workbook()
    for kind in KIND_ORDER[::-1]:
        part = matrix[matrix["kind"] == kind].drop(columns=["kind"])
        if part.empty:
            continue
        sheet = sheets.write_frame(workbook, part, f"{kind}s")
        widths = [16 if index <= 3 else 55 for index in range(1, len(part.columns) + 1)]
        sheets.style_table(sheet, freeze="D2", widths=widths)
    sheets.save_workbook(workbook, path)
