"""REFI-QDA codebooks: ``.qdc`` files, and the CodeBook inside ``.qde``/``.qdpx`` projects.

Export writes nested ``Code`` elements (nesting carries the hierarchy) whose
``Description`` holds the MacQueen fields as labelled sections, readable in any tool:

    Brief: ...
    Definition: ...
    When to use: ...
    When not to use: ...
    Examples:
    - ...

RQA domains become ``Sets`` of member codes. Codebook title, version, authors, date and
description travel in an XML comment that other tools ignore. Reading our own export back
restores every field.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element
from xml.sax.saxutils import quoteattr

from evalkit.codebook.validate import Problem, RawCode, RawDomain, build_codebook
from evalkit.errors import CodebookError, EvalkitError
from evalkit.model import Code, Codebook
from evalkit.util.text import unique
from evalkit.util.xml import (
    CODEBOOK_NS,
    PROJECT_NS,
    parse_untrusted,
    require_valid,
    schema_errors,
)

_GUID_NAMESPACE = uuid.UUID("7c1c4f0e-3a54-4f38-9a5e-2d1f0c9a6b11")
_SCALARS = (
    ("brief", "Brief"),
    ("definition", "Definition"),
    ("when_to_use", "When to use"),
    ("when_not_to_use", "When not to use"),
)
_LISTS = (
    ("examples", "Examples"),
    ("keywords", "Keywords"),
    ("patterns", "Patterns"),
    ("exclude", "Exclude"),
)
_LABELS = {label: key for key, label in (*_SCALARS, *_LISTS, ("tension", "Tension"))}
_LABEL_LINE = re.compile(rf"^({'|'.join(map(re.escape, _LABELS))}):[ \t]?(.*)$")
_META_COMMENT = re.compile(r"<!--\s*evalkit-codebook:\s*(\{.*?\})\s*-->", re.S)


def derived_guid(name: str) -> str:
    """The GUID evalkit gives a code of this name: the same in every export."""
    return str(uuid.uuid5(_GUID_NAMESPACE, f"code:{name}"))


def code_guid(code: Code) -> str:
    """A code's REFI-QDA GUID: the one it came with, else derived from its name."""
    return code.guid or derived_guid(code.name)


def describe(code: Code) -> str:
    """The MacQueen fields as the labelled text that goes into ``Description``."""
    parts = [f"{label}: {getattr(code, key)}" for key, label in _SCALARS if getattr(code, key)]
    for key, label in _LISTS:
        values = getattr(code, key)
        if values:
            parts.append(f"{label}:\n" + "\n".join(f"- {v}" for v in values))
    if code.tension:
        parts.append("Tension: yes")
    return "\n".join(parts)


def codebook_element_xml(
    codebook: Codebook,
    *,
    indent: str = "",
    sets: bool = True,
    notes: dict[str, list[str]] | None = None,
) -> str:
    """The ``<CodeBook>`` element as text (shared by .qdc and project exports; a project
    carries its Sets at project level, so it passes ``sets=False``; ``notes`` maps code
    names to the GUIDs of project Notes about them)."""
    from xml.sax.saxutils import escape

    lines = [f"{indent}<CodeBook>", f"{indent}  <Codes>"]

    def emit(code: Code, depth: int) -> None:
        pad = indent + "  " * depth
        attrs = f'guid={quoteattr(code_guid(code))} name={quoteattr(code.name)} isCodable="true"'
        if code.color:
            attrs += f" color={quoteattr(code.color.upper())}"
        children = codebook.children(code.name)
        description = describe(code)
        refs = (notes or {}).get(code.name, [])
        if not children and not description and not refs:
            lines.append(f"{pad}<Code {attrs}/>")
            return
        lines.append(f"{pad}<Code {attrs}>")
        if description:
            lines.append(f"{pad}  <Description>{escape(description)}</Description>")
        lines.extend(f'{pad}  <NoteRef targetGUID="{g}"/>' for g in refs)
        for child in children:
            emit(child, depth + 1)
        lines.append(f"{pad}</Code>")

    for top in codebook.children(None):
        emit(top, 2)
    lines.append(f"{indent}  </Codes>")
    if sets:
        lines.extend(sets_xml(codebook, indent=indent + "  ", member_attribute="guid"))
    lines.append(f"{indent}</CodeBook>")
    return "\n".join(lines)


def sets_xml(codebook: Codebook, *, indent: str, member_attribute: str) -> list[str]:
    """RQA domains as ``<Sets>``: inside a .qdc CodeBook members carry ``guid``; at
    project level (Project.xsd) they carry ``targetGUID``."""
    if not codebook.domains:
        return []
    guids = {c.name: code_guid(c) for c in codebook.codes}
    lines = [f"{indent}<Sets>"]
    for name, members in codebook.domains.items():
        set_guid = uuid.uuid5(_GUID_NAMESPACE, f"domain:{name}")
        lines.append(f'{indent}  <Set guid="{set_guid}" name={quoteattr(name)}>')
        lines.append(f"{indent}    <Description>RQA domain</Description>")
        lines.extend(
            f'{indent}    <MemberCode {member_attribute}="{guids[m]}"/>'
            for m in members
            if m in guids
        )
        lines.append(f"{indent}  </Set>")
    lines.append(f"{indent}</Sets>")
    return lines


