"""Nothing lost: undo, backups, migrations, integrity checks, bad disks, kills, concurrency."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SAMPLE, store_snapshot

from evalkit.cli import main
from evalkit.errors import EvalkitError, ProjectError
from evalkit.project import import_codings, ingest, load_into_project, review, run_suggestions
from evalkit.store import DB_NAME, SCHEMA_VERSION, Store

FIXTURE = Path(__file__).parent / "data" / "schema4_project"
CODEBOOK = SAMPLE.parent / "codebooks" / "sf_taskforce.yaml"


def state(store: Store) -> tuple:
    """Every row of every table undo is responsible for, plus the audit length."""
    c = store.connection
    tables = ("sources", "excerpts", "codebooks", "codes", "codings", "suggestions", "reviews")
    return tuple(
        tuple(tuple(r) for r in c.execute(f"SELECT * FROM {t} ORDER BY rowid")) for t in tables
    )


@pytest.fixture
def coded(sample_ingested: Path, copy_project) -> Store:
    store = copy_project(sample_ingested)
    load_into_project(store, CODEBOOK)
    import_codings(store, SAMPLE / "codings" / "coder_maria.csv")
    return store


def test_undo_reverts_each_operation_and_keeps_the_audit_log(coded: Store) -> None:
    states = [state(coded)]
    run_suggestions(coded, actor="t")
    states.append(state(coded))
    accepted = review(coded, accept=True, reviewer="maria", above=0.9)
    assert accepted.accepted > 0
    states.append(state(coded))
    history = coded.history_df()
    assert history["summary"].iloc[0] == f"accepted {accepted.accepted} suggestion(s)"
    audit_before = len(coded.audit_df())

    result = coded.undo(actor="lead")
    assert result.summary.startswith("accepted") and state(coded) == states[1]
    coded.undo(actor="lead")
    assert state(coded) == states[0]
    coded.undo(actor="lead")  # the codings import
    assert coded.stats()["codings"] == 0
    audit = coded.audit_df()
    assert len(audit) == audit_before + 3 and list(audit["action"].tail(3)) == ["undo"] * 3
    assert coded.check().empty
    # A bulk accept is snapshotted first, and undo takes one too.
    reasons = set(coded.backups_df()["reason"])
    assert {"bulk review of suggestions", "before undo"} <= reasons


def test_restore_round_trip(coded: Store, capsys) -> None:
    run_suggestions(coded, actor="t")
    before_bulk = state(coded)
    review(coded, accept=True, reviewer="maria", above=0.9)
    after_bulk = state(coded)
    backups = coded.backups_df()
    bulk = backups[backups["reason"] == "bulk review of suggestions"]["backup"].iloc[0]
    audit_before = len(coded.audit_df())
    assert main(["backups", "restore", bulk, "--project", str(coded.folder)]) == 0
    assert "saved as backup" in capsys.readouterr().err
    with Store.open(coded.folder) as reopened:
        assert state(reopened) == before_bulk
        assert len(reopened.audit_df()) == audit_before + 1  # carried over, plus the restore
        assert reopened.check().empty
        saved = reopened.backups_df()
        latest = saved[saved["reason"] == "before restore"]["backup"].iloc[0]
        reopened.restore_backup(latest)
        assert state(reopened) == after_bulk
        with pytest.raises(ProjectError, match="nothing to undo after 'backups restore'"):
            reopened.undo()


def test_an_older_schema_is_migrated_after_a_backup(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    shutil.copytree(FIXTURE, folder)
    with sqlite3.connect(folder / DB_NAME) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 4
    with Store.open(folder) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.stats()["codings"] == 3 and store.stats()["sources"] == 1
        assert len(store.project_id) == 32
        backups = store.backups_df()
        assert list(backups["reason"]) == [f"before migration to schema {SCHEMA_VERSION}"]
        assert store.check().empty
        # New operations on the migrated project are recorded and undoable.
        with store.transaction(actor="t"):
            store.replace_codings([(store.excerpts()[1].id, "cy", None)], origin="test")
        store.undo()
        assert store.stats()["codings"] == 3
    kept = folder / "backups" / f"{backups['backup'].iloc[0]}.sqlite"
    with sqlite3.connect(kept) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 4


def test_check_finds_damage_and_names_the_fix(coded: Store, capsys) -> None:
    folder = str(coded.folder)
    assert main(["check", "--project", folder]) == 0
    assert "no problems" in capsys.readouterr().out
    coded.snapshot("manual")
    # Damage the store behind evalkit's back: an offset past the end, an edited text.
    raw = sqlite3.connect(coded.folder / DB_NAME)
    raw.execute("PRAGMA foreign_keys = OFF")
    raw.execute('UPDATE excerpts SET "end" = 999999 WHERE rowid = 1')
    raw.execute("UPDATE sources SET text = text || ' edited' WHERE id = 'P01'")
    raw.execute("DELETE FROM sources WHERE id = 'P02'")
    raw.commit()
    raw.close()
    assert main(["check", "--project", folder, "--format", "json"]) == 1
    result = json.loads(capsys.readouterr().out)
    problems = {p["where"]: p for p in result["problems"]}
    assert any("fall outside its source" in p["problem"] for p in problems.values())
    assert "changed outside evalkit" in problems["source P01"]["problem"]
    assert "missing" in problems["source P02"]["problem"]
    assert all("evalkit backups restore" in p["fix"] for p in problems.values())


def test_a_damaged_or_foreign_file_names_the_newest_backup(coded: Store, tmp_path: Path):
    newest = coded.snapshot("manual").stem
    coded.close()
    path = coded.folder / DB_NAME
    for name in ("evalkit.sqlite-wal", "evalkit.sqlite-shm"):
        (coded.folder / name).unlink(missing_ok=True)
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(5000))
    with pytest.raises(ProjectError) as error:
        Store.open(coded.folder)
    assert newest in str(error.value) and "evalkit backups restore" in str(error.value)
    other = tmp_path / "other"
    other.mkdir()
    with sqlite3.connect(other / DB_NAME) as raw:
        raw.execute("CREATE TABLE contacts (name TEXT)")
    with pytest.raises(ProjectError, match="not an evalkit database"):
        Store.open(other)
    with sqlite3.connect(other / DB_NAME) as raw:  # and it was not touched
        assert [r[0] for r in raw.execute("SELECT name FROM sqlite_master")] == ["contacts"]


def test_a_read_only_project_gives_a_clear_error(project: Store, interview_file: Path):
    snapshot = store_snapshot(project)
    # What SQLite reports for a read-only file or disk (root can write through chmod, so
    # the check is simulated at the SQLite level, then for real when not root).
    project.connection.execute("PRAGMA query_only = ON")
    with pytest.raises(ProjectError, match="read-only") as error:
        ingest(project, [interview_file], kind="interview")
    assert "Copy the project folder somewhere you can write" in str(error.value)
    project.connection.execute("PRAGMA query_only = OFF")
    assert store_snapshot(project) == snapshot
    if os.geteuid() != 0:
        project.close()
        for path in [project.folder, *project.folder.iterdir()]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            assert (
                main(["ingest", str(interview_file), "-p", str(project.folder), "-k", "interview"])
                == 2
            )
        finally:
            for path in [project.folder, *project.folder.iterdir()]:
                path.chmod(0o755 if path.is_dir() else 0o644)


def test_a_full_disk_leaves_the_store_as_it_was(project: Store, interview_file: Path) -> None:
    snapshot = store_snapshot(project)
    pages = project.connection.execute("PRAGMA page_count").fetchone()[0]
    # SQLite reports SQLITE_FULL when the file may not grow: the same as a full disk.
    project.connection.execute(f"PRAGMA max_page_count = {pages + 1}")
    big = interview_file.parent / "big.txt"
    big.write_text("P01: " + "words and more words " * 20000, encoding="utf-8")
    with pytest.raises(ProjectError, match="the disk is full, so nothing was changed"):
        ingest(project, [big], kind="interview")
    project.connection.execute("PRAGMA max_page_count = 1073741823")
    assert store_snapshot(project) == snapshot
    assert project.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- real processes -------------------------------------------------------------------------


def _evalkit(*args: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ)
    return subprocess.Popen(
        [sys.executable, "-m", "evalkit", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


def _corpus(folder: Path, copies: int) -> int:
    """Many distinct transcripts (the sample's text files, each copy with its own header)."""
    folder.mkdir()
    texts = sorted((SAMPLE / "interviews").glob("*.txt"))
    for copy in range(copies):
        for path in texts:
            body = path.read_text(encoding="utf-8")
            (folder / f"{path.stem}_copy{copy:03d}.txt").write_text(
                f"Transcript copy {copy}\n\n{body}", encoding="utf-8"
            )
    return copies * len(texts)


def _whole(folder: Path, expected: int) -> str:
    """Open after a kill and check: integrity, offsets, and all-or-nothing per the log."""
    with Store.open(folder) as store:
        assert store.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.connection.execute("PRAGMA foreign_key_check").fetchall() == []
        assert store.check().empty, store.check().to_dict("records")
        sources = store.stats()["sources"]
        ingests = store.audit_df().query("action == 'ingest'")
    if sources == 0:
        assert ingests.empty
        return "none"
    assert sources == expected and len(ingests) == 1
    return "all"


def test_killing_an_ingest_at_random_points_loses_nothing(tmp_path: Path) -> None:
    files = _corpus(tmp_path / "corpus", copies=12)
    timing = tmp_path / "timing"
    Store.init(timing, actor="t").close()
    started = time.monotonic()
    done = _evalkit("ingest", str(tmp_path / "corpus"), "-p", str(timing), "-k", "interview")
    assert done.wait(timeout=600) == 0, done.stderr.read()
    full = time.monotonic() - started
    assert _whole(timing, files) == "all"

    rng = random.Random(7)
    outcomes = []
    for attempt in range(5):
        folder = tmp_path / f"kill{attempt}"
        Store.init(folder, actor="t").close()
        process = _evalkit("ingest", str(tmp_path / "corpus"), "-p", str(folder), "-k", "interview")
        time.sleep(full * rng.uniform(0.2, 1.0))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        outcomes.append(_whole(folder, files))
        # The project still works: the ingest can simply be run again (in-process; the
        # killing needs a real process, running the command again does not).
        assert main(["ingest", str(tmp_path / "corpus"), "-p", str(folder), "-k", "interview"]) == 0
        assert _whole(folder, files) == "all"
    # Kill inside the write transaction itself: as soon as the write-ahead log grows.
    for attempt in range(2):
        folder = tmp_path / f"midwrite{attempt}"
        Store.init(folder, actor="t").close()
        wal = folder / "evalkit.sqlite-wal"
        base = wal.stat().st_size if wal.exists() else 0
        process = _evalkit("ingest", str(tmp_path / "corpus"), "-p", str(folder), "-k", "interview")
        while process.poll() is None and (wal.stat().st_size if wal.exists() else 0) < (
            base + 256_000 * (attempt + 1)
        ):
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        outcomes.append(_whole(folder, files))
    assert set(outcomes) <= {"none", "all"}


def test_killing_a_qdpx_import_loses_nothing(coded: Store, tmp_path: Path) -> None:
    from evalkit.interop.refi import export_qdpx

    archive = tmp_path / "p.qdpx"
    export_qdpx(coded, archive)
    rng = random.Random(11)
    for attempt in range(3):
        folder = tmp_path / f"q{attempt}"
        Store.init(folder, actor="t").close()
        process = _evalkit("qdpx", "import", str(archive), "--project", str(folder))
        time.sleep(rng.uniform(0.5, 4.0))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        with Store.open(folder) as store:
            assert store.check().empty
            stats = store.stats()
            imports = store.audit_df().query("action == 'qdpx.import'")
            assert (stats["sources"], len(imports)) in {(0, 0), (25, 1)}
            applied = int(coded.codings_df()["code"].notna().sum())
            assert stats["codings"] in (0, applied)


def test_two_processes_at_once_both_succeed(coded: Store, tmp_path: Path) -> None:
    """A long ingest holds the write lock; a CAB import and a suggestion run wait, then
    proceed. Nothing fails with "database is locked"."""
    from docx import Document

    from evalkit.project import make_packet

    run_suggestions(coded, actor="t")
    packet = make_packet(coded, reviewer="Ana", status="suggested", limit=2)
    path = packet.save(tmp_path / "ana.docx")
    document = Document(str(path))
    for table in document.tables:
        for row in table.rows[1:]:
            row.cells[5].text = "seen"
    document.save(str(path))
    _corpus(tmp_path / "corpus", copies=6)
    folder = str(coded.folder)
    long_ingest = _evalkit("ingest", str(tmp_path / "corpus"), "-p", folder, "-k", "interview")
    time.sleep(1.0)
    others = [
        _evalkit("review-import", str(path), "-p", folder),
        _evalkit("suggest", "run", "-p", folder),
        _evalkit("codings", "import", str(SAMPLE / "codings" / "coder_jamal.csv"), "-p", folder),
    ]
    for process in [long_ingest, *others]:
        code = process.wait(timeout=900)
        err = process.stderr.read()
        assert code == 0 and "locked" not in err, err
    with Store.open(coded.folder) as store:
        assert store.check().empty
        assert store.stats()["coders"] == 2 and len(store.reviews_df()) == len(packet.items)
        commands = set(store.history_df()["command"])
        assert {"ingest", "review-import", "suggest run", "codings import"} <= commands


def test_cli_history_and_undo(coded: Store, capsys) -> None:
    folder = str(coded.folder)
    assert main(["history", "--project", folder, "--format", "json"]) == 0
    history = json.loads(capsys.readouterr().out)
    assert history[0]["command"] == "codings import"
    assert history[0]["summary"] == "imported 196 coding(s) of 145 unit(s)"
    assert main(["undo", "--project", folder]) == 0
    assert "undid operation" in capsys.readouterr().out
    with Store.open(coded.folder) as store:
        assert store.stats()["codings"] == 0
    with pytest.raises(EvalkitError):
        Store.open(coded.folder / "missing")


def test_undo_reaches_back_a_bounded_number_of_operations(project: Store) -> None:
    from evalkit.store.base import UNDO_DEPTH

    for i in range(UNDO_DEPTH + 5):
        with project.transaction(actor="t"):
            project.add_memo(f"memo {i}", author="t")
    kept = project.connection.execute("SELECT COUNT(DISTINCT operation) FROM changes").fetchone()
    assert kept[0] == UNDO_DEPTH
    for _ in range(UNDO_DEPTH):
        project.undo()
    assert len(project.memos_df()) == 5
    with pytest.raises(ProjectError, match="undo reaches back 50 operations"):
        project.undo()
    assert len(project.audit_df()) > UNDO_DEPTH * 2  # the audit log keeps everything
