"""Turn raw codebook records (from YAML, CSV, XLSX or QDC) into a checked Codebook.

Every reader hands over plain dicts plus where each came from ("line 14", "row 5"), so
that all formats share one set of rules and every problem names its place:

- duplicate code names, unknown parents and parent cycles (errors);
- invalid regular expressions (checked with RE2, the matcher) and colours (errors);
- domains that map to unknown codes (errors);
- empty definitions, unknown fields (warnings).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evalkit.errors import CodebookError
from evalkit.ingest.base import iso_date
from evalkit.model import CODE_FIELDS, Code, Codebook
from evalkit.util.patterns import compile_user_pattern

RULE_KEYS = ("keywords", "patterns", "exclude")
# What a code may carry in YAML: the model's fields, with rule hints grouped under `rules`,
# plus the spellings people use ("example", "colour").
CODE_KEYS = (
    "name",
    *(f for f in CODE_FIELDS if f not in RULE_KEYS),
    "example",
    "colour",
    "rules",
    "guid",
)
TOP_KEYS = ("title", "version", "authors", "date", "description", "domains", "codes")
_COLOR = re.compile(r"^#([0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a codebook, and where."""

    level: Literal["error", "warning"]
    where: str | None  # "line 14", "row 5", or None for the file as a whole
    message: str
    hint: str | None = None

    def format(self, path: str | Path | None) -> str:
        place = " ".join(p for p in (str(path) if path else None, self.where) if p)
        text = f"{place}: {self.message}" if place else self.message
        return text + (f". {self.hint}" if self.hint else "")


@dataclass(frozen=True)
class RawCode:
    values: dict[str, Any]
    where: str | None
    key_where: dict[str, str]  # field -> its own location, where the reader knows it


@dataclass(frozen=True)
class RawDomain:
    name: str
    codes: list[Any]
    where: str | None


def build_codebook(
    meta: dict[str, Any],
    codes: Sequence[RawCode],
    domains: Sequence[RawDomain],
    *,
    default_title: str,
) -> tuple[Codebook | None, list[Problem]]:
    """Check raw records and build the Codebook; ``None`` when there is any error."""
    problems: list[Problem] = []
    built: list[tuple[Code, RawCode]] = []
    first_seen: dict[str, str | None] = {}
    for raw in codes:
        code = _code(raw, problems)
        if code is None:
            continue
        if code.name in first_seen:
            where = first_seen[code.name]
            problems.append(
                Problem(
                    "error",
                    raw.where,
                    f"code '{code.name}' is defined twice"
                    + (f" (first at {where})" if where else ""),
                    "Rename one of them or merge the two",
                )
            )
            continue
        first_seen[code.name] = raw.where
        built.append((code, raw))

    names = {code.name for code, _ in built}
    for code, raw in built:
        if code.parent is not None and code.parent not in names:
            problems.append(
                Problem(
                    "error",
                    raw.key_where.get("parent", raw.where),
                    f"code '{code.name}' has parent '{code.parent}' which is not defined",
                    f"Define '{code.parent}' or remove the parent",
                )
            )
    problems.extend(_cycles(built))

    domain_map: dict[str, tuple[str, ...]] = {}
    for domain in domains:
        members = [str(c).strip() for c in domain.codes if str(c).strip()]
        for member in members:
            if member not in names:
                close = difflib.get_close_matches(member, names, n=1)
                problems.append(
                    Problem(
                        "error",
                        domain.where,
                        f"domain '{domain.name}' maps to '{member}' which is not a code",
                        f"Did you mean '{close[0]}'?" if close else "Add the code or remove it",
                    )
                )
        if domain.name in domain_map:
            problems.append(
                Problem("error", domain.where, f"domain '{domain.name}' is listed twice")
            )
        domain_map[domain.name] = tuple(members)

    if not built and not any(p.level == "error" for p in problems):
        problems.append(Problem("error", None, "the codebook has no codes", "Add a 'codes' list"))
    problems.sort(key=_position)
    if any(p.level == "error" for p in problems):
        return None, problems
    codebook = Codebook(
        title=str(meta.get("title") or default_title).strip(),
        version=str(meta.get("version") if meta.get("version") is not None else "1").strip(),
        authors=tuple(_strings(meta.get("authors"))),
        date=iso_date(meta.get("date")) or (str(meta["date"]) if meta.get("date") else None),
        description=_text(meta.get("description")),
        domains=domain_map,
        codes=tuple(code for code, _ in built),
    )
    return codebook, problems


def raise_for_errors(problems: Sequence[Problem], path: str | Path | None) -> None:
    """Raise one CodebookError that lists every error (warnings are left to the caller)."""
    errors = [p for p in problems if p.level == "error"]
    if not errors:
        return
    first = errors[0]
    listed = "; ".join(p.format(None) for p in errors)
    error = CodebookError(
        f"{len(errors)} problem(s): {listed}" if len(errors) > 1 else first.message,
        path=path,
        hint=None if len(errors) > 1 else first.hint,
    )
    if len(errors) == 1 and first.where:
        error = CodebookError(first.message, path=f"{path} {first.where}", hint=first.hint)
    error.problems = list(problems)
    raise error


