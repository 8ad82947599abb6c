"""The project store: schema version, foreign keys, transactions, the audit log."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from evalkit.errors import ProjectError
from evalkit.model import Excerpt, Source
from evalkit.store import DB_NAME, SCHEMA_VERSION, Store


def test_init_creates_a_versioned_store(tmp_path: Path) -> None:
    store = Store.init(tmp_path / "p", actor="ana")
    assert (tmp_path / "p" / DB_NAME).is_file()
    assert store.schema_version == SCHEMA_VERSION
    assert store.connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    audit = store.audit_df()
    assert list(audit["action"]) == ["init"] and audit["actor"][0] == "ana"


def test_init_refuses_an_existing_project(tmp_path: Path) -> None:
    Store.init(tmp_path / "p").close()
    with pytest.raises(ProjectError, match="already an evalkit project"):
        Store.init(tmp_path / "p")


def test_open_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match=r"nope: project folder does not exist.*evalkit init"):
        Store.open(tmp_path / "nope")


def test_open_folder_that_is_not_a_project(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="not an evalkit project"):
        Store.open(tmp_path)


def test_open_refuses_a_newer_schema(tmp_path: Path) -> None:
    Store.init(tmp_path / "p").close()
    connection = sqlite3.connect(tmp_path / "p" / DB_NAME)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    connection.close()
    with pytest.raises(ProjectError, match="newer evalkit"):
        Store.open(tmp_path / "p")


def test_corrupt_store_file(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / DB_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ProjectError, match="cannot be opened"):
        Store.open(tmp_path / "p")


def _source(text: str = "P01: Hello there.") -> Source:
    return Source(id="P01", name="P01.txt", kind="interview", text=text, content_hash="abc")


def _excerpt(start: int = 5, end: int = 17, id_: str = "P01-x") -> Excerpt:
    return Excerpt(id=id_, source_id="P01", start=start, end=end, ordinal=1, speaker="P01")


def test_writes_outside_a_transaction_are_a_bug(project: Store) -> None:
    with pytest.raises(RuntimeError, match="inside Store.transaction"):
        project.put_source(_source(), [_excerpt()])


def test_failed_transaction_leaves_nothing(project: Store) -> None:
    with pytest.raises(ZeroDivisionError), project.transaction(actor="ana"):
        project.put_source(_source(), [_excerpt()])
        1 / 0  # noqa: B018
    assert project.sources() == [] and project.excerpts() == []
    assert list(project.audit_df()["action"]) == ["init"]


def test_put_source_round_trips_and_logs(project: Store) -> None:
    with project.transaction(actor="ana", command="test"):
        assert project.put_source(_source(), [_excerpt()]) == "added"
    [source] = project.sources()
    assert source.text == "P01: Hello there."
    [excerpt] = project.excerpts()
    assert source.text[excerpt.start : excerpt.end] == "Hello there."
    last = project.audit_df().iloc[-1]
    assert (last["action"], last["actor"], last["command"], last["entity_id"]) == (
        "source.add",
        "ana",
        "test",
        "P01",
    )


def test_audit_log_is_append_only(project: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        project.connection.execute("UPDATE audit SET actor = 'mallory'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        project.connection.execute("DELETE FROM audit")


def test_foreign_keys_are_enforced(project: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError), project.transaction():
        project.connection.execute(
            'INSERT INTO excerpts (id, source_id, ordinal, start, "end")'
            " VALUES ('x', 'missing', 1, 0, 1)"
        )


def test_bad_offsets_are_refused(project: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError), project.transaction():
        project.put_source(_source(), [_excerpt(start=9, end=3)])


def test_transactions_do_not_nest(project: Store) -> None:
    with pytest.raises(RuntimeError, match="do not nest"), project.transaction():
        with project.transaction():
            pass


def test_stats_has_the_documented_keys(project: Store) -> None:
    with project.transaction():
        project.put_source(_source(), [_excerpt()])
    stats = project.stats()
    assert set(stats) >= {"sources", "excerpts", "words", "codes", "codings", "coders", "by_kind"}
    assert stats["by_kind"] == {"interview": {"sources": 1, "excerpts": 1, "words": 3}}


def test_excerpt_frame_text_is_the_source_slice(project: Store) -> None:
    source = Source(
        id="P01",
        name="P01.txt",
        kind="interview",
        text="P01: “Sí” — claro 🙂 yes.",
        content_hash="h",
        attributes={"text": "an attribute that clashes", "sector": "youth_serving"},
    )
    with project.transaction():
        project.put_source(source, [_excerpt(start=5, end=25)])
    frame = project.excerpts_df()
    assert frame.loc[0, "text"] == source.text[5:25]
    assert frame.loc[0, "source_text"] == "an attribute that clashes"
    assert frame.loc[0, "sector"] == "youth_serving"
