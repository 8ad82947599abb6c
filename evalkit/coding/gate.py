"""The record of an LLM gate: per code, the κ a local LLM coder reached, and the bar.

Measured and stored by :mod:`evalkit.project.llmgate`; read back here so that the
report (and anything else below the workflow layer) can state it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

GATE_SETTING = "llm_gate"


@dataclass(frozen=True)
class Gate:
    """A measured gate: the κ of the LLM coder per code, and the codes it may suggest."""

    model: str
    url: str
    threshold: float
    coder: str
    n_units: int
    folds: int
    measured_at: str
    measured_by: str
    kappas: dict[str, float | None] = field(default_factory=dict)
    human_kappas: dict[str, float | None] = field(default_factory=dict)

    @property
    def enabled(self) -> tuple[str, ...]:
        return tuple(
            sorted(c for c, k in self.kappas.items() if k is not None and k >= self.threshold)
        )

    def reason(self, code: str) -> str:
        return (
            f"LLM enabled for {code}: κ {self.kappas[code]:.2f} ≥ gate {self.threshold:.2f}"
            f" against {self.coder} in {self.folds}-fold cross-validation on {self.n_units}"
            f" coded excerpts ({self.measured_at[:10]})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "enabled": list(self.enabled)}


def parse_gate(raw: str | None) -> Gate | None:
    """A gate from its stored JSON (None for none, or for a record that does not parse)."""
    if not raw:
        return None
    try:
        return Gate(**json.loads(raw))
    except (TypeError, ValueError):
        return None
