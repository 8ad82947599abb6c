"""The LLM gate end to end, against a stub OpenAI-compatible server on 127.0.0.1:
coder-eval measures the LLM coder on the team's coded excerpts, the project records the
gate, and suggestions come from the LLM only for the codes that passed it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from llm_stub import LLMStub

from evalkit.errors import EvalkitError
from evalkit.project import run_suggestions
from evalkit.project.llmgate import LLMSettings, current_gate, measure_gate

# A scripted "model": a good keyword for two codes, a useless one for a third.
KEYWORDS = {"BAD_DATE_LIST": "bad date", "POLICE_BULLETIN": "bulletin", "SHARING_SPACE": "the"}


def test_the_gate_enables_only_the_codes_the_llm_earned(copy_project, sample_coded: Path) -> None:
    store = copy_project(sample_coded)
    with LLMStub(KEYWORDS) as stub:
        llm = LLMSettings(url=stub.url, model="stub-7b", timeout=5)
        result, gate = measure_gate(store, "maria", llm, threshold=0.5, folds=5)
        assert gate is not None and current_gate(store) == gate
        # Measured exactly like the learned coder: κ per code against maria.
        assert gate.kappas == {c: e["kappa"] for c, e in result.codes.items()}
        assert result.n_units == gate.n_units == 145
        passed = set(gate.enabled)
        assert passed == {c for c, k in gate.kappas.items() if k is not None and k >= 0.5}
        assert "SHARING_SPACE" not in passed and passed & {"BAD_DATE_LIST", "POLICE_BULLETIN"}
        asked = len(stub.requests)
        assert asked == 145  # each coded excerpt once, in its held-out fold

        run = run_suggestions(store, llm=llm)
        assert len(stub.requests) > asked
    suggestions = store.suggestions_df(status="suggested")
    from_llm = suggestions[suggestions["origin"].str.contains("llm")]
    assert run.llm_suggestions > 0 and len(from_llm) >= 1
    assert set(from_llm["code"]) <= passed
    for row in from_llm.itertuples():
        assert f"LLM enabled for {row.code}: κ" in row.rationale
        assert "llm:stub-7b:" in row.model_version
    # Every LLM suggestion quotes a span found verbatim in its excerpt.
    texts = store.excerpts_df().set_index("excerpt_id")["text"]
    for row in from_llm.itertuples():
        span = row.rationale.split("“", 1)[1].split("”", 1)[0]
        assert " ".join(span.split()) in " ".join(texts[row.excerpt_id].split())
    audit = store.audit_df()
    entry = json.loads(audit[audit["action"] == "llm.gate"].iloc[-1]["detail"])
    assert entry["model"] == "stub-7b" and entry["enabled"] == sorted(passed)


def test_suggestions_need_a_gate_for_that_model(copy_project, sample_coded: Path) -> None:
    store = copy_project(sample_coded)
    with LLMStub(KEYWORDS) as stub:
        with pytest.raises(EvalkitError, match="no LLM gate measured for model 'stub-7b'"):
            run_suggestions(store, llm=LLMSettings(url=stub.url, model="stub-7b"))
        assert stub.requests == []


def test_the_gate_is_one_undoable_operation(copy_project, sample_coded: Path) -> None:
    store = copy_project(sample_coded)
    with LLMStub(KEYWORDS) as stub:
        measure_gate(store, "maria", LLMSettings(url=stub.url, model="stub-7b"), threshold=0.5)
    assert current_gate(store) is not None
    store.undo(actor="t")
    assert current_gate(store) is None


def test_the_cli_refuses_a_remote_endpoint_and_says_why(cli, sample_coded: Path) -> None:
    result = cli(
        "suggest",
        "run",
        "-p",
        str(sample_coded),
        "--llm",
        "http://10.1.2.3:11434/v1",
        "--model",
        "qwen",
    )
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line and "loopback" in line and "--llm-allow-remote" in line


def test_cli_gate_end_to_end(cli, copy_project, sample_coded: Path) -> None:
    store = copy_project(sample_coded)
    folder = str(store.folder)
    store.close()
    with LLMStub(KEYWORDS) as stub:
        measured = cli(
            "coder-eval",
            "--project",
            folder,
            "--coder",
            "maria",
            "--llm",
            stub.url,
            "--model",
            "stub-7b",
            "--gate",
            "0.5",
            "--no-embeddings",
            "-f",
            "json",
        )
        assert measured.returncode == 0, measured.stderr
        gate = json.loads(measured.stdout)["gate"]
        ran = cli(
            "suggest",
            "run",
            "-p",
            folder,
            "--llm",
            stub.url,
            "--model",
            "stub-7b",
            "--no-embeddings",
        )
        assert ran.returncode == 0, ran.stderr
    assert gate["enabled"] and "from the LLM coder" in ran.stdout
