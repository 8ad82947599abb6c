"""CAB review packets: made, filled by hand (python-docx / openpyxl), read back."""

from __future__ import annotations

import json
from math import nan
from pathlib import Path

import krippendorff
import pandas as pd
import pytest
from conftest import store_snapshot
from docx import Document
from docx.oxml.ns import qn
from test_codebook import SMALL

from evalkit.cab import cab_agreement, packet_items
from evalkit.cli import main
from evalkit.errors import EvalkitError, PacketError
from evalkit.project import disagreements, import_packet, ingest, load_into_project, make_packet
from evalkit.store import Store

TURNS = [
    "We only ever hear from the task force when there is a grant to write.",
    "The policy on condoms as evidence changed how the outreach team talks to people.",
    "Nobody trusts the hotline numbers, the counting is a mess.",
    "The new protocol made it safer for workers to report a bad date.",
    "I do not think the policy changed anything on the street.",
    "Meetings are at nine in the morning, which shuts out night workers.",
    "The subcommittee finally wrote the policy down in plain words.",
    "Honestly the funding ties every agency to the same enforcement goals.",
]


@pytest.fixture
def coded(project: Store, tmp_path: Path) -> Store:
    source = tmp_path / "src" / "P09.txt"
    source.parent.mkdir()
    source.write_text(
        "\n\n".join(f"Interviewer: Question {i}?\n\nP09: {t}" for i, t in enumerate(TURNS)),
        encoding="utf-8",
    )
    ingest(project, [source], kind="interview")
    book = tmp_path / "cb.yaml"
    book.write_text(SMALL, encoding="utf-8")
    load_into_project(project, book)
    answers = [e.id for e in project.excerpts() if e.speaker == "P09"]
    rows = [(e, "maria", "POLICY") for e in answers]
    rows += [(e, "jamal", "POLICY") for e in answers[:6]] + [(answers[6], "jamal", None)]
    rows += [(answers[7], "jamal", "PSSW_POLICY")]
    with project.transaction(actor="lead"):
        project.replace_codings(rows, origin="test")
    return project


def view_cell(row):
    return row.cells[4]


def tick(cell, choice: str, *, clicked: bool = True) -> None:
    """What Word does when a box is clicked: the symbol and the w14:checked value change."""
    for paragraph in cell.paragraphs:
        if choice in paragraph.text or choice in "".join(
            t.text for t in paragraph._p.iter(qn("w:t"))
        ):
            for text in paragraph._p.iter(qn("w:t")):
                text.text = text.text.replace("\u2610", "\u2612")
            if clicked:
                for checked in paragraph._p.iter(qn("w14:checked")):
                    checked.set(qn("w14:val"), "1")


def rows_by_ref(document) -> dict[int, object]:
    return {int(r.cells[0].text): r for t in document.tables for r in t.rows[1:]}


