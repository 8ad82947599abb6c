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
    return {int(r.cells[0].paragraphs[0].text): r for t in document.tables for r in t.rows[1:]}


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


# -- packets that other programs saved again (evalkit issue #16) ----------------------------


def rewrite_zip(path: Path, edits: dict) -> None:
    """Rewrite members of a packet file: ``{name: bytes -> bytes}``, as another program would."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in members:
            edit = edits.get(info.filename)
            archive.writestr(info.filename, edit(data) if edit else data)


OLD_CORE_URI = (
    b"http://schemas.openxmlformats.org/officedocument/2006/relationships/metadata/"
    b"core-properties"
)
CORE_URI = b"http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"


def test_packet_id_is_found_when_python_docx_sees_no_core_properties(
    coded: Store, tmp_path: Path
) -> None:
    # A LibreOffice run wrote the package relationship with the older URI: python-docx then
    # sees empty properties although docProps/core.xml still holds the ID.
    path = make_packet(coded, reviewer="Ana", status="accepted").save(tmp_path / "a.docx")
    document = Document(str(path))
    tick(view_cell(rows_by_ref(document)[2]), "Disagree")
    document.save(str(path))
    older = tmp_path / "older.docx"
    older.write_bytes(path.read_bytes())
    rewrite_zip(older, {"_rels/.rels": lambda data: data.replace(CORE_URI, OLD_CORE_URI)})
    assert Document(str(older)).core_properties.identifier == ""
    assert import_packet(coded, older).decisions == {"disagree": 1}

    # With the footer gone too, the ID is read from core.xml through the older URI.
    def no_footer(data: bytes) -> bytes:
        return data.replace(b"evalkit-packet", b"")

    bare = tmp_path / "bare.docx"
    bare.write_bytes(older.read_bytes())
    rewrite_zip(bare, {"word/footer1.xml": no_footer})
    assert import_packet(coded, bare).already == 1

    # With the properties emptied, the visible footer still says which packet it is.
    footer_only = tmp_path / "footer.docx"
    footer_only.write_bytes(path.read_bytes())
    rewrite_zip(footer_only, {"docProps/core.xml": no_footer})
    assert Document(str(footer_only)).core_properties.identifier.startswith(" ")
    assert import_packet(coded, footer_only).already == 1
    assert "Packet ID" in Document(str(path)).sections[0].footer.paragraphs[0].text

    # Two different IDs: parts of two packets were put together.
    other = make_packet(coded, reviewer="Bo", status="accepted")
    mixed = tmp_path / "mixed.docx"
    mixed.write_bytes(path.read_bytes())
    rewrite_zip(
        mixed,
        {
            "docProps/core.xml": lambda data: data.replace(
                packet_id_of(path).encode(), other.packet_id.encode()
            )
        },
    )
    with pytest.raises(PacketError, match="carries 2 different packet IDs"):
        import_packet(coded, mixed)


def packet_id_of(path: Path) -> str:
    return Document(str(path)).core_properties.identifier.split()[2]


def test_sample_packet_filled_and_saved_again_has_no_false_edits(
    copy_project, sample_coded: Path, tmp_path: Path
) -> None:
    # Many sample excerpts span paragraphs: Word keeps them as line breaks (<w:br/>), which
    # the reader used to drop, so every such row came back "edited".
    store = copy_project(sample_coded)
    packet = make_packet(store, reviewer="Ana", status="accepted")
    assert packet.items["text"].str.contains("\n").sum() > 10
    path = packet.save(tmp_path / "ana.docx")
    document = Document(str(path))
    for row in rows_by_ref(document).values():
        tick(view_cell(row), "Agree")
    document.save(str(path))
    report = import_packet(store, path)
    assert report.recorded == len(packet.items) and report.unreadable == []
    assert report.edited_text == []


def rebuild_cell(cell, pieces: list) -> None:
    """Replace a cell's content with runs the way another program writes them: text split
    over runs, and elements (<w:br/>, <w:tab/>, <w:softHyphen/>) between the pieces."""
    from docx.oxml import OxmlElement

    for paragraph in list(cell.paragraphs)[1:]:
        paragraph._p.getparent().remove(paragraph._p)
    paragraph = cell.paragraphs[0]
    for run in list(paragraph._p):
        if run.tag == qn("w:r"):
            paragraph._p.remove(run)
    for piece in pieces:
        run = OxmlElement("w:r")
        if piece.startswith("<"):
            run.append(OxmlElement(piece.strip("<>/")))
        else:
            text = OxmlElement("w:t")
            text.text = piece
            text.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
            run.append(text)
        paragraph._p.append(run)


def test_how_office_programs_rewrite_text_is_not_an_edit(coded: Store, tmp_path: Path) -> None:
    packet = make_packet(coded, reviewer="Ana", status="accepted")
    text = packet.items.set_index("ref")["text"].to_dict()
    path = packet.save(tmp_path / "a.docx")
    document = Document(str(path))
    rows = rows_by_ref(document)
    for row in rows.values():
        tick(view_cell(row), "Agree")
    # Row 2 rewritten as another program writes it: runs split mid-word, a soft hyphen
    # element inside a word, a non-breaking space, a line break and a tab for spaces,
    # trailing spaces, the last word in a paragraph of its own.
    words = text[2].split()
    assert len(words) > 8
    rebuild_cell(
        rows[2].cells[1],
        [
            words[0][:2],
            words[0][2:] + " " + words[1] + "\u00a0" + words[2],
            "<w:br/>",
            " ".join(words[3:5]) + " " + words[5][:2],
            "<w:softHyphen/>",
            words[5][2:],
            "<w:tab/>",
            " ".join(words[6:-1]) + "  ",
        ],
    )
    rows[2].cells[1].add_paragraph(words[-1] + "   ")
    # Typographic quotes and a zero-width space; then real edits: a word, a full stop.
    rows[3].cells[1].text = text[3].replace(" ", " \u200b", 1).replace("'", "\u2019")
    rows[4].cells[1].text = text[4].replace(" ", " not ", 1)
    rows[5].cells[1].text = text[5].rstrip(".")
    document.save(str(path))
    assert text[5].endswith(".")
    report = import_packet(coded, path)
    assert report.recorded == 9
    assert [e["ref"] for e in report.edited_text] == ["4", "5"]


@pytest.mark.parametrize(
    ("stored", "returned", "same"),
    [
        ("It\u2019s “fine”", "It's \"fine\"", True),
        ("cafe\u0301 au lait", "caf\u00e9 au lait", True),
        ("one\r\ntwo\n\nthree", "one two\tthree ", True),
        ("non\u2011stop", "non-stop", True),
        ("soft\u00adhyphen", "softhyphen", True),
        ("they said yes", "they said no", False),
        ("Police", "police", False),
        ("a, b", "a b", False),
        ("the policy", "the  policy  changed", False),
    ],
)
def test_comparable_keeps_real_edits(stored: str, returned: str, same: bool) -> None:
    from evalkit.cab import comparable

    assert (comparable(stored) == comparable(returned)) is same


def fill_xlsx(path: Path, views: dict[int, str]) -> None:
    from openpyxl import load_workbook

    workbook = load_workbook(path)
    sheet = workbook["Review"]
    for row in range(2, sheet.max_row + 1):
        view = views.get(sheet.cell(row=row, column=1).value)
        if view:
            sheet.cell(row=row, column=7, value=view)
    workbook.save(path)


def test_swapped_numbers_in_a_workbook_are_refused_and_listed(
    coded: Store, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    path = make_packet(coded, reviewer="Ana", status="accepted", fmt="xlsx").save(
        tmp_path / "a.xlsx"
    )
    fill_xlsx(path, {2: "Disagree", 3: "Agree", 9: "Agree"})
    workbook = load_workbook(path)
    sheet = workbook["Review"]
    assert sheet.cell(row=1, column=9).value == "Row code"
    # The reviewer renumbers two rows: the Disagree on No. 2 would land on No. 3's excerpt.
    sheet["A3"], sheet["A4"] = 3, 2
    # ... and moves the code of No. 9 (PSSW_POLICY) onto No. 8's row, checks left behind.
    sheet["A9"], sheet["A10"] = 9, 8
    workbook.save(path)
    snapshot, reviews = store_snapshot(coded), len(coded.reviews_df())
    with pytest.raises(PacketError) as caught:
        import_packet(coded, path)
    message = str(caught.value)
    assert "\n" not in message
    # Row 9 (now "No. 9") carries no answer, so nothing can land on the wrong passage.
    assert "3 row(s) no longer match the passage their number was made for" in message
    checks = {str(i["ref"]): i["check"] for i in coded.packet(packet_id_xlsx(path))["items"]}
    assert f"row 3 says No. 3 (POLICY) but its row code {checks['2']} is that of No. 2" in (
        message
    )
    assert f"row 4 says No. 2 (POLICY) but its row code {checks['3']} is that of No. 3" in (
        message
    )
    assert f"row 10 says No. 8 (POLICY) but its row code {checks['9']} is that of No. 9" in (
        message
    )
    assert "(PSSW_POLICY)" in message and "Nothing was imported" in message
    assert store_snapshot(coded) == snapshot and len(coded.reviews_df()) == reviews

    # Sorting the sheet moves whole rows, numbers and row codes with them: accepted.
    workbook = load_workbook(path)
    sheet = workbook["Review"]
    sheet["A3"], sheet["A4"], sheet["A9"], sheet["A10"] = 2, 3, 8, 9
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    for r, row in enumerate(reversed(values), start=2):
        for c, value in enumerate(row, start=1):
            sheet.cell(row=r, column=c).value = value  # cell(value=None) would keep the old
    workbook.save(path)
    report = import_packet(coded, path)
    assert report.decisions == {"disagree": 1, "agree": 2}
    stored = coded.reviews_df().set_index("ref")
    assert stored.loc[2, "decision"] == "disagree" and stored.loc[9, "code"] == "PSSW_POLICY"


def packet_id_xlsx(path: Path) -> str:
    from openpyxl import load_workbook

    return load_workbook(path)["evalkit"]["B1"].value.split()[2]


def test_renumbered_or_moved_word_rows_are_refused(coded: Store, tmp_path: Path) -> None:
    path = make_packet(coded, reviewer="Ana", status="accepted").save(tmp_path / "a.docx")
    document = Document(str(path))
    rows = rows_by_ref(document)
    tick(view_cell(rows[2]), "Disagree")
    tick(view_cell(rows[5]), "Agree")
    # Only the numbers are retyped; the small row codes stay where they were.
    rows[2].cells[0].paragraphs[0].runs[0].text = "5"
    rows[5].cells[0].paragraphs[0].runs[0].text = "2"
    document.save(str(path))
    snapshot = store_snapshot(coded)
    with pytest.raises(PacketError, match=r"table 1 row 3 says No\. 5 \(POLICY\) but its row code"):
        import_packet(coded, path)
    assert store_snapshot(coded) == snapshot

    # Excerpt texts swapped under numbers left in place: also refused.
    packet = make_packet(coded, reviewer="Ana", status="accepted")
    text = packet.items.set_index("ref")["text"].to_dict()
    path = packet.save(tmp_path / "b.docx")
    document = Document(str(path))
    rows = rows_by_ref(document)
    tick(view_cell(rows[2]), "Disagree")
    rows[2].cells[1].text, rows[3].cells[1].text = text[3], text[2]
    document.save(str(path))
    with pytest.raises(PacketError, match=r"row 3 says No\. 2 .* excerpt text is that of No\. 3"):
        import_packet(coded, path)

    # A row code deleted with the excerpt edited: nothing binds the row any more.
    path = make_packet(coded, reviewer="Ana", status="accepted").save(tmp_path / "c.docx")
    document = Document(str(path))
    rows = rows_by_ref(document)
    tick(view_cell(rows[4]), "Agree")
    rows[4].cells[0].text = "4"
    rows[4].cells[1].text = "Something else entirely."
    tick(view_cell(rows[6]), "Agree")
    rows[6].cells[0].text = "6"  # code deleted, excerpt intact: still bound by its text
    document.save(str(path))
    with pytest.raises(PacketError, match=r"1 row\(s\).*row code is missing and its excerpt"):
        import_packet(coded, path)


def test_packets_without_check_codes_still_import(
    coded: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Packets made before rows carried row codes: no code under the numbers, no "Row code"
    # column, nothing stored. Swapped excerpt texts are still caught by the text.
    from openpyxl import load_workbook

    import evalkit.project.reviews as reviews

    monkeypatch.setattr(reviews, "row_checks", lambda packet_id, items: [""] * len(items))
    path = make_packet(coded, reviewer="Ana", status="accepted").save(tmp_path / "old.docx")
    document = Document(str(path))
    rows = rows_by_ref(document)
    assert len(rows[1].cells[0].paragraphs) == 1
    tick(view_cell(rows[1]), "Agree")
    tick(view_cell(rows[2]), "Disagree")
    document.save(str(path))
    assert import_packet(coded, path).decisions == {"agree": 1, "disagree": 1}

    packet = make_packet(coded, reviewer="Bo", status="accepted", fmt="xlsx")
    text = packet.items.set_index("ref")["text"].to_dict()
    path = packet.save(tmp_path / "old.xlsx")
    workbook = load_workbook(path)
    sheet = workbook["Review"]
    sheet.delete_cols(9)
    sheet["G3"], sheet["D3"], sheet["D4"] = "Disagree", text[3], text[2]
    workbook.save(path)
    with pytest.raises(PacketError, match=r"row 3 says No\. 2 \(POLICY\) but its excerpt text"):
        import_packet(coded, path)


def test_damaged_packet_is_one_line_naming_the_part(coded: Store, tmp_path: Path, capsys) -> None:
    for fmt, part in (("docx", "word/document.xml"), ("xlsx", "xl/worksheets/sheet1.xml")):
        path = make_packet(coded, reviewer="Ana", status="accepted", fmt=fmt).save(
            tmp_path / f"a.{fmt}"
        )
        rewrite_zip(path, {part: lambda data: data[: len(data) // 2]})
        broken = rf"cannot open the .*part '{part}' is not well-formed XML"
        with pytest.raises(PacketError, match=broken):
            import_packet(coded, path)
        assert main(["review-import", str(path), "-p", str(coded.folder)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err
