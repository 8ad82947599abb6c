"""Commands on sources: init, ingest, sources, excerpts, stats, demo."""

from __future__ import annotations

import argparse
import sys

from evalkit.cli.common import command, note, out, report_key
from evalkit.model import KINDS
from evalkit.segment import DEFAULT_MAX_CHARS
from evalkit.store import Store


def cmd_init(args: argparse.Namespace) -> None:
    Store.init(args.dir, actor=args.user).close()
    note(f"created evalkit project in {args.dir}")


def cmd_ingest(args: argparse.Namespace) -> None:
    from evalkit.project import ingest

    with Store.open(args.project) as store:
        report = ingest(
            store,
            args.paths,
            kind=args.kind,
            attributes=args.attributes,
            id_column=args.id_column,
            text_columns=args.text_column or (),
            max_chars=args.max_chars,
            roster=args.roster,
            deidentify=not args.no_deid,
            key_path=args.key,
            actor=args.user,
            progress=sys.stderr.isatty(),
        )
    for warning in report.warnings:
        note(f"warning: {warning}")
    for line in report.notes:
        note(f"note: {line}")
    if args.no_deid:
        note("warning: de-identification was turned off; names and contact details are stored")
    report_key(report.key_path)
    if report.candidates:
        note(
            f"{len(report.candidates)} capitalised name(s) are not on the roster and were left"
            f" as they are; list them with 'evalkit deid --project {args.project} --dry-run'"
        )
    for name, source_id in report.unchanged:
        note(f"unchanged: {name} is already in the project as '{source_id}'; nothing to do")
    for skipped in report.skipped:
        note(f"skipped: {skipped} (not a supported format)")
    if args.format == "json":
        out(args, report.to_dict())
    else:
        print(
            f"{len(report.added)} added, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged; {report.excerpts} excerpts, "
            f"{report.words} words"
        )


def cmd_sources(args: argparse.Namespace) -> None:
    with Store.open(args.project) as store:
        frame = store.sources_df()
    if args.kind:
        frame = frame[frame["kind"] == args.kind]
    if args.format == "table":
        keep = ["source_id", "kind", "date", "participant_id", "sector", "words", "excerpts"]
        frame = frame[[c for c in keep if c in frame.columns]]
    out(args, frame)


def cmd_excerpts(args: argparse.Namespace) -> None:
    with Store.open(args.project) as store:
        frame = store.excerpts_df(kind=args.kind, source_id=args.source)
    if args.format == "table":
        keep = ["excerpt_id", "kind", "speaker", "start", "end", "text"]
        frame = frame[[c for c in keep if c in frame.columns]]
    out(args, frame)


def cmd_stats(args: argparse.Namespace) -> None:
    with Store.open(args.project) as store:
        out(args, store.stats())


def cmd_demo(args: argparse.Namespace) -> None:
    from evalkit.demo import run_demo

    summary = run_demo(args.out, data=args.data, progress=sys.stderr.isatty(), actor=args.user)
    agreement = summary.pop("agreement")
    if args.format == "json":
        out(args, {**summary, "agreement": agreement.to_dict()})
        return
    out(args, summary)
    print(f"\nInter-coder agreement, {', '.join(agreement.coders)} ({agreement.n_units} units):")
    print(agreement.table().round(2).to_string(index=False, na_rep="–"))


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command(
        subparsers,
        "init",
        cmd_init,
        "create a project folder",
        "evalkit init taskforce_eval",
        project=False,
        formats=False,
    )
    p.add_argument("dir", help="folder to create the project in")

    p = command(
        subparsers,
        "ingest",
        cmd_ingest,
        "add transcripts, field notes or documents to a project",
        "evalkit ingest data_sample/interviews --project proj --kind interview "
        "--attributes data_sample/attributes.csv",
    )
    p.add_argument("paths", nargs="+", help="files or folders (walked recursively)")
    p.add_argument("--kind", "-k", required=True, choices=KINDS, help="what the files are")
    p.add_argument("--attributes", "-a", help="CSV/XLSX of attributes keyed by 'file'")
    p.add_argument("--id-column", default="id", help="spreadsheets: the respondent ID column")
    p.add_argument(
        "--text-column", action="append", help="spreadsheets: a column of answers (repeatable)"
    )
    p.add_argument("--max-chars", type=int, default=DEFAULT_MAX_CHARS, help="longest excerpt")
    p.add_argument(
        "--roster",
        help="CSV/XLSX of real names and their pseudonyms (kept outside the project; the"
        " project remembers it for later commands)",
    )
    p.add_argument(
        "--key", help="where the de-identification key goes (default: outside the project)"
    )
    p.add_argument(
        "--no-deid",
        action="store_true",
        help="store text as it is (public documents only): no names or details replaced",
    )

    p = command(
        subparsers,
        "sources",
        cmd_sources,
        "list the sources in a project",
        "evalkit sources --project proj --format csv > sources.csv",
    )
    p.add_argument("--kind", "-k", choices=KINDS, help="only sources of this kind")

    p = command(
        subparsers,
        "excerpts",
        cmd_excerpts,
        "list excerpts with their offsets, text and source attributes",
        "evalkit excerpts --project proj --kind interview --format json",
    )
    p.add_argument("--kind", "-k", choices=KINDS, help="only sources of this kind")
    p.add_argument("--source", "-s", help="only this source ID")

    command(
        subparsers,
        "stats",
        cmd_stats,
        "count sources, excerpts, words, codes and codings",
        "evalkit stats --project proj --format json",
    )
    p = command(
        subparsers,
        "demo",
        cmd_demo,
        "run the whole pipeline on the sample corpus and write a Word report",
        "evalkit demo --out demo_out",
        project=False,
    )
    p.add_argument("--out", required=True, help="folder for the demo project and report")
    p.add_argument("--data", help="sample corpus folder (default: the bundled data_sample/)")
