"""REFI-QDA project exchange: export, import, round trip, real files, hostile archives."""

from __future__ import annotations

import codecs
import io
import json
import os
import re
import stat
import zipfile
from pathlib import Path

import pytest
from conftest import SHARED, store_snapshot

from evalkit.cli import main
from evalkit.errors import ExchangeError
from evalkit.interop.refi import export_qdpx
from evalkit.project import import_qdpx
from evalkit.store import Store
from evalkit.util.xml import PROJECT_NS, parse_untrusted, schema_errors

NS = f"{{{PROJECT_NS}}}"
SAMPLES = SHARED / "refi-qda" / "samples"
needs_shared = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason="../shared/refi-qda/samples is not available"
)


@pytest.fixture
def sample_project(sample_coded: Path, copy_project) -> Store:
    return copy_project(sample_coded)


def selections(path: Path) -> set[tuple]:
    """(source name, start, end, selected text, coder, code name) for every Coding."""
    with zipfile.ZipFile(path) as archive:
        root = parse_untrusted(archive.read("project.qde"), path, ExchangeError)
        users = {u.get("guid"): u.get("name") for u in root.iter(f"{NS}User")}
        codes = {c.get("guid"): c.get("name") for c in root.iter(f"{NS}Code")}
        found = set()
        for source in root.iter(f"{NS}TextSource"):
            name = source.get("plainTextPath").removeprefix("internal://")
            text = archive.read(f"sources/{name}").decode("utf-8")
            for sel in source.iter(f"{NS}PlainTextSelection"):
                a, b = int(sel.get("startPosition")), int(sel.get("endPosition"))
                for coding in sel.iter(f"{NS}Coding"):
                    code = codes[coding.find(f"{NS}CodeRef").get("targetGUID")]
                    found.add(
                        (
                            source.get("name"),
                            a,
                            b,
                            text[a:b],
                            users[coding.get("creatingUser")],
                            code,
                        )
                    )
    return found


def test_round_trip_of_the_sample_project(sample_project: Store, tmp_path: Path) -> None:
    first = export_qdpx(sample_project, tmp_path / "a.qdpx")
    with zipfile.ZipFile(tmp_path / "a.qdpx") as archive:
        assert schema_errors(archive.read("project.qde"), "Project") == []
        names = archive.namelist()
    assert names[0] == "project.qde" and all(n.startswith("sources/") for n in names[1:])
    codings = sample_project.codings_df()
    applied = codings.dropna(subset=["code"])
    assert first.codings == len(applied) and first.users == 2 and first.sources == 25
    assert first.not_exported == int(codings["code"].isna().sum())

    copy = Store.init(tmp_path / "b", actor="t")
    report = import_qdpx(copy, tmp_path / "a.qdpx")
    assert report.skipped == [] and report.misaligned == []
    assert sorted(report.coders) == ["jamal", "maria"]
    stats = copy.stats()
    original = sample_project.stats()
    for key in ("sources", "excerpts", "words", "codes", "coders"):
        assert stats[key] == original[key], key
    assert stats["codings"] == len(applied) and stats["by_kind"] == original["by_kind"]
    # Attributes come back from the cases, numbers as numbers.
    before = (
        sample_project.sources_df()
        .set_index("source_id")
        .drop(columns=["content_hash", "ingested_at", "ingested_by"])
    )
    after = copy.sources_df().set_index("source_id")[before.columns]
    assert after.astype(str).equals(before.astype(str))
    # The excerpts that were coded keep their IDs (same source, same text).
    assert set(copy.codings_df()["excerpt_id"]) == set(applied["excerpt_id"])

    second = export_qdpx(copy, tmp_path / "b.qdpx")
    assert (second.sources, second.codes, second.codings, second.users, second.selections) == (
        first.sources,
        first.codes,
        first.codings,
        first.users,
        first.selections,
    )
    assert selections(tmp_path / "a.qdpx") == selections(tmp_path / "b.qdpx")


def test_the_key_file_is_never_exported(sample_project: Store, tmp_path: Path, key_folder):
    export_qdpx(sample_project, tmp_path / "a.qdpx")
    with zipfile.ZipFile(tmp_path / "a.qdpx") as archive:
        content = b"".join(archive.read(n) for n in archive.namelist())
    assert b"Denise Yamamoto" not in content and b"(415) 555-0127" not in content
    assert b"[P11]" in content


