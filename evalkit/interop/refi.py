"""REFI-QDA project exchange: ``.qdpx`` archives (and bare ``.qde`` files) in and out.

**Export** writes ``project.qde`` and one UTF-8 text file per source under ``sources/``:
Users (the coders), the CodeBook (nested codes, colours, MacQueen fields in
``Description``), Variables and one Case per source holding its attributes, a
``TextSource`` per source, and a ``PlainTextSelection`` per coded excerpt with one
``Coding`` per coder and code. Every export is validated against ``Project.xsd``.

**Offsets.** REFI-QDA positions count characters (Unicode code points) of the plain
text. evalkit stores text with ``\\n`` line endings and exports it that way, so its
positions are the excerpt offsets. On import, a source file with CRLF line endings is
read both ways (CRLF counting as two characters, as in the file, and as one); the reading
under which the selections' names line up with their text wins, CRLF-as-two by default.
Every selection is then mapped onto the stored ``\\n`` text, and the report counts the
selections whose text no longer matches their name.

**Import** brings in sources (plain text inline, from ``sources/`` or ``Sources/``, or
converted from a ``.docx`` given as ``richTextPath``), the code tree, codings by every
user (each user becomes a coder), and cases and variables as source attributes.
Selections that fall outside their text, and codings of unknown codes, are listed in the
report with their GUIDs, never dropped silently. Text is de-identified on the way in,
like any ingest, and selection offsets follow the replacements.

**Safety.** Archives are untrusted: see :mod:`evalkit.util.archive`; XML goes through
defusedxml (no DTDs or entities) and must validate against the schema.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import tempfile
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape, quoteattr

from evalkit.codebook.refi import check_unique_guids, guid_key
from evalkit.errors import ExchangeError
from evalkit.model import Code, Codebook, Excerpt, Source
from evalkit.util.archive import SafeArchive
from evalkit.util.xml import PROJECT_NS, parse_untrusted, require_valid, schema_errors

_NS = uuid.UUID("0b6f2c8e-5d1a-4c1e-9f3b-8a7e6d5c4b3a")
KIND_VARIABLE = "evalkit.kind"
_Q = f"{{{PROJECT_NS}}}"


def _guid(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "\x1f".join(parts)))


# -- export -----------------------------------------------------------------------------


@dataclass
class QdpxExport:
    """What an export wrote."""

    path: str
    sources: int
    codes: int
    codings: int
    users: int
    selections: int
    not_exported: int  # "coded, nothing applied" rows have no REFI-QDA form
    notes: int = 0  # memos and CAB review decisions, as Notes

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def project_xml(store) -> tuple[bytes, dict[str, str], dict[str, int]]:
    """``project.qde`` for a project, the source files it refers to, and counts.

    Returns ``(xml, files, counts)`` where ``files`` maps archive paths to text.
    """
    from evalkit.codebook import project_codebook
    from evalkit.codebook.refi import code_guid, codebook_element_xml, sets_xml

    project_id = store.project_id
    codings = store.codings_df()
    applied = codings.dropna(subset=["code"])
    codebook = project_codebook(store) or Codebook(title=store.folder.name, codes=())
    known = {c.name for c in codebook.codes}
    extra = tuple(Code(name) for name in sorted(set(applied["code"]) - known))
    if extra:  # codes retired since they were applied still need a home
        codebook = replace(codebook, codes=codebook.codes + extra)
    code_guids = {c.name: code_guid(c) for c in codebook.codes}
    reviews = store.reviews_df()
    memos = store.memos_df()
    people = set(applied["coder"]) | set(reviews["reviewer"]) | set(memos["author"])
    users = {name: _guid("user", name) for name in sorted(people)}
    # Notes: each memo, and each CAB decision (on its selection, so other tools show it).
    # note GUID -> (title, text, author, time); refs: (target kind, target) -> note GUIDs
    notes: dict[str, tuple[str, str, str, str]] = {}
    refs: dict[tuple[str, str | None], list[str]] = {}
    for memo in memos.itertuples():
        guid = _guid("memo", project_id, str(memo.memo_id))
        notes[guid] = (memo.title, memo.body, memo.author, memo.created_at)
        refs.setdefault((memo.target_kind, memo.target), []).append(guid)
    for r in reviews.itertuples():
        guid = _guid("review", r.packet_id, str(r.ref), r.reviewer, r.created_at)
        text = f"CAB review by {r.reviewer}: {r.decision or 'no decision'} with the code {r.code}."
        text += f" Comment: {r.comment}" if r.comment else ""
        notes[guid] = (f"CAB review: {r.code}", text, r.reviewer, r.created_at)
        refs.setdefault(("excerpt", r.excerpt_id), []).append(guid)
    notes_by_excerpt = {t: g for (k, t), g in refs.items() if k == "excerpt"}
    sources = store.sources()
    excerpts = {e.id: e for e in store.excerpts()}
    source_guids = {s.id: _guid("source", project_id, s.id) for s in sources}

    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<Project xmlns="{PROJECT_NS}" name={quoteattr(store.folder.name)} origin="evalkit"'
        f' creationDateTime="{_now()}">',
    ]
    if users:
        out.append("  <Users>")
        out += [f"    <User guid={quoteattr(g)} name={quoteattr(n)}/>" for n, g in users.items()]
        out.append("  </Users>")
    if codebook.codes:
        code_notes = {t: g for (k, t), g in refs.items() if k == "code"}
        out.append(codebook_element_xml(codebook, indent="  ", sets=False, notes=code_notes))

    variables = _variables(sources)
    if variables:
        out.append("  <Variables>")
        for name, kind in variables.items():
            out.append(
                f"    <Variable guid={quoteattr(_guid('variable', name))} name={quoteattr(name)}"
                f' typeOfVariable="{kind}"/>'
            )
        out.append("  </Variables>")
        out.append("  <Cases>")
        for source in sources:
            values = {KIND_VARIABLE: source.kind, **source.attributes}
            label = source.attributes.get("participant_id") or source.id
            out.append(
                f"    <Case guid={quoteattr(_guid('case', project_id, source.id))}"
                f" name={quoteattr(str(label))}>"
            )
            for name, value in values.items():
                if value is None or value == "":
                    continue
                tag = {"Integer": "IntegerValue", "Float": "FloatValue"}.get(
                    variables[name], "TextValue"
                )
                out.append(
                    f"      <VariableValue><VariableRef targetGUID="
                    f"{quoteattr(_guid('variable', name))}/>"
                    f"<{tag}>{escape(str(value))}</{tag}></VariableValue>"
                )
            out.append(f'      <SourceRef targetGUID="{source_guids[source.id]}"/>')
            out.append("    </Case>")
        out.append("  </Cases>")

    files: dict[str, str] = {}
    counts = Counter()
    by_excerpt = {k: g for k, g in applied.groupby("excerpt_id")}
    if sources:
        out.append("  <Sources>")
    for source in sources:
        guid = source_guids[source.id]
        files[f"sources/{guid}.txt"] = source.text
        out.append(
            f"    <TextSource guid={quoteattr(guid)} name={quoteattr(source.name)}"
            f' plainTextPath="internal://{guid}.txt">'
        )
        coded = sorted(
            (
                excerpts[i]
                for i in set(by_excerpt) | set(notes_by_excerpt)
                if excerpts[i].source_id == source.id
            ),
            key=lambda e: (e.start, e.end),
        )
        for excerpt in coded:
            text = source.text[excerpt.start : excerpt.end]
            out.append(
                f"      <PlainTextSelection guid={quoteattr(_guid('selection', excerpt.id))}"
                f' name={quoteattr(_label(text))} startPosition="{excerpt.start}"'
                f' endPosition="{excerpt.end}">'
            )
            counts["selections"] += 1
            rows = by_excerpt.get(excerpt.id)
            for row in rows.itertuples() if rows is not None else ():
                coding = _guid("coding", excerpt.id, row.coder, row.code)
                out.append(
                    f"        <Coding guid={quoteattr(coding)}"
                    f" creatingUser={quoteattr(users[row.coder])}"
                    f" creationDateTime={quoteattr(_datetime(row.created_at))}>"
                    f"<CodeRef targetGUID={quoteattr(code_guids[row.code])}/></Coding>"
                )
                counts["codings"] += 1
            out += [
                f'        <NoteRef targetGUID="{g}"/>' for g in notes_by_excerpt.get(excerpt.id, [])
            ]
            out.append("      </PlainTextSelection>")
        out += [f'      <NoteRef targetGUID="{g}"/>' for g in refs.get(("source", source.id), [])]
        out.append("    </TextSource>")
    if sources:
        out.append("  </Sources>")
    if notes:
        out.append("  <Notes>")
        for guid, (title, text, author, at) in notes.items():
            out.append(
                f"    <Note guid={quoteattr(guid)} name={quoteattr(title)}"
                f" creatingUser={quoteattr(users[author])}"
                f" creationDateTime={quoteattr(_datetime(at))}>"
                f"<PlainTextContent>{escape(text)}</PlainTextContent></Note>"
            )
        out.append("  </Notes>")
        counts["notes"] = len(notes)
    out.extend(sets_xml(codebook, indent="  ", member_attribute="targetGUID"))
    out += [f'  <NoteRef targetGUID="{g}"/>' for g in refs.get(("project", None), [])]
    out.append("</Project>")
    data = ("\n".join(out) + "\n").encode("utf-8")
    errors = schema_errors(data, "Project")
    if errors:  # our own export failing the schema is a bug, not a user error
        raise AssertionError(f"exported project does not validate: {errors[:3]}")
    counts.update(
        sources=len(sources),
        codes=len(codebook.codes),
        users=len(users),
        not_exported=int(codings["code"].isna().sum()),
    )
    return data, files, dict(counts)


def export_qdpx(store, path: str | Path) -> QdpxExport:
    """Write the project as a ``.qdpx`` archive (atomically); see the module docstring.

    The de-identification key is never part of a project, so it is never exported.
    """
    from evalkit.fileio import atomic_write

    data, files, counts = project_xml(store)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.qde", data)
        for name, text in files.items():
            archive.writestr(name, text.encode("utf-8"))
    with atomic_write(path) as stream:
        stream.write(buffer.getvalue())
    return QdpxExport(
        path=str(path),
        sources=counts["sources"],
        codes=counts["codes"],
        codings=counts.get("codings", 0),
        users=counts["users"],
        selections=counts.get("selections", 0),
        not_exported=counts["not_exported"],
        notes=counts.get("notes", 0),
    )


def _variables(sources: list[Source]) -> dict[str, str]:
    """Variable name -> REFI type, over every attribute any source has."""
    values: dict[str, list[Any]] = {KIND_VARIABLE: [s.kind for s in sources]} if sources else {}
    for source in sources:
        for name, value in source.attributes.items():
            if value is not None and value != "":
                values.setdefault(name, []).append(value)
    kinds = {}
    for name, found in values.items():
        if all(isinstance(v, int) and not isinstance(v, bool) for v in found):
            kinds[name] = "Integer"
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in found):
            kinds[name] = "Float"
        else:
            kinds[name] = "Text"
    return kinds


def _label(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 80 else flat[:79] + "…"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _datetime(value: Any) -> str:
    text = str(value or "")
    return text if re.match(r"^\d{4}-\d{2}-\d{2}T", text) else _now()


# -- import -----------------------------------------------------------------------------


@dataclass
class QdpxImport:
    """What an import brought in, and what it could not."""

    path: str
    origin: str | None = None
    sources: list[str] = field(default_factory=list)
    codes: int = 0
    codings: int = 0
    users: list[str] = field(default_factory=list)
    coders: list[str] = field(default_factory=list)
    cases: int = 0
    variables: list[str] = field(default_factory=list)
    selections: int = 0
    skipped: list[dict] = field(default_factory=list)
    misaligned: list[dict] = field(default_factory=list)
    conventions: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    deid: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Selection:
    guid: str
    name: str
    start: int
    end: int
    codings: list[tuple[str, str, str]]  # (coding guid, user guid, code guid)
    written: tuple[int, int] = (0, 0)  # the positions as the file gives them


@dataclass
class _Text:
    guid: str
    name: str
    text: str
    selections: list[_Selection]
    attributes: dict[str, Any]
    codings_without_selection: int = 0


@dataclass(frozen=True)
class QdpxContent:
    """What a ``.qdpx`` holds, as read, before anything is de-identified or stored.

    ``users`` maps user GUIDs to names; ``texts`` are the readable text sources with their
    selections on the LF-only text; ``root`` is kept for :meth:`notes`.
    """

    root: Element
    users: dict[str, str]
    codebook: Codebook | None
    texts: tuple[_Text, ...]

    @property
    def code_for(self) -> dict[str, str]:
        """Code GUID -> code name."""
        return {guid_key(c.guid): c.name for c in self.codebook.codes} if self.codebook else {}

    def notes(self, sources: dict[str, str], excerpts: dict[str, str]) -> list[dict]:
        """The Notes as memos, given where sources and selections landed (GUID -> ID)."""
        return _notes(self.root, self.users, self.code_for, sources, excerpts)


def read_qdpx(path: str | Path, report: QdpxImport) -> QdpxContent:
    """Read and check a ``.qdpx`` (or a ``.qde`` with its ``sources/`` folder).

    Fills ``report`` with what the file holds and what could not be read.

    Raises
    ------
    ExchangeError
        For an unsafe or invalid file.
    """
    path = Path(path)
    data, files = _open(path)
    root = parse_untrusted(data, path, ExchangeError)
    _validate(root, data, path)
    check_unique_guids(root, path, ExchangeError)
    report.origin = root.get("origin")
    users = {
        guid_key(u.get("guid")): (u.get("name") or u.get("guid", "")).strip()
        for u in root.iter(f"{_Q}User")
    }
    codebook = _codebook(root, data, path, report)
    attributes, variables, cases = _cases(root)
    report.variables, report.cases = variables, cases
    texts = [_text_source(el, files, path, attributes, report) for el in _sources(root)]
    return QdpxContent(root, users, codebook, tuple(t for t in texts if t is not None))


def selections_on(source: Source, excerpts: list[Excerpt], selections, redaction=None):
    """Selections moved onto de-identified text, and the excerpts with one per selection
    span: ``(selections, excerpts, span -> excerpt ID)``."""
    moved = _mapped(list(selections), redaction)
    ordered, span_ids = _with_selections(source, excerpts, moved)
    return moved, ordered, span_ids


def _notes(root: Element, users, codes, sources, excerpts) -> list[dict]:
    """Notes as memos, each on what refers to it (a code, source, selection or the
    project); notes nothing refers to, or whose target was skipped, go on the project."""
    targets: dict[str, tuple[str, str | None]] = {}
    for ref in root.findall(f"{_Q}NoteRef"):
        targets.setdefault(guid_key(ref.get("targetGUID")), ("project", None))
    places = (
        ("Code", "code", codes),
        ("TextSource", "source", sources),
        ("PlainTextSelection", "excerpt", excerpts),
    )
    for tag, kind, lookup in places:
        for element in root.iter(f"{_Q}{tag}"):
            target = lookup.get(guid_key(element.get("guid")))
            for ref in element.findall(f"{_Q}NoteRef"):
                if target is not None:
                    targets[guid_key(ref.get("targetGUID"))] = (kind, target)
    found = []
    for note in root.findall(f"{_Q}Notes/{_Q}Note"):
        kind, target = targets.get(guid_key(note.get("guid")), ("project", None))
        found.append(
            {
                "title": (note.get("name") or "Note").strip() or "Note",
                "body": note.findtext(f"{_Q}PlainTextContent") or "",
                "on": kind,
                "target": target,
                "author": users.get(guid_key(note.get("creatingUser"))) or "unknown",
            }
        )
    return found


def _mapped(selections: list[_Selection], redaction) -> list[_Selection]:
    if redaction is None or not redaction.replacements:
        return selections
    return [
        replace(s, start=redaction.map_offset(s.start), end=redaction.map_offset(s.end))
        for s in selections
    ]


def check_qdpx(path: str | Path) -> None:
    """Refuse an unsafe or invalid file before anything is created for it."""
    path = Path(path)
    data, _ = _open(path)
    root = parse_untrusted(data, path, ExchangeError)
    _validate(root, data, path)


def _validate(root: Element, data: bytes, path: Path) -> None:
    if root.tag != f"{_Q}Project":
        raise ExchangeError(
            f"the root element is <{root.tag.rsplit('}', 1)[-1]}>, not a REFI-QDA Project",
            path=path,
            hint="For a codebook (.qdc) use 'evalkit codebook import'",
        )
    require_valid(data, "Project", path, ExchangeError)


def _open(path: Path) -> tuple[bytes, dict[str, bytes] | SafeArchive | Path]:
    """The .qde bytes, and where its source files are (an archive or a folder)."""
    if not path.is_file():
        raise ExchangeError("no such file", path=path, hint="Check the path")
    if path.suffix.lower() == ".qde":
        return path.read_bytes(), path.parent
    archive = SafeArchive(path, ExchangeError)
    name = archive.find("project.qde") or next(
        (n for n in archive.members if n.lower().endswith(".qde")), None
    )
    if name is None:
        raise ExchangeError(
            "the archive has no project.qde", path=path, hint="Re-export it as REFI-QDA"
        )
    return archive.read(name), archive


def _codebook(root: Element, data: bytes, path: Path, report: QdpxImport) -> Codebook | None:
    from evalkit.codebook.refi import codebook_from_root
    from evalkit.errors import CodebookError

    if root.find(f"{_Q}CodeBook") is None:
        return None
    try:
        codebook, problems = codebook_from_root(root, data, path)
    except CodebookError as error:
        raise ExchangeError(error.message, path=path, hint=error.hint) from None
    errors = [p for p in problems if p.level == "error"]
    if errors:
        raise ExchangeError(
            f"the CodeBook cannot be used: {errors[0].message}",
            path=path,
            hint="Fix the codes in the tool it came from and export again",
        )
    report.warnings += [p.message for p in problems if "used more than once" in p.message]
    return codebook


def merge_codebooks(current: Codebook | None, incoming: Codebook) -> Codebook:
    """The project's codebook plus the incoming codes it lacks (by name)."""
    if current is None or not current.codes:
        return incoming
    have = {c.name for c in current.codes}
    extra = tuple(c for c in incoming.codes if c.name not in have)
    return replace(current, codes=current.codes + extra) if extra else current


