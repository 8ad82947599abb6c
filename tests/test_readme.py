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


def workspace(folder: Path, key_folder: Path) -> dict:
    """Make ``folder`` look like the repository to the commands (data and codebooks);
    returns the environment to run them in."""
    for name in ("data_sample", "codebooks"):
        (folder / name).symlink_to(ROOT / name)
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["EVALKIT_KEY_DIR"] = str(key_folder)
    return env


@pytest.fixture(scope="module")
def readme_runs(
    tmp_path_factory: pytest.TempPathFactory, key_folder: Path
) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    """The tour and the quick-start, started together, each in a workspace of its own:
    {"tour" | "quickstart": (folder, finished process)}. The tour spends most of its time
    starting processes, one per command, so the quick-start costs no extra time beside it.
    """
    tour = tmp_path_factory.mktemp("tour")
    script = block("A five-minute tour", "sh")
    # The virtual environment is already active here (its python runs the tests).
    script = script.replace(". .venv/bin/activate\n", "")
    quickstart = tmp_path_factory.mktemp("quickstart")
    commands = {
        "tour": (tour, ["bash", "-euo", "pipefail", "-c", script]),
        "quickstart": (quickstart, [sys.executable, "-c", block("Library quick-start", "python")]),
    }
    started = {
        name: subprocess.Popen(
            command,
            cwd=folder,
            env=workspace(folder, key_folder),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (folder, command) in commands.items()
    }
    finished = {}
    try:
        for name, process in started.items():
            stdout, stderr = process.communicate(timeout=900)
            folder, command = commands[name]
            finished[name] = (
                folder,
                subprocess.CompletedProcess(command, process.returncode, stdout, stderr),
            )
    finally:
        for process in started.values():
            process.kill()  # only if a timeout struck: a finished process ignores it
    return finished


def test_the_five_minute_tour(readme_runs: dict) -> None:
    folder, result = readme_runs["tour"]
    assert result.returncode == 0, result.stderr[-3000:]
    for made in ("tour_report.docx", "ana.docx", "tour.qdpx", "matrix.xlsx", "consensus.xlsx"):
        assert (folder / made).stat().st_size > 0, made
    with Store.open(folder / "tour") as store:
        stats = store.stats()
        audit = store.audit_df()
    assert stats["sources"] == 25 and stats["coders"] == 2
    assert "maria" in set(audit["actor"])  # EVALKIT_USER reached the audit log


def test_the_library_quick_start(readme_runs: dict) -> None:
    folder, result = readme_runs["quickstart"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert (folder / "quickstart_report.docx").stat().st_size > 0
    with Store.open(folder / "quickstart") as store:
        assert store.stats()["codings"] > 400
