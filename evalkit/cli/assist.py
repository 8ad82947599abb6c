"""Assisted coding: suggest run|list|accept|reject|next, themes, coder-eval."""

from __future__ import annotations

import argparse

from evalkit.cli.common import command, group, note, out
from evalkit.errors import EvalkitError
from evalkit.store import Store


def _embedder(args: argparse.Namespace, store=None):
    from evalkit.embedding import CachedEmbedder, load_embedder
    from evalkit.project.embeddings import project_embedder

    if args.no_embeddings:
        return None
    if store is None:
        return CachedEmbedder(load_embedder(args.embedding_model))
    return project_embedder(store, args.embedding_model)


def _llm(args: argparse.Namespace):
    from evalkit.project.llmgate import LLMSettings

    if not args.llm:
        if args.model:
            raise EvalkitError("--model names the LLM to use with --llm URL", hint="Add --llm URL")
        return None
    if not args.model:
        raise EvalkitError(
            "--llm needs --model NAME (the model the server runs, e.g. qwen2.5:7b-instruct)"
        )
    return LLMSettings(
        url=args.llm, model=args.model, timeout=args.llm_timeout, allow_remote=args.llm_allow_remote
    )


def cmd_suggest_run(args: argparse.Namespace) -> None:
    from evalkit.project import run_suggestions

    llm = _llm(args)
    with Store.open(args.project) as store:
        result = run_suggestions(
            store,
            min_examples=args.min_examples,
            actor=args.user,
            embedder=_embedder(args, store),
            llm=llm,
        )
    if args.format == "json":
        out(args, result.to_dict())
    else:
        print(
            f"{result.suggestions} suggestion(s) for {result.excerpts_scored} uncoded"
            f" excerpt(s), learned from {result.trained_on} coded excerpt(s)"
            f" (model {result.model_version}; own models for"
            f" {len(result.codes_with_models)} code(s), the rest cold start)"
        )
        if llm is not None:
            print(f"{result.llm_suggestions} of them from the LLM coder, for its gated codes")


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
    from evalkit.project.suggestions import plan_reading

    with Store.open(args.project) as store:
        plan = plan_reading(store, args.n, embedder=_embedder(args, store))
    if args.format == "json":
        out(args, plan.to_dict())
        return
    if args.format == "csv":
        out(args, plan.picks)
        return
    out(args, plan.picks)
    print(
        f"\nRead so far: {plan.read} of {plan.read + plan.unread} excerpts ({plan.read_share:.0%})"
    )
    for line in plan.sentences():
        print(line)


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

    if bool(args.file) == bool(args.project):
        raise EvalkitError(
            "coder-eval needs a coded file or --project DIR (one of them)",
            hint="evalkit coder-eval coded.csv --coder maria, or --project proj --coder maria",
        )
    llm = _llm(args)
    if args.learning_curve:
        _learning_curve(args)
        return
    if args.gate is not None and not (llm and args.project):
        raise EvalkitError(
            "--gate records an LLM gate in a project",
            hint="Use it with --project DIR --llm URL --model NAME",
        )
    gate = None
    if args.project:
        from evalkit.project.llmgate import measure_gate, project_units

        with Store.open(args.project) as store:
            if llm is not None:
                result, gate = measure_gate(
                    store,
                    args.coder,
                    llm,
                    threshold=args.gate,
                    folds=args.folds,
                    seed=args.seed,
                    actor=args.user,
                )
            else:
                from evalkit.codebook import require_codebook

                result = coder_eval(
                    project_units(store),
                    args.coder,
                    folds=args.folds,
                    seed=args.seed,
                    codebook=require_codebook(store, purpose="coder-eval uses its rules"),
                    embedder=_embedder(args, store),
                )
    else:
        frame = read_coded_units(args.file)
        codebook = load_codebook(args.codebook) if args.codebook else None
        if llm is not None:
            if codebook is None:
                raise EvalkitError("the LLM coder needs the codebook", hint="Add --codebook FILE")
            result = coder_eval(
                frame,
                args.coder,
                folds=args.folds,
                seed=args.seed,
                codebook=codebook,
                make_coder=lambda: llm.coder(codebook),
            )
        else:
            result = coder_eval(
                frame,
                args.coder,
                folds=args.folds,
                seed=args.seed,
                codebook=codebook,
                embedder=_embedder(args),
            )
    if args.format == "json":
        out(args, {**result.to_dict(), **({"gate": gate.to_dict()} if gate else {})})
        return
    import pandas as pd

    table = pd.DataFrame.from_dict(result.codes, orient="index").rename_axis("code")
    print(
        f"{result.n_units} units coded by {result.coder}, {result.folds}-fold"
        f" cross-validation of {result.model}, {result.seconds} s"
    )
    print(table.reset_index().drop(columns=["note"], errors="ignore").to_string(index=False))
    macro = result.macro
    print(
        f"macro over {macro['n_codes']} code(s) with 10+ positives: kappa {macro['kappa']},"
        f" human kappa {macro['human_kappa']}, F1 {macro['f1']}"
    )
    print(f"recall at 30% effort: {result.recall_at_30pct_effort}")
    for code, entry in result.codes.items():
        if "stop_read_share" in entry:
            print(
                f"{code}: stopping at 90% estimated recall would read"
                f" {entry['stop_read_share']:.0%} and find {entry['stop_true_recall']:.0%}"
            )
    if gate is not None:
        enabled = ", ".join(gate.enabled) or "none"
        print(f"LLM gate κ ≥ {gate.threshold} recorded for {gate.model}: enabled for {enabled}")
    rare = [c for c, e in result.codes.items() if "note" in e]
    if rare:
        note(f"too few positives for a model of their own: {', '.join(rare)}")


