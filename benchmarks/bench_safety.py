"""Crash safety and concurrency, measured with real processes.

Kills: builds a corpus of distinct transcripts (copies of the sample's text interviews),
times one full ``evalkit ingest`` of it, then starts the same ingest into fresh projects
and SIGKILLs it at evenly spread points of that time (10% ... 120%), and four more times
inside the write transaction (as soon as the write-ahead log has grown by 0.25-4 MB).
After each kill the project is reopened and checked (``PRAGMA integrity_check``, foreign
keys, ``evalkit check``), and the outcome is classified from the store and the audit
log: ``none`` (no source and no ingest entry) or ``all`` (every source and one ingest
entry). Anything else is ``PARTIAL`` and a failure.

Concurrency: while a long ingest holds the write lock, a CAB review import, a suggestion
run and a codings import are started; each must exit 0, and the time each waited is
reported.

Prints one JSON object. ``python benchmarks/bench_safety.py [--kills 10] [--copies 12]``
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data_sample"


def evalkit(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "evalkit", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def corpus(folder: Path, copies: int) -> int:
    folder.mkdir()
    texts = sorted((SAMPLE / "interviews").glob("*.txt"))
    for copy in range(copies):
        for path in texts:
            (folder / f"{path.stem}_c{copy:03d}.txt").write_text(
                f"Transcript copy {copy}\n\n{path.read_text(encoding='utf-8')}", encoding="utf-8"
            )
    return copies * len(texts)


def outcome(folder: Path, expected: int) -> dict:
    from evalkit.store import Store

    with Store.open(folder) as store:
        integrity = store.connection.execute("PRAGMA integrity_check").fetchone()[0]
        foreign = len(store.connection.execute("PRAGMA foreign_key_check").fetchall())
        problems = len(store.check())
        sources = store.stats()["sources"]
        ingests = int((store.audit_df()["action"] == "ingest").sum())
    if sources == 0 and ingests == 0:
        kind = "none"
    elif sources == expected and ingests == 1:
        kind = "all"
    else:
        kind = "PARTIAL"
    return {
        "outcome": kind,
        "integrity": integrity,
        "fk_problems": foreign,
        "check_problems": problems,
    }


def kills(tmp: Path, count: int, copies: int) -> dict:
    from evalkit.store import Store

    files = corpus(tmp / "corpus", copies)
    Store.init(tmp / "timing").close()
    started = time.monotonic()
    assert (
        evalkit("ingest", str(tmp / "corpus"), "-p", str(tmp / "timing"), "-k", "interview").wait()
        == 0
    )
    full = time.monotonic() - started
    results = []
    for i in range(count):
        # Spread over the whole run and a little past it, so that some kills land after
        # the commit; the WAL size at the kill tells whether the write had begun.
        fraction = round(0.1 + 1.1 * i / max(count - 1, 1), 2)
        folder = tmp / f"kill{i}"
        Store.init(folder).close()
        wal = folder / "evalkit.sqlite-wal"
        process = evalkit("ingest", str(tmp / "corpus"), "-p", str(folder), "-k", "interview")
        time.sleep(full * fraction)
        written = wal.stat().st_size if wal.exists() else 0
        alive = process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait()
        found = outcome(folder, files)
        if not alive:
            stage = "finished before the kill"
        elif found["outcome"] == "all":
            stage = "committed, writing the key file and exiting"
        elif written > 100_000:
            stage = "writing its transaction"
        else:
            stage = "reading and segmenting"
        results.append(
            {"at_fraction_of_run": fraction, "stage": stage, "wal_bytes": written, **found}
        )
    # And inside the write transaction itself, once the write-ahead log has grown this far.
    for threshold in (256_000, 1_000_000, 2_000_000, 4_000_000):
        folder = tmp / f"wal{threshold}"
        Store.init(folder).close()
        wal = folder / "evalkit.sqlite-wal"
        base = wal.stat().st_size if wal.exists() else 0
        process = evalkit("ingest", str(tmp / "corpus"), "-p", str(folder), "-k", "interview")
        while process.poll() is None and (wal.stat().st_size if wal.exists() else 0) < (
            base + threshold
        ):
            time.sleep(0.002)
        alive = process.poll() is None
        written = wal.stat().st_size if wal.exists() else 0
        process.send_signal(signal.SIGKILL)
        process.wait()
        stage = "writing its transaction" if alive else "finished before the kill"
        results.append(
            {
                "at_wal_bytes": threshold,
                "stage": stage,
                "wal_bytes": written,
                **outcome(folder, files),
            }
        )
    return {"files": files, "full_run_seconds": round(full, 2), "kills": results}


def concurrency(tmp: Path) -> dict:
    from docx import Document

    from evalkit.demo import ingest_sample
    from evalkit.project import import_codings, load_into_project, make_packet, run_suggestions
    from evalkit.store import Store

    folder = tmp / "shared_project"
    with Store.init(folder) as store:
        ingest_sample(store)
        load_into_project(store, ROOT / "codebooks" / "sf_taskforce.yaml")
        import_codings(store, SAMPLE / "codings" / "coder_maria.csv")
        run_suggestions(store)
        packet = make_packet(store, reviewer="Ana", status="suggested", limit=2)
        path = packet.save(tmp / "ana.docx")
    document = Document(str(path))
    for table in document.tables:
        for row in table.rows[1:]:
            row.cells[5].text = "seen"
    document.save(str(path))
    corpus(tmp / "more", 6)
    started = time.monotonic()
    long = evalkit("ingest", str(tmp / "more"), "-p", str(folder), "-k", "interview")
    time.sleep(1.0)
    others = {
        "review-import": evalkit("review-import", str(path), "-p", str(folder)),
        "suggest run": evalkit("suggest", "run", "-p", str(folder)),
        "codings import": evalkit(
            "codings", "import", str(SAMPLE / "codings" / "coder_jamal.csv"), "-p", str(folder)
        ),
    }
    report = {}
    running = {"long ingest": long, **others}
    while running:
        for name, process in list(running.items()):
            if process.poll() is not None:
                report[name] = {
                    "exit": process.returncode,
                    "finished_after_s": round(time.monotonic() - started, 1),
                    "locked_errors": process.stderr.read().count("locked"),
                }
                del running[name]
        time.sleep(0.05)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--copies", type=int, default=12)
    args = parser.parse_args()
    os.environ.setdefault("EVALKIT_KEY_DIR", tempfile.mkdtemp(prefix="evalkit-keys-"))
    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "benchmark": "safety",
            "ingest_kills": kills(Path(tmp), args.kills, args.copies),
            "concurrency": concurrency(Path(tmp)),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
