"""``evalkit deid`` killed at every stage: the old state, or the new one with its key.

A real process runs the re-run and SIGKILLs itself at one named stage (the stage is
chosen by wrapping the function that marks it, in the child only). The parent then
reopens the project and checks that it is whole, that it holds either the old text or
the new text with every key row for it, and that in the new state no removed name is
left in any byte of the project folder.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evalkit.project import ingest
from evalkit.store import Store

ROOT = Path(__file__).resolve().parent.parent
TEXT = (
    "Interviewer: Who drove?\n\n"
    "P07: Renard Quillon drove, and Quillon's sister Ximena Zabaleta came too.\n\n"
    "Interviewer: Anyone else?\n\nP07: Only Renard.\n"
)
ROSTER = "name,pseudonym,variants\nRenard Quillon,P08,Renard;Quillon\nXimena Zabaleta,P09,\n"
NAMES = (b"quillon", b"renard", b"zabaleta", b"ximena")

# stage -> (what to wrap, N): kill after its Nth call, or before its -Nth call (1-based)
STAGES = {
    "after writing the sources": ("evalkit.store.Store.put_source", 1),
    "after cleaning memos and comments": ("evalkit.store.Store.redact_free_text", 1),
    "after forgetting the history": ("evalkit.store.Store.forget_history", 1),
    "after writing the key, before the commit": ("evalkit.project.deid.write_key_rows", 1),
    "after rebuilding the search index, before the commit": (
        "evalkit.store.Store.rebuild_search_index",
        1,
    ),
    "after the commit, before compacting": ("evalkit.store.Store.compact", -1),
    "after compacting": ("evalkit.store.Store.compact", 1),
}

CHILD = textwrap.dedent(
    """
    import importlib, os, signal, sys
    target, nth, project, roster = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    module_name, _, name = target.rpartition(".")
    try:
        owner = importlib.import_module(module_name)
    except ModuleNotFoundError:
        module_name, _, cls = module_name.rpartition(".")
        owner = getattr(importlib.import_module(module_name), cls)
    original = getattr(owner, name)
    calls = [0]
    def wrapped(*args, **kwargs):
        calls[0] += 1
        if calls[0] == -nth:
            os.kill(os.getpid(), signal.SIGKILL)
        result = original(*args, **kwargs)
        if calls[0] == nth:
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    setattr(owner, name, wrapped)
    from evalkit.project import deidentify_project
    from evalkit.store import Store
    with Store.open(project) as store:
        deidentify_project(store, roster=roster, actor="t")
    sys.exit(3)  # the stage was never reached
    """
)


def _bytes_hold_names(folder: Path) -> bool:
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes().lower()
            if any(name in data for name in NAMES):
                return True
    return False


@pytest.mark.parametrize("stage", list(STAGES))
def test_a_kill_at_every_stage_leaves_old_or_new_with_its_key(
    stage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = tmp_path / "keys"
    monkeypatch.setenv("EVALKIT_KEY_DIR", str(keys))
    transcript = tmp_path / "in" / "P07.txt"
    transcript.parent.mkdir()
    transcript.write_text(TEXT, encoding="utf-8")
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    folder = tmp_path / "proj"
    with Store.init(folder, actor="t") as store:
        ingest(store, [transcript], kind="interview")  # no roster yet: the names are stored
        with store.transaction(actor="t"):
            store.add_memo("Who", "Renard Quillon drove.", author="t")
        key = Path(store.setting("key_path"))
    target, nth = STAGES[stage]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, target, str(nth), str(folder), str(roster)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -9, (child.returncode, child.stderr[-2000:])

    with Store.open(folder) as store:  # opening finishes an interrupted compaction
        assert store.check().empty, store.check().to_dict("records")
        text = store.source("P07").text
        deid_runs = store.audit_df().query("action == 'deid'")
    rows = list(csv.DictReader(key.open(encoding="utf-8"))) if key.exists() else []
    committed = stage.startswith("after the commit") or stage == "after compacting"
    if not committed:  # the old state, whole
        assert "Quillon" in text and deid_runs.empty
        return
    # The new state: its key, and no removed name anywhere on disk.
    assert len(deid_runs) == 1
    assert "[P08]" in text and "[P09]" in text
    originals = {(r["source_id"], r["original"]) for r in rows}
    assert {("P07", "Renard Quillon"), ("P07", "Ximena Zabaleta")} <= originals
    assert not _bytes_hold_names(folder)


def test_the_child_really_kills(tmp_path: Path) -> None:
    """A stage that is never reached exits 3, so the kills above are real kills."""
    folder = tmp_path / "proj"
    Store.init(folder, actor="t").close()
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    child = subprocess.run(
        [sys.executable, "-c", CHILD, "evalkit.store.Store.put_source", "1", str(folder),
         str(roster)],
        env={**os.environ, "PYTHONPATH": str(ROOT), "EVALKIT_KEY_DIR": str(tmp_path / "k")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 3, child.stderr[-2000:]


def test_check_finds_a_key_that_lost_its_rows(tmp_path: Path, monkeypatch) -> None:
    from evalkit.project import check_project

    monkeypatch.setenv("EVALKIT_KEY_DIR", str(tmp_path / "keys"))
    transcript = tmp_path / "in" / "P07.txt"
    transcript.parent.mkdir()
    transcript.write_text(TEXT, encoding="utf-8")
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    with Store.init(tmp_path / "proj", actor="t") as store:
        ingest(store, [transcript], kind="interview", roster=roster)
        assert check_project(store).empty
        Path(store.setting("key_path")).write_text(
            "source_id,type,original,replacement,count\n", encoding="utf-8"
        )
        problems = check_project(store)
    assert problems["where"].str.startswith("source P07").tolist() == [True]
