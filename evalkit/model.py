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
