"""``LLMCoder``: a local language model applies the codebook, every code backed by a quote.

The coder honours the contract of :class:`~evalkit.coding.suggester.CodeSuggester`
(``fit``, ``predict_proba``, ``thresholds``, ``predict``, ``suggest``), so the same
cross-validation can measure it. It speaks the OpenAI chat-completions API that Ollama,
the llama.cpp server and vLLM all offer, and it talks only to this machine:

- the server must be on a loopback address (``127.0.0.0/8``, ``::1`` or ``localhost``)
  unless the caller passes ``allow_remote=True``; host names are never looked up in DNS,
  so any other name counts as remote;
- requests go through an opener with no proxies (``HTTP_PROXY`` and friends are ignored)
  and no redirects, so nothing can route an excerpt elsewhere;
- answers are read up to :data:`MAX_ANSWER_BYTES`.

The model is asked for JSON only, ``{"codes": [{"code": "NAME", "span": "..."}]}``. A code
counts only when its span is found verbatim in the excerpt (see :func:`parse_answer`), so
every suggestion carries a quote a reviewer can check. ``fit`` learns nothing but a few of
the team's own examples per code for the prompt; it makes no network call.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import json
import urllib.error
import urllib.request
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from evalkit.coding.suggester import Suggestion
from evalkit.errors import EvalkitError
from evalkit.model import Code, Codebook

CHAT_PATH = "/chat/completions"
MAX_ANSWER_BYTES = 1 << 20
MAX_ERROR_BYTES = 4096
FRAGMENT_CHARS = 80
MIN_EXAMPLE_WORDS = 8
# A model that cannot write the asked JSON at all is a setup problem, not noise: when none
# of the first answers can be read, stop instead of coding a whole batch as "no code".
FAIL_FAST = 3

UNKNOWN_CODE = "unknown code"
NO_SPAN = "no span"
SPAN_NOT_FOUND = "span not in excerpt"
MALFORMED_ENTRY = "malformed entry"
REJECTIONS: tuple[str, ...] = (UNKNOWN_CODE, NO_SPAN, SPAN_NOT_FOUND, MALFORMED_ENTRY)

ANSWER_SHAPE = (
    '{"codes": [{"code": "NAME", "span": "verbatim supporting text copied from the excerpt"}]}'
)


@dataclass(frozen=True)
class LLMCode:
    """A code the model applied, with the supporting span as it stands in the excerpt.

    ``span`` is ``text[start:end]`` of the excerpt (code-point offsets), which may differ
    from what the model wrote only in whitespace.
    """

    code: str
    span: str
    start: int
    end: int


@dataclass(frozen=True)
class LLMFailure:
    """An excerpt whose answer could not be read; it got no LLM codes."""

    where: str
    message: str


class Opener(Protocol):
    def open(self, request: urllib.request.Request, *, timeout: float) -> Any: ...


# -- the endpoint -----------------------------------------------------------------------


def check_endpoint(url: str, *, allow_remote: bool = False) -> str:
    """The normalised base URL of a local OpenAI-compatible server, or a one-line refusal.

    A base URL may be given with or without a trailing slash, or already ending in
    ``/chat/completions``; the result is the base without either.

    Parameters
    ----------
    url
        For example ``http://127.0.0.1:11434/v1`` (Ollama) or ``http://localhost:8080/v1``
        (llama.cpp server).
    allow_remote
        Accept a host that is not a loopback address. Excerpts then leave this machine.

    Returns
    -------
    str
        ``scheme://host[:port]/path`` without a trailing slash.

    Raises
    ------
    EvalkitError
        For a scheme other than http/https, user name or password in the URL, a query or
        fragment, a bad port, or (without ``allow_remote``) a host that is not loopback.

    Examples
    --------
    >>> check_endpoint("http://127.0.0.1:11434/v1/")
    'http://127.0.0.1:11434/v1'
    >>> check_endpoint("http://localhost:8080/v1/chat/completions")
    'http://localhost:8080/v1'
    >>> check_endpoint("http://10.1.2.3:11434/v1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evalkit.errors.EvalkitError: the LLM server http://10.1.2.3:11434/v1 is not on this machine...
    """
    given = str(url).strip()
    if not given or any(ord(ch) <= 0x20 or ord(ch) >= 0x7F for ch in given):
        raise EvalkitError(
            f"the LLM URL {given!r} is empty or has spaces, control or non-ASCII characters",
            hint="Give a plain URL such as --llm http://127.0.0.1:11434/v1",
        )
    parts = urlsplit(given)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise EvalkitError(
            f"the LLM URL {given} must start with http:// or https://"
            f" (got {scheme + '://' if scheme else 'no scheme'})",
            hint="Give a URL such as --llm http://127.0.0.1:11434/v1",
        )
    if "@" in parts.netloc:
        raise EvalkitError(
            f"the LLM URL {given} carries a user name or password",
            hint="Remove the part before '@'; evalkit sends no credentials to the LLM server",
        )
    if parts.query or parts.fragment or given.endswith(("?", "#")):
        raise EvalkitError(
            f"the LLM URL {given} has a query or fragment",
            hint="Give only the base URL, such as --llm http://127.0.0.1:11434/v1",
        )
    host = parts.hostname
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise EvalkitError(
            f"the LLM URL {given} has an invalid port",
            hint="Use a number from 1 to 65535, such as --llm http://127.0.0.1:11434/v1",
        ) from None
    if not host:
        raise EvalkitError(
            f"the LLM URL {given} has no host",
            hint="Give a URL such as --llm http://127.0.0.1:11434/v1",
        )
    if not allow_remote and not is_loopback(host):
        raise EvalkitError(
            f"the LLM server {given} is not on this machine (host '{host}' is not a loopback"
            " address: 127.x.x.x, ::1 or localhost); excerpts are de-identified but still"
            " participants' words, and they must not leave this machine",
            hint="Run the model locally, or pass --llm-allow-remote (allow_remote=True) only"
            " for a server covered by the project's data agreement",
        )
    path = parts.path.rstrip("/")
    if path.endswith(CHAT_PATH):
        path = path[: -len(CHAT_PATH)].rstrip("/")
    base = f"{scheme}://{parts.netloc.lower()}{path}"
    # Belt and braces: the host urllib will connect to must be the host checked above.
    if urllib.request.Request(base + CHAT_PATH).host != parts.netloc.lower():
        raise EvalkitError(f"the LLM URL {given} could not be read unambiguously")
    return base


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine: ``localhost``, ``127.0.0.0/8`` or ``::1``.

    No DNS lookup: a name other than ``localhost`` is not loopback, whatever it resolves
    to (``127.0.0.1.nip.io`` is a public name).

    Examples
    --------
    >>> [is_loopback(h) for h in ("localhost", "127.8.0.1", "::1", "10.0.0.1", "lo.example")]
    [True, True, True, False, False]
    """
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect could send the next request (and its excerpt) to another host.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def local_opener() -> urllib.request.OpenerDirector:
    """An opener that ignores proxy settings and follows no redirects."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


# -- the prompt -------------------------------------------------------------------------


def system_prompt(codebook: Codebook, examples: Mapping[str, Sequence[str]]) -> str:
    """The instructions: every code's MacQueen fields, the team's examples, the JSON shape."""
    lines = [
        "You are a careful qualitative researcher. You apply a codebook to one excerpt of"
        " an interview, focus group, meeting note or document.",
        f"Codebook: {codebook.title}"
        + (f" (version {codebook.version})" if codebook.version else ""),
    ]
    if codebook.description.strip():
        lines.append(_flat(codebook.description))
    lines += ["", "The codes:"]
    for code in codebook.codes:
        lines += ["", *_describe(code, examples.get(code.name, ()))]
    lines += [
        "",
        "How to answer:",
        "- The user message is the excerpt, verbatim, and nothing else.",
        "- Apply a code only when the excerpt itself supports it. Several codes may apply;"
        " often none does. Follow each code's 'when not to use'.",
        "- Use only the code names listed above, spelled exactly as listed.",
        "- For every code you apply, copy the words of the excerpt that support it, exactly"
        " as they appear: same words, spelling, case and punctuation. Do not paraphrase,"
        " shorten with '...', or add words.",
        "- Answer with JSON only, no other text, in this shape:",
        ANSWER_SHAPE,
        '- If no code applies, answer {"codes": []}.',
    ]
    return "\n".join(lines)


def _describe(code: Code, team: Sequence[str]) -> list[str]:
    lines = [f"Code: {code.name}"]
    if code.parent:
        lines.append(f"Parent code: {code.parent}")
    for label, value in (
        ("Brief definition", code.brief),
        ("Full definition", code.definition),
        ("When to use", code.when_to_use),
        ("When not to use", code.when_not_to_use),
    ):
        if value.strip():
            lines.append(f"{label}: {_flat(value)}")
    if code.examples:
        lines.append("Examples from the codebook:")
        lines += [f'- "{_flat(e)}"' for e in code.examples]
    if team:
        lines.append(f"Excerpts the team coded {code.name}:")
        lines += [f'- "{_flat(e)}"' for e in team]
    return lines


def _flat(text: str) -> str:
    return " ".join(str(text).split())


def build_messages(
    codebook: Codebook, examples: Mapping[str, Sequence[str]], text: str
) -> list[dict[str, str]]:
    """The chat messages for one excerpt: the system prompt, then the excerpt itself.

    Parameters
    ----------
    codebook
        Its codes' name, parent, brief, definition, when to use, when not to use and
        examples go into the system message.
    examples
        The team's own coded excerpts per code name (few-shot examples).
    text
        The excerpt, sent as the user message unchanged.

    Examples
    --------
    >>> from evalkit.model import Code, Codebook
    >>> book = Codebook("Demo", (Code("HOUSING", brief="Trouble finding housing"),))
    >>> messages = build_messages(book, {"HOUSING": ["no bed for weeks"]}, "We slept in the car.")
    >>> [m["role"] for m in messages], messages[1]["content"]
    (['system', 'user'], 'We slept in the car.')
    >>> "Brief definition: Trouble finding housing" in messages[0]["content"]
    True
    """
    return [
        {"role": "system", "content": system_prompt(codebook, examples)},
        {"role": "user", "content": text},
    ]


# -- reading the answer -----------------------------------------------------------------


def parse_answer(
    content: str, text: str, known_codes: Collection[str], *, where: str = "the excerpt"
) -> tuple[list[LLMCode], list[str]]:
    """The codes the model applied with a verified span, and what was rejected.

    A span is looked up in ``text`` after collapsing every run of whitespace to one space
    on both sides, **case-sensitively**: it must be a quote a reviewer can find, and
    case-folding would also shift offsets (``"ß".casefold()`` is two characters). The first
    occurrence is taken. A code is applied once, with the first of its spans that is found.

    Parameters
    ----------
    content
        The model's message. A Markdown code fence around the JSON is tolerated.
    text
        The excerpt the model was shown.
    known_codes
        Code names the model may use; other names are rejected.
    where
        Names the excerpt in error messages, e.g. ``"excerpt 3 of 40"``.

    Returns
    -------
    tuple
        The applied codes, in answer order, and one rejection kind per rejected entry, from
        :data:`REJECTIONS`: ``"unknown code"``, ``"no span"``, ``"span not in excerpt"``,
        ``"malformed entry"``.

    Raises
    ------
    EvalkitError
        When the content is not JSON or not an object with a list ``codes``.

    Examples
    --------
    >>> answer = '{"codes": [{"code": "HOUSING", "span": "slept in the car"}, {"code": "X"}]}'
    >>> parse_answer(answer, "We slept in the\\ncar.", {"HOUSING"})
    ([LLMCode(code='HOUSING', span='slept in the\\ncar', start=3, end=19)], ['unknown code'])
    """
    raw = content.strip()
    if raw.startswith("```"):
        raw = raw.strip("`").strip()
        if raw[:4].lower() == "json":
            raw = raw[4:]
    try:
        answer = json.loads(raw)
    except ValueError:
        raise EvalkitError(
            f"the model's answer for {where} is not JSON: {fragment(content)}",
            hint="Use a model that supports JSON output (response_format)",
        ) from None
    if not isinstance(answer, dict) or not isinstance(answer.get("codes"), list):
        raise EvalkitError(
            f"the model's answer for {where} is not of the shape {ANSWER_SHAPE}:"
            f" {fragment(content)}",
            hint="Use a model that follows instructions well, or a larger one",
        )
    collapsed, where_in_text = _collapse(text)
    found: list[LLMCode] = []
    rejected: list[str] = []
    for entry in answer["codes"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("code"), str):
            rejected.append(MALFORMED_ENTRY)
            continue
        name = entry["code"].strip()
        if name not in known_codes:
            rejected.append(UNKNOWN_CODE)
            continue
        span = entry.get("span")
        wanted = _flat(span) if isinstance(span, str) else ""
        if not wanted:
            rejected.append(NO_SPAN)
            continue
        at = collapsed.find(wanted)
        if at < 0:
            rejected.append(SPAN_NOT_FOUND)
            continue
        if any(c.code == name for c in found):
            continue
        # The span has no leading or trailing space, so both ends map to real characters.
        start, end = where_in_text[at], where_in_text[at + len(wanted) - 1] + 1
        found.append(LLMCode(name, text[start:end], start, end))
    return found, rejected


def _collapse(text: str) -> tuple[str, list[int]]:
    """``text`` with whitespace runs as one space (none at the ends), and where each
    character of it stands in ``text``."""
    chars: list[str] = []
    where: list[int] = []
    gap = -1
    for i, ch in enumerate(text):
        if ch.isspace():
            if chars and gap < 0:
                gap = i
            continue
        if gap >= 0:
            chars.append(" ")
            where.append(gap)
            gap = -1
        chars.append(ch)
        where.append(i)
    return "".join(chars), where


def fragment(value: str | bytes, limit: int = FRAGMENT_CHARS) -> str:
    """A short, one-line, printable quote of what came back, for an error message.

    Examples
    --------
    >>> fragment("Sure!\\n Here are\\x00 the codes")
    '“Sure! Here are the codes”'
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = _flat("".join(ch if ch.isprintable() else " " for ch in value))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"“{text}”" if text else "(nothing)"


# -- the coder --------------------------------------------------------------------------


class LLMCoder(BaseEstimator):
    """Apply the codebook with a local LLM; a code counts only with a verbatim quote.

    Parameters
    ----------
    url
        Base URL of an OpenAI-compatible server, e.g. ``http://127.0.0.1:11434/v1``;
        checked by :func:`check_endpoint` in ``fit``.
    model
        The model name the server knows, e.g. ``qwen2.5:7b``.
    codebook
        The codes the model may apply, described to it by their MacQueen fields.
    n_examples
        The team's own coded excerpts per code put in the prompt, chosen in ``fit``.
    timeout
        Seconds to wait for the server to connect and for each read.
    allow_remote
        Accept a server that is not on this machine.
    max_excerpt_chars
        Longer excerpts are cut to this many characters before they are sent; spans are
        checked against the part sent, so their offsets hold for the whole excerpt.
        ``truncated_`` counts them.
    strict
        How an answer that is not the asked JSON is handled. ``False`` (the default):
        that excerpt gets no LLM codes, scores 0.0 for every code, and is listed in
        ``failures_`` — one garbled answer does not throw away an hour of coding. The coder
        still stops with the error when none of the first three answers (or of all, for
        fewer texts) can be read, since then the model is not following the format at all.
        ``True``: the first such answer raises.
    opener
        Anything with ``open(request, timeout=...)``; by default :func:`local_opener`
        (no proxies, no redirects). A custom opener is responsible for the same.

    Attributes
    ----------
    codes_ : list of str
        Sorted codebook code names plus any code in the training labels; codes outside
        the codebook are never applied (the model has no definition for them).
    examples_ : dict
        Code name -> the team's examples put in the prompt.
    model_version_ : str
        ``llm:<model>:<first 10 hex of the system prompt's SHA-256>``.
    n_train_ : int
    rejections_ : dict
        Entries of answers that were not applied, by kind (:data:`REJECTIONS`).
    failures_ : list of LLMFailure
        Excerpts whose answer could not be read.
    truncated_ : int
        Excerpts cut to ``max_excerpt_chars``.

    Errors of the server (not listening, timeout, HTTP errors, an answer that is not the
    OpenAI shape or is too large) always raise a one-line :class:`EvalkitError`: they are
    setup problems, and every further excerpt would meet them too.

    Answers are cached per excerpt text within one instance, so ``predict_proba`` and
    ``suggest`` on the same texts ask the server once.
    """

    def __init__(
        self,
        *,
        url: str,
        model: str,
        codebook: Codebook,
        n_examples: int = 2,
        timeout: float = 60.0,
        allow_remote: bool = False,
        max_excerpt_chars: int = 4000,
        strict: bool = False,
        opener: Opener | None = None,
    ) -> None:
        self.url = url
        self.model = model
        self.codebook = codebook
        self.n_examples = n_examples
        self.timeout = timeout
        self.allow_remote = allow_remote
        self.max_excerpt_chars = max_excerpt_chars
        self.strict = strict
        self.opener = opener

    # -- fitting ------------------------------------------------------------------------

    def fit(self, texts: Sequence[str], labels: Sequence[Iterable[str]]) -> LLMCoder:
        """Keep up to ``n_examples`` of the team's excerpts per code for the prompt.

        Examples are chosen deterministically: among the texts a human coded with the
        code, those of at least eight words if there are any, shortest first (ties in
        text order), so the prompt and ``model_version_`` are stable. Texts longer than
        ``max_excerpt_chars`` are never examples. No network call.
        """
        texts = [str(t) for t in texts]
        label_sets = [set(codes) for codes in labels]
        if len(texts) != len(label_sets):
            raise ValueError(f"{len(texts)} texts but {len(label_sets)} label sets")
        self.endpoint_ = check_endpoint(self.url, allow_remote=self.allow_remote)
        self.chat_url_ = self.endpoint_ + CHAT_PATH
        if not str(self.model).strip():
            raise EvalkitError("no LLM model name given", hint="Name one, e.g. qwen2.5:7b")
        if not self.timeout or self.timeout <= 0:
            raise EvalkitError(f"--llm-timeout must be more than 0 seconds, got {self.timeout}")
        if self.max_excerpt_chars < 1:
            raise EvalkitError(
                f"max_excerpt_chars must be at least 1, got {self.max_excerpt_chars}"
            )
        if not self.codebook.codes:
            raise EvalkitError(
                f"codebook '{self.codebook.title}' has no codes for the LLM to apply"
            )
        known = {c.name for c in self.codebook.codes}
        self._known = frozenset(known)
        self.codes_ = sorted(known | set().union(*label_sets))
        self.examples_ = {
            name: self._pick_examples(
                [t for t, s in zip(texts, label_sets, strict=True) if name in s]
            )
            for name in sorted(known)
        }
        self.examples_ = {name: chosen for name, chosen in self.examples_.items() if chosen}
        self.system_prompt_ = system_prompt(self.codebook, self.examples_)
        digest = hashlib.sha256(self.system_prompt_.encode("utf-8")).hexdigest()
        self.model_version_ = f"llm:{self.model}:{digest[:10]}"
        self.n_train_ = len(texts)
        self.rejections_ = dict.fromkeys(REJECTIONS, 0)
        self.failures_: list[LLMFailure] = []
        self.truncated_ = 0
        self.opener_ = self.opener if self.opener is not None else local_opener()
        self._cache: dict[str, list[LLMCode]] = {}
        self._answered = 0
        self._readable = 0
        return self

    def _pick_examples(self, coded: list[str]) -> list[str]:
        candidates = [t for t in dict.fromkeys(coded) if t.strip()]
        candidates = [t for t in candidates if len(t) <= self.max_excerpt_chars]
        long_enough = [t for t in candidates if len(t.split()) >= MIN_EXAMPLE_WORDS]
        pool = long_enough or candidates
        return sorted(pool, key=len)[: max(self.n_examples, 0)]

    # -- predicting ---------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_version_"):
            raise NotFittedError(
                "This LLMCoder is not fitted yet. Call 'fit' with coded texts first"
                " (an empty list is fine: it then uses the codebook alone)."
            )

    def spans(
        self, texts: Sequence[str], *, ids: Sequence[str] | None = None
    ) -> list[list[LLMCode]]:
        """The codes applied to each text, with their verified spans and offsets.

        ``ids`` name the excerpts in error messages; by default their position.
        """
        self._check_fitted()
        texts = [str(t) for t in texts]
        if ids is not None and len(ids) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(ids)} ids")
        out = []
        for i, text in enumerate(texts):
            where = f"excerpt {ids[i]}" if ids is not None else f"excerpt {i + 1} of {len(texts)}"
            if text not in self._cache:
                self._cache[text] = self._code_one(text, where, len(texts))
            out.append(self._cache[text])
        return out

    def _code_one(self, text: str, where: str, batch: int) -> list[LLMCode]:
        sent = text[: self.max_excerpt_chars]
        if len(sent) < len(text):
            self.truncated_ += 1
        content, finish = self._ask(sent, where)
        self._answered += 1
        try:
            found, rejected = parse_answer(content, sent, self._known, where=where)
        except EvalkitError as error:
            hint = error.hint
            if finish == "length":
                hint = "The answer was cut off (finish_reason=length); give the model more room"
            failure = EvalkitError(
                f"{error.message} (model {self.model}, {self.chat_url_})", hint=hint
            )
            if self.strict or (self._readable == 0 and self._answered >= min(FAIL_FAST, batch)):
                raise failure from None
            self.failures_.append(LLMFailure(where, str(failure)))
            return []
        self._readable += 1
        for kind in rejected:
            self.rejections_[kind] += 1
        return found

    def _ask(self, text: str, where: str) -> tuple[str, object]:
        payload = {
            "model": self.model,
            "messages": build_messages(self.codebook, self.examples_, text),
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "stream": False,
        }
        body = self._post(json.dumps(payload).encode("utf-8"))
        return self._content(body, where)

    def _post(self, data: bytes) -> bytes:
        request = urllib.request.Request(
            self.chat_url_,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        url = self.chat_url_
        try:
            with self.opener_.open(request, timeout=self.timeout) as response:
                body = response.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as error:
            raise self._http_error(error) from error
        except urllib.error.URLError as error:
            raise self._unreachable(error.reason) from error
        except (OSError, http.client.HTTPException) as error:
            raise self._unreachable(error) from error
        if len(body) > MAX_ANSWER_BYTES:
            raise EvalkitError(
                f"the LLM server at {url} sent more than {MAX_ANSWER_BYTES // 1024} KiB for"
                " one excerpt; refusing to read it",
                hint="Check that --llm points at an OpenAI-compatible chat server",
            )
        return body

    def _unreachable(self, reason: object) -> EvalkitError:
        url = self.chat_url_
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            return EvalkitError(
                f"the LLM server at {url} did not answer within {self.timeout:g} s",
                hint="Raise --llm-timeout or check the server",
            )
        if isinstance(reason, ConnectionRefusedError):
            return EvalkitError(
                f"nothing is listening at {url}",
                hint="Start Ollama/llama.cpp or fix --llm",
            )
        return EvalkitError(
            f"could not talk to the LLM server at {url}: {fragment(str(reason))}",
            hint="Check that the server is running and that --llm is its base URL",
        )

    def _http_error(self, error: urllib.error.HTTPError) -> EvalkitError:
        url = self.chat_url_
        try:
            detail = _server_message(error.read(MAX_ERROR_BYTES))
        except (OSError, http.client.HTTPException):
            detail = ""
        finally:
            error.close()  # an HTTPError holds the open response
        said = f": {fragment(detail)}" if detail else ""
        if error.code == 404 and "model" in detail.lower():
            return EvalkitError(
                f"the LLM server at {url} does not have the model '{self.model}' (HTTP 404{said})",
                hint=f"Pull it (e.g. ollama pull {self.model}) or fix the model name",
            )
        if error.code == 404:
            return EvalkitError(
                f"no OpenAI-compatible API at {url} (HTTP 404)",
                hint="Fix --llm: the base URL usually ends in /v1, e.g. http://127.0.0.1:11434/v1",
            )
        if 300 <= error.code < 400:
            return EvalkitError(
                f"the LLM server at {url} redirected the request (HTTP {error.code});"
                " evalkit follows no redirects, so that excerpts go nowhere else",
                hint="Point --llm at the server itself",
            )
        return EvalkitError(
            f"the LLM server at {url} answered HTTP {error.code} {error.reason}{said}",
            hint="Check the server's log; a too small context window or a missing model are"
            " common causes",
        )

    def _content(self, body: bytes, where: str) -> tuple[str, object]:
        url = self.chat_url_
        hint = "Check that --llm points at an OpenAI-compatible chat server"
        try:
            answer = json.loads(body.decode("utf-8"))
        except ValueError:
            raise EvalkitError(
                f"the LLM server at {url} answered {where} with something that is not JSON:"
                f" {fragment(body)}",
                hint=hint,
            ) from None
        try:
            choice = answer["choices"][0]
            content = choice["message"]["content"]
        except (KeyError, IndexError, TypeError):
            content = None
        if not isinstance(content, str):
            raise EvalkitError(
                f"the LLM server at {url} answered {where} without choices[0].message.content"
                f" (not the OpenAI chat shape): {fragment(body)}",
                hint=hint,
            )
        return content, choice.get("finish_reason")

    def predict_proba(
        self, texts: Sequence[str], *, ids: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """1.0 where the model applied a code with a verified span, else 0.0 (rows: texts)."""
        applied = self.spans(texts, ids=ids)
        rows = [
            [1.0 if any(c.code == code for c in found) else 0.0 for code in self.codes_]
            for found in applied
        ]
        return pd.DataFrame(rows, columns=self.codes_, dtype=float)

    def thresholds(self) -> dict[str, float]:
        """0.5 for every code: a code is applied or it is not."""
        self._check_fitted()
        return dict.fromkeys(self.codes_, 0.5)

    def predict(self, texts: Sequence[str], *, ids: Sequence[str] | None = None) -> pd.DataFrame:
        """True where the model applied a code with a verified span."""
        probabilities = self.predict_proba(texts, ids=ids)
        limits = self.thresholds()
        return pd.DataFrame(
            {c: probabilities[c].to_numpy() >= limits[c] for c in self.codes_},
            columns=self.codes_,
        )

    def suggest(
        self, texts: Sequence[str], *, ids: Sequence[str] | None = None
    ) -> list[list[Suggestion]]:
        """Suggestions per text, in the order their spans appear, each quoting its span."""
        out = []
        for found in self.spans(texts, ids=ids):
            ordered = sorted(found, key=lambda c: (c.start, c.code))
            out.append(
                [
                    Suggestion(c.code, 1.0, "llm", f"LLM coder {self.model}: “{c.span}”")
                    for c in ordered
                ]
            )
        return out


def _server_message(raw: bytes) -> str:
    """The error message in a server's error body (OpenAI, Ollama or plain text)."""
    text = raw.decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message")))
        if isinstance(error, dict):
            error = error.get("message")
        if isinstance(error, str):
            return error
    return text.strip()
