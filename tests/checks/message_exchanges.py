"""Exchanges of the Messages surface for the check table: real recordings (fixtures/real-2026),
and copies with one thing broken.

A recording is named `<model>__<scenario>` (`glm-4.6__anthropic-tool-use`). A stream has no
request beside it; it gets its non-streamed sibling's (`anthropic-simple` for
`anthropic-streaming`, `anthropic-tool-use` for `anthropic-tool-use-streaming`) with `stream: true`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from check_exchanges import exchange

from harness.client import Exchange

REAL_2026 = Path(__file__).resolve().parents[2] / "fixtures" / "real-2026"
MESSAGES_URL = "https://api.z.ai/api/anthropic/v1/messages"
SIBLING = {"anthropic-streaming": "anthropic-simple", "anthropic-tool-use-streaming": "anthropic-tool-use"}

Event = tuple[str, Any]  # (the SSE event name, the data: a JSON value or raw text)
Edit = Callable[[Any], Any]


def _file(name: str, suffix: str) -> Path:
    model, scenario = name.split("__")
    return sorted(REAL_2026.glob(f"closeclaw__2026-05-07__{model}__anthropic__{scenario}__*{suffix}"))[0]


def _wrapper(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_file(name, ".json").read_text(encoding="utf-8"))
    return data


def request_of(name: str) -> dict[str, Any]:
    """The request as sent: the wrapper's, with what the script sent beside it put back."""
    model, scenario = name.split("__")
    streamed = scenario in SIBLING
    wrapper = _wrapper(f"{model}__{SIBLING.get(scenario, scenario)}")
    request = dict(wrapper["request"])
    for kept, key in (("max_tokens_sent", "max_tokens"), ("system_sent", "system"), ("tools_sent", "tools")):
        if wrapper.get(kept) is not None:
            request[key] = wrapper[kept]
    return {**request, "stream": True} if streamed else request


def events_of(name: str) -> list[Event]:
    raw = _file(name, ".decoded.sse").read_text(encoding="utf-8")
    return [(block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1].removeprefix("data: ")))
            for block in raw.strip().split("\n\n")]


def sse(events: list[Event]) -> bytes:
    """Events as GLM writes them: `event:` then `data:`, the JSON with ", " and ": " separators."""
    parts = []
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        parts.append(f"event: {name}\ndata: {text}\n\n")
    return "".join(parts).encode()


def _messages(ex: Exchange) -> Exchange:
    ex.url = MESSAGES_URL
    return ex


def m_answer(name: str, edit: Edit | None = None, *, request: Edit | None = None, **kw: Any) -> Exchange:
    """A recorded Message (the first of a cache run, round 1 of a tool-result run), edited."""
    response = _wrapper(name)["response"]
    body = copy.deepcopy(response[0] if isinstance(response, list) else response.get("round1", response))
    sent = copy.deepcopy(request_of(name))
    body = _apply(edit, body)
    sent = _apply(request, sent)
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return _messages(exchange(sent, raw, **kw))


def m_error(name: str, edit: Edit | None = None, *, status: int | None = None, **kw: Any) -> Exchange:
    """A recorded error body with the status it came with (or `status`), edited."""
    response = _wrapper(name)["response"]
    body = _apply(edit, copy.deepcopy(response["body"]))
    raw = json.dumps(body, ensure_ascii=False).encode()
    return _messages(exchange(request_of(name), raw, status=status or response["http_code"], **kw))


def m_stream(name: str, edit: Edit | None = None, *, request: Edit | None = None,
             raw: Callable[[bytes], bytes] | None = None, **kw: Any) -> Exchange:
    """A recorded Messages stream, its events edited (a list of (name, data)) or its bytes."""
    events = _apply(edit, copy.deepcopy(events_of(name)))
    body = sse(events)
    body = raw(body) if raw is not None else body
    return _messages(exchange(_apply(request, copy.deepcopy(request_of(name))), body, **kw))


def _apply(edit: Edit | None, value: Any) -> Any:
    if edit is None:
        return value
    result = edit(value)
    return value if result is None else result
