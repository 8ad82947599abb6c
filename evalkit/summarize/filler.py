"""Which sentences say nothing: greetings, thanks, procedure, fillers, stage directions,
headers and bare speaker labels.

The filter is data: the word lists and patterns below are module constants, so a team can
read what is left out and extend it (``FILLER_WORDS |= {...}``) without touching the logic.
A sentence is filler when, after stage directions, leading greetings, thanks and discourse
markers are taken off, it

- is an interview or field-note header (``HEADER``), a bare speaker label or timestamp;
- is procedure as a whole (``PROCEDURE``: "let's move on", "can everyone hear me",
  "next item", "all in favour", "second", "aye", a roll-call "present");
- or has fewer than ``MIN_CONTENT_WORDS`` content words: words that are not English stop
  words (spaCy's list), not in ``FILLER_WORDS`` and not forms of address
  (``ADDRESS_WORDS``: "Thank you, Minister.").

Examples
--------
>>> [is_filler(s) for s in ["Okay, seriously.", "[pause] Honestly?", "All in favour?",
...  "The police bulletin took two years to come out."]]
[True, True, True, False]
"""

from __future__ import annotations

import re
from functools import lru_cache

from evalkit.segment import TURN_LABEL

MIN_CONTENT_WORDS = 2

# Discourse markers, back-channels and hedges: never content on their own.
FILLER_WORDS = frozenset(
    """
    okay ok k yeah yea yes yep yup no nope nah um umm uh uhh uhm er erm ah ahh oh ooh hmm
    hm mm mmm mhm uh-huh huh right so well like sure alright absolutely exactly indeed
    great good fine cool wow honestly seriously basically actually anyway anyways literally
    totally definitely really true thanks thank cheers please hello hi hey morning afternoon
    evening welcome sorry pardon gosh lol haha ha stuff things thing gonna wanna kinda sorta
    lot bit maybe guess mean know
    """.split()
)

# Forms of address: a sentence made of them and fillers ("Thank you, Minister.") is empty.
ADDRESS_WORDS = frozenset(
    """
    chair chairman chairwoman chairperson convener minister deputy secretary member members
    colleague colleagues folks guys ladies gentlemen sir madam mr mrs ms dr hon
    """.split()
)

# Multi-word fillers, taken off before words are counted.
FILLER_PHRASES = (
    "you know",
    "i mean",
    "kind of",
    "sort of",
    "of course",
    "fair enough",
    "i see",
    "got it",
    "that's right",
    "that is right",
    "sounds good",
    "all right",
    "go ahead",
    "i think",
    "i guess",
    "let me think",
    "let me see",
    "good question",
    "that's a good question",
    "thank you",
    "thanks very much",
    "thank you very much",
    "very much",
    "so much",
)

# What transcribers put in brackets for non-speech. A bracketed word not in this list is
# kept: "[P07]" and "[AGENCY-2]" are pseudonyms, not stage directions.
STAGE_WORDS = (
    "pause|pauses|paused|long pause|short pause|brief pause|laughs|laughing|laughter|"
    "chuckles|giggles|sighs|sigh|coughs|cough|clears throat|inaudible|unintelligible|"
    "indistinct|crosstalk|cross-talk|overlapping|overtalk|interruption|interrupted|silence|"
    "applause|background noise|noise|music|phone rings|recording paused|recording stopped|"
    "recording resumes|recording resumed|break|end of recording|end of transcript|"
    "audio cuts out|audio drops|tape ends|redacted|emotional|crying|tearful|nods|shrugs|"
    "gestures|smiles|sic|\\?|\\.\\.\\.|…"
)
STAGE_DIRECTION = re.compile(
    rf"[\[(]\s*(?:(?:{STAGE_WORDS})(?:[\s,;]+(?:{STAGE_WORDS}))*)"
    rf"(?:\s+(?:\d{{1,2}}:\d{{2}}(?::\d{{2}})?|\d+\s*(?:s|sec|seconds?)))?\s*[\])]\.?",
    re.I,
)

