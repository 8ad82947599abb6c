"""Inter-coder agreement: percent agreement, Cohen's κ, Krippendorff's α, Gwet's AC1.

Three ways of looking at the same team coding:

- **Code mode** (:func:`code_agreement`): each code is a present/absent judgement per unit,
  for every coder who coded that unit. A coder who coded a unit and applied nothing
  judged every code absent there; a coder who never saw the unit is missing data.
- **Categorical mode** (:func:`categorical_agreement`): one value per unit per coder,
  for single-choice variables.
- **Span mode** (:func:`span_agreement`): coders coded spans of whole transcripts;
  every character is a unit, the way NVivo documents its coding comparison.

The coefficients take a *ratings* table: one row per unit, one column per coder, the
value each coder gave (any hashable category), NaN where a coder did not rate the unit.

- Percent agreement is the share of agreeing coder pairs, averaged over units rated by
  two or more coders.
- Cohen's κ (two coders) is (pₒ − pₑ)/(1 − pₑ), with pₑ from each coder's own marginals,
  over units both rated (Cohen 1960).
- Krippendorff's α (nominal) is 1 − Dₒ/Dₑ from the coincidence matrix; it takes any
  number of coders and missing data (Krippendorff 2011).
- Gwet's AC1 is (pₐ − pₑ)/(1 − pₑ) with pₑ = Σ πₖ(1 − πₖ)/(q − 1) (Gwet 2008); unlike κ
  it stays stable when a code is rare.

A coefficient that is undefined for the data (no unit rated twice, no variation at all)
is NaN, and the report says why.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import EvalkitError

STATISTICS = ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1")
NO_PAIRS = "no unit was coded by two or more coders"


# -- the coefficients ---------------------------------------------------------------------


def _counts(ratings: pd.DataFrame, categories: Sequence[Any]) -> np.ndarray:
    """Units x categories: how many coders gave each category to each unit."""
    values = ratings.to_numpy(dtype=object)
    counts = np.zeros((values.shape[0], len(categories)))
    for j, category in enumerate(categories):
        counts[:, j] = (values == category).sum(axis=1)
    return counts


def _categories(ratings: pd.DataFrame) -> list[Any]:
    stacked = ratings.stack().dropna()
    return sorted(stacked.unique().tolist(), key=str)


def percent_agreement(ratings: pd.DataFrame) -> float:
    """Share of agreeing coder pairs, averaged over units rated by at least two coders.

    Examples
    --------
    >>> percent_agreement(pd.DataFrame({"a": [1, 1, 0, 0], "b": [1, 0, 0, 0]}))
    0.75
    """
    counts = _counts(ratings, _categories(ratings))
    raters = counts.sum(axis=1)
    pairable = raters >= 2
    if not pairable.any():
        return math.nan
    agreeing = (counts * (counts - 1)).sum(axis=1)[pairable]
    return float(np.mean(agreeing / (raters[pairable] * (raters[pairable] - 1))))


def cohen_kappa(ratings: pd.DataFrame) -> float:
    """Cohen's κ for exactly two coders, over the units both rated.

    Examples
    --------
    Cohen's classic table: observed agreement 0.70, chance agreement 0.50.

    >>> a = ["yes"] * 50 + ["no"] * 50
    >>> b = ["yes"] * 35 + ["no"] * 15 + ["yes"] * 15 + ["no"] * 35
    >>> round(cohen_kappa(pd.DataFrame({"a": a, "b": b})), 3)
    0.4
    """
    if ratings.shape[1] != 2:
        raise ValueError(f"Cohen's kappa needs exactly two coders, got {ratings.shape[1]}")
    both = ratings.dropna()
    if both.empty:
        return math.nan
    first, second = both.iloc[:, 0].to_numpy(dtype=object), both.iloc[:, 1].to_numpy(dtype=object)
    observed = float(np.mean(first == second))
    categories = _categories(both)
    expected = sum(float(np.mean(first == c)) * float(np.mean(second == c)) for c in categories)
    if math.isclose(expected, 1.0):
        return math.nan
    return float((observed - expected) / (1 - expected))


def pairwise_cohen_kappa(ratings: pd.DataFrame) -> dict[tuple[str, str], float]:
    """Cohen's κ for every pair of coders."""
    return {
        (a, b): cohen_kappa(ratings[[a, b]]) for a, b in itertools.combinations(ratings.columns, 2)
    }