@needs_shared
def test_qualcoder_export_imports_with_aligned_text(tmp_path: Path) -> None:
    store = Store.init(tmp_path / "qc", actor="t")
    report = import_qdpx(store, SAMPLES / "qc-1.3.2-demo.qdpx")
    stats = store.stats()
    assert (stats["sources"], stats["codes"], stats["codings"], stats["coders"]) == (2, 262, 205, 1)
    assert report.coders == ["cp"] and report.selections == 158 and report.skipped == []
    # qc names each selection after the line it covers: every one still lines up.
    with zipfile.ZipFile(SAMPLES / "qc-1.3.2-demo.qdpx") as archive:
        root = parse_untrusted(archive.read("project.qde"), "qc", ExchangeError)
        raw = {
            s.get("plainTextPath"): archive.read(f"sources/{s.get('plainTextPath')}").decode()
            for s in root.iter(f"{NS}TextSource")
        }
        expected = []
        for source in root.iter(f"{NS}TextSource"):
            lines = raw[source.get("plainTextPath")].split("\n")
            for sel in source.iter(f"{NS}PlainTextSelection"):
                line = int(sel.get("name").split(":")[1])
                expected.append((source.get("plainTextPath"), lines[line].strip()))
    excerpts = store.excerpts_df().set_index("excerpt_id")
    coded = store.codings_df()["excerpt_id"].unique()
    got = {
        (store.source(excerpts.loc[e, "source_id"]).name, excerpts.loc[e, "text"].strip())
        for e in coded
    }
    assert {(n, t) for n, t in expected} == got
    # Nested codes keep their parents; a name used under two parents becomes the shortest
    # end of its path that tells them apart, not a numbered copy.
    codes = store.code_names()
    assert codes["competencies/programming"] == "competencies"
    assert codes["cs_as_programming/programming"] == "cs_as_programming"
    assert codes["competencies"] == "rq1_definition" and "programming" not in codes
    assert codes["cs_literacy/digital_citizenship/citizenship"] == "cs_literacy/digital_citizenship"
    assert not any(re.search(r" \(\d+\)$", name) for name in codes)


