"""Assisted coding: suggest run|list|accept|reject|next, themes, coder-eval."""

from __future__ import annotations

import argparse

from evalkit.cli.common import command, group, note, out
from evalkit.errors import EvalkitError
from evalkit.store import Store


def cmd_suggest_run(args: argparse.Namespace) -> None:
    from evalkit.project import run_suggestions

    with Store.open(args.project) as store:
        result = run_suggestions(store, min_examples=args.min_examples, actor=args.user)
    if args.format == "json":
        out(args, result.to_dict())
    else:
        print(
            f"{result.suggestions} suggestion(s) for {result.excerpts_scored} uncoded"
            f" excerpt(s), learned from {result.trained_on} coded excerpt(s)"
            f" (model {result.model_version}; own models for"
            f" {len(result.codes_with_models)} code(s), the rest cold start)"
        )


def cmd_suggest_list(args: argparse.Namespace) -> None:
    with Store.open(args.project) as store:
        frame = store.suggestions_df(status=None if args.status == "all" else args.status)
        if args.format == "table":
            texts = store.excerpts_df().set_index("excerpt_id")["text"]
    if args.code:
        frame = frame[frame["code"] == args.code]
    if args.above is not None:
        frame = frame[frame["confidence"] >= args.above]
    frame = frame.head(args.limit) if args.limit else frame
    if args.format == "table":
        frame = frame.assign(text=frame["excerpt_id"].map(texts))[
            ["suggestion_id", "excerpt_id", "code", "confidence", "origin", "rationale", "text"]
        ]
    out(args, frame)


def _review(args: argparse.Namespace, accept: bool) -> None:
    from evalkit.project import review

    try:
        ids = [int(i) for raw in args.ids for i in raw.split(",") if i.strip()]
    except ValueError:
        raise EvalkitError(
            f"suggestion IDs must be numbers, got {' '.join(args.ids)}",
            hint="See 'evalkit suggest list' for the IDs",
        ) from None
    with Store.open(args.project) as store:
        result = review(
            store,
            ids,
            accept=accept,
            reviewer=args.reviewer,
            above=args.above,
            code=args.code,
            actor=args.user,
        )
    if args.format == "json":
        out(args, result.to_dict())
    else:
        verb = "accepted" if accept else "rejected"
        extra = f"; {result.codings} coding(s) added for {args.reviewer}" if accept else ""
        print(f"{getattr(result, verb)} suggestion(s) {verb} by {args.reviewer}{extra}")


def cmd_suggest_accept(args: argparse.Namespace) -> None:
    _review(args, accept=True)


def cmd_suggest_reject(args: argparse.Namespace) -> None:
    _review(args, accept=False)


def cmd_suggest_next(args: argparse.Namespace) -> None:
    from evalkit.project import next_to_code

    with Store.open(args.project) as store:
        frame = next_to_code(store, args.n)
    out(args, frame)


def cmd_themes(args: argparse.Namespace) -> None:
    from evalkit.coding.themes import project_themes

    with Store.open(args.project) as store:
        themes = project_themes(store, args.k, uncovered=args.uncovered, seed=args.seed)
    if args.format == "json":
        out(args, themes.to_dict())
        return
    if args.format == "csv":
        out(args, themes.themes)
        return
    print(themes.themes.to_string(index=False))
    print("\nShare of each source kind's excerpts:")
    print(themes.by_kind.to_string())
    print("\nMost representative excerpts:")
    for _, row in themes.examples[themes.examples["rank"] == 1].iterrows():
        print(f"{row['theme']} {row['excerpt_id']}: {' '.join(row['text'].split())[:160]}")


def cmd_coder_eval(args: argparse.Namespace) -> None:
    from evalkit.codebook import load_codebook
    from evalkit.coding.evaluate import coder_eval, read_coded_units

    frame = read_coded_units(args.file)
    codebook = load_codebook(args.codebook) if args.codebook else None
    result = coder_eval(frame, args.coder, folds=args.folds, seed=args.seed, codebook=codebook)
    if args.format == "json":
        out(args, result.to_dict())
        return
    import pandas as pd

    table = pd.DataFrame.from_dict(result.codes, orient="index").rename_axis("code")
    print(
        f"{result.n_units} units coded by {result.coder}, {result.folds}-fold"
        f" cross-validation, {result.seconds} s"
    )
    print(table.reset_index().drop(columns=["note"], errors="ignore").to_string(index=False))
    macro = result.macro
    print(
        f"macro over {macro['n_codes']} code(s) with 10+ positives: kappa {macro['kappa']},"
        f" human kappa {macro['human_kappa']}, F1 {macro['f1']}"
    )
    print(f"recall at 30% effort: {result.recall_at_30pct_effort}")
    rare = [c for c, e in result.codes.items() if "note" in e]
    if rare:
        note(f"too few positives for a model of their own: {', '.join(rare)}")


