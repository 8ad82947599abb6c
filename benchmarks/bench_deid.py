"""De-identification: recall and precision on the sample corpus, throughput on real text.

Accuracy: the sample corpus (data_sample/) with its roster, scored against the planted
details listed in tests/data/deid_sample_truth.csv (see ``evalkit.deid.score``).

Speed: the QMSum committee transcripts in ../shared/data/qmsum-committee (about 400k
words), one text per meeting, run through ``deidentify`` with the sample roster, and the
candidate search over the result, at each scale (1x, 10x, ...), each in its own process.

Prints one JSON object: ``accuracy`` (one row per type: planted, left, recall, replaced,
correct, precision) and per scale ``words, seconds, words_per_s, candidates_seconds,
replaced, peak_rss_mb``.

    python benchmarks/bench_deid.py [--scales 1,10] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _common import DEFAULT_CORPUS, in_subprocess, meetings, peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data_sample"


def accuracy() -> list[dict]:
    import pandas as pd

    from evalkit.deid import load_roster, score
    from evalkit.ingest import read_file
    from evalkit.project.privacy import Privacy

    roster = load_roster(SAMPLE / "deid" / "roster.csv")
    privacy = Privacy(roster=roster, deidentify=True, key_path=Path("unused"))
    truth = pd.read_csv(ROOT / "tests" / "data" / "deid_sample_truth.csv", dtype={"text": str})
    replaced, texts = {}, {}
    for folder in ("interviews", "observations", "documents"):
        for path in sorted((SAMPLE / folder).iterdir()):
            for item in read_file(path):
                clean = privacy.clean_text(item.text)
                _, in_meta = privacy.clean_value(item.meta)
                replaced[f"{folder}/{path.name}"] = [*clean.findings, *in_meta]
                texts[f"{folder}/{path.name}"] = clean.text
    return score(truth, replaced, texts).to_dict(orient="records")


def run_scale(corpus: Path, scale: int) -> dict:
    from evalkit.deid import candidates, deidentify, load_roster

    roster = load_roster(SAMPLE / "deid" / "roster.csv")
    texts = []
    for copy in range(scale):
        for meeting in meetings(corpus):
            turns = json.loads(meeting.read_text(encoding="utf-8"))["meeting_transcripts"]
            lines = [f"{t['speaker']}: {' '.join(t['content'].split())}" for t in turns]
            texts.append(f"Copy {copy + 1}\n\n" + "\n\n".join(lines))
    words = sum(len(t.split()) for t in texts)
    started = time.perf_counter()
    results = [deidentify(text, roster=roster) for text in texts]
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    found = candidates({str(i): r.text for i, r in enumerate(results)}, roster=roster)
    candidate_seconds = time.perf_counter() - started
    return {
        "scale": scale,
        "texts": len(texts),
        "words": words,
        "seconds": round(seconds, 2),
        "words_per_s": round(words / seconds),
        "candidates_seconds": round(candidate_seconds, 2),
        "candidates": len(found),
        "replaced": sum(len(r.findings) for r in results),
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
                "benchmark": "deid",
                "accuracy": accuracy(),
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
