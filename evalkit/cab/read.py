"""Reading a filled packet file back: the packet's identity, and per row its number, check
code, excerpt text, decision and comment. Matching the rows to the project is the
workflow's job (:func:`evalkit.project.import_packet`)."""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from evalkit.cab.binding import CHECK_LENGTH
from evalkit.errors import PacketError
from evalkit.report.packet import CHECK_HEADER, CHOICES, COLUMNS, IDENTITY_PREFIX
from evalkit.util.archive import DAMAGED_FILE_ERRORS, check_zip, malformed_part

_MARK = re.compile(
    r"[\u2612\u2611\u2713\u2714\u2717\u2718\u25a0\u25cf\u2716]|(?<![a-z])x(?![a-z])", re.I
)
_WORDS = {
    "agree": "agree",
    "agreed": "agree",
    "yes": "agree",
    "y": "agree",
    "fits": "agree",
    "disagree": "disagree",
    "disagreed": "disagree",
    "no": "disagree",
    "n": "disagree",
    "unsure": "unsure",
    "not sure": "unsure",
    "don't know": "unsure",
    "dont know": "unsure",
    "maybe": "unsure",
    "?": "unsure",
}
W14 = "{http://schemas.microsoft.com/office/word/2010/wordml}"
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_DC_IDENTIFIER = "{http://purl.org/dc/elements/1.1/}identifier"
# The package relationship to docProps/core.xml: the standard URI, and the older spelling
# some LibreOffice runs write (python-docx knows only the first, and then sees no ID).
CORE_PROPERTIES_TYPES = (
    "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties",
    "http://schemas.openxmlformats.org/officedocument/2006/relationships/metadata/core-properties",
)
_CORE_TYPES = {uri.lower() for uri in CORE_PROPERTIES_TYPES}
_IDENTITY = re.compile(rf"{re.escape(IDENTITY_PREFIX)}\s+(\S+)\s+(\S+)")
_CHECK = re.compile(rf"[a-z2-7]{{{CHECK_LENGTH}}}", re.I)
# Run content that is text but not a <w:t>: what python-docx writes for "\t" and "\n", and
# what LibreOffice writes for soft and non-breaking hyphens.
_RUN_TEXT = {
    _W + "tab": "\t",
    _W + "br": "\n",
    _W + "cr": "\n",
    _W + "noBreakHyphen": "\u2011",
    _W + "softHyphen": "\u00ad",
}


@dataclass
class ReadRow:
    """One row as read from the file, before it is matched to the project."""

    table: int
    row: int
    ref: str
    decision: str | None
    comment: str
    text: str
    problem: str | None = None
    check: str = ""


def read_decision(lines: list[tuple[str, bool]]) -> tuple[str | None, str | None]:
    """Decide what a "Your view" cell says: ``(decision, problem)``.

    ``lines`` are the cell's paragraphs as ``(text, ticked_control)``. A line that still
    names a choice counts when it carries a mark (☒, ☑, ✓, an X) or its box was clicked.
    Without the three printed choices, the cell's words are read ("agree", "no", "not
    sure").

    Examples
    --------
    >>> read_decision([("☐ Agree", False), ("☒ Disagree", False), ("☐ Unsure", False)])
    ('disagree', None)
    >>> read_decision([("x ☐ Agree", False), ("☐ Disagree", False), ("☐ Unsure", False)])
    ('agree', None)
    >>> read_decision([("Not sure", False)])
    ('unsure', None)
    """
    labelled = {}
    for text, clicked in lines:
        found = re.search(r"\b(agree|disagree|unsure)\b", text, re.I)
        if found and len(text.split()) <= 4:
            rest = text[: found.start()] + " " + text[found.end() :]
            labelled[found.group(1).lower()] = clicked or bool(_MARK.search(rest))
    if len(labelled) == len(CHOICES):
        ticked = [c for c, on in labelled.items() if on]
        if len(ticked) > 1:
            return None, f"more than one box ticked ({', '.join(ticked)})"
        return (ticked[0] if ticked else None), None
    words = " ".join(" ".join(t for t, _ in lines).split()).strip(" .!").lower()
    for box in ("\u2610", "\u2612", "\u2611"):
        words = words.replace(box, "").strip()
    if not words:
        return None, None
    if words in _WORDS:
        return _WORDS[words], None
    return None, f"cannot tell what '{words[:40]}' means; write Agree, Disagree or Unsure"


