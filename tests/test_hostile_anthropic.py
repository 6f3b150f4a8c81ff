"""Hostile requests to the served twin's Anthropic-compatible surface: each gets the status and
envelope GLM sends on this surface (today's: Anthropic's, GLM's code inside; the recorded 401
for a bad key), never a traceback, a dropped connection or a hang. The twin speaks over real
sockets here, as `glm-harness serve` does; tests/test_hostile_inputs.py has the chat-completions
rows and the CLI's."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from harness.mock import TWIN_KEY, GLMTwin
from harness.mock import asgi as twin_asgi
from harness.mock.engine import MAX_BODY_BYTES
from harness.mock.server import RunningTwin, running_twin

TIMEOUT_S = 45
PATH = "/api/anthropic/v1/messages?beta=true"
UNAUTHORIZED = {"error": {"message": "令牌已过期或验证不正确", "type": "401"}}


def _deep(depth: int, leaf: object = 1) -> object:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def _ask(**changes: object) -> dict[str, object]:
    return {"model": "glm-4.6", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}], **changes}


WEATHER = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}

# name: (body, status, business code or None for the recorded 401)
CASES: dict[str, tuple[bytes, int, str | None]] = {
    "not JSON": (b'{"model": "glm-4.6", "messages": [}', 400, "1210"),
    "invalid UTF-8": (b'{"model": "glm-4.6", "max_tokens": 9, "messages": "\xff\xfe"}', 400, "1210"),
    "JSON nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, 400, "1210"),
    "a 5,001-digit integer": (b'{"model": "glm-4.6", "max_tokens": ' + b"7" * 5001 + b"}", 400, "1210"),
    "a list, not an object": (b"[]", 400, "1210"),
    "a string, not an object": (b'"hello"', 400, "1210"),
    "empty body": (b"", 400, "1210"),
    "model not a string": (_json(_ask(model=["glm-4.6"])), 400, "1211"),
    "max_tokens a word": (_json(_ask(max_tokens="lots")), 400, "1210"),
    "max_tokens negative": (_json(_ask(max_tokens=-1)), 400, "1210"),
    "messages not a list": (_json(_ask(messages="hi")), 400, "1214"),
    "a turn with content 42": (_json(_ask(messages=[{"role": "user", "content": 42}])), 400, "1214"),
    "a block of unknown type": (_json(_ask(messages=[{"role": "user", "content": [{"type": "nope"}]}])),
                                400, "1214"),
    "tool_use input not an object": (_json(_ask(messages=[
        {"role": "assistant", "content": [{"type": "tool_use", "id": "c", "name": "f", "input": "x"}]},
        {"role": "user", "content": "go on"}])), 400, "1214"),
    "tools not a list": (_json(_ask(tools={"name": "x"})), 400, "1210"),
    "tool_choice of unknown type": (_json(_ask(tools=[WEATHER], tool_choice={"type": "sometimes"})), 400, "1210"),
    "thinking budget a string": (_json(_ask(thinking={"type": "enabled", "budget_tokens": "lots"})), 400, "1210"),
    "system a number": (_json(_ask(system=7)), 400, "1210"),
    "input_schema nested 900 deep": (_json(_ask(tools=[{"name": "deep", "input_schema": {
        "type": "object", "properties": {"a": _deep(900)}}}])), None, None),  # type: ignore[dict-item]
    "tool_use input nested 900 deep": (_json(_ask(messages=[
        {"role": "assistant", "content": [{"type": "tool_use", "id": "c", "name": "f", "input": _deep(900)}]},
        {"role": "user", "content": "go on"}])), None, None),  # type: ignore[dict-item]
    "a body over the cap": (b'{"model": "glm-4.6", "messages": [{"role": "user", "content": "'
                            + b"x" * MAX_BODY_BYTES + b'"}]}', 400, "1261"),
}


@pytest.fixture(scope="module")
def served() -> Iterator[RunningTwin]:
    with running_twin(GLMTwin()) as running:
        yield running


def _post(served: RunningTwin, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    url = served.anthropic_base_url.removesuffix("/api/anthropic") + PATH
    sent = {"x-api-key": TWIN_KEY, "content-type": "application/json"} if headers is None else headers
    with httpx.Client(timeout=TIMEOUT_S) as http:
        return http.post(url, content=body, headers=sent)


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_body_gets_the_envelope(name: str, served: RunningTwin) -> None:
    body, status, code = CASES[name]
    response = _post(served, body)
    answer = response.json()
    if status is None:  # deep but legal JSON: refused as invalid or answered, never a 500
        assert response.status_code in (200, 400), response.text[:300]
        if response.status_code == 400:
            assert answer["error"]["code"] in ("1210", "1214")
        return
    assert response.status_code == status, response.text[:300]
    assert answer["type"] == "error" and answer["error"]["code"] == code
    assert answer["error"]["type"] == "invalid_request_error"
    assert answer["error"]["message"].startswith(f"[{code}][")


@pytest.mark.parametrize("headers", [
    {}, {"x-api-key": ""}, {"x-api-key": "x" * 10_000}, {"x-api-key": "a.b.c"},
    {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"},
    {"Authorization": "Bearer e30.e30.e30"},
], ids=["none", "empty", "10k", "three-dots", "basic", "bearer-alone", "jwt-of-nothing"])
def test_hostile_key_gets_the_recorded_401(headers: dict[str, str], served: RunningTwin) -> None:
    response = _post(served, _json(_ask()), headers={"content-type": "application/json", **headers})
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_get_is_405_after_auth(served: RunningTwin) -> None:
    url = served.anthropic_base_url + "/v1/messages"
    with httpx.Client(timeout=TIMEOUT_S) as http:
        assert http.get(url, headers={"x-api-key": TWIN_KEY}).status_code == 405
        assert http.get(url).status_code == 401


def test_ambiguous_framing_is_nginxs_400(served: RunningTwin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(twin_asgi, "BODY_TIMEOUT_S", 1.0)
    body = _json(_ask())
    head = (b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: twin\r\nx-api-key: " + TWIN_KEY.encode()
            + b"\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n")
    with socket.create_connection(("127.0.0.1", served.port), timeout=TIMEOUT_S) as sock:
        sock.sendall(head + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
        received = b""
        while b"</html>" not in received and (chunk := sock.recv(65536)):
            received += chunk
    assert received.startswith(b"HTTP/1.1 400 ") and b"400 Bad Request" in received