def _cases(root: Element) -> tuple[dict[str, dict[str, Any]], list[str], int]:
    """Source GUID -> attributes from Cases (and the TextSource's own VariableValues)."""
    variables = {
        guid_key(v.get("guid")): v.get("name") or v.get("guid", "")
        for v in root.iter(f"{_Q}Variable")
    }
    attributes: dict[str, dict[str, Any]] = {}
    cases = root.findall(f"{_Q}Cases/{_Q}Case")
    for case in cases:
        values = _values(case, variables)
        for ref in case.findall(f"{_Q}SourceRef"):
            attributes.setdefault(guid_key(ref.get("targetGUID")), {}).update(values)
    for source in _sources(root):
        own = _values(source, variables)
        if own:
            attributes.setdefault(guid_key(source.get("guid")), {}).update(own)
    return attributes, sorted(set(variables.values())), len(cases)


def _values(element: Element, variables: dict[str, str]) -> dict[str, Any]:
    values = {}
    for value in element.findall(f"{_Q}VariableValue"):
        ref = value.find(f"{_Q}VariableRef")
        name = variables.get(guid_key(ref.get("targetGUID")) if ref is not None else "")
        if name is None:
            continue
        for child in value:
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "VariableRef" or child.text is None:
                continue
            text = child.text.strip()
            if tag == "IntegerValue":
                values[name] = int(text)
            elif tag == "FloatValue":
                values[name] = float(text)
            elif tag == "BooleanValue":
                values[name] = text.lower() in ("true", "1")
            else:
                values[name] = text
    return values


