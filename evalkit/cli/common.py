"""Helpers every command shares: rendering results, notes, and parser building."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

import pandas as pd

from evalkit.util.sheets import csv_text

FORMATS = ("table", "csv", "json")


def render(result: pd.DataFrame | dict | list, fmt: str) -> str:
    """Render a DataFrame or a dict for people (``table``) or scripts (``csv``, ``json``)."""
    if isinstance(result, pd.DataFrame):
        if fmt == "json":
            return result.to_json(orient="records", force_ascii=False, indent=2)
        if fmt == "csv":
            return csv_text(result).rstrip("\n")
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


def out(args: argparse.Namespace, result: pd.DataFrame | dict | list) -> None:
    print(render(result, getattr(args, "format", "table")))


def note(message: str) -> None:
    print(message, file=sys.stderr)


def report_key(path) -> None:
    if path is not None:
        note(
            f"warning: the de-identification key (real names and details) was written to"
            f" {path}; keep it private and out of shared folders"
        )


def coder_list(value: str | None) -> list[str] | None:
    return [c.strip() for c in value.split(",") if c.strip()] if value else None


def command(
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
        parser.add_argument(
            "--format", "-f", choices=FORMATS, default="table", help="output for people or scripts"
        )
    parser.add_argument("--user", help="who is acting, for the audit log ($EVALKIT_USER)")
    return parser


def group(
    subparsers: argparse._SubParsersAction,
    name: str,
    help_text: str,
    description: str,
    example: str,
) -> argparse._SubParsersAction:
    """A command with actions of its own (``evalkit codebook validate``)."""
    parser = subparsers.add_parser(
        name,
        help=help_text,
        description=description,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser.add_subparsers(dest=f"{name}_action", required=True, metavar="ACTION")
