"""The roster: real names and their pseudonyms, read from a CSV or XLSX table."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from evalkit.errors import RosterError
from evalkit.util.tables import load_table, spreadsheet_row


@dataclass(frozen=True)
class RosterEntry:
    """One person or organisation: every form of the name maps to one pseudonym."""

    name: str
    pseudonym: str
    variants: tuple[str, ...] = ()
    type: str = "person"
    row: int | None = None

    @property
    def token(self) -> str:
        return f"[{self.pseudonym}]"

    @property
    def forms(self) -> tuple[str, ...]:
        # Composed (NFC), like the text they are matched against: a roster saved on a Mac
        # may hold "Toma\u0301s".
        forms = dict.fromkeys(unicodedata.normalize("NFC", f) for f in (self.name, *self.variants))
        for form in list(forms):
            forms.setdefault(_strip_accents(form))
        return tuple(forms)


@dataclass(frozen=True)
class Roster:
    """Real names and their pseudonyms. Build one with :func:`load_roster` or directly.

    Examples
    --------
    >>> from evalkit.deid import deidentify
    >>> roster = Roster((RosterEntry("Maria Lopez", "P07", ("Maria",)),))
    >>> deidentify("MARIA LOPEZ:\\nMaria's cousin called.", roster=roster).text
    "[P07]:\\n[P07]'s cousin called."
    """

    entries: tuple[RosterEntry, ...] = ()
    path: str | None = None

    def __post_init__(self) -> None:
        _check_roster(self.entries, self.path)

    # Cached: de-identification asks for these once per text and once per match, and a
    # roster never changes after it is built (frozen), so each is computed once.
    @cached_property
    def pattern(self) -> re.Pattern[str] | None:
        forms = sorted({f for e in self.entries for f in e.forms}, key=len, reverse=True)
        if not forms:
            return None
        alternatives = "|".join(r"\s+".join(map(re.escape, f.split())) for f in forms)
        return re.compile(rf"(?<![\w@.])(?:{alternatives})(?!\w)", re.I)

    def entry_for(self, surface: str) -> RosterEntry | None:
        return self._lookup.get(_fold(surface))

    @cached_property
    def _lookup(self) -> dict[str, RosterEntry]:
        return {_fold(form): entry for entry in self.entries for form in entry.forms}

    @property
    def names(self) -> set[str]:
        return set(self._lookup)


ROSTER_COLUMNS = ("name", "pseudonym", "variants", "type")
# Other headers teams write for the variants column; each is read as ``variants``.
VARIANT_SYNONYMS = ("aliases", "alias", "nicknames", "nickname", "other_names", "other names")


def load_roster(path: str | Path) -> Roster:
    """Read a roster CSV/XLSX with columns ``name, pseudonym, variants, type``.

    Column names are read in any letter case; ``aliases``, ``alias``, ``nicknames``,
    ``nickname``, ``other_names`` and ``other names`` are read as ``variants``. Any other
    column is an error that suggests the closest known one, because a column evalkit
    ignored would leave the names in it in the text.

    ``variants`` holds other forms of the name separated by ``;`` (first name alone, a
    nickname, a misspelling). ``type`` is ``person`` (the default) or ``organisation``;
    organisations may share a label, people may not share a pseudonym.

    Raises
    ------
    RosterError
        For a missing column, a blank name or pseudonym, a pseudonym given to two people,
        or one name form given to two different pseudonyms. The row is named.
    """
    path = Path(path)
    frame = load_table(path)
    frame = frame.rename(columns={c: c.strip().lower() for c in frame.columns})
    synonyms = [c for c in frame.columns if c in VARIANT_SYNONYMS]
    if synonyms and "variants" not in frame.columns:
        frame = frame.rename(columns={synonyms[0]: "variants"})
        synonyms = synonyms[1:]
    missing = [c for c in ("name", "pseudonym") if c not in frame.columns]
    if missing:
        raise RosterError(
            f"missing column(s) {', '.join(missing)} (columns are: {', '.join(frame.columns)})",
            path=path,
            row=1,
            hint="A roster needs 'name' and 'pseudonym' columns; 'variants' and 'type' are"
            " optional",
        )
    for column in frame.columns:
        if column in ROSTER_COLUMNS:
            continue
        close = difflib.get_close_matches(column, ROSTER_COLUMNS, n=1, cutoff=0.5)
        suggestion = f"; did you mean '{close[0]}'?" if close else ""
        if column in synonyms:
            suggestion = "; there is a 'variants' column already: merge the two"
        raise RosterError(
            f"unknown column '{column}'{suggestion} (known columns: {', '.join(ROSTER_COLUMNS)};"
            f" {', '.join(VARIANT_SYNONYMS[::2])} are read as variants)",
            path=path,
            row=1,
            hint="Rename the column: names it does not know would be ignored, and the names"
            " in it left in the text",
        )
    entries = []
    for index, record in frame.iterrows():
        row = spreadsheet_row(int(index))
        if not any(str(v).strip() for v in record.values):
            continue
        name, pseudonym = record["name"].strip(), record["pseudonym"].strip().strip("[]")
        kind = (record.get("type") or "person").strip().lower() or "person"
        kind = {"org": "organisation", "organization": "organisation"}.get(kind, kind)
        if not name or not pseudonym:
            raise RosterError(
                f"blank {'name' if not name else 'pseudonym'}",
                path=path,
                row=row,
                hint="Fill it in or delete the row",
            )
        if kind not in ("person", "organisation"):
            raise RosterError(
                f"type must be 'person' or 'organisation'; got '{kind}'",
                path=path,
                row=row,
            )
        variants = tuple(v.strip() for v in (record.get("variants") or "").split(";"))
        entries.append(RosterEntry(name, pseudonym, tuple(v for v in variants if v), kind, row))
    return Roster(tuple(entries), str(path))


def _check_roster(entries: Iterable[RosterEntry], path: str | None) -> None:
    people: dict[str, RosterEntry] = {}
    forms: dict[str, RosterEntry] = {}
    for entry in entries:
        if entry.type == "person":
            first = people.setdefault(entry.pseudonym.lower(), entry)
            if first is not entry and _fold(first.name) != _fold(entry.name):
                raise RosterError(
                    f"pseudonym '{entry.pseudonym}' is given to '{entry.name}' and to"
                    f" '{first.name}'{_row_note(first)}",
                    path=path,
                    row=entry.row,
                    hint="Give each person their own pseudonym; other spellings of one"
                    " person's name go in the 'variants' column of their row",
                )
        for form in entry.forms:
            other = forms.setdefault(_fold(form), entry)
            if other.pseudonym != entry.pseudonym:
                raise RosterError(
                    f"'{form}' would be replaced by both [{other.pseudonym}] and"
                    f" [{entry.pseudonym}]{_row_note(other)}",
                    path=path,
                    row=entry.row,
                    hint="List a shared first name only in full names, never as a variant"
                    " of two people",
                )


def _row_note(entry: RosterEntry) -> str:
    return f" (row {entry.row})" if entry.row is not None else ""


def _fold(text: str) -> str:
    return " ".join(_strip_accents(text).casefold().split())


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))