def _sources(root: Element) -> list[Element]:
    sources = root.find(f"{_Q}Sources")
    return list(sources.findall(f"{_Q}TextSource")) if sources is not None else []


def _text_source(
    element: Element, files, path: Path, attributes: dict, report: QdpxImport
) -> _Text | None:
    guid = element.get("guid", "")
    name = element.get("name") or ""
    inline = element.findtext(f"{_Q}PlainTextContent")
    raw = None
    if inline is not None:
        raw = inline
    elif element.get("plainTextPath"):
        data = _source_bytes(files, element.get("plainTextPath"))
        raw = _decode(data, report, name or guid) if data is not None else None
    elif element.get("richTextPath"):
        data = _source_bytes(files, element.get("richTextPath"))
        raw = _docx_text(data, element.get("richTextPath"), path) if data is not None else None
        if raw is not None:
            report.warnings.append(
                f"source '{name or guid}' came as .docx only; its text was converted, so"
                " check that its selections line up (see 'misaligned')"
            )
    if raw is None:
        where = element.get("plainTextPath") or element.get("richTextPath") or "no path"
        report.skipped.append(
            {"guid": guid, "what": "source", "reason": f"its text was not found ({where})"}
        )
        return None
    name = name or Path(str(element.get("plainTextPath") or guid)).name
    selections = []
    for sel in element.findall(f"{_Q}PlainTextSelection"):
        codings = [
            (
                c.get("guid", ""),
                c.get("creatingUser") or sel.get("creatingUser") or "",
                (c.find(f"{_Q}CodeRef").get("targetGUID") or ""),
            )
            for c in sel.findall(f"{_Q}Coding")
        ]
        selections.append(
            _Selection(
                sel.get("guid", ""),
                sel.get("name") or "",
                int(sel.get("startPosition")),
                int(sel.get("endPosition")),
                codings,
                (int(sel.get("startPosition")), int(sel.get("endPosition"))),
            )
        )
    text, selections = _align(raw, selections, name or guid, report)
    kept = []
    for sel in selections:
        if not 0 <= sel.start < sel.end <= len(text):
            report.skipped.append(
                {
                    "guid": sel.guid,
                    "what": "selection",
                    "reason": f"positions {sel.written[0]}-{sel.written[1]} fall outside the"
                    " text of"
                    f" '{name}' ({len(raw)} characters)",
                    "codings": len(sel.codings),
                }
            )
            continue
        kept.append(sel)
    return _Text(guid, name, text, kept, attributes.get(guid_key(guid), {}))