def test_packet_round_trip(coded: Store, tmp_path: Path) -> None:
    packet = make_packet(coded, reviewer="Ana", status="accepted", actor="lead")
    assert len(packet.items) == 9  # 8 POLICY + 1 PSSW_POLICY, one row each
    path = packet.save(tmp_path / "ana.docx")
    document = Document(str(path))
    assert document.core_properties.identifier.split()[1] == coded.project_id
    assert "Agree" in document.paragraphs[2].text or any(
        "tick one box" in p.text for p in document.paragraphs
    )
    rows = rows_by_ref(document)
    # A person fills it in: a clicked box, a typed X, typed words, comments, blanks, an edit.
    tick(view_cell(rows[1]), "Agree")
    tick(view_cell(rows[2]), "Disagree")
    rows[2].cells[5].text = "This is about outreach, not policy."
    view_cell(rows[3]).paragraphs[2].insert_paragraph_before("")  # stray empty line
    view_cell(rows[3]).paragraphs[0].runs[0].text = "X Agree"  # an X typed in the box line
    for p in view_cell(rows[4]).paragraphs:
        p._p.getparent().remove(p._p)
    view_cell(rows[4]).add_paragraph("not sure")  # words instead of boxes
    rows[5].cells[5].text = "Comment only, no decision."
    # Row 6 is left blank.
    tick(view_cell(rows[7]), "Unsure", clicked=False)  # ☒ typed by hand, no click state
    rows[7].cells[1].text = "Someone retyped this excerpt."
    tick(view_cell(rows[8]), "Agree")
    tick(view_cell(rows[8]), "Disagree")  # two boxes: cannot tell
    rows[9].cells[0].text = "99"  # a number that is not in the packet
    tick(view_cell(rows[9]), "Agree")
    document.save(str(path))

    report = import_packet(coded, path, reviewer="Ana R.", actor="ana")
    assert report.recorded == 6 and report.already == 0 and report.blank == 1
    assert report.decisions == {"agree": 2, "disagree": 1, "unsure": 2}
    # Listed by table and row as Word shows them (the header is row 1).
    assert [(u["table"], u["row"], u["problem"][:24]) for u in report.unreadable] == [
        (1, 9, "more than one box ticked"),
        (2, 2, "number '99' is not one o"),
    ]
    assert [e["ref"] for e in report.edited_text] == ["7"]
    reviews = coded.reviews_df().set_index("ref")
    items = packet.items.set_index("ref")
    assert reviews.loc[1, "decision"] == "agree" and reviews.loc[1, "reviewer"] == "Ana R."
    assert reviews.loc[2, "decision"] == "disagree"
    assert reviews.loc[2, "comment"] == "This is about outreach, not policy."
    assert reviews.loc[3, "decision"] == "agree"
    assert reviews.loc[4, "decision"] == "unsure"
    assert pd.isna(reviews.loc[5, "decision"]) and reviews.loc[5, "comment"].startswith("Comment")
    assert reviews.loc[7, "decision"] == "unsure"
    for ref in (1, 2, 3, 4, 5, 7):
        assert reviews.loc[ref, "excerpt_id"] == items.loc[ref, "excerpt_id"]
        assert reviews.loc[ref, "code"] == items.loc[ref, "code"]
    audit = coded.audit_df()
    assert audit["action"].tolist()[-1] == "reviews.import"
    assert audit["actor"].tolist()[-1] == "ana"

    # Reading the same file again adds nothing.
    again = import_packet(coded, path, reviewer="Ana R.")
    assert (again.recorded, again.already) == (0, 6)
    assert len(coded.reviews_df(latest=False)) == 6

    # The disagreement and the unsure reach the consensus list, even where coders agree.
    frame = disagreements(coded, ["maria", "jamal"]).set_index("excerpt_id")
    flagged = items.loc[2, "excerpt_id"]
    assert (
        "Ana R. disagrees with POLICY: “This is about outreach, not policy.”"
        in (frame.loc[flagged, "cab_flags"])
    )
    assert frame.loc[flagged, "differs_on"] == ""


def test_packet_from_another_project_or_restructured(
    coded: Store, tmp_path: Path, interview_file: Path
) -> None:
    path = make_packet(coded, reviewer="Ana", status="accepted").save(tmp_path / "ana.docx")
    other = Store.init(tmp_path / "other", actor="t")
    ingest(other, [interview_file], kind="interview")
    snapshot = store_snapshot(other)
    with pytest.raises(PacketError, match="made for another project"):
        import_packet(other, path)
    assert store_snapshot(other) == snapshot

    document = Document(str(path))
    table = document.tables[0]
    for row in table.rows:  # delete the "Source" column
        cell = row.cells[2]._tc
        cell.getparent().remove(cell)
    document.save(str(tmp_path / "broken.docx"))
    snapshot = store_snapshot(coded)
    reviews = len(coded.reviews_df())
    with pytest.raises(PacketError, match=r"table 1 no longer has the packet's columns"):
        import_packet(coded, tmp_path / "broken.docx")
    assert store_snapshot(coded) == snapshot and len(coded.reviews_df()) == reviews

    plain = Document()
    plain.add_paragraph("My notes")
    plain.save(str(tmp_path / "notes.docx"))
    with pytest.raises(PacketError, match="not an evalkit review packet"):
        import_packet(coded, tmp_path / "notes.docx")
    (tmp_path / "bad.docx").write_bytes(b"not a zip")
    with pytest.raises(PacketError, match="cannot open the Word file"):
        import_packet(coded, tmp_path / "bad.docx")


