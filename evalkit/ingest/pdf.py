"""PDF: the text layer only; a scan without one needs OCR first."""

from __future__ import annotations

import re
from pathlib import Path

from evalkit.errors import InputFileError
from evalkit.ingest.base import Extracted, iso_date, normalise_newlines, require_text

_SENTENCE_END = re.compile(r"[.!?:;\"”)\]]$")


def read_pdf(path: Path) -> list[Extracted]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PyPdfError

    try:
        reader = PdfReader(str(path))
        # AES (128 and 256) needs the `cryptography` package; an empty user password is
        # common (the owner password only restricts printing and copying) and opens here.
        if reader.is_encrypted and not reader.decrypt(""):
            raise InputFileError(
                "the PDF is password-protected",
                path=path,
                hint="Remove the password in the program that made it, or export the text",
            )
        pages = [page.extract_text() or "" for page in reader.pages]
        meta = _metadata(reader)
    except InputFileError:
        raise
    except DependencyError:
        raise InputFileError(
            "the PDF is AES-encrypted, and reading it needs the 'cryptography' package",
            path=path,
            hint="Install it with 'pip install cryptography' (evalkit depends on it),"
            " or save an unencrypted copy",
        ) from None
    except NotImplementedError as exc:  # a filter or an encryption handler pypdf lacks
        raise InputFileError(
            f"the PDF uses a feature that cannot be read ({exc})",
            path=path,
            hint="Print it to a new PDF, or export the text, and ingest that",
        ) from None
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise InputFileError(
            f"not a readable PDF ({type(exc).__name__})",
            path=path,
            hint="The file may be corrupt or truncated; re-export or re-download it",
        ) from None
    if not pages:
        raise InputFileError("the PDF has no pages", path=path)
    if not any(page.strip() for page in pages):
        raise InputFileError(
            f"the PDF has {len(pages)} page(s) but no text layer (an image-only scan)",
            path=path,
            hint="Run OCR on it first, e.g. 'ocrmypdf in.pdf out.pdf', then ingest the result",
        )
    # Reflow across page breaks too: a paragraph often runs on to the next page.
    text = _reflow(normalise_newlines("\n".join(page for page in pages if page.strip())))
    return [Extracted(text=require_text(text, path), meta=meta)]


def _metadata(reader) -> dict[str, str]:
    """Title and creation date from the document information, read (lazily) by pypdf."""
    info = reader.metadata or {}
    meta = {}
    title = info.get("/Title") if hasattr(info, "get") else None
    if title:
        meta["title"] = str(title)
    try:
        created = iso_date(getattr(info, "creation_date", None))
    except ValueError:  # producers write malformed dates; the file name may still have one
        created = None
    if created:
        meta["property_date"] = created
    return meta


def _reflow(text: str) -> str:
    """Rejoin lines that the PDF broke for layout into paragraphs.

    A PDF has lines, not paragraphs. A line noticeably shorter than the document's typical
    line ends a paragraph when it ends a sentence or is a hard break (extractors keep a
    trailing space on lines that merely wrapped); other breaks become spaces. Blank lines
    always end a paragraph.
    """
    lines = text.split("\n")
    widths = sorted(len(line.strip()) for line in lines if line.strip())
    typical = widths[int(len(widths) * 0.9)] if widths else 0
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        stripped = line.strip()
        if not stripped:
            if paragraphs[-1]:
                paragraphs.append([])
            continue
        paragraphs[-1].append(stripped)
        short = len(stripped) < 0.9 * typical
        hard_break = not line.endswith(" ")
        if short and (hard_break or _SENTENCE_END.search(stripped)):
            paragraphs.append([])
    return "\n\n".join(" ".join(p) for p in paragraphs if p)