def _source_bytes(files, reference: str | None) -> bytes | None:
    if not reference:
        return None
    bare = re.sub(r"^(internal|relative|file):/*", "", reference).replace("\\", "/")
    base = bare.rsplit("/", 1)[-1]
    if isinstance(files, SafeArchive):
        hit = files.find(f"sources/{bare}", f"Sources/{bare}", bare, f"sources/{base}", base)
        return files.read(hit) if hit else None
    for folder in ("sources", "Sources", "."):
        candidate = files / folder / base
        if candidate.is_file():
            return candidate.read_bytes()
    return None


def _decode(data: bytes, report: QdpxImport, name: str) -> str:
    """Source bytes as text, by the same rules as ingest (BOM, UTF-16, cp1252 fallback)."""
    from evalkit.errors import InputFileError
    from evalkit.util.text import decode

    try:
        text, warnings = decode(data, Path(name))
    except InputFileError as error:
        raise ExchangeError(error.message, path=name, hint=error.hint) from None
    report.warnings.extend(warnings)
    return text


def _docx_text(data: bytes, reference: str, path: Path) -> str:
    from evalkit.errors import InputFileError
    from evalkit.ingest.word import read_docx

    with tempfile.TemporaryDirectory() as folder:
        temporary = Path(folder) / "source.docx"
        temporary.write_bytes(data)
        try:
            return read_docx(temporary)[0].text
        except InputFileError as error:  # its message names the part; its path is ours
            raise ExchangeError(
                f"the source {reference} is not a readable .docx: {error.message}",
                path=path,
                hint="Open that source in the tool the project came from, save it again,"
                " and export the project again",
            ) from None


