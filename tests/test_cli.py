"""The CLI as a user runs it: exit codes, one-line errors, --format json.

Commands run in-process through ``main([...])`` (the ``cli`` fixture); a few smoke tests
run a real ``python -m evalkit`` process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.cli import main


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """A real ``python -m evalkit`` process, with a bare environment."""
    return subprocess.run(
        [sys.executable, "-m", "evalkit", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={
            "EVALKIT_USER": "cli-tester",
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": os.environ["PYTHONPATH"],
        },
    )


def test_init_ingest_list_and_stats(tmp_path: Path, interview_file: Path, cli) -> None:
    project = tmp_path / "proj"
    assert cli("init", str(project)).returncode == 0
    result = cli("ingest", str(interview_file), "--project", str(project), "--kind", "interview")
    assert result.returncode == 0, result.stderr
    assert "1 added, 0 updated, 0 unchanged; 4 excerpts" in result.stdout

    again = cli("ingest", str(interview_file), "-p", str(project), "-k", "interview")
    assert "unchanged: P07.txt is already in the project as 'P07'" in again.stderr

    stats = json.loads(cli("stats", "--project", str(project), "--format", "json").stdout)
    assert {"sources", "excerpts", "words", "codes", "codings", "coders", "by_kind"} <= set(stats)
    assert stats["sources"] == 1 and stats["excerpts"] == 4
    assert stats["by_kind"]["interview"]["words"] == stats["words"]

    rows = json.loads(cli("excerpts", "-p", str(project), "--format", "json").stdout)
    assert {"excerpt_id", "source_id", "kind", "speaker", "start", "end", "text"} <= set(rows[0])
    assert rows[1]["text"].startswith("We do immigration legal work.")

    csv_out = cli("sources", "-p", str(project), "--format", "csv").stdout
    assert csv_out.splitlines()[0].startswith("source_id,name,kind,words,excerpts")

    table = cli("excerpts", "-p", str(project)).stdout
    assert "excerpt_id" in table and "P07" in table


def test_python_dash_m_and_help_example() -> None:
    result = run("ingest", "--help")
    assert result.returncode == 0
    assert "example:" in result.stdout and "evalkit ingest" in result.stdout


def test_a_user_error_in_a_real_process_is_one_line_exit_2(tmp_path: Path, cli) -> None:
    assert cli("init", str(tmp_path / "proj")).returncode == 0
    (tmp_path / "x.docx").write_bytes(b"PK\x03\x04 junk")
    result = run("ingest", str(tmp_path / "x.docx"), "-p", str(tmp_path / "proj"), "-k", "document")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evalkit: error: ") and ".docx" in lines[0]


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("none", ["stats", "--project", "{tmp}/nothing", "--format", "json"], "does not exist"),
        ("dir", ["sources", "--project", "{tmp}/plain"], "not an evalkit project"),
        (
            "project",
            ["ingest", "{tmp}/x.mp3", "-p", "{tmp}/proj", "-k", "interview"],
            "unsupported",
        ),
        ("project", ["ingest", "{tmp}/x.docx", "-p", "{tmp}/proj", "-k", "document"], ".docx"),
        ("project", ["ingest", "{tmp}/e.txt", "-p", "{tmp}/proj", "-k", "document"], "empty"),
        (
            "project",
            ["ingest", "{tmp}/ok.txt", "-p", "{tmp}/proj", "-k", "interview", "-a", "{tmp}/a.csv"],
            "no key column",
        ),
    ],
)
def test_user_errors_are_one_line_exit_2_no_traceback(
    tmp_path: Path, setup: str, args: list[str], message: str, cli
) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "x.mp3").write_bytes(b"ID3")
    (tmp_path / "x.docx").write_bytes(b"PK\x03\x04 junk")
    (tmp_path / "e.txt").write_bytes(b"")
    (tmp_path / "ok.txt").write_text("P01: fine.", encoding="utf-8")
    (tmp_path / "a.csv").write_text("name,sector\nok.txt,x\n", encoding="utf-8")
    if setup == "project":
        cli("init", str(tmp_path / "proj"))
    result = cli(*[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evalkit: error: ") and message in lines[0]


def test_main_returns_exit_code_in_process(tmp_path: Path, capsys) -> None:
    assert main(["stats", "--project", str(tmp_path / "missing")]) == 2
    assert "project folder does not exist" in capsys.readouterr().err


def test_codebook_commands(tmp_path: Path, cli) -> None:
    from test_codebook import SMALL

    book = tmp_path / "cb.yaml"
    book.write_text(SMALL, encoding="utf-8")
    result = cli("codebook", "validate", str(book))
    assert result.returncode == 0 and "valid; 2 codes under 1 themes" in result.stdout

    project = tmp_path / "proj"
    cli("init", str(project))
    loaded = cli("codebook", "load", str(book), "--project", str(project), "--format", "json")
    assert json.loads(loaded.stdout)["status"] == "loaded"
    shown = cli("codebook", "show", "--project", str(project)).stdout
    assert "POLICY  Policies" in shown and "    PSSW_POLICY  Prioritizing Safety policy" in shown

    for fmt in ("yaml", "csv", "xlsx", "qdc", "docx"):
        out = tmp_path / f"export.{fmt}"
        exported = cli("codebook", "export", "-p", str(project), "--format", fmt, "--out", str(out))
        assert exported.returncode == 0 and out.stat().st_size > 0, exported.stderr
    assert cli("codebook", "diff", str(book), str(tmp_path / "export.yaml")).stdout.strip() == (
        "no differences"
    )
    again = cli("codebook", "validate", str(tmp_path / "export.qdc"), "--format", "json")
    assert json.loads(again.stdout)["valid"] is True


def test_codebook_validate_lists_every_problem(tmp_path: Path, cli) -> None:
    from test_codebook import SMALL

    book = tmp_path / "cb.yaml"
    book.write_text(SMALL.replace("parent: POLICY", "parent: NOPE").replace("[PSSW", "[X"), "utf-8")
    result = cli("codebook", "validate", str(book))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stdout.count("error: ") == 2
    assert "line 16: code 'PSSW_POLICY' has parent 'NOPE' which is not defined" in result.stdout
    assert "evalkit: error: " in result.stderr and "2 error(s)" in result.stderr


def test_codebook_export_without_codebook(tmp_path: Path, cli) -> None:
    cli("init", str(tmp_path / "proj"))
    result = cli("codebook", "show", "--project", str(tmp_path / "proj"))
    assert result.returncode == 2 and "has no codebook yet" in result.stderr


def test_agree_on_a_long_csv_without_a_project(tmp_path: Path, cli) -> None:
    path = tmp_path / "codes.csv"
    path.write_text(
        "unit,coder,code,text\nu1,ann,X,hello\nu1,ben,X,hello\nu2,ann,,bye\nu2,ben,Y,bye\n",
        encoding="utf-8",
    )
    result = cli("agree", str(path), "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["n_units"] == 2 and data["coders"] == ["ann", "ben"]
    assert data["codes"]["X"]["cohen_kappa"] == 1.0
    assert data["codes"]["Y"]["percent_agreement"] == 0.5
    assert set(data["overall"]) >= {
        "percent_agreement",
        "cohen_kappa",
        "krippendorff_alpha",
        "gwet_ac1",
        "mean_kappa",
    }
    table = cli("agree", str(path))
    assert "(pooled)" in table.stdout


def test_agree_categorical(tmp_path: Path, cli) -> None:
    path = tmp_path / "values.csv"
    rows = ["unit,coder,value"]
    a = ["yes"] * 50 + ["no"] * 50
    b = ["yes"] * 35 + ["no"] * 15 + ["yes"] * 15 + ["no"] * 35
    rows += [f"u{i},a,{v}" for i, v in enumerate(a)] + [f"u{i},b,{v}" for i, v in enumerate(b)]
    path.write_text("\n".join(rows), encoding="utf-8")
    data = json.loads(cli("agree", str(path), "--categorical", "--format", "json").stdout)
    assert data["cohen_kappa"] == 0.4 and data["percent_agreement"] == 0.7
    assert "codes" not in data


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("unit,coder\nu1,a\n", [], "no 'code' column"),
        ("unit,coder,code\nu1,a,X\nu2,a,Y\n", [], "at least two coders; found 1"),
        ("unit,coder,value\nu1,a,x\nu1,b,x\nu1,a,y\n", ["--categorical"], "row 4: coder 'a'"),
        ("unit,value\nu1,x\n", ["--categorical"], "no column 'coder'"),
    ],
)
def test_agree_bad_input(tmp_path: Path, content: str, args: list[str], message: str, cli) -> None:
    path = tmp_path / "codes.csv"
    path.write_text(content, encoding="utf-8")
    result = cli("agree", str(path), *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert message in result.stderr


def test_codings_import_agree_and_disagreements_on_a_project(
    tmp_path: Path, interview_file: Path, cli
) -> None:
    from test_codebook import SMALL

    project = tmp_path / "proj"
    cli("init", str(project))
    cli("ingest", str(interview_file), "-p", str(project), "-k", "interview")
    book = tmp_path / "cb.yaml"
    book.write_text(SMALL, encoding="utf-8")
    cli("codebook", "load", str(book), "-p", str(project))
    excerpts = json.loads(cli("excerpts", "-p", str(project), "--format", "json").stdout)
    u1, u2 = [e["excerpt_id"] for e in excerpts if e["speaker"] == "P07"]
    for coder, codes in {"ann": ["POLICY", "POLICY"], "ben": ["PSSW_POLICY", "POLICY"]}.items():
        path = tmp_path / f"{coder}.csv"
        path.write_text(f"unit,code\n{u1},{codes[0]}\n{u2},{codes[1]}\n", encoding="utf-8")
        result = cli("codings", "import", str(path), "-p", str(project), "--coder", coder)
        assert result.returncode == 0 and "imported 2 coding(s) of 2 unit(s) by" in result.stdout
    data = json.loads(cli("agree", "-p", str(project), "--format", "json").stdout)
    assert data["coders"] == ["ann", "ben"] and data["n_units"] == 2
    assert data["codes"]["POLICY"]["percent_agreement"] == 0.5
    out = tmp_path / "consensus.xlsx"
    result = cli("disagreements", "-p", str(project), "--coders", "ann,ben", "--out", str(out))
    assert result.returncode == 0 and "wrote 1 disagreement(s)" in result.stderr
    listed = cli("codings", "list", "-p", str(project), "--format", "csv").stdout
    assert len(listed.splitlines()) == 5  # header and four codings


def test_coder_eval_json_contract(tmp_path: Path, cli) -> None:
    import pandas as pd
    from conftest import SAMPLE

    units = pd.read_csv(SAMPLE / "codings" / "units.csv", dtype=str)
    coders = pd.concat(
        pd.read_csv(p, dtype=str, keep_default_na=False)
        for p in sorted((SAMPLE / "codings").glob("coder_*.csv"))
    )
    merged = coders.merge(units, left_on="unit", right_on="excerpt_id")
    path = tmp_path / "coded.csv"
    merged[["unit", "text", "coder", "code"]].to_csv(path, index=False)
    result = cli("coder-eval", str(path), "--coder", "jamal", "--folds", "3", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"codes", "macro", "recall_at_30pct_effort", "n_units", "folds"} <= set(data)
    assert {"kappa", "human_kappa", "f1"} <= set(data["macro"]) and data["folds"] == 3
    bad = cli("coder-eval", str(path), "--coder", "nobody")
    assert bad.returncode == 2 and "coder 'nobody' is not in the file" in bad.stderr


def test_suggest_and_themes_commands(tmp_path: Path, interview_file: Path, cli) -> None:
    from test_codebook import SMALL

    project = tmp_path / "proj"
    cli("init", str(project))
    none_yet = cli("suggest", "run", "-p", str(project))
    assert none_yet.returncode == 2 and "no codebook" in none_yet.stderr
    notes = tmp_path / "notes"
    notes.mkdir()
    for i, text in enumerate(
        [
            "The pocket card is in my wallet.",
            "The pocket card came with the bulletin.",
            "Nobody had a pocket card at the meeting.",
            "Housing is the gap, always housing.",
            "The pocket card helped a worker report an assault.",
            "Data sharing between agencies is thin.",
        ]
    ):
        (notes / f"note{i}.txt").write_text(text, encoding="utf-8")
    cli("ingest", str(notes), "-p", str(project), "-k", "observation")
    book = tmp_path / "cb.yaml"
    book.write_text(SMALL, encoding="utf-8")
    cli("codebook", "load", str(book), "-p", str(project))
    ran = cli("suggest", "run", "-p", str(project), "--format", "json")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["model_version"] == "rules-only"
    listed = json.loads(cli("suggest", "list", "-p", str(project), "--format", "json").stdout)
    assert listed and all(s["code"] == "PSSW_POLICY" for s in listed)
    first = str(listed[0]["suggestion_id"])
    accepted = cli("suggest", "accept", first, "-p", str(project), "--reviewer", "ana")
    assert "1 suggestion(s) accepted by ana; 1 coding(s) added for ana" in accepted.stdout
    plan = json.loads(cli("suggest", "next", "-p", str(project), "--n", "2", "-f", "json").stdout)
    assert len(plan["excerpts"]) == 2 and plan["read"] + plan["unread"] > 2
    themes = cli("themes", "-p", str(project), "--k", "2", "--format", "json")
    assert themes.returncode == 0 and len(json.loads(themes.stdout)["themes"]) == 2
