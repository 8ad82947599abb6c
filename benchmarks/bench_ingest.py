"""Ingestion throughput, peak memory and scaling on real committee-meeting transcripts.

Converts the QMSum committee transcripts in ../shared/data/qmsum-committee (about 400k
words) into ``Speaker: words`` transcript files, then ingests them into a fresh project at
each scale (1x, 10x, ...). Copies carry a distinct header line so that none is deduplicated.
Each scale runs in its own process so that peak RSS is that scale's alone.

Prints one JSON object: per scale ``files, words, excerpts, seconds, words_per_s,
peak_rss_mb``, and ``scaling`` (seconds per word at each scale relative to 1x; 1.0 is
linear).

    python benchmarks/bench_ingest.py [--scales 1,10] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "qmsum-committee"


def write_transcripts(corpus: Path, folder: Path, scale: int) -> int:
    meetings = sorted(corpus.glob("*/*.json"))
    if not meetings:
        raise SystemExit(f"no QMSum transcripts under {corpus}")
    words = 0
    for copy in range(scale):
        for meeting in meetings:
            turns = json.loads(meeting.read_text(encoding="utf-8"))["meeting_transcripts"]
            lines = [f"Transcript copy {copy + 1} of {meeting.stem}", ""]
            for turn in turns:
                content = " ".join(turn["content"].split())
                if content:
                    lines.append(f"{turn['speaker']}: {content}")
                    lines.append("")
                    words += len(turn["speaker"].split()) + len(content.split())
            name = f"{meeting.parent.name}_{meeting.stem}_c{copy + 1:03d}.txt"
            (folder / name).write_text("\n".join(lines), encoding="utf-8")
    return words


def run_scale(corpus: Path, scale: int) -> dict:
    from evalkit import Store, ingest

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "transcripts"
        folder.mkdir()
        write_transcripts(corpus, folder, scale)
        store = Store.init(Path(tmp) / "project", actor="bench")
        started = time.perf_counter()
        report = ingest(store, [folder], kind="interview", actor="bench")
        seconds = time.perf_counter() - started
        store.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "scale": scale,
        "files": len(report.added),
        "words": report.words,
        "excerpts": report.excerpts,
        "seconds": round(seconds, 2),
        "words_per_s": round(report.words / seconds),
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_scale(args.corpus, args.one)))
        return
    results = []
    for scale in (int(s) for s in args.scales.split(",")):
        output = subprocess.run(
            [sys.executable, __file__, "--one", str(scale), "--corpus", str(args.corpus)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
    base = results[0]["seconds"] / results[0]["words"]
    print(
        json.dumps(
            {
                "benchmark": "ingest",
                "corpus": str(args.corpus),
                "results": results,
                "scaling": {
                    f"{r['scale']}x": round((r["seconds"] / r["words"]) / base, 2) for r in results
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
