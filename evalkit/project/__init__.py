"""The workflow layer: operations on a project.

Each operation opens one transaction, calls pure stages, writes through the store and
logs who did what. Sources enter by one door, :mod:`evalkit.project.admit`, whatever
route they take (``ingest``, ``qdpx import``, ``codings import``), so every route
de-identifies the same things the same way. The faces (CLI, notebooks, demo) call these
functions; the stages below never import them, nor the store.
"""

from evalkit.project.admit import Admission, Entry, prepare
from evalkit.project.codebooks import load_into_project, project_codebook, store_codebook
from evalkit.project.codes import (
    CodeChange,
    delete_code,
    merge_codes,
    move_code,
    rename_code,
    split_code,
)
from evalkit.project.codings import CodingsImport, disagreements, import_codings
from evalkit.project.daily import add_memo, code_hits
from evalkit.project.deid import DeidReport, check_key, deidentify_project
from evalkit.project.ingest import IngestReport, ingest
from evalkit.project.privacy import Privacy, privacy_for
from evalkit.project.qdpx import import_qdpx
from evalkit.project.reviews import cab_flags, import_packet, make_packet
from evalkit.project.suggestions import (
    Review,
    SuggestionRun,
    next_to_code,
    review,
    run_suggestions,
)


def check_project(store):
    """:meth:`Store.check` plus the key file: every source the audit log says had
    something replaced has rows in the key (``problem, where, fix``)."""
    import pandas as pd

    return pd.concat([store.check(), check_key(store)], ignore_index=True)


__all__ = [
    "Admission",
    "CodeChange",
    "CodingsImport",
    "DeidReport",
    "Entry",
    "IngestReport",
    "Privacy",
    "Review",
    "SuggestionRun",
    "add_memo",
    "cab_flags",
    "check_key",
    "check_project",
    "code_hits",
    "deidentify_project",
    "delete_code",
    "disagreements",
    "import_codings",
    "import_packet",
    "import_qdpx",
    "ingest",
    "load_into_project",
    "make_packet",
    "merge_codes",
    "move_code",
    "next_to_code",
    "prepare",
    "privacy_for",
    "project_codebook",
    "rename_code",
    "review",
    "run_suggestions",
    "split_code",
    "store_codebook",
]
