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
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.errors import EvalkitError, PacketError
from evalkit.report.packet import (
    CHOICES,
    COLUMNS,
    IDENTITY_PREFIX,
)
from evalkit.util.archive import check_zip

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

_MARK = re.compile(
    r"[\u2612\u2611\u2713\u2714\u2717\u2718\u25a0\u25cf\u2716]|(?<![a-z])x(?![a-z])", re.I
)
_WORDS = {
    "agree": "agree",
    "agreed": "agree",
    "yes": "agree",
    "y": "agree",
    "fits": "agree",
    "disagree": "disagree",
    "disagreed": "disagree",
    "no": "disagree",
    "n": "disagree",
    "unsure": "unsure",
    "not sure": "unsure",
    "don't know": "unsure",
    "dont know": "unsure",
    "maybe": "unsure",
    "?": "unsure",
}
W14 = "{http://schemas.microsoft.com/office/word/2010/wordml}"


@dataclass
class ReadRow:
    """One row as read from the file, before it is matched to the project."""

    table: int
    row: int
    ref: str
    decision: str | None
    comment: str
    text: str
    problem: str | None = None


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


def read_decision(lines: list[tuple[str, bool]]) -> tuple[str | None, str | None]:
    """Decide what a "Your view" cell says: ``(decision, problem)``.

    ``lines`` are the cell's paragraphs as ``(text, ticked_control)``. A line that still
    names a choice counts when it carries a mark (☒, ☑, ✓, an X) or its box was clicked.
    Without the three printed choices, the cell's words are read ("agree", "no", "not
    sure").

    Examples
    --------
    >>> read_decision([("☐ Agree", False), ("☒ Disagree", False), ("☐ Unsure", False)])
    ('disagree', None)
    >>> read_decision([("x ☐ Agree", False), ("☐ Disagree", False), ("☐ Unsure", False)])
    ('agree', None)
    >>> read_decision([("Not sure", False)])
    ('unsure', None)
    """
    labelled = {}
    for text, clicked in lines:
        found = re.search(r"\b(agree|disagree|unsure)\b", text, re.I)
        if found and len(text.split()) <= 4:
            rest = text[: found.start()] + " " + text[found.end() :]
            labelled[found.group(1).lower()] = clicked or bool(_MARK.search(rest))
    if len(labelled) == len(CHOICES):
        ticked = [c for c, on in labelled.items() if on]
        if len(ticked) > 1:
            return None, f"more than one box ticked ({', '.join(ticked)})"
        return (ticked[0] if ticked else None), None
    words = " ".join(" ".join(t for t, _ in lines).split()).strip(" .!").lower()
    for box in ("\u2610", "\u2612", "\u2611"):
        words = words.replace(box, "").strip()
    if not words:
        return None, None
    if words in _WORDS:
        return _WORDS[words], None
    return None, f"cannot tell what '{words[:40]}' means; write Agree, Disagree or Unsure"


def read_packet_file(path: str | Path) -> tuple[str, str, list[ReadRow]]:
    """Read a filled packet: ``(project_id, packet_id, rows)``.

    Raises
    ------
    PacketError
        If the file is not a packet, or its tables no longer have the packet's columns.
    """
    path = Path(path)
    if not path.is_file():
        raise PacketError("no such file", path=path, hint="Check the path")
    suffix = path.suffix.lower()
    if suffix == ".docx":
        return _read_docx(path)
    if suffix == ".xlsx":
        return _read_xlsx(path)
    raise PacketError(
        f"a review packet is a .docx or .xlsx file, not '{suffix}'",
        path=path,
        hint="Save the packet as Word (.docx) or Excel (.xlsx)",
    )


def _identity(value: str | None, path: Path) -> tuple[str, str]:
    parts = (value or "").split()
    if len(parts) != 3 or parts[0] != IDENTITY_PREFIX:
        raise PacketError(
            "not an evalkit review packet (its hidden packet ID is missing)",
            path=path,
            hint="Import the file that 'evalkit review-packet' wrote, after filling it in",
        )
    return parts[1], parts[2]


