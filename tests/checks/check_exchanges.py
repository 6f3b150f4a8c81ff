"""Exchanges for the check table: real recordings (fixtures/real), and copies with one thing broken.

A case starts from a real GLM answer and changes one field, one chunk or one byte, so the check
under test sees exactly one broken rule in an otherwise real exchange.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.client import Exchange, TimedEvent
from harness.errors import TransportError
from harness.sse import SSEDecoder
from harness.targets import mock_target

REAL = Path(__file__).resolve().parents[2] / "fixtures" / "real"
STREAMS_AND_BODIES = REAL / "streams-and-bodies"
PREFIX = "2025-10-23__71f727f0__TestZAICommon__zai-glm-4.6__"
THINKING = "2025-11-11__6d3217e4__TestOpenAICompatibleThinking__zai-glm-4.5__"

Edit = Callable[[Any], Any]


def request_of(scenario: str, prefix: str = PREFIX) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((STREAMS_AND_BODIES / f"{prefix}{scenario}__i0.request.json").read_text())
    return data


def body_of(scenario: str, prefix: str = PREFIX) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((STREAMS_AND_BODIES / f"{prefix}{scenario}__i0.response.json").read_text())
    return data


def chunks_of(scenario: str, prefix: str = PREFIX) -> list[Any]:
    raw = (STREAMS_AND_BODIES / f"{prefix}{scenario}__i0.response.sse").read_text()
    return [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: {")]


def sse(chunks: list[Any], done: bool = True) -> bytes:
    events = [f"data: {c if isinstance(c, str) else json.dumps(c, ensure_ascii=False)}\n\n" for c in chunks]
    return ("".join(events) + ("data: [DONE]\n\n" if done else "")).encode()


def exchange(request: dict[str, Any], raw: bytes, *, status: int | None = 200, content_type: str | None = None,
             error: TransportError | None = None, reads: int = 1) -> Exchange:
    """An exchange as the client would have recorded it: `raw` arrived in `reads` pieces."""
    ex = Exchange(mock_target(), request, 100.0, url="https://api.z.ai/api/paas/v4/chat/completions")
    ex.status = status
    streamed = bool(request.get("stream"))
    default_type = "text/event-stream;charset=UTF-8" if streamed and status == 200 else "application/json"
    ex.headers = {"content-type": content_type if content_type is not None else default_type} if status else {}
    decoder = SSEDecoder() if streamed else None
    size = max(1, -(-len(raw) // reads))
    for n, start in enumerate(range(0, len(raw), size)):
        at = 100.1 + n / 1000
        ex.chunks.append((at, raw[start:start + size]))
        if decoder is not None:
            ex.events += [TimedEvent(at, e) for e in decoder.feed(raw[start:start + size])]
    if decoder is not None:
        ex.events += [TimedEvent(101.0, e) for e in decoder.close()]
        ex.sse_violations = list(decoder.violations)
    ex.transport_error = error
    ex.ended_at = 101.0
    return ex


def answer(scenario: str, edit: Edit | None = None, *, request: Edit | None = None, status: int = 200,
           prefix: str = PREFIX, **kw: Any) -> Exchange:
    """A recorded JSON answer, with `edit` applied to a copy of the body and `request` to the request."""
    body, sent = copy.deepcopy(body_of(scenario, prefix)), request_of(scenario, prefix)
    body = _apply(edit, body)
    sent = _apply(request, sent)
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return exchange(sent, raw, status=status, **kw)


def stream(scenario: str, edit: Edit | None = None, *, request: Edit | None = None, done: bool = True,
           prefix: str = PREFIX, raw: Callable[[bytes], bytes] | None = None, **kw: Any) -> Exchange:
    """A recorded stream, with `edit` applied to a copy of its list of chunks."""
    chunks = copy.deepcopy(chunks_of(scenario, prefix))
    if edit is not None:
        edited = edit(chunks)  # edits change the list in place, or return a new list
        chunks = edited if isinstance(edited, list) else chunks
    sent = _apply(request, {**request_of(scenario, prefix), "stream": True})
    data = sse(chunks, done)
    return exchange(sent, raw(data) if raw else data, **kw)


def error(name: str, status: int, edit: Edit | None = None, **kw: Any) -> Exchange:
    """A recorded error body (errors/), answered with `status` to a plain request."""
    (path,) = (REAL / "errors").glob(f"*{name}*")
    recorded = json.loads(path.read_text())
    body = _apply(edit, recorded if "error" in recorded else {"error": recorded})  # some kept only the inner object
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return exchange({"model": "glm-4.6", "messages": [{"role": "user", "content": "hi"}]}, raw, status=status, **kw)


def _apply(edit: Edit | None, value: Any) -> Any:
    if edit is None:
        return value
    result = edit(value)
    return value if result is None else result
