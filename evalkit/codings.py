"""Human codings: import from spreadsheets, disagreement lists, and consensus.

Spreadsheet layouts (CSV or XLSX):

- **long**: one row per (unit, coder, code): columns ``unit`` (or ``excerpt_id``),
  ``coder``, ``code``. A row with an empty code means the coder coded the unit and
  applied nothing.
- **wide**: one row per unit with columns ``Code 1 … Code N`` (and ``coder``).
- **consensus**: the disagreement sheet evalkit writes, with its ``consensus`` column
  filled in; codes are separated by ``;`` and ``none`` means no code applies.

Instead of a ``coder`` column, a file may hold one coder's work, named with ``coder=``.
Hierarchical codes may be written ``parent->child``, ``parent > child`` or ``parent/child``.
A code's name is the whole path (``Q5/cheating`` and ``Q8/cheating`` are two codes); only a
project's codebook may say that ``Q5/cheating`` is its code ``cheating`` under ``Q5``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from evalkit.errors import EvalkitError, InputFileError
from evalkit.util.tables import load_table, spreadsheet_row

Layout = Literal["auto", "long", "wide", "consensus"]
UNIT_COLUMNS = ("unit", "excerpt_id", "id")
CONSENSUS = "consensus"
_WIDE_CODE = re.compile(r"^codes?\s*_?\s*\d+$", re.I)
_HIERARCHY = re.compile(r"\s*(?:->|/|>)\s*")


def read_codings_table(
    path: str | Path, *, coder: str | None = None, layout: Layout = "auto"
) -> pd.DataFrame:
    """Read a codings spreadsheet into long form.

    Returns
    -------
    pandas.DataFrame
        Columns ``unit, coder, code, leaf, parent, row, text``: ``code`` is the code as
        written, its path parts joined with ``/`` (``""`` where the coder applied
        nothing), ``leaf`` its last part and ``parent`` the part before that (else
        ``""``), ``row`` the spreadsheet row, ``text`` the unit's text if the file had a
        ``text`` column.

    Raises
    ------
    InputFileError
        For a missing unit, coder or code column, naming the columns there are.
    """
    path = Path(path)
    frame = load_table(path)
    columns = list(frame.columns)
    if layout == "auto":
        if "code" in columns:
            layout = "long"
        elif any(_WIDE_CODE.match(c) for c in columns):
            layout = "wide"
        elif CONSENSUS in columns:
            layout = "consensus"
        else:
            raise InputFileError(
                f"no 'code' column, no 'Code 1…N' columns and no 'consensus' column"
                f" (columns are: {', '.join(columns)})",
                path=path,
                row=1,
                hint="Use the long layout unit,coder,code or the wide layout unit,Code 1,Code 2",
            )
    unit_column = next((c for c in UNIT_COLUMNS if c in columns), None)
    if unit_column is None:
        raise InputFileError(
            f"no 'unit' or 'excerpt_id' column (columns are: {', '.join(columns)})",
            path=path,
            row=1,
            hint="Add a column naming each coded excerpt",
        )
    if layout == "consensus":
        coder = coder or CONSENSUS
    if "coder" not in columns and not coder:
        raise InputFileError(
            f"no 'coder' column (columns are: {', '.join(columns)})",
            path=path,
            row=1,
            hint="Add a 'coder' column, or name the coder of this file with --coder NAME",
        )
    if layout == "long" and "code" not in columns:
        raise InputFileError("no 'code' column", path=path, row=1, hint="Add one")
    code_columns = {
        "long": ["code"],
        "wide": [c for c in columns if _WIDE_CODE.match(c)],
        "consensus": [CONSENSUS],
    }[layout]
    records: list[dict[str, Any]] = []
    unresolved = 0
    for index, row in frame.iterrows():
        unit = str(row[unit_column]).strip()
        if not unit:
            continue
        row_number = spreadsheet_row(int(index))
        who = coder or str(row["coder"]).strip()
        if not who:
            raise InputFileError(
                "empty coder", path=path, row=row_number, hint="Fill in who coded this unit"
            )
        cells = [str(row[c]).strip() for c in code_columns]
        if layout == "consensus":
            if not cells[0]:
                unresolved += 1
                continue
            cells = [] if cells[0].lower() in ("none", "-") else re.split(r"\s*[;,]\s*", cells[0])
        codes = [c for c in cells if c]
        text = str(row["text"]) if "text" in columns else ""
        for code in codes or [""]:
            parts = [p for p in _HIERARCHY.split(code) if p]
            records.append(
                {
                    "unit": unit,
                    "coder": who,
                    "code": "/".join(parts),
                    "leaf": parts[-1] if parts else "",
                    "parent": parts[-2] if len(parts) > 1 else "",
                    "row": row_number,
                    "text": text,
                }
            )
    result = pd.DataFrame(
        records, columns=["unit", "coder", "code", "leaf", "parent", "row", "text"]
    )
    result.attrs["unresolved"] = unresolved
    result.attrs["layout"] = layout
    return result


# -- the team's coding ------------------------------------------------------------------------


def team_codes(codings: pd.DataFrame) -> dict[str, set[str]]:
    """The codes the team gives each coded excerpt, from a codings table
    (:meth:`Store.codings_df`: ``excerpt_id, coder, code``).

    The ``consensus`` coder's codes where there are any; otherwise every code some human
    coder (or a reviewer who accepted a suggestion) applied. Excerpts that were coded
    with nothing applied map to an empty set.
    """
    labels: dict[str, set[str]] = {}
    for excerpt_id, group in codings.groupby("excerpt_id"):
        consensus = group[group["coder"] == CONSENSUS]
        chosen = consensus if not consensus.empty else group
        labels[excerpt_id] = {c for c in chosen["code"] if isinstance(c, str) and c}
    return labels


# -- consensus -------------------------------------------------------------------------------


def disagreements(
    codings: pd.DataFrame,
    excerpts: pd.DataFrame,
    coders: list[str],
    *,
    flags: dict[str, str] | None = None,
    where: str | None = None,
) -> pd.DataFrame:
    """Units where the coders' codes differ, for the consensus meeting.

    Returns
    -------
    pandas.DataFrame
        Columns ``excerpt_id, source_id, speaker, text``, one ``codes: CODER`` column per
        coder, ``differs_on`` (codes some applied and others did not), ``cab_flags``
        (community reviewers' Disagree / Unsure decisions and comments, as
        :func:`evalkit.project.reviews.cab_flags` gives them) and an empty ``consensus``
        column to fill in (codes separated by ``;``; ``none`` if none apply). Only units
        coded by at least two of the coders are listed; those the coders agree on are
        listed too when a CAB reviewer flagged them.
    """
    if len(coders) < 2:
        raise EvalkitError(
            "a disagreement list needs at least two coders", hint="Pass --coders a,b"
        )
    codings = codings[codings["coder"].isin(coders)]
    absent = [c for c in coders if c not in set(codings["coder"])]
    if absent:
        raise EvalkitError(
            f"coder(s) {', '.join(absent)} have no codings in the project",
            path=where,
            hint="Check the coder names in 'evalkit codings list'",
        )
    sets = (
        codings.groupby(["excerpt_id", "coder"])["code"]
        .apply(lambda s: frozenset(c for c in s if isinstance(c, str) and c))
        .unstack()
    )
    excerpts = excerpts.set_index("excerpt_id")
    flags = flags or {}
    rows = []
    for excerpt_id, row in sets.iterrows():
        present = {c: row[c] for c in coders if c in row and isinstance(row[c], frozenset)}
        flagged = flags.get(excerpt_id, "")
        if len(present) < 2 or (len(set(present.values())) == 1 and not flagged):
            continue
        union = frozenset().union(*present.values())
        common = frozenset.intersection(*present.values())
        info = excerpts.loc[excerpt_id]
        record = {
            "excerpt_id": excerpt_id,
            "source_id": info["source_id"],
            "speaker": info["speaker"] if isinstance(info["speaker"], str) else "",
            "text": info["text"],
        }
        for coder in coders:
            codes = present.get(coder)
            record[f"codes: {coder}"] = (
                "; ".join(sorted(codes)) or "(none)" if codes is not None else "(not coded)"
            )
        record["differs_on"] = "; ".join(sorted(union - common))
        record["cab_flags"] = flagged
        record[CONSENSUS] = ""
        rows.append(record)
    columns = ["excerpt_id", "source_id", "speaker", "text"]
    columns += [f"codes: {c}" for c in coders] + ["differs_on", "cab_flags", CONSENSUS]
    return pd.DataFrame(rows, columns=columns)


def write_disagreements(frame: pd.DataFrame, path: str | Path) -> Path:
    """Save a disagreement list as .csv, .xlsx (wrapped, frozen header) or .docx."""
    from evalkit.fileio import atomic_write
    from evalkit.util import sheets

    path = Path(path)
    suffix = path.suffix.lower()
    with atomic_write(path) as stream:
        if suffix == ".csv":
            sheets.write_csv(frame, stream)
        elif suffix == ".xlsx":
            _xlsx(frame, stream)
        elif suffix == ".docx":
            _docx(frame).save(stream)
        else:
            raise InputFileError(
                f"unsupported format '{suffix}'", path=path, hint="Use .xlsx, .docx or .csv"
            )
    return path


def _xlsx(frame: pd.DataFrame, stream) -> None:
    from evalkit.util import sheets

    workbook = sheets.new_workbook()
    sheet = sheets.write_frame(workbook, frame, "disagreements")
    widths = [70 if column == "text" else 24 for column in frame.columns]
    sheets.style_table(sheet, freeze="E2", widths=widths)
    sheets.save_workbook(workbook, stream)


def _docx(frame: pd.DataFrame):
    from docx import Document
    from docx.shared import Pt

    document = Document()
    document.styles["Normal"].font.size = Pt(10)
    document.add_heading("Coding disagreements for the consensus meeting", level=1)
    document.add_paragraph(
        f"{len(frame)} excerpts were coded differently or flagged by community reviewers. "
        "For each one, agree on the codes "
        "and write them in the consensus box (separate codes with ';', or write 'none')."
    )
    coder_columns = [c for c in frame.columns if c.startswith("codes: ")]
    for _, row in frame.iterrows():
        document.add_heading(f"{row['excerpt_id']} ({row['source_id']})", level=3)
        document.add_paragraph(row["text"])
        labelled = [(c.removeprefix("codes: "), row[c]) for c in coder_columns]
        labelled.append(("Differs on", row["differs_on"]))
        if row.get("cab_flags"):
            labelled.append(("Community review", row["cab_flags"]))
        labelled.append(("Consensus", ""))
        table = document.add_table(rows=len(labelled), cols=2)
        table.style = "Table Grid"
        for i, (label, value) in enumerate(labelled):
            table.cell(i, 0).text = label
            table.cell(i, 1).text = value
    return document
