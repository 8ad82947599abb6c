"""Nothing lost: evalkit history, undo, backups list / restore, and check."""

from __future__ import annotations

import argparse

from evalkit.cli.common import command, group, note, out
from evalkit.store import Store


def cmd_history(args: argparse.Namespace) -> None:
    with Store.open(args.project) as store:
        frame = store.history_df(limit=args.limit)
    if args.format == "table":
        frame = frame.astype(object).where(frame.notna(), "")
    out(args, frame)


def cmd_undo(args: argparse.Namespace) -> None:
    with Store.open(args.project) as store:
        result = store.undo(actor=args.user)
    if args.format == "json":
        out(args, result.to_dict())
        return
    print(
        f"undid operation #{result.undone} ({result.summary or result.command}):"
        f" {result.changes} change(s) reverted"
    )


def cmd_backups_list(args: argparse.Namespace) -> None:
    with Store.open(args.project) as store:
        out(args, store.backups_df())


def cmd_backups_restore(args: argparse.Namespace) -> None:
    with Store.open(args.project) as store:
        result = store.restore_backup(args.backup, actor=args.user)
    note(f"the state before the restore was saved as backup {result['saved_current_as']}")
    out(args, result)


def cmd_check(args: argparse.Namespace) -> None:
    with Store.open(args.project) as store:
        from evalkit.project import check_project

        problems = check_project(store)
    if problems.empty:
        if args.format == "json":
            out(args, {"ok": True, "problems": []})
        else:
            print("the project is whole: no problems found")
        return
    if args.format == "json":
        out(args, {"ok": False, "problems": problems.to_dict(orient="records")})
    else:
        for row in problems.itertuples():
            print(f"- {row.where}: {row.problem}.\n  To fix: {row.fix}")
    args.exit_code = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command(
        subparsers,
        "history",
        cmd_history,
        "list the operations made on a project, newest first, with who and when",
        "evalkit history --project proj --limit 10",
    )
    p.add_argument("--limit", type=int, default=20, help="how many operations to show")
    command(
        subparsers,
        "undo",
        cmd_undo,
        "revert the most recent operation (run again to go further back)",
        "evalkit undo --project proj",
    )
    actions = group(
        subparsers,
        "backups",
        "list and restore the automatic snapshots of a project",
        "Snapshots taken before bulk and destructive operations and schema migrations.",
        "evalkit backups list --project proj",
    )
    command(
        actions,
        "list",
        cmd_backups_list,
        "list snapshots, newest first",
        "evalkit backups list --project proj",
    )
    p = command(
        actions,
        "restore",
        cmd_backups_restore,
        "bring the project back to a snapshot (the current state is saved first)",
        "evalkit backups restore 20261129T170445115805-before-undo --project proj",
    )
    p.add_argument("backup", help="the snapshot's name, from 'evalkit backups list'")
    command(
        subparsers,
        "check",
        cmd_check,
        "verify the store and every excerpt's offsets; exits 1 when something is wrong",
        "evalkit check --project proj",
    )
