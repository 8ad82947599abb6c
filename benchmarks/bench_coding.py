"""Assisted-coding speed: embeddings, rules plus suggestions, and fitting the suggester.

1. ``embed``: sentence-embedding throughput of the default model (all-MiniLM-L6-v2 int8
   ONNX) over every turn of the QMSum committee transcripts (412k words), words/s on this
   machine's cores, and peak RSS.
2. ``project``: the real workflow at each scale. A project holds the sample corpus (with
   its two coders' codings, the training data) and the QMSum transcripts (every turn of
   a copy carries its copy number, so no text repeats and the cache cannot share work
   between copies); ``run_suggestions`` with the project's cached embedder scores
   every uncoded excerpt, twice: the first run embeds them all, the re-run finds them in
   the store's cache. Words/s of the uncoded text, for each run.
3. ``suggest``: rules + suggestions without embeddings (the TF-IDF suggester alone),
   as before, for comparison.
4. ``fit``: fitting CodeSuggester on 5,000 excerpts (QMSum turns) with 20 codes. The labels
   are synthetic but deterministic: code k marks turns that use the k-th most frequent
   content word, which gives realistic prevalences (2-25%) for a timing.

Each measurement runs in its own process; peak RSS is that process's.

    python benchmarks/bench_coding.py [--scales 1,10] [--corpus DIR] [--only embed,project]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
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


def measure_embed(corpus: Path) -> dict:
    from evalkit.embedding import load_embedder

    texts = [text for _, text in turns(corpus)]
    words = sum(len(t.split()) for t in texts)
    embedder = load_embedder()
    embedder.embed(["warm up"])  # loads and checks the model: not part of the throughput
    started = time.perf_counter()
    embedder.embed(texts)
    seconds = time.perf_counter() - started
    return {
        "model": embedder.model_id,
        "texts": len(texts),
        "words": words,
        "seconds": round(seconds, 2),
        "words_per_s": round(words / seconds),
        "threads": os.cpu_count(),
        "peak_rss_mb": peak_rss_mb(),
    }


def measure_project(corpus: Path, scale: int) -> dict:
    from bench_ingest import write_transcripts

    from evalkit.demo import ingest_sample, sample_data_dir, starter_codebook
    from evalkit.project import import_codings, ingest, load_into_project, run_suggestions
    from evalkit.project.embeddings import project_embedder
    from evalkit.project.suggestions import training_data
    from evalkit.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "transcripts"
        folder.mkdir()
        write_transcripts(corpus, folder, scale, distinct=True)
        data = sample_data_dir()
        with Store.init(Path(tmp) / "project", actor="bench") as store:
            ingest_sample(store, data, actor="bench", key_path=Path(tmp) / "key.csv")
            ingest(store, [folder], kind="observation", actor="bench")
            load_into_project(store, starter_codebook(data), actor="bench")
            for path in sorted((data / "codings").glob("coder_*.csv")):
                import_codings(store, path, actor="bench")
            _, uncoded = training_data(store)
            words = int(uncoded["text"].str.split().str.len().sum())
            runs = []
            for label in ("first run", "cached re-run"):
                embedder = project_embedder(store)
                started = time.perf_counter()
                result = run_suggestions(store, actor="bench", embedder=embedder)
                seconds = time.perf_counter() - started
                runs.append(
                    {
                        "run": label,
                        "texts_embedded": embedder.computed,
                        "suggestions": result.suggestions,
                        "seconds": round(seconds, 2),
                        "words_per_s": round(words / seconds),
                    }
                )
    return {
        "scale": scale,
        "uncoded_excerpts": len(uncoded),
        "words": words,
        "runs": runs,
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
    parser.add_argument("--only", default="embed,project,suggest,fit")
    parser.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        what, *scale = args.one
        if what == "fit":
            result = measure_fit(args.corpus)
        elif what == "embed":
            result = measure_embed(args.corpus)
        elif what == "project":
            result = measure_project(args.corpus, int(scale[0]))
        else:
            result = measure_suggest(args.corpus, int(scale[0]))
        print(json.dumps(result))
        return
    scales = [int(s) for s in args.scales.split(",")]
    wanted = set(args.only.split(","))
    corpus = ("--corpus", str(args.corpus))
    figures: dict = {"benchmark": "coding"}
    if "embed" in wanted:
        figures["embed"] = in_subprocess(__file__, "embed", *corpus)
    if "project" in wanted:
        figures["project"] = [in_subprocess(__file__, "project", str(s), *corpus) for s in scales]
    if "suggest" in wanted:
        figures["suggest"] = [in_subprocess(__file__, "suggest", str(s), *corpus) for s in scales]
    if "fit" in wanted:
        figures["fit"] = in_subprocess(__file__, "fit", *corpus)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
