"""The demo: the whole pipeline on the bundled sample corpus, ending in a Word report."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from evalkit import analysis
from evalkit.agreement import code_agreement
from evalkit.codebook import export_codebook
from evalkit.errors import EvalkitError
from evalkit.fileio import atomic_write, save_docx
from evalkit.project import (
    import_codings,
    ingest,
    load_into_project,
    make_packet,
    review,
    run_suggestions,
)
from evalkit.project.embeddings import (
    project_embedder,
)
from evalkit.report import evaluation_report, overview_report
from evalkit.store import DB_NAME, Store

DEMO_ACCEPT_ABOVE = 0.98

# (subfolder of the sample corpus, source kind)
SAMPLE_LAYOUT = (
    ("interviews", "interview"),
    ("observations", "observation"),
    ("documents", "document"),
)


def sample_data_dir() -> Path:
    """The bundled ``data_sample/`` folder (next to the package in a source checkout)."""
    for candidate in (
        Path(__file__).resolve().parent.parent / "data_sample",
        Path.cwd() / "data_sample",
    ):
        if candidate.is_dir():
            return candidate
    raise EvalkitError(
        "the sample corpus data_sample/ was not found",
        hint="Run the demo from the evalkit source folder or pass --data",
    )


def starter_codebook(data: Path) -> Path:
    """The starter codebook that ships beside the sample corpus."""
    path = data.parent / "codebooks" / "sf_taskforce.yaml"
    if not path.is_file():
        raise EvalkitError(
            "the starter codebook was not found",
            path=path,
            hint="Run the demo from the evalkit source folder",
        )
    return path


def ingest_sample(
    store: Store,
    data: str | Path | None = None,
    *,
    actor: str | None = None,
    progress: bool = False,
    key_path: str | Path | None = None,
) -> list[str]:
    """Ingest the sample corpus's three kinds, de-identified with its roster
    (``data_sample/deid/roster.csv``); returns the readers' warnings.

    The sample codings (``data_sample/codings/``) refer to the excerpts this makes.
    """
    data = Path(data) if data is not None else sample_data_dir()
    roster = data / "deid" / "roster.csv"
    warnings = []
    for folder, kind in SAMPLE_LAYOUT:
        report = ingest(
            store,
            [data / folder],
            kind=kind,
            attributes=data / "attributes.csv" if kind == "interview" else None,
            roster=roster if roster.is_file() else None,
            key_path=key_path,
            actor=actor,
            progress=progress,
        )
        warnings.extend(report.warnings)
    return warnings


def run_demo(
    out: str | Path,
    *,
    data: str | Path | None = None,
    progress: bool = False,
    actor: str | None = None,
) -> dict[str, Any]:
    """Build a fresh project from the sample corpus in ``out/project`` and write the report.

    Ingests the three source kinds (de-identified with the sample roster), loads the
    starter codebook, imports two coders' codings of a fifth of the excerpts, measures
    their agreement, suggests codes for the rest and accepts the most confident as a named
    reviewer, and writes the Word report, a Word copy of the codebook and a CAB review
    packet for community reviewers.

    A previous demo project in ``out/project`` is replaced; nothing else in ``out`` is.

    Returns
    -------
    dict
        ``project``, ``report``, ``codebook`` (the Word codebook), ``cab_packet`` (a
        Word review packet of open suggestions for a CAB member), ``matrix`` (the
        participant x domain matrix, XLSX), ``stats`` (as
        :meth:`Store.stats`), ``agreement`` (an AgreementReport for the sample coders'
        double-coded excerpts), ``suggestions`` (what was suggested and accepted) and
        ``warnings``.
    """
    out = Path(out)
    data = Path(data) if data is not None else sample_data_dir()
    project = out / "project"
    if (project / DB_NAME).exists():
        shutil.rmtree(project)
    actor = actor or "evalkit-demo"
    warnings: list[str] = []
    with Store.init(project, actor=actor) as store:
        # The key (real names) goes beside the project folder, never inside it.
        key_path = out / "deid-key.csv"
        warnings.extend(
            ingest_sample(store, data, actor=actor, progress=progress, key_path=key_path)
        )
        codebook, _, problems = load_into_project(store, starter_codebook(data), actor=actor)
        warnings.extend(p.format(codebook.title) for p in problems)
        for coder_file in sorted((data / "codings").glob("coder_*.csv")):
            import_codings(store, coder_file, actor=actor)
        codings = store.codings_df()
        agreement = code_agreement(
            codings.rename(columns={"excerpt_id": "unit"}),
            codes=[c for c in store.code_names() if c in set(codings["code"])],
        )
        # Assisted coding: suggestions for the uncoded excerpts, learned from the two
        # coders. The demo accepts only the most confident ones, as reviewer "maria"; in a
        # real project a person reads each one (evalkit suggest list / accept / reject).
        # The suggester reads meaning as well as words: sentence embeddings from the model
        # that installs with evalkit, cached in the project.
        suggested = run_suggestions(store, actor=actor, embedder=project_embedder(store))
        accepted = review(
            store, accept=True, reviewer="maria", above=DEMO_ACCEPT_ABOVE, actor="maria"
        )
        applied = analysis.applied_codes(store, codebook)
        matrix = analysis.domain_matrix(
            analysis.domain_summaries(applied, codebook), store.sources_df(), codebook
        )
        matrix_path = out / "matrix.xlsx"
        analysis.write_matrix_xlsx(matrix, matrix_path)
        codebook_path = out / "codebook.docx"
        with atomic_write(codebook_path) as stream:
            stream.write(export_codebook(codebook, "docx"))
        report_path = save_docx(evaluation_report(store), out / "report.docx")
        # A CAB member reviews the three most confident open suggestions per code.
        packet = make_packet(store, reviewer="CAB member", status="suggested", limit=3, actor=actor)
        packet_path = packet.save(out / "cab_packet.docx")
        overview_path = save_docx(overview_report(store), out / "corpus_overview.docx")
        return {
            "project": str(project),
            "report": str(report_path),
            "corpus_overview": str(overview_path),
            "codebook": str(codebook_path),
            "cab_packet": str(packet_path),
            "deid_key": str(key_path),
            "matrix": str(matrix_path),
            "stats": store.stats(),
            "agreement": agreement,
            "suggestions": {
                "stored": suggested.suggestions,
                "model_version": suggested.model_version,
                "accepted_by_maria_above": DEMO_ACCEPT_ABOVE,
                "accepted": accepted.accepted,
            },
            "warnings": warnings,
        }
