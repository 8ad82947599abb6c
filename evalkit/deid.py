"""De-identification: names from a roster, and detectors for contact and identity details.

Participants include sex workers and trafficking survivors, so identifying details are
replaced before text is stored, coded or shared:

- **Roster** (optional): a CSV with ``name, pseudonym, variants, type``. People are
  replaced by their pseudonym (``[P07]``), organisations by a label (``[youth-serving
  org]``). Names match as written, in Title Case or in capitals, across line breaks and
  before a possessive; lowercase words never match, so "grace period" keeps its grace.
- **Detectors**: phone numbers, e-mail addresses, URLs, social-media handles, street
  addresses, dates of birth and licence plates become ``[PHONE]``, ``[EMAIL]`` and so on.
- **Candidates**: capitalised names that the roster does not cover are *not* replaced
  blindly; :func:`candidates` lists them for a person to add to the roster.

Every replacement is recorded (:class:`Replacement`) so offsets in the original text can be
mapped to the de-identified text, and so the key file can say what was replaced. The key
file holds real names: it is written outside the project folder (:func:`write_key`).
"""

from __future__ import annotations

import bisect
import csv
import io
import os
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from evalkit.errors import RosterError
from evalkit.fileio import atomic_write

TYPES = ("name", "organisation", "phone", "email", "url", "handle", "address", "dob", "plate")
TOKENS = {
    "phone": "[PHONE]",
    "email": "[EMAIL]",
    "url": "[URL]",
    "handle": "[HANDLE]",
    "address": "[ADDRESS]",
    "dob": "[DOB]",
    "plate": "[PLATE]",
}

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE = (
    rf"(?:{_DAY}\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}|{_MONTH}\s+{_DAY},?\s+\d{{4}}"
    r"|\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})|\d{4}-\d{2}-\d{2})"
)
_STREET = (
    r"(?:Street|St|Avenue|Ave|Boulevard|Blvd|Road|Rd|Drive|Dr|Lane|Ln|Way|Court|Ct|Place|Pl"
    r"|Terrace|Ter|Highway|Hwy|Parkway|Pkwy|Circle|Cir|Alley|Square|Sq)"
)
_SEP = r"[ \t.\-\u00a0]?"

# Each detector's match (or its group "value", when it has one) is what gets replaced.
DETECTORS: dict[str, re.Pattern[str]] = {
    "email": re.compile(
        r"(?<![\w.+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*"
        r"\.[A-Za-z]{2,}"
    ),
    "url": re.compile(
        r"(?:\bhttps?://|\bwww\.)[^\s<>\"“”]+[^\s<>\"“”.,;:!?)\]}'’]"
        r"|\b[a-z0-9][a-z0-9\-]*(?:\.[a-z0-9\-]+)*\.(?:com|org|net|io|me|co|ee|ly|app|link|info)"
        r"/[^\s<>\"“”]*[^\s<>\"“”.,;:!?)\]}'’]",
        re.I,
    ),
    "handle": re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?"),
    "phone": re.compile(
        rf"(?<![\w+])(?:\+?1{_SEP})?(?:\(\d{{3}}\)|\d{{3}}){_SEP}\d{{3}}{_SEP}\d{{4}}(?!\d)"
    ),
    "address": re.compile(
        rf"(?<![\w$])\d{{1,6}}(?:-\d+)?[ \t]+(?:[NSEW]\.?[ \t]+)?"
        rf"(?:(?:[A-Z][\w'’\-]*|\d+(?:st|nd|rd|th))[ \t]+){{1,3}}{_STREET}\b"
        r"(?:,?[ \t]+(?:Apt|Apartment|Unit|Suite|Ste|#)\.?[ \t]*#?\w+)?"
    ),
    "dob": re.compile(
        # A full date shortly after a birth cue ("born", "DOB", "turned twenty-one —").
        r"(?i:\b(?:DOB|D\.O\.B\.?|date\s+of\s+birth|birth\s*date|born|birthday|turned|turns)\b)"
        rf"[^.!?\n]{{0,40}}?(?P<value>{_DATE})"
    ),
    "plate": re.compile(
        r"(?i:\b(?:licen[cs]e\s+)?plates?(?:\s+(?:number|no\.?|#))?)"
        r"[\s,:#\-]*(?:(?i:is|was|reads|read|of|starting\s+with|starts\s+with)\s+)?"
        r"(?P<value>(?!(?:19|20)\d\d\b)(?=[A-Z]*\d)[A-Z0-9]{3,8})\b"
        r"|(?<![\w\-])(?P<ca>\d[A-Z]{3}\d{3})(?![\w\-])"
    ),
}
# When two findings overlap, the longer wins; on a tie, the earlier type in this list.
_PRIORITY = {
    t: i
    for i, t in enumerate(
        ("email", "url", "handle", "name", "organisation", "phone", "address", "dob", "plate")
    )
}


