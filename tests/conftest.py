"""Fixtures that build tiny inputs under tmp_path, and the sample project once per session."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.deid import default_key_path
from evalkit.demo import ingest_sample
from evalkit.project import import_codings, load_into_project
from evalkit.store import DB_NAME, Store

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data_sample"
SHARED = ROOT.parent / "shared"
CODEBOOK = ROOT / "codebooks" / "sf_taskforce.yaml"


def make_pdf(path: Path, pages: list[list[str]]) -> Path:
    """Write a minimal valid PDF whose pages carry the given lines as a real text layer."""
    objects: list[bytes] = []
    page_ids = []
    font_id = 3
    next_id = 4
    body: list[tuple[int, bytes]] = []
    for lines in pages:
        stream = (
            b"BT /F1 11 Tf 72 720 Td 14 TL "
            + b" ".join(
                b"("
                + line.replace("\\", "\\\\")
                .replace("(", "\\(")
                .replace(")", "\\)")
                .encode("latin-1")
                + b") '"
                for line in lines
            )
            + b" ET"
        )
        content_id, page_id = next_id, next_id + 1
        next_id += 2
        body.append(
            (content_id, b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        )
        body.append(
            (
                page_id,
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R"
                b" /Resources << /Font << /F1 %d 0 R >> >> >>" % (content_id, font_id),
            )
        )
        page_ids.append(page_id)
    objects = [
        (1, b"<< /Type /Catalog /Pages 2 0 R >>"),
        (
            2,
            b"<< /Type /Pages /Kids [%s] /Count %d >>"
            % (b" ".join(b"%d 0 R" % i for i in page_ids), len(page_ids)),
        ),
        (font_id, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"),
        *body,
    ]
    objects.sort()
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number, content in objects:
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, content)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for number in range(1, len(objects) + 1):
        out += b"%010d 00000 n \n" % offsets[number]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    path.write_bytes(bytes(out))
    return path


@pytest.fixture(scope="session", autouse=True)
def code_under_test() -> None:
    """Subprocesses (the CLI, notebook kernels, the README tour) import this checkout's
    evalkit, not whichever copy is installed in the environment."""
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))


@pytest.fixture(scope="session", autouse=True)
def key_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """De-identification keys go to a temporary folder, never the tester's home."""
    folder = tmp_path_factory.mktemp("keys")
    os.environ["EVALKIT_KEY_DIR"] = str(folder)
    return folder


# -- the sample project, built once per session ----------------------------------------------
# Ingesting the sample corpus takes a second or more; copying the finished project folder
# takes milliseconds. The folders below are never opened by a test: each test that wants
# one gets its own copy through `copy_project`, so no test sees another's changes.


@pytest.fixture(scope="session")
def sample_ingested(tmp_path_factory: pytest.TempPathFactory, key_folder: Path) -> Path:
    """A project folder with the sample corpus ingested and de-identified (no codebook)."""
    folder = tmp_path_factory.mktemp("sample") / "ingested"
    with Store.init(folder, actor="t") as store:
        ingest_sample(store, SAMPLE)
    return folder


@pytest.fixture(scope="session")
def sample_coded(tmp_path_factory: pytest.TempPathFactory, sample_ingested: Path) -> Path:
    """The ingested sample project plus the starter codebook and both coders' codings."""
    folder = tmp_path_factory.mktemp("sample") / "coded"
    shutil.copytree(sample_ingested, folder)
    with Store.open(folder) as store:
        load_into_project(store, CODEBOOK)
        for path in sorted((SAMPLE / "codings").glob("coder_*.csv")):
            import_codings(store, path)
    return folder


@pytest.fixture
def copy_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key_folder: Path
) -> Iterator[Callable[[Path], Store]]:
    """Open a private copy of a built project folder: ``copy_project(sample_coded)``.

    The copy keeps the original's project ID, so its de-identification key is copied too,
    into a key folder of the test's own: a test that re-identifies or extends the key
    cannot change what another test reads.
    """
    opened: list[Store] = []
    keys = tmp_path / "keys"

    def copy(built: Path) -> Store:
        folder = tmp_path / "proj" if not opened else tmp_path / f"proj{len(opened)}"
        shutil.copytree(built, folder)
        with sqlite3.connect(folder / DB_NAME) as raw:
            project_id = raw.execute("SELECT value FROM project WHERE key = 'id'").fetchone()[0]
            key = key_folder / default_key_path(project_id).name
            # The project remembers where its key goes: point the copy at its own key.
            raw.execute(
                "UPDATE project SET value = ? WHERE key = 'key_path'", (str(keys / key.name),)
            )
        raw.close()
        store = Store.open(folder)
        keys.mkdir(exist_ok=True)
        if key.exists() and not (keys / key.name).exists():
            shutil.copy2(key, keys / key.name)
        monkeypatch.setenv("EVALKIT_KEY_DIR", str(keys))
        opened.append(store)
        return store

    yield copy
    for store in opened:
        store.close()


# -- the command line, in-process ------------------------------------------------------------


@dataclass
class CliResult:
    """What a user sees of one command: its exit code and what it printed."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run ``evalkit ARGS...`` through ``main([...])`` in this process: ``cli("stats", ...)``.

    As fast as a function call, and as a user runs it: the same parser, handlers and exit
    codes (an ``EvalkitError`` is one line on stderr and code 2; argparse's usage errors
    and ``--help`` exit through ``SystemExit``). A bug raises, failing the test with its
    traceback. test_cli keeps a few real ``python -m evalkit`` processes as smoke tests.
    """
    monkeypatch.setenv("EVALKIT_USER", "cli-tester")

    def run(*args: str) -> CliResult:
        capsys.readouterr()  # what earlier code printed is not this command's output
        try:
            code = main(list(args))
        except SystemExit as exit:
            code = 0 if exit.code is None else exit.code if isinstance(exit.code, int) else 1
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


@pytest.fixture
def project(tmp_path: Path) -> Store:
    store = Store.init(tmp_path / "proj", actor="tester")
    yield store
    store.close()


@pytest.fixture
def interview_file(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "P07.txt"
    path.parent.mkdir()
    path.write_text(
        "Interviewer: What does your agency do around trafficking?\n\n"
        "P07: We do immigration legal work. Mostly T-visas for people from nail salons "
        "and restaurants.\n\nAnd some U-visas too.\n\n"
        "Interviewer: How did you get involved in the task force?\n\n"
        "P07: Honestly, by accident. A colleague dragged me to a general meeting in 2016.\n",
        encoding="utf-8",
    )
    return path


def store_snapshot(store: Store) -> tuple:
    """Everything a failed command must leave untouched."""
    c = store.connection
    return (
        c.execute("SELECT id, content_hash, attributes FROM sources ORDER BY id").fetchall(),
        c.execute('SELECT id, start, "end" FROM excerpts ORDER BY id').fetchall(),
        c.execute("SELECT COUNT(*) FROM audit").fetchone()[0],
    )
