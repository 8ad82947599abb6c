"""Regular expressions that users write, matched in time linear in the text.

Python's ``re`` backtracks: a codebook pattern such as ``^(\\w+\\s?)*$`` takes time
exponential in the length of a line it nearly matches, so one pattern could stall
``suggest run`` or a regex search for ever. RE2 (google-re2) matches without backtracking,
in time linear in the text, and refuses the features that need backtracking
(backreferences, look-around, possessive quantifiers, atomic groups). Every pattern a
user supplies (codebook ``patterns``, ``search --mode regex``) is compiled here; patterns
evalkit writes itself stay on ``re``.

RE2's ``\\w`` and ``\\d`` are ASCII-only, where Python's are Unicode. Participants speak
Spanish, Tagalog and Cantonese as well as English, so before compiling, ``\\w`` and ``\\d``
(and ``\\W``, ``\\D`` outside brackets) are rewritten as the Unicode classes Python means:
``caf\\w`` matches ``café``. RE2's ``\\b`` stays ASCII-only (RE2 has no Unicode word
boundary): ``\\bcafé\\b`` never matches, so use a codebook keyword for such a word.
"""

from __future__ import annotations

import re2

from evalkit.errors import EvalkitError

# RE2's own default, stated here so that it is a bound: the memory one compiled pattern
# may use (program plus matching cache). RE2 refuses a pattern that needs more, such as
# \pL{1000}; every codebook pattern so far needs a few kilobytes.
MAX_PATTERN_MEMORY = 8 << 20

SYNTAX = "https://github.com/google/re2/wiki/Syntax"
_AROUND = "match the words themselves, and in a codebook veto a context with `exclude`"
# What RE2 says (the start of its message) -> the feature it lacks, and what to do instead.
_UNSUPPORTED = (
    ("invalid perl operator: (?<", "look-behind", f"RE2 has no look-behind; {_AROUND}"),
    ("invalid perl operator: (?=", "look-ahead", f"RE2 has no look-ahead; {_AROUND}"),
    ("invalid perl operator: (?!", "look-ahead", f"RE2 has no look-ahead; {_AROUND}"),
    (
        "invalid perl operator: (?>",
        "an atomic group",
        "RE2 never backtracks, so write (?:...) instead of (?>...)",
    ),
    (
        "invalid perl operator: (?P=",
        "a backreference",
        "RE2 has no backreferences; write the repeated text out",
    ),
    (
        "invalid perl operator: (?#",
        "a comment group",
        "RE2 has no (?#...) comments; remove the comment",
    ),
    (
        "invalid perl operator: (?x",
        "verbose mode (?x)",
        "RE2 has no verbose mode; write the pattern without spaces or comments",
    ),
    ("invalid escape sequence: \\Z", "\\Z", "Write \\z for the end of the text"),
)
# What RE2 says -> the bound the pattern passes, and what to do instead.
_TOO_BIG = (
    (
        "pattern too large",
        f"needs more than MAX_PATTERN_MEMORY = {MAX_PATTERN_MEMORY:,} bytes to match",
        "Use smaller repetition counts, e.g. {1,50} instead of {1,1000}",
    ),
    (
        "invalid repetition size",
        "repeats more than RE2's limit of 1,000 times (nested counts multiply)",
        "Use smaller repetition counts",
    ),
)


def compile_user_pattern(
    pattern: str,
    *,
    where: str,
    error: type[EvalkitError] = EvalkitError,
    hint: str | None = None,
    ignore_case: bool = True,
) -> re2._Regexp:
    """A user's regular expression, compiled with RE2 (linear-time matching).

    Match offsets on ``str`` are code-point offsets, as with ``re``.

    Parameters
    ----------
    pattern
        The regular expression, in RE2 syntax (Python's, less backtracking features).
    where
        Where it came from, to start the error message: ``"code 'PSSW_POLICY'"``,
        ``"the search"``.
    error
        The error class to raise.
    hint
        What to suggest for a plain syntax error; features RE2 lacks get their own hint.
    ignore_case
        Match regardless of case.

    Raises
    ------
    EvalkitError
        ``error``, naming the pattern, the feature RE2 lacks or RE2's complaint, and a
        hint.

    Examples
    --------
    >>> compile_user_pattern(r"caf[eé]s?", where="the search").search("😀 Cafés here").span()
    (2, 7)
    >>> compile_user_pattern(r"(?<!not )safe", where="code 'X'")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evalkit.errors.EvalkitError: code 'X' pattern '(?<!not )safe' uses look-behind, which RE2...
    """
    options = re2.Options()
    options.log_errors = False  # else RE2 writes its complaint to stderr as well
    options.case_sensitive = not ignore_case
    options.max_mem = MAX_PATTERN_MEMORY
    try:
        return re2.compile(unicode_classes(pattern), options=options)
    except re2.error as exc:
        message, fix = _message(pattern, where, exc, hint)
        raise error(message, hint=fix) from None


# Python's Unicode meanings of the ASCII-only RE2 classes, outside and inside brackets.
_WORD = r"\pL\pM\pN_"
_OUTSIDE = {"w": f"[{_WORD}]", "W": f"[^{_WORD}]", "d": r"\p{Nd}", "D": r"\P{Nd}"}
_INSIDE = {"w": _WORD, "d": r"\p{Nd}", "D": r"\P{Nd}"}


def unicode_classes(pattern: str) -> str:
    r"""``pattern`` with ``\w`` and ``\d`` meaning what they mean in Python's ``re``.

    >>> print(unicode_classes(r"caf\w+ [\w-]\d \\w"))
    caf[\pL\pM\pN_]+ [\pL\pM\pN_-]\p{Nd} \\w
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            out.append((_INSIDE if in_class else _OUTSIDE).get(escaped, char + escaped))
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
            # "]" straight after "[" or "[^" is a literal, not the end of the class.
            lead = next((p for p in ("^]", "]", "^") if pattern.startswith(p, i + 1)), "")
            out.append(char + lead)
            i += 1 + len(lead)
            continue
        if char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


def _message(pattern: str, where: str, exc: re2.error, hint: str | None) -> tuple[str, str]:
    detail = exc.args[0] if exc.args else ""
    detail = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
    start = f"{where} pattern '{pattern}'"
    for prefix, bound, bound_hint in _TOO_BIG:
        if detail.startswith(prefix):
            return f"{start} {bound}", bound_hint
    if detail == "invalid perl operator: (?P" and "(?P=" in pattern:
        detail = "invalid perl operator: (?P="  # RE2 stops its quote one character short
    for prefix, feature, feature_hint in _UNSUPPORTED:
        if detail.startswith(prefix):
            return (
                f"{start} uses {feature}, which RE2 (the linear-time matcher evalkit uses) "
                "does not support",
                feature_hint,
            )
    if detail.startswith("invalid escape sequence: \\") and detail[-1:].isdigit():
        return (
            f"{start} uses a backreference ({detail.rsplit(' ', 1)[-1]}), which RE2 (the "
            "linear-time matcher evalkit uses) does not support",
            "RE2 has no backreferences; write the repeated text out",
        )
    if detail.startswith("bad repetition operator: ") and detail.endswith("+"):
        return (
            f"{start} uses a possessive quantifier ({detail.rsplit(' ', 1)[-1]}), which RE2 "
            "(the linear-time matcher evalkit uses) does not support",
            "RE2 never backtracks, so drop the second '+'",
        )
    return (
        f"{start} is not a valid regular expression ({detail})",
        hint or f"Fix the pattern (RE2 syntax: {SYNTAX})",
    )
