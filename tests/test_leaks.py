"""No planted identifier reaches any byte of the project folder, on any way in.

Each route writes a project from files full of planted identifiers in tricky forms
(possessive, all caps, decomposed Unicode, zero-width characters, soft hyphens, split
across a line, in a file name, in a speaker label, in a list value, in a mapping key),
then every file in the project folder (the SQLite file, its WAL, the search index inside
it, the backups) is read and searched, case-insensitively and accent-folded as the search
index stores words.
"""

from __future__ import annotations

import csv
import unicodedata
from pathlib import Path

import pytest

from evalkit.interop.refi import export_qdpx
from evalkit.project import (
    add_memo,
    deidentify_project,
    import_codings,
    import_qdpx,
    ingest,
    load_into_project,
)
from evalkit.store import Store

ROOT = Path(__file__).resolve().parent.parent
CODEBOOK = ROOT / "codebooks" / "sf_taskforce.yaml"
# Distinctive words of every planted identifier, as the search index would hold them.
PLANTED = ("marisela", "okonkwo", "quillon", "thibodeaux", "ximena", "zabaleta", "mokonkwo")
PHONES = ("415-555-0134", "415.555.0134", "555-0134", "(415) 555-0188", "123-45-6789")

ROSTER = """name,pseudonym,variants,type
Marisela Okonkwo,P07,Marisela;Okonkwo,person
Renard Quillon,P08,Quillon,person
Ximena Zabaleta,P09,Ximena;Zabaleta,person
Thibodeaux Outreach,sex-worker-led org,,organisation
"""


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


TRANSCRIPT = (
    "Interviewer: Tell me about the outreach.\n\n"
    "MARISELA OKONKWO: I started with Thibodeaux Outreach in 2016. Okonkwo's my name,\n"
    "call me on 415-555-0134 or 555-0134, e-mail mokonkwo@example.org.\n\n"
    "Interviewer: And your colleague?\n\n"
    "Marisela Okonkwo: Renard\nQuillon drove. Ren\u200bard Quil\u00adlon, I mean. "
    + nfd("Ximena Zabaleta")
    + " too. D.O.B. 03/04/1990, SSN 123-45-6789.\n"
)
OBSERVATION = (
    "---\n"
    "date: 2024-03-20\n"
    "chair: Marisela Okonkwo\n"
    "attendance:\n"
    "  law_enforcement: [Renard Quillon, Ximena Zabaleta 415.555.0134]\n"
    "  Marisela Okonkwo: present\n"
    "attendees:\n"
    "  - Renard Quillon\n"
    "  - {name: Ximena Zabaleta, phone: (415) 555-0188}\n"
    "---\n\n"
    "## Who spoke\n\nThe chair spoke first. Quillon disagreed.\n"
)


def leaks(folder: Path) -> list[str]:
    """Every planted identifier found in any byte of any file under ``folder``."""
    found = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes().lower()
        for word in PLANTED:
            if word.encode() in data:
                found.append(f"{path.name}: {word}")
        for phone in PHONES:
            if phone.encode() in data:
                found.append(f"{path.name}: {phone}")
    # The folder's own names too (source files copied in, snapshots named after things).
    for path in folder.rglob("*"):
        if any(word in path.name.lower() for word in PLANTED):
            found.append(f"file name {path.name}")
    return found


@pytest.fixture
def roster(tmp_path: Path) -> Path:
    path = tmp_path / "private" / "roster.csv"
    path.parent.mkdir()
    path.write_text(ROSTER, encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    (folder / "interviews").mkdir(parents=True)
    (folder / "observations").mkdir()
    (folder / "interviews" / "Marisela_Okonkwo_interview.txt").write_text(
        TRANSCRIPT, encoding="utf-8"
    )
    (folder / "interviews" / nfd("ximena_zabaleta.txt")).write_text(
        "Interviewer: Hello.\n\nP09: Hello, I'm Ximena.\n", encoding="utf-8"
    )
    (folder / "observations" / "2024-03-20_general_meeting.md").write_text(
        OBSERVATION, encoding="utf-8"
    )
    with (folder / "attributes.csv").open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["file", "participant_id", "role", "notes"])
        writer.writerow(
            ["Marisela_Okonkwo_interview.txt", "P07", "Outreach lead", "Referred by Quillon"]
        )
    return folder


