"""Word .docx: paragraphs and tables in document order, plus the document's properties."""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path

from evalkit.errors import InputFileError
from evalkit.ingest.base import Extracted, iso_date, normalise_newlines, require_text
from evalkit.util.archive import DAMAGED_FILE_ERRORS, check_zip, malformed_part

# An encrypted .docx is not a zip at all but an OLE compound file, as is a legacy .doc.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_REPAIR_HINT = "The file is damaged; open it in Word, which can often repair it, and save it again"


def read_docx(path: Path) -> list[Extracted]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph
    from lxml import etree

    with path.open("rb") as handle:
        magic = handle.read(8)
    if magic == _OLE_MAGIC:
        raise InputFileError(
            "this is a password-protected .docx or an old .doc, which cannot be read",
            path=path,
            hint="Open it in Word, remove the password, and save it as .docx",
        )
    check_zip(path, error=InputFileError, kind=".docx", hint=_REPAIR_HINT)
    try:
        document = docx.Document(str(path))
    except etree.XMLSyntaxError as exc:
        raise InputFileError(_malformed(path, exc), path=path, hint=_REPAIR_HINT) from None
    except KeyError as exc:  # zipfile's "There is no item named '...' in the archive"
        raise InputFileError(
            f"not a readable .docx ({' '.join(str(exc.args[0] if exc.args else exc).split())})",
            path=path,
            hint=_REPAIR_HINT,
        ) from None
    except (zipfile.BadZipFile, zlib.error) as exc:  # a member's bytes are damaged
        raise InputFileError(
            f"not a readable .docx ({_first_line(exc)})",
            path=path,
            hint="The file may be corrupt or truncated; open and re-save it in Word",
        ) from None
    except (PackageNotFoundError, *DAMAGED_FILE_ERRORS) as exc:
        raise InputFileError(
            f"not a readable .docx ({type(exc).__name__})",
            path=path,
            hint="The file may be corrupt or truncated; open and re-save it in Word",
        ) from None
    body = document.element
    if body.tag != qn("w:document") or body.find(qn("w:body")) is None:
        raise InputFileError(
            f"the part '{document.part.partname.lstrip('/')}' is not the body of a Word"
            f" document (its root is <{etree.QName(body).localname}>)",
            path=path,
            hint=_REPAIR_HINT,
        )
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


def _malformed(path: Path, exc: Exception) -> str:
    """Which part of the package is not well-formed XML, for the message."""
    return malformed_part(path) or f"a part is not well-formed XML ({_first_line(exc)})"


def _first_line(exc: Exception) -> str:
    # lxml appends where the text came from, which is always "<string>" here.
    return re.sub(r" \(<string>, line \d+\)$", "", " ".join(str(exc).split()))


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
