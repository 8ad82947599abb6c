"""Search speed on real committee-meeting transcripts (about 400k words).

Ingests the QMSum committee transcripts in ../shared/data/qmsum-committee into a fresh
project once (the FTS5 index is built by the ingest), then times a word, a phrase, a
lemma and a regular-expression query, each run 7 times after one warm-up; the median is
reported. The goal for word, phrase and lemma queries is under 200 ms each.

Prints one JSON object: ``words, excerpts, build_seconds`` and per query ``mode, query,
hits, median_ms, max_ms``.

    python benchmarks/bench_search.py [--corpus DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from _common import DEFAULT_CORPUS, peak_rss_mb
from bench_ingest import write_transcripts

QUERIES = (
    ("word", "budget"),
    ("phrase", "minister of finance"),
    ("lemma", "negotiate"),
    ("regex", r"\b(?:covid|pandemic)\b"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    from evalkit import Store, ingest
    from evalkit.search import search

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("EVALKIT_KEY_DIR", str(Path(tmp) / "keys"))
        folder = Path(tmp) / "transcripts"
        folder.mkdir()
        write_transcripts(args.corpus, folder, 1)
        store = Store.init(Path(tmp) / "project", actor="bench")
        started = time.perf_counter()
        report = ingest(store, [folder], kind="interview", actor="bench")
        build = time.perf_counter() - started
        results = []
        for mode, query in QUERIES:
            search(store, query, mode=mode)  # warm-up: caches, lemma table
            times, hits = [], 0
            for _ in range(7):
                started = time.perf_counter()
                hits = len(search(store, query, mode=mode))
                times.append((time.perf_counter() - started) * 1000)
            results.append(
                {
                    "mode": mode,
                    "query": query,
                    "hits": hits,
                    "median_ms": round(statistics.median(times), 1),
                    "max_ms": round(max(times), 1),
                }
            )
        store.close()
    print(
        json.dumps(
            {
                "benchmark": "search",
                "corpus": str(args.corpus),
                "words": report.words,
                "excerpts": report.excerpts,
                "build_seconds": round(build, 2),
                "queries": results,
                "peak_rss_mb": peak_rss_mb(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
