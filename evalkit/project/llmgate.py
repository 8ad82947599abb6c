"""The LLM gate: a local LLM coder suggests only the codes where it has earned it.

``coder-eval --project DIR --llm URL --model NAME --gate K`` measures the LLM coder
exactly as the learned coder is measured (K-fold cross-validation on the team's own coded
excerpts, κ per code against the chosen coder, beside the human-human κ), and records the
result in the project: which model, which endpoint, the κ of every code, the threshold the
team set, who measured it and when. ``suggest run --llm URL --model NAME`` then asks the
LLM only about the codes whose κ reached the threshold, and each suggestion's rationale
says so; the report's methods section states the gate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from evalkit.codebook import require_codebook
from evalkit.coding.evaluate import CoderEval, coder_eval
from evalkit.coding.gate import GATE_SETTING, Gate, parse_gate
from evalkit.coding.llm import LLMCoder, check_endpoint
from evalkit.errors import EvalkitError
from evalkit.store import default_actor, now


@dataclass(frozen=True)
class LLMSettings:
    """Which local LLM to ask, and how."""

    url: str
    model: str
    timeout: float = 60.0
    allow_remote: bool = False

    def __post_init__(self) -> None:
        # Refused before anything else happens: no excerpt is read for a remote endpoint.
        check_endpoint(self.url, allow_remote=self.allow_remote)

    def coder(self, codebook) -> LLMCoder:
        return LLMCoder(
            url=self.url,
            model=self.model,
            codebook=codebook,
            timeout=self.timeout,
            allow_remote=self.allow_remote,
        )


def project_units(store, *, include_suggested: bool = False) -> pd.DataFrame:
    """The project's coded excerpts as the long ``unit, text, coder, code`` table of
    ``coder-eval`` (one row per applied code; a blank code where a coder applied none).
    Codings that came from accepted suggestions are left out unless asked for: a
    coder measured against its own accepted output would flatter itself."""
    codings = store.codings_df()
    if not include_suggested:
        codings = codings[~codings["origin"].fillna("").str.startswith("suggestion")]
    excerpts = store.excerpts_df().set_index("excerpt_id")["text"]
    frame = pd.DataFrame(
        {
            "unit": codings["excerpt_id"],
            "text": codings["excerpt_id"].map(excerpts),
            "coder": codings["coder"],
            "code": codings["code"].fillna(""),
        }
    )
    return frame.dropna(subset=["text"]).reset_index(drop=True)


def measure_gate(
    store,
    coder: str,
    llm: LLMSettings,
    *,
    threshold: float | None = None,
    folds: int = 5,
    seed: int = 0,
    actor: str | None = None,
) -> tuple[CoderEval, Gate | None]:
    """Cross-validate the LLM coder on the project's coded excerpts; with ``threshold``,
    record the gate in the project (one audited, undoable operation)."""
    if threshold is not None and not -1 <= threshold <= 1:
        raise EvalkitError(f"--gate must be a κ between -1 and 1, got {threshold}")
    codebook = require_codebook(store, purpose="the LLM coder reads its definitions")
    frame = project_units(store)
    result = coder_eval(
        frame,
        coder,
        folds=folds,
        seed=seed,
        codebook=codebook,
        make_coder=lambda: llm.coder(codebook),
    )
    if threshold is None:
        return result, None
    gate = Gate(
        model=llm.model,
        url=llm.url,
        threshold=float(threshold),
        coder=coder,
        n_units=result.n_units,
        folds=folds,
        measured_at=now(),
        measured_by=actor or default_actor(),
        kappas={c: e["kappa"] for c, e in result.codes.items()},
        human_kappas={c: e.get("human_kappa") for c, e in result.codes.items()},
    )
    with store.transaction(actor=actor, command="coder-eval gate"):
        store.set_setting(GATE_SETTING, json.dumps(gate.__dict__, sort_keys=True))
        store.log(
            "llm.gate",
            "project",
            None,
            {"model": gate.model, "threshold": gate.threshold, "enabled": list(gate.enabled)},
        )
        store.describe(
            f"LLM gate for {gate.model}: {len(gate.enabled)} code(s) at κ ≥ {gate.threshold}"
        )
    return result, gate


def current_gate(store) -> Gate | None:
    """The gate last measured in this project, if any."""
    return parse_gate(store.setting(GATE_SETTING))


def llm_rows(store, llm: LLMSettings, codebook, coded, uncoded) -> tuple[list[dict], str]:
    """Suggestion rows from the LLM coder for the codes its gate enabled."""
    gate = current_gate(store)
    if gate is None or gate.model != llm.model:
        measured = f" (the gate on record is for {gate.model})" if gate else ""
        raise EvalkitError(
            f"no LLM gate measured for model '{llm.model}' in this project{measured}",
            hint="Measure it first: evalkit coder-eval --project DIR --coder NAME"
            f" --llm {llm.url} --model {llm.model} --gate 0.6",
        )
    if not gate.enabled:
        return [], ""
    model = llm.coder(codebook).fit(coded["text"].tolist(), coded["labels"].tolist())
    rows = []
    allowed = set(gate.enabled)
    suggestions = model.suggest(uncoded["text"].tolist(), ids=uncoded["excerpt_id"].tolist())
    for excerpt_id, found in zip(uncoded["excerpt_id"], suggestions, strict=True):
        for s in found:
            if s.code not in allowed:
                continue
            rows.append(
                {
                    "excerpt_id": excerpt_id,
                    "code": s.code,
                    "origin": "llm",
                    "confidence": s.confidence,
                    "rationale": f"{s.rationale}; {gate.reason(s.code)}",
                    "model_version": model.model_version_,
                }
            )
    return rows, model.model_version_
