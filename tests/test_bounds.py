"""Bounds on zip-based inputs, and reader failures as one-line errors (evalkit issue #16).

Every input is built here, under tmp_path. The zip bombs are written with zipfile's
streaming writer, so this test never holds their inflated size in memory, and the guard
must refuse them from the central directory without inflating them.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import docx
import pytest
from conftest import CODEBOOK, make_pdf, store_snapshot

from evalkit.errors import EvalkitError, InputFileError
from evalkit.store import Store
from evalkit.util import archive
from evalkit.util.archive import check_zip

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
PARAGRAPH = b"<w:p><w:r><w:t>The same words again and again, page after page.</w:t></w:r></w:p>"
DOC_GUID = "5E5E5E5E-1111-2222-3333-444455556666"
TEXT_GUID = "6F6F6F6F-1111-2222-3333-444455556666"


def word_bytes(*paragraphs: str) -> bytes:
    document = docx.Document()
    for text in paragraphs or ("A short letter from the board.",):
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def rewrite(
    source: bytes,
    path: Path,
    member: str,
    *,
    content: bytes | None = None,
    pad: bytes = b"",
    size: int = 0,
    compresslevel: int = 9,
) -> Path:
    """Copy a zip package, replacing ``member`` by ``content``, or keeping its XML and
    writing ``pad`` over and over, ``size`` bytes in all, where padding is allowed: inside
    <w:body>, or else after the XML declaration. The padding is streamed, 1 MB at a time."""
    with (
        zipfile.ZipFile(io.BytesIO(source)) as original,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as out,
    ):
        for info in original.infolist():
            data = original.read(info)
            if info.filename != member:
                out.writestr(info.filename, data)
            elif content is not None:
                out.writestr(member, content)
            else:
                cut = data.index(b">", data.find(b"<w:body") if b"<w:body" in data else 0) + 1
                chunk = pad * (1_048_576 // len(pad))
                with out.open(member, "w") as stream:
                    stream.write(data[:cut])
                    for _ in range(0, size, len(chunk)):
                        stream.write(chunk)
                    stream.write(data[cut:])
    return path


def qde(rich: str = "", plain: str = "") -> bytes:
    sources = ""
    if rich:
        sources += f'<TextSource guid="{DOC_GUID}" name="Board letter" richTextPath="{rich}"/>'
    if plain:
        sources += f'<TextSource guid="{TEXT_GUID}" name="Notes" plainTextPath="{plain}"/>'
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<Project xmlns="urn:QDA-XML:project:1.0" name="partner" origin="SomeTool 9">'
        f"<Sources>{sources}</Sources></Project>"
    ).encode()


def qdpx(path: Path, members: dict[str, bytes | Path], **qde_refs: str) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("project.qde", qde(**qde_refs))
        for name, data in members.items():
            if isinstance(data, Path):  # an archive: stored as it is, as QDA tools do
                out.write(data, name, compress_type=zipfile.ZIP_STORED)
            else:
                out.writestr(name, data)
    return path


@pytest.fixture(scope="module")
def bomb_docx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid .docx of about 2 MB whose word/document.xml inflates to 300 MB."""
    path = tmp_path_factory.mktemp("bomb") / "minutes.docx"
    # compresslevel 1 keeps the ratio below MAX_MEMBER_RATIO: only the size gives it away.
    word = word_bytes()
    rewrite(word, path, "word/document.xml", pad=PARAGRAPH, size=300_000_000, compresslevel=1)
    return path


@dataclass
class Existing:
    """A project that already holds one interview."""

    folder: Path

    def __call__(self) -> tuple:
        """What a refused command must leave as it was."""
        with Store.open(self.folder) as store:
            return store_snapshot(store)


@pytest.fixture
def existing(tmp_path: Path, interview_file: Path, cli) -> Existing:
    folder = tmp_path / "proj"
    assert cli("init", str(folder)).returncode == 0
    assert cli("ingest", str(interview_file), "-p", str(folder), "-k", "interview").returncode == 0
    return Existing(folder)


