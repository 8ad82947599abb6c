"""REFI-QDA project exchange: evalkit qdpx import / export."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from evalkit.cli.common import command, group, note, out
from evalkit.errors import EvalkitError
from evalkit.model import KINDS
from evalkit.store import DB_NAME, Store


def cmd_import(args: argparse.Namespace) -> None:
    from evalkit.project import import_qdpx

    folder = Path(args.project)
    store = Store.open(folder) if (folder / DB_NAME).is_file() else None
    created = store is None
    new_folder = not folder.exists()
    if created:
        # Read the file before creating anything, so a refused file leaves no project.
        from evalkit.interop.refi import check_qdpx

        check_qdpx(args.file)
        store = Store.init(folder, actor=args.user)
    try:
        with store:
            report = import_qdpx(
                store,
                args.file,
                kind=args.kind,
                roster=args.roster,
                deidentify=not args.no_deid,
                actor=args.user,
            )
            stats = store.stats()
    except EvalkitError:
        if created and new_folder:  # a source inside was refused: leave no empty project
            shutil.rmtree(folder, ignore_errors=True)
        raise
    if created:
        note(f"created evalkit project in {folder}")
    for warning in report.warnings:
        note(f"warning: {warning}")
    for item in report.skipped:
        note(f"skipped {item['what']} {item['guid']}: {item['reason']}")
    if report.misaligned:
        note(
            f"warning: {len(report.misaligned)} selection(s) do not start with the text their"
            " name gives; see 'misaligned' in --format json"
        )
    result = {**report.to_dict(), "project": stats}
    if args.format == "json":
        out(args, result)
        return
    print(
        f"imported {len(report.sources)} source(s), {report.codes} code(s),"
        f" {report.codings} coding(s) by {len(report.coders)} coder(s)"
        f" ({', '.join(report.coders) or '-'}); {report.cases} case(s),"
        f" {len(report.variables)} variable(s); {len(report.skipped)} item(s) skipped"
    )


def cmd_export(args: argparse.Namespace) -> None:
    from evalkit.interop.refi import export_qdpx

    with Store.open(args.project) as store:
        result = export_qdpx(store, args.out)
    if result.not_exported:
        note(
            f"note: {result.not_exported} 'coded, nothing applied' record(s) have no REFI-QDA"
            " form and were not exported"
        )
    out(args, result.to_dict())


def register(subparsers: argparse._SubParsersAction) -> None:
    actions = group(
        subparsers,
        "qdpx",
        "exchange projects with NVivo, ATLAS.ti, MAXQDA and QualCoder (REFI-QDA)",
        "REFI-QDA project files (.qdpx, or .qde with a sources/ folder) in and out.",
        "evalkit qdpx export --project proj --out proj.qdpx",
    )
    p = command(
        actions,
        "import",
        cmd_import,
        "bring a .qdpx project in (creates the project folder if needed)",
        "evalkit qdpx import partner.qdpx --project proj",
    )
    p.add_argument("file", help="the .qdpx archive or .qde file")
    p.add_argument(
        "--kind",
        "-k",
        choices=KINDS,
        default="interview",
        help="kind of sources the file does not label (default: interview)",
    )
    p.add_argument("--roster", help="CSV/XLSX of real names and their pseudonyms")
    p.add_argument("--no-deid", action="store_true", help="store the text as it is")
    p = command(
        actions,
        "export",
        cmd_export,
        "write the project as a .qdpx for other QDA tools",
        "evalkit qdpx export --project proj --out proj.qdpx",
    )
    p.add_argument("--out", required=True, help="the .qdpx file to write")
