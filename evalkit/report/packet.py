"""CAB review packets as Word documents and workbooks that reviewers fill in by hand.

The layout is part of a contract with :mod:`evalkit.cab`, which reads the packets back:
one table per code, with the columns in :data:`COLUMNS`. The packet's identity is kept
where every office suite keeps it: in the visible footer and in the document properties
(Word), or in a hidden sheet, the print footer and the properties (Excel). Each row carries
a short row code (under the number in Word, in the last column in Excel) that binds it
to the excerpt and code it asks about, so a row whose number was changed is caught.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from docx import Document
from docx.document import Document as DocumentType
from docx.enum.section import WD_ORIENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from evalkit.codebook.word import _header, set_widths
from evalkit.model import Codebook
from evalkit.util.sheets import append_row, new_workbook

COLUMNS = ("No.", "Excerpt", "Source", "Suggested by", "Your view", "Comment")
# The text width of a landscape Letter page with 1.5 cm margins is 24.9 cm; the number
# column is wide enough for the row code under the number.
WIDTHS_CM = (1.6, 9.6, 2.8, 2.8, 3.0, 5.1)
CHECK_HEADER = "Row code"
CHECK_GREY = RGBColor(0x70, 0x70, 0x70)
CHOICES = ("Agree", "Disagree", "Unsure")
BOX, TICKED = "\u2610", "\u2612"
IDENTITY_PREFIX = "evalkit-packet"
INSTRUCTIONS = (
    "Thank you for reviewing these passages. Each table below is about one code: a label "
    "the evaluation team puts on passages that talk about the same thing. Read the short "
    "description of the code, then each passage.",
    "For each passage, tick one box: Agree if the label fits the passage, Disagree if it "
    "does not, Unsure if you cannot tell. You can click a box in Word, put an X in it, or "
    "write your answer in words. Use the Comment column for anything you want the team to "
    "know. Leave a row blank to skip it.",
    "Names and contact details have been replaced with labels such as [P07] or [PHONE]. "
    "Please do not add names. Keep the numbers in the first column, the small row code "
    "under each number, and the table layout as they are, so your answers can be read back.",
)
FOOTER = "Packet ID (please leave this line as it is): {identity}"


def identity(project_id: str, packet_id: str) -> str:
    return f"{IDENTITY_PREFIX} {project_id} {packet_id}"


def packet_document(
    items: pd.DataFrame,
    codebook: Codebook | None,
    *,
    reviewer: str,
    project_id: str,
    packet_id: str,
    title: str = "Community review packet",
) -> DocumentType:
    """A landscape Word document: instructions, then per code its description and a table.

    ``items`` has the columns of :func:`evalkit.cab.packet_items`.
    """
    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = section.page_height, section.page_width
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.5))
    document.styles["Normal"].font.name = "Calibri"
    document.styles["Normal"].font.size = Pt(10.5)
    properties = document.core_properties
    properties.identifier = identity(project_id, packet_id)
    properties.title = title
    properties.subject = f"Review by {reviewer}"
    properties.author = "evalkit"
    _footer(section, identity(project_id, packet_id))

    document.add_heading(title, level=0)
    document.add_paragraph(
        f"Prepared for {reviewer} on {dt.date.today().isoformat()}. "
        f"{len(items)} passage(s) under {items['code'].nunique()} code(s)."
    )
    for text in INSTRUCTIONS:
        document.add_paragraph(text)

    for code, rows in items.groupby("code", sort=False):
        document.add_heading(code.replace("_", " ").title() + f" ({code})", level=1)
        described = _describe(codebook, code)
        if described:
            document.add_paragraph(described)
        table = document.add_table(rows=1, cols=len(COLUMNS))
        table.style = "Table Grid"
        _header(table.rows[0], COLUMNS)
        for item in rows.itertuples():
            cells = table.add_row().cells
            cells[0].text = str(item.ref)
            _check_line(cells[0], getattr(item, "check", ""))
            cells[1].text = item.text
            cells[2].text = item.source_label
            cells[3].text = item.origin_label
            _choices(cells[4])
            cells[5].text = ""
        set_widths(table, WIDTHS_CM)
    return document


def packet_workbook(
    items: pd.DataFrame,
    codebook: Codebook | None,
    *,
    reviewer: str,
    project_id: str,
    packet_id: str,
):
    """The same packet as an openpyxl Workbook: one sheet, a drop-down for the view."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = new_workbook()
    sheet = workbook.create_sheet("Review")
    headers = (
        "No.",
        "Code",
        "What the code means",
        "Excerpt",
        "Source",
        "Suggested by",
        "Your view",
        "Comment",
        CHECK_HEADER,
    )
    append_row(sheet, headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for item in items.itertuples():
        append_row(
            sheet,
            [
                item.ref,
                item.code,
                _describe(codebook, item.code),
                item.text,
                item.source_label,
                item.origin_label,
                "",
                "",
                getattr(item, "check", ""),
            ]
        )
    choice = DataValidation(type="list", formula1='"' + ",".join(CHOICES) + '"', allow_blank=True)
    sheet.add_data_validation(choice)
    if len(items):
        choice.add(f"G2:G{len(items) + 1}")
    for column, width in zip("ABCDEFGHI", (6, 18, 40, 80, 16, 18, 12, 40, 9), strict=True):
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        row[-1].font = Font(size=8, color=str(CHECK_GREY))
    sheet.freeze_panes = "A2"
    sheet.oddFooter.center.text = FOOTER.format(identity=identity(project_id, packet_id))
    sheet.oddFooter.center.size = 8
    hidden = workbook.create_sheet("evalkit")
    append_row(hidden, ["identity", identity(project_id, packet_id)])
    append_row(hidden, ["reviewer", reviewer])
    hidden.sheet_state = "hidden"
    workbook.properties.identifier = identity(project_id, packet_id)
    return workbook


def _describe(codebook: Codebook | None, code: str) -> str:
    if codebook is None:
        return ""
    try:
        found = codebook.code(code)
    except KeyError:
        return ""
    return found.brief or found.definition


def _footer(section, identity_line: str) -> None:
    paragraph = section.footer.paragraphs[0]
    run = paragraph.add_run(FOOTER.format(identity=identity_line))
    run.font.size = Pt(8)
    run.font.color.rgb = CHECK_GREY


def _check_line(cell, check: str) -> None:
    """The row's row code, small and grey on its own line under the number."""
    if not check:
        return
    run = cell.add_paragraph().add_run(check)
    run.font.size = Pt(7)
    run.font.color.rgb = CHECK_GREY


def _choices(cell) -> None:
    """Three lines, each a Word check box (a content control a click ticks) and a label."""
    cell.text = ""
    for i, label in enumerate(CHOICES):
        paragraph = cell.paragraphs[0] if i == 0 else cell.add_paragraph()
        paragraph._p.append(_checkbox())
        paragraph.add_run(f" {label}")


def _checkbox():
    sdt = OxmlElement("w:sdt")
    properties = OxmlElement("w:sdtPr")
    box = OxmlElement("w14:checkbox")
    for tag, value in (("w14:checked", "0"),):
        element = OxmlElement(tag)
        element.set(qn("w14:val"), value)
        box.append(element)
    for tag, char in (("w14:checkedState", "2612"), ("w14:uncheckedState", "2610")):
        element = OxmlElement(tag)
        element.set(qn("w14:val"), char)
        element.set(qn("w14:font"), "MS Gothic")
        box.append(element)
    properties.append(box)
    sdt.append(properties)
    content = OxmlElement("w:sdtContent")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = BOX
    run.append(text)
    content.append(run)
    sdt.append(content)
    return sdt
