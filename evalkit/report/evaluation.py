"""The Word evaluation report: methods, findings per theme with traceable quotes, tensions,
triangulation, emergent themes, limitations and the codebook.

Every number comes from the project. Quotes are verbatim slices of the source text, each
followed by its excerpt ID, so a reader can trace it back. The same project and seed give
the same report.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from typing import Any

import pandas as pd
from docx import Document
from docx.document import Document as DocumentType
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from evalkit import analysis
from evalkit.agreement import code_agreement
from evalkit.codebook import require_codebook
from evalkit.codebook.word import set_widths
from evalkit.coding.gate import GATE_SETTING, parse_gate
from evalkit.embedding import DEFAULT_MODEL_ID, DEFAULT_MODEL_SHA256
from evalkit.errors import EvalkitError
from evalkit.model import Codebook
from evalkit.report.overview import KIND_TITLES

SECTOR_LABELS = {
    "city_department": "City departments",
    "law_enforcement": "Law enforcement",
    "youth_serving": "Youth-serving organisations",
    "immigrant_legal": "Immigrant and legal-aid organisations",
    "sex_worker_led": "Sex-worker-led organisations",
    "survivor_led": "Survivor-led organisations",
    "faith_civic": "Faith and civic groups",
}


def sector_label(sector: Any) -> str:
    if not isinstance(sector, str) or not sector:
        return "no sector recorded"
    return SECTOR_LABELS.get(sector, sector.replace("_", " "))


def evaluation_report(
    store,
    *,
    title: str = "Evaluation of the Task Force: rapid appraisal findings",
    seed: int = 0,
    memos: bool = False,
) -> DocumentType:
    """Build the evaluation report from a coded project.

    With ``memos``, the team's analytic memos close the report as a second appendix.

    Raises
    ------
    EvalkitError
        With no codebook, no codings, or interview sources without a sector; each
        message names the step to run first.
    """
    codebook = require_codebook(store, purpose="there is nothing to report on")
    applied = analysis.applied_codes(store, codebook)
    sources = store.sources_df()
    # Computed first: without sectors it fails here, naming the fix, before any writing.
    by_sector = analysis.code_by_sector(applied, sources)
    stats = store.stats()
    facts = _facts(store, codebook, applied, sources, stats)

    document = Document()
    _styles(document)
    _title_page(document, title, facts)
    _toc(document)
    _summary(document, facts)
    _methods(document, facts)
    _findings(document, codebook, applied, by_sector, facts)
    _tensions(document, applied, sources, codebook)
    _triangulation(document, applied, codebook)
    _emergent(document, store, seed)
    _limitations(document, facts)
    _appendix(document, codebook)
    if memos:
        _memos(document, store.memos_df())
    _page_numbers(document)
    return document


# -- the numbers -------------------------------------------------------------------------------


def _facts(store, codebook: Codebook, applied, sources, stats) -> dict[str, Any]:
    codings = store.codings_df()
    human = codings[~codings["origin"].str.startswith("suggestion:")]
    coders = sorted(human["coder"].unique())
    double = human.groupby("excerpt_id")["coder"].nunique()
    agreement = None
    pairable = [c for c in coders if c != "consensus"]
    if len(pairable) >= 2 and (double >= 2).any():
        agreement = code_agreement(
            human[human["coder"].isin(pairable)].rename(columns={"excerpt_id": "unit"}),
            codes=sorted(c for c in set(human["code"].dropna())),
        )
    coded = applied["excerpt_id"].nunique()
    accepted = codings[codings["origin"].str.startswith("suggestion:")]
    return {
        "stats": stats,
        "codebook": codebook,
        "coders": coders,
        "double_coded": int((double >= 2).sum()),
        "coded_excerpts": coded,
        "accepted_suggestions": len(accepted),
        "suggestion_models": _suggestion_models(store),
        "gate": parse_gate(store.setting(GATE_SETTING)),
        "agreement": agreement,
        "frequencies": analysis.code_frequencies(applied, by="kind"),
        "interviews": sources[sources["kind"] == "interview"],
        "date": dt.date.today().strftime("%d %B %Y"),
    }


def _suggestion_models(store) -> list[str]:
    """The model versions behind the suggestions people accepted (a run mixing coders
    records them joined by "; ")."""
    accepted = store.suggestions_df(status="accepted")
    versions = {v.strip() for joined in accepted["model_version"] for v in str(joined).split(";")}
    return sorted(v for v in versions if v)


def _assistance(facts: dict) -> str:
    """What the machine suggestions were made with, for the methods section."""
    parts = []
    models = facts["suggestion_models"]
    if any(DEFAULT_MODEL_ID in m for m in models):
        parts.append(
            "Suggestions came from a classifier trained on the team's own coding (word and "
            "character TF-IDF, the codebook's rules, and sentence embeddings from "
            "all-MiniLM-L6-v2 run on this computer, its model file checked against sha256 "
            f"{DEFAULT_MODEL_SHA256[:12]}…)."
        )
    gate = facts["gate"]
    if gate is not None:
        enabled = ", ".join(gate.enabled) or "none"
        parts.append(
            f"A local language model ({gate.model}) was measured like a human coder: "
            f"{gate.folds}-fold cross-validation against {gate.coder} on {gate.n_units} coded "
            f"excerpts. It was allowed to suggest only the codes where its Cohen's κ reached "
            f"{gate.threshold:.2f}: {enabled}."
        )
    return " ".join(parts)


# -- document furniture ------------------------------------------------------------------------


def _styles(document: DocumentType) -> None:
    normal = document.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(11)
    section = document.sections[0]
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(2.2))


def _title_page(document: DocumentType, title: str, facts: dict) -> None:
    for _ in range(6):
        document.add_paragraph()
    heading = document.add_paragraph(title, style="Title")
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    stats = facts["stats"]
    sub = document.add_paragraph(
        f"A community-based participatory evaluation using rapid appraisal: "
        f"{stats['by_kind'].get('interview', {}).get('sources', 0)} key-informant interviews, "
        f"{stats['by_kind'].get('observation', {}).get('sources', 0)} meeting observations and "
        f"{stats['by_kind'].get('document', {}).get('sources', 0)} historical documents."
    )
    sub.alignment = WD_ALIGN_PARAGRAPH.CENTER
    when = document.add_paragraph(f"Prepared with evalkit, {facts['date']}")
    when.alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def _field(paragraph, instruction: str) -> None:
    """A Word field (TOC, PAGE); Word fills it in when the document is opened."""
    run = paragraph.add_run()
    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    code = OxmlElement("w:instrText")
    code.set(qn("xml:space"), "preserve")
    code.text = instruction
    separate = OxmlElement("w:fldChar")
    separate.set(qn("w:fldCharType"), "separate")
    placeholder = OxmlElement("w:t")
    placeholder.text = "1" if instruction.strip().startswith("PAGE") else "Right-click to update"
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    for element in (begin, code, separate, placeholder, end):
        run._r.append(element)


def _toc(document: DocumentType) -> None:
    document.add_heading("Contents", level=1)
    _field(document.add_paragraph(), 'TOC \\o "1-2" \\h \\z \\u')
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def _page_numbers(document: DocumentType) -> None:
    # Later sections' footers are linked to the first one, so it is numbered once.
    paragraph = document.sections[0].footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run("Page ")
    _field(paragraph, "PAGE")


def _table(document: DocumentType, frame: pd.DataFrame, widths_cm: list[float] | None = None):
    table = document.add_table(rows=1, cols=len(frame.columns))
    table.style = "Light Grid Accent 1"
    for cell, column in zip(table.rows[0].cells, frame.columns, strict=True):
        cell.text = str(column)
    for _, row in frame.iterrows():
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = _show(value)
    if widths_cm:
        set_widths(table, widths_cm)
    return table


def _show(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _caption(document: DocumentType, text: str) -> None:
    document.add_paragraph(text, style="Caption")


def _quote(document: DocumentType, quote: pd.Series) -> None:
    """A block quote, verbatim, attributed by pseudonym and sector, then its excerpt ID."""
    if quote["kind"] == "interview":
        attribution = f"{quote['participant']}, {sector_label(quote['sector'])}"
    else:
        attribution = f"{quote['kind']} {quote['source_id']}"
    paragraph = document.add_paragraph(style="Quote")
    paragraph.add_run(f"“{quote['quote']}”")
    paragraph.add_run(f" — {attribution} [{quote['excerpt_id']}]")


# -- sections ------------------------------------------------------------------------------------


def _summary(document: DocumentType, facts: dict) -> None:
    document.add_heading("Executive summary", level=1)
    stats, freq = facts["stats"], facts["frequencies"]
    themes = [c.name for c in facts["codebook"].children(None)]
    ranked = freq.loc[[t for t in freq.index if t in themes]].sort_values(
        "excerpts", ascending=False
    )
    top = ", ".join(
        f"{_pretty(t)} ({int(r['excerpts'])} excerpts)" for t, r in ranked.head(3).iterrows()
    )
    document.add_paragraph(
        f"This report draws on {stats['sources']} sources ({stats['words']:,} words), cut into "
        f"{stats['excerpts']} excerpts, of which {facts['coded_excerpts']} were coded by the team "
        f"with the codebook “{facts['codebook'].title}” (version {facts['codebook'].version}). "
        f"The themes with the most coded evidence were {top}."
    )
    agreement = facts["agreement"]
    if agreement is not None:
        document.add_paragraph(
            f"{facts['double_coded']} excerpts were coded independently by "
            f"{' and '.join(agreement.coders)}; pooled agreement was κ = "
            f"{agreement.overall['cohen_kappa']:.2f} (Krippendorff's α = "
            f"{agreement.overall['krippendorff_alpha']:.2f}), and the mean κ across codes "
            f"{agreement.overall['mean_kappa']:.2f}."
        )


def _pretty(code: str) -> str:
    return code.replace("_", " ").title().replace("Tf ", "Task force ")


def _methods(document: DocumentType, facts: dict) -> None:
    document.add_heading("Methods", level=1)
    document.add_paragraph(
        "The evaluation used rapid appraisal: it triangulates what historical documents, "
        "evaluators' observations of task force meetings and key-informant interviews say "
        "about each theme. Transcripts and documents were cut into excerpts (speaker turns "
        "for interviews, paragraphs otherwise) and coded with a shared codebook. All "
        "processing ran locally; no text left the evaluation team's computers."
    )
    rows = [
        (KIND_TITLES.get(kind, kind), counts["sources"], counts["excerpts"], f"{counts['words']:,}")
        for kind, counts in facts["stats"]["by_kind"].items()
    ]
    _table(document, pd.DataFrame(rows, columns=["Source kind", "Sources", "Excerpts", "Words"]))
    _caption(document, "Table 1. Sources by kind.")
    coders = [c for c in facts["coders"]]
    document.add_paragraph(
        f"Coders: {', '.join(coders)}. {facts['double_coded']} excerpts were double-coded to "
        f"measure agreement. {facts['accepted_suggestions']} machine suggestions were accepted "
        "by a named reviewer after reading; suggestions never count until a person accepts them. "
        + _assistance(facts)
    )
    agreement = facts["agreement"]
    if agreement is not None:
        table = agreement.table()
        table = table[table["code"].str.startswith("(") | (table["prevalence"] >= 0.05)]
        shown = table[
            ["code", "n_units", "prevalence", "percent_agreement", "cohen_kappa", "gwet_ac1"]
        ]
        shown.columns = ["Code", "Units", "Prevalence", "% agreement", "Cohen's κ", "Gwet's AC1"]
        _table(document, shown, [5.2, 1.6, 2.1, 2.4, 2.1, 2.2])
        _caption(
            document,
            "Table 2. Inter-coder agreement for codes applied to at least 5% of double-coded "
            "excerpts, with the pooled value and the mean over all codes.",
        )
    document.add_paragraph("Triangulation rule. " + analysis.TRIANGULATION_RULE)


def _chart(values: pd.Series, title: str) -> io.BytesIO:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [sector_label(s) for s in values.index]
    figure, axis = plt.subplots(figsize=(6.0, 0.45 * len(values) + 1.0), dpi=200)
    axis.barh(labels, values.to_numpy() * 100, color="#1F77B4")
    axis.set_xlim(0, 100)
    axis.set_xlabel("% of the sector's interview participants")
    axis.set_title(title, fontsize=10)
    axis.invert_yaxis()
    for spine in ("top", "right"):
        axis.spines[spine].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=200)
    plt.close(figure)
    buffer.seek(0)
    return buffer


def _findings(document, codebook: Codebook, applied, by_sector, facts) -> None:
    document.add_heading("Findings by theme", level=1)
    freq = facts["frequencies"]
    figure_number = 0
    quoted: set[str] = set()  # each excerpt is quoted once in the findings
    for theme in codebook.children(None):
        document.add_heading(f"{_pretty(theme.name)}", level=2)
        document.add_paragraph(theme.definition or theme.brief)
        children = [c.name for c in codebook.children(theme.name) if c.name in freq.index]
        if children:
            rows = [
                (_pretty(c), int(freq.loc[c, "excerpts"]), int(freq.loc[c, "sources"]))
                for c in children
            ]
            _table(
                document,
                pd.DataFrame(rows, columns=["Code", "Excerpts", "Sources"]),
                [8.0, 3.0, 3.0],
            )
        if theme.name in by_sector.index:
            figure_number += 1
            document.add_picture(
                _chart(by_sector.loc[theme.name], _pretty(theme.name)), width=Cm(14)
            )
            _caption(
                document,
                f"Figure {figure_number}. Share of interview participants in each sector who "
                f"raised {_pretty(theme.name).lower()}.",
            )
        quotes = analysis.representative_quotes(
            applied, theme.name, n=3, max_chars=350, exclude=quoted
        )
        for _, quote in quotes.iterrows():
            _quote(document, quote)
            quoted.add(quote["excerpt_id"])


def _tensions(document, applied, sources, codebook: Codebook) -> None:
    document.add_heading("Tensions between stakeholder groups", level=1)
    table = analysis.sector_tensions(applied, sources)
    strong = table[table["q"] < 0.1].head(8)
    document.add_paragraph(
        "Codes whose share of interview excerpts differs between one sector and the others "
        "(Fisher's exact test, Benjamini–Hochberg q < 0.10). Excerpts from one interview "
        "are not independent, so these are screening results."
    )
    if strong.empty:
        document.add_paragraph("No code differed between sectors at q < 0.10.")
    else:
        shown = strong.assign(
            code=strong["code"].map(_pretty),
            sector=strong["sector"].map(sector_label),
        )[["code", "sector", "prevalence_sector", "prevalence_rest", "odds_ratio", "q"]]
        shown.columns = ["Code", "Sector", "Share in sector", "Share elsewhere", "Odds ratio", "q"]
        _table(document, shown, [4.0, 4.4, 2.2, 2.2, 2.0, 1.8])
        _caption(document, "Table 3. Codes that differ most between sectors.")
    document.add_paragraph(
        "Where the codebook marks a code as a tension, the quotes below set voices from "
        "different sectors side by side."
    )
    for code in [c for c in codebook.codes if c.tension and c.parent]:
        quotes = analysis.representative_quotes(applied, code.name, n=6, max_chars=300)
        quotes = quotes[quotes["kind"] == "interview"].drop_duplicates("sector").head(2)
        if len(quotes) < 2:
            continue
        document.add_heading(_pretty(code.name), level=2)
        for _, quote in quotes.iterrows():
            _quote(document, quote)


def _triangulation(document, applied, codebook: Codebook) -> None:
    document.add_heading("Triangulation across source kinds", level=1)
    table = analysis.triangulation(applied, codebook)
    frame = table.reset_index().rename(columns={"index": "Theme"})
    frame["Theme"] = frame["Theme"].map(_pretty)
    frame.columns = ["Theme", "Documents", "Observations", "Interviews"]
    _table(document, frame, [5.5, 3.5, 3.5, 3.5])
    _caption(
        document, "Table 4. Evidence for each theme by source kind. " + analysis.TRIANGULATION_RULE
    )


def _emergent(document, store, seed: int) -> None:
    from evalkit.coding.themes import project_themes

    document.add_heading("Emergent themes", level=1)
    document.add_paragraph(
        "Themes found in the words of all participant excerpts without the codebook "
        "(non-negative matrix factorisation, fixed seed). They show where talk clusters, "
        "including topics the codebook does not name."
    )
    try:
        themes = project_themes(store, 6, seed=seed)
    except EvalkitError as error:
        document.add_paragraph(f"Not computed: {error}")
        return
    frame = themes.themes[["theme", "top_terms", "excerpts"]]
    frame.columns = ["Theme", "Top terms", "Excerpts"]
    _table(document, frame, [1.6, 12.0, 2.4])
    _caption(document, "Table 5. Emergent themes and their most characteristic terms.")


def _limitations(document, facts: dict) -> None:
    document.add_heading("Limitations", level=1)
    stats = facts["stats"]
    points = [
        f"Only {facts['coded_excerpts']} of {stats['excerpts']} excerpts were coded; findings "
        "describe the coded evidence, not every word in the corpus.",
        "Interviews reflect the people who agreed to speak; sectors with one or two "
        "participants are described by very few voices.",
        "Shares by sector count participants, not agencies, and differences between sectors "
        "are screening results, not tests of a hypothesis.",
        "Machine suggestions only entered the analysis after a named reviewer accepted them.",
    ]
    for point in points:
        document.add_paragraph(point, style="List Bullet")


def _appendix(document, codebook: Codebook) -> None:
    section = document.add_section()
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = section.page_height, section.page_width
    document.add_heading("Appendix: the codebook", level=1)
    document.add_paragraph(f"{codebook.title}, version {codebook.version}.")
    rows = [
        (
            c.name.replace("_", "_\u200b"),
            (c.parent or "").replace("_", "_\u200b"),
            c.brief,
            c.when_to_use,
        )
        for c in codebook.codes
    ]
    frame = pd.DataFrame(rows, columns=["Code", "Theme", "Brief definition", "Use it when"])
    _table(document, frame, [4.5, 3.8, 6.0, 10.5])


def _memos(document, memos: pd.DataFrame) -> None:
    document.add_heading("Appendix: analytic memos", level=1)
    if memos.empty:
        document.add_paragraph("The team wrote no memos.")
        return
    for memo in memos.itertuples():
        document.add_heading(memo.title, level=2)
        about = (
            "the project"
            if memo.target_kind == "project"
            else (f"{memo.target_kind} {memo.target}")
        )
        byline = document.add_paragraph(f"{memo.author}, {memo.created_at[:10]}, on {about}.")
        byline.runs[0].italic = True
        for block in (b for b in memo.body.split("\n\n") if b.strip()):
            lines = block.strip().splitlines()
            if all(line.lstrip().startswith(("- ", "* ")) for line in lines):
                for line in lines:
                    _markdown_runs(document.add_paragraph(style="List Bullet"), line.lstrip()[2:])
            else:
                _markdown_runs(document.add_paragraph(), " ".join(block.split()))


def _markdown_runs(paragraph, text: str) -> None:
    """Memo text with Markdown **bold** and *italic* as Word formatting."""
    for part in re.split(r"(\*\*[^*]+\*\*|\*[^*]+\*)", text):
        if part.startswith("**") and part.endswith("**") and len(part) > 4:
            paragraph.add_run(part[2:-2]).bold = True
        elif part.startswith("*") and part.endswith("*") and len(part) > 2:
            paragraph.add_run(part[1:-1]).italic = True
        elif part:
            paragraph.add_run(part)
