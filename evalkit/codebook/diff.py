"""Compare two codebook versions: codes added, removed, changed field by field, renamed."""

from __future__ import annotations

import difflib

import pandas as pd

from evalkit.model import CODE_FIELDS, Code, Codebook

RENAME_THRESHOLD = 0.6


def diff_codebooks(old: Codebook, new: Codebook) -> pd.DataFrame:
    """What changed from ``old`` to ``new``.

    Returns
    -------
    pandas.DataFrame
        Columns ``change, code, field, old, new``. ``change`` is ``added``, ``removed``,
        ``changed`` (one row per field) or ``renamed?`` (a removed and an added code whose
        definitions are at least 60% alike: ``code`` is the old name, ``new`` the new one).
        Domain changes have ``code`` empty and ``field`` ``domain:NAME``.
    """
    old_codes = {c.name: c for c in old.codes}
    new_codes = {c.name: c for c in new.codes}
    removed = [n for n in old_codes if n not in new_codes]
    added = [n for n in new_codes if n not in old_codes]
    renames = _likely_renames([old_codes[n] for n in removed], [new_codes[n] for n in added])
    rows: list[dict] = []
    for old_name, new_name, score in renames:
        rows.append(
            {
                "change": "renamed?",
                "code": old_name,
                "field": f"similarity {score:.2f}",
                "old": old_name,
                "new": new_name,
            }
        )
    rows += [{"change": "removed", "code": n, "field": "", "old": "", "new": ""} for n in removed]
    rows += [{"change": "added", "code": n, "field": "", "old": "", "new": ""} for n in added]
    for name in old_codes.keys() & new_codes.keys():
        for field in CODE_FIELDS:
            before, after = getattr(old_codes[name], field), getattr(new_codes[name], field)
            if before != after:
                rows.append(
                    {
                        "change": "changed",
                        "code": name,
                        "field": field,
                        "old": _show(before),
                        "new": _show(after),
                    }
                )
    for domain in dict.fromkeys([*old.domains, *new.domains]):
        before, after = old.domains.get(domain), new.domains.get(domain)
        if before != after:
            rows.append(
                {
                    "change": "changed" if before and after else ("added" if after else "removed"),
                    "code": "",
                    "field": f"domain:{domain}",
                    "old": _show(before or ()),
                    "new": _show(after or ()),
                }
            )
    order = {"renamed?": 0, "removed": 1, "added": 2, "changed": 3}
    rows.sort(key=lambda r: (order[r["change"]], r["code"], r["field"]))
    return pd.DataFrame(rows, columns=["change", "code", "field", "old", "new"])


def _likely_renames(removed: list[Code], added: list[Code]) -> list[tuple[str, str, float]]:
    pairs = []
    for old in removed:
        for new in added:
            score = difflib.SequenceMatcher(None, _gist(old), _gist(new)).ratio()
            if score >= RENAME_THRESHOLD:
                pairs.append((score, old.name, new.name))
    chosen: list[tuple[str, str, float]] = []
    taken: set[str] = set()
    for score, old_name, new_name in sorted(pairs, reverse=True):
        if old_name not in taken and new_name not in taken:
            taken.update((old_name, new_name))
            chosen.append((old_name, new_name, score))
    return chosen


def _gist(code: Code) -> str:
    return " ".join(f"{code.brief} {code.definition}".lower().split())


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return "; ".join(str(v) for v in value)
    return "" if value is None else str(value)
