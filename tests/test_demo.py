"""The demo runs the whole pipeline on data_sample/ with the network blocked."""

from __future__ import annotations

import json
import re
import shutil
import socket
from pathlib import Path

import docx
import pandas as pd
import pytest
from conftest import SAMPLE

from evalkit.demo import SAMPLE_LAYOUT, run_demo
from evalkit.ingest import SUPPORTED
from evalkit.store import Store


class NetworkBlocked(RuntimeError):
    pass


def block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise NetworkBlocked("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    block_network(monkeypatch)


def test_sockets_really_are_blocked(no_network: None) -> None:
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("example.org", 80))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The demo, run once for this module with the network blocked; tests only read it."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        block_network(monkeypatch)
        return run_demo(tmp_path_factory.mktemp("demo") / "out")


def test_demo_ingests_the_whole_sample_corpus_offline(demo: dict) -> None:
    summary = demo  # run by the fixture with sockets blocked: any connection attempt fails it
    expected = {
        kind: sorted(p for p in (SAMPLE / folder).iterdir() if p.suffix.lower() in SUPPORTED)
        for folder, kind in SAMPLE_LAYOUT
    }
    stats = summary["stats"]
    for kind, files in expected.items():
        assert stats["by_kind"][kind]["sources"] == len(files), kind
    with Store.open(summary["project"]) as store:
        sources = store.sources_df()
        names = set(sources["name"])
        assert names == {p.name for files in expected.values() for p in files}
        interviews = sources[sources["kind"] == "interview"]
        assert interviews["sector"].notna().all() and interviews["date"].notna().all()
        assert sources["date"].notna().all()
        frame = store.excerpts_df()
        texts = {s.id: s.text for s in store.sources()}
        for _, row in frame.sample(50, random_state=1).iterrows():
            assert texts[row["source_id"]][row["start"] : row["end"]] == row["text"]
    report = docx.Document(summary["report"])
    assert "Executive summary" in "\n".join(p.text for p in report.paragraphs)
    overview = docx.Document(summary["corpus_overview"])
    assert "Evaluation corpus overview" in "\n".join(p.text for p in overview.paragraphs)


def test_the_demo_suggests_with_the_embedding_model_offline(demo: dict) -> None:
    # The sentence embeddings ran with sockets blocked: the model is local, checked by sha256.
    assert "all-MiniLM-L6-v2-onnx-int8" in demo["suggestions"]["model_version"]
    with Store.open(demo["project"]) as store:
        assert store.cache_count("embedding") > 0


def test_sample_corpus_meets_its_brief() -> None:
    interviews = list((SAMPLE / "interviews").iterdir())
    suffixes = {p.suffix for p in interviews}
    assert len(interviews) >= 12 and {".docx", ".txt", ".vtt"} <= suffixes
    assert len(list((SAMPLE / "observations").iterdir())) >= 6
    documents = list((SAMPLE / "documents").iterdir())
    assert len(documents) >= 6
    assert sum(p.suffix == ".pdf" for p in documents) >= 2
    assert sum(p.suffix == ".docx" for p in documents) >= 2


