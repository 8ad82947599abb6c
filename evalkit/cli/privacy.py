"""Commands for de-identification and the CAB review loop: deid, review-packet,
review-import, reviews."""

from __future__ import annotations

import argparse

from evalkit.cli.common import coder_list, command, note, out, render, report_key
from evalkit.store import Store


def cmd_deid(args: argparse.Namespace) -> None:
    from evalkit.project import deidentify_project

    with Store.open(args.project) as store:
        report = deidentify_project(
            store,
            roster=args.roster,
            key_path=args.key,
            dry_run=args.dry_run,
            actor=args.user,
            max_chars=args.max_chars,
        )
    if args.format == "json":
        out(args, report.to_dict())
        return
    verb = "would change" if args.dry_run else "changed"
    print(f"{len(report.changed)} source(s) {verb}; replaced now: {report.by_type() or 'nothing'}")
    for line in report.notes:
        note(f"note: {line}")
    if report.moved:
        print(f"{report.moved} excerpt(s) moved to their de-identified text, with their work")
    for new in report.renamed.values():
        print(f"source renamed {new} (its ID held a name now on the roster)")
    print("\nReplacement tokens in the project's text, by source and type:")
    print(_nonzero(report.in_text))
    print(f"\nCandidates for the roster ({len(report.candidates)}), left as they are:")
    print(render(report.candidates, "table"))
    report_key(report.key_path)


def cmd_review_packet(args: argparse.Namespace) -> None:
    from pathlib import Path

    from evalkit.project import make_packet

    fmt = Path(args.out).suffix.lower().lstrip(".")
    with Store.open(args.project) as store:
        packet = make_packet(
            store,
            reviewer=args.reviewer,
            status=args.status,
            codes=coder_list(args.codes),
            limit=args.limit,
            fmt=fmt,
            actor=args.user,
        )
        packet.save(args.out)
    summary = {
        "packet_id": packet.packet_id,
        "reviewer": packet.reviewer,
        "items": len(packet.items),
        "codes": int(packet.items["code"].nunique()),
        "out": str(args.out),
    }
    out(args, summary)


def cmd_review_import(args: argparse.Namespace) -> None:
    from evalkit.project import import_packet

    with Store.open(args.project) as store:
        report = import_packet(store, args.file, reviewer=args.reviewer, actor=args.user)
    for row in report.unreadable:
        note(f"could not read table {row['table']} row {row['row']}: {row['problem']}")
    for row in report.edited_text:
        note(
            f"note: table {row['table']} row {row['row']}: the excerpt text was edited; the"
            " decision is kept for the original excerpt, and the edit is not applied"
        )
    out(args, report.to_dict())


def cmd_reviews(args: argparse.Namespace) -> None:
    from evalkit.cab import cab_agreement

    with Store.open(args.project) as store:
        if args.agreement:
            result = cab_agreement(store)
            if args.format == "json":
                out(args, result.to_dict())
                return
            print(f"Krippendorff's alpha among reviewers: {result.alpha:.3f}")
            print("\nReviewer pairs:")
            print(render(result.reviewers.round(3), "table"))
            print("\nReviewers against coders:")
            print(render(result.coders.round(3), "table"))
            return
        out(args, store.reviews_df(latest=not args.all))


def _nonzero(frame) -> str:
    frame = frame[frame["total"] > 0]
    if frame.empty:
        return "(none)"
    keep = ["source_id", *[c for c in frame.columns[1:] if frame[c].sum() > 0]]
    return frame[keep].to_string(index=False)


def register(subparsers: argparse._SubParsersAction) -> None:
    from evalkit.segment import DEFAULT_MAX_CHARS

    p = command(
        subparsers,
        "deid",
        cmd_deid,
        "de-identify a project again (after the roster grew) and list names to review",
        "evalkit deid --project proj --roster roster.csv --dry-run",
    )
    p.add_argument("--roster", help="CSV/XLSX of real names and their pseudonyms")
    p.add_argument("--key", help="where the key file goes (default: outside the project)")
    p.add_argument(
        "--dry-run", action="store_true", help="report only: replaced counts and candidates"
    )
    p.add_argument("--max-chars", type=int, default=DEFAULT_MAX_CHARS, help="longest excerpt")

    p = command(
        subparsers,
        "review-packet",
        cmd_review_packet,
        "write a CAB review packet (Word or Excel) for one reviewer",
        "evalkit review-packet --project proj --reviewer 'Ana R.' --status accepted --out ana.docx",
    )
    p.add_argument("--reviewer", required=True, help="who the packet is for")
    p.add_argument(
        "--status",
        choices=("suggested", "accepted", "all"),
        default="suggested",
        help="suggestions no one reviewed, codes the team applied, or both",
    )
    p.add_argument("--codes", help="only these codes (comma-separated) and the codes under them")
    p.add_argument("--limit", type=int, help="at most this many excerpts per code")
    p.add_argument("--out", required=True, help="the packet file: .docx or .xlsx")

    p = command(
        subparsers,
        "review-import",
        cmd_review_import,
        "read a filled CAB review packet back into the project",
        "evalkit review-import ana.docx --project proj --reviewer 'Ana R.'",
    )
    p.add_argument("file", help="the filled packet (.docx or .xlsx)")
    p.add_argument("--reviewer", help="who filled it in (default: who it was made for)")

    p = command(
        subparsers,
        "reviews",
        cmd_reviews,
        "list CAB decisions, or their agreement with each other and with the coders",
        "evalkit reviews --project proj --agreement",
    )
    p.add_argument("--agreement", action="store_true", help="agreement instead of the list")
    p.add_argument("--all", action="store_true", help="every decision, not only the latest")
