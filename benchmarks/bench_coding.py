"""Assisted-coding speed: rule matching plus suggestion, and fitting the suggester.

1. Rules + suggestions over every turn of the QMSum committee transcripts (412k words) at
   each scale (copies carry a distinct first word), with a CodeSuggester fitted on the
   sample corpus's 145 double-coded excerpts and the starter codebook. Words/s.
2. Fitting CodeSuggester on 5,000 excerpts (QMSum turns) with 20 codes. The labels are
   synthetic but deterministic: code k marks turns that use the k-th most frequent content
   word, which gives realistic prevalences (2-25%) for a timing.

Each measurement runs in its own process; peak RSS is that process's.

    python benchmarks/bench_coding.py [--scales 1,10] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from pathlib import Path

from _common import DEFAULT_CORPUS, in_subprocess, peak_rss_mb, turns

ROOT = Path(__file__).resolve().parents[1]


def sample_suggester():
    import pandas as pd

    from evalkit.codebook import load_codebook
    from evalkit.coding.suggester import CodeSuggester

    units = pd.read_csv(ROOT / "data_sample" / "codings" / "units.csv", dtype=str)
    codings = pd.concat(
        pd.read_csv(p, dtype=str, keep_default_na=False)
        for p in sorted((ROOT / "data_sample" / "codings").glob("coder_*.csv"))
    )
    labels = codings.groupby("unit")["code"].apply(lambda c: {x for x in c if x})
    texts = units.set_index("excerpt_id")["text"]
    codebook = load_codebook(ROOT / "codebooks" / "sf_taskforce.yaml")
    return CodeSuggester(codebook=codebook).fit(
        [texts[u] for u in labels.index], list(labels.values)
    )


def measure_suggest(corpus: Path, scale: int) -> dict:
    model = sample_suggester()
    base = [text for _, text in turns(corpus)]
    texts = [f"copy{c} {t}" for c in range(scale) for t in base]
    words = sum(len(t.split()) for t in texts)
    started = time.perf_counter()
    suggestions = 0
    for start in range(0, len(texts), 2000):  # bounded memory per batch
        suggestions += sum(map(len, model.suggest(texts[start : start + 2000])))
    seconds = time.perf_counter() - started
    return {
        "scale": scale,
        "texts": len(texts),
        "words": words,
        "suggestions": suggestions,
        "seconds": round(seconds, 2),
        "words_per_s": round(words / seconds),
        "peak_rss_mb": peak_rss_mb(),
    }


def measure_fit(corpus: Path, n: int = 5000, n_codes: int = 20) -> dict:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from evalkit.coding.suggester import CodeSuggester

    texts = [text for _, text in turns(corpus)][:n]
    words = Counter(
        w
        for t in texts
        for w in set(re.findall(r"[a-z]{4,}", t.lower()))
        if w not in ENGLISH_STOP_WORDS
    )
    # Skip the most common words (present in most turns); take the next n_codes.
    chosen = [w for w, count in words.most_common() if count <= 0.25 * len(texts)][:n_codes]
    labels = [{f"CODE_{w.upper()}" for w in chosen if w in t.lower()} for t in texts]
    started = time.perf_counter()
    model = CodeSuggester().fit(texts, labels)
    seconds = time.perf_counter() - started
    return {
        "texts": len(texts),
        "codes": len(chosen),
        "codes_with_models": sum(1 for m in model.models_.values() if m and m.kind == "model"),
        "seconds": round(seconds, 2),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        what = args.one[0]
        result = (
            measure_fit(args.corpus) if what == "fit" else measure_suggest(args.corpus, int(what))
        )
        print(json.dumps(result))
        return
    suggest = [
        in_subprocess(__file__, str(scale), "--corpus", str(args.corpus))
        for scale in (int(s) for s in args.scales.split(","))
    ]
    fit = in_subprocess(__file__, "fit", "--corpus", str(args.corpus))
    print(json.dumps({"benchmark": "coding", "suggest": suggest, "fit": fit}, indent=2))


if __name__ == "__main__":
    main()