# Greetings and thanks at the start of a sentence ("Thank you, Chair. ..."), taken off
# before the rest is judged.
_OPENERS = (
    r"good (?:morning|afternoon|evening)(?: (?:everyone|everybody|all))?",
    r"(?:hello|hi|hey)(?: (?:everyone|everybody|all|there))?",
    r"welcome(?: (?:everyone|everybody|all|back))?",
    r"(?:thank you|thanks)(?: (?:very|so) much)?(?: (?:indeed|again))?"
    r"(?: for (?:that|this|the question|your question|having me|coming|joining us|that answer))?",
    r"(?:many|great|huge) thanks",
    r"cheers",
    r"(?:sorry|apologies|pardon)",
)
OPENERS = re.compile(rf"^(?:(?:{'|'.join(_OPENERS)})\b[\s,.;:!—–-]*)+", re.I)

# Whole-sentence procedure, matched on the lowercased sentence with leading fillers and
# openers taken off. Each pattern is anchored at the start.
PROCEDURE = tuple(
    re.compile(p)
    for p in (
        r"^(?:let'?s|let us|we'?ll|we will|i'?ll|i will|shall we|can we|we can|we should)"
        r" (?:now )?(?:move|go|turn|come|get|press|carry) (?:on|back|onto|over|ahead)\b",
        r"^(?:moving|turning|going) on\b",
        r"^(?:we'?ll|we will|i'?ll|i will|let'?s|let us|let me|we can|we'?re going to)"
        r" (?:now )?(?:go|move|turn|continue|come|proceed|return)(?: now)?"
        r"(?: (?:on|back|over))? (?:to|with) (?:mr|mrs|ms|dr|madam|sir|the hon|the honourable"
        r"|hon|the member|member|the leader|the minister|the next|next|questions|item|our next)\b",
        r"^(?:let me|i'?ll|i will|we can|we will|we'?ll) (?:now )?continue"
        r"(?: (?:mr|mrs|ms|madam|chair|please)\b.*)?$",
        r"^(?:[a-z.' -]+ )?you have (?:about |only |just )?(?:\d+|a|an|one|two|three|four|five"
        r"|ten|fifteen|thirty|half a) (?:seconds?|minutes?)\b",
        r"^(?:(?:your|the) )?time is (?:up|over)\b",
        r"^(?:we'?re|we are|you'?re|you are) (?:out of|over) time\b",
        r"^(?:the |our )?next (?:item|question|speaker|topic|agenda item|point|slide)\b",
        r"^(?:the )?(?:first|next|final|last) (?:set of )?questions? (?:are|is|comes?|will"
        r" come|we'?ve got)\b",
        r"^(?:can|could|do) (?:everyone|everybody|you all|you|people|we all) (?:hear|see)\b",
        r"^(?:is|are) (?:everyone|everybody|you|we) (?:here|ready|on|back|able to hear)\b",
        r"^(?:all|those) (?:in favou?r|opposed|against)\b",
        r"^(?:any )?(?:opposed|abstentions?|objections?)\??$",
        r"^(?:are there )?any (?:other |more |further )?(?:questions|comments|objections"
        r"|abstentions)\b",
        r"^(?:i )?(?:second|seconded)(?: (?:it|that|the motion))?$",
        r"^(?:so )?moved$",
        r"^(?:aye|ayes|nay|nays|yea|present|here)$",
        r"^(?:the )?motion (?:carries|carried|passes|passed|fails|failed)\b",
        r"^(?:i )?(?:call|called) (?:this|the) meeting (?:back )?to order\b",
        r"^(?:this |the )?meeting (?:is |stands )?(?:adjourned|closed)\b",
        r"^(?:we'?re|we are|i'?m|i am) (?:on|recording|live|back|muted|unmuted)\b",
        r"^that'?s the (?:red )?light\b",
        r"^(?:roll call|let'?s do (?:a |the )?roll call|(?:a |the )?(?:quick )?round of"
        r" introductions)\b",
        r"^(?:i'?ll|i will|let me|i'd like to) (?:now )?(?:hand|pass|turn|give) (?:it |you )?"
        r"(?:over|back|the floor)\b",
        r"^(?:over to you|back to you|carry on|please (?:go ahead|proceed|continue|begin))\b",
        r"^(?:i )?(?:now )?(?:invite|call on|recogni[sz]e) [a-z .'-]+$",
        r"^(?:can|could|may) i (?:just )?(?:come in|ask (?:a|one) (?:quick )?question)\b",
        r"^(?:you'?re|you are) (?:on )?mute(?:d)?\b",
        r"^(?:i'?ll|i will|let me) (?:start|begin|kick off)(?: (?:broad|with|by))?\b",
        r"^(?:does|do) (?:anyone|anybody|everyone|members|you) (?:have|want)"
        r" (?:any )?(?:questions?|comments?|anything)\b",
    )
)

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
# Interview and field-note headers: "Key-informant interview, 11 March 2025, ...",
# "Interview — key-informant, February 2025", "Date: 2023-09-20".
HEADER = (
    re.compile(
        rf"^\W*(?:(?:key[- ]informant|semi[- ]structured|follow[- ]up|phone|zoom)\s+)?"
        rf"(?:interview|transcript|field notes?|observation notes?)\b[^.?!]{{0,120}}?"
        rf"(?:\b\d{{4}}\b|\b(?:{_MONTHS})\b|recorded|consent)",
        re.I,
    ),
    re.compile(
        r"^\W*(?:date|time|location|place|venue|interviewer|interviewee|participant|observer"
        r"|meeting|recording|duration|transcribed by|transcript|attendees|present)\s*:"
        r"\s*[^.?!]{0,80}$",
        re.I,
    ),
)
_TIMESTAMP = re.compile(
    r"^\W*(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d+)?(?:\s*-->\s*(?:\d{1,2}:)?\d{1,2}:\d{2}"
    r"(?:[.,]\d+)?)?\W*$"
)
_WORD = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")
_LEADING_FILLER = re.compile(
    r"^(?:(?:"
    + "|".join(
        sorted(
            (re.escape(w) for w in FILLER_WORDS | set(FILLER_PHRASES)),
            key=len,
            reverse=True,
        )
    )
    + r")\b[\s,.;:!?—–-]*)+",
    re.I,
)


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


