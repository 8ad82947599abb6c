"""Commands for de-identification and the CAB review loop: deid, review-packet,
review-import, reviews."""

from __future__ import annotations

import argparse

from evalkit.cli.common import command, out, render, report_key
from evalkit.store import Store


def cmd_deid(args: argparse.Namespace) -> None:
    from evalkit.deid import deidentify_project

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
    if report.moved:
        print(f"{report.moved} coded excerpt(s) moved to their de-identified text")
    print("\nReplacement tokens in the project's text, by source and type:")
    print(_nonzero(report.in_text))
    print(f"\nCandidates for the roster ({len(report.candidates)}), left as they are:")
    print(render(report.candidates, "table"))
    report_key(report.key_path)


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