def test_demo_can_run_twice(demo: dict, tmp_path: Path, cli) -> None:
    # Run again over a copy of the first run's output folder (its project, report and
    # key file), this time as a user would: `evalkit demo --out DIR`.
    out = tmp_path / "out"
    shutil.copytree(Path(demo["project"]).parent, out)
    second = cli("demo", "--out", str(out), "--format", "json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["stats"] == demo["stats"]


def test_sample_codings_cover_a_fifth_of_the_excerpts(demo: dict) -> None:
    summary = demo
    agreement = summary["agreement"]
    assert agreement.coders == ["jamal", "maria"]
    total = summary["stats"]["excerpts"]
    assert 0.15 * total <= agreement.n_units <= 0.25 * total
    # Realistic, not perfect: human-human kappa is typically 0.6-0.95.
    assert 0.5 < agreement.overall["mean_kappa"] < 0.95
    assert summary["stats"]["coders"] == 2


def test_demo_writes_the_domain_matrix_and_the_cli_can_too(demo: dict, tmp_path: Path, cli) -> None:
    sheets = pd.read_excel(demo["matrix"], sheet_name=None)
    assert {"interviews", "observations", "documents"} == set(sheets)
    out = tmp_path / "m.xlsx"
    result = cli("matrix", "-p", demo["project"], "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "25 sources x 5 domains" in result.stderr and out.is_file()
    report = tmp_path / "r.docx"
    result = cli(
        "report",
        "-p",
        demo["project"],
        "--out",
        str(report),
        "--title",
        "Task force evaluation 2025",
    )
    assert result.returncode == 0, result.stderr
    assert docx.Document(report).paragraphs[6].text == "Task force evaluation 2025"


QUOTE = re.compile(r"^“(?P<quote>.*)” — .* \[(?P<excerpt>[^\]]+)\]$", re.S)


def test_report_quotes_are_verbatim_under_their_excerpt_ids(demo: dict) -> None:
    report = docx.Document(demo["report"])
    quotes = [p.text for p in report.paragraphs if p.style.name == "Quote"]
    assert len(quotes) >= 15
    with Store.open(demo["project"]) as store:
        excerpts = store.excerpts_df().set_index("excerpt_id")
        texts = {s.id: s.text for s in store.sources()}
    for paragraph in quotes:
        match = QUOTE.match(paragraph)
        assert match, paragraph[:80]
        row = excerpts.loc[match["excerpt"]]
        assert match["quote"] in row["text"]
        assert match["quote"] in texts[row["source_id"]]


def test_report_numbers_match_the_project(demo: dict) -> None:
    report = docx.Document(demo["report"])
    stats = demo["stats"]
    summary = next(p.text for p in report.paragraphs if p.text.startswith("This report draws"))
    assert f"draws on {stats['sources']} sources ({stats['words']:,} words)" in summary
    assert f"into {stats['excerpts']} excerpts" in summary
    kinds = report.tables[0]
    rows = {r.cells[0].text: [c.text for c in r.cells[1:]] for r in kinds.rows[1:]}
    assert rows["Key-informant interviews"][0] == str(stats["by_kind"]["interview"]["sources"])
    assert rows["Meeting observations"][1] == str(stats["by_kind"]["observation"]["excerpts"])
    kappa = f"{demo['agreement'].overall['cohen_kappa']:.2f}"
    assert any(f"κ = {kappa}" in p.text for p in report.paragraphs)
    assert len(report.inline_shapes) >= 5  # a chart per theme


def test_report_needs_codings_and_is_deterministic(demo: dict, tmp_path: Path) -> None:
    from evalkit.errors import EvalkitError
    from evalkit.report import evaluation_report

    empty = Store.init(tmp_path / "empty")
    with pytest.raises(EvalkitError, match="no codebook.*codebook load"):
        evaluation_report(empty)
    with Store.open(demo["project"]) as store:
        first = [p.text for p in evaluation_report(store).paragraphs]
        second = [p.text for p in evaluation_report(store).paragraphs]
    assert first == second


def _document_text(path: Path) -> str:
    document = docx.Document(str(path))
    parts = [p.text for p in document.paragraphs]
    parts += [c.text for t in document.tables for r in t.rows for c in r.cells]
    return "\n".join(parts)


def test_no_planted_identifier_reaches_the_outputs(demo: dict) -> None:
    """No planted real name, phone number or e-mail in the report, packet or matrix."""
    from openpyxl import load_workbook

    truth = pd.read_csv(Path(__file__).parent / "data" / "deid_sample_truth.csv", dtype=str)
    planted = sorted(set(truth[truth["type"].isin(["name", "phone", "email"])]["text"]))
    assert len(planted) > 40
    texts = {
        name: _document_text(Path(demo[name]))
        for name in ("report", "cab_packet", "corpus_overview")
    }
    workbook = load_workbook(demo["matrix"])
    texts["matrix"] = "\n".join(
        str(v) for sheet in workbook for row in sheet.iter_rows(values_only=True) for v in row if v
    )
    for name, text in texts.items():
        for detail in planted:
            pattern = r"(?<!\w)" + r"\s+".join(map(re.escape, detail.split())) + r"(?!\w)"
            assert not re.search(pattern, text), f"{detail!r} appears in the {name}"
    with Store.open(demo["project"]) as store:
        stored = "\n".join(s.text for s in store.sources())
    for detail in planted:
        assert detail not in stored, detail
    assert "[P11]" in stored and "[PHONE]" in stored and "[EMAIL]" in stored
