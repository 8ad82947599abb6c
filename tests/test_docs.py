"""docs/cli.md stays in sync with the CLI, and every command explains itself."""

from __future__ import annotations

import pytest
from conftest import ROOT

from evalkit.cli import build_parser
from evalkit.cli.docs import commands, markdown


def test_cli_reference_is_up_to_date() -> None:
    written = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert written == markdown(), "docs/cli.md is stale: run 'make docs' and commit it"


@pytest.mark.parametrize("name", [name for name, _, _ in commands(build_parser())])
def test_every_command_has_help_and_an_example(name: str) -> None:
    found = {n: (parser, help_text) for n, parser, help_text in commands(build_parser())}
    parser, help_text = found[name]
    assert help_text and len(help_text) > 10, f"{name} has no one-line help"
    assert parser.description, f"{name} has no description"
    assert parser.epilog and parser.epilog.startswith("example:"), f"{name} has no example"
    example = parser.epilog.split("\n", 1)[1].strip()
    assert example.startswith(name.split()[0]) and name.split()[1] in example
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, f"{name} {action.option_strings[0]} has no help text"


def test_the_readme_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```", 2)[1]
    assert "make demo" in first_block and "make test" in first_block
