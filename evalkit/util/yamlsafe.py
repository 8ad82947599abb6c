"""YAML from users' files, with bounds: codebooks and front matter.

``yaml.safe_load`` refuses to run code, but not to do unbounded work. Aliases let a 1 KB
document ("billion laughs") stand for billions of values, which every later stage that
walks the data (validation, flattening attributes) then expands; a recursive alias
(``&a {x: *a}``) makes a value that contains itself, which those stages recurse into until
Python gives up; and an impossible date (``2024-02-30``) makes PyYAML's timestamp
constructor raise ``ValueError`` instead of a YAML error.

:func:`load_yaml` composes the document first (composing is linear: an alias is a second
reference to the same node), measures what the node graph would expand to, and only then
constructs Python values, so refused documents cost no more than reading them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, SequenceNode

from evalkit.errors import EvalkitError

# The starter codebook (codebooks/sf_taskforce.yaml, 44 KB) is 1,067 nodes, 6 levels
# deep; the sample front matter 25 nodes. These leave room for a codebook 45 (bytes)
# to 90 (nodes) times the starter.
MAX_YAML_BYTES = 2_000_000
MAX_YAML_NODES = 100_000  # counted with every alias expanded
MAX_YAML_DEPTH = 100  # nesting of lists and mappings; the starter codebook needs 6

__all__ = ["MAX_YAML_BYTES", "MAX_YAML_DEPTH", "MAX_YAML_NODES", "BoundedLoader", "load_yaml"]


class _Refused(Exception):
    """A bound the document breaks, found while composing; :func:`load_yaml` words it."""

    def __init__(self, message: str, line: int | None, hint: str) -> None:
        super().__init__(message)
        self.message, self.line, self.hint = message, line, hint


class BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that limits nesting, remembers where each alias was written,
    and reports an impossible date with its line instead of raising ``ValueError``.

    Use it through :func:`load_yaml`, which also checks the expanded size; subclass it
    to add constructors (the codebook reader records line numbers this way).
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        # (parent node, referenced node, anchor name, 0-based line of the alias)
        self.aliases: list[tuple[Node | None, Node, str, int]] = []

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            node = super().compose_node(parent, index)
            self.aliases.append((parent, node, event.anchor, event.start_mark.line))
            return node
        self.depth += 1
        if self.depth > MAX_YAML_DEPTH:
            raise _Refused(
                f"lists and mappings are nested more than MAX_YAML_DEPTH = {MAX_YAML_DEPTH} "
                "levels deep",
                self.peek_event().start_mark.line,
                "Flatten the structure",
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:  # 2024-02-30: the pattern matches, the calendar does not
            raise _Refused(
                f"'{node.value}' is not a real date ({exc})",
                node.start_mark.line,
                "Write a date that exists, as YYYY-MM-DD (e.g. 2024-02-29); quote a value "
                "that is not meant as a date",
            ) from None


BoundedLoader.add_constructor("tag:yaml.org,2002:timestamp", BoundedLoader.construct_yaml_timestamp)


def load_yaml(
    text: str,
    *,
    path: str | Path,
    error: type[EvalkitError],
    loader: type[BoundedLoader] = BoundedLoader,
    first_line: int = 1,
) -> Any:
    """The value of one YAML document, refused (as ``error``) if it breaks a bound.

    Parameters
    ----------
    text
        The YAML document.
    path
        The file it came from, named in errors.
    error
        The reader's error class, raised for a document over a bound, a recursive alias
        or an impossible date. Syntax errors stay ``yaml.YAMLError`` for the reader to
        word, as before.
    loader
        :class:`BoundedLoader` or a subclass of it.
    first_line
        The file's line number of the text's first line (front matter starts on line 2).

    Returns
    -------
    Any
        What ``yaml.safe_load`` would return; ``None`` for an empty document.

    Raises
    ------
    EvalkitError
        ``error``: over ``MAX_YAML_BYTES``, ``MAX_YAML_DEPTH`` or ``MAX_YAML_NODES``, a
        recursive alias, or a date that does not exist.
    yaml.YAMLError
        The text is not valid YAML.

    Examples
    --------
    >>> load_yaml("a: &x [1, 2]\\nb: *x\\n", path="f.yaml", error=EvalkitError)
    {'a': [1, 2], 'b': [1, 2]}
    >>> recursive = "a: &x {b: *x}\\n"
    >>> load_yaml(recursive, path="f.yaml", error=EvalkitError)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evalkit.errors.EvalkitError: f.yaml line 1: the alias '*x' is inside the node it refers to...
    """
    # A character is at least one byte: only text near the bound needs encoding to count.
    if len(text) > MAX_YAML_BYTES or len(text.encode("utf-8")) > MAX_YAML_BYTES:
        raise error(
            f"the YAML is larger than MAX_YAML_BYTES = {MAX_YAML_BYTES:,} bytes",
            path=path,
            hint="Split it into smaller files",
        )
    reader = loader(text)
    try:
        try:
            node = reader.get_single_node()
            if node is None:
                return None
            _check_expansion(node, reader.aliases, first_line)
            return reader.construct_document(node)
        except _Refused as refused:
            raise error(
                refused.message,
                path=path,
                line=refused.line + first_line if refused.line is not None else None,
                hint=refused.hint,
            ) from None
    finally:
        reader.dispose()


def _children(node: Node) -> list[Node]:
    """A new list of the nodes directly inside ``node`` (keys and values of a mapping)."""
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_expansion(
    root: Node, aliases: list[tuple[Node | None, Node, str, int]], first_line: int
) -> None:
    """Refuse a recursive alias, or a graph whose expansion passes ``MAX_YAML_NODES``.

    Each node's expanded size is counted once (memoised), so the count is linear in the
    document however much the aliases multiply it; sizes are capped just past the bound
    so that the numbers stay small. The walk is iterative: nesting is bounded, but not
    by Python's recursion limit.
    """
    alias_at = {(id(parent), id(node)): (anchor, line) for parent, node, anchor, line in aliases}
    cap = MAX_YAML_NODES + 1
    size: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, list[Node]]] = [(root, _children(root))]
    open_nodes.add(id(root))
    while stack:
        node, todo = stack[-1]
        if todo:
            child = todo.pop()
            if id(child) in size:
                continue
            if id(child) in open_nodes:
                anchor, line = alias_at.get((id(node), id(child)), ("?", child.start_mark.line))
                raise _Refused(
                    f"the alias '*{anchor}' is inside the node it refers to (anchored on "
                    f"line {child.start_mark.line + first_line}), so it never ends",
                    line,
                    "Refer only to anchors defined before and outside the alias",
                )
            open_nodes.add(id(child))
            stack.append((child, _children(child)))
            continue
        stack.pop()
        open_nodes.discard(id(node))
        size[id(node)] = min(cap, 1 + sum(size[id(c)] for c in _children(node)))
    if size[id(root)] <= MAX_YAML_NODES:
        return
    # Name the first alias that alone passes the bound (sizes are capped, so max() keeps
    # the first of them): in a billion-laughs document, the line that builds the first
    # anchor too big. Else the one that stands for the most.
    biggest = max(aliases, key=lambda alias: size[id(alias[1])], default=None)
    if biggest is None:
        raise _Refused(
            f"the document has more than MAX_YAML_NODES = {MAX_YAML_NODES:,} values",
            None,
            "Split it into smaller files",
        )
    _, node, anchor, line = biggest
    if size[id(node)] > MAX_YAML_NODES:
        message = (
            f"the alias '*{anchor}' expands to more than MAX_YAML_NODES = {MAX_YAML_NODES:,} values"
        )
    else:
        message = (
            f"with its aliases expanded, the document has more than MAX_YAML_NODES = "
            f"{MAX_YAML_NODES:,} values (the alias '*{anchor}' alone stands for {size[id(node)]:,})"
        )
    raise _Refused(
        message,
        line,
        "Write the values out, or use fewer aliases (*name), above all aliases of "
        "anchors that contain aliases themselves",
    )
