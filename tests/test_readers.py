"""One test (at least) per reader and per way a file can be bad."""

from __future__ import annotations

import codecs
import zipfile
from pathlib import Path

import docx
import pytest
from conftest import make_pdf

from evalkit.errors import InputFileError
from evalkit.ingest import read_file

TEXT = "Interviewer: ¿Qué pasó?\n\nP04: The “bad date” list — it works.\n"


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode("utf-8"),
        codecs.BOM_UTF8 + TEXT.encode("utf-8"),
        TEXT.encode("utf-16"),  # with BOM
        TEXT.encode("utf-16-le"),  # without BOM
        TEXT.replace("\n", "\r\n").encode("utf-8"),
    ],
    ids=["utf8", "utf8-bom", "utf16-bom", "utf16le-nobom", "crlf"],
)
def test_text_encodings_decode_to_the_same_text(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "t.txt"
    path.write_bytes(data)
    [item] = read_file(path)
    assert item.text == TEXT
    assert item.warnings == []


def test_cp1252_is_read_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "old.txt"
    path.write_bytes("P01: It’s the café on Mission — “closed”.".encode("cp1252"))
    [item] = read_file(path)
    assert item.text == "P01: It’s the café on Mission — “closed”."
    assert len(item.warnings) == 1 and "cp1252" in item.warnings[0]


def test_undecodable_bytes_name_the_file_and_position(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"fine so far \x81\x8d broken")  # undefined in UTF-8 and in cp1252
    with pytest.raises(InputFileError, match=r"bad\.txt: undecodable bytes at byte 12"):
        read_file(path)


def test_markdown_front_matter_becomes_metadata(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text(
        "---\ndate: 2024-01-17\nmeeting: General meeting\nattendance:\n  police: 3\n---\n\n"
        "## Agenda\n\n1. Welcome\n",
        encoding="utf-8",
    )
    [item] = read_file(path)
    assert item.meta["meeting"] == "General meeting"
    assert item.meta["attendance"] == {"police": 3}
    assert item.text.startswith("## Agenda")


def test_broken_front_matter_reports_its_line(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text("---\ndate: 2024-01-17\nmeeting: [unclosed\n---\nBody.\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"note\.md line \d+: front matter is not valid YAML"):
        read_file(path)


def test_docx_keeps_paragraphs_and_tables_in_order(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Minutes of the general meeting.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Item", "Owner"
    table.cell(1, 0).text, table.cell(1, 1).text = "Values statement", "Executive Committee"
    document.add_paragraph("Meeting adjourned.")
    document.core_properties.title = "Minutes"
    path = tmp_path / "minutes.docx"
    document.save(path)
    [item] = read_file(path)
    assert item.text == (
        "Minutes of the general meeting.\n\nItem | Owner\n\n"
        "Values statement | Executive Committee\n\nMeeting adjourned."
    )
    assert item.meta["title"] == "Minutes"


def test_corrupt_docx(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(InputFileError, match=r"broken\.docx: not a readable \.docx"):
        read_file(path)


def test_zip_that_is_not_a_word_document(tmp_path: Path) -> None:
    path = tmp_path / "fake.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(InputFileError, match="not a readable .docx"):
        read_file(path)


def test_password_protected_docx(tmp_path: Path) -> None:
    path = tmp_path / "locked.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    with pytest.raises(InputFileError, match="password-protected"):
        read_file(path)


def test_pdf_text_layer_is_reflowed_into_paragraphs(tmp_path: Path) -> None:
    path = make_pdf(
        tmp_path / "report.pdf",
        [
            [
                "The task force was launched in 2013 and is staffed by the Department on",
                "the Status of Women with one half-time position.",
                "",
                "It receives no federal funding.",
            ],
            ["Page two begins a new paragraph."],
        ],
    )
    [item] = read_file(path)
    assert item.text == (
        "The task force was launched in 2013 and is staffed by the Department on the Status "
        "of Women with one half-time position.\n\nIt receives no federal funding.\n\n"
        "Page two begins a new paragraph."
    )


def test_image_only_pdf_asks_for_ocr(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    path = tmp_path / "scan.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(InputFileError, match=r"scan\.pdf: .*no text layer.*OCR"):
        read_file(path)


def test_password_protected_pdf(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    plain = make_pdf(tmp_path / "plain.pdf", [["Confidential minutes."]])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt("s3cret", algorithm="RC4-128")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(InputFileError, match=r"locked\.pdf: the PDF is password-protected"):
        read_file(path)


def test_corrupt_pdf(tmp_path: Path) -> None:
    path = tmp_path / "torn.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage")
    with pytest.raises(InputFileError, match=r"torn\.pdf: "):
        read_file(path)


VTT = """WEBVTT

1
00:00:01.000 --> 00:00:04.000
Interviewer: Thanks for joining. Can you hear me?

2
00:00:04.500 --> 00:00:07.250
P11: Yes, I can hear you.

3
00:00:07.250 --> 00:00:10.000
I'm in my car outside the Hall of Justice.

4
00:00:10.500 --> 00:00:12.000
<v Interviewer>Great, let's start.
"""


def test_vtt_cues_merge_into_turns_with_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "P11.vtt"
    path.write_text(VTT, encoding="utf-8")
    [item] = read_file(path)
    speakers = [(u.speaker, item.text[u.start : u.end], u.t_start, u.t_end) for u in item.units]
    assert speakers == [
        ("Interviewer", "Thanks for joining. Can you hear me?", 1.0, 4.0),
        ("P11", "Yes, I can hear you. I'm in my car outside the Hall of Justice.", 4.5, 10.0),
        ("Interviewer", "Great, let's start.", 10.5, 12.0),
    ]


def test_srt_reads_like_vtt(tmp_path: Path) -> None:
    path = tmp_path / "P11.srt"
    srt = "1\n00:00:01,000 --> 00:00:04,000\nInterviewer: Hello.\n\n"
    srt += "2\n00:00:04,500 --> 00:01:07,250\nP11: Hi there.\n"
    path.write_text(srt, encoding="utf-8")
    [item] = read_file(path)
    assert [(u.speaker, u.t_start, u.t_end) for u in item.units] == [
        ("Interviewer", 1.0, 4.0),
        ("P11", 4.5, 67.25),
    ]


def test_malformed_vtt(tmp_path: Path) -> None:
    path = tmp_path / "bad.vtt"
    path.write_text("this is not a caption file\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"bad\.vtt: not a valid VTT caption file"):
        read_file(path)


def test_rtf(tmp_path: Path) -> None:
    path = tmp_path / "memo.rtf"
    path.write_text(
        r"{\rtf1\ansi{\fonttbl\f0\fswiss Helvetica;}\f0\pard Caf\'e9 meeting notes.\par"
        r" Second line.\par}",
        encoding="ascii",
    )
    [item] = read_file(path)
    assert item.text == "Café meeting notes.\n Second line.".replace("\n ", "\n")


def test_not_really_rtf(tmp_path: Path) -> None:
    path = tmp_path / "memo.rtf"
    path.write_text("plain text pretending", encoding="ascii")
    with pytest.raises(InputFileError, match=r"not an RTF file"):
        read_file(path)


def test_responses_csv_one_source_per_row(tmp_path: Path) -> None:
    path = tmp_path / "survey.csv"
    path.write_text(
        "id,sector,Q1 What works?,Q2 What is missing?\n"
        'R1,youth_serving,"The fellowship, honestly.",After-hours response\n'
        "R2,faith_civic,,\n"
        "R3,law_enforcement,Shared data,\n",
        encoding="utf-8",
    )
    items = read_file(path, text_columns=["Q1 What works?", "Q2 What is missing?"])
    assert [i.key for i in items] == ["R1", "R3"]  # R2 answered nothing
    first = items[0]
    assert [(u.section, first.text[u.start : u.end]) for u in first.units] == [
        ("Q1 What works?", "The fellowship, honestly."),
        ("Q2 What is missing?", "After-hours response"),
    ]
    assert first.meta == {"sector": "youth_serving", "row": 2}
    assert items[1].meta["row"] == 4


def test_responses_xlsx(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["respondent", "agency", "answer"])
    sheet.append(["A7", "DPH", "Massage inspections are not trafficking cases."])
    path = tmp_path / "survey.xlsx"
    book.save(path)
    [item] = read_file(path, id_column="respondent", text_columns=["answer"])
    assert item.key == "A7"
    assert item.text.endswith("Massage inspections are not trafficking cases.")


def test_responses_missing_column_names_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "survey.csv"
    path.write_text("id,answer\nR1,yes\n", encoding="utf-8")
    with pytest.raises(
        InputFileError, match=r"survey\.csv row 1: responses: no column 'comments' \(columns are"
    ):
        read_file(path, text_columns=["comments"])


def test_responses_duplicate_id_names_both_rows(tmp_path: Path) -> None:
    path = tmp_path / "survey.csv"
    path.write_text("id,answer\nR1,yes\nR2,no\nR1,maybe\n", encoding="utf-8")
    with pytest.raises(
        InputFileError, match=r"survey\.csv row 4: respondent ID 'R1' repeats row 2"
    ):
        read_file(path, text_columns=["answer"])


def test_corrupt_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "survey.xlsx"
    path.write_bytes(b"not a workbook")
    with pytest.raises(InputFileError, match=r"survey\.xlsx: not a readable spreadsheet"):
        read_file(path, text_columns=["answer"])


@pytest.mark.parametrize("name", ["empty.txt", "empty.docx", "empty.pdf", "empty.vtt"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(InputFileError, match=rf"{name}: the file is empty"):
        read_file(path)


def test_whitespace_only_file(tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_text("  \n\n \n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"blank\.txt: the file has no text"):
        read_file(path)


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "audio.mp3"
    path.write_bytes(b"ID3")
    with pytest.raises(InputFileError, match=r"audio\.mp3: unsupported file type '\.mp3'"):
        read_file(path)


def test_spreadsheet_without_text_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "attrs.csv"
    path.write_text("file,sector\nP01.txt,x\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="needs --text-column"):
        read_file(path)
