"""CAB review packets on a project: make one (recorded in the project) and read a filled
one back. Laying packets out and reading the files is :mod:`evalkit.cab`."""

from __future__ import annotations

import secrets
from pathlib import Path

from evalkit.cab import (
    Packet,
    PacketImport,
    ReadRow,
    RowBinder,
    packet_items,
    read_packet_file,
    review_flags,
    row_checks,
)
from evalkit.deid import key_rows
from evalkit.errors import EvalkitError, PacketError
from evalkit.project.admit import write_key_rows
from evalkit.project.codebooks import project_codebook
from evalkit.project.privacy import privacy_for
from evalkit.report.packet import packet_document, packet_workbook

MAX_LISTED_ROWS = 10  # misplaced rows named in the error; the rest are counted


def make_packet(
    store,
    *,
    reviewer: str,
    status: str = "suggested",
    codes: list[str] | None = None,
    limit: int | None = None,
    fmt: str = "docx",
    actor: str | None = None,
) -> Packet:
    """Choose the items, record the packet in the project, and lay it out.

    Raises
    ------
    EvalkitError
        If nothing matches (no suggestions to review, or no codings of those codes).
    """
    if fmt not in ("docx", "xlsx"):
        raise EvalkitError(f"a packet is .docx or .xlsx, not '.{fmt}'", hint="Use --out x.docx")
    if not reviewer.strip():
        raise EvalkitError("a packet needs the reviewer's name", hint="Pass --reviewer NAME")
    items = packet_items(store, status=status, codes=codes, limit=limit)
    if items.empty:
        raise EvalkitError(
            f"nothing to review: no {status if status != 'all' else 'suggested or accepted'}"
            " codes" + (f" among {', '.join(codes)}" if codes else ""),
            path=str(store.folder),
            hint="Run 'evalkit suggest run' or import codings first, or choose another --status",
        )
    packet_id = secrets.token_hex(6)
    items = items.assign(check=row_checks(packet_id, items))
    records = items[["ref", "excerpt_id", "code", "origin", "confidence", "check"]].to_dict(
        "records"
    )
    for record in records:
        if record["confidence"] != record["confidence"]:  # NaN is not JSON
            record["confidence"] = None
    privacy = privacy_for(store)
    clean = privacy.cleaner()
    reviewer = clean(reviewer.strip())
    with store.transaction(actor=actor, command="review-packet"):
        store.put_packet(
            packet_id,
            reviewer,
            {"status": status, "codes": codes or [], "limit": limit, "format": fmt},
            records,
        )
        write_key_rows(privacy, key_rows(f"packet:{packet_id}", clean.found))
    layout = packet_document if fmt == "docx" else packet_workbook
    document = layout(
        items,
        project_codebook(store),
        reviewer=reviewer,
        project_id=store.project_id,
        packet_id=packet_id,
    )
    return Packet(packet_id, reviewer, items, document)


def import_packet(
    store, path: str | Path, *, reviewer: str | None = None, actor: str | None = None
) -> PacketImport:
    """Read a filled packet back into the project.

    Parameters
    ----------
    store
        The open project the packet was made from.
    path
        The filled ``.docx`` or ``.xlsx``.
    reviewer
        Who filled it in; defaults to the reviewer the packet was made for.

    Returns
    -------
    PacketImport
        Counts of new and already-recorded decisions, blank rows, and every row that could
        not be read, by table and row number.

    Raises
    ------
    PacketError
        If the packet belongs to another project, is unknown to this one, its tables were
        restructured, or rows carrying an answer no longer match the excerpt their number
        was made for (a changed number, a moved row: see :class:`evalkit.cab.RowBinder`);
        the error lists those rows. Nothing is stored then.

    Comments and the reviewer's name are de-identified like everything else that enters
    the project (a CAB member may well name someone in a comment).
    """
    path = Path(path)
    project_id, packet_id, rows = read_packet_file(path)
    if project_id != store.project_id:
        raise PacketError(
            "this packet was made for another project",
            path=path,
            hint="Import it into the project it came from (its ID starts"
            f" {project_id[:8]}; this project's starts {store.project_id[:8]})",
        )
    packet = store.packet(packet_id)
    if packet is None:
        raise PacketError(
            f"packet {packet_id} is not recorded in this project",
            path=path,
            hint="Was the project restored from an older backup? Make a new packet",
        )
    privacy = privacy_for(store)
    clean = privacy.cleaner()
    reviewer = clean((reviewer or packet["reviewer"]).strip())
    binder = RowBinder(packet["items"], store.excerpts_df().set_index("excerpt_id")["text"])
    report = PacketImport(packet_id, reviewer)
    decisions = []
    misplaced = []
    seen: set[str] = set()
    for row in rows:
        where = {"table": row.table, "row": row.row}
        item = binder.items.get(row.ref)
        if item is None:
            report.unreadable.append(
                {**where, "problem": f"number '{row.ref}' is not one of this packet's rows"}
            )
            continue
        if row.ref in seen:
            report.unreadable.append({**where, "problem": f"number {row.ref} appears twice"})
            continue
        seen.add(row.ref)
        if row.problem:
            report.unreadable.append({**where, "ref": row.ref, "problem": row.problem})
            continue
        if row.decision is None and not row.comment:
            report.blank += 1
            continue
        reason = binder.misplaced(row)
        if reason:
            misplaced.append(
                f"{_where(row, path)} says No. {row.ref} ({item['code']}) but {reason}"
            )
            continue
        if binder.edited(row):
            # The decision still belongs to the excerpt; the edit itself is not applied.
            report.edited_text.append({**where, "ref": row.ref})
        decisions.append(
            {
                "ref": int(item["ref"]),
                "excerpt_id": item["excerpt_id"],
                "code": item["code"],
                "decision": row.decision,
                "comment": clean(row.comment),
            }
        )
        if row.decision:
            report.decisions[row.decision] = report.decisions.get(row.decision, 0) + 1
    if misplaced:
        more = len(misplaced) - MAX_LISTED_ROWS
        raise PacketError(
            f"{len(misplaced)} row(s) no longer match the passage their number was made for,"
            " so their answers could be stored on the wrong passage: "
            + "; ".join(misplaced[:MAX_LISTED_ROWS])
            + (
                f"; and {more} more (only the first {MAX_LISTED_ROWS} are listed)"
                if more > 0
                else ""
            ),
            path=path,
            hint="Nothing was imported. Put the numbers back as they were, each with its own"
            " row code, or have the answers copied into a fresh packet",
        )
    with store.transaction(actor=actor, command="review-import"):
        report.recorded = store.add_reviews(packet_id, reviewer, decisions)
        write_key_rows(privacy, key_rows(f"packet:{packet_id}", clean.found))
    report.already = len(decisions) - report.recorded
    return report


def _where(row: ReadRow, path: Path) -> str:
    # Rows count the way the program shows them; a workbook has one table.
    return (
        f"row {row.row}" if path.suffix.lower() == ".xlsx" else f"table {row.table} row {row.row}"
    )


def cab_flags(store) -> dict[str, str]:
    """Excerpt -> what CAB reviewers disagreed with or were unsure of, with comments."""
    found: dict[str, list[str]] = {}
    for flag in review_flags(store).itertuples():
        text = f"{flag.reviewer} {flag.decision}s with {flag.code}"
        if flag.decision == "unsure":
            text = f"{flag.reviewer} is unsure of {flag.code}"
        if flag.comment:
            text += f": “{flag.comment}”"
        found.setdefault(flag.excerpt_id, []).append(text)
    return {excerpt: "; ".join(items) for excerpt, items in found.items()}
