"""Untrusted XML: parsed with defusedxml, validated against the bundled REFI-QDA schemas."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from xml.etree.ElementTree import Element, ParseError

from evalkit.errors import EvalkitError

SCHEMAS = Path(__file__).resolve().parent / "schemas"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
PROJECT_NS = "urn:QDA-XML:project:1.0"


def parse_untrusted(data: bytes, path: str | Path, error: type[EvalkitError]) -> Element:
    """Parse XML from another tool, refusing DTDs, entities and external references."""
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        return SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise error(
            f"the XML declares a DTD or entities ({type(exc).__name__}), which is refused"
            " for safety",
            path=path,
            hint="Export the file again from its tool; real REFI-QDA files need no DTD",
        ) from None
    except ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise error(
            f"not well-formed XML ({str(exc).split(':')[0]})",
            path=path,
            line=line,
            hint="The file may be truncated or not a REFI-QDA file",
        ) from None


@lru_cache(maxsize=2)
def _schema(kind: Literal["Codebook", "Project"]):
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(SCHEMAS / f"{kind}.xsd")))


def schema_errors(data: bytes, kind: Literal["Codebook", "Project"]) -> list[tuple[int, str]]:
    """Validation errors of XML bytes against a REFI-QDA schema, as (line, message)."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    document = etree.fromstring(data, parser).getroottree()
    schema = _schema(kind)
    if schema.validate(document):
        return []
    return [(e.line, e.message) for e in schema.error_log]


def require_valid(
    data: bytes, kind: Literal["Codebook", "Project"], path: str | Path, error: type[EvalkitError]
) -> None:
    """Raise ``error`` naming the first schema violation (and how many more there are)."""
    errors = schema_errors(data, kind)
    if errors:
        line, message = errors[0]
        raise error(
            f"does not validate against the REFI-QDA {kind} schema: {message}"
            + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
            path=path,
            line=line,
            hint="Re-export the file from its tool",
        )
