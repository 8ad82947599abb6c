"""The detectors: phones, SSNs, dates of birth, roster names, through normalisation."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.deid.detect import TOKENS, TYPES, Redaction, deidentify, find_identifiers
from evalkit.deid.normalise import INVISIBLE, NORMALISE, normalise_edits
from evalkit.deid.roster import Roster, RosterEntry

ROSTER = Roster(
    (
        RosterEntry("Tanya Reyes", "survivor-leader-1", ("Tanya",)),
        RosterEntry("Tomás Ibarra", "epidemiologist-1", ("Ibarra",)),
        RosterEntry("Yesenia Montaño", "advocate-1"),
        RosterEntry("Restore Hope", "faith-based org", type="organisation"),
    )
)

# Every written form the detectors must see through, in one interview-like text, and the
# numbers around them that must stay. TRICKY_TRUTH lists each planted detail as it reads
# on screen (invisible characters dropped, accents composed).
TRICKY_FORMS = (
    "INTERVIEWER: Who should we talk to?\n"
    "P03: Ta\u200bnya Re\u00adyes, for sure. TANYA REYES: that's how she signs. Tanya's number\n"
    "is (415) 555-0134, or 415.555.0135 at the office, or 415 555 0136. From abroad it's\n"
    "+1 415 555 0137. Her old cell was 415–555–0138, the shelter line 415—555—0139, and\n"
    "1-415-555-0140 is the hotline. Locally just 555-0141 or 555 0142; text 5550143 after six.\n"
    "Toma\u0301s\nIbarra keeps the list; his desk is 415\u200b-555-0144. Yesenia"
    " Monta\u00f1o\u200d\n"
    "runs Restore Hope.\n"
    "SSN 123-45-6789 on the form, or 234 56 7890, or 345–67–8901; her social security no.\n"
    "456789012 and S.S.N. 567890123.\n"
    "D.O.B. 03/04/1990, DOB: 3/4/90, born March 3rd, 2003.\n"
    "Not identifying: in 2013, then 2014-2015 and 2019–2020, on 05/06/1991 and 2024-01-17,\n"
    "$1,234.50, 1,234 cases, bulletin 19-241, at 10:30, 45% of 1,250,000, section 12.3.4,\n"
    "the 350 2019 cases, room 5550199, call 911, the 101 off-ramp, ZIP 94110-1234, case\n"
    "19-241-0001, invalid 000-12-3456 and 123-00-4567. The grace period ended; we had hope.\n"
)
TRICKY_TRUTH = [
    ("name", "Tanya Reyes"),
    ("name", "TANYA REYES"),
    ("name", "Tanya"),
    ("name", "Tomás Ibarra"),
    ("name", "Yesenia Montaño"),
    ("organisation", "Restore Hope"),
    *(("phone", p) for p in ("(415) 555-0134", "415.555.0135", "415 555 0136")),
    *(("phone", p) for p in ("+1 415 555 0137", "415–555–0138", "415—555—0139")),
    *(("phone", p) for p in ("1-415-555-0140", "555-0141", "555 0142", "5550143")),
    ("phone", "415-555-0144"),
    *(("ssn", s) for s in ("123-45-6789", "234 56 7890", "345–67–8901", "456789012")),
    ("ssn", "567890123"),
    *(("dob", d) for d in ("03/04/1990", "3/4/90", "March 3rd, 2003")),
]
TRICKY_KEPT = [
    "2013",
    "2014-2015",
    "2019–2020",
    "05/06/1991",
    "2024-01-17",
    "$1,234.50",
    "1,234 cases",
    "19-241",
    "10:30",
    "45% of 1,250,000",
    "12.3.4",
    "the 350 2019 cases",
    "room 5550199",
    "call 911",
    "the 101 off-ramp",
    "94110-1234",
    "19-241-0001",
    "000-12-3456",
    "123-00-4567",
    "grace period",
    "we had hope",
]


def _visible(text: str) -> str:
    return unicodedata.normalize("NFC", "".join(c for c in text if c not in INVISIBLE))


def _whole(needle: str, haystack: str) -> bool:
    pattern = r"(?<!\w)" + r"\s+".join(map(re.escape, needle.split())) + r"(?!\w)"
    return re.search(pattern, haystack) is not None


def _check_offsets(text: str, result: Redaction) -> None:
    """Every replacement is exact, in order, and everything else maps onto itself."""
    position = 0
    rebuilt = []
    for r in result.replacements:
        assert r.start >= position, r
        assert text[r.start : r.end] == r.original
        assert result.text[r.new_start : r.new_end] == r.token
        rebuilt += [text[position : r.start], r.token]
        position = r.end
    assert "".join([*rebuilt, text[position:]]) == result.text
    replaced = set()
    for r in result.replacements:
        replaced.update(range(r.start, r.end))
    for p, char in enumerate(text):
        if p not in replaced:
            assert result.text[result.map_offset(p)] == char, p
    assert result.map_offset(len(text)) == len(result.text)


# -- phones ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "(415) 555-0134",
        "(415)555-0134",
        "415.555.0134",
        "415 555 0134",
        "+1 415 555 0134",
        "+1 (415) 555-0134",
        "415–555–0134",
        "415—555—0134",
        "415‑555‑0134",
        "1-415-555-0134",
        "4155550134",
        "555-0134",
        "555 0134",
        "555.0134",
        "+44 20 7946 0958",
    ],
)
def test_every_written_form_of_a_phone_is_replaced(phone: str) -> None:
    text = f"Her number is {phone}, call after six."
    result = deidentify(text)
    assert result.text == "Her number is [PHONE], call after six."
    assert [(r.type, r.original) for r in result.findings] == [("phone", phone)]
    _check_offsets(text, result)


@pytest.mark.parametrize(
    "text, phone",
    [
        # libphonenumber's own matcher misses these: other digits sit right next to them.
        ("Room 12 415 555 0134 is hers.", "415 555 0134"),
        ("At 10:30 555 0134 rang.", "555 0134"),
        ("Call 415 555 0134 12 times.", "415 555 0134"),
        # ... and keeps only "555-0134" here, leaving the area code behind.
        ("It was (415) 555-0134 2019 and after.", "(415) 555-0134"),
        ("Call 555-0134 ext. 22 today.", "555-0134 ext. 22"),
        ("Text 5550134 after six.", "5550134"),
        ("my cell is 555 2019", "555 2019"),
    ],
)
def test_phones_next_to_other_numbers_and_after_cues(text: str, phone: str) -> None:
    assert [(r.type, r.original) for r in find_identifiers(text)] == [("phone", phone)]


@pytest.mark.parametrize(
    "text",
    [
        "In 2013 the task force met.",
        "From 2014-2015 and 2019–2020 and 2019—2020.",
        "Listed on 03/04/1990, updated 2024-01-17 and 12.12.2019.",
        "It cost $1,234.50 or $415,555 or $555.0134 or €555 0134.",
        "There were 1,234 cases and 1,250,000 dollars.",
        "Bulletin 19-241 and case 19-241-0001, petition 431-00215.",
        "We met at 10:30 and 8:30-9:30.",
        "About 45% of them, 555-0134% even.",
        "See section 12.3.4 and pages 123-4567.",
        "The 350 2019 cases and 1990 1991 1992.",
        "Room 5550134 and ID 1234567.",
        "Call 911 by the 101 off-ramp, ZIP 94110-1234.",
        "Budget 2023-2024: 1,250,000 dollars, case 19-241, 12 of 40 members.",
    ],
)
def test_numbers_that_are_not_phones_stay(text: str) -> None:
    assert find_identifiers(text) == []
    assert deidentify(text).text == text


def test_fictional_555_numbers_are_caught_although_libphonenumber_calls_them_invalid() -> None:
    import phonenumbers

    number = phonenumbers.parse("555-0134", "US")
    assert not phonenumbers.is_valid_number(number)  # why the leniency is POSSIBLE
    assert find_identifiers("Dial 555-0134.")[0].type == "phone"


# -- Social Security numbers -------------------------------------------------------------


@pytest.mark.parametrize(
    "text, ssn",
    [
        ("Her SSN is 123-45-6789.", "123-45-6789"),
        ("Number 123 45 6789 on file.", "123 45 6789"),
        ("Number 123–45–6789 on file.", "123–45–6789"),
        ("SSN: 123456789", "123456789"),
        ("S.S.N. 123456789", "123456789"),
        ("Her social security number is 123456789.", "123456789"),
        ("Social Security no. 123456789", "123456789"),
        ("social security # 123456789", "123456789"),
    ],
)
def test_social_security_numbers(text: str, ssn: str) -> None:
    result = deidentify(text)
    assert [(r.type, r.original) for r in result.findings] == [("ssn", ssn)]
    assert "[SSN]" in result.text and ssn not in result.text


@pytest.mark.parametrize(
    "text",
    [
        "000-12-3456",
        "666-12-3456",
        "912-12-3456",
        "123-00-4567",
        "123-45-0000",
        "123-45 6789",  # mixed separators
        "case 123456789",  # nine bare digits need a cue
        "SSN 12345678",
        "ZIP 94110-1234",
    ],
)
def test_what_is_not_a_social_security_number(text: str) -> None:
    assert [r for r in find_identifiers(text) if r.type == "ssn"] == []


def test_a_social_security_number_beats_an_overlapping_phone() -> None:
    # libphonenumber reads "212555013 4" as a ten-digit phone number, longer than the SSN.
    found = find_identifiers("ssn 212555013 4 copies")
    assert [(r.type, r.original) for r in found] == [("ssn", "212555013")]


# -- dates of birth ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, date",
    [
        ("D.O.B. 03/04/1990", "03/04/1990"),
        ("D.O.B.: 03/04/1990", "03/04/1990"),
        ("DOB: 3/4/90", "3/4/90"),
        ("dob 1990-03-04", "1990-03-04"),
        ("She was born March 3rd, 2003.", "March 3rd, 2003"),
        ("Her birthday is 22 July 2008.", "22 July 2008"),
        ("She turned eighteen on July 22nd, 2008.", "July 22nd, 2008"),
    ],
)
def test_dates_of_birth(text: str, date: str) -> None:
    result = deidentify(text)
    assert [(r.type, r.original) for r in result.findings] == [("dob", date)]
    assert date not in result.text and "[DOB]" in result.text


def test_dates_without_a_birth_cue_stay() -> None:
    text = "The meeting on 03/04/1990 was moved. D.O.B. unknown. On 3/4/90 it rained."
    assert find_identifiers(text) == []


# -- roster names through normalisation ---------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "Tanya Reyes",
        "Ta\u200bnya Re\u00adyes",
        "Tanya\u200c Reyes",
        "\ufeffTanya Re\u2060yes",
        "Ta\u200dnya Reyes",
        "TANYA REYES",
        "Tanya\nReyes",
        "Ta\u00adnya\n Re\u200byes",
    ],
)
def test_roster_names_through_invisible_characters_caps_and_line_breaks(written: str) -> None:
    text = f"{written} said so."
    result = deidentify(text, roster=ROSTER)
    assert result.text == "[survivor-leader-1] said so."
    assert [r.type for r in result.findings] == ["name"]
    _check_offsets(text, result)


@pytest.mark.parametrize(
    "written", ["Toma\u0301s Ibarra", "Tomás Ibarra", "TOMA\u0301S IBARRA", "Tomas Ibarra"]
)
def test_decomposed_accents_match_the_roster(written: str) -> None:
    text = f"Ask {written}'s team."
    result = deidentify(text, roster=ROSTER)
    assert result.text == "Ask [epidemiologist-1]'s team."
    (finding,) = result.findings
    assert finding.original == written  # the key file gets what the text really held
    _check_offsets(text, result)


def test_a_roster_written_decomposed_still_matches() -> None:
    roster = Roster((RosterEntry("Toma\u0301s Ibarra", "E1"),))  # as a Mac may save it
    text = "Tomás Ibarra, Toma\u0301s Ibarra and TOMÁS IBARRA"
    assert deidentify(text, roster=roster).text == "[E1], [E1] and [E1]"


def test_lowercase_words_never_match_even_through_invisible_characters() -> None:
    text = "the grace period; we had ho\u200bpe and tan\u00adya"
    roster = Roster((RosterEntry("Grace", "P1"), RosterEntry("Hope", "P2"), *ROSTER.entries))
    result = deidentify(text, roster=roster)
    assert result.text == "the grace period; we had hope and tanya"
    assert result.findings == ()


# -- one Redaction: findings and normalise edits -----------------------------------------


def test_normalise_edits_stay_in_the_redaction_but_are_not_findings() -> None:
    text = "Jose\u0301 called Ta\u200bnya at 415\u200b-555-0134 about the cafe\u0301\u200b."
    result = deidentify(text, roster=ROSTER)
    assert result.text == "José called [survivor-leader-1] at [PHONE] about the café."
    assert unicodedata.is_normalized("NFC", result.text)
    # "e\u0301\u200b" is one run, so one edit: "é".
    assert [r.type for r in result.replacements] == [NORMALISE, "name", "phone", NORMALISE]
    assert result.replacements[-1].original == "e\u0301\u200b"
    assert result.replacements[-1].token == "é"
    assert [r.type for r in result.findings] == ["name", "phone"]
    assert result.counts() == {"name": 1, "phone": 1}
    assert NORMALISE not in TYPES and NORMALISE not in TOKENS
    assert "ssn" in TYPES and TOKENS["ssn"] == "[SSN]"
    phone = result.findings[1]
    assert phone.original == "415\u200b-555-0134"
    _check_offsets(text, result)
    # A unit that covered "called Tanya" still covers the token.
    a, b = result.map_offset(text.index("called")), result.map_offset(text.index(" at"))
    assert result.text[a:b] == "called [survivor-leader-1]"


def test_a_finding_ending_inside_a_normalise_edit_takes_in_all_of_it() -> None:
    # "e\u0301\u2019\u200b" is one edit, "é’": the URL ends after its first character.
    text = "See https://x.org/cafe\u0301\u2019\u200b now."
    result = deidentify(text)
    assert result.text == "See [URL] now."
    assert [(r.type, r.original) for r in result.replacements] == [
        ("url", "https://x.org/cafe\u0301\u2019\u200b")
    ]
    _check_offsets(text, result)


def test_clean_text_takes_the_fast_path() -> None:
    assert normalise_edits("Plain ASCII, 415-555-0134.") == []
    assert normalise_edits("Tomás and Montaño, composed already — “quoted”.") == []
    result = deidentify("Tomás Ibarra — 415-555-0134", roster=ROSTER)
    assert [r.type for r in result.replacements] == ["name", "phone"]


def test_joiners_stay_where_a_script_needs_them() -> None:
    family = "\U0001f469\u200d\U0001f469\u200d\U0001f467"
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    devanagari = "\u0915\u094d\u200d\u0937"
    text = f"{family} {persian} {devanagari} Ta\u200dnya"
    result = deidentify(text, roster=ROSTER)
    assert result.text == f"{family} {persian} {devanagari} [survivor-leader-1]"


# -- the tricky-forms text: recall and precision ------------------------------------------


def test_tricky_forms_recall_and_precision() -> None:
    result = deidentify(TRICKY_FORMS, roster=ROSTER)
    _check_offsets(TRICKY_FORMS, result)
    found = [(r.type, _visible(" ".join(r.original.split()))) for r in result.findings]
    truth = [(t, " ".join(x.split())) for t, x in TRICKY_TRUTH]
    missed = [t for t in truth if t not in found]
    wrong = [f for f in found if f not in truth]
    assert missed == [] and wrong == []  # recall 1.0 and precision 1.0, type by type
    for _, text in TRICKY_TRUTH:
        assert not _whole(text, result.text), text
    for text in TRICKY_KEPT:
        assert text in result.text, text
    assert result.counts() == {
        "name": 5,
        "organisation": 1,
        "phone": 11,
        "ssn": 5,
        "dob": 3,
    }


# -- properties --------------------------------------------------------------------------

PIECES = [
    "Tanya",
    "Reyes",
    "Tomás",
    "Toma\u0301s",
    "Ibarra",
    "Montan\u0303o",
    "TANYA",
    " ",
    "\n",
    "'s",
    ", ",
    "415",
    "555",
    "0134",
    "-",
    "–",
    ".",
    "(",
    ")",
    "2019",
    "SSN ",
    "123-45-6789",
    "D.O.B. ",
    "03/04/1990",
    "e",
    "\u0301",
    "\u0303",
    "é",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u00ad",
    "hope",
    "x",
    "’",
    "https://x.org/",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_invisible_characters_and_decomposition_never_change_the_outcome(text: str) -> None:
    result = deidentify(text, roster=ROSTER)
    _check_offsets(text, result)
    assert result.text == deidentify(_visible(text), roster=ROSTER).text
    assert unicodedata.is_normalized("NFC", result.text)
    assert not any(c in INVISIBLE for c in result.text)
    positions = [result.map_offset(p) for p in range(len(text) + 1)]
    assert positions == sorted(positions)
    assert [r.original for r in find_identifiers(text, roster=ROSTER)] == [
        r.original for r in result.findings
    ]