def project(tmp_path: Path, name: str = "proj") -> Store:
    return Store.init(tmp_path / name, actor="tester")


def test_ingest_leaves_no_identifier(tmp_path: Path, files: Path, roster: Path) -> None:
    with project(tmp_path) as store:
        ingest(
            store,
            [files / "interviews"],
            kind="interview",
            attributes=files / "attributes.csv",
            roster=roster,
        )
        # The project remembers the roster: this route is given none.
        report = ingest(store, [files / "observations"], kind="observation")
        assert report.notes == []
        text = "\n".join(store.excerpts_df()["text"])
        assert "[P07]" in text and "[PHONE]" in text and "[SSN]" in text
        assert set(store.source_ids()) >= {"P07_interview", "P09"}
    assert leaks(tmp_path / "proj") == []


def test_a_route_with_no_roster_says_so(tmp_path: Path, files: Path) -> None:
    with project(tmp_path) as store:
        report = ingest(store, [files / "observations"], kind="observation")
    assert any("no roster" in note for note in report.notes)


def test_codings_import_of_survey_answers(tmp_path: Path, roster: Path) -> None:
    table = tmp_path / "survey.csv"
    table.write_text(
        "unit,coder,code,text\n"
        "okonkwo-1,maria,DATA_QUALITY,\"Ask Marisela Okonkwo, 415-555-0134.\"\n"
        "r2,maria,DATA_QUALITY,\"Quillon's case, SSN 123-45-6789, mokonkwo@example.org\"\n",
        encoding="utf-8",
    )
    with project(tmp_path) as store:
        load_into_project(store, CODEBOOK)
        report = import_codings(store, table, roster=roster)
        assert len(report.created_sources) == 2 and report.codings == 2
        assert not any("okonkwo" in s.lower() for s in report.created_sources)
    assert leaks(tmp_path / "proj") == []


def test_qdpx_import_with_notes_cases_users_and_names(tmp_path: Path, roster: Path) -> None:
    # A project from another tool, full of names: sources, cases, notes and users.
    raw = tmp_path / "raw"
    with Store.init(raw, actor="Marisela Okonkwo") as store:
        source = tmp_path / "src" / "Renard_Quillon.txt"
        source.parent.mkdir()
        source.write_text(TRANSCRIPT, encoding="utf-8")
        attrs = tmp_path / "src" / "attrs.csv"
        attrs.write_text("file,contact\nRenard_Quillon.txt,Ximena Zabaleta\n", encoding="utf-8")
        ingest(store, [source], kind="interview", attributes=attrs, deidentify=False)
        load_into_project(store, CODEBOOK)
        with store.transaction(actor="Marisela Okonkwo"):
            excerpt = store.excerpt_ids().pop()
            store.add_codings([(excerpt, "Marisela Okonkwo", "DATA_QUALITY")], origin="t")
            store.add_memo(
                "Quillon's story", "Call Ximena on 415-555-0134.", author="Marisela Okonkwo"
            )
    archive = tmp_path / "elsewhere.qdpx"
    with Store.open(raw) as store:
        export_qdpx(store, archive)
    with project(tmp_path) as store:
        report = import_qdpx(store, archive, roster=roster)
        assert report.codings == 1 and report.notes == 1
        assert store.memos_df()["author"].tolist() == ["[P07]"]
    assert leaks(tmp_path / "proj") == []


def test_deid_rerun_leaves_nothing_on_disk(tmp_path: Path, files: Path, roster: Path) -> None:
    with project(tmp_path) as store:
        # First without the roster (it did not exist yet): the names are stored, in the
        # text and in the source IDs made from the file names.
        ingest(store, [files / "interviews"], kind="interview")
        load_into_project(store, CODEBOOK)
        excerpt = store.excerpts_df().query("speaker_role != 'interviewer'").iloc[0]
        with store.transaction(actor="t"):
            store.add_codings([(excerpt["excerpt_id"], "t", "DATA_QUALITY")], origin="t")
        add_memo(store, "Okonkwo", "Marisela Okonkwo said Quillon was there.")
        assert leaks(tmp_path / "proj") != []
        report = deidentify_project(store, roster=roster)
        assert report.changed and report.forgotten["compacted"]
        assert set(report.renamed.values()) == {"P07_interview", "P09"}
        assert store.check().empty, store.check().to_dict("records")
        # The coding moved with its passage to the renamed source's excerpt.
        owners = store.excerpts_df().set_index("excerpt_id")["source_id"]
        assert [owners[e] for e in store.codings_df()["excerpt_id"]] == ["P07_interview"]
        hits = store.connection.execute(
            "SELECT COUNT(*) FROM excerpts_fts WHERE excerpts_fts MATCH 'okonkwo'"
        ).fetchone()[0]
        assert hits == 0
    assert leaks(tmp_path / "proj") == []


