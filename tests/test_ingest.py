"""Ingesting folders into a project: dedupe, updates, attributes, and all-or-nothing writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import store_snapshot

from evalkit.errors import AttributesError, EvalkitError, InputFileError
from evalkit.project import ingest
from evalkit.store import Store


def test_ingest_a_file_into_sources_and_excerpts(project: Store, interview_file: Path) -> None:
    report = ingest(project, [interview_file], kind="interview", actor="ana")
    assert report.added == ["P07"] and report.excerpts == 4
    frame = project.excerpts_df()
    assert list(frame["speaker"]) == ["Interviewer", "P07", "Interviewer", "P07"]
    [source] = project.sources()
    for _, row in frame.iterrows():
        assert source.text[row["start"] : row["end"]] == row["text"]
    assert project.audit_df()["actor"].iloc[-1] == "ana"


def test_reingesting_unchanged_file_is_a_noop(project: Store, interview_file: Path) -> None:
    ingest(project, [interview_file], kind="interview")
    before = store_snapshot(project)
    report = ingest(project, [interview_file], kind="interview")
    assert report.added == [] and report.updated == []
    assert report.unchanged == [("P07.txt", "P07")]
    assert store_snapshot(project) == before


def test_same_content_under_another_name_is_not_duplicated(
    project: Store, interview_file: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy_of_P07.txt"
    copy.write_bytes(interview_file.read_bytes())
    report = ingest(project, [interview_file, copy], kind="interview")
    assert report.added == ["P07"]
    assert report.unchanged == [("copy_of_P07.txt", "P07")]


def test_changed_file_updates_and_keeps_ids_of_unchanged_excerpts(
    project: Store, interview_file: Path
) -> None:
    ingest(project, [interview_file], kind="interview")
    old = {e.id: e for e in project.excerpts()}
    interview_file.write_text(
        interview_file.read_text(encoding="utf-8").replace("by accident", "on purpose"),
        encoding="utf-8",
    )
    report = ingest(project, [interview_file], kind="interview")
    assert report.updated == ["P07"]
    new = {e.id: e for e in project.excerpts()}
    assert len(set(old) & set(new)) == 3  # only the edited answer got a new ID
    assert project.source("P07").text.count("on purpose") == 1


def test_folders_are_walked_and_other_files_skipped(project: Store, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.md").write_text("---\ndate: 2024-01-17\n---\n\nThe chair spoke.\n", "utf-8")
    (folder / "sub" / "b.txt").write_text("Two members left early.\n", "utf-8")
    (folder / "sub" / "photo.jpg").write_bytes(b"\xff\xd8")
    (folder / ".hidden.txt").write_text("secret", "utf-8")
    report = ingest(project, [folder], kind="observation")
    assert sorted(report.added) == ["a", "b"]
    assert report.skipped == [str(folder / "sub" / "photo.jpg")]
    assert project.source("a").attributes == {"date": "2024-01-17"}
    # b has no date anywhere: the user is told how to add one.
    assert any("no date found" in w for w in report.warnings)


def test_document_date_from_file_name_then_properties(project: Store, tmp_path: Path) -> None:
    import datetime as dt

    import docx

    (tmp_path / "2019-12-12_bulletin.txt").write_text("Bulletin text.", "utf-8")
    document = docx.Document()
    document.add_paragraph("The policy text.")
    document.core_properties.created = dt.datetime(2018, 10, 2)
    document.save(tmp_path / "policy.docx")
    ingest(
        project, [tmp_path / "2019-12-12_bulletin.txt", tmp_path / "policy.docx"], kind="document"
    )
    assert project.source("2019-12-12_bulletin").attributes["date"] == "2019-12-12"
    assert project.source("policy").attributes["date"] == "2018-10-02"


def test_attributes_table_is_attached(project: Store, interview_file: Path, tmp_path: Path) -> None:
    table = tmp_path / "attrs.csv"
    table.write_text(
        "file,participant_id,agency,sector,role,date\n"
        "P07.txt,P07,Bayview Legal Collective,immigrant_legal,Staff attorney,2025-02-11\n",
        encoding="utf-8",
    )
    ingest(project, [interview_file], kind="interview", attributes=table)
    attrs = project.source("P07").attributes
    assert attrs == {
        "participant_id": "P07",
        "agency": "Bayview Legal Collective",
        "sector": "immigrant_legal",
        "role": "Staff attorney",
        "date": "2025-02-11",
    }
    frame = project.excerpts_df()
    assert set(frame["sector"]) == {"immigrant_legal"}
    assert set(frame["speaker_role"]) == {"interviewer", "participant"}


def test_new_attributes_for_unchanged_text_update_the_source(
    project: Store, interview_file: Path, tmp_path: Path
) -> None:
    ingest(project, [interview_file], kind="interview")
    table = tmp_path / "attrs.csv"
    table.write_text("file,sector\nP07.txt,immigrant_legal\n", encoding="utf-8")
    report = ingest(project, [interview_file], kind="interview", attributes=table)
    assert report.updated == ["P07"]
    assert project.source("P07").attributes["sector"] == "immigrant_legal"


def test_attributes_without_key_column(project: Store, interview_file: Path, tmp_path: Path):
    table = tmp_path / "attrs.csv"
    table.write_text("participant,sector\nP07,immigrant_legal\n", encoding="utf-8")
    before = store_snapshot(project)
    with pytest.raises(AttributesError, match=r"attrs\.csv row 1: no key column.*'file'"):
        ingest(project, [interview_file], kind="interview", attributes=table)
    assert store_snapshot(project) == before


def test_attribute_rows_matching_no_file_are_named(
    project: Store, interview_file: Path, tmp_path: Path
) -> None:
    table = tmp_path / "attrs.csv"
    table.write_text(
        "file,sector\nP07.txt,immigrant_legal\nP99.txt,faith_civic\nP98.docx,police\n",
        encoding="utf-8",
    )
    before = store_snapshot(project)
    with pytest.raises(AttributesError, match=r"2 row\(s\).*row 3 'P99\.txt', row 4 'P98\.docx'"):
        ingest(project, [interview_file], kind="interview", attributes=table)
    assert store_snapshot(project) == before


def test_attribute_row_may_name_a_source_already_in_the_project(
    project: Store, interview_file: Path, tmp_path: Path
) -> None:
    ingest(project, [interview_file], kind="interview")
    other = tmp_path / "P08.txt"
    other.write_text("Interviewer: Q?\n\nP08: A.", encoding="utf-8")
    table = tmp_path / "attrs.csv"
    table.write_text("file,sector\nP07.txt,immigrant_legal\nP08.txt,city\n", encoding="utf-8")
    report = ingest(project, [other], kind="interview", attributes=table)
    assert report.added == ["P08"]


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("notes.mp3", b"ID3", "unsupported file type"),
        ("broken.docx", b"PK\x03\x04junk", "not a readable .docx"),
        ("broken.pdf", b"%PDF-1.4 junk", "PDF"),
        ("empty.txt", b"", "the file is empty"),
        ("latin.txt", b"ok \x81\x8d", "undecodable bytes"),
    ],
)
def test_one_bad_file_leaves_the_store_unchanged(
    project: Store, interview_file: Path, name: str, content: bytes, error: str
) -> None:
    ingest(project, [interview_file], kind="interview")
    before = store_snapshot(project)
    bad = interview_file.parent / name
    bad.write_bytes(content)
    good = interview_file.parent / "P09.txt"
    good.write_text("Interviewer: Q?\n\nP09: A.", encoding="utf-8")
    with pytest.raises(EvalkitError, match=error):
        ingest(project, [good, bad], kind="interview")
    assert store_snapshot(project) == before


def test_unknown_kind(project: Store, interview_file: Path) -> None:
    with pytest.raises(InputFileError, match="kind must be one of"):
        ingest(project, [interview_file], kind="survey")


def test_missing_path(project: Store, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no such file or folder"):
        ingest(project, [tmp_path / "nope.txt"], kind="interview")


def test_spreadsheet_rows_become_sources(project: Store, tmp_path: Path) -> None:
    path = tmp_path / "survey.csv"
    path.write_text(
        "id,sector,What is missing?\nR1,youth_serving,After-hours response.\n"
        "R2,faith_civic,A values statement.\n",
        encoding="utf-8",
    )
    ingest(project, [path], kind="interview", text_columns=["What is missing?"])
    frame = project.excerpts_df()
    assert list(frame["source_id"]) == ["survey-R1", "survey-R2"]
    assert list(frame["section"]) == ["What is missing?"] * 2
    assert list(frame["text"]) == ["After-hours response.", "A values statement."]
    assert list(frame["sector"]) == ["youth_serving", "faith_civic"]