@needs_shared
def test_atlas_ti_export_imports_users_and_nested_codes(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "atlas"
    assert (
        main(
            [
                "qdpx",
                "import",
                str(SAMPLES / "atlasti-23-target.qdpx"),
                "--project",
                str(folder),
                "--format",
                "json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["users"] == ["ATLAS.ti", "Enric Llagostera"]
    assert result["project"]["codes"] == 3 and result["project"]["sources"] == 0
    with Store.open(folder) as store:
        assert store.code_names()["2022-05-10T02:05:59Z 19e4dce"] == "Commits"
    blank = tmp_path / "blank"
    assert main(["qdpx", "import", str(SAMPLES / "atlasti-23-blank.qdpx"), "-p", str(blank)]) == 0
    assert main(["stats", "-p", str(blank), "--format", "json"]) == 0
    capsys.readouterr()


# -- what real exports contain ------------------------------------------------------------

USER_A = "088B08AC-D5CD-4ADB-8B71-B4F3459C177F"
USER_B = "{c32a2bd5-537f-4838-8b17-df9efbafdf4b}"
PARENT = "A182CD3A-D83C-4D8C-BC80-26D9103EC6D6"
CHILD = "2D2466F0-D77F-4F8C-BDF9-628966B6B74D"
TEXT_GUID = "5E5E5E5E-1111-2222-3333-444455556666"
DOC_GUID = "6F6F6F6F-1111-2222-3333-444455556666"
VAR = "7A7A7A7A-1111-2222-3333-444455556666"
CRLF_TEXT = "Line one here.\r\nSecond line is here.\r\nThird line, the end."
DOCX_PARAGRAPHS = ["Alpha paragraph.", "Beta paragraph about housing."]


def foreign_qde(selections: str = "", doc_selection: str = "") -> str:
    second = CRLF_TEXT.index("Second")  # counted in the file, CRLF = 2 characters
    return f"""\ufeff<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="partner" origin="SomeTool 9">
  <Users><User guid="{USER_A}" name="Ana"/><User guid="{USER_B}" name="Bo"/></Users>
  <CodeBook><Codes>
    <Code guid="{PARENT.lower()}" name="Housing" isCodable="true" color="#AA0000">
      <Description>Talk about housing.</Description>
      <Code guid="{CHILD.lower()}" name="Shelter beds" isCodable="true"/>
    </Code>
  </Codes></CodeBook>
  <Variables><Variable guid="{VAR}" name="sector" typeOfVariable="Text"/></Variables>
  <Cases><Case guid="8B8B8B8B-1111-2222-3333-444455556666" name="P21">
    <VariableValue><VariableRef targetGUID="{VAR.lower()}"/><TextValue>faith</TextValue>
    </VariableValue><SourceRef targetGUID="{TEXT_GUID.lower()}"/></Case></Cases>
  <Sources>
    <TextSource guid="{TEXT_GUID}" name="P21 interview" plainTextPath="internal://{TEXT_GUID}.txt">
      <PlainTextSelection guid="9C9C9C9C-1111-2222-3333-444455556666" name="Second line is here."
          startPosition="{second}" endPosition="{second + 20}">
        <Coding guid="AD000000-1111-2222-3333-444455556666" creatingUser="{USER_A}">
          <CodeRef targetGUID="{CHILD}"/></Coding>
        <Coding guid="AD000001-1111-2222-3333-444455556666" creatingUser="{USER_B}">
          <CodeRef targetGUID="{{{PARENT}}}"/></Coding>
      </PlainTextSelection>
      {selections}
    </TextSource>
    <TextSource guid="{DOC_GUID}" name="Board letter" richTextPath="internal://{DOC_GUID}.docx">
      {doc_selection}
    </TextSource>
  </Sources>
</Project>
"""


def docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    for text in DOCX_PARAGRAPHS:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def write_qdpx(path: Path, qde: str, folder: str = "Sources") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", qde.encode("utf-8"))
        archive.writestr(f"{folder}/{TEXT_GUID}.txt", codecs.BOM_UTF8 + CRLF_TEXT.encode())
        archive.writestr(f"{folder}/{DOC_GUID}.docx", docx_bytes())
    return path


def test_what_real_exports_contain(project: Store, tmp_path: Path) -> None:
    beta = "\n\n".join(DOCX_PARAGRAPHS).index("Beta")
    outside = (
        '<PlainTextSelection guid="9D000000-1111-2222-3333-444455556666" name="gone"'
        ' startPosition="40" endPosition="4000"><Coding guid="AE000000-1111-2222-3333-'
        f'444455556666" creatingUser="{USER_A}"><CodeRef targetGUID="{CHILD}"/></Coding>'
        "</PlainTextSelection>"
    )
    doc_selection = (
        f'<PlainTextSelection guid="9E000000-1111-2222-3333-444455556666" name="Beta paragraph"'
        f' startPosition="{beta}" endPosition="{beta + 29}"><Coding guid="AF000000-1111-2222-'
        f'3333-444455556666" creatingUser="{USER_B}"><CodeRef targetGUID="{PARENT}"/></Coding>'
        "</PlainTextSelection>"
    )
    path = write_qdpx(tmp_path / "partner.qdpx", foreign_qde(outside, doc_selection))
    report = import_qdpx(project, path)
    # CRLF counted as two characters in the file; mapped onto the stored LF text.
    assert report.conventions["P21 interview"] == "crlf-as-two"
    assert report.misaligned == []
    assert [(s["what"], s["guid"][:8]) for s in report.skipped] == [("selection", "9D000000")]
    assert "4000" in report.skipped[0]["reason"]
    assert sorted(report.coders) == ["Ana", "Bo"] and report.codings == 3
    codings = project.codings_df()
    excerpts = project.excerpts_df().set_index("excerpt_id")
    coded = {(r.coder, r.code, excerpts.loc[r.excerpt_id, "text"]) for r in codings.itertuples()}
    assert coded == {
        ("Ana", "Shelter beds", "Second line is here."),
        ("Bo", "Housing", "Second line is here."),
        ("Bo", "Housing", "Beta paragraph about housing."),  # in the .docx-only source
    }
    assert project.code_names()["Shelter beds"] == "Housing"
    assert project.source("P21_interview").attributes == {"sector": "faith"}
    assert "\r" not in project.source("P21_interview").text


def test_positions_counted_without_cr_are_recognised(project: Store, tmp_path: Path) -> None:
    lf = CRLF_TEXT.replace("\r\n", "\n")
    as_file, as_lf = CRLF_TEXT.index("Second"), lf.index("Second")
    qde = foreign_qde().replace(
        f'startPosition="{as_file}" endPosition="{as_file + 20}"',
        f'startPosition="{as_lf}" endPosition="{as_lf + 20}"',
    )
    report = import_qdpx(project, write_qdpx(tmp_path / "p.qdpx", qde, folder="sources"))
    assert report.conventions["P21 interview"] == "crlf-as-one"
    texts = set(project.excerpts_df()["text"])
    assert "Second line is here." in texts


def test_a_bare_qde_with_its_sources_folder(project: Store, tmp_path: Path) -> None:
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / f"{TEXT_GUID}.txt").write_bytes(CRLF_TEXT.encode())
    (tmp_path / "sources" / f"{DOC_GUID}.docx").write_bytes(docx_bytes())
    (tmp_path / "partner.qde").write_text(foreign_qde(), encoding="utf-8")
    report = import_qdpx(project, tmp_path / "partner.qde")
    assert len(report.sources) == 2 and report.codings == 2


# -- hostile archives ---------------------------------------------------------------------


def _zip(path: Path, entries: dict[str, bytes], *, symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


GOOD_QDE = foreign_qde().encode("utf-8")
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Project [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&secret;"/>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&lol2;"/>"""


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("slip", "points outside the archive"),
        ("absolute", "points outside the archive"),
        ("symlink", "is a symbolic link"),
        ("xxe", "declares a DTD or entities"),
        ("laughs", "declares a DTD or entities"),
        ("bomb", "zip bomb"),
        ("entries", "entries"),
        ("not_zip", "not a zip archive"),
        ("invalid", "does not validate against the REFI-QDA Project schema"),
    ],
)
def test_hostile_archives_are_refused(case: str, match: str, tmp_path: Path, capsys) -> None:
    path = tmp_path / f"{case}.qdpx"
    if case == "slip":
        _zip(path, {"project.qde": GOOD_QDE, "../../evil.txt": b"x"})
    elif case == "absolute":
        _zip(path, {"project.qde": GOOD_QDE, "/tmp/evil.txt": b"x"})
    elif case == "symlink":
        _zip(path, {"project.qde": GOOD_QDE}, symlink="sources/link.txt")
    elif case == "xxe":
        _zip(path, {"project.qde": XXE})
    elif case == "laughs":
        _zip(path, {"project.qde": LAUGHS})
    elif case == "bomb":
        _zip(path, {"project.qde": GOOD_QDE, "sources/big.txt": bytes(50_000_000)})
    elif case == "entries":
        _zip(path, {"project.qde": GOOD_QDE, **{f"sources/{i}.txt": b"" for i in range(10_001)}})
    elif case == "not_zip":
        path.write_bytes(b"%PDF-1.4 this is not a zip")
    elif case == "invalid":
        _zip(path, {"project.qde": GOOD_QDE.replace(b'name="partner" ', b"")})

    # Into an existing project: refused, and nothing changes.
    existing = Store.init(tmp_path / "existing", actor="t")
    snapshot = store_snapshot(existing)
    with pytest.raises(ExchangeError, match=match):
        import_qdpx(existing, path)
    assert store_snapshot(existing) == snapshot
    existing.close()
    # Into a new project from the CLI: one line, exit 2, and no project folder is left.
    target = tmp_path / "new"
    assert main(["qdpx", "import", str(path), "--project", str(target)]) == 2
    err = capsys.readouterr().err
    assert match.split()[0] in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert not target.exists()
    assert not (tmp_path / "evil.txt").exists() and not Path("/tmp/evil.txt").exists()
    assert sorted(os.listdir(tmp_path)) == sorted(["existing", path.name])


def test_cli_export_and_stats_contract(sample_project: Store, tmp_path: Path, capsys) -> None:
    out = tmp_path / "x.qdpx"
    assert (
        main(
            [
                "qdpx",
                "export",
                "--project",
                str(sample_project.folder),
                "--out",
                str(out),
                "--format",
                "json",
            ]
        )
        == 0
    )
    exported = json.loads(capsys.readouterr().out)
    target = tmp_path / "imported"
    assert main(["qdpx", "import", str(out), "--project", str(target)]) == 0
    capsys.readouterr()
    assert main(["stats", "--project", str(target), "--format", "json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["sources"] == exported["sources"] and stats["codes"] == exported["codes"]
    assert stats["codings"] == exported["codings"] and stats["coders"] == exported["users"]
