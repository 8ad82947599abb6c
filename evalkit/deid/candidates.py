"""Candidates for the roster: capitalised names the roster does not cover yet."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping

import pandas as pd

from evalkit.deid.detect import TOKENS, TYPES, Replacement
from evalkit.deid.roster import Roster, _fold

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

