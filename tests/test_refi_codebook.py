"""REFI-QDA codebooks: our exports validate, real exports from other tools import."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from conftest import SHARED

from evalkit.codebook import check_codebook, load_codebook
from evalkit.codebook.refi import codebook_to_qdc, describe
from evalkit.errors import CodebookError
from evalkit.model import Code, Codebook
from evalkit.util.xml import schema_errors

SAMPLES = SHARED / "refi-qda" / "samples"
needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason="../shared/refi-qda/samples is not present"
)


def tiny() -> Codebook:
    return Codebook(
        title="Tiny",
        version="1",
        codes=(
            Code("VOICE", brief="Voice", definition="Who gets heard.", color="#2CA02C"),
            Code(
                "TOKENISM",
                parent="VOICE",
                brief="Token involvement",
                definition="Survivors asked for stories but given no vote & no pay.",
                when_to_use="Unpaid storytelling, no vote.",
                when_not_to_use="Paid, voting roles (use LEADERSHIP).",
                examples=("They wanted my story, not my vote.", 'She said "<again>".'),
                keywords=("tell my story", "no vote"),
                patterns=(r"\bunpaid\b",),
                tension=True,
            ),
        ),
        domains={"Involvement on the task force": ("TOKENISM",)},
    )


def test_export_validates_against_the_xsd() -> None:
    data = codebook_to_qdc(tiny())
    assert schema_errors(data, "Codebook") == []
    assert b'name="TOKENISM"' in data and b"<Sets>" in data


@pytest.mark.skipif(not (SHARED / "refi-qda").is_dir(), reason="../shared/refi-qda is absent")
def test_bundled_schema_is_the_shared_one() -> None:
    from evalkit.util.xml import SCHEMAS

    for name in ("Codebook.xsd", "Project.xsd"):
        assert (SCHEMAS / name).read_bytes() == (SHARED / "refi-qda" / name).read_bytes()


def test_description_is_readable_text() -> None:
    text = describe(tiny().codes[1])
    assert text.splitlines()[:2] == [
        "Brief: Token involvement",
        "Definition: Survivors asked for stories but given no vote & no pay.",
    ]
    assert "Examples:\n- They wanted my story, not my vote." in text


def test_own_export_round_trips_field_by_field(tmp_path: Path) -> None:
    path = tmp_path / "tiny.qdc"
    path.write_bytes(codebook_to_qdc(tiny()))
    back = load_codebook(path)
    assert back == tiny()
    for original, restored in zip(tiny().codes, back.codes, strict=True):
        for field in ("brief", "definition", "when_to_use", "examples", "keywords", "tension"):
            assert getattr(restored, field) == getattr(original, field)


def test_not_xml(tmp_path: Path) -> None:
    path = tmp_path / "broken.qdc"
    path.write_text("<CodeBook><Codes>", encoding="utf-8")
    with pytest.raises(CodebookError, match=r"broken\.qdc line 1: not well-formed XML"):
        check_codebook(path)


def test_xml_that_does_not_validate(tmp_path: Path) -> None:
    path = tmp_path / "invalid.qdc"
    path.write_text(
        '<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>'
        '<Code name="A" guid="not-a-guid" isCodable="true"/></Codes></CodeBook>',
        encoding="utf-8",
    )
    with pytest.raises(CodebookError, match=r"invalid\.qdc line 1: does not validate .*guid"):
        check_codebook(path)


def test_entity_declarations_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.qdc"
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>\n'
        '<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>'
        '<Code name="&lol2;" guid="11111111-2222-3333-4444-555555555555" isCodable="true"/>'
        "</Codes></CodeBook>",
        encoding="utf-8",
    )
    with pytest.raises(CodebookError, match=r"evil\.qdc: the XML declares a DTD or entities"):
        check_codebook(path)


def test_external_entity_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "xxe.qdc"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        '<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes/></CodeBook>',
        encoding="utf-8",
    )
    with pytest.raises(CodebookError, match="refused"):
        check_codebook(path)


def test_qdpx_that_is_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "p.qdpx"
    path.write_bytes(b"not a zip")
    with pytest.raises(CodebookError, match="not a readable .qdpx"):
        check_codebook(path)


def test_qdpx_without_project(tmp_path: Path) -> None:
    path = tmp_path / "p.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(CodebookError, match="no project.qde"):
        check_codebook(path)


@needs_samples
def test_atlas_ti_nested_codes_with_upper_case_guids() -> None:
    codebook = load_codebook(SAMPLES / "atlasti-23-target.qdpx")
    assert [(c.name, c.parent) for c in codebook.codes] == [
        ("Commits", None),
        ("2022-05-10T02:05:59Z 19e4dce", "Commits"),
        ("2022-02-11T10:39:25Z cdbfd92", "Commits"),
    ]
    assert codebook.codes[0].guid == "A182CD3A-D83C-4D8C-BC80-26D9103EC6D6"


@needs_samples
def test_atlas_ti_project_without_codes() -> None:
    with pytest.raises(CodebookError, match="the project has no CodeBook"):
        load_codebook(SAMPLES / "atlasti-23-blank.qdpx")


@needs_samples
def test_qc_demo_code_tree(tmp_path: Path) -> None:
    codebook = load_codebook(SAMPLES / "qc-1.3.2-demo.qdpx")
    parents = {c.name: c.parent for c in codebook.codes}
    assert parents["rq1_definition"] is None
    assert parents["competencies"] == "rq1_definition"
    assert parents["competencies/programming"] == "competencies"
    assert parents["cs_as_programming/programming"] == "cs_as_programming"
    assert parents["abstraction"] == "concepts"
    assert parents["restructure_curriculum"] == "restructuring_high_school"
    assert parents["restructuring_high_school"] == "defining_education"
    # And it can be handed on: our export of their tree validates and keeps their GUIDs.
    data = codebook_to_qdc(codebook)
    assert schema_errors(data, "Codebook") == []
    path = tmp_path / "qc.qdc"
    path.write_bytes(data)
    again = load_codebook(path)
    assert [(c.name, c.parent, c.guid) for c in again.codes] == [
        (c.name, c.parent, c.guid) for c in codebook.codes
    ]
