"""Memos and coding from search: the researcher's daily writes on a project."""

from __future__ import annotations

import pandas as pd

from evalkit.deid import key_rows
from evalkit.errors import EvalkitError
from evalkit.project.admit import write_key_rows
from evalkit.project.privacy import privacy_for


def add_memo(
    store,
    title: str,
    body: str = "",
    *,
    on: str = "project",
    target: str | None = None,
    kind: str = "note",
    actor: str | None = None,
) -> int:
    """Write a memo, de-identified like everything else that enters; returns its ID.

    A memo is the researcher's own text, but it often quotes or names a participant, so
    its title and body go through the project's roster and detectors.
    """
    privacy = privacy_for(store)
    clean = privacy.cleaner()
    title, body = clean(title), clean(body)
    with store.transaction(actor=actor, command="memo add"):
        memo_id = store.add_memo(title, body, on=on, target=target, author=store._actor, kind=kind)
        write_key_rows(privacy, key_rows(f"memo:{memo_id}", clean.found))
    return memo_id


def code_hits(
    store, hits: pd.DataFrame, *, code: str, coder: str, actor: str | None = None
) -> dict[str, int]:
    """Code every excerpt a search found with ``code``, as ``coder``: one operation, so
    ``evalkit undo`` takes it all back.

    Returns ``{"excerpts": n, "codings": added}``.
    """
    known = store.code_names()
    if code not in known:
        raise EvalkitError(
            f"no code named '{code}' in the project codebook",
            path=str(store.folder),
            hint="See 'evalkit codebook show' for the code names",
        )
    if not coder:
        raise EvalkitError("coding needs the coder's name", hint="Pass --coder NAME")
    excerpts = list(dict.fromkeys(hits["excerpt_id"]))
    if not excerpts:
        raise EvalkitError("the search found nothing to code")
    with store.transaction(actor=actor or coder, command="search code"):
        added = store.add_codings([(e, coder, code) for e in excerpts], origin="search")
        store.describe(f"coded {added} search hit excerpt(s) as {code} (coder {coder})")
        store.log(
            "codings.search",
            "codings",
            code,
            {"coder": coder, "excerpts": excerpts, "added": added},
        )
    return {"excerpts": len(excerpts), "codings": added}
