"""The codebook as a Word document that community reviewers can read on paper."""

from __future__ import annotations

from docx import Document
from docx.document import Document as DocumentType
from docx.enum.section import WD_ORIENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from evalkit.model import Code, Codebook

HEADERS = ("Code", "What it means", "Use it when", "Do not use it when", "Example")
WIDTHS_CM = (4.4, 7.0, 5.0, 5.0, 4.3)


def codebook_document(codebook: Codebook) -> DocumentType:
    """A landscape Word document: an introduction, then one table per parent theme.

    Each table lists the theme and its child codes with the MacQueen fields in plain
    language. The RQA domains, if any, close the document.
    """
    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = section.page_height, section.page_width
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.8))
    document.styles["Normal"].font.name = "Calibri"
    document.styles["Normal"].font.size = Pt(10.5)

    document.add_heading(codebook.title, level=0)
    byline = f"Version {codebook.version}"
    if codebook.date:
        byline += f", {codebook.date}"
    if codebook.authors:
        byline += f". Prepared by {', '.join(codebook.authors)}."
    document.add_paragraph(byline)
    if codebook.description:
        document.add_paragraph(codebook.description)
    document.add_paragraph(
        "How to read this codebook: each theme has its own table. A code is a label the "
        "team puts on a passage of an interview, a meeting note or a document. “Use it when” "
        "and “Do not use it when” help everyone apply the same code to the same kind of "
        "passage. Please write corrections or questions in the margins."
    )

    themes = codebook.children(None)
    for theme in themes:
        document.add_heading(theme.name.replace("_", " ").title() + f" ({theme.name})", level=1)
        if theme.brief or theme.definition:
            document.add_paragraph(theme.definition or theme.brief)
        codes = [theme, *_descendants(codebook, theme.name)]
        table = document.add_table(rows=1, cols=len(HEADERS))
        table.style = "Table Grid"
        _header(table.rows[0], HEADERS)
        for code in codes:
            cells = table.add_row().cells
            depth = _depth(codebook, code)
            # A zero-width space after each underscore lets long names wrap at word joins.
            cells[0].text = ("  " * depth) + code.name.replace("_", "_\u200b")
            if code.color:
                _shade(cells[0], code.color)
            _fill(cells[1], code.brief, code.definition)
            cells[2].text = code.when_to_use
            cells[3].text = code.when_not_to_use
            cells[4].text = "\n".join(f"“{e}”" for e in code.examples[:2])
            if code.tension:
                cells[1].add_paragraph("Marks a disagreement between stakeholder groups.")
        set_widths(table, WIDTHS_CM)

    if codebook.domains:
        document.add_heading("Rapid analysis domains", level=1)
        document.add_paragraph(
            "Each interview question has a neutral domain. The codes listed feed the summary "
            "of that domain in the rapid qualitative analysis."
        )
        table = document.add_table(rows=1, cols=2)
        table.style = "Table Grid"
        _header(table.rows[0], ("Domain", "Codes that feed it"))
        for name, members in codebook.domains.items():
            cells = table.add_row().cells
            cells[0].text = name
            cells[1].text = ", ".join(m.replace("_", "_\u200b") for m in members)
    return document


def set_widths(table, widths_cm) -> None:
    """Fix column widths; Word reads the cells, LibreOffice the grid, so set both."""
    table.autofit = False
    for column, width in zip(table.columns, widths_cm, strict=True):
        column.width = Cm(width)
    for row in table.rows:
        for cell, width in zip(row.cells, widths_cm, strict=True):
            cell.width = Cm(width)


def _descendants(codebook: Codebook, name: str) -> list[Code]:
    found = []
    for child in codebook.children(name):
        found.append(child)
        found.extend(_descendants(codebook, child.name))
    return found


def _depth(codebook: Codebook, code: Code) -> int:
    depth, parent = 0, code.parent
    names = {c.name: c for c in codebook.codes}
    while parent is not None and parent in names and depth < 50:
        depth += 1
        parent = names[parent].parent
    return depth


def _header(row, labels) -> None:
    for cell, label in zip(row.cells, labels, strict=True):
        cell.text = ""
        run = cell.paragraphs[0].add_run(label)
        run.bold = True
        _shade(cell, "#D9E2F3")
    # Repeat the header row on each page of a long table.
    properties = row._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    properties.append(repeat)


def _fill(cell, brief: str, definition: str) -> None:
    cell.text = ""
    paragraph = cell.paragraphs[0]
    if brief:
        paragraph.add_run(brief).bold = True
    if definition:
        (cell.add_paragraph() if brief else paragraph).add_run(definition)


def _shade(cell, color: str) -> None:
    hex_color = color.lstrip("#")
    if len(hex_color) == 3:
        hex_color = "".join(ch * 2 for ch in hex_color)
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), hex_color)
    cell._tc.get_or_add_tcPr().append(shading)
    red, green, blue = (int(hex_color[i : i + 2], 16) for i in (0, 2, 4))
    if red * 0.299 + green * 0.587 + blue * 0.114 < 140:  # dark fill: white text
        for paragraph in cell.paragraphs:
            for run in paragraph.runs:
                run.font.color.rgb = RGBColor(255, 255, 255)
