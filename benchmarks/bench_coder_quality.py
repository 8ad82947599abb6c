"""How close the learned coder comes to a second human, on the sample corpus.

For each sample coder, 5-fold ``coder_eval`` (the same leak-free cross-validation as
``evalkit coder-eval``) over fold seeds 0-3, with and without sentence embeddings: macro
κ against the coder, the human-human κ on the same codes, their ratio and the recall of
the coder's codings in the top 30% of ranked (excerpt, code) pairs. Then the learning
curve (seed 0) at training sizes the sample allows. Prints JSON.

    python benchmarks/bench_coder_quality.py [--seeds 4]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CODINGS = ROOT / "data_sample" / "codings"


def coded_units() -> pd.DataFrame:
    units = pd.read_csv(CODINGS / "units.csv", dtype=str)
    files = sorted(CODINGS.glob("coder_*.csv"))
    codings = pd.concat(pd.read_csv(p, dtype=str, keep_default_na=False) for p in files)
    merged = codings.merge(
        units[["excerpt_id", "text"]].rename(columns={"excerpt_id": "unit"}), on="unit"
    )
    return merged[["unit", "text", "coder", "code"]]


def main() -> None:
    from evalkit.codebook import load_codebook
    from evalkit.coding.evaluate import coder_eval, learning_curve
    from evalkit.embedding import CachedEmbedder, load_embedder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    frame = coded_units()
    codebook = load_codebook(ROOT / "codebooks" / "sf_taskforce.yaml")
    embedder = CachedEmbedder(load_embedder())
    figures: dict = {"benchmark": "coder quality", "seeds": args.seeds, "ratios": [], "curve": []}
    for features, chosen in (("tfidf+rules", None), ("tfidf+rules+embeddings", embedder)):
        for coder in ("maria", "jamal"):
            runs = [
                coder_eval(frame, coder, folds=5, seed=s, codebook=codebook, embedder=chosen)
                for s in range(args.seeds)
            ]
            ratios = [r.macro["kappa"] / r.macro["human_kappa"] for r in runs]
            figures["ratios"].append(
                {
                    "features": features,
                    "coder": coder,
                    "kappa": round(statistics.mean(r.macro["kappa"] for r in runs), 4),
                    "human_kappa": runs[0].macro["human_kappa"],
                    "ratio": round(statistics.mean(ratios), 4),
                    "ratio_sd": round(statistics.pstdev(ratios), 4),
                    "recall_at_30pct": round(
                        statistics.mean(r.recall_at_30pct_effort for r in runs), 4
                    ),
                }
            )
            for point in learning_curve(
                frame, coder, [25, 50, 100, 200, 400, 800], codebook=codebook, embedder=chosen
            ):
                figures["curve"].append({"features": features, "coder": coder, **point.__dict__})
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