# -- the roster ---------------------------------------------------------------------------


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
        forms = dict.fromkeys((self.name, *self.variants))
        for form in list(forms):
            forms.setdefault(_strip_accents(form))
        return tuple(forms)


@dataclass(frozen=True)
class Roster:
    """Real names and their pseudonyms. Build one with :func:`load_roster` or directly.

    Examples
    --------
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


def load_roster(path: str | Path) -> Roster:
    """Read a roster CSV/XLSX with columns ``name, pseudonym, variants, type``.

    ``variants`` holds other forms of the name separated by ``;`` (first name alone, a
    nickname, a misspelling). ``type`` is ``person`` (the default) or ``organisation``;
    organisations may share a label, people may not share a pseudonym.

    Raises
    ------
    RosterError
        For a missing column, a blank name or pseudonym, a pseudonym given to two people,
        or one name form given to two different pseudonyms. The row is named.
    """
    from evalkit.ingest.tabular import load_table, spreadsheet_row

    path = Path(path)
    frame = load_table(path)
    missing = [c for c in ("name", "pseudonym") if c not in frame.columns]
    if missing:
        raise RosterError(
            f"missing column(s) {', '.join(missing)} (columns are: {', '.join(frame.columns)})",
            path=path,
            row=1,
            hint="A roster needs 'name' and 'pseudonym' columns; 'variants' and 'type' are"
            " optional",
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


# -- finding and replacing ----------------------------------------------------------------


@dataclass(frozen=True)
class Replacement:
    """One replaced span: ``original[start:end]`` became ``token`` at ``new_start``."""

    start: int
    end: int
    type: str
    original: str
    token: str
    new_start: int = 0

    @property
    def new_end(self) -> int:
        return self.new_start + len(self.token)


@dataclass(frozen=True)
class Redaction:
    """The de-identified text and what was replaced to make it."""

    text: str
    replacements: tuple[Replacement, ...] = field(default=())

    def map_offset(self, position: int) -> int:
        """Where a position in the original text lands in the de-identified text.

        A position inside a replaced span lands at the start of its token (or the end, for a
        position at the span's end), so a span that contained a name still contains its token.
        """
        ends = [r.end for r in self.replacements]
        i = bisect.bisect_right(ends, position)
        shift = 0
        if i:
            last = self.replacements[i - 1]
            shift = last.new_end - last.end
        if i < len(self.replacements) and self.replacements[i].start < position:
            return self.replacements[i].new_start
        return position + shift

    def counts(self) -> Counter[str]:
        return Counter(r.type for r in self.replacements)


def find_identifiers(text: str, *, roster: Roster | None = None) -> list[Replacement]:
    """Every identifying span in ``text``, without overlaps, in reading order.

    Examples
    --------
    >>> [(r.type, r.original) for r in find_identifiers("Call 415.555.0199 or @dez_t.")]
    [('phone', '415.555.0199'), ('handle', '@dez_t')]
    """
    found: list[Replacement] = []
    for kind, pattern in DETECTORS.items():
        for match in pattern.finditer(text):
            group = next((g for g in ("value", "ca") if match.groupdict().get(g)), None)
            start, end = match.span(group) if group else match.span()
            found.append(Replacement(start, end, kind, text[start:end], TOKENS[kind]))
    pattern = roster.pattern if roster is not None else None
    if pattern is not None:
        for match in pattern.finditer(text):
            surface = match.group(0)
            if surface == surface.lower():
                continue  # "grace period", "hope": lowercase words are not names
            entry = roster.entry_for(surface)
            if entry is None:
                continue
            kind = "name" if entry.type == "person" else "organisation"
            found.append(Replacement(match.start(), match.end(), kind, surface, entry.token))
    found.sort(key=lambda r: (-(r.end - r.start), _PRIORITY[r.type], r.start))
    # Kept spans never overlap, so in start order their ends ascend too: one bisect finds
    # the only neighbours a new span could overlap (a scan of all kept spans was quadratic).
    starts: list[int] = []
    kept: list[Replacement] = []
    for item in found:
        i = bisect.bisect_right(starts, item.start)
        if i and kept[i - 1].end > item.start:
            continue
        if i < len(kept) and kept[i].start < item.end:
            continue
        starts.insert(i, item.start)
        kept.insert(i, item)
    return kept


def deidentify(text: str, *, roster: Roster | None = None) -> Redaction:
    """Replace identifying details in ``text``; see the module docstring for what is found.

    Examples
    --------
    >>> deidentify("Reach Dee at dee@example.org or (415) 555-0101.").text
    'Reach Dee at [EMAIL] or [PHONE].'
    """
    pieces: list[str] = []
    done: list[Replacement] = []
    position = length = 0
    for item in find_identifiers(text, roster=roster):
        pieces.append(text[position : item.start])
        length += item.start - position
        done.append(Replacement(item.start, item.end, item.type, item.original, item.token, length))
        pieces.append(item.token)
        length += len(item.token)
        position = item.end
    pieces.append(text[position:])
    return Redaction("".join(pieces), tuple(done))


def pseudonymise_label(label: str | None, roster: Roster | None) -> str | None:
    """A speaker label with names replaced; a label that is only a pseudonym loses brackets.

    >>> pseudonymise_label("Denise Yamamoto", Roster((RosterEntry("Denise Yamamoto", "P11"),)))
    'P11'
    """
    if label is None:
        return None
    replaced = deidentify(label, roster=roster).text
    single = re.fullmatch(r"\[([^\[\]]+)\]", replaced.strip())
    return single.group(1) if single else replaced


# -- candidates for the roster ------------------------------------------------------------

_CAPITALISED = re.compile(r"[A-Z][a-zà-öø-ÿ]+(?:[-'’][A-Z]?[a-zà-öø-ÿ]{2,})?")
_RUN = re.compile(rf"(?<![\w'’]){_CAPITALISED.pattern}(?:[ \t]+{_CAPITALISED.pattern})*")
_TITLES = re.compile(
    r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Officer|Sgt|Sergeant|Det|Detective|Lt|Lieutenant|Capt|Captain"
    r"|Judge|Sister|Father|Pastor|Rev|Reverend|Auntie|Aunt|Uncle|Miss)\.?[ \t]+$"
)
_NAMED = re.compile(r"(?:\bnamed|\bcalled|\bname\s+is|\bname\s+was)[ \t]+$", re.I)
_NOT_NAMES = set(
    "I Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April"
    " May June July August September October November December God English Spanish Chinese"
    " Tagalog Okay OK Yeah Yes No So And But Or The A An It Oh Um Uh Mm Well Also Then Now"
    " Interviewer Participant Speaker Street Avenue Boulevard Road House Center Centre"
    " Department Office Task Force Group Working List Project Services Youth Clinic Court"
    " County City Police Bay Act Program Programme Unit Bureau Council Committee Board"
    " Coalition Alliance Network Health Public Safety District Attorney Chair Hon"
    " Mission Bad Date Mayor Chief Officer Sergeant Detective Captain Lieutenant Judge"
    " Supervisor Director Commissioner Governor Senator Councilmember".split()
)


def candidates(
    texts: Mapping[str, str],
    *,
    roster: Roster | None = None,
    known: Iterable[str] = (),
    transcripts: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Capitalised names the roster does not cover, for a person to review.

    A name is a candidate when it follows a title ("Officer Reyes"), "named"/"called",
    is two or more capitalised words in a row mid-sentence ("Kevin Luu"), takes a
    possessive ("Hannah's"), or labels a speaker's turn; and when none of its words ever
    appears in lowercase in the corpus (so "Police" or "Budget" do not qualify).

    ``known`` names are public and never candidates (the agencies in the attributes).
    Line-start labels count as speaker labels only in ``transcripts`` (source IDs; all
    sources when ``None``), so "Motion:" in minutes is not taken for a person.

    Returns
    -------
    pandas.DataFrame
        ``candidate, count, sources, reason, example``, most frequent first.
    """
    lower_words = set()
    for text in texts.values():
        lower_words.update(re.findall(r"\b[a-zà-öø-ÿ][\w'’\-]*", text))
    public = {_fold(k) for k in known}
    skip = public | (roster.names if roster is not None else set())
    labelled = set(texts) if transcripts is None else set(transcripts)
    found: dict[str, dict] = {}
    for source_id, text in texts.items():
        for found_run in _RUN.finditer(text):
            # "Then Kevin Luu", "Officer Reyes": the leading common word is context.
            tokens = list(re.finditer(r"\S+", found_run.group(0)))
            while tokens and (
                tokens[0].group(0) in _NOT_NAMES or tokens[0].group(0).lower() in lower_words
            ):
                tokens.pop(0)
            if not tokens:
                continue
            start = found_run.start() + tokens[0].start()
            run = text[start : found_run.end()]
            words = [w for w in run.split() if w not in _NOT_NAMES]
            if not words or any(w.lower() in lower_words for w in words):
                continue
            name = " ".join(words)
            if _fold(name) in skip or all(_fold(w) in skip for w in words):
                continue
            if any(_fold(name) in k for k in public if " " in k):
                continue
            before = text[max(0, start - 40) : start]
            after = text[found_run.end() : found_run.end() + 3]
            reason = _reason(before, after, words, run, source_id in labelled)
            if reason is None:
                continue
            item = found.setdefault(
                name, {"count": 0, "sources": set(), "reason": reason, "example": None}
            )
            item["count"] += 1
            item["sources"].add(source_id)
            if item["example"] is None:
                left = text[max(0, start - 50) : start]
                right = text[found_run.end() : found_run.end() + 50]
                item["example"] = " ".join(f"…{left}{run}{right}…".split())
    records = [
        {
            "candidate": name,
            "count": item["count"],
            "sources": ", ".join(sorted(item["sources"])),
            "reason": item["reason"],
            "example": item["example"],
        }
        for name, item in found.items()
    ]
    frame = pd.DataFrame.from_records(
        records, columns=["candidate", "count", "sources", "reason", "example"]
    )
    return frame.sort_values(["count", "candidate"], ascending=[False, True], ignore_index=True)


def candidates_for(sources, *, roster: Roster | None = None) -> pd.DataFrame:
    """:func:`candidates` for :class:`~evalkit.model.Source` objects: their agencies are
    known names, and only interviews have speaker labels."""
    known = {
        str(s.attributes[k])
        for s in sources
        for k in ("agency", "participant_id")
        if s.attributes.get(k)
    }
    return candidates(
        {s.id: s.text for s in sources},
        roster=roster,
        known=known,
        transcripts=[s.id for s in sources if s.kind == "interview"],
    )


def token_counts(texts: Mapping[str, str], *, roster: Roster | None = None) -> pd.DataFrame:
    """How many replacement tokens each text holds, by type: what de-identification has
    replaced so far, whenever it ran. Pseudonyms are told apart by the roster (without
    one, only the detector tokens are counted)."""
    kinds = {token: kind for kind, token in TOKENS.items()}
    if roster is not None:
        for entry in roster.entries:
            kinds[entry.token] = "name" if entry.type == "person" else "organisation"
    pattern = re.compile("|".join(map(re.escape, sorted(kinds, key=len, reverse=True))))
    per_source = {
        source_id: [
            Replacement(0, 0, kinds[m.group(0)], "", m.group(0)) for m in pattern.finditer(text)
        ]
        for source_id, text in texts.items()
    }
    return summary_by_source(per_source)


def _reason(before: str, after: str, words: list[str], run: str, labels: bool) -> str | None:
    line_start = before.rfind("\n") == len(before) - 1 or not before
    if _TITLES.search(before):
        return "follows a title"
    if _NAMED.search(before):
        return "follows 'named' or 'called'"
    if labels and line_start and after.startswith(":"):
        return "speaker label"
    if after[:2] in ("'s", "’s"):
        return "possessive"
    if len(words) >= 2 and len(run.split()) == len(words):
        return "capitalised words in a row"
    return None


# -- the key file -------------------------------------------------------------------------

KEY_COLUMNS = ("source_id", "type", "original", "replacement", "count")


def default_key_path(project_id: str) -> Path:
    """``$EVALKIT_KEY_DIR/<project id>.deid-key.csv``, else under ``~/.evalkit/keys``."""
    folder = Path(os.environ.get("EVALKIT_KEY_DIR") or Path.home() / ".evalkit" / "keys")
    return folder / f"{project_id}.deid-key.csv"


def key_rows(source_id: str, replacements: Iterable[Replacement]) -> list[dict]:
    counts = Counter((r.type, r.original, r.token) for r in replacements)
    return [
        {"source_id": source_id, "type": t, "original": o, "replacement": k, "count": n}
        for (t, o, k), n in sorted(counts.items())
    ]


def write_key(path: str | Path, rows: list[dict], *, replace_sources: Iterable[str]) -> Path:
    """Merge ``rows`` into the key file at ``path``, readable by its owner only.

    Rows for the sources in ``replace_sources`` are replaced; rows for other sources stay,
    so the key keeps what earlier ingests replaced.
    """
    path = Path(path)
    kept: list[dict] = []
    if path.exists():
        with path.open(encoding="utf-8", newline="") as stream:
            dropped = set(replace_sources)
            kept = [r for r in csv.DictReader(stream) if r.get("source_id") not in dropped]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=KEY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(
        sorted([*kept, *rows], key=lambda r: (r["source_id"], r["type"], str(r["original"])))
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with atomic_write(path, "w") as stream:
        os.chmod(stream.fileno(), 0o600)
        stream.write(buffer.getvalue())
    return path


def summary_by_source(per_source: Mapping[str, Iterable[Replacement]]) -> pd.DataFrame:
    """How many items of each type were replaced in each source.

    Columns ``source_id``, one per type, ``total``; one row per source, sorted by ID.
    """
    records = []
    for source_id in sorted(per_source):
        counts = Counter(r.type for r in per_source[source_id])
        records.append(
            {"source_id": source_id, **{t: counts[t] for t in TYPES}, "total": sum(counts.values())}
        )
    return pd.DataFrame.from_records(records, columns=["source_id", *TYPES, "total"])


# -- applying it to ingested files and to a project ---------------------------------------


def deidentify_extracted(item, roster: Roster | None = None):
    """De-identify what a reader extracted: the text, its units' offsets and speakers, and
    the text attributes the file carried about itself (front matter, document properties).

    Returns ``(extracted, replacements)``; attribute replacements are included (their
    offsets refer to the attribute value, not the text).
    """
    from evalkit.ingest.base import Extracted

    redaction = deidentify(item.text, roster=roster)
    units = None
    if item.units is not None:
        units = [_remap_unit(u, redaction, roster) for u in item.units]
    meta, extra = _deidentify_values(item.meta, roster)
    result = Extracted(redaction.text, meta, units, list(item.warnings), item.key)
    return result, [*redaction.replacements, *extra]


def _deidentify_values(values: dict, roster: Roster | None) -> tuple[dict, list[Replacement]]:
    cleaned: dict = {}
    found: list[Replacement] = []
    for key, value in values.items():
        if isinstance(value, dict):
            cleaned[key], more = _deidentify_values(value, roster)
            found.extend(more)
        elif isinstance(value, str) and key not in ("date", "property_date"):
            redaction = deidentify(value, roster=roster)
            cleaned[key] = redaction.text
            found.extend(redaction.replacements)
        else:
            cleaned[key] = value
    return cleaned, found


def renames_for(old: Iterable, new: Iterable, redaction: Redaction) -> dict[str, str]:
    """Old excerpt ID -> the new excerpt that holds the same passage after replacement.

    The old span is mapped through the replacements; the new excerpt with that exact span
    wins, else the one overlapping most (and at least half of the mapped span).
    """
    new = list(new)
    by_span = {(e.start, e.end): e.id for e in new}
    renames = {}
    for excerpt in old:
        a, b = redaction.map_offset(excerpt.start), redaction.map_offset(excerpt.end)
        target = by_span.get((a, b))
        if target is None:
            overlaps = [(min(b, e.end) - max(a, e.start), e.id) for e in new]
            best = max(overlaps, default=(0, None))
            target = best[1] if best[0] * 2 >= max(b - a, 1) else None
        if target is not None and target != excerpt.id:
            renames[excerpt.id] = target
    return renames


@dataclass
class DeidReport:
    """What a de-identification pass replaced, and the names it left for review."""

    replacements: dict[str, list[Replacement]]
    candidates: pd.DataFrame
    in_text: pd.DataFrame
    key_path: Path | None = None
    changed: list[str] = field(default_factory=list)
    moved: int = 0
    dry_run: bool = False
    forgotten: dict = field(default_factory=dict)

    def by_source(self) -> pd.DataFrame:
        """What this run replaced (or would replace), per source and type."""
        return summary_by_source(self.replacements)

    def by_type(self) -> dict[str, int]:
        counts = Counter(r.type for items in self.replacements.values() for r in items)
        return {t: counts[t] for t in TYPES if counts[t]}

    def to_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "changed_sources": self.changed,
            "moved_excerpts": self.moved,
            "replaced": self.by_type(),
            "by_source": self.by_source().to_dict(orient="records"),
            "tokens_in_text": self.in_text.to_dict(orient="records"),
            "candidates": self.candidates.to_dict(orient="records"),
            "key_file": str(self.key_path) if self.key_path else None,
            "forgotten": self.forgotten,
        }


def deidentify_project(
    store,
    *,
    roster: Roster | str | Path | None = None,
    key_path: str | Path | None = None,
    dry_run: bool = False,
    actor: str | None = None,
    max_chars: int | None = None,
) -> DeidReport:
    """Run de-identification again over a project's stored text (after the roster grew).

    Text that is already de-identified keeps its tokens; new roster names are replaced.
    Excerpts whose text did not change keep their IDs; the codings, suggestions and CAB
    reviews of excerpts that did change move to the new excerpt for the same passage.

    Parameters
    ----------
    store
        The open project.
    roster
        A :class:`Roster` or the path of a roster CSV/XLSX.
    key_path
        Where the key file goes; defaults to :func:`default_key_path` (outside the project).
    dry_run
        Report what would change, and the candidates, without changing anything.

    Returns
    -------
    DeidReport
    """
    from evalkit.model import Source
    from evalkit.segment import DEFAULT_MAX_CHARS, segment_many

    if roster is not None and not isinstance(roster, Roster):
        roster = load_roster(roster)
    sources = store.sources()
    redactions = {}
    replaced: dict[str, list[Replacement]] = {}
    updated: list[Source] = []
    for source in sources:
        redaction = deidentify(source.text, roster=roster)
        replaced[source.id] = list(redaction.replacements)
        if not redaction.replacements:
            continue
        redactions[source.id] = redaction
        units = None
        if source.units is not None:
            units = tuple(_remap_unit(u, redaction, roster) for u in source.units)
        text = redaction.text
        updated.append(
            Source(
                id=source.id,
                name=source.name,
                kind=source.kind,
                text=text,
                content_hash=_sha256(text),
                attributes=source.attributes,
                units=units,
            )
        )
    texts = {s.id: s.text for s in sources}
    texts.update({s.id: s.text for s in updated})
    final = {s.id: s for s in sources}
    final.update({s.id: s for s in updated})
    report = DeidReport(
        replaced,
        candidates_for(list(final.values()), roster=roster),
        token_counts(texts, roster=roster),
        dry_run=dry_run,
    )
    report.changed = [s.id for s in updated]
    if dry_run or not updated:
        return report
    cut = segment_many(updated, max_chars=max_chars or DEFAULT_MAX_CHARS)
    # No snapshot first, on purpose: it would keep the very names being removed.
    with store.transaction(actor=actor, command="deid"):
        for source in updated:
            renames = renames_for(store.excerpts(source.id), cut[source.id], redactions[source.id])
            store.put_source(source, cut[source.id], renames=renames)
            report.moved += len(renames)
        store.log(
            "deid",
            "project",
            None,
            {
                "replaced": report.by_type(),
                "sources": report.changed,
                "moved_excerpts": report.moved,
            },
        )
        # The undo history and the snapshots hold the text as it was, names and all.
        report.forgotten = store.forget_history(
            "de-identification removed names that the undo history and backups still held"
        )
    report.forgotten["compacted"] = store.compact()
    report.key_path = write_key(
        key_path or default_key_path(store.project_id),
        [row for sid in report.changed for row in key_rows(sid, replaced[sid])],
        replace_sources=(),
    )
    return report


def _remap_unit(unit, redaction: Redaction, roster: Roster | None):
    from dataclasses import replace

    return replace(
        unit,
        start=redaction.map_offset(unit.start),
        end=redaction.map_offset(unit.end),
        speaker=pseudonymise_label(unit.speaker, roster),
    )


def _sha256(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def score(
    truth: pd.DataFrame,
    replaced: Mapping[str, Iterable[Replacement]],
    deidentified: Mapping[str, str],
) -> pd.DataFrame:
    """Recall and precision of de-identification against planted details.

    Parameters
    ----------
    truth
        Columns ``file, type, text, count``: each planted detail as it appears in a file.
    replaced
        File -> the replacements made in it.
    deidentified
        File -> its de-identified text.

    Returns
    -------
    pandas.DataFrame
        One row per type and a ``total`` row: ``planted`` occurrences, ``left`` (still in
        the de-identified text as a whole word), ``recall``; ``replaced`` items, ``correct``
        (the replaced text is, contains or lies within a planted detail of that file),
        ``precision``.
    """
    planted: Counter[str] = Counter()
    left: Counter[str] = Counter()
    truth_by_file: dict[str, list[str]] = defaultdict(list)
    for row in truth.itertuples():
        planted[row.type] += int(row.count)
        truth_by_file[row.file].append(_fold(row.text))
        text = deidentified.get(row.file, "")
        pattern = r"(?<!\w)" + r"\s+".join(map(re.escape, row.text.split())) + r"(?!\w)"
        left[row.type] += min(int(row.count), len(re.findall(pattern, text)))
    made: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    for file, items in replaced.items():
        known = truth_by_file.get(file, [])
        for item in items:
            made[item.type] += 1
            original = _fold(item.original)
            if any(original in t or t in original for t in known):
                correct[item.type] += 1
    rows = []
    for kind in [*TYPES, "total"]:
        if kind == "total":
            p, lft, m, c = (sum(x.values()) for x in (planted, left, made, correct))
        else:
            p, lft, m, c = planted[kind], left[kind], made[kind], correct[kind]
        if kind != "total" and not (p or m):
            continue
        rows.append(
            {
                "type": kind,
                "planted": p,
                "left": lft,
                "recall": round((p - lft) / p, 4) if p else None,
                "replaced": m,
                "correct": c,
                "precision": round(c / m, 4) if m else None,
            }
        )
    return pd.DataFrame(rows)