def read_packet_file(path: str | Path) -> tuple[str, str, list[ReadRow]]:
    """Read a filled packet: ``(project_id, packet_id, rows)``.

    Raises
    ------
    PacketError
        If the file is not a packet, or its tables no longer have the packet's columns.
    """
    path = Path(path)
    if not path.is_file():
        raise PacketError("no such file", path=path, hint="Check the path")
    suffix = path.suffix.lower()
    if suffix == ".docx":
        return _read_docx(path)
    if suffix == ".xlsx":
        return _read_xlsx(path)
    raise PacketError(
        f"a review packet is a .docx or .xlsx file, not '{suffix}'",
        path=path,
        hint="Save the packet as Word (.docx) or Excel (.xlsx)",
    )


def _identity(values: list[str | None], path: Path) -> tuple[str, str]:
    """``(project_id, packet_id)`` from wherever the file still carries the packet ID."""
    found = list(
        dict.fromkeys(
            match.groups() for value in values if value for match in _IDENTITY.finditer(value)
        )
    )
    if not found:
        raise PacketError(
            "not an evalkit review packet (its packet ID is missing from the footer and the"
            " document properties)",
            path=path,
            hint="Import the file that 'evalkit review-packet' wrote, after filling it in",
        )
    if len(found) > 1:
        raise PacketError(
            f"the file carries {len(found)} different packet IDs"
            f" ({', '.join(packet for _, packet in found)})",
            path=path,
            hint="Parts of two packets were put together; import each packet's own file",
        )
    return found[0]





def _cannot_open(path: Path, kind: str, exc: Exception, hint: str) -> PacketError:
    part = malformed_part(path)
    what = f": {part}" if part else f" ({exc.__class__.__name__})"
    return PacketError(f"cannot open the {kind}{what}", path=path, hint=hint)


def _read_docx(path: Path) -> tuple[str, str, list[ReadRow]]:
    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import LxmlError

    check_zip(path, error=PacketError, kind="review packet")
    try:
        document = Document(str(path))
    except (PackageNotFoundError, LxmlError, *DAMAGED_FILE_ERRORS) as exc:
        raise _cannot_open(
            path, "Word file", exc, "Open it in Word and save it again as .docx"
        ) from None
    project_id, packet_id = _identity(
        [document.core_properties.identifier, _core_identifier(path), *_footers(document)],
        path,
    )
    rows: list[ReadRow] = []
    expected = [c.lower() for c in COLUMNS]
    tables = document.tables
    if not tables:
        raise PacketError(
            "the packet has no tables left", path=path, hint="Fill in the original packet"
        )
    for t, table in enumerate(tables, start=1):
        header = [_cell_text(c).strip().lower() for c in table.rows[0].cells]
        if header != expected:
            raise PacketError(
                f"table {t} no longer has the packet's columns ({' | '.join(COLUMNS)});"
                f" found {' | '.join(header) or 'nothing'}",
                path=path,
                hint="Columns were added, removed or merged; fill in a fresh packet, or put"
                " the columns back",
            )
        for r, row in enumerate(table.rows[1:], start=2):
            cells = row.cells
            if len(cells) != len(COLUMNS):
                raise PacketError(
                    f"table {t} row {r} has {len(cells)} cells, not {len(COLUMNS)}",
                    path=path,
                    hint="Cells were merged or split; fill in a fresh packet",
                )
            ref, check = _number_and_check(_cell_text(cells[0]))
            decision, problem = read_decision(_cell_lines(cells[4]))
            rows.append(
                ReadRow(
                    table=t,
                    row=r,
                    ref=ref,
                    decision=decision,
                    comment=_cell_text(cells[5]).strip(),
                    text=_cell_text(cells[1]),
                    problem=problem,
                    check=check,
                )
            )
    return project_id, packet_id, rows


