"""Code management in a project: rename, merge, split, move and delete codes.

Each change is one operation: a snapshot first (they are the kind of change people regret),
a new codebook version, the codings, suggestions, CAB reviews and memos moved with the
code, and an audit entry. ``evalkit undo`` takes the whole change back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from evalkit.errors import CodebookError
from evalkit.model import Code, Codebook

# Tables whose ``code`` column names a code.
_CODED = ("codings", "suggestions", "reviews")


def _current(store) -> Codebook:
    from evalkit.codebook import require_codebook

    return require_codebook(store)


def _require(codebook: Codebook, *names: str) -> None:
    known = {c.name for c in codebook.codes}
    missing = [n for n in names if n not in known]
    if missing:
        raise CodebookError(
            f"no code named {', '.join(repr(m) for m in missing)} in the codebook",
            hint="See 'evalkit codebook show' for the code names",
        )


def _bump(version: str) -> str:
    match = re.search(r"(\d+)$", version)
    if match:
        return version[: match.start()] + str(int(match.group(1)) + 1)
    return f"{version}.1"


@dataclass(frozen=True)
class CodeChange:
    """One change to the codebook: ``action`` (rename, merge, split, move, delete), the new
    codebook ``version``, what was asked (``detail``) and what moved (``counts``: codings
    moved, duplicates collapsed, codings removed...)."""

    action: str
    version: str
    detail: dict
    counts: dict

    def to_dict(self) -> dict:
        return {"action": self.action, **self.detail, **self.counts, "version": self.version}


def _save(
    store, codebook: Codebook, how: str, actor: str | None, apply, detail: dict
) -> CodeChange:
    """Store the new codebook version and apply the row changes, as one operation."""
    from evalkit.project.codebooks import store_codebook

    codebook = replace(codebook, version=_bump(codebook.version))
    with store.transaction(actor=actor, command=f"code {how}", backup=f"before code {how}"):
        # The new version first: codes that rows move to must exist.
        store_codebook(store, codebook, origin=f"code {how}")
        counts = apply()
        store.log(f"code.{how}", "codebook", codebook.version, {**detail, **counts})
        store.describe(f"{how}: {detail_text(how, detail, counts)}")
    return CodeChange(how, codebook.version, detail, counts)


def detail_text(how: str, detail: dict, counts: dict) -> str:
    if how == "merge":
        return (
            f"{', '.join(detail['codes'])} into {detail['into']}"
            f" ({counts['moved']} coding(s) moved, {counts['collapsed']} duplicate(s) collapsed)"
        )
    if how == "rename":
        return f"{detail['code']} to {detail['new']}"
    if how == "split":
        return f"{counts['moved']} coding(s) of {detail['code']} to new child {detail['child']}"
    if how == "move":
        return f"{detail['code']} under {detail['parent'] or 'the top level'}"
    return f"{detail['code']} and its {counts['codings']} coding(s)"


def _move_rows(store, old: str, new: str) -> tuple[int, int]:
    """Point rows at ``new`` instead of ``old``; a row ``new`` already has collapses.

    Returns the codings moved and collapsed (suggestions and reviews move silently).
    """
    counts = {}
    for table in _CODED:
        moved = store._write(
            f"UPDATE OR IGNORE {table} SET code = ? WHERE code = ?", (new, old)
        ).rowcount
        collapsed = store._write(f"DELETE FROM {table} WHERE code = ?", (old,)).rowcount
        counts[table] = (moved, collapsed)
    store._write(
        "UPDATE memos SET target = ? WHERE target_kind = 'code' AND target = ?", (new, old)
    )
    return counts["codings"]


def rename_code(store, code: str, new: str, *, actor: str | None = None) -> CodeChange:
    """Give a code a new name; its codings, children and domains follow."""
    codebook = _current(store)
    _require(codebook, code)
    new = new.strip()
    if not new or any(c.name == new for c in codebook.codes):
        raise CodebookError(f"'{new}' is empty or already a code", hint="Choose another name")
    codes = tuple(
        replace(
            c,
            name=new if c.name == code else c.name,
            parent=new if c.parent == code else c.parent,
        )
        for c in codebook.codes
    )
    domains = {d: tuple(new if m == code else m for m in ms) for d, ms in codebook.domains.items()}
    updated = replace(codebook, codes=codes, domains=domains)

    def apply() -> dict:
        moved, _ = _move_rows(store, code, new)
        return {"moved": moved}

    return _save(store, updated, "rename", actor, apply, {"code": code, "new": new})


def merge_codes(store, codes: list[str], into: str, *, actor: str | None = None) -> CodeChange:
    """Merge codes into one: every coding moves to ``into`` (a coder who applied both to one
    excerpt keeps one), the merged codes' children move under ``into``, and the merged
    codes leave the codebook."""
    codebook = _current(store)
    _require(codebook, into, *codes)
    codes = [c for c in dict.fromkeys(codes) if c != into]
    if not codes:
        raise CodebookError("name at least one code to merge into another")
    gone = set(codes)
    kept = tuple(
        replace(c, parent=into if c.parent in gone else c.parent)
        for c in codebook.codes
        if c.name not in gone
    )
    domains = {
        d: tuple(dict.fromkeys(into if m in gone else m for m in ms))
        for d, ms in codebook.domains.items()
    }
    updated = replace(codebook, codes=kept, domains=domains)

    def apply() -> dict:
        moved = collapsed = 0
        for code in codes:
            m, c = _move_rows(store, code, into)
            moved, collapsed = moved + m, collapsed + c
        return {"moved": moved, "collapsed": collapsed}

    return _save(store, updated, "merge", actor, apply, {"codes": codes, "into": into})


def split_code(
    store,
    code: str,
    child: str,
    excerpt_ids: list[str],
    *,
    brief: str = "",
    actor: str | None = None,
) -> CodeChange:
    """Make ``child`` a new code under ``code`` and move the codings of ``code`` on the
    given excerpts to it (for every coder)."""
    codebook = _current(store)
    _require(codebook, code)
    if any(c.name == child for c in codebook.codes):
        raise CodebookError(f"'{child}' is already a code", hint="Choose another name")
    if not excerpt_ids:
        raise CodebookError("name the excerpts whose codings move to the new code")
    position = [c.name for c in codebook.codes].index(code) + 1
    new = Code(child, parent=code, brief=brief or f"Split from {code}.")
    updated = replace(
        codebook, codes=codebook.codes[:position] + (new,) + codebook.codes[position:]
    )

    def apply() -> dict:
        moved = 0
        for excerpt in dict.fromkeys(excerpt_ids):
            for table in _CODED:
                changed = store._write(
                    f"UPDATE {table} SET code = ? WHERE code = ? AND excerpt_id = ?",
                    (child, code, excerpt),
                ).rowcount
                moved += changed if table == "codings" else 0
        return {"moved": moved}

    return _save(store, updated, "split", actor, apply, {"code": code, "child": child})


def move_code(store, code: str, parent: str | None, *, actor: str | None = None) -> CodeChange:
    """Put a code under another parent (``None``: the top level)."""
    codebook = _current(store)
    _require(codebook, code, *([parent] if parent else []))
    parents = {c.name: c.parent for c in codebook.codes}
    step = parent
    while step is not None:
        if step == code:
            raise CodebookError(
                f"'{parent}' is '{code}' or lies under it, so '{code}' cannot move there",
                hint="Choose a parent outside the code's own branch",
            )
        step = parents.get(step)
    codes = tuple(replace(c, parent=parent) if c.name == code else c for c in codebook.codes)
    return _save(
        store,
        replace(codebook, codes=codes),
        "move",
        actor,
        lambda: {},
        {"code": code, "parent": parent},
    )


def delete_code(store, code: str, *, actor: str | None = None) -> CodeChange:
    """Remove a code and everything coded with it; its children move to its parent.
    ``evalkit undo`` (or the snapshot taken first) brings it all back."""
    codebook = _current(store)
    _require(codebook, code)
    parent = codebook.code(code).parent
    codes = tuple(
        replace(c, parent=parent if c.parent == code else c.parent)
        for c in codebook.codes
        if c.name != code
    )
    domains = {d: tuple(m for m in ms if m != code) for d, ms in codebook.domains.items()}
    updated = replace(codebook, codes=codes, domains=domains)

    def apply() -> dict:
        counts = {}
        for table in _CODED:
            counts[table] = store._write(f"DELETE FROM {table} WHERE code = ?", (code,)).rowcount
        return counts

    return _save(store, updated, "delete", actor, apply, {"code": code})