def register(subparsers: argparse._SubParsersAction) -> None:
    actions = group(
        subparsers,
        "suggest",
        "machine suggestions for people to accept or reject",
        "Suggestions learned from the team's own coding; nothing is coded until accepted.",
        "evalkit suggest run --project proj && evalkit suggest list --project proj",
    )
    p = command(
        actions,
        "run",
        cmd_suggest_run,
        "suggest codes for every uncoded excerpt",
        "evalkit suggest run --project proj",
    )
    p.add_argument("--min-examples", type=int, default=8, help="examples before a code's own model")
    p = command(
        actions,
        "list",
        cmd_suggest_list,
        "list suggestions with confidence and rationale",
        "evalkit suggest list --project proj --above 0.8",
    )
    p.add_argument(
        "--status",
        choices=("suggested", "accepted", "rejected", "all"),
        default="suggested",
        help="which suggestions to list (default: those waiting for review)",
    )
    p.add_argument("--code", help="only this code")
    p.add_argument("--above", type=float, help="only at or above this confidence")
    p.add_argument("--limit", type=int, default=0, help="show at most this many")
    for name, handler, verb in (
        ("accept", cmd_suggest_accept, "accept"),
        ("reject", cmd_suggest_reject, "reject"),
    ):
        p = command(
            actions,
            name,
            handler,
            f"{verb} suggestions by ID, or all above a confidence",
            f"evalkit suggest {name} 12 15 --project proj --reviewer maria"
            f"   |   evalkit suggest {name} --above 0.9 --project proj --reviewer maria",
        )
        p.add_argument("ids", nargs="*", help="suggestion IDs")
        p.add_argument("--reviewer", required=True, help="who decides (recorded with the time)")
        p.add_argument("--above", type=float, help=f"{verb} every open suggestion at or above this")
        p.add_argument("--code", help="with --above: only this code")
    p = command(
        actions,
        "next",
        cmd_suggest_next,
        "the uncoded excerpts to code next (most informative, and varied)",
        "evalkit suggest next --project proj --n 20",
    )
    p.add_argument("--n", type=int, default=20, help="how many excerpts to propose")

    p = command(
        subparsers,
        "themes",
        cmd_themes,
        "emergent themes (NMF over excerpt TF-IDF, fixed seed)",
        "evalkit themes --project proj --k 8 --uncovered",
    )
    p.add_argument("--k", type=int, default=8, help="number of themes")
    p.add_argument("--uncovered", action="store_true", help="only excerpts no code covers yet")
    p.add_argument("--seed", type=int, default=0, help="random seed, for repeatable results")

    p = command(
        subparsers,
        "coder-eval",
        cmd_coder_eval,
        "cross-validated agreement of the suggester with a human coder (no project needed)",
        "evalkit coder-eval codings.csv --coder maria --folds 5 --seed 0 --format json",
        project=False,
    )
    p.add_argument("file", help="long CSV/XLSX with unit,text,coder,code")
    p.add_argument("--coder", required=True, help="whose coding the suggester learns")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    p.add_argument("--seed", type=int, default=0, help="random seed, for repeatable results")
    p.add_argument("--codebook", help="optional codebook for rule features and cold start")


def cmd_matrix(args: argparse.Namespace) -> None:
    from evalkit import analysis
    from evalkit.codebook import project_codebook

    with Store.open(args.project) as store:
        codebook = project_codebook(store)
        if codebook is None:
            raise EvalkitError(
                "the project has no codebook, so it has no domains",
                path=args.project,
                hint="Load one with 'evalkit codebook load FILE --project DIR'",
            )
        applied = analysis.applied_codes(store, codebook)
        summaries = analysis.domain_summaries(applied, codebook)
        matrix = analysis.domain_matrix(summaries, store.sources_df(), codebook)
    analysis.write_matrix_xlsx(matrix, args.out)
    filled = int((matrix[list(codebook.domains)] != "").sum().sum())
    note(
        f"wrote {args.out}: {len(matrix)} sources x {len(codebook.domains)} domains,"
        f" {filled} cells with quotes"
    )
    if args.format == "json":
        out(args, matrix)


def register_analysis(subparsers: argparse._SubParsersAction) -> None:
    p = command(
        subparsers,
        "matrix",
        cmd_matrix,
        "the participant x domain matrix of key quotes (rapid qualitative analysis), as XLSX",
        "evalkit matrix --project proj --out matrix.xlsx",
    )
    p.add_argument("--out", "-o", required=True, help="the .xlsx to write")


def cmd_report(args: argparse.Namespace) -> None:
    from evalkit.fileio import save_docx
    from evalkit.report import evaluation_report

    with Store.open(args.project) as store:
        kwargs = {"title": args.title} if args.title else {}
        document = evaluation_report(store, seed=args.seed, memos=args.memos, **kwargs)
    save_docx(document, args.out)
    note(f"wrote {args.out}")


def register_report(subparsers: argparse._SubParsersAction) -> None:
    p = command(
        subparsers,
        "report",
        cmd_report,
        "write the Word evaluation report from a coded project",
        "evalkit report --project proj --out report.docx --title 'Task force evaluation'",
        formats=False,
    )
    p.add_argument("--out", "-o", required=True, help="the .docx to write")
    p.add_argument("--title", help="the report's title")
    p.add_argument("--seed", type=int, default=0, help="seed for emergent themes")
    p.add_argument("--memos", action="store_true", help="add the team's memos as an appendix")
