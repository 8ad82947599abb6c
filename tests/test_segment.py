"""Segmentation: speaker turns, paragraphs, sentence cuts, exact offsets, stable IDs."""

from __future__ import annotations

import pytest
from conftest import SHARED

from evalkit.model import Source, Unit
from evalkit.segment import parse_turns, segment


def source(text: str, kind: str = "interview", **kw) -> Source:
    return Source(id="S1", name="S1.txt", kind=kind, text=text, content_hash="h", **kw)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Interviewer: Hi.\n\nP07: Hello.", [("Interviewer", "Hi."), ("P07", "Hello.")]),
        (
            "INTERVIEWER: Hi.\nSGT. RAMOS: Hello.",
            [("INTERVIEWER", "Hi."), ("SGT. RAMOS", "Hello.")],
        ),
        (
            "[00:01:23] Speaker 1: Hi.\n[00:01:30] Speaker 2: Hello.",
            [("Speaker 1", "Hi."), ("Speaker 2", "Hello.")],
        ),
        (
            "Rev. Okafor: Peace.\n\nInterviewer: Thanks.",
            [("Rev. Okafor", "Peace."), ("Interviewer", "Thanks.")],
        ),
        ("Maria Lopez (00:02): Yes.\nQ: Why?", [("Maria Lopez", "Yes."), ("Q", "Why?")]),
    ],
)
def test_turn_label_styles(text: str, expected: list[tuple[str, str]]) -> None:
    s = source(text)
    assert [(e.speaker, s.text[e.start : e.end]) for e in segment(s)] == expected


def test_interviewer_turns_are_kept_and_marked() -> None:
    s = source("Interviewer: Why?\n\nP01: Because.\n\nI: And then?\n\nP01: Then nothing.")
    roles = [(e.speaker, e.speaker_role) for e in segment(s)]
    assert roles == [
        ("Interviewer", "interviewer"),
        ("P01", "participant"),
        ("I", "interviewer"),
        ("P01", "participant"),
    ]


def test_timestamps_are_kept_as_seconds() -> None:
    s = source("[00:01:23] Interviewer: Hi.\n[1:02:03] P02: Hello.")
    assert [e.t_start for e in segment(s)] == [83.0, 3723.0]


def test_turn_runs_over_paragraphs_until_the_next_label() -> None:
    text = "P01: First paragraph.\n\nSecond paragraph, same turn.\n\nInterviewer: Next."
    s = source(text)
    first = segment(s)[0]
    assert s.text[first.start : first.end] == "First paragraph.\n\nSecond paragraph, same turn."


def test_a_one_off_colon_phrase_is_speech_not_a_speaker() -> None:
    text = "Interviewer: Q1?\n\nP03: A1.\n\nHonestly: it was hard.\n\nInterviewer: Q2?\n\nP03: A2."
    speakers = [e.speaker for e in segment(source(text))]
    assert speakers == ["Interviewer", "P03", "Interviewer", "P03"]
    assert "Honestly" not in {t.speaker for t in parse_turns(text)}


def test_header_before_first_turn_is_a_speakerless_excerpt() -> None:
    s = source("Key-informant interview, 11 March 2025\n\nInterviewer: Hi.\n\nP01: Hello.")
    first = segment(s)[0]
    assert first.speaker is None and s.text[first.start : first.end].startswith("Key-informant")


def test_long_turn_is_cut_at_sentence_boundaries_within_the_limit() -> None:
    sentences = [f"Sentence number {i} talks about the bulletin and the wait." for i in range(40)]
    s = source("Interviewer: Tell me.\n\nP02: " + " ".join(sentences))
    excerpts = [e for e in segment(s, max_chars=300) if e.speaker == "P02"]
    assert len(excerpts) > 5
    for e in excerpts:
        body = s.text[e.start : e.end]
        assert len(body) <= 300
        assert body.startswith("Sentence number") and body.endswith("wait.")
    # Nothing is lost: the pieces cover the whole turn in order.
    joined = " ".join(s.text[e.start : e.end] for e in excerpts)
    assert joined == " ".join(sentences)


def test_max_chars_is_a_hard_limit_cut_at_whitespace() -> None:
    long_sentence = "word " * 100 + "end."
    s = source(f"P01: {long_sentence}")
    pieces = segment(s, max_chars=100)
    assert len(pieces) == 6 and all(e.end - e.start <= 100 for e in pieces)
    # Cut between words, never inside one, and together they are the whole turn.
    texts = [s.text[e.start : e.end] for e in pieces]
    assert all(t.split() and set(t.split()) <= {"word", "end."} for t in texts)
    assert " ".join(texts).split() == long_sentence.split()
    assert {e.speaker for e in pieces} == {"P01"}


def test_a_huge_line_without_boundaries_is_cut_to_max_chars() -> None:
    # 2 MB on one line with no sentence end, and a stretch with no whitespace at all.
    text = ("lorem ipsum dolor sit amet " * 70_000) + "x" * 5_000
    s = source(text, kind="document")
    pieces = segment(s, max_chars=1200)
    assert max(e.end - e.start for e in pieces) <= 1200
    assert sum(e.end - e.start for e in pieces) >= len(text.replace(" ", "")) - 1
    assert sum(text[e.start : e.end].count("x") for e in pieces) == 5_000
    assert set(text[pieces[-1].start : pieces[-1].end]) == {"x"}
    assert all(text[e.start : e.end] == text[e.start : e.end].strip() for e in pieces)


