"""Shared by the benchmark scripts: the corpus, peak memory, one process per measurement."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "qmsum-committee"


def meetings(corpus: Path) -> list[Path]:
    found = sorted(corpus.glob("*/*.json"))
    if not found:
        raise SystemExit(f"no QMSum transcripts under {corpus}")
    return found


def turns(corpus: Path) -> list[tuple[str, str]]:
    """(speaker, words) for every non-empty turn of every meeting."""
    result = []
    for meeting in meetings(corpus):
        for turn in json.loads(meeting.read_text(encoding="utf-8"))["meeting_transcripts"]:
            content = " ".join(turn["content"].split())
            if content:
                result.append((turn["speaker"], content))
    return result


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def in_subprocess(script: str, *args: str) -> dict:
    """Run ``script --one ARGS`` in a fresh interpreter so its peak memory is its own.

    The measurement prints its JSON as the last line of its output.
    """
    output = subprocess.run(
        [sys.executable, script, "--one", *args], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])
