"""The tutorial notebooks run top to bottom on the sample corpus, and do what they say."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import docx
import nbformat
import pandas as pd
import pytest
from conftest import ROOT
from nbclient import NotebookClient

from evalkit.store import Store

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_four_tutorials() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01_ingest_and_deidentify.ipynb",
        "02_codebook_and_assisted_coding.ipynb",
        "03_agreement_and_consensus.ipynb",
        "04_rapid_appraisal_report.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], cell.source[:60]
            assert cell.execution_count is None, cell.source[:60]


def _stored_text(project: Path) -> str:
    with Store.open(project) as store:
        sources = "\n".join(s.text for s in store.sources())
        excerpts = "\n".join(store.excerpts_df()["text"])
        attributes = store.sources_df().astype(str).to_csv()
    return "\n".join((sources, excerpts, attributes))


def check_ingest(folder: Path) -> None:
    project = folder / "tutorial_01"
    text = _stored_text(project)
    for name in ("Denise Yamamoto", "Yamamoto", "Tomás"):
        assert name not in text
    assert "[P11]" in text
    # The key went to the notebook's key folder, outside the project.
    keys = list((folder / "keys").glob("*.deid-key.csv"))
    assert len(keys) == 1
    assert not list(project.rglob("*key*"))
    assert "Denise Yamamoto" in set(pd.read_csv(keys[0])["original"])


def check_assisted_coding(folder: Path) -> None:
    with Store.open(folder / "tutorial_02") as store:
        reviewed = store.suggestions_df()
        codings = store.codings_df(coders=["maria"])
        all_codings = store.codings_df()
        history = store.history_df()
        backups = store.backups_df()
    accepted = reviewed[reviewed["status"] == "accepted"]
    assert len(accepted) >= 1
    assert set(accepted["reviewer"]) == {"maria"}
    assert (reviewed["status"] == "rejected").sum() == 1
    from_suggestions = codings[codings["origin"].str.startswith("suggestion:")]
    assert set(from_suggestions["excerpt_id"]) == set(accepted["excerpt_id"])
    # The active-learning round's codes were imported as maria's.
    assert {"COLLAB_DEPTH", "REFERRALS_CASES"} <= set(
        codings[codings["excerpt_id"] == "P11-086dcf4b38"]["code"]
    )
    # Coding the search hits and merging two codes were each one operation, undone.
    operations = history.set_index("command")
    for command in ("search code", "code merge"):
        assert (history["command"] == command).sum() == 1
        undone_by = operations.loc[command, "undone_by"]
        assert pd.notna(undone_by)
        assert history.set_index("operation").loc[int(undone_by), "command"] == "undo"
    assert "BAD_DATE_LIST (coder maria)" in operations.loc["search code", "summary"]
    assert "HOUSING_GAP, YOUTH_AFTER_HOURS into NEEDS" in operations.loc["code merge", "summary"]
    # The undo brought the merged codes back, with their codings.
    assert {"HOUSING_GAP", "YOUTH_AFTER_HOURS"} <= set(all_codings["code"])
    assert not (all_codings["origin"] == "search").any()
    assert {"before code merge", "before undo"} <= set(backups["reason"])


def check_consensus(folder: Path) -> None:
    sheet = pd.read_excel(folder / "consensus_meeting.xlsx", dtype=str).fillna("")
    assert {"excerpt_id", "codes: maria", "codes: jamal", "consensus"} <= set(sheet.columns)
    decided = sheet[sheet["consensus"] != ""]
    assert len(decided) == 4
    with Store.open(folder / "tutorial_03") as store:
        consensus = store.codings_df(coders=["consensus"])
    assert set(consensus["excerpt_id"]) == set(decided["excerpt_id"])


def check_report(folder: Path) -> None:
    report = docx.Document(folder / "report.docx")
    headings = [p.text for p in report.paragraphs if p.style.name == "Heading 1"]
    assert "Triangulation across source kinds" in headings
    # The memos written in the notebook close the report as an appendix.
    assert headings[-1] == "Appendix: analytic memos"
    text = "\n".join(p.text for p in report.paragraphs)
    assert "Shelter beds" in text and "on code HOUSING_GAP" in text
    assert "Before the CAB meeting" in text and "on the project" in text
    packet = docx.Document(folder / "cab_packet.docx")
    assert packet.tables
    assert (folder / "matrix.xlsx").stat().st_size > 0
    with Store.open(folder / "tutorial_04") as store:
        audit = store.audit_df()
        made = audit[audit["action"] == "packet.create"]
        assert len(made) == 1 and made["actor"].iloc[0] == "maria"
        recorded = store.packet(made["entity_id"].iloc[0])
        memos = store.memos_df()
    assert recorded["reviewer"] == "Ana R."
    assert recorded["selection"]["status"] == "accepted"
    assert recorded["items"]
    assert list(memos["target_kind"]) == ["code", "project"]
    assert memos["target"].iloc[0] == "HOUSING_GAP"
    assert set(memos["author"]) == {"maria"}


CHECKS: dict[str, Callable[[Path], None]] = {
    "01_ingest_and_deidentify.ipynb": check_ingest,
    "02_codebook_and_assisted_coding.ipynb": check_assisted_coding,
    "03_agreement_and_consensus.ipynb": check_consensus,
    "04_rapid_appraisal_report.ipynb": check_report,
}


@pytest.fixture(scope="module")
def executed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, nbformat.NotebookNode, BaseException | None]]:
    """The selected tutorials, executed at the same time, each top to bottom in a fresh
    kernel of its own and a folder of its own: {name: (folder, notebook, error)}.

    One after another, most of each notebook's time goes to starting its kernel and
    importing; side by side they share the machine's cores. Each test below still checks
    its own notebook, so one failing notebook fails one test.
    """
    selected = {
        item.callspec.params["path"].name
        for item in request.session.items
        if isinstance(item, pytest.Function) and item.originalname == "test_notebook_runs"
    }
    runs = []
    for path in NOTEBOOKS:
        if path.name in selected:
            folder = tmp_path_factory.mktemp(path.stem)
            runs.append((path, folder, nbformat.read(path, as_version=4)))

    async def execute(path: Path, folder: Path, notebook: nbformat.NotebookNode):
        client = NotebookClient(
            notebook,
            kernel_name="python3",
            timeout=600,
            resources={"metadata": {"path": str(folder)}},
        )
        try:
            await client.async_execute()  # raises CellExecutionError if any cell fails
        except Exception as error:  # raised again by this notebook's own test
            return error
        finally:
            nbformat.write(notebook, folder / path.name)
        return None

    async def execute_all() -> list[BaseException | None]:
        return await asyncio.gather(*(execute(*run) for run in runs))

    errors = asyncio.run(execute_all())
    return {
        path.name: (folder, notebook, error)
        for (path, folder, notebook), error in zip(runs, errors, strict=True)
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, executed: dict) -> None:
    folder, notebook, error = executed[path.name]
    if error is not None:
        raise error
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    CHECKS[path.name](folder)