def _align(
    raw: str, selections: list[_Selection], name: str, report: QdpxImport
) -> tuple[str, list[_Selection]]:
    """Map positions onto the LF-only text, choosing the CRLF convention that fits."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    if "\r\n" not in raw:
        report.conventions[name] = "lf"
        _check_names(text, selections, name, report)
        return text, selections
    # Positions in the file's own text (CRLF = 2) shift left by the CRs before them.
    crs = [i for i, ch in enumerate(raw) if ch == "\r" and raw[i + 1 : i + 2] == "\n"]

    def shift(position: int) -> int:
        import bisect

        return position - bisect.bisect_left(crs, position)

    as_file = [replace(s, start=shift(s.start), end=shift(s.end)) for s in selections]
    as_lf = selections
    score_file = _name_matches(text, as_file)
    score_lf = _name_matches(text, as_lf)
    chosen, label = (as_lf, "crlf-as-one") if score_lf > score_file else (as_file, "crlf-as-two")
    report.conventions[name] = label
    _check_names(text, chosen, name, report)
    return text, chosen


def _name_matches(text: str, selections: list[_Selection]) -> int:
    return sum(1 for s in selections if _lines_up(text, s) is True)


def _lines_up(text: str, selection: _Selection) -> bool | None:
    """Whether the selection's text starts as its name says; None when the name is not
    text (qc names selections "line:12")."""
    label = " ".join(selection.name.split()).rstrip("…").strip()
    if len(label) < 5 or re.fullmatch(r"(line|para|p|s)?[:#]?\s*\d+", label, re.I):
        return None
    if not 0 <= selection.start < selection.end <= len(text):
        return False
    # Whitespace is collapsed but not trimmed: a selection one character early starts
    # with the line break before its text, and must not count as lining up.
    quoted = re.sub(r"\s+", " ", text[selection.start : selection.end])
    return quoted.startswith(label[:40]) or (len(quoted) >= 5 and label.startswith(quoted[:40]))


def _check_names(text: str, selections: list[_Selection], name: str, report) -> None:
    for selection in selections:
        if _lines_up(text, selection) is False:
            report.misaligned.append(
                {"guid": selection.guid, "source": name, "name": selection.name[:60]}
            )


def _with_selections(
    source: Source, excerpts: list[Excerpt], selections: list[_Selection]
) -> tuple[list[Excerpt], dict[tuple[int, int], str]]:
    """The segmented excerpts plus one excerpt per selection span that is not already one.

    Coded spans keep their exact offsets; ordinals follow reading order.
    """
    by_span = {(e.start, e.end): e for e in excerpts}
    extra = []
    used = {e.id for e in excerpts}
    for selection in selections:
        span = (selection.start, selection.end)
        if span in by_span:
            continue
        body = source.text[span[0] : span[1]]
        base = f"{source.id}-{hashlib.sha1(body.encode('utf-8')).hexdigest()[:10]}"
        excerpt_id, n = base, 1
        while excerpt_id in used:
            n += 1
            excerpt_id = f"{base}-{n}"
        used.add(excerpt_id)
        container = next((e for e in excerpts if e.start <= span[0] and span[1] <= e.end), None)
        excerpt = Excerpt(
            id=excerpt_id,
            source_id=source.id,
            start=span[0],
            end=span[1],
            ordinal=0,
            speaker=container.speaker if container else None,
            speaker_role=container.speaker_role if container else None,
            section=container.section if container else None,
        )
        by_span[span] = excerpt
        extra.append(excerpt)
    ordered = sorted([*excerpts, *extra], key=lambda e: (e.start, e.end))
    ordered = [replace(e, ordinal=i) for i, e in enumerate(ordered, start=1)]
    return ordered, {span: e.id for span, e in by_span.items()}