def krippendorff_alpha(ratings: pd.DataFrame) -> float:
    """Krippendorff's α for nominal data, any number of coders, missing values allowed.

    Examples
    --------
    Krippendorff (2011): four coders, twelve units, some values missing.

    >>> nan = float("nan")
    >>> data = pd.DataFrame({
    ...     "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    ...     "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    ...     "C": [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    ...     "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]})
    >>> round(krippendorff_alpha(data), 3)
    0.743
    """
    counts = _counts(ratings, _categories(ratings))
    raters = counts.sum(axis=1)
    pairable = raters >= 2
    counts, raters = counts[pairable], raters[pairable]
    n = raters.sum()
    if n <= 1:
        return math.nan
    per_category = counts.sum(axis=0)
    expected = n * n - float((per_category**2).sum())
    if expected == 0:
        return math.nan
    observed = float(((raters**2 - (counts**2).sum(axis=1)) / (raters - 1)).sum())
    return float(1 - (n - 1) * observed / expected)


def gwet_ac1(ratings: pd.DataFrame, categories: Sequence[Any] | None = None) -> float:
    """Gwet's AC1 for any number of coders, missing values allowed.

    ``categories`` fixes the set of possible values (for present/absent codes, both), so
    that a code nobody used still counts two categories.

    Examples
    --------
    >>> round(gwet_ac1(pd.DataFrame({"a": [1, 1, 0, 0, 1], "b": [1, 0, 0, 0, 1]})), 3)
    0.6
    """
    categories = list(categories) if categories is not None else _categories(ratings)
    if len(categories) < 2:
        return math.nan
    counts = _counts(ratings, categories)
    raters = counts.sum(axis=1)
    rated = raters >= 1
    pairable = raters >= 2
    if not pairable.any():
        return math.nan
    agreement = float(
        np.mean(
            (counts * (counts - 1)).sum(axis=1)[pairable]
            / (raters[pairable] * (raters[pairable] - 1))
        )
    )
    pi = (counts[rated] / raters[rated, None]).mean(axis=0)
    chance = float((pi * (1 - pi)).sum()) / (len(categories) - 1)
    return float((agreement - chance) / (1 - chance))


def undefined_reason(statistic: str, ratings: pd.DataFrame) -> str | None:
    """Why a statistic is NaN for these ratings (``None`` when it is defined)."""
    pairable = ratings.notna().sum(axis=1) >= 2
    if not pairable.any():
        return NO_PAIRS
    values = ratings[pairable].stack().dropna().unique()
    if statistic == "cohen_kappa":
        if ratings.shape[1] != 2:
            return "Cohen's kappa is for two coders; see the pairwise values"
        if len(values) <= 1:
            return (
                f"both coders gave every unit the same value ({_show(values)}),"
                " so chance agreement is 1"
            )
        return "each coder gave a single value throughout, so chance agreement is 1"
    if statistic == "krippendorff_alpha":
        return f"every judgement has the same value ({_show(values)}): no variation to measure"
    return "undefined for these data"


def _show(values: Iterable[Any]) -> str:
    names = {0: "absent", 1: "present"}
    return ", ".join(str(names.get(v, v)) for v in values)


def _statistics(ratings: pd.DataFrame, categories: Sequence[Any] | None = None) -> dict:
    values: dict[str, Any] = {
        "percent_agreement": percent_agreement(ratings),
        "cohen_kappa": cohen_kappa(ratings) if ratings.shape[1] == 2 else math.nan,
        "krippendorff_alpha": krippendorff_alpha(ratings),
        "gwet_ac1": gwet_ac1(ratings, categories),
    }
    notes = {
        name: undefined_reason(name, ratings)
        for name, value in values.items()
        if isinstance(value, float) and math.isnan(value)
    }
    if ratings.shape[1] > 2:
        pairs = pairwise_cohen_kappa(ratings)
        values["pairwise_kappa"] = {f"{a}|{b}": v for (a, b), v in pairs.items()}
        values["mean_pairwise_kappa"] = _nanmean(pairs.values())
        notes.pop("cohen_kappa", None)
    return {**values, "notes": notes}