def test_memo_add_is_deidentified(tmp_path: Path, roster: Path, files: Path) -> None:
    with project(tmp_path) as store:
        ingest(store, [files / "interviews"], kind="interview", roster=roster)
        memo = add_memo(store, "About Okonkwo", "Quillon's call from 415-555-0134")
        row = store.memos_df().set_index("memo_id").loc[memo]
        assert row["title"] == "About [P07]" and "[P08]" in row["body"]
    assert leaks(tmp_path / "proj") == []


def test_the_leak_check_can_fail(tmp_path: Path, files: Path) -> None:
    with project(tmp_path) as store:
        ingest(store, [files / "interviews"], kind="interview", deidentify=False)
    assert any("okonkwo" in leak for leak in leaks(tmp_path / "proj"))


def test_roster_and_key_must_live_outside_the_project(tmp_path: Path, files: Path) -> None:
    from evalkit.errors import RosterError

    with project(tmp_path) as store:
        inside = store.folder / "roster.csv"
        inside.write_text(ROSTER, encoding="utf-8")
        with pytest.raises(RosterError, match="inside the project folder"):
            ingest(store, [files / "interviews"], kind="interview", roster=inside)
        inside.unlink()


def test_unknown_roster_column_is_an_error_and_aliases_are_variants(tmp_path: Path) -> None:
    from evalkit.deid import load_roster
    from evalkit.errors import RosterError

    path = tmp_path / "roster.csv"
    path.write_text("name,pseudonym,aliases\nMarisela Okonkwo,P07,Mari;Okonkwo\n", encoding="utf-8")
    assert load_roster(path).entries[0].variants == ("Mari", "Okonkwo")
    path.write_text("name,pseudonym,varaints\nMarisela Okonkwo,P07,Mari\n", encoding="utf-8")
    with pytest.raises(RosterError, match="unknown column 'varaints'; did you mean 'variants'"):
        load_roster(path)


def test_review_import_comments_and_reviewer(tmp_path: Path, files: Path, roster: Path) -> None:
    from openpyxl import load_workbook

    from evalkit.project import import_packet, make_packet

    with project(tmp_path) as store:
        ingest(store, [files / "interviews"], kind="interview", roster=roster)
        load_into_project(store, CODEBOOK)
        excerpt = store.excerpts_df().query("speaker_role != 'interviewer'").iloc[0]
        with store.transaction(actor="t"):
            store.add_codings([(excerpt["excerpt_id"], "t", "DATA_QUALITY")], origin="t")
        path = make_packet(store, reviewer="Renard Quillon", status="accepted", fmt="xlsx").save(
            tmp_path / "packet.xlsx"
        )
        workbook = load_workbook(path)
        sheet = workbook["Review"]
        header = [c.value for c in sheet[1]]
        sheet.cell(row=2, column=header.index("Your view") + 1, value="Disagree")
        sheet.cell(
            row=2,
            column=header.index("Comment") + 1,
            value="Ximena Zabaleta said this, not Okonkwo; call 415-555-0134",
        )
        workbook.save(path)
        report = import_packet(store, path)
        assert report.recorded == 1
        review = store.reviews_df().iloc[0]
        assert review["reviewer"] == "[P08]" and "[P09]" in review["comment"]
        # What was replaced in the comment is in the key, like every other replacement.
        with Path(store.setting("key_path")).open(encoding="utf-8") as stream:
            keyed = {(r["source_id"].split(":")[0], r["original"]) for r in csv.DictReader(stream)}
        assert ("packet", "Ximena Zabaleta") in keyed and ("packet", "Renard Quillon") in keyed
    assert leaks(tmp_path / "proj") == []
