"""The community advisory board (CAB) review loop: packets out, decisions back in.

1. :func:`make_packet` picks coded or suggested excerpts, records the packet in the project
   and returns a Word document (or workbook) a reviewer can print or fill in.
2. The reviewer ticks Agree / Disagree / Unsure (a click in Word, an X, or a typed word) and
   writes comments.
3. :func:`import_packet` reads the filled file back, checks that it belongs to this
   project, and stores each decision with the reviewer and the time. Reading the same file
   again adds nothing.
4. :func:`cab_agreement` compares reviewers with each other and with the coders, and
   disagreements reach the consensus list (:func:`evalkit.codings.disagreements`).

Reading the files is :mod:`evalkit.cab.read`; binding each returned row to the excerpt it
was made for (row codes, and text compared as office programs leave it) is
:mod:`evalkit.cab.binding`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.cab.binding import RowBinder, comparable, row_check, row_checks
from evalkit.cab.read import ReadRow, read_decision, read_packet_file
from evalkit.errors import EvalkitError

__all__ = [
    "CabAgreement",
    "Packet",
    "PacketImport",
    "ReadRow",
    "RowBinder",
    "cab_agreement",
    "cab_ratings",
    "comparable",
    "packet_items",
    "read_decision",
    "read_packet_file",
    "review_flags",
    "row_check",
    "row_checks",
]

STATUSES = ("suggested", "accepted", "all")
ITEM_COLUMNS = (
    "ref",
    "code",
    "excerpt_id",
    "source_id",
    "text",
    "source_label",
    "origin",
    "origin_label",
    "confidence",
)


# -- choosing what to review ---------------------------------------------------------------


def packet_items(
    store,
    *,
    status: str = "suggested",
    codes: list[str] | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """The excerpt-and-code pairs a packet asks about, numbered ``ref`` from 1.

    Parameters
    ----------
    status
        ``"suggested"`` for machine suggestions no one has reviewed, ``"accepted"`` for
        codes the team applied (by hand or by accepting a suggestion), ``"all"`` for both.
    codes
        Only these codes and the codes under them.
    limit
        At most this many rows per code (the most confident suggestions first).

    Returns
    -------
    pandas.DataFrame
        Columns ``ref, code, excerpt_id, source_id, text, source_label, origin,
        origin_label, confidence``, grouped by code in codebook order.
    """
    from evalkit.codebook import project_codebook

    if status not in STATUSES:
        raise EvalkitError(
            f"status must be one of {', '.join(STATUSES)}; got '{status}'",
            hint="Pass --status suggested, accepted or all",
        )
    frames = []
    if status in ("suggested", "all"):
        suggested = store.suggestions_df(status="suggested")
        frames.append(
            pd.DataFrame(
                {
                    "code": suggested["code"],
                    "excerpt_id": suggested["excerpt_id"],
                    "origin": suggested["origin"],
                    "origin_label": [
                        f"{o} ({c:.2f})"
                        for o, c in zip(suggested["origin"], suggested["confidence"], strict=True)
                    ],
                    "confidence": suggested["confidence"],
                }
            )
        )
    if status in ("accepted", "all"):
        codings = store.codings_df().dropna(subset=["code"])
        grouped = codings.groupby(["excerpt_id", "code"])["coder"].agg(
            lambda s: ", ".join(sorted(set(s)))
        )
        frames.append(
            pd.DataFrame(
                {
                    "code": grouped.index.get_level_values("code"),
                    "excerpt_id": grouped.index.get_level_values("excerpt_id"),
                    "origin": "coded",
                    "origin_label": [f"coded by {c}" for c in grouped.values],
                    "confidence": float("nan"),
                }
            )
        )
    items = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    items = items.drop_duplicates(["excerpt_id", "code"], keep="last")
    codebook = project_codebook(store)
    order = [c.name for c in codebook.codes] if codebook is not None else []
    if codes:
        unknown = [c for c in codes if order and c not in order]
        if unknown:
            raise EvalkitError(
                f"no code named {', '.join(unknown)} in the project codebook",
                path=str(store.folder),
                hint="See 'evalkit codebook show' for the code names",
            )
        wanted = _with_descendants(codebook, codes) if codebook is not None else set(codes)
        items = items[items["code"].isin(wanted)]
    excerpts = store.excerpts_df().set_index("excerpt_id")
    items = items[items["excerpt_id"].isin(excerpts.index)]
    rank = {name: i for i, name in enumerate(order)}
    items = items.assign(
        _rank=items["code"].map(lambda c: rank.get(c, len(rank))),
        _conf=items["confidence"].fillna(2.0),
    ).sort_values(["_rank", "code", "_conf", "excerpt_id"], ascending=[True, True, False, True])
    if limit is not None:
        items = items.groupby("code", sort=False).head(limit)
    info = excerpts.loc[items["excerpt_id"]]
    items = items.assign(
        source_id=info["source_id"].to_numpy(),
        text=info["text"].to_numpy(),
        source_label=[_source_label(row) for _, row in info.iterrows()],
    ).drop(columns=["_rank", "_conf"])
    items.insert(0, "ref", range(1, len(items) + 1))
    return items.reindex(columns=ITEM_COLUMNS).reset_index(drop=True)


def _with_descendants(codebook, names: list[str]) -> set[str]:
    wanted = set(names)
    changed = True
    while changed:
        more = {c.name for c in codebook.codes if c.parent in wanted} - wanted
        wanted |= more
        changed = bool(more)
    return wanted


def _source_label(row: pd.Series) -> str:
    who = row.get("participant_id")
    who = who if isinstance(who, str) and who else row["source_id"]
    sector = row.get("sector")
    label = f"{who} ({row['kind']})"
    return f"{label}, {sector}" if isinstance(sector, str) and sector else label


# -- making a packet ------------------------------------------------------------------------


@dataclass
class Packet:
    """A packet made for a reviewer: ``document`` is a python-docx Document or an openpyxl
    Workbook; call :meth:`save`."""

    packet_id: str
    reviewer: str
    items: pd.DataFrame
    document: Any

    def save(self, path: str | Path) -> Path:
        from evalkit.fileio import atomic_write

        with atomic_write(path) as stream:
            self.document.save(stream)
        return Path(path)


# -- reading a packet back ------------------------------------------------------------------


@dataclass
class PacketImport:
    """What reading a packet did."""

    packet_id: str
    reviewer: str
    recorded: int = 0
    already: int = 0
    blank: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    unreadable: list[dict] = field(default_factory=list)
    edited_text: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# -- agreement ------------------------------------------------------------------------------


def cab_ratings(store) -> pd.DataFrame:
    """Items x raters: 1 where the code applies, 0 where it does not, NaN where not rated.

    Items are the (excerpt, code) pairs some CAB reviewer decided on (Agree = 1,
    Disagree = 0, Unsure = not rated). Coders rate an item when they coded its excerpt:
    1 if they applied the code. Columns are ``reviewer:NAME`` and ``coder:NAME``.
    """
    reviews = store.reviews_df()
    reviews = reviews[reviews["decision"].isin(["agree", "disagree"])]
    frame = reviews.assign(
        rater="reviewer:" + reviews["reviewer"],
        value=(reviews["decision"] == "agree").astype(float),
    ).pivot_table(index=["excerpt_id", "code"], columns="rater", values="value", aggfunc="last")
    codings = store.codings_df()
    for coder, group in codings.groupby("coder"):
        applied = set(zip(group["excerpt_id"], group["code"], strict=True))
        coded = set(group["excerpt_id"])
        frame[f"coder:{coder}"] = [
            float((e, c) in applied) if e in coded else math.nan for e, c in frame.index
        ]
    return frame


@dataclass(frozen=True)
class CabAgreement:
    """Agreement of CAB reviewers: ``alpha`` (Krippendorff's α, nominal, among all
    reviewers), ``reviewers`` (per pair: ``reviewer_a, reviewer_b, items, percent,
    kappa``) and ``coders`` (per reviewer and coder: ``reviewer, coder, items, percent,
    kappa``)."""

    alpha: float
    reviewers: pd.DataFrame
    coders: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "reviewers": self.reviewers.to_dict(orient="records"),
            "coders": self.coders.to_dict(orient="records"),
        }


def cab_agreement(store) -> CabAgreement:
    """Agreement among CAB reviewers, and between each reviewer and each coder.

    Returns
    -------
    dict
        ``"alpha"``: Krippendorff's α (nominal) among all reviewers; ``"reviewers"``: per
        pair of reviewers, ``items`` both rated, ``percent`` agreement and Cohen's
        ``kappa``; ``"coders"``: the same per reviewer and coder. See :func:`cab_ratings`
        for what counts as a rating.
    """
    from evalkit.agreement import cohen_kappa, krippendorff_alpha, percent_agreement

    ratings = cab_ratings(store)
    reviewers = [c for c in ratings.columns if c.startswith("reviewer:")]
    coders = [c for c in ratings.columns if c.startswith("coder:")]

    def pair(a: str, b: str) -> dict[str, Any]:
        both = ratings[[a, b]].dropna()
        return {
            "items": len(both),
            "percent": percent_agreement(both) if len(both) else math.nan,
            "kappa": cohen_kappa(both) if len(both) else math.nan,
        }

    def name(column: str) -> str:
        return column.split(":", 1)[1]

    among = [
        {"reviewer_a": name(a), "reviewer_b": name(b), **pair(a, b)}
        for i, a in enumerate(reviewers)
        for b in reviewers[i + 1 :]
    ]
    against = [
        {"reviewer": name(r), "coder": name(c), **pair(r, c)} for r in reviewers for c in coders
    ]
    alpha = krippendorff_alpha(ratings[reviewers]) if len(reviewers) > 1 else math.nan
    return CabAgreement(
        alpha,
        pd.DataFrame(among, columns=["reviewer_a", "reviewer_b", "items", "percent", "kappa"]),
        pd.DataFrame(against, columns=["reviewer", "coder", "items", "percent", "kappa"]),
    )


def review_flags(store) -> pd.DataFrame:
    """Each reviewer's latest Disagree or Unsure, with the comment: for the consensus list.

    Columns ``excerpt_id, code, reviewer, decision, comment``.
    """
    reviews = store.reviews_df()
    flagged = reviews[reviews["decision"].isin(["disagree", "unsure"])]
    return flagged[["excerpt_id", "code", "reviewer", "decision", "comment"]].reset_index(drop=True)
