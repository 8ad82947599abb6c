"""Agreement statistics against published worked examples and independent implementations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.agreement import (
    categorical_agreement,
    code_agreement,
    cohen_kappa,
    gwet_ac1,
    krippendorff_alpha,
    percent_agreement,
    span_agreement,
)
from evalkit.errors import EvalkitError

NAN = math.nan
# Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 coders x 12 units.
KRIPPENDORFF_2011 = pd.DataFrame(
    {
        "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        "C": [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    }
)


def test_krippendorff_2011_worked_example() -> None:
    assert krippendorff_alpha(KRIPPENDORFF_2011) == pytest.approx(0.743, abs=5e-4)


def test_krippendorff_2011_matches_the_krippendorff_package() -> None:
    import krippendorff

    expected = krippendorff.alpha(
        reliability_data=KRIPPENDORFF_2011.T.to_numpy(dtype=float),
        level_of_measurement="nominal",
    )
    assert krippendorff_alpha(KRIPPENDORFF_2011) == pytest.approx(expected, abs=1e-12)


def cohen_classic() -> pd.DataFrame:
    # Observed agreement 0.70, chance agreement 0.50 (marginals 50/50).
    a = ["yes"] * 50 + ["no"] * 50
    b = ["yes"] * 35 + ["no"] * 15 + ["yes"] * 15 + ["no"] * 35
    return pd.DataFrame({"a": a, "b": b})


def test_cohen_classic_example() -> None:
    ratings = cohen_classic()
    assert percent_agreement(ratings) == pytest.approx(0.70)
    assert cohen_kappa(ratings) == pytest.approx(0.40)


def test_cohen_example_through_the_categorical_cli_path() -> None:
    ratings = cohen_classic()
    long = (
        ratings.rename_axis("unit")
        .reset_index()
        .melt(id_vars="unit", var_name="coder", value_name="value")
    )
    result = categorical_agreement(long)
    assert result["cohen_kappa"] == pytest.approx(0.4)
    assert result["percent_agreement"] == pytest.approx(0.7)
    assert result["n_units"] == 100


ratings_strategy = st.integers(min_value=2, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=n, max_size=n),
        st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=n, max_size=n),
        st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=n, max_size=n),
    )
)


def frame_of(columns: tuple[list, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        {f"c{i}": [NAN if v is None else float(v) for v in col] for i, col in enumerate(columns)}
    )


@settings(max_examples=200, deadline=None, derandomize=True)
@given(ratings_strategy)
def test_kappa_matches_sklearn(columns) -> None:
    from sklearn.metrics import cohen_kappa_score

    ratings = frame_of(columns[:2])
    both = ratings.dropna()
    ours = cohen_kappa(ratings)
    if both.empty or both.stack().nunique() < 2:
        assert math.isnan(ours)
        return
    theirs = cohen_kappa_score(both["c0"], both["c1"])
    if math.isnan(theirs):
        assert math.isnan(ours)
    else:
        assert ours == pytest.approx(theirs, abs=1e-9)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(ratings_strategy)
def test_alpha_matches_the_krippendorff_package(columns) -> None:
    import krippendorff

    ratings = frame_of(columns)
    pairable = ratings[ratings.notna().sum(axis=1) >= 2]
    ours = krippendorff_alpha(ratings)
    if pairable.stack().nunique() < 2:
        assert math.isnan(ours)
        return
    theirs = krippendorff.alpha(
        reliability_data=ratings.T.to_numpy(dtype=float), level_of_measurement="nominal"
    )
    assert ours == pytest.approx(theirs, abs=1e-9)


def reference_ac1(ratings: pd.DataFrame) -> float:
    """Gwet (2008), eq. for AC1 with missing data, written out loop by loop.

    pa = mean over units rated twice or more of sum_k r_ik (r_ik - 1) / (r_i (r_i - 1));
    pi_k = mean over rated units of r_ik / r_i; pe = sum_k pi_k (1 - pi_k) / (q - 1).
    """
    rows = [[v for v in row if not math.isnan(v)] for row in ratings.to_numpy(dtype=float)]
    categories = sorted({v for row in rows for v in row})
    q = len(categories)
    pairable = [row for row in rows if len(row) >= 2]
    rated = [row for row in rows if row]
    pa = sum(
        sum(row.count(k) * (row.count(k) - 1) for k in categories) / (len(row) * (len(row) - 1))
        for row in pairable
    ) / len(pairable)
    pi = [sum(row.count(k) / len(row) for row in rated) / len(rated) for k in categories]
    pe = sum(p * (1 - p) for p in pi) / (q - 1)
    return (pa - pe) / (1 - pe)


def test_ac1_small_example() -> None:
    # Two coders, five units: pa 0.8, pe 0.5, AC1 0.6 (the same as irrCAC 0.4.4 gives).
    ratings = pd.DataFrame({"a": [1, 1, 0, 0, 1], "b": [1, 0, 0, 0, 1]})
    assert gwet_ac1(ratings) == pytest.approx(0.6)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(ratings_strategy)
def test_ac1_matches_a_loop_by_loop_reference(columns) -> None:
    ratings = frame_of(columns)
    rated = ratings[ratings.notna().any(axis=1)]
    if (rated.notna().sum(axis=1) >= 2).sum() == 0 or rated.stack().nunique() < 2:
        assert math.isnan(gwet_ac1(ratings)) or rated.stack().nunique() >= 2
        return
    assert gwet_ac1(ratings) == pytest.approx(reference_ac1(ratings), abs=1e-9)


def long(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["unit", "coder", "code"])


def test_code_mode_by_hand() -> None:
    # Four units; ann and ben code all four. X: ann {1,2}, ben {1,3}. Y: both on 4.
    codings = long(
        [
            ("u1", "ann", "X"),
            ("u1", "ben", "X"),
            ("u2", "ann", "X"),
            ("u2", "ben", ""),
            ("u3", "ann", ""),
            ("u3", "ben", "X"),
            ("u4", "ann", "Y"),
            ("u4", "ben", "Y"),
        ]
    )
    report = code_agreement(codings)
    x = report.per_code.loc["X"]
    # X present/absent: ann 1,1,0,0 ; ben 1,0,1,0 -> po 0.5, pe 0.5, kappa 0
    assert x["percent_agreement"] == pytest.approx(0.5)
    assert x["cohen_kappa"] == pytest.approx(0.0)
    assert x["prevalence"] == pytest.approx(0.5)
    y = report.per_code.loc["Y"]
    assert y["cohen_kappa"] == pytest.approx(1.0) and y["krippendorff_alpha"] == pytest.approx(1)
    assert report.overall["mean_kappa"] == pytest.approx(0.5)
    # Pooled: 8 judgements per coder: ann 1100 0001, ben 1010 0001.
    assert report.overall["percent_agreement"] == pytest.approx(6 / 8)
    data = report.to_dict()
    assert set(data) >= {"n_units", "coders", "codes", "overall"}
    assert set(data["codes"]["X"]) == {
        "n_units",
        "prevalence",
        "percent_agreement",
        "cohen_kappa",
        "krippendorff_alpha",
        "gwet_ac1",
    }
    assert set(data["overall"]) >= {
        "percent_agreement",
        "cohen_kappa",
        "krippendorff_alpha",
        "gwet_ac1",
        "mean_kappa",
    }


def test_units_coded_by_one_coder_are_missing_not_absent() -> None:
    codings = long([("u1", "ann", "X"), ("u1", "ben", "X"), ("u2", "ann", "X")])
    report = code_agreement(codings)
    assert report.n_units == 1
    assert report.per_code.loc["X", "percent_agreement"] == 1.0


def test_a_code_nobody_used_is_defined_or_explained() -> None:
    codings = long([("u1", "ann", "X"), ("u1", "ben", "X"), ("u2", "ann", ""), ("u2", "ben", "")])
    report = code_agreement(codings, codes=["X", "UNUSED"])
    unused = report.per_code.loc["UNUSED"]
    assert unused["percent_agreement"] == 1.0
    assert unused["gwet_ac1"] == 1.0
    assert math.isnan(unused["cohen_kappa"]) and math.isnan(unused["krippendorff_alpha"])
    assert "same value (absent)" in report.notes["UNUSED"]["cohen_kappa"]
    assert report.to_dict()["codes"]["UNUSED"]["cohen_kappa"] is None


def test_perfect_agreement() -> None:
    codings = long([("u1", "a", "X"), ("u1", "b", "X"), ("u2", "a", ""), ("u2", "b", "")])
    row = code_agreement(codings).per_code.loc["X"]
    assert (row["cohen_kappa"], row["krippendorff_alpha"], row["gwet_ac1"]) == (1.0, 1.0, 1.0)


def test_one_coder_is_an_error() -> None:
    with pytest.raises(EvalkitError, match="at least two coders; found 1 \\(ann\\)"):
        code_agreement(long([("u1", "ann", "X")]))


def test_no_unit_coded_twice() -> None:
    report = code_agreement(long([("u1", "ann", "X"), ("u2", "ben", "X")]))
    assert report.n_units == 0
    assert report.notes["X"]["percent_agreement"] == "no unit was coded by two or more coders"


def test_three_coders_give_pairwise_kappas() -> None:
    rows = []
    for unit, codes in {"u1": "abc", "u2": "ab", "u3": "c", "u4": ""}.items():
        for coder in ("a", "b", "c"):
            rows.append((unit, coder, "X" if coder in codes else ""))
    report = code_agreement(long(rows))
    assert "cohen_kappa" not in report.to_dict()["codes"]["X"]
    pairs = report.overall["pairwise_kappa"]
    assert set(pairs) == {"a|b", "a|c", "b|c"}
    assert pairs["a|b"] == pytest.approx(1.0)


def test_categorical_contradiction_names_the_row() -> None:
    values = pd.DataFrame(
        {
            "unit": ["u1", "u1", "u1"],
            "coder": ["ann", "ben", "ann"],
            "value": ["low", "low", "high"],
            "row": [2, 3, 4],
        }
    )
    with pytest.raises(EvalkitError, match=r"codes\.csv row 4: coder 'ann' gave unit 'u1' two"):
        categorical_agreement(values, path="codes.csv")


def test_span_mode_equals_kappa_over_characters() -> None:
    from sklearn.metrics import cohen_kappa_score

    spans = pd.DataFrame(
        [
            ("s1", 0, 40, "ann", "X"),
            ("s1", 20, 60, "ben", "X"),
            ("s2", 10, 30, "ann", "X"),
            ("s2", 5, 25, "ben", "X"),
            ("s2", 50, 70, "ben", "X"),
        ],
        columns=["source", "start", "end", "coder", "code"],
    )
    lengths = {"s1": 100, "s2": 80}
    frame = span_agreement(spans, lengths)
    pooled = frame[frame["source"] == "(all)"].iloc[0]
    ann, ben = np.zeros(180, int), np.zeros(180, int)
    ann[0:40] = 1
    ann[100 + 10 : 100 + 30] = 1
    ben[20:60] = 1
    ben[100 + 5 : 100 + 25] = 1
    ben[100 + 50 : 100 + 70] = 1
    assert pooled["characters"] == 180
    assert pooled["percent_agreement"] == pytest.approx(np.mean(ann == ben))
    assert pooled["cohen_kappa"] == pytest.approx(cohen_kappa_score(ann, ben))
    per_source = frame[frame["source"] == "s1"].iloc[0]
    assert per_source["percent_agreement"] == pytest.approx((20 + 40) / 100)