def refused(result, *names: str) -> str:
    """The command failed as bad input does: exit 2 and one line naming ``names``."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    for name in names:
        assert name in line, line
    return line


# -- problem 1: a .docx that inflates to 300 MB, alone and nested in a .qdpx ---------------


def test_a_docx_inflating_to_300_mb_is_refused_by_ingest(bomb_docx: Path, existing, cli) -> None:
    assert bomb_docx.stat().st_size < 3_000_000
    before = existing()
    result = cli("ingest", str(bomb_docx), "-p", str(existing.folder), "-k", "document")
    line = refused(result, "minutes.docx", "MAX_INFLATED_BYTES is 256,000,000")
    assert re.search(r"the \.docx inflates to 30\d,\d{3},\d{3} bytes", line)
    assert existing() == before


def test_the_same_docx_nested_in_a_qdpx_is_refused(
    bomb_docx: Path, existing, cli, tmp_path: Path
) -> None:
    ref = f"internal://{DOC_GUID}.docx"
    path = qdpx(tmp_path / "partner.qdpx", {f"sources/{DOC_GUID}.docx": bomb_docx}, rich=ref)
    before = existing()
    result = cli("qdpx", "import", str(path), "--project", str(existing.folder))
    line = refused(result, "partner.qdpx", f"'sources/{DOC_GUID}.docx'", "MAX_INFLATED_BYTES")
    assert "256,000,000" in line
    assert existing() == before
    # Into a new project: refused before the project is created.
    assert cli("qdpx", "import", str(path), "--project", str(tmp_path / "new")).returncode == 2
    assert not (tmp_path / "new").exists()


# -- problem 2: bombs made of many members, each too small for the old ratio check ----------


@pytest.mark.parametrize(
    ("count", "size", "bound"),
    [
        (40, 1_000_000, "MAX_MEMBER_RATIO is 200"),  # 1 MB each: the old floor let them by
        (1_000, 16_000, "MAX_ARCHIVE_RATIO is 100"),  # each below RATIO_FLOOR: the whole counts
    ],
    ids=["1mb-members", "small-members"],
)
def test_many_small_members_are_a_bomb(
    count: int, size: int, bound: str, existing, cli, tmp_path: Path
) -> None:
    members = {f"sources/pad{i}.txt": bytes(size) for i in range(count)}
    members["sources/notes.txt"] = b"Plain notes from the meeting."
    path = qdpx(tmp_path / "many.qdpx", members, plain="notes.txt")
    assert path.stat().st_size < count * size / 100  # from a small file
    before = existing()
    result = cli("qdpx", "import", str(path), "--project", str(existing.folder))
    refused(result, "many.qdpx", bound, "zip bomb")
    assert existing() == before


# -- the same guard at every zip reader ------------------------------------------------------


def swollen(tmp_path: Path, name: str, source: bytes, member: str) -> Path:
    """A real package whose main part is padded with 20 MB of whitespace (ratio ~1,000)."""
    return rewrite(source, tmp_path / name, member, pad=b" ", size=20_000_000)


def xlsx_bytes() -> bytes:
    import pandas as pd

    buffer = io.BytesIO()
    pd.DataFrame({"id": ["R1"], "answer": ["We met weekly."]}).to_excel(buffer, index=False)
    return buffer.getvalue()


def test_a_swollen_spreadsheet_is_refused_by_ingest(existing, cli, tmp_path: Path) -> None:
    # openpyxl's sheet has no <w:body>, so the padding goes after the XML declaration.
    path = swollen(tmp_path, "survey.xlsx", xlsx_bytes(), "xl/worksheets/sheet1.xml")
    before = existing()
    result = cli(
        "ingest", str(path), "-p", str(existing.folder), "-k", "document", "--text-column", "answer"
    )
    refused(result, "survey.xlsx", "'xl/worksheets/sheet1.xml'", "MAX_MEMBER_RATIO is 200")
    assert existing() == before


def test_a_swollen_codebook_workbook_is_refused(cli, tmp_path: Path) -> None:
    from evalkit.codebook import export_codebook, load_codebook

    workbook = export_codebook(load_codebook(CODEBOOK), "xlsx")
    path = swollen(tmp_path, "big.xlsx", workbook, "xl/worksheets/sheet1.xml")
    refused(cli("codebook", "validate", str(path)), "big.xlsx", "MAX_MEMBER_RATIO")


@pytest.mark.parametrize("suffix", [".docx", ".xlsx"])
def test_a_swollen_review_packet_is_refused(suffix: str, existing, cli, tmp_path: Path) -> None:
    if suffix == ".docx":
        path = swollen(tmp_path, "ana.docx", word_bytes(), "word/document.xml")
    else:
        path = swollen(tmp_path, "ana.xlsx", xlsx_bytes(), "xl/worksheets/sheet1.xml")
    before = existing()
    result = cli("review-import", str(path), "-p", str(existing.folder), "--reviewer", "Ana")
    refused(result, path.name, "MAX_MEMBER_RATIO")
    assert existing() == before


def test_archives_nested_too_deep_or_disguised_are_inspected(tmp_path: Path) -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("zeros.bin", bytes(5_000_000))
    # A bomb named as an image is found by its first bytes, inside a .docx.
    path = tmp_path / "photo.docx"
    path.write_bytes(word_bytes())
    with zipfile.ZipFile(path, "a") as out:
        out.writestr("word/media/image1.png", bomb.getvalue())
    with pytest.raises(InputFileError, match=r"'zeros.bin' inside 'word/media/image1.png'"):
        check_zip(path, error=InputFileError, kind=".docx")
    # Zips inside zips: MAX_NESTING levels are inspected, one more is refused.
    data = b"innermost"
    for nested in range(archive.MAX_NESTING + 2):  # deep{n}.zip holds n archives in a chain
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as out:
            out.writestr(f"deep{nested - 1}.zip" if nested else "note.txt", data)
        data = buffer.getvalue()
        (tmp_path / f"deep{nested}.zip").write_bytes(data)
    check_zip(tmp_path / f"deep{archive.MAX_NESTING}.zip", error=EvalkitError, kind="archive")
    with pytest.raises(EvalkitError, match=f"the limit MAX_NESTING is {archive.MAX_NESTING}"):
        check_zip(tmp_path / f"deep{archive.MAX_NESTING + 1}.zip", error=EvalkitError, kind="zip")


def test_real_packages_pass_the_guard(tmp_path: Path) -> None:
    path = tmp_path / "long.docx"
    path.write_bytes(word_bytes(*(f"Paragraph {i} of a long report." for i in range(5_000))))
    check_zip(path, error=InputFileError, kind=".docx")
    (tmp_path / "survey.xlsx").write_bytes(xlsx_bytes())
    check_zip(tmp_path / "survey.xlsx", error=InputFileError, kind="spreadsheet")


# -- problem 3: malformed XML and encrypted PDFs as one-line errors -------------------------

BROKEN_BODY = f'<w:document xmlns:w="{W_NS}"><w:body><w:p><w:r><w:t>cut off'.encode()


def test_malformed_document_xml_in_ingest_names_the_part(existing, cli, tmp_path: Path) -> None:
    path = rewrite(word_bytes(), tmp_path / "letter.docx", "word/document.xml", content=BROKEN_BODY)
    before = existing()
    result = cli("ingest", str(path), "-p", str(existing.folder), "-k", "document")
    refused(result, "letter.docx", "'word/document.xml'", "not well-formed XML", "Word")
    assert existing() == before


def test_malformed_docx_source_in_a_qdpx_names_the_source_and_part(
    existing, cli, tmp_path: Path
) -> None:
    broken = rewrite(word_bytes(), tmp_path / "src.docx", "word/document.xml", content=BROKEN_BODY)
    ref = f"internal://{DOC_GUID}.docx"
    path = qdpx(tmp_path / "partner.qdpx", {f"sources/{DOC_GUID}.docx": broken}, rich=ref)
    before = existing()
    result = cli("qdpx", "import", str(path), "--project", str(existing.folder))
    refused(result, "partner.qdpx", ref, "'word/document.xml'", "not well-formed XML")
    assert existing() == before


def test_a_refused_source_leaves_no_new_project_behind(cli, tmp_path: Path) -> None:
    broken = rewrite(word_bytes(), tmp_path / "src.docx", "word/document.xml", content=BROKEN_BODY)
    ref = f"internal://{DOC_GUID}.docx"
    path = qdpx(tmp_path / "partner.qdpx", {f"sources/{DOC_GUID}.docx": broken}, rich=ref)
    result = cli("qdpx", "import", str(path), "--project", str(tmp_path / "new"))
    refused(result, "partner.qdpx", ref, "not well-formed XML")
    assert not (tmp_path / "new").exists()


def encrypted_pdf(tmp_path: Path, algorithm: str, user_password: str) -> Path:
    from pypdf import PdfReader, PdfWriter

    plain = make_pdf(tmp_path / "plain.pdf", [["Minutes of the board, read in confidence."]])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password=user_password, owner_password="x", algorithm=algorithm)
    path = tmp_path / f"{algorithm.lower()}.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    plain.unlink()
    return path


@pytest.mark.parametrize("algorithm", ["AES-128", "AES-256"])
def test_aes_pdfs_with_an_empty_user_password_are_read(
    algorithm: str, existing, cli, tmp_path: Path
) -> None:
    path = encrypted_pdf(tmp_path, algorithm, "")
    result = cli("ingest", str(path), "-p", str(existing.folder), "-k", "document")
    assert result.returncode == 0, result.stderr
    with Store.open(existing.folder) as store:
        assert any("read in confidence" in s.text for s in store.sources())


@pytest.mark.parametrize("algorithm", ["AES-128", "AES-256"])
def test_password_protected_pdfs_are_refused_in_one_line(
    algorithm: str, existing, cli, tmp_path: Path
) -> None:
    path = encrypted_pdf(tmp_path, algorithm, "secret")
    before = existing()
    result = cli("ingest", str(path), "-p", str(existing.folder), "-k", "document")
    refused(
        result,
        path.name,
        "password-protected",
        "Remove the password in the program that made it, or export the text",
    )
    assert existing() == before


def test_an_aes_pdf_without_the_cryptography_package_is_one_line(
    existing, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What users saw before `cryptography` was a dependency: pypdf's fallback provider.
    from pypdf import _encryption
    from pypdf._crypt_providers import _fallback

    path = encrypted_pdf(tmp_path, "AES-256", "")
    for name in ("CryptAES", "aes_cbc_decrypt", "aes_ecb_decrypt"):
        monkeypatch.setattr(_encryption, name, getattr(_fallback, name))
    before = existing()
    result = cli("ingest", str(path), "-p", str(existing.folder), "-k", "document")
    refused(result, path.name, "AES-encrypted", "'cryptography'")
    assert existing() == before


def damaged_docx(tmp_path: Path) -> Path:
    """A .docx whose word/document.xml has garbage in its deflate stream."""
    data = bytearray(word_bytes("Several words of a letter. " * 200))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as package:
        info = package.getinfo("word/document.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 2 : start + 40] = b"\xff" * 38
    path = tmp_path / "torn.docx"
    path.write_bytes(bytes(data))
    return path


def unknown_filter_pdf(tmp_path: Path) -> Path:
    path = make_pdf(tmp_path / "odd.pdf", [["Minutes of the board."]])
    path.write_bytes(path.read_bytes().replace(b"<< /Length", b"<< /Filter /NoSuchDecode /Length"))
    return path


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (damaged_docx, "'word/document.xml' cannot be read (Error -3 while decompressing"),
        (unknown_filter_pdf, "cannot be read (Unsupported filter /NoSuchDecode)"),
    ],
    ids=["docx-deflate", "pdf-filter"],
)
def test_damaged_files_are_one_line_errors(make, says: str, existing, cli, tmp_path: Path):
    path = make(tmp_path)
    before = existing()
    result = cli("ingest", str(path), "-p", str(existing.folder), "-k", "document")
    refused(result, path.name, says)
    assert existing() == before