def _read_docx(path: Path) -> tuple[str, str, list[ReadRow]]:
    check_zip(path, error=PacketError, kind="review packet")
    import zipfile

    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise PacketError(
            f"cannot open the Word file ({exc.__class__.__name__})",
            path=path,
            hint="Open it in Word and save it again as .docx",
        ) from None
    project_id, packet_id = _identity(document.core_properties.identifier, path)
    rows: list[ReadRow] = []
    expected = [c.lower() for c in COLUMNS]
    tables = document.tables
    if not tables:
        raise PacketError(
            "the packet has no tables left", path=path, hint="Fill in the original packet"
        )
    for t, table in enumerate(tables, start=1):
        header = [_cell_text(c).strip().lower() for c in table.rows[0].cells]
        if header != expected:
            raise PacketError(
                f"table {t} no longer has the packet's columns ({' | '.join(COLUMNS)});"
                f" found {' | '.join(header) or 'nothing'}",
                path=path,
                hint="Columns were added, removed or merged; fill in a fresh packet, or put"
                " the columns back",
            )
        for r, row in enumerate(table.rows[1:], start=2):
            cells = row.cells
            if len(cells) != len(COLUMNS):
                raise PacketError(
                    f"table {t} row {r} has {len(cells)} cells, not {len(COLUMNS)}",
                    path=path,
                    hint="Cells were merged or split; fill in a fresh packet",
                )
            decision, problem = read_decision(_cell_lines(cells[4]))
            rows.append(
                ReadRow(
                    table=t,
                    row=r,
                    ref=_cell_text(cells[0]).strip(),
                    decision=decision,
                    comment=_cell_text(cells[5]).strip(),
                    text=_cell_text(cells[1]),
                    problem=problem,
                )
            )
    return project_id, packet_id, rows


def _cell_text(cell) -> str:
    # Every w:t in the cell, including text inside content controls (the check boxes).
    return "\n".join(
        "".join(t.text or "" for t in p.iter(_W + "t")) for p in cell._tc.iter(_W + "p")
    )


def _cell_lines(cell) -> list[tuple[str, bool]]:
    lines = []
    for p in cell._tc.iter(_W + "p"):
        text = "".join(t.text or "" for t in p.iter(_W + "t"))
        clicked = any(c.get(W14 + "val") in ("1", "true") for c in p.iter(W14 + "checked"))
        lines.append((text, clicked))
    return lines


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _read_xlsx(path: Path) -> tuple[str, str, list[ReadRow]]:
    check_zip(path, error=PacketError, kind="review packet")
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=False, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise PacketError(
            f"cannot open the workbook ({exc.__class__.__name__})",
            path=path,
            hint="Open it in Excel and save it again as .xlsx",
        ) from None
    value = None
    if "evalkit" in workbook.sheetnames:
        value = workbook["evalkit"]["B1"].value
    project_id, packet_id = _identity(value or workbook.properties.identifier, path)
    sheet = workbook["Review"] if "Review" in workbook.sheetnames else workbook.worksheets[0]
    header = [str(c.value or "").strip().lower() for c in sheet[1]]
    need = {"no.": None, "excerpt": None, "your view": None, "comment": None}
    for name in need:
        if name not in header:
            raise PacketError(
                f"the sheet has no '{name}' column (found {' | '.join(header)})",
                path=path,
                row=1,
                hint="Columns were renamed or removed; fill in a fresh packet",
            )
        need[name] = header.index(name)
    rows = []
    for r, values in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
        if not any(v not in (None, "") for v in values):
            continue
        view = str(values[need["your view"]] or "")
        decision, problem = read_decision([(view, False)])
        rows.append(
            ReadRow(
                table=1,
                row=r,
                ref=str(values[need["no."]] or "").strip(),
                decision=decision,
                comment=str(values[need["comment"]] or "").strip(),
                text=str(values[need["excerpt"]] or ""),
                problem=problem,
            )
        )
    return project_id, packet_id, rows


def _squash(text: str) -> str:
    return " ".join(text.split())


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