def _position(problem: Problem) -> tuple[int, int]:
    match = re.match(r"(?:line|row) (\d+)", problem.where or "")
    return (0, int(match.group(1))) if match else (1, 0)


def _code(raw: RawCode, problems: list[Problem]) -> Code | None:
    values = raw.values
    name = _text(values.get("name"))
    if not name:
        problems.append(
            Problem("error", raw.where, "a code has no name", "Give every code a 'name'")
        )
        return None
    for key in values:
        if key not in CODE_KEYS:
            close = difflib.get_close_matches(str(key), CODE_KEYS, n=1)
            problems.append(
                Problem(
                    "warning",
                    raw.key_where.get(key, raw.where),
                    f"code '{name}' has an unknown field '{key}', which is ignored",
                    f"Did you mean '{close[0]}'?" if close else None,
                )
            )
    rules = values.get("rules") or {}
    if not isinstance(rules, dict):
        problems.append(
            Problem(
                "error",
                raw.key_where.get("rules", raw.where),
                f"code '{name}': 'rules' must have keywords, patterns and/or exclude",
            )
        )
        rules = {}
    for key in rules:
        if key not in RULE_KEYS:
            problems.append(
                Problem(
                    "warning",
                    raw.key_where.get("rules", raw.where),
                    f"code '{name}' has an unknown rule field '{key}', which is ignored",
                    f"Rule fields are {', '.join(RULE_KEYS)}",
                )
            )
    # Regular expressions keep their exact spacing.
    patterns = tuple(p.strip() for p in _raw_list(rules.get("patterns")) if p.strip())
    for pattern in patterns:
        # Checked with the matcher that will run it: RE2, which refuses what needs backtracking.
        try:
            compile_user_pattern(
                pattern,
                where=f"code '{name}'",
                error=CodebookError,
                hint="Fix the pattern, or quote it in single quotes in YAML",
            )
        except CodebookError as exc:
            problems.append(
                Problem(
                    "error",
                    raw.key_where.get("rules.patterns", raw.key_where.get("rules", raw.where)),
                    exc.message,
                    exc.hint,
                )
            )
    color = _text(values.get("color") or values.get("colour")) or None
    if color is not None and not _COLOR.match(color):
        problems.append(
            Problem(
                "error",
                raw.key_where.get("color", raw.where),
                f"code '{name}' has colour '{color}', which is not a hex colour",
                "Write it like '#1F77B4'",
            )
        )
    definition = _text(values.get("definition"))
    if not definition:
        problems.append(
            Problem(
                "warning",
                raw.where,
                f"code '{name}' has an empty definition",
                "Coders need a definition to apply a code consistently",
            )
        )
    examples = values.get("examples", values.get("example"))
    return Code(
        name=name,
        parent=_text(values.get("parent")) or None,
        brief=_text(values.get("brief")),
        definition=definition,
        when_to_use=_text(values.get("when_to_use")),
        when_not_to_use=_text(values.get("when_not_to_use")),
        examples=tuple(_strings(examples, split_lines=True)),
        color=color,
        tension=_truthy(values.get("tension")),
        keywords=tuple(_strings(rules.get("keywords"), split=";")),
        patterns=patterns,
        exclude=tuple(_strings(rules.get("exclude"), split=";")),
        guid=_text(values.get("guid")) or None,
    )


def _cycles(built: list[tuple[Code, RawCode]]) -> Iterable[Problem]:
    parents = {code.name: code.parent for code, _ in built}
    where = {code.name: raw.where for code, raw in built}
    reported: set[str] = set()
    for start in parents:
        path = [start]
        current = parents.get(start)
        while current is not None and current in parents and current not in path:
            path.append(current)
            current = parents.get(current)
        if current is not None and current in path:
            cycle = path[path.index(current) :]
            if not reported.intersection(cycle):
                reported.update(cycle)
                chain = " -> ".join([*cycle, current])
                yield Problem(
                    "error",
                    where[cycle[0]],
                    f"codes form a parent cycle: {chain}",
                    "A code cannot be its own ancestor; change one parent",
                )


def _text(value: Any) -> str:
    if value is None:
        return ""
    return " ".join(str(value).split()) if "\n" not in str(value).strip() else str(value).strip()


def _strings(value: Any, *, split: str | None = None, split_lines: bool = False) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        items = [str(v) for v in value]
    else:
        text = str(value)
        if split_lines and "\n" in text:
            items = text.split("\n")
        elif split and split in text:
            items = text.split(split)
        else:
            items = [text]
    return [" ".join(item.split()) for item in items if item and item.strip()]


def _raw_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return str(value).split("\n")


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("true", "yes", "y", "1", "x")
