"""Analysis and report generation on a project built from the committee corpus (412k words).

The 30 QMSum meetings are ingested as interviews, with each meeting's committee (covid or
education) as its sector. The starter codebook's rules suggest codes, and every rule
suggestion is accepted, so the project has codings without anyone's labels. The timed
part is what `evalkit matrix` and `evalkit report` do: applied codes, domain summaries and
matrix (XLSX), and the Word report.

    python benchmarks/bench_report.py [--corpus DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _common import DEFAULT_CORPUS, in_subprocess, peak_rss_mb
from bench_ingest import write_transcripts

ROOT = Path(__file__).resolve().parents[1]


def measure(corpus: Path) -> dict:
    from evalkit import Store, analysis, ingest
    from evalkit.codebook import project_codebook
    from evalkit.fileio import save_docx
    from evalkit.project import load_into_project, review, run_suggestions
    from evalkit.report import evaluation_report

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "meetings"
        folder.mkdir()
        words = write_transcripts(corpus, folder, 1)
        attributes = Path(tmp) / "attributes.csv"
        rows = ["file,participant_id,sector"]
        rows += [f"{p.name},{p.stem},{p.stem.split('_')[1]}" for p in sorted(folder.iterdir())]
        attributes.write_text("\n".join(rows), encoding="utf-8")
        store = Store.init(Path(tmp) / "project", actor="bench")
        ingest(store, [folder], kind="interview", attributes=attributes)
        load_into_project(store, ROOT / "codebooks" / "sf_taskforce.yaml")
        run_suggestions(store)
        review(store, accept=True, reviewer="bench", above=0.0)
        codings = len(store.codings_df())

        started = time.perf_counter()
        codebook = project_codebook(store)
        applied = analysis.applied_codes(store, codebook)
        matrix = analysis.domain_matrix(
            analysis.domain_summaries(applied, codebook), store.sources_df(), codebook
        )
        analysis.write_matrix_xlsx(matrix, Path(tmp) / "matrix.xlsx")
        matrix_seconds = time.perf_counter() - started
        save_docx(evaluation_report(store), Path(tmp) / "report.docx")
        seconds = time.perf_counter() - started
        size = (Path(tmp) / "report.docx").stat().st_size
        store.close()
    return {
        "words": words,
        "codings": codings,
        "matrix_seconds": round(matrix_seconds, 2),
        "analysis_and_report_seconds": round(seconds, 2),
        "report_bytes": size,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.corpus)))
        return
    result = in_subprocess(__file__, "--corpus", str(args.corpus))
    print(json.dumps({"benchmark": "report", **result}, indent=2))


if __name__ == "__main__":
    main()
