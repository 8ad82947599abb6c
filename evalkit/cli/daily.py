"""The researcher's daily tools: search, memo, code (management) and cases."""

from __future__ import annotations

import argparse
from pathlib import Path

from evalkit.cli.common import coder_list, command, group, out
from evalkit.model import KINDS
from evalkit.store import Store


def cmd_search(args: argparse.Namespace) -> None:
    from evalkit.project import code_hits
    from evalkit.project.embeddings import project_embedder
    from evalkit.search import search

    with Store.open(args.project) as store:
        hits = search(
            store,
            args.query,
            mode=args.mode,
            kind=args.kind,
            sector=args.sector,
            speaker=args.speaker,
            code=args.code,
            without_code=args.without_code,
            coder=args.coder if not args.code_as else None,
            date_from=args.date_from,
            date_to=args.date_to,
            context=args.context,
            limit=args.limit,
            embedder=project_embedder(store) if args.mode == "meaning" else None,
        )
        if args.code_as:
            result = code_hits(store, hits, code=args.code_as, coder=args.coder, actor=args.user)
            out(args, {"hits": len(hits), **result, "undo": "evalkit undo --project ..."})
            return
    if args.format == "table":
        shown = ["left", "match", "right", "excerpt_id", "sector"]
        hits = hits[shown + (["score"] if "score" in hits else [])]
    out(args, hits)


def cmd_memo_add(args: argparse.Namespace) -> None:
    body = Path(args.file).read_text(encoding="utf-8") if args.file else (args.text or "")
    from evalkit.project import add_memo

    with Store.open(args.project) as store:
        kind = "recommendation" if args.recommendation else "note"
        memo_id = add_memo(
            store, args.title, body, on=args.on, target=args.target, kind=kind, actor=args.user
        )
        title = store.memos_df().set_index("memo_id").loc[memo_id, "title"]
    out(
        args,
        {"memo_id": memo_id, "on": args.on, "target": args.target, "title": title, "kind": kind},
    )


def cmd_memo_list(args: argparse.Namespace) -> None:
    with Store.open(args.project) as store:
        frame = store.memos_df(
            on=args.on, target=args.target, kind="recommendation" if args.recommendations else None
        )
    if args.format == "table":
        frame = frame.drop(columns=["body"])
    out(args, frame)


def cmd_memo_show(args: argparse.Namespace) -> None:
    from evalkit.errors import EvalkitError

    with Store.open(args.project) as store:
        frame = store.memos_df()
    found = frame[frame["memo_id"] == args.memo_id]
    if found.empty:
        raise EvalkitError(f"no memo {args.memo_id}", hint="See 'evalkit memo list'")
    memo = found.iloc[0].to_dict()
    if args.format == "json":
        out(args, memo)
        return
    about = memo["target_kind"] + (f" {memo['target']}" if memo["target"] else "")
    print(f"# {memo['title']}\n\n{memo['author']}, {memo['created_at']}, on the {about}\n")
    print(memo["body"])


def cmd_code(args: argparse.Namespace) -> None:
    from evalkit.project import codes as manage

    with Store.open(args.project) as store:
        action = args.code_action
        if action == "rename":
            result = manage.rename_code(store, args.code, args.new, actor=args.user)
        elif action == "merge":
            result = manage.merge_codes(store, coder_list(args.codes), args.into, actor=args.user)
        elif action == "split":
            result = manage.split_code(
                store, args.code, args.child, coder_list(args.excerpts), actor=args.user
            )
        elif action == "move":
            result = manage.move_code(store, args.code, args.parent, actor=args.user)
        else:
            result = manage.delete_code(store, args.code, actor=args.user)
    out(args, result.to_dict())