def _nanmean(values: Iterable[float]) -> float:
    finite = [v for v in values if isinstance(v, float | int) and not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


# -- code mode ----------------------------------------------------------------------------


@dataclass
class AgreementReport:
    """Agreement per code and overall.

    ``per_code`` has one row per code with columns ``n_units, prevalence,
    percent_agreement, cohen_kappa, krippendorff_alpha, gwet_ac1`` (plus
    ``mean_pairwise_kappa`` with more than two coders). ``overall`` holds the pooled
    statistics (every unit x code judgement as one item) and the means over codes.
    """

    coders: list[str]
    n_units: int
    per_code: pd.DataFrame
    overall: dict[str, Any]
    notes: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``evalkit agree``; NaN becomes ``null``."""
        codes = {}
        for code, row in self.per_code.iterrows():
            entry = {
                "n_units": int(row["n_units"]),
                "prevalence": _json(row["prevalence"]),
                "percent_agreement": _json(row["percent_agreement"]),
            }
            if len(self.coders) == 2:
                entry["cohen_kappa"] = _json(row["cohen_kappa"])
            else:
                entry["mean_pairwise_kappa"] = _json(row["mean_pairwise_kappa"])
            entry["krippendorff_alpha"] = _json(row["krippendorff_alpha"])
            entry["gwet_ac1"] = _json(row["gwet_ac1"])
            codes[str(code)] = entry
        return {
            "n_units": self.n_units,
            "coders": self.coders,
            "codes": codes,
            "overall": {k: _json(v) for k, v in self.overall.items()},
            "notes": self.notes,
        }

    def table(self) -> pd.DataFrame:
        """Per-code rows followed by the pooled and mean rows, for people to read."""
        frame = self.per_code.reset_index().rename(columns={"index": "code"})
        pooled = {"code": "(pooled)", "n_units": self.n_units}
        pooled.update({k: self.overall.get(k) for k in STATISTICS})
        means = {
            "code": "(mean over codes)",
            "cohen_kappa": self.overall.get("mean_kappa") if len(self.coders) == 2 else None,
            "krippendorff_alpha": self.overall.get("mean_alpha"),
            "gwet_ac1": self.overall.get("mean_ac1"),
            "percent_agreement": self.overall.get("mean_percent_agreement"),
        }
        table = pd.concat([frame, pd.DataFrame([pooled, means])], ignore_index=True)
        if len(self.coders) == 2:
            table = table.drop(columns=["mean_pairwise_kappa"], errors="ignore")
        else:
            table = table.drop(columns=["cohen_kappa"], errors="ignore")
            table.loc[table.index[-1], "mean_pairwise_kappa"] = self.overall.get("mean_kappa")
        table["n_units"] = table["n_units"].astype("Int64")
        return table


def _json(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.floating | np.integer):
        return _json(value.item())
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


def code_ratings(codings: pd.DataFrame, code: str, coverage: pd.DataFrame) -> pd.DataFrame:
    """Present (1) / absent (0) / not coded (NaN) for one code, units x coders."""
    applied = codings[codings["code"] == code]
    present = (
        applied.groupby(["unit", "coder"]).size().unstack(fill_value=0).clip(upper=1)
        if not applied.empty
        else pd.DataFrame()
    )
    present = present.reindex(index=coverage.index, columns=coverage.columns, fill_value=0)
    return present.where(coverage).astype(float)


def code_agreement(
    codings: pd.DataFrame,
    *,
    codes: Sequence[str] | None = None,
    coders: Sequence[str] | None = None,
) -> AgreementReport:
    """Agreement per code, treating each code as present/absent for every coded unit.

    Parameters
    ----------
    codings
        Long table with columns ``unit, coder, code``. A row whose code is empty or NaN
        says the coder coded the unit and applied nothing.
    codes
        Codes to report (default: every code anyone applied). A listed code nobody
        used is reported too, with the reasons its coefficients are undefined.
    coders
        Coders to compare (default: all in the table). At least two.

    Returns
    -------
    AgreementReport

    Raises
    ------
    EvalkitError
        With fewer than two coders.
    """
    frame = codings[["unit", "coder", "code"]].copy()
    frame["unit"] = frame["unit"].astype(str)
    frame["coder"] = frame["coder"].astype(str)
    frame["code"] = frame["code"].where(frame["code"].notna(), "").astype(str).str.strip()
    if coders is not None:
        frame = frame[frame["coder"].isin(coders)]
        missing = [c for c in coders if c not in set(frame["coder"])]
        if missing:
            raise EvalkitError(
                f"coder(s) {', '.join(missing)} have no codings",
                hint=f"Coders present: {', '.join(sorted(set(codings['coder'].astype(str))))}",
            )
    coder_list = sorted(frame["coder"].unique()) if coders is None else list(coders)
    if len(coder_list) < 2:
        raise EvalkitError(
            f"agreement needs at least two coders; found {len(coder_list)}"
            + (f" ({coder_list[0]})" if coder_list else ""),
            hint="Import a second coder's codings of the same units",
        )
    coverage = frame.groupby(["unit", "coder"]).size().unstack().reindex(columns=coder_list).notna()
    double = coverage.sum(axis=1) >= 2
    used = [c for c in dict.fromkeys(frame["code"]) if c]
    code_list = list(codes) if codes is not None else sorted(used)
    rows, notes, stacked = {}, {}, []
    for code in code_list:
        ratings = code_ratings(frame, code, coverage)
        stats = _statistics(ratings, categories=(0.0, 1.0))
        judged = ratings[double]
        rows[code] = {
            "n_units": int(double.sum()),
            "prevalence": float(judged.stack().dropna().mean())
            if judged.notna().any().any()
            else math.nan,
            **{k: stats[k] for k in STATISTICS},
            "mean_pairwise_kappa": stats.get("mean_pairwise_kappa", math.nan),
        }
        if stats["notes"]:
            notes[code] = stats["notes"]
        stacked.append(ratings.set_axis([f"{code}\x1f{u}" for u in ratings.index]))
    per_code = pd.DataFrame.from_dict(rows, orient="index")
    if per_code.empty:
        per_code = pd.DataFrame(columns=["n_units", "prevalence", *STATISTICS])
    pooled = _statistics(pd.concat(stacked), categories=(0.0, 1.0)) if stacked else {}
    kappa_column = "cohen_kappa" if len(coder_list) == 2 else "mean_pairwise_kappa"
    overall = {
        **{k: pooled.get(k, math.nan) for k in STATISTICS},
        "mean_kappa": _nanmean(per_code.get(kappa_column, [])),
        "mean_alpha": _nanmean(per_code.get("krippendorff_alpha", [])),
        "mean_ac1": _nanmean(per_code.get("gwet_ac1", [])),
        "mean_percent_agreement": _nanmean(per_code.get("percent_agreement", [])),
    }
    if len(coder_list) > 2:
        overall["pairwise_kappa"] = pooled.get("pairwise_kappa", {})
    if pooled.get("notes"):
        notes["(pooled)"] = pooled["notes"]
    return AgreementReport(
        coders=coder_list,
        n_units=int(double.sum()),
        per_code=per_code,
        overall=overall,
        notes=notes,
    )


# -- categorical mode ---------------------------------------------------------------------


def categorical_agreement(
    values: pd.DataFrame, *, coders: Sequence[str] | None = None, path: str | None = None
) -> dict[str, Any]:
    """Agreement on one single-choice variable.

    ``values`` has columns ``unit, coder, value`` (and optionally ``row``, the spreadsheet
    row, for messages). Empty values are missing data.

    Raises
    ------
    EvalkitError
        When a coder gave one unit two different values, or with fewer than two coders.
    """
    frame = values.copy()
    frame["value"] = frame["value"].where(frame["value"].notna(), "").astype(str).str.strip()
    frame = frame[frame["value"] != ""]
    if coders is not None:
        frame = frame[frame["coder"].isin(coders)]
    for (unit, coder), group in frame.groupby(["unit", "coder"]):
        if group["value"].nunique() > 1:
            rows = group["row"].tolist() if "row" in group else []
            raise EvalkitError(
                f"coder '{coder}' gave unit '{unit}' two different values "
                f"({', '.join(map(repr, group['value'].unique()))})",
                path=path,
                row=rows[-1] if rows else None,
                hint=f"Keep one value per unit and coder (see also row {rows[0]})"
                if rows
                else "Keep one value per unit and coder",
            )
    frame = frame.drop_duplicates(["unit", "coder"])
    ratings = frame.pivot(index="unit", columns="coder", values="value")
    coder_list = list(ratings.columns) if coders is None else list(coders)
    if len(coder_list) < 2:
        raise EvalkitError(
            f"agreement needs at least two coders; found {len(coder_list)}",
            path=path,
            hint="Add a second coder's values",
        )
    ratings = ratings.reindex(columns=coder_list)
    stats = _statistics(ratings)
    return _json(
        {
            "n_units": int((ratings.notna().sum(axis=1) >= 2).sum()),
            "coders": coder_list,
            "categories": _categories(ratings),
            **{k: v for k, v in stats.items() if k != "notes"},
            "notes": stats["notes"],
        }
    )


# -- span mode ----------------------------------------------------------------------------


def span_agreement(
    spans: pd.DataFrame,
    lengths: dict[str, int],
    *,
    coders: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Character-level agreement for coders who coded spans of whole sources.

    Every character of every source is a unit, coded or not by each coder, as in NVivo's
    coding comparison: agreement is (characters both coded + characters neither coded)
    / all characters, and κ is computed over characters.

    Parameters
    ----------
    spans
        Columns ``source, start, end, coder, code`` (offsets as Python slices).
    lengths
        Characters in each source; every coder is taken to have read every source listed.

    Returns
    -------
    pandas.DataFrame
        One row per (source, code) and one per code pooled over sources (source
        ``"(all)"``), with ``characters, coded_by_any, percent_agreement, cohen_kappa``
        (two coders) and ``krippendorff_alpha``.
    """
    coder_list = sorted(spans["coder"].unique()) if coders is None else list(coders)
    if len(coder_list) < 2:
        raise EvalkitError("span agreement needs at least two coders", hint="Add a coder")
    unknown = sorted(set(spans["source"]) - set(lengths))
    if unknown:
        raise EvalkitError(
            f"spans refer to unknown source(s): {', '.join(map(str, unknown[:5]))}",
            hint="Give the length of every source",
        )
    rows = []
    for code in sorted(spans["code"].unique()):
        pooled_masks: dict[str, list[np.ndarray]] = {c: [] for c in coder_list}
        for source, length in lengths.items():
            masks = {c: np.zeros(length, dtype=bool) for c in coder_list}
            subset = spans[(spans["code"] == code) & (spans["source"] == source)]
            for span in subset.itertuples(index=False):
                if span.coder in masks:
                    masks[span.coder][max(0, int(span.start)) : min(length, int(span.end))] = True
            for c in coder_list:
                pooled_masks[c].append(masks[c])
            if subset.empty:
                continue
            rows.append({"source": source, "code": code, **_char_stats(masks)})
        rows.append(
            {
                "source": "(all)",
                "code": code,
                **_char_stats({c: np.concatenate(m) for c, m in pooled_masks.items()}),
            }
        )
    return pd.DataFrame(rows)


def _char_stats(masks: dict[str, np.ndarray]) -> dict[str, Any]:
    stacked = np.vstack(list(masks.values())).astype(int)
    characters = stacked.shape[1]
    row: dict[str, Any] = {
        "characters": characters,
        "coded_by_any": int(stacked.any(axis=0).sum()),
        "percent_agreement": float(np.mean(stacked.min(axis=0) == stacked.max(axis=0)))
        if characters
        else math.nan,
    }
    # Runs of identical columns are the same unit repeated: collapse them with weights so
    # that a long transcript costs no more than its number of coding boundaries.
    patterns, weights = np.unique(stacked.T, axis=0, return_counts=True)
    if len(masks) == 2:
        row["cohen_kappa"] = _weighted_kappa(patterns, weights)
    row["krippendorff_alpha"] = _weighted_alpha(patterns, weights)
    return row


def _weighted_kappa(patterns: np.ndarray, weights: np.ndarray) -> float:
    total = weights.sum()
    if total == 0:
        return math.nan
    observed = weights[patterns[:, 0] == patterns[:, 1]].sum() / total
    first = weights[patterns[:, 0] == 1].sum() / total
    second = weights[patterns[:, 1] == 1].sum() / total
    expected = first * second + (1 - first) * (1 - second)
    return math.nan if math.isclose(expected, 1.0) else (observed - expected) / (1 - expected)


def _weighted_alpha(patterns: np.ndarray, weights: np.ndarray) -> float:
    coders = patterns.shape[1]
    ones = patterns.sum(axis=1)
    zeros = coders - ones
    n = coders * weights.sum()
    per_category = np.array([(zeros * weights).sum(), (ones * weights).sum()], dtype=float)
    expected = n * n - float((per_category**2).sum())
    if expected == 0 or n <= 1:
        return math.nan
    observed = float((weights * (coders**2 - ones**2 - zeros**2) / (coders - 1)).sum())
    return 1 - (n - 1) * observed / expected
