"""A stub OpenAI-compatible chat server on 127.0.0.1, with a scripted "model".

``POST /v1/chat/completions`` reads the user message (the excerpt) and, for each
``{code: keyword}`` it was given, applies the code when the keyword occurs in the excerpt
(case-insensitively), quoting the sentence that holds it. Any other path answers 404.

Modes, per stub or per excerpt (``mode`` may be a function of the excerpt):

- ``ok``: the scripted answer;
- ``malformed``: content that is not JSON;
- ``invented_span``: the codes, each with a span that is not in the excerpt;
- ``slow``: waits ``delay`` seconds (bounded; cut short when the stub closes), then answers;
- ``http500``: an HTTP 500 with an OpenAI-style error body;
- ``redirect``: an HTTP 302 to another URL (on the stub, ``/elsewhere``);
- ``huge``: a body a little over 1 MiB;
- ``not_openai``: JSON that is not the chat-completions shape.

Use it as a context manager; leaving it stops the server, closes its socket and joins
every thread it started::

    with LLMStub({"HOUSING": "shelter"}) as stub:
        ...  # stub.url is "http://127.0.0.1:<port>/v1"; stub.requests what it received
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHAT = "/v1/chat/completions"
MODES = ("ok", "malformed", "invented_span", "slow", "http500", "redirect", "huge", "not_openai")
HUGE = 1024 * 1024 + 16


class _Server(ThreadingHTTPServer):
    # Handler threads are joined on close, so a test leaves none behind.
    daemon_threads = False
    block_on_close = True


class LLMStub:
    """A scripted OpenAI-compatible server; see the module docstring."""

    def __init__(
        self,
        keywords: Mapping[str, str],
        *,
        mode: str | Callable[[str], str] = "ok",
        delay: float = 2.0,
    ) -> None:
        self.keywords = dict(keywords)
        self.mode = mode
        self.delay = min(delay, 2.0)
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0  # set on entry, kept after exit for messages that name the URL

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> LLMStub:
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    # -- the scripted model -------------------------------------------------------------

    def mode_for(self, excerpt: str) -> str:
        mode = self.mode(excerpt) if callable(self.mode) else self.mode
        assert mode in MODES, f"unknown stub mode {mode!r}"
        return mode

    def answer(self, excerpt: str, mode: str) -> str:
        """The model's message content for ``excerpt``."""
        if mode == "malformed":
            return "Sure! Here are the codes: HOUSING, maybe POLICY"
        codes = []
        for code, keyword in self.keywords.items():
            found = re.search(re.escape(keyword), excerpt, flags=re.IGNORECASE)
            if not found:
                continue
            if mode == "invented_span":
                span = f"the participant talked about {keyword} at length"
            else:
                span = _sentence(excerpt, found.start(), found.end())
            codes.append({"code": code, "span": span})
        return json.dumps({"codes": codes})

    def record(self, path: str, body: dict[str, Any] | None) -> None:
        with self._lock:
            self.paths.append(path)
            if body is not None:
                self.requests.append(body)

    def wait(self) -> bool:
        """Wait ``delay`` seconds; False when the stub closed meanwhile."""
        return not self._closing.wait(self.delay)


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence of ``text`` around ``text[start:end]``, as it stands in ``text``."""
    left = max(text.rfind(mark, 0, start) for mark in ".!?")
    stops = [i for i in (text.find(mark, end) for mark in ".!?") if i >= 0]
    right = min(stops) + 1 if stops else len(text)
    return text[left + 1 : right].strip()


def _handler(stub: LLMStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            stub.record(self.path, None)
            self._send(404, b"404 page not found", "text/plain")

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path != CHAT:
                stub.record(self.path, None)
                self._send(404, b"404 page not found", "text/plain")
                return
            body = json.loads(raw)
            stub.record(self.path, body)
            excerpt = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
            mode = stub.mode_for(excerpt)
            if mode == "slow" and not stub.wait():
                return  # the stub is closing; the client gave up long ago
            if mode == "http500":
                error = {"error": {"message": "stub model crashed", "type": "server_error"}}
                self._send(500, json.dumps(error).encode(), "application/json")
                return
            if mode == "huge":
                self._send(200, b" " * HUGE, "application/json")
                return
            if mode == "not_openai":
                self._send(200, b'{"response": "HOUSING"}', "application/json")
                return
            if mode == "redirect":
                # To the stub itself, so a client that follows it shows up in ``paths``.
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{stub.port}/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            reply = {
                "id": "chatcmpl-stub",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": stub.answer(excerpt, mode)},
                        "finish_reason": "stop",
                    }
                ],
            }
            self._send(200, json.dumps(reply).encode(), "application/json")

        def _send(self, status: int, payload: bytes, kind: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and left

    return Handler
