"""De-identification: detectors, the roster, ingest, re-runs, the key file and the CLI."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pandas as pd
import pytest
from conftest import SAMPLE, store_snapshot
from test_codebook import SMALL

from evalkit.cli import main
from evalkit.deid import (
    Roster,
    RosterEntry,
    candidates,
    deidentify,
    find_identifiers,
    load_roster,
    score,
)
from evalkit.errors import EvalkitError, RosterError
from evalkit.project import deidentify_project, ingest, load_into_project
from evalkit.store import Store

ROSTER = Roster(
    (
        RosterEntry("Maria Lopez", "P07", ("Maria", "Mari")),
        RosterEntry("Dez Harmon", "outreach-1", ("Dez",)),
        RosterEntry("Harbor Youth", "youth-serving org", type="organisation"),
        RosterEntry("Bayview Drop-In", "youth-serving org", type="organisation"),
        RosterEntry("María José Tzul", "client-1"),
    )
)

# Planted details in the places the issue names: sentence start, possessive, all caps,
# split across a line break, inside a speaker label; and contact details in many formats.
TRICKY = """MARIA LOPEZ: Maria's cousin works at Harbor Youth. Maria
Lopez said the grace period ended.

Interviewer: And Dez?

DEZ: Dez handles the phones: 415-555-0101, (415) 555-0194, 415.555.0199, +1 415 555 0123,
1-415-555-0177 and 4155550188. E-mail dez.harmon@example.org or see https://example.org/dez,
www.bayviewdropin.example.com and linktr.ee/dez_h. Find us at @dez.talks.back on Instagram.
She lived at 2931 San Bruno Avenue, Apt 4B, then 2650 Harbor Boulevard. Born July 22nd, 2008;
her DOB: 07/22/2008. A partial plate, 8FZM, and a silver Camry, 7MJV418. Maria Jose Tzul
and María José Tzul came by. In 2019 there were 101 calls to the Bayview Drop-In.
"""

REAL = [
    "Maria",
    "Lopez",
    "MARIA",
    "Dez",
    "DEZ",
    "Harbor Youth",
    "555-0",
    "555 0",
    "4155550188",
    "dez.harmon",
    "example.org/dez",
    "bayviewdropin",
    "linktr.ee",
    "@dez",
    "San Bruno",
    "2650 Harbor",
    "July 22nd",
    "07/22/2008",
    "8FZM",
    "7MJV418",
    "Tzul",
    "Bayview Drop-In",
]


def test_tricky_places_are_all_replaced() -> None:
    result = deidentify(TRICKY, roster=ROSTER)
    for real in REAL:
        assert real not in result.text, real
    assert result.text.startswith("[P07]: [P07]'s cousin works at [youth-serving org]. [P07] said")
    assert "grace period" in result.text  # lowercase words are never names
    assert "In 2019 there were 101 calls" in result.text  # years and counts stay
    assert result.counts() == {
        "name": 8,
        "organisation": 2,
        "phone": 6,
        "email": 1,
        "url": 3,
        "handle": 1,
        "address": 2,
        "dob": 2,
        "plate": 2,
    }
    assert "[PHONE]" in result.text and "[EMAIL]" in result.text and "[HANDLE]" in result.text


def test_offsets_map_into_the_new_text() -> None:
    text = "Call Maria at 415-555-0101 today."
    result = deidentify(text, roster=ROSTER)
    assert result.text == "Call [P07] at [PHONE] today."
    today = text.index("today")
    assert result.text[result.map_offset(today) :].startswith("today")
    # A span that held a name still holds its token.
    a, b = result.map_offset(text.index("Maria")), result.map_offset(text.index(" at"))
    assert result.text[a:b] == "[P07]"
    for r in result.replacements:
        assert text[r.start : r.end] == r.original
        assert result.text[r.new_start : r.new_end] == r.token


def test_numbers_that_are_not_phones_stay() -> None:
    found = find_identifiers("Budget 2023-2024: 1,250,000 dollars, case 19-241, 12 of 40 members.")
    assert found == []


def test_roster_file_and_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(
        "name,pseudonym,variants,type\nMaria Lopez,P07,Maria;Mari,person\n"
        "Harbor Youth,youth-serving org,,organisation\nBayview,youth-serving org,,org\n",
        encoding="utf-8",
    )
    roster = load_roster(path)
    assert [e.token for e in roster.entries] == ["[P07]", "[youth-serving org]"] * 1 + [
        "[youth-serving org]"
    ]
    path.write_text(
        "name,pseudonym\nMaria Lopez,P07\nDez Harmon,P08\nJo Park,P07\n", encoding="utf-8"
    )
    with pytest.raises(RosterError) as error:
        load_roster(path)
    message = str(error.value)
    assert "row 4" in message and "'P07'" in message and "Maria Lopez" in message
    assert "\n" not in message
    path.write_text(
        "name,pseudonym,variants\nMaria Lopez,P07,Maria\nMaria Chen,P08,Maria\n",
        encoding="utf-8",
    )
    with pytest.raises(RosterError, match=r"row 3: 'Maria' would be replaced by both"):
        load_roster(path)
    path.write_text("person,alias\nMaria,P07\n", encoding="utf-8")
    with pytest.raises(RosterError, match=r"row 1: missing column\(s\) name, pseudonym"):
        load_roster(path)


def test_candidates_are_listed_not_replaced() -> None:
    texts = {
        "s1": "P03: I called Officer Reyes. Then Kevin Luu said the police would wait.\n\n"
        "Interviewer: Who is Hannah?\n\nP03: Hannah's House is a shelter. The Police came."
        " Once Kiara's shift ended, once again.",
        "s2": "Maria said Kevin Luu was right, and the police agreed.",
    }
    frame = candidates(texts, roster=ROSTER)
    found = dict(zip(frame["candidate"], frame["reason"], strict=True))
    assert found["Reyes"] == "follows a title"
    assert found["Kevin Luu"] == "capitalised words in a row"
    assert found["Hannah"] == "possessive"
    assert found["Kiara"] == "possessive"  # after a sentence-initial common word
    assert "Police" not in found  # also written in lowercase, so a common word
    assert "Maria" not in found  # on the roster
    assert frame.set_index("candidate").loc["Kevin Luu", "count"] == 2
    # Nothing was replaced: candidates are for a person to add to the roster.
    assert "Kevin Luu" in deidentify(texts["s2"], roster=ROSTER).text


@pytest.fixture
def transcript(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "P07.txt"
    path.parent.mkdir()
    path.write_text(
        "Interviewer: Tell me about the drop-in.\n\n"
        "MARIA LOPEZ: Maria's shift is at Harbor Youth. Call 415-555-0101.\n\n"
        "Interviewer: And the outreach?\n\n"
        "MARIA LOPEZ: Kevin Luu runs it with Dez. Nothing else to say.\n\n"
        "Interviewer: Thanks.\n\n"
        "MARIA LOPEZ: The budget was the problem, not the people.\n",
        encoding="utf-8",
    )
    return path


def test_ingest_stores_only_deidentified_text(project: Store, transcript: Path, key_folder: Path):
    report = ingest(project, [transcript], kind="interview", roster=ROSTER, actor="ana")
    text = project.source("P07").text
    assert "Maria" not in text and "MARIA" not in text and "555" not in text
    assert "Harbor Youth" not in text and "Dez" not in text
    speakers = {e.speaker for e in project.excerpts()}
    assert speakers == {"Interviewer", "P07"}  # the label became the pseudonym
    assert report.deid["P07"] == {"name": 5, "organisation": 1, "phone": 1}
    assert [c["candidate"] for c in report.candidates] == ["Kevin Luu"]
    # The key file is outside the project, private, and holds the real names.
    assert report.key_path.parent == key_folder
    assert project.folder not in report.key_path.parents
    assert stat.S_IMODE(os.stat(report.key_path).st_mode) == 0o600
    key = pd.read_csv(report.key_path)
    assert set(key["original"]) >= {"MARIA LOPEZ", "Maria", "415-555-0101", "Dez"}
    # Nothing in the project folder mentions a real name.
    for file in project.folder.iterdir():
        assert b"Maria" not in file.read_bytes()
    audit = project.audit_df()
    detail = json.loads(audit[audit["action"] == "ingest"]["detail"].iloc[-1])
    assert detail["deidentified"] is True and detail["replaced"]["P07"]["name"] == 5


def test_rerun_after_the_roster_grows_keeps_ids_and_codings(
    project: Store, transcript: Path, tmp_path: Path
):
    book = tmp_path / "cb.yaml"
    book.write_text(SMALL, encoding="utf-8")
    load_into_project(project, book)
    small = Roster((RosterEntry("Maria Lopez", "P07", ("Maria",)),))
    ingest(project, [transcript], kind="interview", roster=small)
    before = {e.id: e for e in project.excerpts()}
    kevin = next(
        e for e in before.values() if "Kevin Luu" in project.source("P07").text[e.start : e.end]
    )
    budget = next(
        e for e in before.values() if "budget" in project.source("P07").text[e.start : e.end]
    )
    with project.transaction(actor="ana"):
        project.add_codings(
            [(kevin.id, "ana", "POLICY"), (budget.id, "ana", "POLICY")], origin="test"
        )
    grown = Roster((*small.entries, RosterEntry("Kevin Luu", "supervisor-1")))
    dry = deidentify_project(project, roster=grown, dry_run=True)
    assert dry.changed == ["P07"] and dry.by_type() == {"name": 1}
    assert {e.id for e in project.excerpts()} == set(before)  # a dry run changes nothing

    project.snapshot("manual")  # an older snapshot holds the name too
    report = deidentify_project(project, roster=grown, actor="ana")
    after = {e.id for e in project.excerpts()}
    assert "Kevin Luu" not in project.source("P07").text
    assert "[supervisor-1] runs it" in project.source("P07").text
    # Only the excerpt whose text changed has a new ID; its coding moved with it.
    assert before.keys() - after == {kevin.id}
    assert report.moved == 1
    codings = project.codings_df()
    assert len(codings) == 2 and budget.id in set(codings["excerpt_id"])
    assert kevin.id not in set(codings["excerpt_id"])
    # Running it again finds nothing more to do.
    assert deidentify_project(project, roster=grown).changed == []
    # Nothing in the project can bring the name back: no snapshot, no undo history.
    assert report.forgotten["snapshots"] >= 1
    assert list((project.folder / "backups").glob("*.sqlite")) == []
    for file in project.folder.rglob("*"):
        if file.is_file():
            assert b"Kevin Luu" not in file.read_bytes(), file
    with pytest.raises(EvalkitError, match="nothing to undo after 'deid'"):
        project.undo()


def test_rerun_with_no_changes_leaves_the_store_alone(project: Store, transcript: Path) -> None:
    ingest(project, [transcript], kind="interview", roster=ROSTER)
    snapshot = store_snapshot(project)
    report = deidentify_project(project, roster=ROSTER)
    assert report.changed == [] and store_snapshot(project) == snapshot


def test_no_deid_keeps_text_as_it_is(project: Store, transcript: Path) -> None:
    report = ingest(project, [transcript], kind="interview", deidentify=False)
    assert "Maria" in project.source("P07").text and report.key_path is None


def test_cli_deid_and_bad_roster(project: Store, transcript: Path, tmp_path: Path, capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text("name,pseudonym,variants\nMaria Lopez,P07,Maria\n", encoding="utf-8")
    folder = str(project.folder)
    assert (
        main(["ingest", str(transcript), "-p", folder, "-k", "interview", "--roster", str(roster)])
        == 0
    )
    err = capsys.readouterr().err
    assert "de-identification key" in err and "evalkit deid" in err
    roster.write_text(
        "name,pseudonym,variants\nMaria Lopez,P07,Maria\nKevin Luu,P07,\n", encoding="utf-8"
    )
    snapshot = store_snapshot(project)
    assert main(["deid", "-p", folder, "--roster", str(roster)]) == 2
    err = capsys.readouterr().err
    assert "roster.csv row 3: pseudonym 'P07'" in err and "Traceback" not in err
    assert store_snapshot(project) == snapshot
    roster.write_text(
        "name,pseudonym,variants\nMaria Lopez,P07,Maria\nKevin Luu,supervisor-1,\n",
        encoding="utf-8",
    )
    assert main(["deid", "-p", folder, "--roster", str(roster), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["replaced"] == {"name": 1} and result["changed_sources"] == ["P07"]
    counts = {r["source_id"]: r for r in result["tokens_in_text"]}
    assert counts["P07"]["name"] == 5 and counts["P07"]["phone"] == 1


SHARED_TRUTH = Path(__file__).parent / "data" / "deid_sample_truth.csv"


def test_sample_corpus_recall_and_precision() -> None:
    """Every planted roster name, phone and e-mail in the sample corpus is replaced."""
    from evalkit.ingest import read_file
    from evalkit.project.privacy import Privacy

    roster = load_roster(SAMPLE / "deid" / "roster.csv")
    privacy = Privacy(roster=roster, deidentify=True, key_path=Path("unused"))
    truth = pd.read_csv(SHARED_TRUTH, dtype={"text": str})
    replaced, texts = {}, {}
    for folder in ("interviews", "observations", "documents"):
        for path in sorted((SAMPLE / folder).iterdir()):
            item = read_file(path)[0]
            redaction = privacy.clean_text(item.text)
            _, in_meta = privacy.clean_value(item.meta)
            replaced[f"{folder}/{path.name}"] = [*redaction.findings, *in_meta]
            texts[f"{folder}/{path.name}"] = redaction.text
    table = score(truth, replaced, texts).set_index("type")
    for kind in ("name", "organisation", "phone", "email", "handle", "plate", "dob"):
        assert table.loc[kind, "recall"] == 1.0, kind
    assert table.loc["total", "recall"] >= 0.99
    assert table.loc["total", "precision"] >= 0.95
