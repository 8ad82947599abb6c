"""Codebooks: YAML with line numbers, every validation rule, tables, diff, project loading."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, store_snapshot

from evalkit.codebook import (
    check_codebook,
    codebook_tree,
    content_hash,
    diff_codebooks,
    dump_yaml,
    export_codebook,
    load_codebook,
    parse_yaml,
    project_codebook,
)
from evalkit.errors import CodebookError, InputFileError
from evalkit.project import load_into_project
from evalkit.store import Store

STARTER = ROOT / "codebooks" / "sf_taskforce.yaml"

SMALL = """\
title: Small codebook
version: "2"
authors: [Team]
date: 2025-01-15
domains:
  Task force in action: [PSSW_POLICY]
codes:
  - name: POLICY
    brief: Policies
    definition: Talk about task force policies.
    when_to_use: Any policy.
    when_not_to_use: Not general process.
    examples: ["We wrote a policy."]
    color: "#1F77B4"
  - name: PSSW_POLICY
    parent: POLICY
    brief: Prioritizing Safety policy
    definition: The policy letting sex workers report violence without arrest.
    when_to_use: Mentions of the policy, bulletin or pocket cards.
    when_not_to_use: Training video critique (use VIDEO).
    examples: ["The pocket cards finally came out."]
    color: "#6BAED6"
    rules:
      keywords: [prioritizing safety, pocket card]
      patterns: ['\\bPSSW\\b']
      exclude: [safety plan]
