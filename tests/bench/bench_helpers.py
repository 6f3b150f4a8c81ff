"""Hand-built exchanges for the benchmark tests: exact arrival times, no server."""

from __future__ import annotations

import json
from typing import Any

from harness.client import Exchange, TimedEvent
from harness.sse import ServerSentEvent
from harness.targets import mock_target

SENT = 100.0  # perf_counter seconds of "request sent"; times below are offsets in ms


def chunk(*, reasoning: str | None = None, content: str | None = None,
          tool: dict[str, Any] | None = None, usage: dict[str, int] | None = None,
          finish: str | None = None) -> str:
    delta: dict[str, Any] = {"role": "assistant"}
    if reasoning is not None:
        delta["reasoning_content"] = reasoning
    if content is not None:
        delta["content"] = content
    if tool is not None:
        delta["tool_calls"] = [tool]
    data: dict[str, Any] = {"id": "x", "created": 1, "model": "glm-4.6",
                            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        data["usage"] = usage
    return json.dumps(data)


def usage(completion: int, prompt: int = 10, cached: int = 0) -> dict[str, Any]:
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached}}


def exchange(events: list[tuple[float, str]], *, end_ms: float | None = None, status: int = 200,
             body: bytes | None = None, headers: dict[str, str] | None = None) -> Exchange:
    """An exchange whose SSE events arrived at the given ms offsets after SENT."""
    ex = Exchange(mock_target(), {"stream": True}, SENT, url="https://x/chat/completions")
    ex.status = status
    ex.headers = headers or {"content-type": "text/event-stream"}
    ex.events = [TimedEvent(SENT + ms / 1000, ServerSentEvent(data)) for ms, data in events]
    ex.chunks = [(SENT + ms / 1000, b"data: " + data.encode() + b"\n\n") for ms, data in events]
    if body is not None:
        ex.chunks = [(SENT + 0.001, body)]
    last = max((ms for ms, _ in events), default=1.0)
    ex.ended_at = SENT + (end_ms if end_ms is not None else last) / 1000
    return ex
