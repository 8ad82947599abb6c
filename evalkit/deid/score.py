"""Recall and precision of de-identification against planted details."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

import pandas as pd

from evalkit.deid.detect import TYPES, Replacement
from evalkit.deid.roster import _fold


def score(
    truth: pd.DataFrame,
    replaced: Mapping[str, Iterable[Replacement]],
    deidentified: Mapping[str, str],
) -> pd.DataFrame:
    """Recall and precision of de-identification against planted details.

    Parameters
    ----------
    truth
        Columns ``file, type, text, count``: each planted detail as it appears in a file.
    replaced
        File -> the replacements made in it.
    deidentified
        File -> its de-identified text.

    Returns
    -------
    pandas.DataFrame
        One row per type and a ``total`` row: ``planted`` occurrences, ``left`` (still in
        the de-identified text as a whole word), ``recall``; ``replaced`` items, ``correct``
        (the replaced text is, contains or lies within a planted detail of that file),
        ``precision``.
    """
    planted: Counter[str] = Counter()
    left: Counter[str] = Counter()
    truth_by_file: dict[str, list[str]] = defaultdict(list)
    for row in truth.itertuples():
        planted[row.type] += int(row.count)
        truth_by_file[row.file].append(_fold(row.text))
        text = deidentified.get(row.file, "")
        pattern = r"(?<!\w)" + r"\s+".join(map(re.escape, row.text.split())) + r"(?!\w)"
        left[row.type] += min(int(row.count), len(re.findall(pattern, text)))
    made: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    for file, items in replaced.items():
        known = truth_by_file.get(file, [])
        for item in items:
            made[item.type] += 1
            original = _fold(item.original)
            if any(original in t or t in original for t in known):
                correct[item.type] += 1
    rows = []
    for kind in [*TYPES, "total"]:
        if kind == "total":
            p, lft, m, c = (sum(x.values()) for x in (planted, left, made, correct))
        else:
            p, lft, m, c = planted[kind], left[kind], made[kind], correct[kind]
        if kind != "total" and not (p or m):
            continue
        rows.append(
            {
                "type": kind,
                "planted": p,
                "left": lft,
                "recall": round((p - lft) / p, 4) if p else None,
                "replaced": m,
                "correct": c,
                "precision": round(c / m, 4) if m else None,
            }
        )
    return pd.DataFrame(rows)
