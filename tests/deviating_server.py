"""A small OpenAI-compatible server that is deliberately *not* GLM, for the harness to judge.

It speaks the OpenAI wire format the way many self-hosted servers do, and so deviates from the
GLM contract on purpose, each deviation one a check should name:

- error bodies carry numeric codes (`{"error": {"code": 401, ...}}`), not GLM's strings;
- bad requests (invalid JSON, empty messages, an unknown role, out-of-range values) get 500;
- any model name is accepted (no 400/1211 for an unknown model);
- answers carry OpenAI's `system_fingerprint` field and `logprobs: null`; usage has `prompt_tokens_details: null`;
- streams send `finish_reason: null` on every chunk but the last, the role only in the first
  delta, no usage at all, and no `data: [DONE]`;
- no reasoning_content, whatever `thinking` says.

`serving(app)` runs it with uvicorn on a free loopback port in a background thread.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

API_KEY = "sk-deviating-server-test-key"
BASE_PATH = "/v1"
_ROLES = {"system", "user", "assistant", "tool"}
_TEXT = ("This is a reply from a server that is not GLM, written one word at a time so that streams have "
         "several chunks and a cut at max_tokens is easy to see in the usage.")
_WORDS = _TEXT.split(" ")


class BadRequest(Exception):
    pass


def _error(status: int, message: str, kind: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"message": message, "type": kind, "param": None, "code": status}}


def _validate(body: Any) -> dict[str, Any]:
    """What this server refuses (with a 500, on purpose): not GLM's rules, OpenAI-ish ones."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages must be a non-empty list")
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise BadRequest(f"invalid message: {message!r}")
    temperature = body.get("temperature")
    if temperature is not None and not (isinstance(temperature, int | float) and 0 <= temperature <= 2):
        raise BadRequest("temperature must be in [0, 2]")
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and not (isinstance(max_tokens, int) and max_tokens >= 1):
        raise BadRequest("max_tokens must be >= 1")
    return body


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _tool_calls(body: dict[str, Any]) -> list[dict[str, Any]]:
    last = body["messages"][-1]
    if last.get("role") != "user":
        return []
    asked = _text(last.get("content"))
    calls = []
    for tool in body.get("tools") or ():
        function = tool.get("function") or {}
        name = function.get("name", "")
        if not name or name.lower() not in asked.lower():
            continue
        calls.append({"id": f"call_{len(calls)}_{abs(hash((name, asked))) % 10**8:08d}", "type": "function",
                      "function": {"name": name, "arguments": json.dumps(_arguments(function, asked))}})
    return calls


def _arguments(function: dict[str, Any], asked: str) -> dict[str, Any]:
    parameters = function.get("parameters") or {}
    properties = parameters.get("properties") or {}
    numbers = iter(re.findall(r"-?\d+", asked))
    place = re.search(r"\bin ([A-Z][\w]*(?:, ?[A-Z][\w]*)?)", asked)
    args: dict[str, Any] = {}
    for name in parameters.get("required", list(properties)):
        kind = (properties.get(name) or {}).get("type", "string")
        if kind in ("integer", "number"):
            args[name] = int(next(numbers, "1"))
        elif kind == "boolean":
            args[name] = True
        else:
            args[name] = place.group(1) if place else "example"
    return args


def _answer(body: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]], str, dict[str, Any]]:
    prompt = sum(len(_text(m.get("content")).split()) + 3 for m in body["messages"])
    calls = _tool_calls(body)
    words = [] if calls else [w if i == 0 else " " + w for i, w in enumerate(_WORDS)]
    finish = "tool_calls" if calls else "stop"
    limit = body.get("max_tokens")
    if limit is not None and len(words) > limit:
        words, finish = words[:limit], "length"
    completion = len(words) + sum(len(c["function"]["arguments"]) // 4 + 1 for c in calls)
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
             "prompt_tokens_details": None}
    return words, calls, finish, usage


def _completion(body: dict[str, Any]) -> dict[str, Any]:
    words, calls, finish, usage = _answer(body)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(words) or None}
    if calls:
        message["tool_calls"] = calls
    return {"id": f"chatcmpl-{time.time_ns()}", "object": "chat.completion", "system_fingerprint": "fp_deviating",
            "created": int(time.time()),
            "model": body.get("model") or "unnamed", "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": usage}


def _chunks(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    words, calls, finish, _ = _answer(body)
    base = {"id": f"chatcmpl-{time.time_ns()}", "object": "chat.completion.chunk",
            "system_fingerprint": "fp_deviating", "created": int(time.time()),
            "model": body.get("model") or "unnamed"}

    def chunk(delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}]}

    yield chunk({"role": "assistant", "content": ""})
    for word in words:
        yield chunk({"content": word})
    for i, call in enumerate(calls):
        yield chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                     "function": {"name": call["function"]["name"], "arguments": ""}}]})
        arguments = call["function"]["arguments"]
        for start in range(0, len(arguments), 8):
            yield chunk({"tool_calls": [{"index": i, "function": {"arguments": arguments[start:start + 8]}}]})
    yield chunk({}, finish)


def _route(method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, bool]:
    """(status, body or chunk iterator, streamed)."""
    if headers.get("authorization", "") != f"Bearer {API_KEY}":
        return (*_error(401, "Invalid API key", "authentication_error"), False)
    if path.rstrip("/") != f"{BASE_PATH}/chat/completions":
        return (*_error(404, f"no route {path}", "not_found_error"), False)
    if method != "POST":
        return (*_error(405, "method not allowed", "invalid_request_error"), False)
    try:
        body = _validate(json.loads(raw))
    except (UnicodeDecodeError, json.JSONDecodeError, BadRequest) as error:
        return (*_error(500, f"Internal Server Error: {error}", "server_error"), False)
    if body.get("stream"):
        return 200, _chunks(body), True
    return 200, _completion(body), False


Route = Callable[[str, str, dict[str, str], bytes], tuple[int, Any, bool]]


def asgi_app(route: Route) -> Any:
    """An ASGI app around `route(method, path, headers, body)` -> (status, body, streamed): a JSON
    body, or for a stream the byte pieces to send one by one."""
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        status, body, streamed = route(scope["method"], scope["path"], headers, raw)
        content_type = b"text/event-stream; charset=utf-8" if streamed else b"application/json"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type)]})
        if streamed:
            for piece in body:
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        else:
            await send({"type": "http.response.body", "body": json.dumps(body).encode(), "more_body": False})

    return app


def _events(method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, bool]:
    status, body, streamed = _route(method, path, headers, raw)
    if streamed:  # ...and no "data: [DONE]"
        body = (b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in body)
    return status, body, streamed


def deviating_app() -> Any:
    return asgi_app(_events)


@contextmanager
def serving(app: Any | None = None) -> Iterator[str]:
    """Serve `app` (default: the deviating server) on 127.0.0.1; yields its base URL (…/v1)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(app or deviating_app(), http="h11", lifespan="off", log_level="warning",
                            access_log=False, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name="deviating-server")
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the deviating server did not start")
            time.sleep(0.005)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}{BASE_PATH}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
