"""The layers: faces -> workflow (evalkit.project) -> pure stages and the store.

Fails when a module below the workflow layer imports the store or a higher layer, or when
an import runs from a lower stage up to a higher one.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "evalkit"

# Each module's layer; a module may import only from its own layer or lower ones.
GROUND, STAGE, STORE, WORKFLOW, FACE = 0, 1, 1, 2, 3
FACES = ("evalkit.cli", "evalkit.demo", "evalkit.__main__")
# Stages in order: a stage may import the ones before it, never the ones after.
STAGES = (
    "evalkit.nlp",
    "evalkit.embedding",
    "evalkit.deid",
    "evalkit.segment",
    "evalkit.ingest",
    "evalkit.agreement",
    "evalkit.codebook",
    "evalkit.coding",
    "evalkit.interop",
    "evalkit.codings",
    "evalkit.search",
    "evalkit.summarize",
    "evalkit.analysis",
    "evalkit.report",
    "evalkit.cab",
)
GROUND_MODULES = ("evalkit.errors", "evalkit.model", "evalkit.fileio", "evalkit.util")
# Pure stages that must not even be handed a store (they take and return values). The
# REFI-QDA reader (evalkit.interop.refi.read_qdpx) is pure too, but the same module's
# export still reads a store it is handed, so it is checked by name below.
PURE = (
    "evalkit.embedding",
    "evalkit.ingest",
    "evalkit.deid",
    "evalkit.segment",
    "evalkit.agreement",
    "evalkit.coding.rules",
    "evalkit.coding.suggester",
    "evalkit.codebook.refi",
    "evalkit.summarize",
    "evalkit.util",
)


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return [(n, m) for n, m in found if m == "evalkit" or m.startswith("evalkit.")]


def _within(module: str, prefixes) -> str | None:
    return next((p for p in prefixes if module == p or module.startswith(p + ".")), None)


def _layer(module: str) -> int:
    if _within(module, FACES) or module == "evalkit":
        return FACE
    if _within(module, ("evalkit.project",)):
        return WORKFLOW
    if _within(module, ("evalkit.store",)):
        return STORE
    if _within(module, GROUND_MODULES):
        return GROUND
    return STAGE


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, _module(path)


def test_every_module_has_a_layer() -> None:
    for _, module in _modules():
        if _layer(module) == STAGE and not _within(module, ("evalkit.store",)):
            assert _within(module, STAGES), f"{module}: add it to STAGES in this test"


def test_no_import_points_up() -> None:
    problems = []
    for path, module in _modules():
        for line, target in _imports(path):
            if target == "evalkit":
                target = "evalkit.__init__"
            mine, theirs = _layer(module), _layer(target)
            if theirs > mine:
                problems.append(f"{module}:{line} imports {target} (a higher layer)")
            in_store = _within(target, ("evalkit.store",))
            if _within(module, ("evalkit.store",)) and _layer(target) == STAGE and not in_store:
                problems.append(f"{module}:{line}: the store imports the stage {target}")
            if mine == STAGE and not _within(module, ("evalkit.store",)) and in_store:
                problems.append(f"{module}:{line}: a stage imports the store ({target})")
            a, b = _within(module, STAGES), _within(target, STAGES)
            if a and b and a != b and STAGES.index(b) > STAGES.index(a):
                problems.append(f"{module}:{line} imports {target}, a later stage")
    assert problems == []


def test_pure_stages_are_never_handed_a_store() -> None:
    problems = []
    for path, module in _modules():
        if not _within(module, PURE):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names = [a.arg for a in node.args.args + node.args.kwonlyargs]
                if "store" in names:
                    problems.append(f"{module}.{node.name} takes a store")
    assert problems == []


def test_only_the_store_speaks_sql() -> None:
    problems = []
    for path, module in _modules():
        if _within(module, ("evalkit.store",)):
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("import sqlite3", ".connection", ".execute("):
            if needle in text:
                problems.append(f"{module}: {needle}")
    assert problems == []


def test_the_refi_reader_is_pure() -> None:
    import inspect

    from evalkit.interop import refi

    for name in ("read_qdpx", "selections_on", "merge_codebooks", "check_qdpx"):
        assert "store" not in inspect.signature(getattr(refi, name)).parameters, name


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """The import scanner sees an upward import where there is one."""
    bad = tmp_path / "bad.py"
    bad.write_text("from evalkit.store import Store\nimport evalkit.project\n", encoding="utf-8")
    assert [m for _, m in _imports(bad)] == ["evalkit.store", "evalkit.project"]
    assert _layer("evalkit.project.admit") > _layer("evalkit.deid.detect")