"""


def write(tmp_path: Path, text: str, name: str = "codebook.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_small_codebook_parses_every_field(tmp_path: Path) -> None:
    codebook = load_codebook(write(tmp_path, SMALL))
    assert (codebook.title, codebook.version, codebook.authors, codebook.date) == (
        "Small codebook",
        "2",
        ("Team",),
        "2025-01-15",
    )
    code = codebook.code("PSSW_POLICY")
    assert code.parent == "POLICY"
    assert code.keywords == ("prioritizing safety", "pocket card")
    assert code.patterns == (r"\bPSSW\b",)
    assert code.exclude == ("safety plan",)
    assert codebook.domains == {"Task force in action": ("PSSW_POLICY",)}


def errors_of(tmp_path: Path, text: str) -> list[str]:
    codebook, problems = check_codebook(write(tmp_path, text))
    return [p.format("cb.yaml") for p in problems if p.level == "error"]


def test_unknown_parent_names_the_line(tmp_path: Path) -> None:
    text = SMALL.replace("parent: POLICY", "parent: POLICIES")
    assert errors_of(tmp_path, text) == [
        "cb.yaml line 16: code 'PSSW_POLICY' has parent 'POLICIES' which is not defined. "
        "Define 'POLICIES' or remove the parent"
    ]


def test_duplicate_names(tmp_path: Path) -> None:
    text = SMALL.replace("name: PSSW_POLICY", "name: POLICY")
    [error] = [e for e in errors_of(tmp_path, text) if "twice" in e]
    assert error.startswith("cb.yaml line 15: code 'POLICY' is defined twice (first at line 8)")


def test_cycles(tmp_path: Path) -> None:
    text = SMALL.replace("  - name: POLICY\n", "  - name: POLICY\n    parent: PSSW_POLICY\n")
    [error] = errors_of(tmp_path, text)
    assert "parent cycle: POLICY -> PSSW_POLICY -> POLICY" in error


def test_empty_definition_is_a_warning(tmp_path: Path) -> None:
    text = SMALL.replace("definition: Talk about task force policies.", "definition: ''")
    codebook, problems = check_codebook(write(tmp_path, text))
    assert codebook is not None
    [warning] = problems
    assert warning.level == "warning" and "code 'POLICY' has an empty definition" in warning.message
    assert warning.where == "line 8"


def test_invalid_regex(tmp_path: Path) -> None:
    text = SMALL.replace("'\\bPSSW\\b'", "'(unclosed'")
    [error] = errors_of(tmp_path, text)
    assert "pattern '(unclosed' is not a valid regular expression" in error
    assert error.startswith("cb.yaml line 25:")


def test_domain_mapping_to_unknown_code(tmp_path: Path) -> None:
    text = SMALL.replace("[PSSW_POLICY]", "[PSSW_POLICYY, POLICY]")
    assert errors_of(tmp_path, text) == [
        "cb.yaml line 6: domain 'Task force in action' maps to 'PSSW_POLICYY' which is not a "
        "code. Did you mean 'PSSW_POLICY'?"
    ]


def test_bad_colour_and_unknown_field(tmp_path: Path) -> None:
    text = SMALL.replace('"#1F77B4"', "blue").replace("    when_to_use: Any", "    when_to_us: Any")
    codebook, problems = check_codebook(write(tmp_path, text))
    messages = [(p.level, p.message, p.hint) for p in problems]
    assert (
        "error",
        "code 'POLICY' has colour 'blue', which is not a hex colour",
        "Write it like '#1F77B4'",
    ) in messages
    assert any(
        level == "warning"
        and "unknown field 'when_to_us'" in m
        and hint == "Did you mean 'when_to_use'?"
        for level, m, hint in messages
    )


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = (
        SMALL.replace("parent: POLICY", "parent: NOPE")
        .replace("'\\bPSSW\\b'", "'['")
        .replace("[PSSW_POLICY]", "[GHOST]")
    )
    assert len(errors_of(tmp_path, text)) == 3
    with pytest.raises(CodebookError, match=r"3 problem\(s\): line 6: .*; line 16: .*; line 25: "):
        load_codebook(tmp_path / "codebook.yaml")


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "title: x\ncodes:\n  - name: A\n    brief: [unclosed\n")
    with pytest.raises(CodebookError, match=r"codebook\.yaml line \d+: not valid YAML"):
        check_codebook(path)


def test_yaml_that_is_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(CodebookError, match="must be a mapping"):
        check_codebook(write(tmp_path, "- just\n- a list\n"))


def test_yaml_round_trip_is_lossless(tmp_path: Path) -> None:
    codebook = load_codebook(write(tmp_path, SMALL))
    again, problems = parse_yaml(dump_yaml(codebook), "again.yaml")
    assert again == codebook and problems == []


@pytest.mark.parametrize("fmt", ["xlsx", "qdc"])
def test_exchange_round_trip_is_lossless(tmp_path: Path, fmt: str) -> None:
    codebook = load_codebook(write(tmp_path, SMALL))
    path = tmp_path / f"out.{fmt}"
    path.write_bytes(export_codebook(codebook, fmt))
    assert load_codebook(path) == codebook


def test_csv_round_trip_keeps_the_codes(tmp_path: Path) -> None:
    codebook = load_codebook(write(tmp_path, SMALL))
    path = tmp_path / "out.csv"
    path.write_bytes(export_codebook(codebook, "csv"))
    assert load_codebook(path).codes == codebook.codes


def test_csv_without_code_column(tmp_path: Path) -> None:
    path = write(tmp_path, "name,definition\nA,def\n", "cb.csv")
    with pytest.raises(CodebookError, match=r"cb\.csv row 1: no 'code' column"):
        check_codebook(path)


def test_csv_problems_use_spreadsheet_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "code,parent,definition\nA,,a\nB,A,b\nC,MISSING,c\nA,,dup\n", "cb.csv")
    codebook, problems = check_codebook(path)
    assert codebook is None
    found = sorted((p.where, p.message) for p in problems if p.level == "error")
    assert found == [
        ("row 4", "code 'C' has parent 'MISSING' which is not defined"),
        ("row 5", "code 'A' is defined twice (first at row 2)"),
    ]


def test_unsupported_codebook_format(tmp_path: Path) -> None:
    with pytest.raises(CodebookError, match="unsupported codebook format '.json'"):
        check_codebook(write(tmp_path, "{}", "cb.json"))


def test_diff_lists_added_removed_changed_and_renames(tmp_path: Path) -> None:
    old = load_codebook(write(tmp_path, SMALL))
    new_text = (
        SMALL.replace("name: PSSW_POLICY", "name: SAFETY_POLICY")
        .replace("[PSSW_POLICY]", "[SAFETY_POLICY]")
        .replace("brief: Policies", "brief: Task force policies")
        + "  - name: VIDEO\n    parent: POLICY\n    brief: Training video\n"
        "    definition: Critique of the POST training video.\n"
    )
    new = load_codebook(write(tmp_path, new_text, "v2.yaml"))
    frame = diff_codebooks(old, new)
    rows = list(frame[["change", "code", "field"]].itertuples(index=False, name=None))
    assert ("renamed?", "PSSW_POLICY", "similarity 1.00") in rows
    assert ("added", "VIDEO", "") in rows and ("removed", "PSSW_POLICY", "") in rows
    assert ("changed", "POLICY", "brief") in rows
    assert ("changed", "", "domain:Task force in action") in rows
    changed = frame[(frame["code"] == "POLICY") & (frame["field"] == "brief")].iloc[0]
    assert (changed["old"], changed["new"]) == ("Policies", "Task force policies")
    assert diff_codebooks(old, old).empty


def test_loading_into_a_project_records_version_and_hash(project: Store, tmp_path: Path) -> None:
    path = write(tmp_path, SMALL)
    codebook, status, _ = load_into_project(project, path, actor="ana")
    assert status == "loaded"
    versions = project.codebooks_df()
    assert list(versions["version"]) == ["2"]
    assert versions["content_hash"][0] == content_hash(codebook)
    assert project_codebook(project) == codebook
    assert project.stats()["codes"] == 2
    _, again, _ = load_into_project(project, path)
    assert again == "unchanged" and len(project.codebooks_df()) == 1


def test_new_version_retires_removed_codes(project: Store, tmp_path: Path) -> None:
    load_into_project(project, write(tmp_path, SMALL))
    trimmed = SMALL.split("  - name: PSSW_POLICY")[0].replace("[PSSW_POLICY]", "[POLICY]")
    load_into_project(project, write(tmp_path, trimmed.replace('"2"', '"3"'), "v3.yaml"))
    rows = project.connection.execute("SELECT name, retired FROM codes ORDER BY name").fetchall()
    assert [tuple(r) for r in rows] == [("POLICY", 0), ("PSSW_POLICY", 1)]
    assert project.stats()["codes"] == 1
    assert list(project.codebooks_df()["version"]) == ["2", "3"]


def test_loading_a_bad_codebook_changes_nothing(project: Store, tmp_path: Path) -> None:
    load_into_project(project, write(tmp_path, SMALL))
    before = (store_snapshot(project), project.codebooks_df().to_dict())
    bad = write(tmp_path, SMALL.replace("parent: POLICY", "parent: NOPE"), "bad.yaml")
    with pytest.raises(CodebookError):
        load_into_project(project, bad)
    assert (store_snapshot(project), project.codebooks_df().to_dict()) == before


def test_tree_is_in_reading_order(tmp_path: Path) -> None:
    tree = codebook_tree(load_codebook(write(tmp_path, SMALL)))
    assert list(zip(tree["code"], tree["depth"], strict=True)) == [
        ("POLICY", 0),
        ("PSSW_POLICY", 1),
    ]
    assert tree["domains"][1] == "Task force in action"


def test_word_codebook_has_a_table_per_theme(tmp_path: Path) -> None:
    import io

    import docx

    codebook = load_codebook(write(tmp_path, SMALL))
    document = docx.Document(io.BytesIO(export_codebook(codebook, "docx")))
    assert len(document.tables) == 2  # one theme, plus the domains table
    cells = [c.text for c in document.tables[0].rows[2].cells]
    assert cells[0].strip().replace("\u200b", "") == "PSSW_POLICY"
    assert "Prioritizing Safety policy" in cells[1] and "pocket cards" in cells[4]


def test_table_loader_errors_are_input_errors(tmp_path: Path) -> None:
    path = tmp_path / "cb.xlsx"
    path.write_bytes(b"junk")
    with pytest.raises(InputFileError, match="not a readable spreadsheet"):
        check_codebook(path)


def test_starter_codebook_meets_its_brief() -> None:
    codebook, problems = check_codebook(STARTER)
    assert codebook is not None and problems == []
    themes = codebook.children(None)
    children = [c for c in codebook.codes if c.parent]
    assert len(themes) >= 5 and len(children) >= 15
    for code in codebook.codes:
        for field in ("brief", "definition", "when_to_use", "when_not_to_use", "color"):
            assert getattr(code, field), (code.name, field)
        assert code.examples, code.name
    assert all(c.keywords or c.patterns for c in children)
    assert list(codebook.domains) == [
        "Agency's trafficking work",
        "Involvement on the task force",
        "Task force in action",
        "Task force goals",
        "Future directions",
    ]
    assert any(c.tension for c in codebook.codes)


@pytest.mark.parametrize("fmt", ["qdc", "xlsx"])
def test_starter_codebook_round_trips_without_loss(tmp_path: Path, fmt: str) -> None:
    codebook = load_codebook(STARTER)
    exported = tmp_path / f"sf.{fmt}"
    exported.write_bytes(export_codebook(codebook, fmt))
    back_to_yaml = tmp_path / "sf_again.yaml"
    back_to_yaml.write_bytes(export_codebook(load_codebook(exported), "yaml"))
    assert load_codebook(back_to_yaml) == codebook
    assert diff_codebooks(codebook, load_codebook(back_to_yaml)).empty
