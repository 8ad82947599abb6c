"""``evalkit codebook load``: make a codebook file the project's current codebook."""

from __future__ import annotations

from pathlib import Path

from evalkit.codebook import check_codebook, content_hash, dump_yaml, project_codebook
from evalkit.codebook.refi import code_guid
from evalkit.codebook.validate import Problem, raise_for_errors
from evalkit.model import Codebook

__all__ = ["load_into_project", "project_codebook", "store_codebook"]


def load_into_project(
    store, path: str | Path, *, actor: str | None = None
) -> tuple[Codebook, str, list[Problem]]:
    """Validate a codebook file and make it the project's current codebook.

    Returns ``(codebook, status, warnings)`` where status is ``"loaded"`` or
    ``"unchanged"`` (the same content is already current). A codebook with errors raises
    CodebookError and changes nothing.
    """
    codebook, problems = check_codebook(path)
    raise_for_errors(problems, path)
    assert codebook is not None
    warnings = [p for p in problems if p.level == "warning"]
    current = store.current_codebook_row()
    if current is not None and current["content_hash"] == content_hash(codebook):
        return codebook, "unchanged", warnings
    replacing = "before replacing the codebook" if current is not None else None
    with store.transaction(actor=actor, command="codebook load", backup=replacing):
        store_codebook(store, codebook, origin=str(path))
    return codebook, "loaded", warnings


def store_codebook(store, codebook: Codebook, *, origin: str) -> bool:
    """Make ``codebook`` the project's current version, inside the caller's transaction.

    Returns False (and stores nothing) when the same content is already current.
    """
    digest = content_hash(codebook)
    current = store.current_codebook_row()
    if current is not None and current["content_hash"] == digest:
        return False
    store.put_codebook(
        title=codebook.title,
        version=codebook.version,
        content_hash=digest,
        yaml_text=dump_yaml(codebook),
        origin=origin,
        codes=[(c.name, c.parent, code_guid(c)) for c in codebook.codes],
    )
    return True
