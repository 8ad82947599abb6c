"""Importing human codings, and the consensus round trip."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import store_snapshot
from test_codebook import SMALL

from evalkit.codebook import project_codebook
from evalkit.codings import read_codings_table, write_disagreements
from evalkit.errors import CodebookError, EvalkitError, InputFileError
from evalkit.project import disagreements, import_codings, ingest, load_into_project
from evalkit.store import Store


@pytest.fixture
def coded_project(project: Store, interview_file: Path, tmp_path: Path) -> Store:
    ingest(project, [interview_file], kind="interview")
    book = tmp_path / "cb.yaml"
    book.write_text(SMALL, encoding="utf-8")
    load_into_project(project, book)
    return project


def units(store: Store) -> list[str]:
    return [e.id for e in store.excerpts() if e.speaker == "P07"]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_long_layout(coded_project: Store, tmp_path: Path) -> None:
    u1, u2 = units(coded_project)
    path = write(
        tmp_path,
        "long.csv",
        f"unit,coder,code\n{u1},ann,PSSW_POLICY\n{u1},ann,POLICY\n{u2},ann,\n",
    )
    report = import_codings(coded_project, path, actor="lead")
    assert (report.layout, report.units, report.codings) == ("long", 2, 3)
    frame = coded_project.codings_df()
    assert sorted(frame["code"].fillna("-")) == ["-", "POLICY", "PSSW_POLICY"]
    assert set(frame["created_by"]) == {"lead"} and set(frame["origin"]) == {"import:long.csv"}
    current = coded_project.codebooks_df()["codebook_id"].iloc[-1]
    assert set(frame["codebook_id"]) == {current}


def test_wide_layout_with_coder_option_and_hierarchy(coded_project: Store, tmp_path: Path):
    u1, u2 = units(coded_project)
    path = write(
        tmp_path,
        "wide.csv",
        f"excerpt_id,Code 1,Code 2\n{u1},POLICY->PSSW_POLICY,POLICY\n{u2},,\n",
    )
    report = import_codings(coded_project, path, coder="ben")
    assert report.layout == "wide" and report.coders == ["ben"]
    frame = coded_project.codings_df()
    assert sorted(frame[frame["excerpt_id"] == u1]["code"]) == ["POLICY", "PSSW_POLICY"]
    assert frame[frame["excerpt_id"] == u2]["code"].isna().all()


def test_xlsx_wide_layout(coded_project: Store, tmp_path: Path) -> None:
    u1, _ = units(coded_project)
    path = tmp_path / "wide.xlsx"
    pd.DataFrame({"unit": [u1], "coder": ["cy"], "Code 1": ["POLICY/PSSW_POLICY"]}).to_excel(
        path, index=False
    )
    import_codings(coded_project, path)
    assert list(coded_project.codings_df()["code"]) == ["PSSW_POLICY"]


def test_unknown_codes_are_listed_all_at_once(coded_project: Store, tmp_path: Path) -> None:
    u1, u2 = units(coded_project)
    path = write(
        tmp_path,
        "bad.csv",
        f"unit,coder,code\n{u1},ann,POLCY\n{u2},ann,VIDEO\n{u1},ben,POLCY\n",
    )
    before = store_snapshot(coded_project)
    with pytest.raises(
        CodebookError, match=r"2 code\(s\) not in the codebook: 'POLCY' \(rows 2, 4\), 'VIDEO'"
    ):
        import_codings(coded_project, path)
    assert store_snapshot(coded_project) == before


def test_add_missing_codes_makes_a_new_codebook_version(coded_project: Store, tmp_path: Path):
    u1, _ = units(coded_project)
    path = write(tmp_path, "new.csv", f"unit,coder,code\n{u1},ann,VIDEO\n")
    report = import_codings(coded_project, path, add_missing_codes=True)
    assert report.added_codes == ["VIDEO"]
    codebook = project_codebook(coded_project)
    assert "VIDEO" in [c.name for c in codebook.codes]
    assert len(coded_project.codebooks_df()) == 2


def test_wrong_parent_is_an_error(coded_project: Store, tmp_path: Path) -> None:
    u1, _ = units(coded_project)
    path = write(tmp_path, "p.csv", f"unit,coder,code\n{u1},ann,OTHER/PSSW_POLICY\n")
    with pytest.raises(CodebookError, match=r"p\.csv row 2: code 'PSSW_POLICY' is written under"):
        import_codings(coded_project, path)


def test_missing_columns(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"row 1: no 'unit' or 'excerpt_id' column"):
        read_codings_table(write(tmp_path, "a.csv", "x,coder,code\n1,a,B\n"))
    with pytest.raises(InputFileError, match=r"no 'coder' column.*--coder NAME"):
        read_codings_table(write(tmp_path, "b.csv", "unit,code\n1,B\n"))
    with pytest.raises(InputFileError, match=r"no 'code' column, no 'Code 1…N' columns"):
        read_codings_table(write(tmp_path, "c.csv", "unit,coder,label\n1,a,B\n"))


def test_unknown_units_without_text(coded_project: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "u.csv", "unit,coder,code\nnope-1,ann,POLICY\n")
    with pytest.raises(InputFileError, match=r"1 unit\(s\) match no excerpt.*'nope-1' \(row 2\)"):
        import_codings(coded_project, path)


def test_survey_units_are_created_from_the_text_column(coded_project: Store, tmp_path: Path):
    path = write(
        tmp_path,
        "survey.csv",
        "unit,coder,code,text\n"
        'R1,ann,PSSW_POLICY,"The pocket cards helped."\n'
        'R1,ben,PSSW_POLICY,"The pocket cards helped."\n'
        'R2,ann,,"Nothing to add."\n',
    )
    report = import_codings(coded_project, path)
    assert report.created_sources == ["R1", "R2"]
    excerpts = coded_project.excerpts_df()
    row = excerpts[excerpts["excerpt_id"] == "R1"].iloc[0]
    assert row["text"] == "The pocket cards helped."


def test_reimport_replaces_and_audit_keeps_the_old(coded_project: Store, tmp_path: Path):
    u1, _ = units(coded_project)
    import_codings(coded_project, write(tmp_path, "v1.csv", f"unit,coder,code\n{u1},ann,POLICY\n"))
    report = import_codings(
        coded_project, write(tmp_path, "v2.csv", f"unit,coder,code\n{u1},ann,PSSW_POLICY\n")
    )
    assert report.replaced == 1
    assert list(coded_project.codings_df()["code"]) == ["PSSW_POLICY"]
    last = coded_project.audit_df().iloc[-1]
    assert last["action"] == "codings.replace" and '"POLICY"' in last["detail"]


def test_coded_excerpts_cannot_silently_disappear(
    coded_project: Store, interview_file: Path, tmp_path: Path
) -> None:
    u1, _ = units(coded_project)
    import_codings(coded_project, write(tmp_path, "c.csv", f"unit,coder,code\n{u1},ann,POLICY\n"))
    text = interview_file.read_text(encoding="utf-8")
    interview_file.write_text(text.replace("nail salons", "nail salons and farms"), "utf-8")
    before = store_snapshot(coded_project)
    with pytest.raises(EvalkitError, match=r"coded excerpt\(s\) would be lost"):
        ingest(coded_project, [interview_file], kind="interview")
    assert store_snapshot(coded_project) == before


def test_consensus_round_trip(coded_project: Store, tmp_path: Path) -> None:
    u1, u2 = units(coded_project)
    import_codings(
        coded_project,
        write(
            tmp_path,
            "both.csv",
            f"unit,coder,code\n{u1},ann,POLICY\n{u1},ben,PSSW_POLICY\n"
            f"{u2},ann,POLICY\n{u2},ben,POLICY\n",
        ),
    )
    frame = disagreements(coded_project, ["ann", "ben"])
    assert list(frame["excerpt_id"]) == [u1]
    assert frame.loc[0, "codes: ann"] == "POLICY" and frame.loc[0, "codes: ben"] == "PSSW_POLICY"
    assert frame.loc[0, "differs_on"] == "POLICY; PSSW_POLICY"
    for suffix in (".csv", ".docx"):
        assert write_disagreements(frame, tmp_path / f"d{suffix}").stat().st_size > 0
    sheet = tmp_path / "d.xlsx"
    write_disagreements(frame, sheet)
    filled = pd.read_excel(sheet, dtype=str).fillna("")
    filled.loc[0, "consensus"] = "PSSW_POLICY; POLICY"
    filled.to_excel(sheet, index=False)
    report = import_codings(coded_project, sheet)
    assert report.layout == "consensus" and report.coders == ["consensus"]
    consensus = coded_project.codings_df(coders=["consensus"])
    assert sorted(consensus["code"]) == ["POLICY", "PSSW_POLICY"]


def test_disagreements_need_two_known_coders(coded_project: Store) -> None:
    with pytest.raises(EvalkitError, match="at least two coders"):
        disagreements(coded_project, ["ann"])
    with pytest.raises(EvalkitError, match="have no codings"):
        disagreements(coded_project, ["ann", "zoe"])