def strip_stage_directions(text: str) -> str:
    """``text`` without bracketed stage directions ("[pause]", "(laughs)", "[crosstalk]")."""
    return " ".join(STAGE_DIRECTION.sub(" ", text).split())


def words(text: str) -> list[str]:
    """Lowercased word tokens (apostrophes and hyphens inside a word kept)."""
    return _WORD.findall(text.lower().replace("’", "'"))


def content_words(text: str) -> list[str]:
    """The words of ``text`` that carry content: not stop words, fillers or stage directions.

    Examples
    --------
    >>> content_words("So, um, the bulletin took two years, you know?")
    ['bulletin', 'took', 'years']
    """
    body = strip_stage_directions(text).lower().replace("’", "'")
    for phrase in FILLER_PHRASES:
        body = re.sub(rf"\b{re.escape(phrase)}\b", " ", body)
    stop = _stop_words()
    return [
        w
        for w in _WORD.findall(body)
        if w not in stop
        and w not in FILLER_WORDS
        and w not in ADDRESS_WORDS
        and (len(w) > 1 or w.isdigit())
        and not (w.isdigit() and len(w) == 1)
    ]


def is_filler(sentence: str) -> bool:
    """Whether a sentence (or a whole turn) carries no content.

    Examples
    --------
    >>> is_filler("Interview — key-informant, February 2025")
    True
    >>> is_filler("Thank you, Chair. Let's move on to the next item.")
    True
    >>> is_filler("Thank you. We never had federal funding for a coordinator.")
    False
    """
    text = strip_stage_directions(sentence)
    if not text or not _WORD.search(text.lower()):
        return True
    if any(p.match(text) for p in HEADER) or _TIMESTAMP.match(text):
        return True
    label = TURN_LABEL.match(text)
    if label and not text[label.end() :].strip():
        return True
    if label:
        text = text[label.end() :]
    return all(_no_content(part) for part in _clauses(text))


_CLAUSE_END = re.compile(
    r"(?<=[.!?…])(?<!\bMr\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bMrs\.)(?<!\bHon\.)(?<!\bSt\.)\s+"
)


def _clauses(text: str) -> list[str]:
    # A turn of several sentences is filler only when every one of them is.
    parts = [p for p in _CLAUSE_END.split(text) if p.strip()]
    return parts or [text]


def _no_content(part: str) -> bool:
    rest = part.strip()
    for _ in range(4):  # "Okay. Thank you. So, ..." : openers and fillers may alternate
        shorter = _LEADING_FILLER.sub("", OPENERS.sub("", rest)).strip()
        if shorter == rest:
            break
        rest = shorter
    plain = " ".join(words(rest))
    if not plain:
        return True
    if any(p.match(plain) for p in PROCEDURE) and len(plain.split()) <= 14:
        return True
    return len(content_words(rest)) < MIN_CONTENT_WORDS
