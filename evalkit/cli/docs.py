"""``docs/cli.md``: the reference for every command, generated from the CLI's own help.

Run ``python -m evalkit.cli.docs > docs/cli.md`` (``make docs``) after changing a command;
a test fails when the file is stale, or when a command lacks help text or an example.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator

WIDTH = "100"


def commands(
    parser: argparse.ArgumentParser, prefix: str = "evalkit"
) -> Iterator[tuple[str, argparse.ArgumentParser, str | None]]:
    """Every command and sub-command: ``(full name, parser, one-line help)``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub, helps.get(name)
                yield from commands(sub, f"{prefix} {name}")


def markdown() -> str:
    """The whole CLI reference as Markdown."""
    from evalkit.cli import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH  # help text wraps the same on every machine
    try:
        parser = build_parser()
        parts = [
            "# evalkit command-line reference",
            "",
            "Generated from `evalkit --help` by `python -m evalkit.cli.docs > docs/cli.md`"
            " (`make docs`); a test keeps it in sync. Every command that prints results takes"
            " `--format table|csv|json`; user errors print one line and exit with code 2.",
            "",
            "```text",
            parser.format_help().rstrip(),
            "```",
        ]
        for name, sub, help_text in commands(parser):
            parts += ["", f"## `{name}`", "", help_text or "", "", "```text"]
            parts += [sub.format_help().rstrip(), "```"]
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
