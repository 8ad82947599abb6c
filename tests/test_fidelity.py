"""Inputs read faithfully: code paths, duplicate columns and GUIDs, links, limits, captions."""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import pytest
from conftest import store_snapshot
from test_codebook import SMALL

from evalkit.codebook.refi import read_refi_codebook
from evalkit.errors import EvalkitError, ExchangeError, InputFileError
from evalkit.interop.refi import export_qdpx
from evalkit.project import import_codings, import_qdpx, ingest, load_into_project
from evalkit.store import Store
from evalkit.util import text as text_helpers
from evalkit.util.tables import load_table

# -- code names keep their path ---------------------------------------------------------------


def test_agree_keeps_codes_with_one_leaf_under_two_parents_apart(tmp_path: Path, cli) -> None:
    # Two survey questions each have a code "cheating"; the coders agree on Q5's and
    # disagree on Q8's. Folding them into one code would report neither.
    rows = ["unit,coder,code"]
    for unit in range(1, 11):
        for coder in ("ann", "ben"):
            rows.append(f"r{unit},{coder},Q5/cheating" if unit <= 5 else f"r{unit},{coder},")
        rows.append(f"r{unit},ann,Q8/cheating" if unit % 2 else f"r{unit},ben,Q8/cheating")
    path = tmp_path / "survey.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = cli("agree", str(path), "--format", "json")
    assert result.returncode == 0, result.stderr
    codes = json.loads(result.stdout)["codes"]
    assert set(codes) == {"Q5/cheating", "Q8/cheating"}
    assert codes["Q5/cheating"]["cohen_kappa"] == 1.0
    assert codes["Q8/cheating"]["percent_agreement"] == 0.0


def test_a_path_still_names_a_codebook_code_by_its_leaf(project: Store, tmp_path: Path) -> None:
    interview = tmp_path / "P07.txt"
    interview.write_text("Interviewer: Hello?\n\nP07: The policy helps.\n", encoding="utf-8")
    ingest(project, [interview], kind="interview")
    book = tmp_path / "cb.yaml"
    book.write_text(SMALL, encoding="utf-8")
    load_into_project(project, book)
    unit = next(e.id for e in project.excerpts() if e.speaker == "P07")
    path = tmp_path / "c.csv"
    path.write_text(f"unit,coder,code\n{unit},ann,POLICY -> PSSW_POLICY\n", encoding="utf-8")
    import_codings(project, path)
    assert list(project.codings_df()["code"]) == ["PSSW_POLICY"]


# -- duplicate column names -------------------------------------------------------------------


