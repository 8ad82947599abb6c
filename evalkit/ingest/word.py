"""Word .docx: paragraphs and tables in document order, plus the document's properties."""

from __future__ import annotations

import zipfile
from pathlib import Path

from evalkit.errors import InputFileError
from evalkit.ingest.base import Extracted, iso_date, normalise_newlines, require_text

# An encrypted .docx is not a zip at all but an OLE compound file, as is a legacy .doc.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_docx(path: Path) -> list[Extracted]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    with path.open("rb") as handle:
        magic = handle.read(8)
    if magic == _OLE_MAGIC:
        raise InputFileError(
            "this is a password-protected .docx or an old .doc, which cannot be read",
            path=path,
            hint="Open it in Word, remove the password, and save it as .docx",
        )
    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError) as exc:
        raise InputFileError(
            f"not a readable .docx ({type(exc).__name__})",
            path=path,
            hint="The file may be corrupt or truncated; open and re-save it in Word",
        ) from None
    blocks: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            blocks.append(item.text.strip())
        elif isinstance(item, Table):
            blocks.extend(_table_rows(item))
    text = normalise_newlines("\n\n".join(b for b in blocks if b))
    props = document.core_properties
    meta = {}
    if props.title:
        meta["title"] = props.title
    if props.author:
        meta["author"] = props.author
    created = iso_date(props.created)
    if created:
        meta["property_date"] = created
    return [Extracted(text=require_text(text, path), meta=meta)]


def _table_rows(table) -> list[str]:
    rows = []
    for row in table.rows:
        cells = []
        for cell in row.cells:
            value = " ".join(cell.text.split())
            # Merged cells repeat the same object; keep one copy.
            if value and (not cells or cells[-1] != value):
                cells.append(value)
        if cells:
            rows.append(" | ".join(cells))
    return rows
