"""Crash safety and concurrency, measured with real processes.

Kills: builds a corpus of distinct transcripts (copies of the sample's text interviews),
times one full ``evalkit ingest`` of it, then starts the same ingest into fresh projects
and SIGKILLs it at evenly spread points of that time (5% ... 100%). After each kill the
project is reopened and checked (``PRAGMA integrity_check``, foreign keys, ``evalkit
check``), and the outcome is classified from the store and the audit log: ``none`` (no
source and no ingest entry) or ``all`` (every source and one ingest entry). Anything else
is ``PARTIAL`` and a failure.

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
        fraction = round((i + 1) / count, 2)
        folder = tmp / f"kill{i}"
        Store.init(folder).close()
        process = evalkit("ingest", str(tmp / "corpus"), "-p", str(folder), "-k", "interview")
        time.sleep(full * fraction * 0.98)
        process.send_signal(signal.SIGKILL)
        process.wait()
        results.append({"at_fraction_of_run": fraction, **outcome(folder, files)})
    return {"files": files, "full_run_seconds": round(full, 2), "kills": results}


def concurrency(tmp: Path) -> dict:
    from docx import Document

    from evalkit.cab import make_packet
    from evalkit.codebook import load_into_project
    from evalkit.coding.review import run_suggestions
    from evalkit.codings import import_codings
    from evalkit.demo import ingest_sample
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
    for name, process in {"long ingest": long, **others}.items():
        code = process.wait()
        report[name] = {
            "exit": code,
            "finished_after_s": round(time.monotonic() - started, 1),
            "locked_errors": process.stderr.read().count("locked"),
        }
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