def test_xlsx_packet_and_agreement(coded: Store, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    decisions = {
        "ana": ["Agree", "Disagree", "agree", "no", "", "Unsure", "Agree", "yes", "Agree"],
        "bo": ["Agree", "Agree", "Agree", "Disagree", "Agree", "", "Agree", "Agree", "Disagree"],
    }
    for reviewer, views in decisions.items():
        path = make_packet(coded, reviewer=reviewer, status="accepted", fmt="xlsx").save(
            tmp_path / f"{reviewer}.xlsx"
        )
        workbook = load_workbook(path)
        sheet = workbook["Review"]
        assert [c.value for c in sheet[1]][:2] == ["No.", "Code"]
        for row, view in enumerate(views, start=2):
            sheet.cell(row=row, column=7, value=view)
        workbook.save(path)
        report = import_packet(coded, path)
        assert report.recorded == sum(1 for v in views if v)
    result = cab_agreement(coded)
    pair = result.reviewers.iloc[0]
    # Items both rated: refs 1,2,3,4,7,8,9 -> they agree on 1,3,4,7,8 (5 of 7).
    assert pair["items"] == 7 and pair["percent"] == pytest.approx(5 / 7)
    coders = result.coders.set_index(["reviewer", "coder"])
    # maria applied POLICY to every answer and PSSW_POLICY to none: of ana's 7 ratings she
    # matches the Agrees on POLICY (refs 1, 3, 7, 8), not the Disagrees (2, 4) nor ana's
    # Agree with PSSW_POLICY (9).
    assert coders.loc[("ana", "maria"), "items"] == 7
    assert coders.loc[("ana", "maria"), "percent"] == pytest.approx(4 / 7)
    assert result.alpha == pytest.approx(
        krippendorff.alpha(
            reliability_data=[[1, 0, 1, 0, nan, nan, 1, 1, 1], [1, 1, 1, 0, 1, nan, 1, 1, 0]],
            level_of_measurement="nominal",
        ),
        abs=1e-9,
    )


def test_cli_packet_and_import(coded: Store, tmp_path: Path, capsys) -> None:
    folder = str(coded.folder)
    out = tmp_path / "p.docx"
    assert (
        main(
            [
                "review-packet",
                "-p",
                folder,
                "--reviewer",
                "Ana",
                "--status",
                "accepted",
                "--codes",
                "PSSW_POLICY",
                "--out",
                str(out),
                "--format",
                "json",
            ]
        )
        == 0
    )
    made = json.loads(capsys.readouterr().out)
    assert made["items"] == 1 and made["codes"] == 1
    document = Document(str(out))
    tick(document.tables[0].rows[1].cells[4], "Disagree")
    document.save(str(out))
    assert main(["review-import", str(out), "-p", folder, "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["recorded"] == 1 and result["reviewer"] == "Ana"
    assert (
        main(
            [
                "review-packet",
                "-p",
                folder,
                "--reviewer",
                "Ana",
                "--codes",
                "NOPE",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "no code named NOPE" in capsys.readouterr().err
    assert main(["reviews", "-p", folder, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["decision"] == "disagree"


def test_nothing_to_review_is_a_clear_error(coded: Store) -> None:
    with pytest.raises(EvalkitError, match="nothing to review: no suggested codes"):
        make_packet(coded, reviewer="Ana", status="suggested")
    assert len(packet_items(coded, status="accepted", codes=["POLICY"])) == 9


def test_cab_decisions_travel_in_a_qdpx_as_notes(coded: Store, tmp_path: Path) -> None:
    import zipfile

    from evalkit.interop.refi import export_qdpx
    from evalkit.util.xml import schema_errors

    path = make_packet(coded, reviewer="Ana", status="accepted").save(tmp_path / "a.docx")
    document = Document(str(path))
    rows = rows_by_ref(document)
    tick(view_cell(rows[2]), "Disagree")
    rows[2].cells[5].text = "Not about policy."
    document.save(str(path))
    import_packet(coded, path)
    result = export_qdpx(coded, tmp_path / "p.qdpx")
    assert result.notes == 1 and result.users == 3  # maria, jamal and the reviewer
    with zipfile.ZipFile(tmp_path / "p.qdpx") as archive:
        qde = archive.read("project.qde")
    assert schema_errors(qde, "Project") == []
    assert b'name="Ana"' in qde and b"CAB review by Ana: disagree" in qde
    assert b"Not about policy." in qde and qde.count(b"<NoteRef ") == 1
