"""Plain values that flow between stages.

An excerpt never copies text: it is a source ID plus ``start``/``end`` character offsets,
and its text is always ``source.text[start:end]``. Every quote is therefore traceable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["interview", "observation", "document"]
KINDS: tuple[str, ...] = ("interview", "observation", "document")


@dataclass(frozen=True)
class Unit:
    """A span a reader already knows the structure of (a caption turn, a spreadsheet answer).

    Offsets point into the source text. ``t_start``/``t_end`` are seconds from the start of a
    recording, when the reader had timestamps. Segmentation also uses units for the turns
    and paragraphs it finds, adding ``speaker_role``.
    """

    start: int
    end: int
    speaker: str | None = None
    speaker_role: str | None = None
    section: str | None = None
    t_start: float | None = None
    t_end: float | None = None


@dataclass(frozen=True)
class Source:
    """One ingested file (or one spreadsheet row), de-identified text and all."""

    id: str
    name: str
    kind: str
    text: str
    content_hash: str
    attributes: dict[str, Any] = field(default_factory=dict)
    units: tuple[Unit, ...] | None = None

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass(frozen=True)
class Excerpt:
    """A codable span of a source."""

    id: str
    source_id: str
    start: int
    end: int
    ordinal: int
    speaker: str | None = None
    speaker_role: str | None = None  # "interviewer" / "participant" for interviews
    section: str | None = None
    t_start: float | None = None
    t_end: float | None = None

    def text(self, source: Source) -> str:
        return source.text[self.start : self.end]


@dataclass(frozen=True)
class Code:
    """One code of a codebook, with the MacQueen et al. (1998) fields and rule hints.

    ``keywords`` are phrases matched on lemmas, ``patterns`` regular expressions, and
    ``exclude`` phrases that veto a match; all three are hints for assisted coding.
    """

    name: str
    parent: str | None = None
    brief: str = ""
    definition: str = ""
    when_to_use: str = ""
    when_not_to_use: str = ""
    examples: tuple[str, ...] = ()
    color: str | None = None
    tension: bool = False
    keywords: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    # Exchange identity only (REFI-QDA GUID); two codes with the same content are equal.
    guid: str | None = field(default=None, compare=False)


# The fields compared by codebook diff and carried by every exchange format.
CODE_FIELDS: tuple[str, ...] = (
    "parent",
    "brief",
    "definition",
    "when_to_use",
    "when_not_to_use",
    "examples",
    "color",
    "tension",
    "keywords",
    "patterns",
    "exclude",
)


@dataclass(frozen=True)
class Codebook:
    """A titled, versioned set of codes, with optional RQA domains (domain -> code names)."""

    title: str
    codes: tuple[Code, ...]
    version: str = "1"
    authors: tuple[str, ...] = ()
    date: str | None = None
    description: str = ""
    domains: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def code(self, name: str) -> Code:
        for code in self.codes:
            if code.name == name:
                return code
        raise KeyError(name)

    def children(self, name: str | None) -> list[Code]:
        """Codes whose parent is ``name`` (``None`` for the top level), in file order."""
        return [c for c in self.codes if c.parent == name]
