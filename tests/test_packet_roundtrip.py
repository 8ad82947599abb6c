"""CAB packets through LibreOffice: filled as a CAB member would, opened and saved by
``soffice --headless``, and read back with every decision and no false "edited" notes.

Two orders, as packets really travel: the member's edits, then LibreOffice saving the
file; and LibreOffice opening and saving the blank packet, then the member's edits. Each
test runs LibreOffice with a profile of its own, so parallel runs do not share one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn
from openpyxl import load_workbook
from test_cab import rows_by_ref, tick, view_cell

from evalkit.cab import read_packet_file
from evalkit.store import Store

SOFFICE = shutil.which("soffice")
SOFFICE_TIMEOUT = 300  # seconds for one conversion, the first start of a fresh profile included

pytestmark = pytest.mark.skipif(
    SOFFICE is None,
    reason="LibreOffice (soffice) is not on PATH; .ci/run installs it when it runs as root"
    " with apt-get",
)

# Typographic punctuation and a line break, as a word processor leaves a typed comment.
COMMENT = "Isn\u2019t this about \u201coutreach\u201d \u2013 not policy?\nSee P07\u2019s\u2026"


def office_pass(path: Path, tmp_path: Path) -> Path:
    """Open and save ``path`` in LibreOffice, in its own format, into another folder."""
    out = tmp_path / f"saved-by-libreoffice-{len(list(tmp_path.glob('saved-by-*')))}"
    out.mkdir()
    profile = tmp_path / "libreoffice-profile"
    command = [
        SOFFICE,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        path.suffix.lstrip("."),
        "--outdir",
        str(out),
        str(path),
    ]
    # soffice starts soffice.bin as a child: a session of its own lets a timeout end both.
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        _, err = process.communicate(timeout=SOFFICE_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"soffice did not convert {path.name} within {SOFFICE_TIMEOUT} s")
    saved = out / path.name
    assert process.returncode == 0 and saved.is_file(), err.decode(errors="replace")
    assert saved.read_bytes() != path.read_bytes()
    return saved


def expected_views(refs: list[int]) -> dict[int, tuple[str | None, str]]:
    """What the member answers on each row: (decision, comment); some rows left blank."""
    decisions = ["agree", "disagree", "unsure", "agree", None]
    return {
        ref: (decisions[ref % 5], COMMENT if ref % 7 == 0 else "")
        for ref in refs
        if decisions[ref % 5] or ref % 7 == 0
    }


def fill_word(path: Path, views: dict[int, tuple[str | None, str]]) -> None:
    """Fill the Word packet the ways its instructions offer: a clicked box, an X typed in
    the box, or the answer in words; and a comment."""
    document = Document(str(path))
    rows = rows_by_ref(document)
    for ref, (decision, comment) in views.items():
        cell = view_cell(rows[ref])
        if decision and ref % 3 == 0:  # an X typed over the box
            for paragraph in cell.paragraphs:
                texts = list(paragraph._p.iter(qn("w:t")))
                if decision.title() in "".join(t.text or "" for t in texts).split():
                    for text in texts:
                        text.text = (text.text or "").replace("\u2610", "X")
        elif decision and ref % 3 == 1:  # the box clicked
            tick(cell, decision.title())
        elif decision:  # the answer in words instead of the boxes
            cell.text = {"agree": "Yes", "disagree": "no", "unsure": "Not sure"}[decision]
        if comment:
            rows[ref].cells[5].text = comment
    document.save(str(path))


def fill_workbook(path: Path, views: dict[int, tuple[str | None, str]]) -> None:
    """Choose from the drop-down (its values are typed into the cell) and type comments."""
    workbook = load_workbook(path)
    sheet = workbook["Review"]
    header = [c.value for c in sheet[1]]
    number, view, note = (header.index(name) + 1 for name in ("No.", "Your view", "Comment"))
    for row in range(2, sheet.max_row + 1):
        ref = sheet.cell(row=row, column=number).value
        if ref is None or int(ref) not in views:
            continue
        decision, comment = views[int(ref)]
        if decision:
            sheet.cell(row=row, column=view).value = decision.title()
        if comment:
            sheet.cell(row=row, column=note).value = comment
    workbook.save(path)


def make(cli, store: Store, out: Path) -> list[int]:
    result = cli(
        "review-packet",
        "-p",
        str(store.folder),
        "--reviewer",
        "Ana",
        "--status",
        "accepted",
        "--out",
        str(out),
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    return list(range(1, json.loads(result.stdout)["items"] + 1))


def import_and_check(cli, store: Store, path: Path, views: dict) -> dict:
    # Every row kept its row code, so the binding was checked, not skipped.
    assert all(row.check for row in read_packet_file(path)[2])
    result = cli("review-import", str(path), "-p", str(store.folder), "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["unreadable"] == [] and report["edited_text"] == []
    assert "edited" not in result.stderr and result.stderr == ""
    assert report["recorded"] == len(views)
    reviews = store.reviews_df().set_index("ref")
    packet = store.packet(report["packet_id"])
    items = {item["ref"]: item for item in packet["items"]}
    for ref, (decision, comment) in views.items():
        stored = reviews.loc[ref]
        assert (stored["excerpt_id"], stored["code"]) == (
            items[ref]["excerpt_id"],
            items[ref]["code"],
        )
        assert (stored["decision"] if isinstance(stored["decision"], str) else None) == decision
        assert " ".join(stored["comment"].split()) == " ".join(comment.split())
    return report


@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
def test_filled_then_saved_by_libreoffice(
    fmt: str, copy_project, sample_coded: Path, cli, tmp_path: Path
) -> None:
    store = copy_project(sample_coded)
    path = tmp_path / f"ana.{fmt}"
    refs = make(cli, store, path)
    views = expected_views(refs)
    assert len(refs) > 100 and {d for d, _ in views.values()} == {
        "agree",
        "disagree",
        "unsure",
        None,
    }
    (fill_word if fmt == "docx" else fill_workbook)(path, views)
    saved = office_pass(path, tmp_path)
    import_and_check(cli, store, saved, views)


@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
def test_saved_by_libreoffice_then_filled(
    fmt: str, copy_project, sample_coded: Path, cli, tmp_path: Path
) -> None:
    store = copy_project(sample_coded)
    path = tmp_path / f"ana.{fmt}"
    views = expected_views(make(cli, store, path))
    saved = office_pass(path, tmp_path)
    (fill_word if fmt == "docx" else fill_workbook)(saved, views)
    import_and_check(cli, store, saved, views)


@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
def test_saved_by_libreoffice_unfilled(
    fmt: str, copy_project, sample_coded: Path, cli, tmp_path: Path
) -> None:
    store = copy_project(sample_coded)
    path = tmp_path / f"ana.{fmt}"
    refs = make(cli, store, path)
    report = import_and_check(cli, store, office_pass(path, tmp_path), {})
    assert report["blank"] == len(refs)


def test_renumbered_rows_are_still_caught_after_libreoffice(
    copy_project, sample_coded: Path, cli, tmp_path: Path
) -> None:
    store = copy_project(sample_coded)
    path = tmp_path / "ana.xlsx"
    views = expected_views(make(cli, store, path))
    fill_workbook(path, views)
    workbook = load_workbook(path)
    sheet = workbook["Review"]
    sheet["A2"], sheet["A3"] = 2, 1  # No. 1 answered Agree, No. 2 Disagree
    workbook.save(path)
    saved = office_pass(path, tmp_path)
    result = cli("review-import", str(saved), "-p", str(store.folder))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "2 row(s) no longer match" in result.stderr
    assert "row 2 says No. 2" in result.stderr and "row 3 says No. 1" in result.stderr
    assert store.reviews_df().empty