def _learning_curve(args: argparse.Namespace) -> None:
    import pandas as pd

    from evalkit.codebook import load_codebook
    from evalkit.coding.evaluate import learning_curve, read_coded_units

    try:
        sizes = [int(s) for s in args.learning_curve.split(",") if s.strip()]
    except ValueError:
        raise EvalkitError(
            f"--learning-curve takes sizes such as 100,200,400,800, not '{args.learning_curve}'"
        ) from None
    if args.project or args.llm:
        raise EvalkitError("--learning-curve measures the learned coder on a coded file")
    frame = read_coded_units(args.file)
    codebook = load_codebook(args.codebook) if args.codebook else None
    points = learning_curve(
        frame,
        args.coder,
        sizes,
        folds=args.folds,
        seed=args.seed,
        codebook=codebook,
        embedder=_embedder(args),
    )
    table = pd.DataFrame([p.__dict__ for p in points])
    if args.format == "json":
        out(args, table.to_dict(orient="records"))
        return
    out(args, table)


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
    _embedding_options(p)
    _llm_options(p)
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
    _embedding_options(p)

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
        "evalkit coder-eval codings.csv --coder maria --folds 5 --seed 0 --format json"
        "   |   evalkit coder-eval --project proj --coder maria --llm http://127.0.0.1:11434/v1"
        " --model qwen2.5:7b-instruct --gate 0.6",
        project=False,
    )
    p.add_argument("file", nargs="?", help="long CSV/XLSX with unit,text,coder,code")
    p.add_argument("--project", "-p", help="evaluate on this project's coded excerpts instead")
    p.add_argument("--coder", required=True, help="whose coding the suggester learns")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    p.add_argument("--seed", type=int, default=0, help="random seed, for repeatable results")
    p.add_argument("--codebook", help="optional codebook for rule features and cold start")
    _embedding_options(p)
    _llm_options(p)
    p.add_argument(
        "--learning-curve",
        metavar="SIZES",
        help="κ ratio with the training folds cut to these sizes, e.g. 100,200,400,800",
    )
    p.add_argument(
        "--gate",
        type=float,
        help="with --project and --llm: record the κ the LLM must reach, per code, to suggest",
    )


def _embedding_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--embedding-model",
        help="a model folder (model.onnx, tokenizer.json, evalkit-model.json) instead of the"
        " default all-MiniLM-L6-v2 ($EVALKIT_EMBEDDING_MODEL)",
    )
    p.add_argument(
        "--no-embeddings", action="store_true", help="TF-IDF and rules only, no sentence embeddings"
    )


def _llm_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--llm", help="a local OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1"
    )
    p.add_argument("--model", help="with --llm: the model name the server runs")
    p.add_argument("--llm-timeout", type=float, default=60.0, help="seconds to wait per excerpt")
    p.add_argument(
        "--llm-allow-remote",
        action="store_true",
        help="allow an endpoint that is not on this machine (excerpts would leave it)",
    )


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
