"""A small server that answers the way OpenAI documents its chat-completions API, for the harness to
judge under `--glm-profile openai-compatible` and find nothing wrong.

Where OpenAI and GLM differ it does what OpenAI does (API reference, "Error codes" and the
chat-completions parameters): an unknown model is 404 with `code: "model_not_found"`; errors are
`{"error": {"message", "type", "param", "code": <string or null>}}`; `top_p: 0`, the developer
role, a temperature up to 2 and `tool_choice: "required"` are taken; a named `tool_choice` calls
that tool; a stream sends usage only when asked (`stream_options.include_usage`), in one more chunk
with `choices: []`, then `data: [DONE]`. Answers and streams come from tests/deviating_server.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from deviating_server import API_KEY, BASE_PATH, _chunks, _completion, _text, asgi_app

MODEL = "some-openai-model"
_ROLES = {"system", "developer", "user", "assistant", "tool"}

__all__ = ["API_KEY", "MODEL", "openai_like_app"]


class Refused(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _validate(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Refused(400, "We could not parse the JSON body of your request.") from None
    if not isinstance(body, dict):
        raise Refused(400, "The request body must be a JSON object.")
    if body.get("model") != MODEL:
        raise Refused(404, f"The model `{body.get('model')}` does not exist or you do not have access to it.",
                      code="model_not_found")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Refused(400, "[] is too short - 'messages'", "messages", "empty_array")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise Refused(400, f"Invalid value for 'messages[{i}].role'.", f"messages[{i}].role", "invalid_value")
    _in_range(body, "temperature", 0, 2)
    _in_range(body, "top_p", 0, 1)
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise Refused(400, f"Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, "
                      f"but got {max_tokens} instead.", "max_tokens", "integer_below_min_value")
    return body


def _in_range(body: dict[str, Any], name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is not None and not (isinstance(value, int | float) and low <= value <= high):
        raise Refused(400, f"Invalid '{name}': expected a value in [{low}, {high}], but got {value} instead.",
                      name, "decimal_above_max_value" if isinstance(value, int | float) and value > high
                      else "invalid_value")


def _chosen(body: dict[str, Any]) -> dict[str, Any]:
    """The body as the deviating server's answer needs it to call the tool `tool_choice` names:
    that tool for a named choice, the first tool for "required"."""
    choice, tools = body.get("tool_choice"), body.get("tools") or []
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        tools = [t for t in tools if (t.get("function") or {}).get("name") == name]
    elif choice == "required":
        tools = tools[:1]
    else:
        return body
    if not tools:
        return body
    named = " ".join((t.get("function") or {}).get("name", "") for t in tools)
    last = {"role": "user", "content": f"{_text(body['messages'][-1].get('content'))} ({named})"}
    return {**body, "tools": tools, "messages": [*body["messages"][:-1], last]}


def _stream(body: dict[str, Any]) -> Iterator[bytes]:
    chunks = list(_chunks(body))
    for chunk in chunks:
        yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = _completion(body)["usage"]
        last = {k: v for k, v in chunks[-1].items() if k != "choices"}
        yield b"data: " + json.dumps({**last, "choices": [], "usage": usage}).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"


def _route(method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, bool]:
    if headers.get("authorization", "") != f"Bearer {API_KEY}":
        raise Refused(401, "Incorrect API key provided.", code="invalid_api_key")
    if path.rstrip("/") != f"{BASE_PATH}/chat/completions" or method != "POST":
        raise Refused(404, f"Invalid URL ({method} {path})")
    body = _chosen(_validate(raw))
    if body.get("stream"):
        return 200, _stream(body), True
    answer = _completion(body)
    answer.pop("system_fingerprint", None)
    return 200, answer, False


def _answer(method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, bool]:
    try:
        return _route(method, path, headers, raw)
    except Refused as refused:
        return refused.status, refused.body, False


def openai_like_app() -> Any:
    return asgi_app(_answer)
