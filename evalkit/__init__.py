"""evalkit: local, private qualitative analysis for CBPR evaluations.

The library comes first; the CLI and notebooks are thin layers over it::

    from evalkit import Store, ingest
    store = Store.init("my_project")
    ingest(store, ["data_sample/interviews"], kind="interview",
           attributes="data_sample/attributes.csv")
    store.excerpts_df()

The names below are loaded on first use, so ``import evalkit.deid`` (a pure stage) does
not pull in the store and the workflow layer.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "EvalkitError": "evalkit.errors",
    "Excerpt": "evalkit.model",
    "Source": "evalkit.model",
    "segment": "evalkit.segment",
    "segment_many": "evalkit.segment",
    "Store": "evalkit.store",
    "IngestReport": "evalkit.project",
    "ingest": "evalkit.project",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
