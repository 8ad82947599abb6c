"""The ``evalkit`` command: a thin layer that parses, calls one library function, renders.

User mistakes (``EvalkitError``) print one line and exit with code 2; bugs keep their
traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.codebook import EXPORT_FORMATS
from evalkit.errors import EvalkitError
from evalkit.model import KINDS
from evalkit.segment import DEFAULT_MAX_CHARS
from evalkit.store import Store

FORMATS = ("table", "csv", "json")


def render(result: pd.DataFrame | dict | list, fmt: str) -> str:
    """Render a DataFrame or a dict for people (``table``) or scripts (``csv``, ``json``)."""
    if isinstance(result, pd.DataFrame):
        if fmt == "json":
            return result.to_json(orient="records", force_ascii=False, indent=2)
        if fmt == "csv":
            return result.to_csv(index=False).rstrip("\n")
        if result.empty:
            return "(nothing)"
        shown = result.astype(object).where(result.notna(), "")
        for column in shown.columns:
            if shown[column].dtype == object:
                shown[column] = shown[column].map(_clip)
        return shown.to_string(index=False)
    if fmt == "json":
        return json.dumps(result, indent=2, ensure_ascii=False, default=str)
    return _plain(result)


def _clip(value: Any, width: int = 60) -> Any:
    if not isinstance(value, str):
        return value
    value = " ".join(value.split())
    return value if len(value) <= width else value[: width - 1] + "…"


def _plain(value: Any, indent: int = 0) -> str:
    pad = "  " * indent
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key}:")
                lines.append(_plain(item, indent + 1))
            else:
                lines.append(f"{pad}{key}: {item if item not in ({}, []) else '-'}")
        return "\n".join(lines)
    if isinstance(value, list):
        return "\n".join(
            f"{pad}- {_plain(v, indent + 1).strip() if isinstance(v, dict | list) else v}"
            for v in value
        )
    return f"{pad}{value}"


def _out(args: argparse.Namespace, result: pd.DataFrame | dict | list) -> None:
    print(render(result, getattr(args, "format", "table")))


def _note(message: str) -> None:
    print(message, file=sys.stderr)


# -- commands ------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> None:
    Store.init(args.dir, actor=args.user).close()
    _note(f"created evalkit project in {args.dir}")


def cmd_ingest(args: argparse.Namespace) -> None:
    from evalkit.ingest import ingest

    with Store.open(args.project) as store:
        report = ingest(
            store,
            args.paths,
            kind=args.kind,
            attributes=args.attributes,
            id_column=args.id_column,
            text_columns=args.text_column or (),
            max_chars=args.max_chars,
            actor=args.user,
            progress=sys.stderr.isatty(),
        )
    for warning in report.warnings:
        _note(f"warning: {warning}")
    for name, source_id in report.unchanged:
        _note(f"unchanged: {name} is already in the project as '{source_id}'; nothing to do")
    for skipped in report.skipped:
        _note(f"skipped: {skipped} (not a supported format)")
    if args.format == "json":
        _out(args, report.to_dict())
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
    _out(args, frame)


def cmd_excerpts(args: argparse.Namespace) -> None:
    with Store.open(args.project) as store:
        frame = store.excerpts_df(kind=args.kind, source_id=args.source)
    if args.format == "table":
        keep = ["excerpt_id", "kind", "speaker", "start", "end", "text"]
        frame = frame[[c for c in keep if c in frame.columns]]
    _out(args, frame)


def cmd_stats(args: argparse.Namespace) -> None:
    with Store.open(args.project) as store:
        _out(args, store.stats())


def cmd_demo(args: argparse.Namespace) -> None:
    from evalkit.demo import run_demo

    summary = run_demo(args.out, data=args.data, progress=sys.stderr.isatty(), actor=args.user)
    agreement = summary.pop("agreement")
    if args.format == "json":
        _out(args, {**summary, "agreement": agreement.to_dict()})
        return
    _out(args, summary)
    print(f"\nInter-coder agreement, {', '.join(agreement.coders)} ({agreement.n_units} units):")
    print(agreement.table().round(2).to_string(index=False, na_rep="–"))


def cmd_codebook_validate(args: argparse.Namespace) -> None:
    from evalkit.codebook import check_codebook

    codebook, problems = check_codebook(args.file)
    errors = [p for p in problems if p.level == "error"]
    if args.format == "json":
        _out(
            args,
            {
                "file": args.file,
                "valid": codebook is not None,
                "codes": len(codebook.codes) if codebook else None,
                "problems": [
                    {"level": p.level, "where": p.where, "message": p.message, "hint": p.hint}
                    for p in problems
                ],
            },
        )
    else:
        for problem in problems:
            print(f"{problem.level}: {problem.format(args.file)}")
        if codebook is not None:
            themes = len(codebook.children(None))
            print(
                f"{args.file}: valid; {len(codebook.codes)} codes under {themes} themes, "
                f"{len(codebook.domains)} domains, {len(problems)} warning(s)"
            )
    if errors:
        raise EvalkitError(
            f"{len(errors)} error(s) in the codebook",
            path=args.file,
            hint="Fix them and validate again",
        )


def cmd_codebook_load(args: argparse.Namespace) -> None:
    from evalkit.codebook import load_into_project

    with Store.open(args.project) as store:
        codebook, status, warnings = load_into_project(store, args.file, actor=args.user)
    for warning in warnings:
        _note(f"warning: {warning.format(args.file)}")
    result = {
        "status": status,
        "title": codebook.title,
        "version": codebook.version,
        "codes": len(codebook.codes),
    }
    if args.format == "json":
        _out(args, result)
    elif status == "unchanged":
        print(f"unchanged: '{codebook.title}' version {codebook.version} is already current")
    else:
        print(f"loaded '{codebook.title}' version {codebook.version}: {len(codebook.codes)} codes")


def _project_codebook(project: str):
    from evalkit.codebook import project_codebook

    with Store.open(project) as store:
        codebook = project_codebook(store)
    if codebook is None:
        raise EvalkitError(
            "the project has no codebook yet",
            path=project,
            hint=f"Load one with 'evalkit codebook load FILE --project {project}'",
        )
    return codebook


def cmd_codebook_export(args: argparse.Namespace) -> None:
    from evalkit.codebook import export_codebook
    from evalkit.fileio import atomic_write

    data = export_codebook(_project_codebook(args.project), args.to)
    with atomic_write(args.out) as stream:
        stream.write(data)
    _note(f"wrote {args.out}")


def cmd_codebook_diff(args: argparse.Namespace) -> None:
    from evalkit.codebook import diff_codebooks, load_codebook

    frame = diff_codebooks(load_codebook(args.old), load_codebook(args.new))
    if args.format == "table" and frame.empty:
        print("no differences")
        return
    _out(args, frame)


def cmd_codebook_show(args: argparse.Namespace) -> None:
    from evalkit.codebook import codebook_tree

    codebook = _project_codebook(args.project)
    tree = codebook_tree(codebook)
    if args.format != "table":
        _out(args, tree)
        return
    print(f"{codebook.title} (version {codebook.version})")
    for _, row in tree.iterrows():
        marker = " [tension]" if row["tension"] else ""
        print(f"{'    ' * row['depth']}{row['code']}  {row['brief']}{marker}")
    for domain, members in codebook.domains.items():
        print(f"domain '{domain}': {', '.join(members)}")


def _coder_list(value: str | None) -> list[str] | None:
    return [c.strip() for c in value.split(",") if c.strip()] if value else None


def cmd_codings_import(args: argparse.Namespace) -> None:
    from evalkit.codings import import_codings

    with Store.open(args.project) as store:
        report = import_codings(
            store,
            args.file,
            coder=args.coder,
            layout=args.layout,
            add_missing_codes=args.add_missing_codes,
            actor=args.user,
        )
    if report.added_codes:
        _note(f"added to the codebook (define them): {', '.join(report.added_codes)}")
    if report.unresolved:
        _note(f"{report.unresolved} unit(s) had no consensus yet and were skipped")
    if args.format == "json":
        _out(args, report.to_dict())
    else:
        print(
            f"imported {report.codings} coding(s) of {report.units} unit(s) by "
            f"{', '.join(report.coders)} ({report.layout} layout); {report.replaced} replaced"
        )


def cmd_codings_list(args: argparse.Namespace) -> None:
    with Store.open(args.project) as store:
        frame = store.codings_df(coders=_coder_list(args.coders))
    if args.format == "table":
        frame = frame[["excerpt_id", "coder", "code", "origin", "created_at"]]
    _out(args, frame)


def cmd_agree(args: argparse.Namespace) -> None:
    from evalkit.agreement import categorical_agreement, code_agreement
    from evalkit.codings import read_codings_table

    coders = _coder_list(args.coders)
    if args.file and args.project:
        raise EvalkitError("give either FILE or --project, not both", hint="See --help")
    if args.file:
        if args.categorical:
            from evalkit.ingest.tabular import load_table, require_columns, spreadsheet_row

            table = load_table(args.file)
            require_columns(table, ["unit", "coder", "value"], Path(args.file), "categorical")
            table = table.assign(row=[spreadsheet_row(i) for i in range(len(table))])
            _out(args, categorical_agreement(table, coders=coders, path=args.file))
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
        _out(args, report.to_dict())
        return
    table = report.table()
    if args.format == "csv":
        _out(args, table)
        return
    print(f"{report.n_units} units coded by {', '.join(report.coders)}")
    print(table.round(3).to_string(index=False, na_rep="–"))
    for code, notes in report.notes.items():
        for statistic, reason in notes.items():
            _note(f"note: {code} {statistic} undefined: {reason}")


def cmd_disagreements(args: argparse.Namespace) -> None:
    from evalkit.codings import disagreements, write_disagreements

    with Store.open(args.project) as store:
        frame = disagreements(store, _coder_list(args.coders) or [])
    write_disagreements(frame, args.out)
    _note(f"wrote {len(frame)} disagreement(s) to {args.out}")


# -- parser --------------------------------------------------------------------------------


def _command(
    subparsers: argparse._SubParsersAction,
    name: str,
    handler: Callable[[argparse.Namespace], None],
    help_text: str,
    example: str,
    *,
    project: bool = True,
    formats: bool = True,
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler)
    if project:
        parser.add_argument("--project", "-p", required=True, help="the project folder")
    if formats:
        parser.add_argument("--format", "-f", choices=FORMATS, default="table")
    parser.add_argument("--user", help="who is acting, for the audit log ($EVALKIT_USER)")
    return parser


def _group(
    subparsers: argparse._SubParsersAction, name: str, help_text: str, description: str
) -> argparse._SubParsersAction:
    """A command with actions of its own (``evalkit codebook validate``)."""
    parser = subparsers.add_parser(name, help=help_text, description=description)
    return parser.add_subparsers(dest=f"{name}_action", required=True, metavar="ACTION")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evalkit",
        description="Local, private qualitative analysis for CBPR evaluations.",
        epilog="example:\n  evalkit init myproject && evalkit ingest interviews/ "
        "--project myproject --kind interview",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _command(
        subparsers,
        "init",
        cmd_init,
        "create a project folder",
        "evalkit init taskforce_eval",
        project=False,
        formats=False,
    )
    p.add_argument("dir", help="folder to create the project in")

    p = _command(
        subparsers,
        "ingest",
        cmd_ingest,
        "add transcripts, field notes or documents to a project",
        "evalkit ingest data_sample/interviews --project proj --kind interview "
        "--attributes data_sample/attributes.csv",
    )
    p.add_argument("paths", nargs="+", help="files or folders (walked recursively)")
    p.add_argument("--kind", "-k", required=True, choices=KINDS)
    p.add_argument("--attributes", "-a", help="CSV/XLSX of attributes keyed by 'file'")
    p.add_argument("--id-column", default="id", help="spreadsheets: the respondent ID column")
    p.add_argument(
        "--text-column", action="append", help="spreadsheets: a column of answers (repeatable)"
    )
    p.add_argument("--max-chars", type=int, default=DEFAULT_MAX_CHARS, help="longest excerpt")

    p = _command(
        subparsers,
        "sources",
        cmd_sources,
        "list the sources in a project",
        "evalkit sources --project proj --format csv > sources.csv",
    )
    p.add_argument("--kind", "-k", choices=KINDS)

    p = _command(
        subparsers,
        "excerpts",
        cmd_excerpts,
        "list excerpts with their offsets, text and source attributes",
        "evalkit excerpts --project proj --kind interview --format json",
    )
    p.add_argument("--kind", "-k", choices=KINDS)
    p.add_argument("--source", "-s", help="only this source ID")

    _command(
        subparsers,
        "stats",
        cmd_stats,
        "count sources, excerpts, words, codes and codings",
        "evalkit stats --project proj --format json",
    )

    books = _group(
        subparsers,
        "codebook",
        "validate, load, export, compare and show codebooks",
        "Codebooks in YAML, CSV, XLSX, REFI-QDA (.qdc) and Word.",
    )
    p = _command(
        books,
        "validate",
        cmd_codebook_validate,
        "check a codebook file and list every problem with its line or row",
        "evalkit codebook validate codebooks/sf_taskforce.yaml",
        project=False,
    )
    p.add_argument("file", help="YAML, CSV, XLSX, QDC, QDE or QDPX")
    p = _command(
        books,
        "load",
        cmd_codebook_load,
        "make a codebook file the project's current codebook (recording its version)",
        "evalkit codebook load codebooks/sf_taskforce.yaml --project proj",
    )
    p.add_argument("file", help="YAML, CSV, XLSX, QDC, QDE or QDPX")
    p = _command(
        books,
        "export",
        cmd_codebook_export,
        "write the project's codebook as YAML, CSV, XLSX, REFI-QDA .qdc or Word",
        "evalkit codebook export --project proj --format docx --out codebook_for_cab.docx",
        formats=False,
    )
    p.add_argument("--format", "-f", dest="to", required=True, choices=EXPORT_FORMATS)
    p.add_argument("--out", "-o", required=True, help="file to write")
    p = _command(
        books,
        "diff",
        cmd_codebook_diff,
        "list codes added, removed, changed (field by field) and likely renamed",
        "evalkit codebook diff codebook_v1.yaml codebook_v2.yaml",
        project=False,
    )
    p.add_argument("old")
    p.add_argument("new")
    _command(
        books,
        "show",
        cmd_codebook_show,
        "show the project's codebook as a tree",
        "evalkit codebook show --project proj",
    )

    coding_actions = _group(
        subparsers,
        "codings",
        "import and list human codings",
        "Human codings from spreadsheets (long, wide or consensus layout).",
    )
    p = _command(
        coding_actions,
        "import",
        cmd_codings_import,
        "import a coder's codings (CSV/XLSX) into the project",
        "evalkit codings import data_sample/codings/coder_maria.csv --project proj",
    )
    p.add_argument("file")
    p.add_argument("--coder", help="the coder of this file, if it has no 'coder' column")
    p.add_argument("--layout", choices=("auto", "long", "wide", "consensus"), default="auto")
    p.add_argument(
        "--add-missing-codes",
        action="store_true",
        help="add codes that are not in the codebook (as a new codebook version)",
    )
    p = _command(
        coding_actions,
        "list",
        cmd_codings_list,
        "list codings with who made them, when, and from where",
        "evalkit codings list --project proj --coders maria --format csv",
    )
    p.add_argument("--coders", help="comma-separated coder names")

    p = _command(
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

    p = _command(
        subparsers,
        "disagreements",
        cmd_disagreements,
        "write the units coders coded differently, for the consensus meeting",
        "evalkit disagreements --project proj --coders maria,jamal --out consensus.xlsx",
        formats=False,
    )
    p.add_argument("--coders", required=True, help="comma-separated coder names")
    p.add_argument("--out", "-o", required=True, help=".xlsx, .docx or .csv")

    p = _command(
        subparsers,
        "demo",
        cmd_demo,
        "run the whole pipeline on the sample corpus and write a Word report",
        "evalkit demo --out demo_out",
        project=False,
    )
    p.add_argument("--out", required=True, help="folder for the demo project and report")
    p.add_argument("--data", help="sample corpus folder (default: the bundled data_sample/)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (2 for a user error)."""
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except EvalkitError as error:
        print(f"evalkit: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `evalkit excerpts ... | head` closes the pipe early; that is not an error.
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
