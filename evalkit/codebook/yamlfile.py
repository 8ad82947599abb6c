"""The YAML codebook format: read with line numbers, write in a stable, readable layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from evalkit.codebook.validate import TOP_KEYS, Problem, RawCode, RawDomain, build_codebook
from evalkit.errors import CodebookError
from evalkit.ingest.text import decode, yaml_error_location
from evalkit.model import Code, Codebook
from evalkit.util.yamlsafe import BoundedLoader, load_yaml


class _Located(dict):
    """A YAML mapping that remembers the line of itself and of each key."""

    line: int = 0
    key_lines: dict[str, int]


class _LineLoader(BoundedLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Located:
    mapping = _Located(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {
        str(key.value): key.start_mark.line + 1
        for key, _ in node.value
        if isinstance(key, yaml.ScalarNode)
    }
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str, path: str | Path) -> tuple[Codebook | None, list[Problem]]:
    """Parse and check YAML codebook text; problems carry YAML line numbers."""
    try:
        data = load_yaml(text, path=path, error=CodebookError, loader=_LineLoader)
    except yaml.YAMLError as exc:
        line, problem = yaml_error_location(exc)
        raise CodebookError(
            f"not valid YAML ({problem})",
            path=path,
            line=line,
            hint="Check indentation and quoting on that line",
        ) from None
    if not isinstance(data, dict):
        raise CodebookError(
            "a codebook must be a mapping with 'title' and 'codes'",
            path=path,
            line=1,
            hint="Start from codebooks/sf_taskforce.yaml",
        )
    problems: list[Problem] = []
    lines = getattr(data, "key_lines", {})
    for key in data:
        if key not in TOP_KEYS:
            problems.append(
                Problem(
                    "warning",
                    f"line {lines.get(key, 1)}",
                    f"unknown top-level field '{key}', which is ignored",
                    f"Fields are {', '.join(TOP_KEYS)}",
                )
            )
    raw_codes = data.get("codes") or []
    if not isinstance(raw_codes, list):
        raise CodebookError(
            "'codes' must be a list of codes, each starting with '- name:'",
            path=path,
            line=lines.get("codes"),
        )
    codes: list[RawCode] = []
    for item in raw_codes:
        if not isinstance(item, dict):
            problems.append(
                Problem("error", None, f"each code must be a mapping with a name, got '{item}'")
            )
            continue
        line = getattr(item, "line", None)
        key_lines = dict(getattr(item, "key_lines", {}))
        rules = item.get("rules")
        for key, number in getattr(rules, "key_lines", {}).items():
            key_lines[f"rules.{key}"] = number
        codes.append(
            RawCode(
                values=dict(item),
                where=f"line {line}" if line else None,
                key_where={k: f"line {n}" for k, n in key_lines.items()},
            )
        )
    domains: list[RawDomain] = []
    raw_domains = data.get("domains") or {}
    if not isinstance(raw_domains, dict):
        raise CodebookError(
            "'domains' must map each domain name to a list of codes",
            path=path,
            line=lines.get("domains"),
        )
    domain_lines = getattr(raw_domains, "key_lines", {})
    for name, members in raw_domains.items():
        if isinstance(members, str):
            members = [members]
        where = f"line {domain_lines[name]}" if name in domain_lines else None
        domains.append(RawDomain(str(name), list(members or []), where))
    return build_codebook(data, codes, domains, default_title=Path(path).stem)


def read_yaml(path: str | Path) -> tuple[Codebook | None, list[Problem]]:
    path = Path(path)
    text, _ = decode(path.read_bytes(), path)
    return parse_yaml(text, path)


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else (">" if len(value) > 80 else None)
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def codebook_to_dict(codebook: Codebook) -> dict[str, Any]:
    """The YAML layout of a codebook, with empty optional fields left out."""
    data: dict[str, Any] = {"title": codebook.title, "version": codebook.version}
    if codebook.authors:
        data["authors"] = list(codebook.authors)
    if codebook.date:
        data["date"] = codebook.date
    if codebook.description:
        data["description"] = codebook.description
    if codebook.domains:
        data["domains"] = {name: list(codes) for name, codes in codebook.domains.items()}
    data["codes"] = [_code_dict(code) for code in codebook.codes]
    return data


def _code_dict(code: Code) -> dict[str, Any]:
    from evalkit.codebook.refi import derived_guid

    item: dict[str, Any] = {"name": code.name}
    if code.parent:
        item["parent"] = code.parent
    if code.guid and code.guid != derived_guid(code.name):
        item["guid"] = code.guid  # keep another tool's identity for the round trip
    for key in ("brief", "definition", "when_to_use", "when_not_to_use"):
        item[key] = getattr(code, key)
    item["examples"] = list(code.examples)
    if code.color:
        item["color"] = code.color
    if code.tension:
        item["tension"] = True
    rules = {k: list(getattr(code, k)) for k in ("keywords", "patterns", "exclude")}
    rules = {k: v for k, v in rules.items() if v}
    if rules:
        item["rules"] = rules
    return item


def dump_yaml(codebook: Codebook) -> str:
    """YAML text for a codebook; reading it back gives an equal Codebook."""
    return yaml.dump(
        codebook_to_dict(codebook),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=88,
    )