def cmd_cases(args: argparse.Namespace) -> None:
    from evalkit import analysis
    from evalkit.codebook import project_codebook

    with Store.open(args.project) as store:
        applied = analysis.applied_codes(store, project_codebook(store))
        frame = analysis.code_by_case(
            applied,
            store.sources_df(),
            has=coder_list(args.has) or (),
            lacks=coder_list(args.lacks) or (),
            sector=args.sector,
            kind=args.kind,
        )
    out(args, frame)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command(
        subparsers,
        "search",
        cmd_search,
        "keyword-in-context search of excerpts; optionally code every hit",
        "evalkit search 'bad date list' --project proj --mode phrase --sector sex_worker_led",
    )
    p.add_argument("query", help="words, a phrase, a word to match in all its forms, or a regex")
    p.add_argument(
        "--mode",
        "-m",
        choices=("word", "phrase", "lemma", "regex", "meaning"),
        default="word",
        help="how to match (default: every word; meaning: closest in meaning, by embeddings)",
    )
    p.add_argument("--kind", "-k", choices=KINDS, help="only sources of this kind")
    p.add_argument("--sector", help="only sources of this sector")
    p.add_argument("--speaker", help="only this speaker (a pseudonym such as P07)")
    p.add_argument("--code", help="only excerpts coded with this code")
    p.add_argument("--without-code", help="only excerpts not coded with this code")
    p.add_argument("--coder", help="the coder for --code/--without-code, and for --code-as")
    p.add_argument("--from", dest="date_from", help="only sources dated on or after (ISO)")
    p.add_argument("--to", dest="date_to", help="only sources dated on or before (ISO)")
    p.add_argument("--context", type=int, default=50, help="characters of context each side")
    p.add_argument("--limit", type=int, help="at most this many hits")
    p.add_argument(
        "--code-as",
        help="code every excerpt found with this code (one undoable operation; needs --coder)",
    )

    memos = group(
        subparsers,
        "memo",
        "analytic memos on the project, a code, a source or an excerpt",
        "Memos with an author, a time, a title and Markdown text.",
        "evalkit memo add --project proj --on code --target HOUSING_GAP --title 'Beds'",
    )
    p = command(
        memos,
        "add",
        cmd_memo_add,
        "write a memo",
        "evalkit memo add --project proj --on source --target P04 --title 'Trust' --text '…'",
    )
    p.add_argument("--title", required=True, help="the memo's title")
    p.add_argument("--text", help="the memo (Markdown)")
    p.add_argument("--file", help="read the memo from a Markdown file instead")
    p.add_argument(
        "--on",
        choices=("project", "code", "source", "excerpt"),
        default="project",
        help="what the memo is about (default: the project)",
    )
    p.add_argument("--target", help="the code name, source ID or excerpt ID")
    p.add_argument(
        "--recommendation",
        action="store_true",
        help="mark the memo as a recommendation (the report lists these under Recommendations)",
    )
    p = command(
        memos, "list", cmd_memo_list, "list memos, oldest first", "evalkit memo list --project proj"
    )
    p.add_argument(
        "--on",
        choices=("project", "code", "source", "excerpt"),
        help="only memos on this kind of thing",
    )
    p.add_argument("--target", help="only memos on this code, source or excerpt")
    p.add_argument("--recommendations", action="store_true", help="only recommendations")
    p = command(memos, "show", cmd_memo_show, "show one memo", "evalkit memo show 3 -p proj")
    p.add_argument("memo_id", type=int, help="the memo's number, from 'evalkit memo list'")

    codes = group(
        subparsers,
        "code",
        "rename, merge, split, move or delete codes (each undoable)",
        "Each change makes a new codebook version and moves the codings with the code.",
        "evalkit code merge --project proj --codes HOUSING_GAP,NEEDS --into NEEDS",
    )
    p = command(
        codes,
        "rename",
        cmd_code,
        "give a code a new name",
        "evalkit code rename NEEDS SERVICE_GAPS --project proj",
    )
    p.add_argument("code", help="the code")
    p.add_argument("new", help="its new name")
    p = command(
        codes,
        "merge",
        cmd_code,
        "merge codes into one; duplicates collapse",
        "evalkit code merge --project proj --codes HOUSING_GAP,YOUTH_AFTER_HOURS --into NEEDS",
    )
    p.add_argument("--codes", required=True, help="comma-separated codes to merge")
    p.add_argument("--into", required=True, help="the code they become")
    p = command(
        codes,
        "split",
        cmd_code,
        "move some codings of a code to a new child code",
        "evalkit code split POLICY POLICY_BULLETIN --excerpts P02-1a2b,P03-3c4d -p proj",
    )
    p.add_argument("code", help="the code to split")
    p.add_argument("child", help="the new child code")
    p.add_argument("--excerpts", required=True, help="comma-separated excerpt IDs to move")
    p = command(
        codes,
        "move",
        cmd_code,
        "put a code under another parent",
        "evalkit code move HOUSING_GAP --parent NEEDS --project proj",
    )
    p.add_argument("code", help="the code to move")
    p.add_argument("--parent", help="the new parent (omit for the top level)")
    p = command(
        codes,
        "delete",
        cmd_code,
        "delete a code and its codings (undo brings back)",
        "evalkit code delete DATA_QUALITY --project proj",
    )
    p.add_argument("code", help="the code to delete")

    p = command(
        subparsers,
        "cases",
        cmd_cases,
        "which participants (or sources) mention some codes and not others",
        "evalkit cases --project proj --has ENFORCEMENT_TRUST --lacks DATA_SHARING"
        " --sector law_enforcement",
    )
    p.add_argument("--has", help="comma-separated codes every case must have")
    p.add_argument("--lacks", help="comma-separated codes no case may have")
    p.add_argument("--sector", help="only cases of this sector")
    p.add_argument("--kind", "-k", choices=KINDS, help="only excerpts of this source kind")
