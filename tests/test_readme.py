"""The README's tour and library quick-start run exactly as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from evalkit.store import Store

README = (ROOT / "README.md").read_text(encoding="utf-8")


def block(heading: str, language: str) -> str:
    section = README.split(f"## {heading}", 1)[1]
    return re.search(rf"```{language}\n(.*?)```", section, re.S).group(1)


@pytest.fixture
def workspace(tmp_path: Path, key_folder: Path) -> tuple[Path, dict]:
    """A folder that looks like the repository to the commands: data and codebooks."""
    for name in ("data_sample", "codebooks"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["EVALKIT_KEY_DIR"] = str(key_folder)
    return tmp_path, env


def test_the_five_minute_tour(workspace: tuple[Path, dict]) -> None:
    folder, env = workspace
    script = block("A five-minute tour", "sh")
    # The virtual environment is already active here (its python runs the tests).
    script = script.replace(". .venv/bin/activate\n", "")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for made in ("tour_report.docx", "ana.docx", "tour.qdpx", "matrix.xlsx", "consensus.xlsx"):
        assert (folder / made).stat().st_size > 0, made
    with Store.open(folder / "tour") as store:
        stats = store.stats()
        audit = store.audit_df()
    assert stats["sources"] == 25 and stats["coders"] == 2
    assert "maria" in set(audit["actor"])  # EVALKIT_USER reached the audit log


def test_the_library_quick_start(workspace: tuple[Path, dict]) -> None:
    folder, env = workspace
    code = block("Library quick-start", "python")
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (folder / "quickstart_report.docx").stat().st_size > 0
    with Store.open(folder / "quickstart") as store:
        assert store.stats()["codings"] > 400
