"""evalkit codebook validate|load|export|diff|show."""

from __future__ import annotations

import argparse

from evalkit.cli.common import command, group, note, out
from evalkit.codebook import EXPORT_FORMATS
from evalkit.errors import EvalkitError
from evalkit.store import Store


def cmd_codebook_validate(args: argparse.Namespace) -> None:
    from evalkit.codebook import check_codebook

    codebook, problems = check_codebook(args.file)
    errors = [p for p in problems if p.level == "error"]
    if args.format == "json":
        out(
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
    from evalkit.project import load_into_project

    with Store.open(args.project) as store:
        codebook, status, warnings = load_into_project(store, args.file, actor=args.user)
    for warning in warnings:
        note(f"warning: {warning.format(args.file)}")
    result = {
        "status": status,
        "title": codebook.title,
        "version": codebook.version,
        "codes": len(codebook.codes),
    }
    if args.format == "json":
        out(args, result)
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
    note(f"wrote {args.out}")


def cmd_codebook_diff(args: argparse.Namespace) -> None:
    from evalkit.codebook import diff_codebooks, load_codebook

    frame = diff_codebooks(load_codebook(args.old), load_codebook(args.new))
    if args.format == "table" and frame.empty:
        print("no differences")
        return
    out(args, frame)


def cmd_codebook_show(args: argparse.Namespace) -> None:
    from evalkit.codebook import codebook_tree

    codebook = _project_codebook(args.project)
    tree = codebook_tree(codebook)
    if args.format != "table":
        out(args, tree)
        return
    print(f"{codebook.title} (version {codebook.version})")
    for _, row in tree.iterrows():
        marker = " [tension]" if row["tension"] else ""
        print(f"{'    ' * row['depth']}{row['code']}  {row['brief']}{marker}")
    for domain, members in codebook.domains.items():
        print(f"domain '{domain}': {', '.join(members)}")


def register(subparsers: argparse._SubParsersAction) -> None:
    books = group(
        subparsers,
        "codebook",
        "validate, load, export, compare and show codebooks",
        "Codebooks in YAML, CSV, XLSX, REFI-QDA (.qdc) and Word.",
        "evalkit codebook validate codebooks/sf_taskforce.yaml",
    )
    p = command(
        books,
        "validate",
        cmd_codebook_validate,
        "check a codebook file and list every problem with its line or row",
        "evalkit codebook validate codebooks/sf_taskforce.yaml",
        project=False,
    )
    p.add_argument("file", help="YAML, CSV, XLSX, QDC, QDE or QDPX")
    p = command(
        books,
        "load",
        cmd_codebook_load,
        "make a codebook file the project's current codebook (recording its version)",
        "evalkit codebook load codebooks/sf_taskforce.yaml --project proj",
    )
    p.add_argument("file", help="YAML, CSV, XLSX, QDC, QDE or QDPX")
    p = command(
        books,
        "export",
        cmd_codebook_export,
        "write the project's codebook as YAML, CSV, XLSX, REFI-QDA .qdc or Word",
        "evalkit codebook export --project proj --format docx --out codebook_for_cab.docx",
        formats=False,
    )
    p.add_argument(
        "--format", "-f", dest="to", required=True, choices=EXPORT_FORMATS, help="file format"
    )
    p.add_argument("--out", "-o", required=True, help="file to write")
    p = command(
        books,
        "diff",
        cmd_codebook_diff,
        "list codes added, removed, changed (field by field) and likely renamed",
        "evalkit codebook diff codebook_v1.yaml codebook_v2.yaml",
        project=False,
    )
    p.add_argument("old")
    p.add_argument("new")
    command(
        books,
        "show",
        cmd_codebook_show,
        "show the project's codebook as a tree",
        "evalkit codebook show --project proj",
    )
