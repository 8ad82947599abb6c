"""Sentence embeddings: the default model, its checks, the cache and what uses it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from evalkit.embedding import (
    DEFAULT_MODEL_ID,
    DEFAULT_MODEL_SHA256,
    CachedEmbedder,
    OnnxEmbedder,
    default_spec,
    file_sha256,
    folder_spec,
    load_embedder,
    resolve_spec,
)
from evalkit.errors import EvalkitError
from evalkit.project import ingest
from evalkit.project.embeddings import embed_excerpts, project_embedder
from evalkit.store import DB_NAME, Store
from evalkit.util.text import content_hash


@pytest.fixture(scope="module")
def embedder() -> OnnxEmbedder:
    return load_embedder()


def test_the_default_model_is_the_pinned_file_from_its_package() -> None:
    spec = default_spec()
    assert spec.model_id == DEFAULT_MODEL_ID
    assert "site-packages" in str(spec.model_path) or "dist-packages" in str(spec.model_path)
    assert file_sha256(spec.model_path) == DEFAULT_MODEL_SHA256


def test_vectors_are_unit_length_and_carry_meaning(embedder: OnnxEmbedder) -> None:
    texts = [
        "There are no beds for survivors who need somewhere to sleep tonight.",
        "Shelter space is scarce: women wait weeks for a place to stay.",
        "The committee approved the minutes of the previous meeting.",
    ]
    vectors = embedder.embed(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    # The two housing sentences share almost no words but mean nearly the same.
    assert similarity[0, 1] > similarity[0, 2] + 0.2


def test_a_text_gets_the_same_vector_alone_or_in_a_batch(embedder: OnnxEmbedder) -> None:
    texts = ["short one", "a somewhat longer sentence about outreach " * 5, "x " * 700]
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_a_long_text_is_read_to_its_end(embedder: OnnxEmbedder) -> None:
    start = "The task force met at the community centre to plan outreach. " * 40
    a, b = embedder.embed(
        [
            start + "Police raids scared everyone away.",
            start + "Police raids scared everyone away. " * 30,
        ]
    )
    c = embedder.embed([start + "Housing vouchers arrived in spring. " * 30])[0]
    # Beyond the first window the texts differ; the second and third windows count.
    assert float(b @ c) < 0.99 and float(a @ b) < 0.999


def _model_folder(tmp_path: Path, sha: str | None = None) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    spec = default_spec()
    shutil.copy(spec.model_path, folder / "model.onnx")
    shutil.copy(spec.tokenizer_path, folder / "tokenizer.json")
    manifest = {"model_id": "my-minilm", "sha256": sha or DEFAULT_MODEL_SHA256, "dimension": 384}
    (folder / "evalkit-model.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def test_a_local_model_folder_is_used_when_its_sha256_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: OnnxEmbedder
) -> None:
    folder = _model_folder(tmp_path)
    monkeypatch.setenv("EVALKIT_EMBEDDING_MODEL", str(folder))
    spec = resolve_spec()
    assert spec.model_id == "my-minilm" and spec.source == f"folder {folder}"
    vectors = OnnxEmbedder(spec).embed(["pocket cards for outreach workers"])
    assert np.allclose(vectors, embedder.embed(["pocket cards for outreach workers"]), atol=1e-6)


def test_a_changed_model_file_is_refused(tmp_path: Path) -> None:
    folder = _model_folder(tmp_path)
    data = bytearray((folder / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(EvalkitError, match="sha256 is .* not the pinned") as caught:
        OnnxEmbedder(folder_spec(folder)).embed(["anything"])
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "evalkit-model.json").unlink(), "no evalkit-model.json"),
        (lambda f: (f / "evalkit-model.json").write_text("{", encoding="utf-8"), "cannot read"),
        (lambda f: (f / "evalkit-model.json").write_text("{}", encoding="utf-8"), "lacks"),
        (lambda f: (f / "tokenizer.json").unlink(), "no tokenizer.json"),
    ],
)
def test_a_bad_model_folder_is_one_clear_line(tmp_path: Path, damage, message: str) -> None:
    folder = _model_folder(tmp_path)
    damage(folder)
    with pytest.raises(EvalkitError, match=message) as caught:
        folder_spec(folder)
    assert "\n" not in str(caught.value)


def test_the_cache_embeds_each_text_once(embedder: OnnxEmbedder) -> None:
    cached = CachedEmbedder(embedder)
    first = cached.embed(["one", "two", "one"])
    again = cached.embed(["two", "one"])
    assert cached.computed == 2
    assert np.array_equal(first[1], again[0]) and np.array_equal(first[0], first[2])


TRANSCRIPT = (
    "Interviewer: Where did she stay?\n\n"
    "P07: Odalys Ferrante found her a bed at the shelter on Mission Street.\n\n"
    "Interviewer: And after that?\n\n"
    "P07: The outreach van took her to the clinic the next morning.\n"
)


def test_the_project_cache_survives_runs_and_forgets_removed_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evalkit.project import deidentify_project

    monkeypatch.setenv("EVALKIT_KEY_DIR", str(tmp_path / "keys"))
    transcript = tmp_path / "in" / "P07.txt"
    transcript.parent.mkdir()
    transcript.write_text(TRANSCRIPT, encoding="utf-8")
    with Store.init(tmp_path / "proj", actor="t") as store:
        ingest(store, [transcript], kind="interview")
        first = embed_excerpts(store)
        assert first.embedded == first.excerpts > 0 and first.cached == 0
        again = embed_excerpts(store)
        assert again.embedded == 0 and again.cached == first.excerpts
        named = [t for t in store.excerpts_df()["text"] if "Ferrante" in t]
        assert named and store.cached("embedding", first.model_id, [content_hash(named[0])])

        roster = tmp_path / "roster.csv"
        roster.write_text("name,pseudonym,variants\nOdalys Ferrante,P09,\n", encoding="utf-8")
        deidentify_project(store, roster=roster, actor="t")
        # The vector of the text that held the name is gone; the others are kept.
        assert not store.cached("embedding", first.model_id, [content_hash(named[0])])
        after = embed_excerpts(store)
        assert after.embedded == 1 and after.cached == first.excerpts - 1
    assert b"Ferrante" not in (tmp_path / "proj" / DB_NAME).read_bytes()


def test_cache_writes_are_not_operations(tmp_path: Path) -> None:
    transcript = tmp_path / "P01.txt"
    transcript.write_text("P01: We shared the room on Tuesdays.\n", encoding="utf-8")
    with Store.init(tmp_path / "proj", actor="t") as store:
        ingest(store, [transcript], kind="interview")
        operations = len(store.audit_df())
        embedder = project_embedder(store)
        embedder.embed(store.excerpts_df()["text"].tolist())
        assert len(store.audit_df()) == operations
        assert store.cache_count("embedding") == len(store.excerpts_df())
