"""Bounded YAML (evalkit.util.yamlsafe) and linear-time user patterns (evalkit.util.patterns).

Every input here once gave a traceback, a hang, or gigabytes of memory (issue #16).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import store_snapshot

from evalkit.codebook import check_codebook
from evalkit.coding.rules import match_rules
from evalkit.errors import CodebookError, EvalkitError, InputFileError
from evalkit.ingest import read_file
from evalkit.model import Code, Codebook
from evalkit.project import ingest
from evalkit.search import search
from evalkit.store import Store
from evalkit.util.patterns import MAX_PATTERN_MEMORY, compile_user_pattern
from evalkit.util.yamlsafe import MAX_YAML_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES, load_yaml


def laughs(levels: int, width: int = 9) -> str:
    """A "billion laughs" YAML: each anchor is a list of ``width`` aliases of the one before,
    so the last stands for ``width ** levels`` strings."""
    lines = ["l0: &l0 [" + ", ".join(['"lol"'] * width) + "]"]
    for n in range(1, levels):
        lines.append(f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


# Six levels of nine: 531,441 strings, over the bound, yet small enough that the code before
# the bound finished (in seconds) instead of hanging, so these tests could fail on it.
LAUGHS = laughs(6)


def codebook_text(patterns: list[str], head: str = "") -> str:
    quoted = ", ".join("'" + p.replace("'", "''") + "'" for p in patterns)
    return (
        f"{head}title: Patterns\ncodes:\n  - name: PLAIN\n    definition: Plain words.\n"
        f"    examples: [a]\n    rules:\n      patterns: [{quoted}]\n"
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def note(tmp_path: Path, header: str, name: str = "note.md") -> Path:
    return write(tmp_path / "in" / name, f"---\n{header}---\n\nThe pocket card came out.\n")


# -- YAML: aliases, recursion, nesting, size ------------------------------------------------


def test_billion_laughs_codebook_is_refused_by_validate(tmp_path: Path, cli) -> None:
    book = write(
        tmp_path / "cb.yaml", LAUGHS + "title: x\ncodes:\n  - name: A\n    examples: *l5\n"
    )
    assert book.stat().st_size < 1024
    result = cli("codebook", "validate", str(book))
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    # The alias that alone passes the bound: *l5 (l4 stands for 66,430 values).
    assert line.startswith(f"evalkit: error: {book} line 10: the alias '*l5' expands to more")
    assert f"MAX_YAML_NODES = {MAX_YAML_NODES:,}" in line


def test_a_real_billion_laughs_costs_no_more_than_reading_it() -> None:
    text = laughs(10, width=10)  # 10**10 strings in about 800 bytes
    # *l4 is the first alias over the bound (111,111 values), first used on line 6.
    with pytest.raises(InputFileError, match=r"f\.yaml line 6: the alias '\*l4' expands"):
        load_yaml(text, path="f.yaml", error=InputFileError)


def test_aliases_within_the_bound_still_work() -> None:
    data = load_yaml(laughs(3), path="f.yaml", error=EvalkitError)
    assert data["l2"] == [[["lol"] * 9] * 9] * 9


def test_billion_laughs_front_matter_leaves_the_store_unchanged(
    project: Store, interview_file: Path, tmp_path: Path
) -> None:
    ingest(project, [interview_file], kind="interview")
    before = store_snapshot(project)
    good = note(tmp_path, "date: 2024-01-17\n", "good.md")
    bad = note(tmp_path, LAUGHS + "everyone: *l5\n", "bad.md")
    with pytest.raises(InputFileError) as caught:
        ingest(project, [good, bad], kind="observation")
    message = str(caught.value)
    # Line 1 is the opening '---', so the YAML's seventh line is the file's eighth.
    assert message.startswith(f"{bad} line 8: the alias '*l5' expands to more than")
    assert f"MAX_YAML_NODES = {MAX_YAML_NODES:,}" in message and "\n" not in message
    assert store_snapshot(project) == before


@pytest.mark.parametrize(
    ("header", "line", "anchored"),
    [("loop: &a {x: *a}\n", 3, 3), ("a: &a\n  - *a\n", 4, 3)],
)
def test_recursive_front_matter_names_the_alias(
    tmp_path: Path, header: str, line: int, anchored: int
) -> None:
    path = note(tmp_path, "date: 2024-01-17\n" + header)
    with pytest.raises(
        InputFileError,
        match=rf"note\.md line {line}: the alias '\*a' is inside the node it refers to "
        rf"\(anchored on line {anchored}\)",
    ):
        read_file(path)


def test_recursive_codebook_is_a_codebook_error(tmp_path: Path) -> None:
    book = write(tmp_path / "cb.yaml", "title: &t {again: *t}\ncodes: []\n")
    with pytest.raises(CodebookError, match=r"cb\.yaml line 1: the alias '\*t' is inside"):
        check_codebook(book)


def test_nesting_and_size_have_bounds(tmp_path: Path) -> None:
    deep = "[" * (MAX_YAML_DEPTH + 1) + "]" * (MAX_YAML_DEPTH + 1)
    with pytest.raises(InputFileError, match=rf"line 2: .* MAX_YAML_DEPTH = {MAX_YAML_DEPTH}"):
        read_file(note(tmp_path, f"deep: {deep}\n"))
    # Nesting as deep as the bound allows is fine: the value is there.
    assert load_yaml("[" * 99 + "]" * 99, path="f", error=EvalkitError) is not None
    book = write(tmp_path / "big.yaml", "title: x\ncodes: []\n#" + "x" * MAX_YAML_BYTES + "\n")
    with pytest.raises(CodebookError, match=f"larger than MAX_YAML_BYTES = {MAX_YAML_BYTES:,}"):
        check_codebook(book)


def test_plain_documents_over_the_node_bound_are_refused() -> None:
    text = "[" + "1," * MAX_YAML_NODES + "]"
    with pytest.raises(EvalkitError, match=f"has more than MAX_YAML_NODES = {MAX_YAML_NODES:,}"):
        load_yaml(text, path="f", error=EvalkitError)


# -- YAML: dates -----------------------------------------------------------------------------


def test_impossible_front_matter_date_names_file_line_and_date(
    project: Store, tmp_path: Path
) -> None:
    path = note(tmp_path, "meeting: General\ndate: 2024-02-30\n")
    with pytest.raises(InputFileError) as caught:
        ingest(project, [path], kind="observation")
    message = str(caught.value)
    assert message.startswith(f"{path} line 3: '2024-02-30' is not a real date")
    assert "Write a date that exists" in message
    assert project.sources() == []


def test_impossible_codebook_date(tmp_path: Path) -> None:
    book = write(tmp_path / "cb.yaml", "title: x\ndate: 2023-13-01\ncodes: []\n")
    with pytest.raises(CodebookError, match=r"cb\.yaml line 2: '2023-13-01' is not a real date"):
        check_codebook(book)


def test_real_front_matter_dates_keep_their_values(project: Store, tmp_path: Path) -> None:
    path = note(
        tmp_path,
        "date: 2024-02-29\nrecorded: 2024-02-29 18:30:00\nwritten: '2024-02-30'\n",
    )
    [item] = read_file(path)
    assert str(item.meta["date"]) == "2024-02-29"  # a date, as YAML has always given
    ingest(project, [path], kind="observation")
    [source] = project.sources()
    assert source.attributes["date"] == "2024-02-29"
    assert source.attributes["recorded"] == "2024-02-29"  # a timestamp, as its date
    assert source.attributes["written"] == "2024-02-30"  # quoted: text, kept as written


# -- patterns: RE2 -----------------------------------------------------------------------------

CATASTROPHIC = r"^(\w+\s?)*$"


def test_catastrophic_pattern_codebook_suggests_in_linear_time(tmp_path: Path, cli) -> None:
    # Lower case, since a short capitalised line without punctuation is read as a heading.
    texts = {
        "plain": "housing is the gap always housing",
        "also_plain": "data sharing between agencies is thin",
        # Python's re needs about 2**60 steps to decide that this does not match.
        "punctuated": "The pocket card is in my wallet and the bulletin came with it in 2019!",
    }
    notes = tmp_path / "notes"
    for name, text in texts.items():
        write(notes / f"{name}.txt", text)
    project = tmp_path / "proj"
    cli("init", str(project))
    assert cli("ingest", str(notes), "-p", str(project), "-k", "observation").returncode == 0
    book = write(tmp_path / "cb.yaml", codebook_text([CATASTROPHIC]))
    assert cli("codebook", "validate", str(book)).returncode == 0
    assert cli("codebook", "load", str(book), "-p", str(project)).returncode == 0
    ran = cli("suggest", "run", "-p", str(project), "--format", "json")
    assert ran.returncode == 0, ran.stderr
    listed = json.loads(cli("suggest", "list", "-p", str(project), "--format", "json").stdout)
    with Store.open(project) as store:
        frame = store.excerpts_df()
    text_of = dict(zip(frame["excerpt_id"], frame["text"], strict=True))
    suggested = {text_of[s["excerpt_id"]] for s in listed if s["code"] == "PLAIN"}
    # What Python's re says for the texts it can decide (it matches the plain ones at once).
    plain = {t for t in texts.values() if "!" not in t}
    assert all(re.search(CATASTROPHIC, t) for t in plain)
    assert suggested == plain


def test_rule_patterns_match_as_python_re_does_on_ordinary_text() -> None:
    patterns = [r"(?i)\bno (federal )?(funding|money|budget)\b", r"\b[TU][- ]visas?\b", "x+y"]
    codebook = Codebook("t", (Code("FUNDING", patterns=tuple(patterns)),))
    texts = [
        "There was no federal funding, and no money for U-visas or T visas.",
        "No budget. xxxy and xy.",
        "Nothing here.",
    ]
    hits = match_rules(texts, codebook)
    for text, found in zip(texts, hits, strict=True):
        expected = sorted(
            (m.start(), m.end()) for p in patterns for m in re.finditer(p, text, re.IGNORECASE)
        )
        assert sorted((h.start, h.end) for h in found) == expected
        assert all(text[h.start : h.end] == h.term for h in found)
    assert len(hits[0]) == 4


def test_rule_offsets_on_emoji_text_are_code_points() -> None:
    codebook = Codebook(
        "t",
        (
            Code(
                "PSSW",
                patterns=(r"\bPSSW\b", r"caf[eé]s?"),
            ),
        ),
    )
    text = "😀🎉 The PSSW card, and cafés 🌮 too."
    hits = match_rules([text], codebook)[0]
    assert [(text[h.start : h.end], h.start) for h in hits] == [("PSSW", 7), ("cafés", 22)]


def test_an_unsupported_stored_pattern_is_one_line_not_a_traceback() -> None:
    codebook = Codebook("t", (Code("SAFE", patterns=(r"(?<!not )safe",)),))
    with pytest.raises(EvalkitError, match=r"code 'SAFE' pattern '\(\?<!not \)safe' uses look"):
        match_rules(["safe"], codebook)


def test_validate_reports_what_re2_lacks_with_code_and_line(tmp_path: Path, cli) -> None:
    book = write(tmp_path / "cb.yaml", codebook_text([r"(?<!not )safe", r"(\w)\1", r"\bok\b"]))
    result = cli("codebook", "validate", str(book))
    assert result.returncode == 2
    errors = [line for line in result.stdout.splitlines() if "error" in line]
    assert len(errors) == 2
    assert "line 7: code 'PLAIN' pattern '(?<!not )safe' uses look-behind" in errors[0]
    assert "RE2 has no look-behind" in errors[0] and "`exclude`" in errors[0]
    assert "pattern '(\\w)\\1' uses a backreference (\\1)" in errors[1]


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        (r"(?=x)y", "uses look-ahead"),
        (r"a++", r"uses a possessive quantifier \(\+\+\)"),
        (r"(?>ab)", "uses an atomic group"),
        (r"(?P<w>a)(?P=w)", "uses a backreference"),
        (r"\pL{1000}", f"needs more than MAX_PATTERN_MEMORY = {MAX_PATTERN_MEMORY:,} bytes"),
        (r"(a{1000}){1000}", "repeats more than RE2's limit of 1,000"),
        (r"(unclosed", r"is not a valid regular expression \(missing \)"),
    ],
)
def test_pattern_errors_are_clear_and_quiet(pattern: str, says: str, capfd) -> None:
    with pytest.raises(EvalkitError, match=rf"^the search pattern '.*' {says}"):
        compile_user_pattern(pattern, where="the search")
    assert capfd.readouterr().err == ""  # RE2 logs nothing of its own


def test_catastrophic_regex_search_finds_its_hits(project: Store, tmp_path: Path) -> None:
    body = "😀 " + "x" * 60 + " then xxy, and 🎉 xy."  # re: ~2**60 steps at the first 'x'
    ingest(project, [write(tmp_path / "in" / "note.txt", body)], kind="observation")
    hits = search(project, r"(x+x+)+y", mode="regex")
    [source] = project.sources()
    assert list(hits["match"]) == ["xxy"]
    [hit] = hits.itertuples()
    assert source.text[hit.start : hit.end] == "xxy"
    assert hit.start == source.text.index("xxy")


def test_regex_search_offsets_on_emoji_text(project: Store, tmp_path: Path) -> None:
    body = "🌮🌮 We ate tacos. 😀 Cafés were closed; the cafe reopened."
    ingest(project, [write(tmp_path / "in" / "note.txt", body)], kind="observation")
    hits = search(project, r"caf[eé]s?", mode="regex")
    [source] = project.sources()
    assert list(hits["match"]) == ["Cafés", "cafe"]
    assert [source.text[h.start : h.end] for h in hits.itertuples()] == ["Cafés", "cafe"]
    with pytest.raises(EvalkitError, match="the search pattern '.*' uses look-behind"):
        search(project, r"(?<=ate )tacos", mode="regex")


def test_word_and_digit_classes_are_unicode_as_in_python() -> None:
    from evalkit.util.patterns import compile_user_pattern

    assert compile_user_pattern(r"caf\w", where="t").search("un café noir").group() == "café"
    assert compile_user_pattern(r"\d+", where="t").search("año ١٢٣").group() == "١٢٣"
    assert compile_user_pattern(r"[\w-]+", where="t").search("¡Niñas-mayores!").group() == (
        "Niñas-mayores"
    )
    assert compile_user_pattern(r"\W+", where="t").search("José, ¿y tú?").group() == ", ¿"
    assert compile_user_pattern(r"[]x]+", where="t").search("a]x]b").group() == "]x]"
    assert compile_user_pattern(r"\\w", where="t").search(r"a\wb").group() == r"\w"