def codebook_to_qdc(codebook: Codebook) -> bytes:
    """A REFI-QDA codebook file, validated against Codebook.xsd before it is returned."""
    meta = {
        "title": codebook.title,
        "version": codebook.version,
        "authors": list(codebook.authors),
        "date": codebook.date,
        "description": codebook.description,
    }
    # "--" may not appear inside an XML comment.
    comment = json.dumps(meta, ensure_ascii=False).replace("--", "-\\u002d")
    body = codebook_element_xml(codebook)
    body = body.replace("<CodeBook>", f'<CodeBook xmlns="{CODEBOOK_NS}" origin="evalkit">', 1)
    xml = f'<?xml version="1.0" encoding="utf-8"?>\n<!-- evalkit-codebook: {comment} -->\n{body}\n'
    data = xml.encode("utf-8")
    errors = schema_errors(data, "Codebook")
    if errors:  # our own output failing the schema is a bug, not a user error
        raise AssertionError(f"exported codebook does not validate: {errors[:3]}")
    return data


def read_refi_codebook(path: str | Path) -> tuple[Codebook | None, list[Problem]]:
    """Read the code tree of a ``.qdc``, ``.qde`` or ``.qdpx`` file.

    Raises
    ------
    CodebookError
        If the file is not XML, declares entities, fails the REFI-QDA schema, or has no
        codebook.
    """
    path = Path(path)
    data = _xml_bytes(path)
    root = parse_untrusted(data, path, CodebookError)
    kind = "Codebook" if root.tag == f"{{{CODEBOOK_NS}}}CodeBook" else "Project"
    if root.tag not in (f"{{{CODEBOOK_NS}}}CodeBook", f"{{{PROJECT_NS}}}Project"):
        raise CodebookError(
            f"the root element is <{_local(root.tag)}>, not a REFI-QDA CodeBook or Project",
            path=path,
            hint="Export the codebook from the other tool as REFI-QDA (.qdc)",
        )
    require_valid(data, kind, path, CodebookError)
    return codebook_from_root(root, data, path)


def codebook_from_root(
    root: Element, data: bytes, path: str | Path
) -> tuple[Codebook | None, list[Problem]]:
    """The code tree of a parsed (and validated) ``CodeBook`` or ``Project`` element."""
    kind = "Codebook" if root.tag == f"{{{CODEBOOK_NS}}}CodeBook" else "Project"
    ns = CODEBOOK_NS if kind == "Codebook" else PROJECT_NS
    check_unique_guids(root, path)
    codebook_el = root if kind == "Codebook" else root.find(f"{{{ns}}}CodeBook")
    if codebook_el is None:
        raise CodebookError("the project has no CodeBook", path=path, hint="Add codes first")
    problems: list[Problem] = []
    codes_el = codebook_el.find(f"{{{ns}}}Codes")
    codes = _tree(list(codes_el) if codes_el is not None else [], ns, problems)
    domains = _sets(codebook_el, ns, codes)
    if kind == "Project":
        domains += _sets(root, ns, codes)
    meta = _meta(data) or {"title": root.get("name") or Path(path).stem}
    codebook, built = build_codebook(meta, codes, domains, default_title=Path(path).stem)
    return codebook, problems + built


def check_unique_guids(
    root: Element, path: str | Path, error: type[EvalkitError] = CodebookError
) -> None:
    """Two elements with one GUID would send every reference to whichever came last."""
    seen: dict[str, Element] = {}
    for element in root.iter():
        guid = guid_key(element.get("guid"))
        # A codebook's <MemberCode guid=…> refers to a code; it does not name a new element.
        if not guid or _local(element.tag).startswith("Member"):
            continue
        if guid in seen:
            raise error(
                f"{_describe(seen[guid])} and {_describe(element)} share the GUID"
                f" {element.get('guid')}",
                path=path,
                hint="Export the project again from its tool; a GUID must name one element",
            )
        seen[guid] = element


def guid_key(guid: str | None) -> str:
    """GUIDs compare without case or braces: ``{ABC-…}`` is ``abc-…``."""
    return (guid or "").strip().strip("{}").lower()


def _describe(element: Element) -> str:
    name = element.get("name")
    line = getattr(element, "sourceline", None)
    where = f" (line {line})" if line else ""
    return f"<{_local(element.tag)}{f' name={name!r}' if name else ''}>{where}"


