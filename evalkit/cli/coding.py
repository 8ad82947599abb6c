"""Coding commands: codings import|list, agree, disagreements."""

from __future__ import annotations

import argparse
from pathlib import Path

from evalkit.cli.common import coder_list, command, group, note, out
from evalkit.errors import EvalkitError
from evalkit.store import Store


def cmd_codings_import(args: argparse.Namespace) -> None:
    from evalkit.project import import_codings

    with Store.open(args.project) as store:
        report = import_codings(
            store,
            args.file,
            coder=args.coder,
            layout=args.layout,
            add_missing_codes=args.add_missing_codes,
            roster=args.roster,
            key_path=args.key,
            actor=args.user,
        )
    for line in report.notes:
        note(f"note: {line}")
    if report.added_codes:
        note(f"added to the codebook (define them): {', '.join(report.added_codes)}")
    if report.unresolved:
        note(f"{report.unresolved} unit(s) had no consensus yet and were skipped")
    if args.format == "json":
        out(args, report.to_dict())
    else:
        print(
            f"imported {report.codings} coding(s) of {report.units} unit(s) by "
            f"{', '.join(report.coders)} ({report.layout} layout); {report.replaced} replaced"
        )


def cmd_codings_list(args: argparse.Namespace) -> None:
    with Store.open(args.project) as store:
        frame = store.codings_df(coders=coder_list(args.coders))
    if args.format == "table":
        frame = frame[["excerpt_id", "coder", "code", "origin", "created_at"]]
    out(args, frame)


def cmd_agree(args: argparse.Namespace) -> None:
    from evalkit.agreement import categorical_agreement, code_agreement
    from evalkit.codings import read_codings_table

    coders = coder_list(args.coders)
    if args.file and args.project:
        raise EvalkitError("give either FILE or --project, not both", hint="See --help")
    if args.file:
        if args.categorical:
            from evalkit.ingest.tabular import load_table, require_columns, spreadsheet_row

            table = load_table(args.file)
            require_columns(table, ["unit", "coder", "value"], Path(args.file), "categorical")
            table = table.assign(row=[spreadsheet_row(i) for i in range(len(table))])
            out(args, categorical_agreement(table, coders=coders, path=args.file))
            return
        codings = read_codings_table(args.file, layout="long")
    elif args.project:
        with Store.open(args.project) as store:
            codings = store.codings_df(coders=coders).rename(columns={"excerpt_id": "unit"})
            codes = list(store.code_names())
    else:
        raise EvalkitError(
            "give a codings FILE or --project DIR", hint="See 'evalkit agree --help'"
        )
    report = code_agreement(codings, coders=coders, codes=codes if args.project else None)
    if args.format == "json":
        out(args, report.to_dict())
        return
    table = report.table()
    if args.format == "csv":
        out(args, table)
        return
    print(f"{report.n_units} units coded by {', '.join(report.coders)}")
    print(table.round(3).to_string(index=False, na_rep="–"))
    for code, notes in report.notes.items():
        for statistic, reason in notes.items():
            note(f"note: {code} {statistic} undefined: {reason}")


def cmd_disagreements(args: argparse.Namespace) -> None:
    from evalkit.codings import write_disagreements
    from evalkit.project import disagreements

    with Store.open(args.project) as store:
        frame = disagreements(store, coder_list(args.coders) or [])
    write_disagreements(frame, args.out)
    note(f"wrote {len(frame)} disagreement(s) to {args.out}")


def register(subparsers: argparse._SubParsersAction) -> None:
    coding_actions = group(
        subparsers,
        "codings",
        "import and list human codings",
        "Human codings from spreadsheets (long, wide or consensus layout).",
        "evalkit codings import coder_maria.csv --project proj",
    )
    p = command(
        coding_actions,
        "import",
        cmd_codings_import,
        "import a coder's codings (CSV/XLSX) into the project",
        "evalkit codings import data_sample/codings/coder_maria.csv --project proj",
    )
    p.add_argument("file")
    p.add_argument("--coder", help="the coder of this file, if it has no 'coder' column")
    p.add_argument(
        "--roster", help="CSV/XLSX of real names for units created from a 'text' column"
        " (default: the project's roster)"
    )
    p.add_argument("--key", help="where the de-identification key goes (default: as before)")
    p.add_argument(
        "--layout",
        choices=("auto", "long", "wide", "consensus"),
        default="auto",
        help="the spreadsheet's layout (default: recognised from its columns)",
    )
    p.add_argument(
        "--add-missing-codes",
        action="store_true",
        help="add codes that are not in the codebook (as a new codebook version)",
    )
    p = command(
        coding_actions,
        "list",
        cmd_codings_list,
        "list codings with who made them, when, and from where",
        "evalkit codings list --project proj --coders maria --format csv",
    )
    p.add_argument("--coders", help="comma-separated coder names")

    p = command(
        subparsers,
        "agree",
        cmd_agree,
        "inter-coder agreement: percent, Cohen's kappa, Krippendorff's alpha, Gwet's AC1",
        "evalkit agree codings.csv --format json   |   evalkit agree --project proj --coders a,b",
        project=False,
    )
    p.add_argument("file", nargs="?", help="long CSV/XLSX with unit,coder,code (no project needed)")
    p.add_argument("--project", "-p", help="compute on a project's codings instead")
    p.add_argument("--coders", help="comma-separated coder names (default: all)")
    p.add_argument(
        "--categorical",
        action="store_true",
        help="one variable: read the 'value' column instead of 'code'",
    )

    p = command(
        subparsers,
        "disagreements",
        cmd_disagreements,
        "write the units coders coded differently, for the consensus meeting",
        "evalkit disagreements --project proj --coders maria,jamal --out consensus.xlsx",
        formats=False,
    )
    p.add_argument("--coders", required=True, help="comma-separated coder names")
    p.add_argument("--out", "-o", required=True, help=".xlsx, .docx or .csv")