def test_a_duplicated_code_column_is_an_error_naming_both(cli, tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text("unit,coder,code,code\nu1,ann,X,Y\nu1,ben,X,Y\n", encoding="utf-8")
    result = cli("agree", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "codes.csv row 1: columns C and D are both named 'code'" in result.stderr


def test_duplicate_headers_in_xlsx_are_an_error(tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["id", "answer", "age", " answer "])
    sheet.append(["r1", "first", "30", "second"])
    path = tmp_path / "survey.xlsx"
    workbook.save(path)
    with pytest.raises(InputFileError, match=r"columns B and D are both named 'answer'"):
        load_table(path)


def test_a_duplicated_answer_column_is_refused_and_the_store_is_unchanged(
    project: Store, tmp_path: Path
) -> None:
    path = tmp_path / "responses.csv"
    path.write_text("id,answer,answer\nr1,one,two\n", encoding="utf-8")
    before = store_snapshot(project)
    with pytest.raises(InputFileError, match=r"columns B and C are both named 'answer'"):
        ingest(project, [path], kind="document", text_columns=["answer"], id_column="id")
    assert store_snapshot(project) == before


def test_blank_and_distinct_headers_still_read(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("unit,,code,\nu1,x,A,y\n", encoding="utf-8")
    frame = load_table(path)
    assert list(frame.columns) == ["unit", "Unnamed: 1", "code", "Unnamed: 3"]
    assert frame.iloc[0].tolist() == ["u1", "x", "A", "y"]


# -- REFI-QDA: GUIDs name one element; names reused under two parents -------------------------


def _rewrite_qde(source: Path, target: Path, change) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename.endswith(".qde"):
                data = change(data.decode("utf-8")).encode("utf-8")
            new.writestr(info, data)


def test_two_codes_with_one_guid_are_an_error_naming_both(
    sample_coded: Path, copy_project, tmp_path: Path
) -> None:
    with Store.open(sample_coded) as store:
        export_qdpx(store, tmp_path / "out.qdpx")

    def collide(qde: str) -> str:
        guids = re.findall(r'<Code guid="([^"]+)" name="([^"]+)"', qde)
        (first, _), (second, _) = guids[0], guids[1]
        return qde.replace(f'guid="{second}"', f'guid="{first}"').replace(
            f'targetGUID="{second}"', f'targetGUID="{first}"'
        )

    bad = tmp_path / "bad.qdpx"
    _rewrite_qde(tmp_path / "out.qdpx", bad, collide)
    target = copy_project(sample_coded)
    before = store_snapshot(target)
    with pytest.raises(ExchangeError, match=r"<Code name='[^']+'> and <Code name='[^']+'> share"):
        import_qdpx(target, bad)
    assert store_snapshot(target) == before


QDC = """<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="NVivo">
  <Codes>
    <Code guid="11111111-1111-1111-1111-111111111111" name="Positive" isCodable="true">
      <Code guid="22222222-2222-2222-2222-222222222222" name="Other" isCodable="true"/>
    </Code>
    <Code guid="33333333-3333-3333-3333-333333333333" name="Negative" isCodable="true">
      <Code guid="44444444-4444-4444-4444-444444444444" name="Other" isCodable="true"/>
      <Code guid="55555555-5555-5555-5555-555555555555" name="Positive" isCodable="true"/>
    </Code>
  </Codes>
</CodeBook>
"""


def test_a_name_under_two_parents_becomes_its_path(tmp_path: Path) -> None:
    path = tmp_path / "nvivo.qdc"
    path.write_text(QDC, encoding="utf-8")
    codebook, problems = read_refi_codebook(path)
    assert [(c.name, c.parent) for c in codebook.codes] == [
        ("Positive", None),
        ("Positive/Other", "Positive"),
        ("Negative", None),
        ("Negative/Other", "Negative"),
        ("Negative/Positive", "Negative"),
    ]
    assert not any("(2)" in c.name for c in codebook.codes)
    assert [c.guid for c in codebook.codes][1] == "22222222-2222-2222-2222-222222222222"
    assert any("imported as 'Negative/Other'" in p.message for p in problems)


def test_a_guid_used_twice_in_a_codebook_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "twice.qdc"
    path.write_text(QDC.replace("4444", "2222"), encoding="utf-8")
    with pytest.raises(EvalkitError, match=r"<Code name='Other'> and <Code name='Other'> share"):
        read_refi_codebook(path)


# -- folders: links out are refused -----------------------------------------------------------


def test_a_link_out_of_the_folder_is_refused(project: Store, tmp_path: Path) -> None:
    folder = tmp_path / "interviews"
    folder.mkdir()
    (folder / "P01.txt").write_text("P01: hello there.\n", encoding="utf-8")
    outside = tmp_path / "secret.txt"
    outside.write_text("not for the project\n", encoding="utf-8")
    os.symlink(outside, folder / "notes.txt")
    before = store_snapshot(project)
    with pytest.raises(InputFileError, match=r"'notes.txt' is a link to .*secret.txt, outside"):
        ingest(project, [folder], kind="interview")
    assert store_snapshot(project) == before
    os.remove(folder / "notes.txt")
    sub = tmp_path / "elsewhere"
    sub.mkdir()
    os.symlink(sub, folder / "more", target_is_directory=True)
    with pytest.raises(InputFileError, match=r"'more' is a link to .*elsewhere, outside"):
        ingest(project, [folder], kind="interview")


def test_a_link_inside_the_folder_is_read_once(project: Store, tmp_path: Path) -> None:
    folder = tmp_path / "interviews"
    folder.mkdir()
    (folder / "P01.txt").write_text("P01: hello there.\n", encoding="utf-8")
    os.symlink(folder / "P01.txt", folder / "P01-copy.txt")
    report = ingest(project, [folder], kind="interview")
    assert [s.name for s in project.sources()] == ["P01.txt"], report


def test_etc_passwd_through_a_link_never_reaches_the_store(cli, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Minutes of the meeting.\n", encoding="utf-8")
    os.symlink("/etc/passwd", folder / "passwd.txt")
    assert cli("init", str(tmp_path / "p")).returncode == 0
    result = cli("ingest", str(folder), "--project", str(tmp_path / "p"), "--kind", "document")
    assert result.returncode == 2 and "outside the folder" in result.stderr
    stored = b"".join(f.read_bytes() for f in (tmp_path / "p").rglob("*") if f.is_file())
    assert b"root:" not in stored


# -- --max-chars is a hard limit; files have a size limit -------------------------------------


def test_a_long_single_line_file_is_cut_to_max_chars(project: Store, tmp_path: Path) -> None:
    path = tmp_path / "dump.txt"
    words = [f"word{i % 977}" for i in range(60_000)]
    path.write_text(" ".join(words), encoding="utf-8")
    ingest(project, [path], kind="document", max_chars=1200)
    lengths = [e.end - e.start for e in project.excerpts()]
    assert len(lengths) > 300 and max(lengths) <= 1200
    source = project.sources()[0]
    rebuilt = " ".join(source.text[e.start : e.end] for e in project.excerpts())
    assert rebuilt.split() == source.text.split()


def test_a_file_over_the_size_limit_is_refused(
    project: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text_helpers, "MAX_FILE_BYTES", 1_000)
    path = tmp_path / "big.txt"
    path.write_text("P01: " + "words " * 400, encoding="utf-8")
    with pytest.raises(InputFileError, match=r"the limit MAX_FILE_BYTES is 1,000"):
        ingest(project, [path], kind="interview")
    table = tmp_path / "big.csv"
    table.write_text("unit,coder,code\n" + "u1,a,X\n" * 200, encoding="utf-8")
    with pytest.raises(InputFileError, match=r"MAX_FILE_BYTES"):
        load_table(table)


# -- captions: errors name the cue and its line -----------------------------------------------

GOOD_CUE = "00:00:01.000 --> 00:00:04.000\nP11: We met at the drop-in.\n"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "bad-time.vtt",
            f"WEBVTT\n\n{GOOD_CUE}\n00:00:05 --> 00:00:09.000\nP11: Then the police came.\n",
            "bad-time.vtt line 6: cue 2 has a bad timing line '00:00:05 --> 00:00:09.000'",
        ),
        (
            "arrow.vtt",
            f"WEBVTT\n\n{GOOD_CUE}\n00:00:05.000 -> 00:00:09.000\nP11: Then.\n",
            "arrow.vtt line 6: cue 2 has no 'start --> end' timing line",
        ),
        (
            "garbled.srt",
            "1\n00:00:01,000 --> 00:00:04,000\nWe met.\n\n@@ garbled @@\nlost words\n\n"
            "2\n00:00:05,000 --> 00:00:09,000\nThen.\n",
            "garbled.srt line 5: cue 2 has no 'start --> end' timing line (it begins '@@ garb",
        ),
        (
            "minutes.srt",
            "1\n00:00:01,000 --> 00:00:04,000\nWe met.\n\n2\n00:00:75,000 --> 00:00:79,000\nx\n",
            "minutes.srt line 6: cue 2 has a bad timing line",
        ),
    ],
)
def test_caption_errors_name_the_cue_and_line(
    project: Store, tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    before = store_snapshot(project)
    with pytest.raises(InputFileError) as error:
        ingest(project, [path], kind="interview")
    assert message in str(error.value) and "\n" not in str(error.value)
    assert store_snapshot(project) == before


def test_well_formed_captions_with_notes_ids_and_settings_read(tmp_path: Path) -> None:
    from evalkit.ingest.captions import read_captions

    path = tmp_path / "ok.vtt"
    path.write_text(
        "WEBVTT - panel\nKind: captions\n\nNOTE made by Zoom\nsecond line\n\n"
        "cue-1\n00:00:01.000 --> 00:00:02.500 align:start\n<v Ann>Hello.\n\n"
        "01:00:03.000 --> 01:00:04.000\nP11: Fine.\n",
        encoding="utf-8",
    )
    [extracted] = read_captions(path)
    assert extracted.text == "Ann: Hello.\n\nP11: Fine."


# -- control characters -----------------------------------------------------------------------


def test_control_characters_become_spaces_or_newlines_on_the_way_in(
    project: Store, tmp_path: Path
) -> None:
    path = tmp_path / "P01\x07.txt"
    path.write_text("P01: We met\x0bat the drop-in\x01 and \x1b[31mit was ok.\x7f\n", "utf-8")
    ingest(project, [path], kind="interview")
    [source] = project.sources()
    assert source.text == "P01: We met\nat the drop-in  and  [31mit was ok. \n"
    assert source.name == "P01 .txt"
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", source.text)


def test_the_xlsx_writer_never_fails_on_characters_xml_cannot_hold(tmp_path: Path) -> None:
    import pandas as pd
    from openpyxl import load_workbook

    from evalkit.util.sheets import new_workbook, save_workbook, write_frame

    workbook = new_workbook()
    write_frame(workbook, pd.DataFrame({"text": ["a\x01b", "=1\x02"]}), "t")
    save_workbook(workbook, tmp_path / "t.xlsx")
    sheet = load_workbook(tmp_path / "t.xlsx")["t"]
    assert [c.value for c in sheet["A"]] == ["text", "a\ufffdb", "=1\ufffd"]
    assert all(c.data_type == "s" for c in sheet["A"])
