"""``evalkit codings import``: human codings from spreadsheets, into a project.

A unit that is not an excerpt yet (a survey answer with a ``text`` column) becomes a
source through :mod:`evalkit.project.admit`, de-identified like any ingested file.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.codebook import content_hash, dump_yaml
from evalkit.codebook.refi import code_guid
from evalkit.codings import Layout, read_codings_table
from evalkit.codings import disagreements as _disagreements
from evalkit.deid import Roster, key_rows
from evalkit.errors import CodebookError, InputFileError
from evalkit.model import Code, Codebook
from evalkit.project.admit import Entry, prepare
from evalkit.project.codebooks import project_codebook
from evalkit.project.privacy import privacy_for
from evalkit.project.reviews import cab_flags


@dataclass(frozen=True)
class CodingsImport:
    """What an import did."""

    layout: str
    coders: list[str]
    units: int
    codings: int
    replaced: int
    created_sources: list[str] = field(default_factory=list)
    added_codes: list[str] = field(default_factory=list)
    unresolved: int = 0
    deid: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def import_codings(
    store,
    path: str | Path,
    *,
    coder: str | None = None,
    layout: Layout = "auto",
    add_missing_codes: bool = False,
    kind: str = "interview",
    roster: Roster | str | Path | None = None,
    key_path: str | Path | None = None,
    actor: str | None = None,
) -> CodingsImport:
    """Import human codings into a project, as one transaction.

    Units are matched by excerpt ID. A unit that is not an excerpt is created from the
    file's ``text`` column (one source and one excerpt per unit, for survey responses).
    Each (unit, coder) in the file replaces that coder's earlier codes on that unit.
    Created units enter through the same admission as ingested files: their text and
    their IDs are de-identified with the project's roster (or ``roster``) and detectors.

    Raises
    ------
    CodebookError
        Listing every code that is not in the codebook (unless ``add_missing_codes``) and
        every parent that contradicts the codebook.
    InputFileError
        Listing units that match no excerpt when there is no ``text`` column.
    """
    path = Path(path)
    table = read_codings_table(path, coder=coder, layout=layout)
    codebook = project_codebook(store)
    known = store.code_names()
    if codebook is None and not add_missing_codes:
        raise CodebookError(
            "the project has no codebook to check the codes against",
            path=path,
            hint="Load one with 'evalkit codebook load', or pass --add-missing-codes",
        )
    # A path names a code of the codebook by its last part (``Q5/cheating`` is the code
    # ``cheating`` under ``Q5``) unless the codebook has a code with the whole path as name.
    by_leaf = ~table["code"].isin(known) & table["leaf"].isin(known)
    table = table.assign(
        code=table["code"].where(~by_leaf, table["leaf"]),
        parent=table["parent"].where(by_leaf, ""),
    )
    applied = table[table["code"] != ""]
    missing = _rows_by(applied[~applied["code"].isin(known)], "code")
    if missing and not add_missing_codes:
        raise CodebookError(
            f"{len(missing)} code(s) not in the codebook: {_listing(missing)}",
            path=path,
            hint="Add them to the codebook, fix the spelling, or pass --add-missing-codes",
        )
    wrong_parent = applied[
        (applied["parent"] != "")
        & applied["code"].isin(known)
        & (applied["code"].map(known) != applied["parent"])
    ]
    if not wrong_parent.empty:
        first = wrong_parent.iloc[0]
        raise CodebookError(
            f"code '{first['code']}' is written under '{first['parent']}', but its parent in"
            f" the codebook is '{known[first['code']] or '(none)'}'"
            + (f" (and {len(wrong_parent) - 1} more)" if len(wrong_parent) > 1 else ""),
            path=path,
            row=int(first["row"]),
            hint="Write the code as in the codebook, or update the codebook",
        )

    excerpts = store.excerpt_ids()
    unknown_units = table[~table["unit"].isin(excerpts)]
    new_units: dict[str, str] = {}
    if not unknown_units.empty:
        has_text = unknown_units["text"].str.strip().astype(bool)
        if not has_text.all():
            rows = _rows_by(unknown_units[~has_text], "unit")
            raise InputFileError(
                f"{len(rows)} unit(s) match no excerpt in the project: {_listing(rows)}",
                path=path,
                hint="Use excerpt IDs from 'evalkit excerpts', or add a 'text' column to create"
                " the units",
            )
        for unit, group in unknown_units.groupby("unit", sort=False):
            if store.source(str(unit)) is not None:
                raise InputFileError(
                    f"unit '{unit}' is the name of a source, not of an excerpt",
                    path=path,
                    hint="Use excerpt IDs from 'evalkit excerpts'",
                )
            new_units[str(unit)] = str(group["text"].iloc[0]).strip()

    privacy = privacy_for(store, roster=roster, key_path=key_path)
    admission = prepare(
        store,
        [
            Entry(
                name=f"{path.name}#{unit}",
                text=text,
                kind=kind,
                id_base=unit,
                attributes={"created_from": path.name},
                whole=True,
            )
            for unit, text in new_units.items()
        ],
        privacy,
        route="codings import",
    )
    unit_ids = {unit: a.source.id for unit, a in zip(new_units, admission.items, strict=True)}
    cut = admission.segment()
    clean = privacy.cleaner()
    coders = {c: clean(c) for c in table["coder"].unique()}
    with store.transaction(actor=actor, command="codings import"):
        if missing:
            _add_codes(store, codebook, sorted(missing), path)
        admission.write(store, cut, extra_key_rows=key_rows("coders", clean.found))
        counts = store.replace_codings(
            [
                (unit_ids.get(r.unit, r.unit), coders[r.coder], r.code or None)
                for r in table.itertuples(index=False)
            ],
            origin=f"import:{path.name}",
        )
    return CodingsImport(
        layout=table.attrs.get("layout", layout),
        coders=sorted(set(coders.values())),
        units=counts["units"],
        codings=counts["codings"],
        replaced=counts["replaced"],
        created_sources=[a.source.id for a in admission.pending],
        added_codes=sorted(missing),
        unresolved=table.attrs.get("unresolved", 0),
        deid=admission.replaced_by_source(),
        notes=list(privacy.notes) if new_units else [],
    )


def _rows_by(frame: pd.DataFrame, column: str) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for value, row in zip(frame[column], frame["row"], strict=True):
        found.setdefault(str(value), []).append(int(row))
    return found


def _listing(found: dict[str, list[int]], limit: int = 10) -> str:
    parts = []
    for value, rows in list(found.items())[:limit]:
        shown = ", ".join(map(str, rows[:3])) + ("…" if len(rows) > 3 else "")
        parts.append(f"'{value}' (row{'s' if len(rows) > 1 else ''} {shown})")
    more = f" and {len(found) - limit} more" if len(found) > limit else ""
    return ", ".join(parts) + more


def _add_codes(store, codebook, names: list[str], path: Path) -> None:
    """A new codebook version: the current codes plus the imported names, to be defined."""
    base = codebook or Codebook(title="Imported codes", codes=(), version="0")
    added = tuple(
        Code(name=n, brief="", definition=f"Added when importing codings from {path.name}.")
        for n in names
    )
    version = f"{base.version}+{len(added)} imported"
    updated = replace(base, codes=base.codes + added, version=version)
    store.put_codebook(
        title=updated.title,
        version=updated.version,
        content_hash=content_hash(updated),
        yaml_text=dump_yaml(updated),
        origin=f"import:{path.name}",
        codes=[(c.name, c.parent, code_guid(c)) for c in updated.codes],
    )


def disagreements(store, coders: list[str]) -> pd.DataFrame:
    """Units where the coders' codes differ, for the consensus meeting, with the CAB's
    flags; see :func:`evalkit.codings.disagreements` for the columns."""
    return _disagreements(
        store.codings_df(coders=coders),
        store.excerpts_df(),
        coders,
        flags=cab_flags(store),
        where=str(store.folder),
    )