def _tree(tops: list[Element], ns: str, problems: list[Problem]) -> list[RawCode]:
    """The codes in document order, each with its parent's name.

    Other tools allow one name under different parents ("Other" under "Positive" and under
    "Negative"), while evalkit's names are unique; such a name becomes its path,
    ``Positive/Other``, which reads as what the team meant.
    """
    nodes: list[tuple[Element, int | None, str]] = []

    def collect(element: Element, parent: int | None) -> None:
        nodes.append((element, parent, (element.get("name") or "").strip()))
        me = len(nodes) - 1
        for child in element.findall(f"{{{ns}}}Code"):
            collect(child, me)

    for element in tops:
        if element.tag == f"{{{ns}}}Code":
            collect(element, None)
    counts = Counter(name for _, _, name in nodes)

    def path_of(index: int | None) -> list[str]:
        parts: list[str] = []
        while index is not None:
            parts.append(nodes[index][2])
            index = nodes[index][1]
        return parts[::-1]

    paths = [path_of(i) for i in range(len(nodes))]
    names: list[str] = []
    taken: set[str] = set()
    for index, (element, _, name) in enumerate(nodes):
        final = name
        if counts[name] > 1:  # the shortest end of its path that no namesake shares
            others = [p for i, p in enumerate(paths) if nodes[i][2] == name and i != index]
            mine = paths[index]
            k = next(
                (k for k in range(2, len(mine) + 1) if all(o[-k:] != mine[-k:] for o in others)),
                len(mine),
            )
            final = "/".join(mine[-k:])
        final = unique(final, taken)
        taken.add(final)
        if final != name:
            problems.append(
                Problem(
                    "warning",
                    f"code {element.get('guid')}",
                    f"code name '{name}' is used more than once; imported as '{final}'",
                )
            )
        names.append(final)
    out = []
    for (element, parent, _), name in zip(nodes, names, strict=True):
        description = element.findtext(f"{{{ns}}}Description") or ""
        values: dict[str, Any] = {
            "name": name,
            "parent": names[parent] if parent is not None else None,
            "guid": element.get("guid"),
        }
        if element.get("color"):
            values["color"] = element.get("color")
        values.update(_parse_description(description))
        out.append(RawCode(values=values, where=f"code {element.get('guid')}", key_where={}))
    return out


def _parse_description(text: str) -> dict[str, Any]:
    """Labelled sections back into fields; unlabelled text from other tools is the definition."""
    if not text.strip():
        return {}
    fields: dict[str, Any] = {}
    current: str | None = None
    loose: list[str] = []
    for line in text.strip().split("\n"):
        match = _LABEL_LINE.match(line)
        if match:
            current = _LABELS[match.group(1)]
            rest = match.group(2).strip()
            if current in dict(_LISTS):
                fields[current] = []
            else:
                fields[current] = rest
        elif current is None:
            loose.append(line)
        elif current in dict(_LISTS):
            item = line[2:] if line.startswith("- ") else line
            if item.strip():
                fields[current].append(item)
        else:
            fields[current] = f"{fields[current]}\n{line}".strip()
    rules = {k: fields.pop(k) for k in ("keywords", "patterns", "exclude") if k in fields}
    if rules:
        fields["rules"] = rules
    if "tension" in fields:
        fields["tension"] = fields["tension"].lower().startswith("y")
    if loose:
        prefix = "\n".join(loose).strip()
        fields["definition"] = f"{prefix}\n{fields.get('definition', '')}".strip()
    return fields


def _sets(codebook_el: Element, ns: str, codes: list[RawCode]) -> list[RawDomain]:
    by_guid = {str(c.values.get("guid") or "").lower(): c.values["name"] for c in codes}
    domains = []
    sets = codebook_el.find(f"{{{ns}}}Sets")
    for set_el in sets if sets is not None else []:
        members = [
            by_guid.get((m.get("guid") or m.get("targetGUID") or "").lower(), m.get("guid"))
            for m in set_el.findall(f"{{{ns}}}MemberCode")
        ]
        if not members:
            continue  # a set of sources or notes is not an RQA domain
        domains.append(RawDomain(set_el.get("name") or "", members, f"set {set_el.get('guid')}"))
    return domains


def _meta(data: bytes) -> dict | None:
    match = _META_COMMENT.search(data[:20000].decode("utf-8", errors="replace"))
    if not match:
        return None
    try:
        return json.loads(match.group(1))
    except json.JSONDecodeError:
        return None


def _xml_bytes(path: Path) -> bytes:
    from evalkit.util.archive import SafeArchive

    if not path.is_file():
        raise CodebookError("file not found", path=path, hint="Check the path")
    if path.suffix.lower() != ".qdpx":
        return path.read_bytes()
    # The same checks as a whole-project import: entry names, links and sizes.
    archive = SafeArchive(path, CodebookError)
    try:
        name = next((n for n in archive.members if n.lower().endswith(".qde")), None)
        if name is None:
            raise CodebookError(
                "the .qdpx has no project.qde inside", path=path, hint="Re-export it"
            )
        return archive.read(name)
    finally:
        archive.close()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


__all__ = [
    "code_guid",
    "codebook_from_root",
    "codebook_to_qdc",
    "describe",
    "read_refi_codebook",
]
