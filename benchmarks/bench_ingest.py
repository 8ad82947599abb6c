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
import tempfile
import time
from pathlib import Path

from _common import DEFAULT_CORPUS, in_subprocess, meetings, peak_rss_mb


def write_transcripts(corpus: Path, folder: Path, scale: int, *, distinct: bool = False) -> int:
    """Write ``scale`` copies of the corpus as transcripts; returns the words written.

    With ``distinct``, every turn of copy k starts with "(copy k)", so that no excerpt
    text repeats across copies (what caches keyed by text would otherwise share)."""
    words = 0
    for copy in range(scale):
        for meeting in meetings(corpus):
            turns = json.loads(meeting.read_text(encoding="utf-8"))["meeting_transcripts"]
            lines = [f"Transcript copy {copy + 1} of {meeting.stem}", ""]
            for turn in turns:
                content = " ".join(turn["content"].split())
                if content:
                    if distinct:
                        content = f"(copy {copy + 1}) {content}"
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
        report = ingest(
            store, [folder], kind="interview", actor="bench", key_path=Path(tmp) / "key.csv"
        )
        seconds = time.perf_counter() - started
        store.close()
    return {
        "scale": scale,
        "files": len(report.added),
        "words": report.words,
        "excerpts": report.excerpts,
        "seconds": round(seconds, 2),
        "words_per_s": round(report.words / seconds),
        "peak_rss_mb": peak_rss_mb(),
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
    results = [
        in_subprocess(__file__, str(scale), "--corpus", str(args.corpus))
        for scale in (int(s) for s in args.scales.split(","))
    ]
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