def _core_identifier(path: Path) -> str | None:
    """The identifier in the core properties, found through either relationship URI.

    Read from the package itself because python-docx sees no core properties when the
    package points to them with the older URI.
    """
    from evalkit.util.xml import parse_untrusted

    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if "_rels/.rels" not in names:
            return None
        relationships = parse_untrusted(
            archive.read("_rels/.rels"), f"{path} (_rels/.rels)", PacketError
        )
        for relationship in relationships:
            if relationship.get("Type", "").lower() not in {
                t.lower() for t in CORE_PROPERTIES_TYPES
            }:
                continue
            target = posixpath.normpath(relationship.get("Target", "").lstrip("/"))
            if target in names:
                core = parse_untrusted(archive.read(target), f"{path} ({target})", PacketError)
                found = core.find(_DC_IDENTIFIER)
                if found is not None and found.text:
                    return found.text
    return None


def _footers(document) -> list[str]:
    """The text of every footer (and header) part, whichever section uses it."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT

    texts = []
    for relationship in document.part.rels.values():
        if relationship.is_external or relationship.reltype not in (RT.FOOTER, RT.HEADER):
            continue
        element = getattr(relationship.target_part, "element", None)
        if element is not None:
            texts.append(" ".join(_paragraph_text(p) for p in element.iter(_W + "p")))
    return texts


def _paragraph_text(paragraph) -> str:
    # Every w:t, including text inside content controls (the check boxes), and the run
    # content that stands for characters: tabs, line breaks, hyphens.
    parts = []
    for node in paragraph.iter(_W + "t", *_RUN_TEXT):
        if node.tag == _W + "t":
            parts.append(node.text or "")
        elif node.getparent().tag == _W + "r":  # not a tab stop in the paragraph's style
            parts.append(_RUN_TEXT[node.tag])
    return "".join(parts)


def _cell_text(cell) -> str:
    return "\n".join(_paragraph_text(p) for p in cell._tc.iter(_W + "p"))


def _cell_lines(cell) -> list[tuple[str, bool]]:
    lines = []
    for p in cell._tc.iter(_W + "p"):
        clicked = any(c.get(W14 + "val") in ("1", "true") for c in p.iter(W14 + "checked"))
        lines.append((_paragraph_text(p), clicked))
    return lines


def _number_and_check(text: str) -> tuple[str, str]:
    """The "No." cell: the number on its first line, the row code on a line below it."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        return "", ""
    check = next((line for line in lines[1:] if _CHECK.fullmatch(line)), "")
    return lines[0], check


def _read_xlsx(path: Path) -> tuple[str, str, list[ReadRow]]:
    from openpyxl import load_workbook

    check_zip(path, error=PacketError, kind="review packet")
    try:
        workbook = load_workbook(path, read_only=False, data_only=True)
    except DAMAGED_FILE_ERRORS as exc:
        raise _cannot_open(
            path, "workbook", exc, "Open it in Excel and save it again as .xlsx"
        ) from None
    sheet = workbook["Review"] if "Review" in workbook.sheetnames else workbook.worksheets[0]
    values = [workbook.properties.identifier, sheet.oddFooter.center.text]
    if "evalkit" in workbook.sheetnames:
        values.insert(0, workbook["evalkit"]["B1"].value)
    project_id, packet_id = _identity([str(v) for v in values if v], path)
    header = [str(c.value or "").strip().lower() for c in sheet[1]]
    need = {"no.": None, "excerpt": None, "your view": None, "comment": None}
    for name in need:
        if name not in header:
            raise PacketError(
                f"the sheet has no '{name}' column (found {' | '.join(header)})",
                path=path,
                row=1,
                hint="Columns were renamed or removed; fill in a fresh packet",
            )
        need[name] = header.index(name)
    check_column = header.index(CHECK_HEADER.lower()) if CHECK_HEADER.lower() in header else None
    rows = []
    for r, values in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
        if not any(v not in (None, "") for v in values):
            continue
        view = str(values[need["your view"]] or "")
        decision, problem = read_decision([(view, False)])
        check = values[check_column] if check_column is not None else None
        rows.append(
            ReadRow(
                table=1,
                row=r,
                ref=str(values[need["no."]] or "").strip(),
                decision=decision,
                comment=str(values[need["comment"]] or "").strip(),
                text=str(values[need["excerpt"]] or ""),
                problem=problem,
                check=str(check or "").strip(),
            )
        )
    return project_id, packet_id, rows
