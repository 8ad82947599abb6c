"""Search in context, memos, code management and code-by-case queries."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from evalkit import analysis
from evalkit.agreement import code_agreement, cohen_kappa
from evalkit.cli import main
from evalkit.codebook import project_codebook
from evalkit.errors import CodebookError, EvalkitError
from evalkit.project import code_hits, delete_code, merge_codes, move_code, rename_code, split_code
from evalkit.search import lemma_forms, search
from evalkit.store import Store


@pytest.fixture
def coded(sample_coded: Path, copy_project) -> Store:
    """A copy of the sample project, coded by both coders."""
    return copy_project(sample_coded)


def _traceable(store: Store, hits: pd.DataFrame) -> None:
    texts = {s.id: s.text for s in store.sources()}
    for hit in hits.itertuples():
        assert texts[hit.source_id][hit.start : hit.end] == hit.match


def test_word_phrase_lemma_and_regex_queries(coded: Store) -> None:
    words = search(coded, "housing")
    assert len(words) > 10 and set(words["match"].str.lower()) == {"housing"}
    _traceable(coded, words)
    # Every hit's excerpt holds the word: the index and a plain scan agree.
    frame = coded.excerpts_df()
    scanned = frame[frame["text"].str.contains(r"(?<!\w)housing(?!\w)", case=False, regex=True)]
    assert set(words["excerpt_id"]) == set(scanned["excerpt_id"])

    phrase = search(coded, "bad date list", mode="phrase")
    assert len(phrase) >= 5
    assert all(" ".join(m.lower().split()) == "bad date list" for m in phrase["match"])
    _traceable(coded, phrase)

    assert {"arrested", "arrests"} <= set(lemma_forms("arrest"))
    lemmas = search(coded, "arrest", mode="lemma")
    found = set(lemmas["match"].str.lower())
    assert len(found) >= 2 and found <= set(lemma_forms("arrest"))
    assert len(lemmas) > len(search(coded, "arrest"))

    regex = search(coded, r"\b[TU]-visas?\b", mode="regex")
    assert len(regex) >= 3 and all(m[0] in "TU" for m in regex["match"])
    with pytest.raises(EvalkitError, match="not a valid regular expression"):
        search(coded, "(unclosed", mode="regex")
    assert list(regex.columns[:3]) == ["left", "match", "right"]


def test_filters(coded: Store) -> None:
    everything = search(coded, "trust")
    law = search(coded, "trust", sector="law_enforcement")
    assert 0 < len(law) < len(everything) and set(law["sector"]) == {"law_enforcement"}
    assert set(search(coded, "trust", kind="observation")["kind"]) == {"observation"}
    assert set(search(coded, "trust", speaker="P04")["speaker"]) == {"P04"}
    codings = coded.codings_df()
    with_code = search(coded, "trust", code="ENFORCEMENT_TRUST")
    coded_ids = set(codings.loc[codings["code"] == "ENFORCEMENT_TRUST", "excerpt_id"])
    assert len(with_code) > 0 and set(with_code["excerpt_id"]) <= coded_ids
    without = search(coded, "trust", without_code="ENFORCEMENT_TRUST")
    assert not set(without["excerpt_id"]) & coded_ids
    assert len(with_code) + len(without) == len(everything)
    by_maria = search(coded, "trust", coder="maria")
    assert set(by_maria["excerpt_id"]) <= set(
        codings.loc[codings["coder"] == "maria", "excerpt_id"]
    )
    dated = search(coded, "trust", date_from="2024", date_to="2024-12-31")
    assert len(dated) > 0 and all(str(d).startswith("2024") for d in dated["date"])


def test_the_index_follows_undo_and_deidentification(coded: Store) -> None:
    from evalkit.deid import Roster, RosterEntry
    from evalkit.project import deidentify_project

    assert len(search(coded, "Cesar Chavez", mode="phrase")) == 1
    deidentify_project(coded, roster=Roster((RosterEntry("Cesar Chavez", "street-1"),)))
    assert search(coded, "Cesar Chavez", mode="phrase").empty
    assert len(search(coded, "street-1", mode="phrase")) == 1
    before = len(search(coded, "visa"))
    extra = coded.folder.parent / "extra.txt"
    extra.write_text("P99: We talked about the visa and the visa again.", encoding="utf-8")
    from evalkit.project import ingest

    ingest(coded, [extra], kind="interview")
    assert len(search(coded, "visa")) == before + 2
    coded.undo()
    assert len(search(coded, "visa")) == before


def test_code_all_hits_is_one_undoable_operation(coded: Store, capsys) -> None:
    hits = search(coded, "pocket cards", mode="phrase")
    before = len(coded.codings_df())
    result = code_hits(coded, hits, code="POLICE_BULLETIN", coder="lead", actor="lead")
    assert result["excerpts"] == hits["excerpt_id"].nunique()
    assert len(coded.codings_df()) == before + result["codings"]
    assert coded.history_df()["command"].iloc[0] == "search code"
    coded.undo()
    assert len(coded.codings_df()) == before
    assert (
        main(
            [
                "search",
                "pocket cards",
                "--mode",
                "phrase",
                "-p",
                str(coded.folder),
                "--code-as",
                "POLICE_BULLETIN",
                "--coder",
                "lead",
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["codings"] == result["codings"]
    with pytest.raises(EvalkitError, match="no code named 'NOPE'"):
        code_hits(coded, hits, code="NOPE", coder="lead")


def test_memos_everywhere(coded: Store, tmp_path: Path) -> None:
    from evalkit.interop.refi import export_qdpx
    from evalkit.project import import_qdpx
    from evalkit.report import evaluation_report

    excerpt = coded.excerpts()[10].id
    with coded.transaction(actor="maria"):
        coded.add_memo("Why this evaluation", "Asked by the **CAB** in 2024.", author="maria")
        coded.add_memo(
            "Beds", "Every sector names beds.", on="code", target="HOUSING_GAP", author="maria"
        )
        coded.add_memo("P04 on trust", "Read with P02.", on="source", target="P04", author="jamal")
        coded.add_memo(
            "A striking turn", "Quote this.", on="excerpt", target=excerpt, author="jamal"
        )
    with coded.transaction(actor="maria"), pytest.raises(EvalkitError, match="no source 'P99'"):
        coded.add_memo("x", on="source", target="P99", author="maria")
    memos = coded.memos_df()
    assert list(memos["target_kind"]) == ["project", "code", "source", "excerpt"]

    document = evaluation_report(coded, memos=True)
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Appendix: analytic memos" in text and "Every sector names beds." in text
    runs = [r for p in document.paragraphs if "Asked by the" in p.text for r in p.runs]
    assert [r.text for r in runs if r.bold] == ["CAB"]  # Markdown becomes Word formatting
    assert "Appendix: analytic memos" not in "\n".join(
        p.text for p in evaluation_report(coded).paragraphs
    )

    export_qdpx(coded, tmp_path / "m.qdpx")
    with zipfile.ZipFile(tmp_path / "m.qdpx") as archive:
        assert archive.read("project.qde").count(b"<Note ") == 4
    copy = Store.init(tmp_path / "copy", actor="t")
    report = import_qdpx(copy, tmp_path / "m.qdpx")
    assert report.notes == 4
    back = copy.memos_df()
    assert sorted(
        zip(
            back["target_kind"],
            back["target"].fillna(""),
            back["title"],
            back["author"],
            strict=True,
        )
    ) == sorted(
        zip(
            memos["target_kind"],
            memos["target"].fillna(""),
            memos["title"],
            memos["author"],
            strict=True,
        )
    )
    # Memos live in the store, so snapshots carry them.
    snapshot = coded.snapshot("with memos")
    import sqlite3

    with sqlite3.connect(snapshot) as raw:
        assert raw.execute("SELECT COUNT(*) FROM memos").fetchone()[0] == 4


def _kappa_table(store: Store) -> pd.DataFrame:
    codings = store.codings_df()
    report = code_agreement(
        codings.rename(columns={"excerpt_id": "unit"}),
        codes=sorted(codings["code"].dropna().unique()),
    )
    return report.table().set_index("code")


def test_merge_keeps_every_coding_and_agreement_follows(coded: Store) -> None:
    codings = coded.codings_df()
    merged = {"HOUSING_GAP", "YOUTH_AFTER_HOURS", "NEEDS"}
    # What each coder applied, per excerpt, once the three codes are one.
    expected = codings.assign(
        code=codings["code"].where(~codings["code"].isin(merged), "NEEDS")
    ).drop_duplicates(["excerpt_id", "coder", "code"])
    result = merge_codes(coded, ["HOUSING_GAP", "YOUTH_AFTER_HOURS"], "NEEDS", actor="lead")
    after = coded.codings_df()
    assert len(after) == len(expected) == len(codings) - result.counts["collapsed"]
    key = ["excerpt_id", "coder", "code"]
    assert after[key].fillna("").sort_values(key).values.tolist() == (
        expected[key].fillna("").sort_values(key).values.tolist()
    )
    table = _kappa_table(coded)
    assert "HOUSING_GAP" not in table.index
    # The merged code's kappa, computed independently from the expected labels.
    units = sorted(set(expected["excerpt_id"]))
    applied = expected[expected["code"] == "NEEDS"]
    ratings = pd.DataFrame(
        {
            c: [int(((applied["excerpt_id"] == u) & (applied["coder"] == c)).any()) for u in units]
            for c in ("jamal", "maria")
        }
    )
    assert table.loc["NEEDS", "cohen_kappa"] == pytest.approx(cohen_kappa(ratings))
    codebook = project_codebook(coded)
    assert "HOUSING_GAP" not in {c.name for c in codebook.codes}
    assert coded.codebooks_df()["version"].iloc[-1] != coded.codebooks_df()["version"].iloc[-2]
    coded.undo()
    assert len(coded.codings_df()) == len(codings)


def test_rename_split_move_delete(coded: Store) -> None:
    total = len(coded.codings_df())
    rename_code(coded, "HOUSING_GAP", "SHELTER_BEDS")
    codings = coded.codings_df()
    assert "HOUSING_GAP" not in set(codings["code"]) and "SHELTER_BEDS" in set(codings["code"])
    assert project_codebook(coded).code("SHELTER_BEDS").parent == "NEEDS"

    targets = codings.loc[codings["code"] == "SHELTER_BEDS", "excerpt_id"].unique()[:2].tolist()
    moved = split_code(coded, "SHELTER_BEDS", "YOUTH_BEDS", targets)
    after = coded.codings_df()
    assert moved.counts["moved"] == len(after[after["code"] == "YOUTH_BEDS"]) > 0
    assert set(after.loc[after["code"] == "YOUTH_BEDS", "excerpt_id"]) == set(targets)
    assert project_codebook(coded).code("YOUTH_BEDS").parent == "SHELTER_BEDS"

    move_code(coded, "SHELTER_BEDS", "TENSIONS")
    assert project_codebook(coded).code("SHELTER_BEDS").parent == "TENSIONS"
    with pytest.raises(CodebookError, match="cannot move there"):
        move_code(coded, "SHELTER_BEDS", "YOUTH_BEDS")

    gone = delete_code(coded, "DATA_QUALITY")
    assert gone.counts["codings"] > 0 and "DATA_QUALITY" not in set(coded.codings_df()["code"])
    assert "DATA_QUALITY" not in {c.name for c in project_codebook(coded).codes}
    # A code deleted by mistake comes back with its codings.
    coded.undo()
    assert "DATA_QUALITY" in {c.name for c in project_codebook(coded).codes}
    assert len(coded.codings_df()) == total
    audit = coded.audit_df()
    assert {"code.rename", "code.split", "code.move", "code.delete"} <= set(audit["action"])


def test_code_by_case(coded: Store, capsys) -> None:
    applied = analysis.applied_codes(coded, project_codebook(coded))
    frame = analysis.code_by_case(
        applied,
        coded.sources_df(),
        has=["ENFORCEMENT_TRUST"],
        lacks=["DATA_SHARING"],
        sector="law_enforcement",
    )
    assert len(frame) >= 1 and set(frame["sector"]) == {"law_enforcement"}
    assert (frame["ENFORCEMENT_TRUST"] > 0).all() and (frame["DATA_SHARING"] == 0).all()
    # Checked against the codings directly, participant by participant.
    for case in frame["case"]:
        mine = applied[applied["participant"] == case]
        assert "ENFORCEMENT_TRUST" in set(mine["code"]) and "DATA_SHARING" not in set(mine["code"])
    assert (
        main(
            [
                "cases",
                "-p",
                str(coded.folder),
                "--has",
                "ENFORCEMENT_TRUST",
                "--lacks",
                "DATA_SHARING",
                "--sector",
                "law_enforcement",
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert [r["case"] for r in json.loads(capsys.readouterr().out)] == list(frame["case"])


def test_cli_memo_and_code_commands(coded: Store, capsys) -> None:
    folder = str(coded.folder)
    assert (
        main(
            [
                "memo",
                "add",
                "-p",
                folder,
                "--on",
                "code",
                "--target",
                "HOUSING_GAP",
                "--title",
                "Beds",
                "--text",
                "Every sector.",
                "--format",
                "json",
            ]
        )
        == 0
    )
    memo_id = json.loads(capsys.readouterr().out)["memo_id"]
    assert main(["memo", "show", str(memo_id), "-p", folder]) == 0
    assert "Every sector." in capsys.readouterr().out
    assert main(["code", "rename", "HOUSING_GAP", "BEDS", "-p", folder]) == 0
    capsys.readouterr()
    assert (
        main(["memo", "list", "-p", folder, "--on", "code", "--target", "BEDS", "--format", "json"])
        == 0
    )
    listed = json.loads(capsys.readouterr().out)
    assert [m["title"] for m in listed] == ["Beds"]  # the memo followed its code
    assert main(["code", "delete", "NOPE", "-p", folder]) == 2
    assert "no code named 'NOPE'" in capsys.readouterr().err


def test_recommendation_memos(coded: Store, capsys) -> None:
    folder = str(coded.folder)
    add = ["memo", "add", "-p", folder, "--on", "code", "--target", "HOUSING_GAP"]
    assert main([*add, "--title", "A note", "--text", "Beds again."]) == 0
    assert (
        main([*add, "--title", "Fund beds", "--text", "Fund 20 beds.", "--recommendation"]) == 0
    )
    capsys.readouterr()
    assert main(["memo", "list", "-p", folder, "--recommendations", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(m["title"], m["kind"]) for m in listed] == [("Fund beds", "recommendation")]
    assert list(coded.memos_df()["kind"]) == ["note", "recommendation"]
    with coded.transaction(actor="maria"), pytest.raises(EvalkitError, match="kind is one of"):
        coded.add_memo("x", author="maria", kind="wish")
