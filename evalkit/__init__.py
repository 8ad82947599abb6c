"""evalkit: local, private qualitative analysis for CBPR evaluations.

The library comes first; the CLI and notebooks are thin layers over it::

    from evalkit import Store, ingest
    store = Store.init("my_project")
    ingest(store, ["data_sample/interviews"], kind="interview",
           attributes="data_sample/attributes.csv")
    store.excerpts_df()

``evalkit.ingest`` is both this function (the workflow operation,
:func:`evalkit.project.ingest`) and, imported as a package, the readers; the name here is
the function.
"""

from evalkit.errors import EvalkitError
from evalkit.model import Excerpt, Source
from evalkit.project import IngestReport, ingest
from evalkit.segment import segment, segment_many
from evalkit.store import Store

__version__ = "0.1.0"

__all__ = [
    "EvalkitError",
    "Excerpt",
    "IngestReport",
    "Source",
    "Store",
    "ingest",
    "segment",
    "segment_many",
]