def test_paragraphs_and_headings_for_observations() -> None:
    text = (
        "## Agenda\n\n1. Welcome\n2. Values statement\n\n"
        "## Observed dynamics and tensions\n\nThe chair intervened late.\n\n"
        "Two members left early."
    )
    s = source(text, kind="observation")
    got = [(e.section, s.text[e.start : e.end]) for e in segment(s)]
    assert got == [
        ("Agenda", "1. Welcome\n2. Values statement"),
        ("Observed dynamics and tensions", "The chair intervened late."),
        ("Observed dynamics and tensions", "Two members left early."),
    ]


def test_plain_heading_lines_in_documents_become_sections() -> None:
    text = "3. Highlights of 2014\n\nMembers adopted guidelines.\n\nAction items\n\n(a) Circulate."
    s = source(text, kind="document")
    got = [(e.section, s.text[e.start : e.end]) for e in segment(s)]
    assert got == [
        ("3. Highlights of 2014", "Members adopted guidelines."),
        ("Action items", "(a) Circulate."),
    ]


def test_reader_units_are_used_as_they_are() -> None:
    text = "Interviewer: Hi there.\n\nDenise: Hello."
    units = (
        Unit(13, 22, speaker="Interviewer", t_start=1.0, t_end=2.0),
        Unit(32, 38, speaker="Denise", t_start=2.5, t_end=3.0),
    )
    s = source(text, units=units)
    got = [(e.speaker, e.speaker_role, s.text[e.start : e.end], e.t_end) for e in segment(s)]
    assert got == [
        ("Interviewer", "interviewer", "Hi there.", 2.0),
        ("Denise", "participant", "Hello.", 3.0),
    ]


def test_excerpt_ids_depend_on_text_not_position() -> None:
    before = source("Interviewer: Q?\n\nP01: The same answer.")
    after = source("Interviewer: A new first question?\n\nP01: The same answer.")
    id_before = segment(before)[-1].id
    id_after = segment(after)[-1].id
    assert id_before == id_after
    assert segment(before)[0].id != segment(after)[0].id


def test_repeated_text_gets_distinct_ids() -> None:
    s = source("Interviewer: Yes?\n\nP01: Yes.\n\nInterviewer: Really?\n\nP01: Yes.")
    ids = [e.id for e in segment(s)]
    assert len(set(ids)) == len(ids)


def test_offsets_are_exact_on_unicode_text() -> None:
    s = source("Interviewer: ¿Qué?\n\nP07: María — “sí”, 🙂 claro.")
    for e in segment(s):
        assert s.text[e.start : e.end] == s.text[e.start : e.end].strip()
    assert s.text[segment(s)[1].start : segment(s)[1].end] == "María — “sí”, 🙂 claro."


def test_max_chars_must_be_sensible() -> None:
    with pytest.raises(ValueError, match="max_chars must be at least 50"):
        segment(source("P01: hi"), max_chars=10)


def test_parliamentary_labels_with_notes_in_brackets() -> None:
    text = (
        "The Chair (Hon. Anthony Rota (NipissingTimiskaming, Lib.)): I call this meeting to order."
        "\nMs. Elizabeth May (SaanichGulf Islands, GP): Mr. Chair, thank you."
        "\nThe Chair: Next we'll go to Ms. Kwan."
    )
    assert [(u.speaker, text[u.start : u.end].strip()) for u in parse_turns(text)] == [
        ("The Chair", "I call this meeting to order."),
        ("Ms. Elizabeth May", "Mr. Chair, thank you."),
        ("The Chair", "Next we'll go to Ms. Kwan."),
    ]


QMSUM = SHARED / "data" / "qmsum-committee"


@pytest.mark.skipif(not QMSUM.is_dir(), reason="../shared/data/qmsum-committee is not present")
def test_every_turn_of_real_committee_transcripts_is_found() -> None:
    import json

    found = expected = 0
    for meeting in sorted(QMSUM.glob("*/*.json")):
        turns = json.loads(meeting.read_text(encoding="utf-8"))["meeting_transcripts"]
        lines = [f"{t['speaker']}: {' '.join(t['content'].split())}" for t in turns]
        lines = [line for line, t in zip(lines, turns, strict=True) if t["content"].strip()]
        parsed = [u for u in parse_turns("\n\n".join(lines)) if u.speaker]
        expected += len(lines)
        found += len(parsed)
        assert len(parsed) == len(lines), meeting.name
    assert expected > 5000 and found == expected


def test_an_interview_without_any_speaker_label() -> None:
    source = Source("s", "s.txt", "interview", "Line one.\nLine two.\n\nAnother paragraph.", "h")
    assert [source.text[e.start : e.end] for e in segment(source)] == [
        "Line one.\nLine two.",
        "Another paragraph.",
    ]
