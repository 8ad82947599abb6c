"""Finding identifying details in text and replacing them with tokens.

Text is searched in a normalised form: composed (NFC), as most text is, and without the
invisible characters that Word and PDF extractors leave inside words (zero-width spaces and
joiners, word joiners, byte-order marks, soft hyphens). So ``"Toma\\u0301s"`` (decomposed, as
macOS writes it) and ``"Ta\\u200bnya Re\\u00adyes"`` match the roster like ``"Tomás"`` and
``"Tanya Reyes"``, and ``"415\\u200b-555-0134"`` is a phone number. The de-identified text is
the normalised text with its findings replaced; see :mod:`evalkit.deid.normalise`.

Phone numbers are checked with Google's libphonenumber (the ``phonenumbers`` package); the
other details, for which no well-kept library exists, with the patterns in ``DETECTORS``.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

import phonenumbers

from evalkit.deid.normalise import NORMALISE, normalise_edits, to_original
from evalkit.deid.roster import Roster

TYPES = (
    "name",
    "organisation",
    "phone",
    "email",
    "url",
    "handle",
    "address",
    "dob",
    "plate",
    "ssn",
)
TOKENS = {
    "phone": "[PHONE]",
    "email": "[EMAIL]",
    "url": "[URL]",
    "handle": "[HANDLE]",
    "address": "[ADDRESS]",
    "dob": "[DOB]",
    "plate": "[PLATE]",
    "ssn": "[SSN]",
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
# Hyphen, the Unicode hyphens and dashes (en, em, figure, non-breaking), minus sign.
_DASH = "\\-\u2010-\u2015\u2212"
# Valid Social Security numbers only: no area 000, 666 or 9xx, no group 00, no serial 0000.
_SSN = r"(?!000|666|9\d\d)\d{{3}}{sep}(?!00)\d{{2}}{sep2}(?!0000)\d{{4}}"
_SSN_SPLIT = _SSN.format(sep=f"(?P<sep>[ {_DASH}])", sep2="(?P=sep)")
_SSN_BARE = _SSN.format(sep="", sep2="")

# Each detector's match (or its group "value", "ca" or "bare", when it has one) is what gets
# replaced. Phone numbers are found by libphonenumber instead (see _phones).
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
    "address": re.compile(
        rf"(?<![\w$])\d{{1,6}}(?:-\d+)?[ \t]+(?:[NSEW]\.?[ \t]+)?"
        rf"(?:(?:[A-Z][\w'’\-]*|\d+(?:st|nd|rd|th))[ \t]+){{1,3}}{_STREET}\b"
        r"(?:,?[ \t]+(?:Apt|Apartment|Unit|Suite|Ste|#)\.?[ \t]*#?\w+)?"
    ),
    "dob": re.compile(
        # A full date shortly after a birth cue ("born", "DOB", "turned twenty-one —").
        # "D.O.B." ends in a dot, so a \b after it would need a letter next: it has its own
        # branch without one.
        r"(?i:\b(?:D\.O\.B\.|(?:DOB|D\.O\.B|date\s+of\s+birth|birth\s*date|born|birthday"
        r"|turned|turns)\b))"
        rf"[^.!?\n]{{0,40}}?(?P<value>{_DATE})"
    ),
    "plate": re.compile(
        r"(?i:\b(?:licen[cs]e\s+)?plates?(?:\s+(?:number|no\.?|#))?)"
        r"[\s,:#\-]*(?:(?i:is|was|reads|read|of|starting\s+with|starts\s+with)\s+)?"
        r"(?P<value>(?!(?:19|20)\d\d\b)(?=[A-Z]*\d)[A-Z0-9]{3,8})\b"
        r"|(?<![\w\-])(?P<ca>\d[A-Z]{3}\d{3})(?![\w\-])"
    ),
    "ssn": re.compile(
        # 123-45-6789 or 123 45 6789 anywhere (one separator throughout); nine bare digits
        # only after a cue, since a bare nine-digit number is as often a case number. (The
        # lookahead lets the many places where no SSN can start fail fast: twice as quick.)
        rf"(?=[\dSs])(?<![\w+.{_DASH}])(?P<value>{_SSN_SPLIT})"
        rf"(?![\w{_DASH}]|[.,/]\d)"
        r"|(?i:(?<![\w.])(?:SSN|S\.S\.N\.?|social\s+security(?:\s+(?:number|no\.?|#))?))"
        r"[\s:#.,\-]*(?:(?i:is|was)\s+)?"
        rf"(?P<bare>{_SSN_BARE})(?!\d)"
    ),
}
_VALUE_GROUPS = ("value", "ca", "bare")

# Candidates for North American numbers, to check with libphonenumber. Its own matcher
# misses a number next to other digits ("Room 12 415 555 0134", "at 10:30 555 0134") and
# keeps only "555-0134" of "(415) 555-0134 2019", so these shapes are looked for as well.
_GAP = rf"(?:[ \t\u00a0]?[{_DASH}./][ \t\u00a0]?|[ \t\u00a0])"
_NANP = re.compile(
    rf"(?=[\d+(])(?<![\w+$£€])(?<!\d[{_DASH}./])"
    rf"(?:(?:(?:\+[ \t\u00a0]?)?1{_GAP}?)?(?:\(\d{{3}}\)[ \t\u00a0]?|\d{{3}}{_GAP}?)\d{{3}}{_GAP}?"
    rf"\d{{4}}|\d{{3}}{_GAP}\d{{4}})"
    rf"(?![\w%])(?![{_DASH}./]\d)"
)
_DIGITS7 = re.compile(r"\d(?:[^\d\n]{0,3}\d){6}")
# A national number: area and exchange codes start with 2-9 (so "123-4567" is not a number).
_NANP_NUMBER = re.compile(r"(?:[2-9]\d\d)?[2-9]\d{6}")
_LOCAL_DASHED = re.compile(rf"\d{{3}}[ \t\u00a0]?[{_DASH}.][ \t\u00a0]?\d{{4}}")
_LOCAL_SPACED = re.compile(r"\d{3}[ \t\u00a0]\d{4}")
_YEAR_END = re.compile(r"(?:19|20)\d\d$")
# Digits just before or after, or a currency sign: part of a longer number, or money.
_GLUED_BEFORE = re.compile(rf"\d[{_DASH}./]?$|[$£€].?$")
_GLUED_AFTER = re.compile(rf"[{_DASH}./]?\d|%")
_PHONE_CUE = re.compile(
    r"(?i:\b(?:call(?:ed|ing)?|phone|cell|mobile|tel|telephone|text(?:ed)?|line|fax|number"
    r"|dial(?:led|ed)?|reach)\b)[^\d.!?\n]{0,20}$"
)

# When two findings overlap, the longer wins; on a tie, the earlier type in this list.
# (A Social Security number beats an overlapping phone number whatever their lengths.)
_PRIORITY = {
    t: i
    for i, t in enumerate(
        (
            "email",
            "url",
            "handle",
            "ssn",
            "name",
            "organisation",
            "phone",
            "address",
            "dob",
            "plate",
        )
    )
}


@dataclass(frozen=True)
class Replacement:
    """One replaced span: ``original[start:end]`` became ``token`` at ``new_start``.

    ``type`` is one of :data:`TYPES`, or ``"normalise"`` for an edit that only normalised
    the text (``token`` is then the normalised form, or ``""`` for an invisible character).
    """

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
    """The de-identified text and what was replaced to make it.

    ``replacements`` holds every edit, in order, so that :meth:`map_offset` is exact; that
    includes ``"normalise"`` edits (text composed, invisible characters dropped) outside the
    findings. What was *found*, for the key file and counts, is :attr:`findings`.
    """

    text: str
    replacements: tuple[Replacement, ...] = field(default=())

    @cached_property
    def findings(self) -> tuple[Replacement, ...]:
        """The identifying details replaced: every replacement but the normalise edits."""
        return tuple(r for r in self.replacements if r.type != NORMALISE)

    @cached_property
    def _ends(self) -> list[int]:
        return [r.end for r in self.replacements]

    def map_offset(self, position: int) -> int:
        """Where a position in the original text lands in the de-identified text.

        A position inside a replaced span lands at the start of its token (or the end, for a
        position at the span's end), so a span that contained a name still contains its token.
        """
        i = bisect.bisect_right(self._ends, position)
        shift = 0
        if i:
            last = self.replacements[i - 1]
            shift = last.new_end - last.end
        if i < len(self.replacements) and self.replacements[i].start < position:
            return self.replacements[i].new_start
        return position + shift

    def counts(self) -> Counter[str]:
        """How many details of each type were replaced (normalise edits are not counted)."""
        return Counter(r.type for r in self.findings)


def find_identifiers(text: str, *, roster: Roster | None = None) -> list[Replacement]:
    """Every identifying span in ``text``, without overlaps, in reading order.

    Spans are offsets into ``text`` as given, and ``original`` is the text there, even when
    the detail was found through decomposed accents or invisible characters.

    Examples
    --------
    >>> [(r.type, r.original) for r in find_identifiers("Call 415.555.0199 or @dez_t.")]
    [('phone', '415.555.0199'), ('handle', '@dez_t')]
    >>> [(r.type, r.start, r.end) for r in find_identifiers("SSN 123-45-6789")]
    [('ssn', 4, 15)]
    """
    return _find(text, roster)[0]


def deidentify(text: str, *, roster: Roster | None = None) -> Redaction:
    """Replace identifying details in ``text``; see the module docstring for what is found.

    The new text is also normalised (NFC, no invisible characters); those edits are in
    ``replacements`` as type ``"normalise"``, so offsets map exactly, but not in ``findings``.

    Examples
    --------
    >>> deidentify("Reach Dee at dee@example.org or (415) 555-0101.").text
    'Reach Dee at [EMAIL] or [PHONE].'
    >>> result = deidentify("Call 415\\u200b–555–0134 (Jose\\u0301)")
    >>> result.text, [r.type for r in result.replacements], dict(result.counts())
    ('Call [PHONE] (José)', ['phone', 'normalise'], {'phone': 1})
    """
    findings, edits = _find(text, roster)
    if edits:
        inside = _covered(findings)
        edits = [e for e in edits if not inside(e)]
    return replace_spans(text, [*findings, *edits])


def replace_spans(text: str, spans: list[Replacement]) -> Redaction:
    """``text`` with each of ``spans`` (not overlapping) replaced by its token.

    >>> replace_spans("call Ana now", [Replacement(5, 8, "name", "Ana", "[P1]")]).text
    'call [P1] now'
    """
    pieces: list[str] = []
    done: list[Replacement] = []
    position = length = 0
    for item in sorted(spans, key=lambda r: r.start):
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

    >>> from evalkit.deid.roster import RosterEntry
    >>> pseudonymise_label("Denise Yamamoto", Roster((RosterEntry("Denise Yamamoto", "P11"),)))
    'P11'
    """
    if label is None:
        return None
    replaced = deidentify(label, roster=roster).text
    single = re.fullmatch(r"\[([^\[\]]+)\]", replaced.strip())
    return single.group(1) if single else replaced


def _find(text: str, roster: Roster | None) -> tuple[list[Replacement], list[Replacement]]:
    """The findings (in ``text``'s offsets) and the normalise edits, found or not in them."""
    edits = normalise_edits(text)
    if not edits:
        return _detect(text, roster), []
    clean = "".join(_apply(text, edits))
    found = []
    for item in _detect(clean, roster):
        start, end = to_original(item.start, item.end, edits)
        found.append(Replacement(start, end, item.type, text[start:end], item.token))
    return found, [Replacement(s, e, NORMALISE, text[s:e], new, n) for s, e, new, n in edits]


def _apply(text: str, edits: list[tuple[int, int, str, int]]):
    position = 0
    for start, end, new, _ in edits:
        yield text[position:start]
        yield new
        position = end
    yield text[position:]


def _covered(findings: list[Replacement]):
    """A test of whether an edit lies inside one of ``findings`` (sorted, not overlapping)."""
    starts = [f.start for f in findings]

    def inside(edit: Replacement) -> bool:
        i = bisect.bisect_right(starts, edit.start)
        return bool(i) and edit.end <= findings[i - 1].end

    return inside


def _detect(text: str, roster: Roster | None) -> list[Replacement]:
    found: list[Replacement] = []
    for kind, pattern in DETECTORS.items():
        for match in pattern.finditer(text):
            group = next((g for g in _VALUE_GROUPS if match.groupdict().get(g)), None)
            start, end = match.span(group) if group else match.span()
            found.append(Replacement(start, end, kind, text[start:end], TOKENS[kind]))
    ssns = [(r.start, r.end) for r in found if r.type == "ssn"]
    for start, end in _phones(text):
        if not any(start < b and a < end for a, b in ssns):
            found.append(Replacement(start, end, "phone", text[start:end], TOKENS["phone"]))
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
    return keep_longest(found)


def keep_longest(found: list[Replacement]) -> list[Replacement]:
    """``found`` without overlaps, in reading order: of two overlapping spans the longer is
    kept, on a tie the type earlier in the priority order (an e-mail over a handle)."""
    found = sorted(found, key=lambda r: (-(r.end - r.start), _PRIORITY[r.type], r.start))
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


def _phones(text: str) -> list[tuple[int, int]]:
    """Spans of phone numbers: libphonenumber's matches and NANP-shaped candidates it accepts.

    POSSIBLE leniency, because VALID rejects the fictional 555-01XX numbers that transcripts
    and test data use, and a number that merely could be dialled is still identifying.
    """
    spans = []
    lenient = phonenumbers.Leniency.POSSIBLE
    for a, b in _windows(text):
        for match in phonenumbers.PhoneNumberMatcher(text[a:b], "US", leniency=lenient):
            if _is_phone(text, a + match.start, match.raw_string, match.number):
                spans.append((a + match.start, a + match.end))
    for match in _NANP.finditer(text):
        try:
            number = phonenumbers.parse(match.group(0), "US")
        except phonenumbers.NumberParseException:
            continue
        if _is_phone(text, match.start(), match.group(0), number):
            spans.append(match.span())
    return spans


def _windows(text: str) -> list[tuple[int, int]]:
    """Stretches of ``text`` around every seven digits with at most three characters between
    neighbours, which every phone number has: libphonenumber's matcher is slow on years and
    counts, so it reads only these (and a number's context, checked in _is_phone, is read
    from the whole text, so a window's edge cannot make one)."""
    windows: list[tuple[int, int]] = []
    for match in _DIGITS7.finditer(text):
        a, b = max(0, match.start() - 40), match.end() + 40
        if windows and a <= windows[-1][1]:
            windows[-1] = (windows[-1][0], b)
        else:
            windows.append((a, b))
    return windows


def _is_phone(text: str, start: int, raw: str, number: phonenumbers.PhoneNumber) -> bool:
    if not phonenumbers.is_possible_number(number):
        return False
    before, after = text[max(0, start - 2) : start], text[start + len(raw) : start + len(raw) + 2]
    if _GLUED_BEFORE.search(before) or _GLUED_AFTER.match(after):
        return False  # 19-241-0001, 12345678901, $555.0134
    if number.country_code != 1:
        return True
    national = str(number.national_number)
    if not _NANP_NUMBER.fullmatch(national):
        return False
    if len(national) == 10:
        return True
    # Seven digits: "555-0134" and "555 0134" are numbers, "5550134" only after a cue, and so
    # is "the 350 2019 cases", where the four digits could be a year.
    if _LOCAL_DASHED.match(raw):
        return True
    if _LOCAL_SPACED.match(raw) and not _YEAR_END.search(national):
        return True
    return _PHONE_CUE.search(text, max(0, start - 40), start) is not None
