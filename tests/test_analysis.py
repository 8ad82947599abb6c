"""Rapid-appraisal analysis on the sample project: traceable quotes, consistent counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit import analysis
from evalkit.codebook import project_codebook
from evalkit.errors import EvalkitError
from evalkit.model import Code, Codebook
from evalkit.store import Store


@pytest.fixture
def coded(sample_coded: Path, copy_project):
    store = copy_project(sample_coded)
    codebook = project_codebook(store)
    return store, codebook, analysis.applied_codes(store, codebook)


def test_applied_codes_roll_up_to_themes(coded) -> None:
    store, codebook, applied = coded
    direct = applied[~applied["rollup"]]
    assert direct["excerpt_id"].nunique() <= 145
    child = direct[direct["code"] == "PSSW_POLICY"]["excerpt_id"]
    themes = applied[applied["code"] == "POLICY"]["excerpt_id"]
    assert set(child) <= set(themes)


def test_frequencies_match_the_applied_rows(coded) -> None:
    _, _, applied = coded
    table = analysis.code_frequencies(applied, by="kind")
    for code in ("DATA_QUALITY", "LABOUR_TRAFFICKING"):
        rows = applied[applied["code"] == code]
        assert table.loc[code, "excerpts"] == rows["excerpt_id"].nunique()
        assert table.loc[code, "sources"] == rows["source_id"].nunique()
        kinds = [c for c in table.columns if c.startswith("kind:")]
        assert table.loc[code, kinds].sum() == table.loc[code, "excerpts"]


def test_cooccurrence_counts_and_jaccard(coded) -> None:
    _, _, applied = coded
    counts = analysis.cooccurrence(applied)
    jaccard = analysis.cooccurrence(applied, jaccard=True)
    a, b = "POLICY", "PSSW_POLICY"
    ea = set(applied[applied["code"] == a]["excerpt_id"])
    eb = set(applied[applied["code"] == b]["excerpt_id"])
    assert counts.loc[a, b] == len(ea & eb)
    assert jaccard.loc[a, b] == pytest.approx(len(ea & eb) / len(ea | eb), abs=1e-4)
    assert (np.diag(jaccard) == 1).all()


def test_quotes_are_verbatim_and_spread(coded) -> None:
    store, _, applied = coded
    texts = {s.id: s.text for s in store.sources()}
    for code in ("PSSW_POLICY", "DATA_QUALITY", "SHARING_SPACE"):
        quotes = analysis.representative_quotes(applied, code, n=3, max_chars=300)
        assert len(quotes) == 3
        assert quotes["participant"].is_unique  # three different voices
        for _, quote in quotes.iterrows():
            assert texts[quote["source_id"]][quote["start"] : quote["end"]] == quote["quote"]
            assert len(quote["quote"]) <= 300 or "." not in quote["quote"][:-1]
            assert quote["quote"].rstrip()[-1] in '.!?…"”’)'  # ends on a sentence


def test_domain_matrix_covers_every_source_and_domain(coded, tmp_path: Path) -> None:
    store, codebook, applied = coded
    summaries = analysis.domain_summaries(applied, codebook)
    matrix = analysis.domain_matrix(summaries, store.sources_df(), codebook)
    assert len(matrix) == len(store.sources_df())
    assert list(matrix.columns[4:]) == list(codebook.domains)
    excerpts = store.excerpts_df().set_index("excerpt_id")["text"]
    for _, row in summaries.iterrows():
        assert row["quote"] in excerpts[row["excerpt_id"]]
    path = tmp_path / "matrix.xlsx"
    analysis.write_matrix_xlsx(matrix, path)
    sheets = pd.read_excel(path, sheet_name=None)
    assert set(sheets) == {"interviews", "observations", "documents"}
    assert len(sheets["interviews"]) == 12


def test_sector_tensions_find_the_expected_groups(coded) -> None:
    store, _, applied = coded
    table = analysis.sector_tensions(applied, store.sources_df())
    top = table.head(2)[["code", "sector"]].apply(tuple, axis=1).tolist()
    assert ("LABOUR_TRAFFICKING", "immigrant_legal") in top
    assert (table["q"] >= table["p"] - 1e-12).all() and (table["q"] <= 1).all()


def test_benjamini_hochberg_by_hand() -> None:
    from scipy.stats import false_discovery_control

    p = np.array([0.01, 0.04, 0.03, 0.20])
    # Sorted: 0.01, 0.03, 0.04, 0.20 -> p*m/rank = 0.04, 0.06, 0.0533, 0.20, then monotone.
    expected = [0.04, 0.0533333, 0.0533333, 0.20]
    assert false_discovery_control(p, method="bh") == pytest.approx(expected, abs=1e-6)


def test_triangulation_rule_on_a_tiny_case() -> None:
    codebook = Codebook(
        "t",
        (
            Code("A"),
            Code("B"),
            Code("CLASH", tension=True),
        ),
    )

    def row(excerpt, code, kind):
        return {"excerpt_id": excerpt, "code": code, "kind": kind}

    applied = pd.DataFrame(
        [
            row("d1", "A", "document"),
            row("o1", "A", "observation"),
            row("i1", "A", "interview"),
            row("i1", "CLASH", "interview"),
            row("d2", "B", "document"),
            row("o2", "B", "observation"),
        ]
    )
    table = analysis.triangulation(applied, codebook)
    assert table.loc["A"].tolist() == ["convergent", "convergent", "divergent"]
    assert table.loc["B"].tolist() == ["partial", "partial", "silent"]


def test_bad_input(tmp_path: Path, coded) -> None:
    store = Store.init(tmp_path / "empty")
    with pytest.raises(EvalkitError, match="no codings to analyse.*codings import"):
        analysis.applied_codes(store)
    _, codebook, applied = coded
    from dataclasses import replace

    broken = replace(codebook, domains={**codebook.domains, "Empty domain": ()})
    with pytest.raises(EvalkitError, match="domain 'Empty domain' has no codes"):
        analysis.domain_summaries(applied, broken)
    sources = pd.DataFrame({"source_id": ["P01"], "kind": ["interview"]})
    with pytest.raises(EvalkitError, match="no 'sector' attribute.*--attributes"):
        analysis.sector_tensions(applied, sources)
