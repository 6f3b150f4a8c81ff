"""The GLM twin's engine, driven directly through `GLMTwin.handle` (no HTTP)."""

# The recorded GLM messages use full-width punctuation on purpose.

from __future__ import annotations

import itertools
import json
import re
import statistics
import time
from typing import Any

import jsonschema
import pytest

from harness.contract import ChatCompletion, ChatCompletionChunk, ErrorBody, Mode, validate
from harness.contract.catalogue import CONCURRENCY_MESSAGE_EN
from harness.mock import (
    EMPTY_BALANCE_KEY,
    EXPIRED_KEY,
    TWIN_KEY,
    Fault,
    FaultSpec,
    GLMTwin,
    Limits,
    Reply,
    Style,
    Timing,
    TwinConfig,
    WireRequest,
    parse_fault,
)
from harness.mock.tokens import count_tokens
from harness.sse import decode_all
from harness.stream import read_stream

PATH = "/api/paas/v4/chat/completions"
AUTH = {"Authorization": f"Bearer {TWIN_KEY}"}
JSON_TYPE = "application/json; charset=UTF-8"
SSE_TYPE = "text/event-stream;charset=UTF-8"
DONE = b"data: [DONE]\n\n"

WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Get weather information for a location",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string", "description": "the city"}},
            "required": ["location"],
        },
    },
}


def _number_tool(name: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} two numbers",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"],
            },
        },
    }


ADD, MULTIPLY = _number_tool("add"), _number_tool("multiply")
WEATHER_Q = "What's the weather in Florence, Italy?"
MATH_Q = "Add and multiply 2 and 3"


def body(content: str = "Hello there", model: str = "glm-4.6", **fields: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **fields}


def wire(payload: Any = None, *, raw: bytes | None = None, headers: dict[str, str] | None = None,
         method: str = "POST", path: str = PATH) -> WireRequest:
    data = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
    return WireRequest(method, path, AUTH if headers is None else headers, data)


def send(twin: GLMTwin, payload: Any = None, **kwargs: Any) -> Reply:
    return twin.handle(wire(payload, **kwargs))


def error_of(reply: Reply) -> tuple[int, str, str]:
    assert reply.script is None
    assert reply.headers["Content-Type"] == JSON_TYPE
    data = json.loads(reply.body)
    assert set(data) == {"error"}
    return reply.status, data["error"]["code"], data["error"]["message"]


def completion(twin: GLMTwin, payload: dict[str, Any]) -> dict[str, Any]:
    reply = send(twin, {**payload, "stream": False})
    assert reply.status == 200, reply.body
    reply.close()
    return json.loads(reply.body)


def stream(twin: GLMTwin, payload: dict[str, Any]) -> Reply:
    reply = send(twin, {**payload, "stream": True})
    assert reply.status == 200, reply.body
    assert reply.script is not None
    return reply


def events(reply: Reply) -> list[bytes]:
    assert reply.script is not None
    return [step.data for step in reply.script]


def chunks(reply: Reply) -> list[dict[str, Any]]:
    """The scripted stream's chunks, framed as GLM frames them, read by harness.stream."""
    for data in events(reply):
        assert data.startswith(b"data: ") and data.endswith(b"\n\n"), data
    decoded, violations = decode_all(b"".join(events(reply)))
    assert violations == []
    return [e.data for e in read_stream(decoded).events]


def stream_chunks(twin: GLMTwin, payload: dict[str, Any]) -> list[dict[str, Any]]:
    reply = stream(twin, payload)
    reply.close()
    return chunks(reply)


def deltas(chunk_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in chunk_list]


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------------------------------------
# Errors, in the order the gateway checks them
# ---------------------------------------------------------------------------------------------

MSG_1000 = "Authentication Failed"
MSG_1001 = "Authorization Token Missing"
MSG_1002 = ("Authorization Token is invalid, please ensure that the Authorization Token is "
            "correctly provided.")
MSG_1003 = "Authentication Token expired, please regenerate/obtain"
MSG_1113 = "Insufficient balance or no resource package. Please recharge."
MSG_1210 = "Invalid API parameter, please check the documentation."
MSG_1211 = "Unknown Model, please check the model code."
MSG_1213 = "The prompt parameter was not received normally"
MSG_1214 = "The messages parameter is illegal. Please check the documentation."
MSG_1261 = "Prompt exceeds max length"
MSG_1302 = "Rate limit reached for requests"


def test_missing_authorization() -> None:
    assert error_of(send(GLMTwin(), body(), headers={})) == (401, "1001", MSG_1001)


def test_empty_authorization() -> None:
    reply = send(GLMTwin(), body(), headers={"Authorization": ""})
    assert error_of(reply) == (401, "1001", MSG_1001)


@pytest.mark.parametrize(
    "value",
    ["Bearer nope", "Bearer", f"Basic {TWIN_KEY}", TWIN_KEY, f"Bearer {TWIN_KEY}.extra",
     "Bearer a b.c"],
)
def test_malformed_token(value: str) -> None:
    reply = send(GLMTwin(), body(), headers={"Authorization": value})
    assert error_of(reply) == (401, "1002", MSG_1002)


@pytest.mark.parametrize("key", ["abc.def", "0123456789abcdef.NotARealKey", TWIN_KEY.upper()])
def test_unknown_well_formed_key(key: str) -> None:
    reply = send(GLMTwin(), body(), headers={"Authorization": f"Bearer {key}"})
    assert error_of(reply) == (401, "1000", MSG_1000)


@pytest.mark.parametrize("header", ["authorization", "AUTHORIZATION", "Authorization"])
def test_authorization_header_case_insensitive(header: str) -> None:
    reply = send(GLMTwin(), body(), headers={header: f"bearer {TWIN_KEY}"})
    assert reply.status == 200


def test_expired_key() -> None:
    reply = send(GLMTwin(), body(), headers={"Authorization": f"Bearer {EXPIRED_KEY}"})
    assert error_of(reply) == (401, "1003", MSG_1003)


def test_empty_balance_key() -> None:
    reply = send(GLMTwin(), body(), headers={"Authorization": f"Bearer {EMPTY_BALANCE_KEY}"})
    assert error_of(reply) == (429, "1113", MSG_1113)


def test_get_without_auth_is_401_not_405() -> None:
    reply = send(GLMTwin(), None, method="GET", headers={})
    assert error_of(reply) == (401, "1001", MSG_1001)


def test_unknown_path_without_auth_is_401() -> None:
    reply = send(GLMTwin(), body(), path="/api/paas/v4/nothing", headers={})
    assert error_of(reply) == (401, "1001", MSG_1001)


@pytest.mark.parametrize(
    "path", ["/api/paas/v4/models", "/chat/completions", "/api/paas/v3/chat/completions"])
def test_unknown_path(path: str) -> None:
    status, code, _ = error_of(send(GLMTwin(), body(), path=path))
    assert (status, code) == (404, "404")


@pytest.mark.parametrize(
    "path",
    ["/api/paas/v4/chat/completions", "/api/coding/paas/v4/chat/completions",
     "/v1/chat/completions", "/api/paas/v4/chat/completions/"],
)
def test_known_paths(path: str) -> None:
    assert send(GLMTwin(), body(), path=path).status == 200


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_wrong_method_with_auth(method: str) -> None:
    status, code, _ = error_of(send(GLMTwin(), None, method=method))
    assert (status, code) == (405, "405")


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b"[1, 2]", b'"text"', b"null"])
def test_malformed_json(raw: bytes) -> None:
    assert error_of(send(GLMTwin(), raw=raw)) == (400, "1210", MSG_1210)


@pytest.mark.parametrize("model", ["gpt-4o", "glm-9", "", None, 46])
def test_unknown_model(model: Any) -> None:
    assert error_of(send(GLMTwin(), body(model=model))) == (400, "1211", MSG_1211)


def test_empty_messages() -> None:
    payload = {"model": "glm-4.6", "messages": []}
    assert error_of(send(GLMTwin(), payload)) == (400, "1214", MSG_1214)


@pytest.mark.parametrize("role", ["developer", "function", "bot"])
def test_invalid_role(role: str) -> None:
    payload = {"model": "glm-4.6", "messages": [{"role": role, "content": "hi"}]}
    assert error_of(send(GLMTwin(), payload)) == (400, "1214", "角色信息不正确")


@pytest.mark.parametrize("content", ["", "   ", "\n\t", []])
def test_empty_user_content(content: Any) -> None:
    assert error_of(send(GLMTwin(), body(content=content))) == (400, "1213", MSG_1213)


def test_only_system_message() -> None:
    payload = {"model": "glm-4.6", "messages": [{"role": "system", "content": "Be brief."}]}
    assert error_of(send(GLMTwin(), payload)) == (400, "1214", MSG_1214)


def test_only_assistant_and_system_messages() -> None:
    payload = {"model": "glm-4.6", "messages": [
        {"role": "system", "content": "Be brief."}, {"role": "assistant", "content": "Hi"}]}
    assert error_of(send(GLMTwin(), payload)) == (400, "1214", MSG_1214)


@pytest.mark.parametrize("value", [1.5, -0.1, 2])
def test_temperature_out_of_range(value: float) -> None:
    reply = send(GLMTwin(), body(temperature=value))
    assert error_of(reply) == (400, "1210", "The temperature parameter is illegal.")


def test_temperature_three_decimals() -> None:
    status, code, message = error_of(send(GLMTwin(), body(temperature=0.123)))
    assert (status, code) == (400, "1210")
    assert message == "The temperature parameter is illegal.：限制小数点[2]位"
    assert message.endswith("限制小数点[2]位")


def test_top_p_out_of_range() -> None:
    reply = send(GLMTwin(), body(top_p=0))
    assert error_of(reply) == (400, "1210", "The top_p parameter is illegal.")


@pytest.mark.parametrize(
    ("model", "high"),
    [("glm-4.6", 131072), ("glm-4.7", 131072), ("glm-4.5", 98304), ("glm-4.5-flash", 98304)],
)
def test_max_tokens_over_the_card(model: str, high: int) -> None:
    reply = send(GLMTwin(), body(model=model, max_tokens=200000))
    expected = f"The max_tokens parameter is illegal.：限制数值范围[1,{high}]"
    assert error_of(reply) == (400, "1210", expected)


@pytest.mark.parametrize(("model", "high"), [("glm-4.6", 131072), ("glm-4.5", 98304)])
def test_max_tokens_at_the_card_limit_accepted(model: str, high: int) -> None:
    assert send(GLMTwin(), body(model=model, max_tokens=high)).status == 200


def test_max_tokens_zero() -> None:
    reply = send(GLMTwin(), body(max_tokens=0))
    assert error_of(reply) == (400, "1210", "The max_tokens parameter is illegal.")


def test_max_tokens_message_in_chinese() -> None:
    twin = GLMTwin(TwinConfig(locale="zh"))
    reply = send(twin, body(max_tokens=200000))
    assert error_of(reply) == (400, "1210", "max_tokens参数非法：限制数值范围[1,131072]")


def test_auth_message_in_chinese() -> None:
    twin = GLMTwin(TwinConfig(locale="zh"))
    reply = send(twin, body(), headers={})
    assert error_of(reply) == (401, "1001", "Header中未收到Authorization参数，无法进行身份验证。")


@pytest.mark.parametrize("model", ["glm-4.1v-thinking-flash", "glm-4.5v"])
def test_thinking_disabled_refused(model: str) -> None:
    status, code, message = error_of(
        send(GLMTwin(), body(model=model, thinking={"type": "disabled"})))
    assert (status, code) == (400, "1210")
    assert message.startswith("The thinking parameter is illegal.：")


@pytest.mark.parametrize("model", ["glm-5", "glm-4.5v"])
def test_thinking_enabled_accepted_on_always_thinking(model: str) -> None:
    assert send(GLMTwin(), body(model=model, thinking={"type": "enabled"})).status == 200


def test_prompt_larger_than_context_window() -> None:
    long = "word " * (200 * 1024 + 100)
    assert error_of(send(GLMTwin(), body(content=long))) == (400, "1261", MSG_1261)


def test_prompt_within_glm46_but_over_glm45v_window() -> None:
    text = "word " * (70 * 1024)
    assert error_of(send(GLMTwin(), body(model="glm-4.5v", content=text)))[1] == "1261"
    assert send(GLMTwin(), body(model="glm-4.6", content=text)).status == 200


@pytest.mark.parametrize(
    "reply_of",
    [
        lambda t: send(t, body(), headers={}),
        lambda t: send(t, body(), headers={"Authorization": "Bearer nope"}),
        lambda t: send(t, body(model="nope")),
        lambda t: send(t, raw=b"{"),
        lambda t: send(t, body(temperature=0.123)),
        lambda t: send(t, body(max_tokens=10**6)),
        lambda t: send(t, None, method="GET"),
        lambda t: send(t, body(), path="/nope"),
    ],
    ids=["1001", "1002", "1211", "1210-json", "1210-decimals", "1210-range", "405", "404"],
)
def test_error_bodies_are_strict_valid(reply_of: Any) -> None:
    twin = GLMTwin()
    reply = reply_of(twin)
    assert reply.status >= 400
    assert reply.headers["Content-Type"] == JSON_TYPE
    result = validate(ErrorBody, json.loads(reply.body), Mode.STRICT)
    assert result.findings == []
    assert twin.in_flight(TWIN_KEY) == 0


def test_requests_are_recorded() -> None:
    twin = GLMTwin()
    first, second = wire(body()), wire(body(), headers={})
    twin.handle(first)
    twin.handle(second)
    assert list(twin.requests) == [first, second]


# ---------------------------------------------------------------------------------------------
# Rate limit and concurrency
# ---------------------------------------------------------------------------------------------


def test_rate_limit() -> None:
    clock = FakeClock()
    twin = GLMTwin(TwinConfig(limits=Limits(requests=2, per_seconds=60)), clock=clock)
    assert send(twin, body()).status == 200
    clock.now += 10
    assert send(twin, body()).status == 200
    clock.now += 10
    reply = send(twin, body())
    assert error_of(reply) == (429, "1302", MSG_1302)
    assert "Retry-After" not in reply.headers


def test_rate_limit_retry_after() -> None:
    clock = FakeClock(0.0)
    limits = Limits(requests=2, per_seconds=60, retry_after=True)
    twin = GLMTwin(TwinConfig(limits=limits), clock=clock)
    assert send(twin, body()).status == 200
    clock.now = 10.5
    assert send(twin, body()).status == 200
    clock.now = 20.25
    reply = send(twin, body())
    assert error_of(reply) == (429, "1302", MSG_1302)
    assert reply.headers["Retry-After"] == "40"  # the oldest request leaves the window at 60
    clock.now = 59.5
    assert send(twin, body()).headers["Retry-After"] == "1"


def test_rate_limit_window_slides() -> None:
    clock = FakeClock(0.0)
    twin = GLMTwin(TwinConfig(limits=Limits(requests=2, per_seconds=60)), clock=clock)
    assert [send(twin, body()).status for _ in range(3)] == [200, 200, 429]
    clock.now = 59.999
    assert send(twin, body()).status == 429
    clock.now = 60.0
    assert [send(twin, body()).status for _ in range(3)] == [200, 200, 429]


def test_rate_limit_is_per_key() -> None:
    other = "1111111111111111.OtherTwinKey"
    keys = {TWIN_KEY: TwinConfig().keys[TWIN_KEY], other: TwinConfig().keys[TWIN_KEY]}
    twin = GLMTwin(TwinConfig(keys=keys, limits=Limits(requests=1)), clock=FakeClock())
    assert send(twin, body()).status == 200
    assert send(twin, body()).status == 429
    assert send(twin, body(), headers={"Authorization": f"Bearer {other}"}).status == 200


def test_concurrency_limit() -> None:
    twin = GLMTwin(TwinConfig(limits=Limits(max_concurrency=1)))
    first = stream(twin, body())
    assert twin.in_flight(TWIN_KEY) == 1
    rejected = send(twin, body(stream=True))
    assert error_of(rejected) == (429, "1302", CONCURRENCY_MESSAGE_EN)
    assert "Retry-After" not in rejected.headers
    assert twin.in_flight(TWIN_KEY) == 1
    first.close()
    assert twin.in_flight(TWIN_KEY) == 0
    first.close()
    assert twin.in_flight(TWIN_KEY) == 0
    second = stream(twin, body())
    assert twin.in_flight(TWIN_KEY) == 1
    first.close()  # a stale close must not free someone else's slot
    assert twin.in_flight(TWIN_KEY) == 1
    assert send(twin, body()).status == 429
    second.close()
    assert twin.in_flight(TWIN_KEY) == 0


def test_concurrency_retry_after() -> None:
    twin = GLMTwin(TwinConfig(limits=Limits(max_concurrency=1, retry_after=True)))
    stream(twin, body())
    assert send(twin, body()).headers["Retry-After"] == "1"


def test_concurrency_counts_non_streamed_replies_until_closed() -> None:
    twin = GLMTwin(TwinConfig(limits=Limits(max_concurrency=2)))
    a, b = send(twin, body()), send(twin, body())
    assert (a.status, b.status, twin.in_flight(TWIN_KEY)) == (200, 200, 2)
    assert send(twin, body()).status == 429
    a.close()
    assert send(twin, body()).status == 200


def test_rejected_requests_take_no_slot() -> None:
    twin = GLMTwin(TwinConfig(limits=Limits(max_concurrency=1)))
    for payload in (body(model="nope"), body(temperature=3), {"model": "glm-4.6"}):
        assert send(twin, payload).status == 400
    assert twin.in_flight(TWIN_KEY) == 0
    assert send(twin, body()).status == 200


def test_content_types() -> None:
    twin = GLMTwin()
    assert send(twin, body()).headers["Content-Type"] == JSON_TYPE
    assert send(twin, body(stream=True)).headers["Content-Type"] == SSE_TYPE
    assert send(twin, body(model="nope")).headers["Content-Type"] == JSON_TYPE


# ---------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------


def test_plain_text() -> None:
    data = completion(GLMTwin(), body("Tell me about Rome"))
    choice = data["choices"][0]
    assert choice["finish_reason"] == "stop"
    message = choice["message"]
    assert message["role"] == "assistant"
    assert message["content"] and message["reasoning_content"]
    assert "tool_calls" not in message
    assert data["request_id"] == data["id"]


def test_request_id_echoed() -> None:
    data = completion(GLMTwin(), body(request_id="my-request-42"))
    assert data["request_id"] == "my-request-42"


def test_plain_text_stream_reasoning_then_content() -> None:
    ds = deltas(stream_chunks(GLMTwin(), body("Tell me about Rome")))
    kinds = ["r" if "reasoning_content" in d else "c" for d in ds[:-1]]
    assert kinds.count("r") == Style().reasoning_tokens
    assert kinds.count("c") == Style().reply_tokens
    assert "".join(kinds) == "r" * kinds.count("r") + "c" * kinds.count("c")


@pytest.mark.parametrize("stream_it", [False, True])
def test_thinking_disabled_has_no_reasoning(stream_it: bool) -> None:
    payload = body("Tell me about Rome", thinking={"type": "disabled"})
    twin = GLMTwin()
    if stream_it:
        raw = b"".join(events(stream(twin, payload)))
        assert b"reasoning_content" not in raw
        assert len(chunks(send(twin, {**payload, "stream": True}))) == Style().reply_tokens + 1
    else:
        data = completion(twin, payload)
        assert "reasoning_content" not in data["choices"][0]["message"]
        assert data["usage"]["completion_tokens"] == Style().reply_tokens


@pytest.mark.parametrize("stream_it", [False, True])
def test_tool_call_weather(stream_it: bool) -> None:
    payload = body(WEATHER_Q, tools=[WEATHER], tool_choice="auto")
    if stream_it:
        cs = stream_chunks(GLMTwin(), payload)
        calls = [call for d in deltas(cs) for call in d.get("tool_calls", ())]
        finish = cs[-1]["choices"][0]["finish_reason"]
    else:
        choice = completion(GLMTwin(), payload)["choices"][0]
        calls, finish = choice["message"]["tool_calls"], choice["finish_reason"]
        assert isinstance(choice["message"]["content"], str)  # 2026: a sentence beside the calls
        assert "content" not in completion(GLMTwin(profile="2025"), payload)["choices"][0]["message"]
    assert finish == "tool_calls"
    assert len(calls) == 1
    call = calls[0]
    assert call["type"] == "function" and call["index"] == 0
    assert re.fullmatch(r"call_-\d{1,19}", call["id"])
    assert call["function"]["name"] == "weather"
    arguments = json.loads(call["function"]["arguments"])
    jsonschema.validate(arguments, WEATHER["function"]["parameters"])
    assert set(arguments) == {"location"}
    assert arguments["location"].startswith("Florence")


def test_no_matching_tool_answers_in_text() -> None:
    choice = completion(GLMTwin(), body("Tell me a joke", tools=[WEATHER]))["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert "tool_calls" not in choice["message"]


@pytest.mark.parametrize("stream_it", [False, True])
def test_parallel_tool_calls(stream_it: bool) -> None:
    payload = body(MATH_Q, tools=[ADD, MULTIPLY])
    if stream_it:
        cs = stream_chunks(GLMTwin(), payload)
        calls = [call for d in deltas(cs) for call in d.get("tool_calls", ())]
        finish = cs[-1]["choices"][0]["finish_reason"]
    else:
        choice = completion(GLMTwin(), payload)["choices"][0]
        calls, finish = choice["message"]["tool_calls"], choice["finish_reason"]
    assert finish == "tool_calls"
    assert [c["index"] for c in calls] == [0, 1]
    assert [c["function"]["name"] for c in calls] == ["add", "multiply"]
    assert len({c["id"] for c in calls}) == 2
    for call, tool in zip(calls, (ADD, MULTIPLY), strict=True):
        arguments = json.loads(call["function"]["arguments"])
        jsonschema.validate(arguments, tool["function"]["parameters"])
        assert arguments == {"a": 2, "b": 3}


def _second_turn(stream_it: bool = False) -> dict[str, Any]:
    first = completion(GLMTwin(), body(MATH_Q, tools=[ADD, MULTIPLY]))
    calls = first["choices"][0]["message"]["tool_calls"]
    messages = [
        {"role": "user", "content": MATH_Q},
        {"role": "assistant", "content": "", "tool_calls": calls},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "sum=5"},
        {"role": "tool", "tool_call_id": calls[1]["id"], "content": "product=6"},
    ]
    return {"model": "glm-4.6", "messages": messages, "tools": [ADD, MULTIPLY],
            "stream": stream_it}


def test_second_turn_uses_tool_results() -> None:
    choice = completion(GLMTwin(), _second_turn())["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert "tool_calls" not in choice["message"]
    assert "sum=5" in choice["message"]["content"]
    assert "product=6" in choice["message"]["content"]


def test_second_turn_streamed_matches() -> None:
    text = completion(GLMTwin(), _second_turn())["choices"][0]["message"]["content"]
    cs = stream_chunks(GLMTwin(), _second_turn(True))
    assert "".join(d.get("content", "") for d in deltas(cs)) == text


@pytest.mark.parametrize("thinking", ["enabled", "disabled"])
@pytest.mark.parametrize("limit", [1, 5, 20])
def test_max_tokens_cuts(limit: int, thinking: str) -> None:
    payload = body("Tell me about Rome", max_tokens=limit, thinking={"type": thinking})
    data = completion(GLMTwin(), payload)
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["usage"]["completion_tokens"] == limit
    cs = stream_chunks(GLMTwin(), payload)
    assert cs[-1]["choices"][0]["finish_reason"] == "length"
    assert len(cs) - 1 == limit
    assert cs[-1]["usage"]["completion_tokens"] == limit


def test_max_tokens_drops_tool_calls() -> None:
    data = completion(GLMTwin(), body(WEATHER_Q, tools=[WEATHER], max_tokens=5))
    choice = data["choices"][0]
    assert choice["finish_reason"] == "length"
    assert "tool_calls" not in choice["message"]
    assert data["usage"]["completion_tokens"] == 5


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(body("Tell me about Rome", max_tokens=5), id="plain"),
        pytest.param(body(WEATHER_Q, tools=[WEATHER], max_tokens=5), id="tool"),
        pytest.param(body("hi", max_tokens=7, thinking={"type": "disabled"}), id="no-thinking"),
        pytest.param(body("Please TWIN-SENSITIVE", max_tokens=5), id="sensitive"),
    ],
)
def test_max_tokens_caps_completion_tokens(payload: dict[str, Any]) -> None:
    data = completion(GLMTwin(), payload)
    assert data["usage"]["completion_tokens"] <= payload["max_tokens"]


@pytest.mark.parametrize("stream_it", [False, True])
def test_sensitive(stream_it: bool) -> None:
    payload = body("Tell me about TWIN-SENSITIVE things")
    if stream_it:
        cs = stream_chunks(GLMTwin(), payload)
        assert cs[-1]["choices"][0]["finish_reason"] == "sensitive"
        assert all("finish_reason" not in c["choices"][0] for c in cs[:-1])
    else:
        assert completion(GLMTwin(), payload)["choices"][0]["finish_reason"] == "sensitive"


def test_sensitive_term_configurable() -> None:
    twin = GLMTwin(TwinConfig(style=Style(sensitive_terms=("forbidden",))))
    assert completion(twin, body("a forbidden word"))["choices"][0]["finish_reason"] == "sensitive"
    assert completion(twin, body("TWIN-SENSITIVE"))["choices"][0]["finish_reason"] == "stop"


def test_style_sets_lengths() -> None:
    twin = GLMTwin(TwinConfig(style=Style(reply_tokens=7, reasoning_tokens=3)))
    assert completion(twin, body("hello"))["usage"]["completion_tokens"] == 10


USAGE_CASES = {
    "plain": body("Tell me about Rome"),
    "no-thinking": body("Tell me about Rome", thinking={"type": "disabled"}),
    "tool": body(WEATHER_Q, tools=[WEATHER]),
    "tool-stream": body(WEATHER_Q, tools=[WEATHER], tool_stream=True),
    "parallel": body(MATH_Q, tools=[ADD, MULTIPLY]),
    "parallel-tool-stream": body(MATH_Q, tools=[ADD, MULTIPLY], tool_stream=True),
    "length": body("Tell me about Rome", max_tokens=9),
    "sensitive": body("TWIN-SENSITIVE"),
    "glm-4.5": body("Tell me about Rome", model="glm-4.5"),
}


@pytest.mark.parametrize("payload", list(USAGE_CASES.values()), ids=list(USAGE_CASES))
def test_usage_consistent(payload: dict[str, Any]) -> None:
    cs = stream_chunks(GLMTwin(), payload)
    usage = cs[-1]["usage"]
    text_tokens = sum(1 for d in deltas(cs) if d.get("reasoning_content") or d.get("content"))
    calls = [c for d in deltas(cs) for c in d.get("tool_calls", ()) if "id" in c]
    arguments = {
        call["index"]: "".join(
            c["function"].get("arguments", "")
            for d in deltas(cs) for c in d.get("tool_calls", ()) if c["index"] == call["index"])
        for call in calls
    }
    tool_tokens = sum(count_tokens(c["function"]["name"] + arguments[c["index"]]) for c in calls)
    assert usage["completion_tokens"] == text_tokens + tool_tokens
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens"] > 0
    whole = completion(GLMTwin(), payload)["usage"]
    assert whole == usage


def test_prompt_tokens_grow_with_the_prompt() -> None:
    short = completion(GLMTwin(), body("hi"))["usage"]["prompt_tokens"]
    longer = completion(GLMTwin(), body(" ".join(["hi"] * 50)))["usage"]["prompt_tokens"]
    assert longer == short + 49
    trailing = completion(GLMTwin(), body("hi "))["usage"]["prompt_tokens"]
    assert trailing == short + 1  # trailing whitespace is a token of its own
    with_tools = completion(GLMTwin(), body("hi", tools=[WEATHER]))["usage"]["prompt_tokens"]
    assert with_tools > short


@pytest.mark.parametrize("payload", list(USAGE_CASES.values()), ids=list(USAGE_CASES))
def test_deterministic(payload: dict[str, Any]) -> None:
    twin = GLMTwin()
    first, second = completion(twin, payload), completion(twin, payload)
    other = completion(GLMTwin(), payload)
    assert first["choices"] == second["choices"] == other["choices"]
    assert stream_chunks(twin, payload)[:-1] != []
    a = [c["choices"] for c in stream_chunks(GLMTwin(), payload)]
    b = [c["choices"] for c in stream_chunks(GLMTwin(), payload)]
    assert a == b


def test_different_questions_differ() -> None:
    a = completion(GLMTwin(), body("Tell me about Rome"))["choices"][0]["message"]["content"]
    b = completion(GLMTwin(), body("Tell me about Paris"))["choices"][0]["message"]["content"]
    assert a != b


def test_cached_tokens_on_repeated_prefix() -> None:
    twin = GLMTwin()
    system = {"role": "system", "content": "You are a helpful assistant. " * 20}
    first = {"model": "glm-4.6", "messages": [system, {"role": "user", "content": "hi"}]}
    assert completion(twin, first)["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    second = {"model": "glm-4.6", "messages": [system, {"role": "user", "content": "more"}]}
    assert completion(twin, second)["usage"]["prompt_tokens_details"]["cached_tokens"] > 0
    # the cache is per key: a fresh twin has seen nothing
    assert completion(GLMTwin(), second)["usage"]["prompt_tokens_details"]["cached_tokens"] == 0


@pytest.mark.parametrize("tools", [None, [WEATHER]])
def test_cached_tokens_never_exceed_prompt_tokens(tools: Any) -> None:
    twin = GLMTwin()
    payload = {"model": "glm-4.6", "tools": tools, "messages": [
        {"role": "system", "content": "You are helpful"}, {"role": "user", "content": "hi"}]}
    if tools is None:
        del payload["tools"]
    completion(twin, payload)
    usage = completion(twin, payload)["usage"]
    assert 0 < usage["prompt_tokens_details"]["cached_tokens"] <= usage["prompt_tokens"]


@pytest.mark.parametrize("payload", [body(WEATHER_Q, tools=[WEATHER]),
                                     body(MATH_Q, tools=[ADD, MULTIPLY])], ids=["one", "two"])
def test_tool_stream_fragments(payload: dict[str, Any]) -> None:
    whole = completion(GLMTwin(), payload)["choices"][0]["message"]["tool_calls"]
    ds = deltas(stream_chunks(GLMTwin(), {**payload, "tool_stream": True}))
    tool_deltas = [d for d in ds if "tool_calls" in d]
    for call in whole:
        mine = [c for d in tool_deltas for c in d["tool_calls"] if c["index"] == call["index"]]
        head, fragments = mine[0], mine[1:]
        assert head["id"] == call["id"]
        assert head["type"] == "function"
        assert head["function"] == {"name": call["function"]["name"], "arguments": ""}
        assert len(fragments) > 1
        for fragment in fragments:
            assert set(fragment) == {"index", "function"}
            assert set(fragment["function"]) == {"arguments"}
            assert fragment["function"]["arguments"]
        joined = "".join(f["function"]["arguments"] for f in fragments)
        assert joined == call["function"]["arguments"]
    assert all("role" not in d for d in tool_deltas)
    assert all(len(d["tool_calls"]) == 1 for d in tool_deltas)


@pytest.mark.parametrize("payload", [body(WEATHER_Q, tools=[WEATHER]),
                                     body(MATH_Q, tools=[ADD, MULTIPLY])], ids=["one", "two"])
def test_tool_call_whole_without_tool_stream(payload: dict[str, Any]) -> None:
    whole = completion(GLMTwin(), payload)["choices"][0]["message"]["tool_calls"]
    ds = deltas(stream_chunks(GLMTwin(), payload))
    tool_deltas = [d for d in ds if "tool_calls" in d]
    assert len(tool_deltas) == len(whole)
    for delta, call in zip(tool_deltas, whole, strict=True):
        assert set(delta) == {"tool_calls"}  # no role, as recorded
        assert delta["tool_calls"] == [call]


# ---------------------------------------------------------------------------------------------
# Streams in shape
# ---------------------------------------------------------------------------------------------

SHAPE_CASES = {
    "plain": body("Tell me about Rome"),
    "no-thinking": body("Tell me about Rome", thinking={"type": "disabled"}),
    "tool": body(WEATHER_Q, tools=[WEATHER]),
    "tool-stream": body(MATH_Q, tools=[ADD, MULTIPLY], tool_stream=True),
    "length": body("Tell me about Rome", max_tokens=3),
    "second-turn": _second_turn(),
}


@pytest.mark.parametrize("payload", list(SHAPE_CASES.values()), ids=list(SHAPE_CASES))
def test_stream_shape(payload: dict[str, Any]) -> None:
    reply = stream(GLMTwin(), payload)
    raw = events(reply)
    assert raw[-1] == DONE
    assert raw.count(DONE) == 1
    assert all(e.startswith(b"data: {") and e.endswith(b"}\n\n") for e in raw[:-1])
    cs = chunks(reply)
    assert len(cs) >= 2
    assert len({c["id"] for c in cs}) == 1
    assert len({c["created"] for c in cs}) == 1
    assert {c["model"] for c in cs} == {payload["model"]}
    for c in cs:
        assert c["object"] == "chat.completion.chunk"
        assert len(c["choices"]) == 1 and c["choices"][0]["index"] == 0
        delta = c["choices"][0]["delta"]
        if "tool_calls" in delta:
            assert "role" not in delta
        else:
            assert delta["role"] == "assistant"
    assert [("finish_reason" in c["choices"][0]) for c in cs] == [False] * (len(cs) - 1) + [True]
    assert [("usage" in c) for c in cs] == [False] * (len(cs) - 1) + [True]
    assert cs[-1]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert cs[-1]["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    ds = deltas(cs)
    reasoning = [i for i, d in enumerate(ds) if d.get("reasoning_content")]
    content = [i for i, d in enumerate(ds) if d.get("content")]
    tools = [i for i, d in enumerate(ds) if "tool_calls" in d]
    if reasoning and content:
        assert max(reasoning) < min(content)
    if reasoning and tools:
        assert max(reasoning) < min(tools)


# ---------------------------------------------------------------------------------------------
# The twin's own output is strict-valid
# ---------------------------------------------------------------------------------------------


def _matrix() -> list[Any]:
    params = []
    for stream_it, thinking, tools, tool_stream in itertools.product(
            (False, True), ("enabled", "disabled"), (None, "one", "two"), (False, True)):
        if tools is None:
            payload = body("Tell me about Rome")
        elif tools == "one":
            payload = body(WEATHER_Q, tools=[WEATHER], tool_choice="auto")
        else:
            payload = body(MATH_Q, tools=[ADD, MULTIPLY])
        payload.update(stream=stream_it, thinking={"type": thinking}, tool_stream=tool_stream)
        name = f"{'sse' if stream_it else 'json'}-{thinking}-{tools}-{'ts' if tool_stream else 'w'}"
        params.append(pytest.param(payload, id=name))
    params += [
        pytest.param({**_second_turn(), "stream": s}, id=f"second-turn-{s}") for s in (False, True)
    ]
    params += [
        pytest.param(body("TWIN-SENSITIVE", stream=s), id=f"sensitive-{s}") for s in (False, True)
    ]
    params += [
        pytest.param(body("Rome", max_tokens=4, stream=s), id=f"length-{s}") for s in (False, True)
    ]
    params += [
        pytest.param(body("Rome", model=m, stream=True), id=f"model-{m}")
        for m in ("glm-4.5", "glm-4.5-air", "glm-5", "glm-4.7-flash")
    ]
    return params


@pytest.mark.parametrize("payload", _matrix())
def test_twin_output_strict_valid(payload: dict[str, Any]) -> None:
    twin = GLMTwin()
    reply = send(twin, payload)
    assert reply.status == 200
    if payload.get("stream"):
        cs = chunks(reply)
        for i, c in enumerate(cs):
            result = validate(ChatCompletionChunk, c, Mode.STRICT)
            assert result.findings == [], f"chunk {i}: {c}"
    else:
        result = validate(ChatCompletion, json.loads(reply.body), Mode.STRICT)
        assert result.findings == []
    reply.close()
    assert twin.in_flight(TWIN_KEY) == 0


# ---------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------


def _faulty(fault: Fault | FaultSpec) -> GLMTwin:
    twin = GLMTwin()
    twin.inject(fault)
    return twin


def test_healthy_stream_has_no_reset_or_stall() -> None:
    reply = stream(GLMTwin(), body())
    assert reply.script is not None
    assert not any(step.reset for step in reply.script)
    assert all(step.delay_s == 0 for step in reply.script)


def test_fault_reset_mid_stream() -> None:
    reply = stream(_faulty(Fault.RESET_MID_STREAM), body())
    script = reply.script
    assert script is not None
    assert len(script) == 4
    assert [s.reset for s in script] == [False, False, False, True]
    assert all(s.data.startswith(b"data: {") for s in script[:3])
    assert script[3].data == b""


@pytest.mark.parametrize("after", [0, 1, 5])
def test_fault_reset_after_chunks(after: int) -> None:
    reply = stream(_faulty(FaultSpec(Fault.RESET_MID_STREAM, after_chunks=after)), body())
    assert reply.script is not None
    assert [s.reset for s in reply.script] == [False] * after + [True]


def test_fault_truncated_chunk() -> None:
    reply = stream(_faulty(Fault.TRUNCATED_CHUNK), body())
    data = events(reply)
    assert len(data) == 4
    assert all(d.endswith(b"\n\n") for d in data[:3])
    assert not data[-1].endswith(b"\n\n")
    assert data[-1].startswith(b"data: {")
    with pytest.raises(json.JSONDecodeError):
        json.loads(data[-1][len(b"data: "):])


def test_fault_malformed_json_chunk() -> None:
    data = events(stream(_faulty(Fault.MALFORMED_JSON_CHUNK), body()))
    assert data[-1] == DONE
    bad = []
    for i, event in enumerate(data[:-1]):
        assert event.startswith(b"data: ") and event.endswith(b"\n\n")
        try:
            json.loads(event[len(b"data: "):])
        except json.JSONDecodeError:
            bad.append(i)
    assert bad == [3]


def test_fault_missing_done() -> None:
    healthy = events(stream(GLMTwin(), body()))
    data = events(stream(_faulty(Fault.MISSING_DONE), body()))
    assert DONE not in data
    assert len(data) == len(healthy) - 1
    assert b"finish_reason" in data[-1]


def test_fault_stall() -> None:
    twin = _faulty(parse_fault("stall:0:2.5"))
    reply = stream(twin, body())
    assert reply.script is not None
    delays = [s.delay_s for s in reply.script]
    assert [i for i, d in enumerate(delays) if d >= 2.5] == [3]
    assert delays[3] == 2.5
    assert sum(delays) == 2.5


def test_fault_stall_adds_to_timing() -> None:
    twin = GLMTwin(TwinConfig(timing=Timing(ttft_ms=100, itl_ms=10)))
    twin.inject(FaultSpec(Fault.STALL, stall_s=1.0))
    reply = stream(twin, body())
    assert reply.script is not None
    assert reply.script[3].delay_s == pytest.approx(1.01)
    assert reply.script[2].delay_s == pytest.approx(0.01)


@pytest.mark.parametrize("stream_it", [False, True])
def test_fault_wrong_content_type(stream_it: bool) -> None:
    reply = send(_faulty(Fault.WRONG_CONTENT_TYPE), body(stream=stream_it))
    assert reply.status == 200
    if stream_it:
        assert reply.headers["Content-Type"] == JSON_TYPE
        assert events(reply)[-1] == DONE  # the body is still SSE
    else:
        assert reply.headers["Content-Type"] == "text/html"
        assert json.loads(reply.body)["choices"]


@pytest.mark.parametrize("stream_it", [False, True])
def test_fault_empty_body(stream_it: bool) -> None:
    reply = send(_faulty(Fault.EMPTY_BODY), body(stream=stream_it))
    assert reply.status == 200
    if stream_it:
        assert reply.script == []
        assert reply.headers["Content-Type"] == SSE_TYPE
    else:
        assert reply.body == b""
        assert reply.headers["Content-Type"] == JSON_TYPE


def test_fault_server_error_burst() -> None:
    twin = _faulty(FaultSpec(Fault.SERVER_ERROR_BURST, times=2))
    replies = [send(twin, body()) for _ in range(3)]
    assert [error_of(r) for r in replies[:2]] == [(500, "500", "Internal Error")] * 2
    assert replies[2].status == 200


def test_fault_server_error_burst_still_checks_auth() -> None:
    twin = _faulty(FaultSpec(Fault.SERVER_ERROR_BURST, times=1))
    assert error_of(send(twin, body(), headers={}))[:2] == (401, "1001")
    assert send(twin, body()).status == 200  # the one armed request was used up


def test_fault_rate_limit_burst() -> None:
    twin = _faulty(FaultSpec(Fault.RATE_LIMIT_BURST, times=1))
    reply = send(twin, body())
    assert error_of(reply) == (429, "1302", MSG_1302)
    assert "Retry-After" not in reply.headers
    assert send(twin, body()).status == 200


def test_fault_rate_limit_burst_retry_after() -> None:
    twin = GLMTwin(TwinConfig(limits=Limits(retry_after=True)))
    twin.inject(Fault.RATE_LIMIT_BURST)
    assert send(twin, body()).headers["Retry-After"] == "1"


def test_fault_wrong_status() -> None:
    twin = _faulty(Fault.WRONG_STATUS)
    reply = send(twin, body(model="nope"))
    assert reply.status == 500
    assert json.loads(reply.body) == {"error": {"code": "1211", "message": MSG_1211}}
    assert send(twin, body()).status == 200  # healthy requests are untouched


def test_fault_numeric_error_code() -> None:
    twin = _faulty(Fault.NUMERIC_ERROR_CODE)
    reply = send(twin, body(model="nope"))
    assert reply.status == 400
    code = json.loads(reply.body)["error"]["code"]
    assert code == 1211 and isinstance(code, int)
    assert not validate(ErrorBody, json.loads(reply.body)).ok
    assert send(twin, body()).status == 200


@pytest.mark.parametrize("after", [0, 3, 10])
def test_fault_duplicate_finish_reason(after: int) -> None:
    spec = FaultSpec(Fault.DUPLICATE_FINISH_REASON, after_chunks=after)
    cs = chunks(stream(_faulty(spec), body()))
    with_finish = [i for i, c in enumerate(cs) if "finish_reason" in c["choices"][0]]
    assert with_finish == [after, len(cs) - 1]
    assert {cs[i]["choices"][0]["finish_reason"] for i in with_finish} == {"stop"}


def test_stream_pieces_are_the_events_the_twin_writes() -> None:
    twin = GLMTwin(TwinConfig(style=Style(reply_tokens=5, reasoning_tokens=0)))
    pieces = twin.stream_pieces({"model": "glm-4.6", "thinking": {"type": "disabled"},
                                 "messages": [{"role": "user", "content": "hello"}]})
    assert all(p.startswith(b"data: ") and p.endswith(b"\n\n") for p in pieces)
    assert pieces[-1] == b"data: [DONE]\n\n" and len(pieces) >= 5 + 2
    with pytest.raises(ValueError, match="the twin did not stream: HTTP 400"):
        twin.stream_pieces({"model": "glm-4.6", "messages": []})


@pytest.mark.parametrize("stream_it", [False, True])
def test_fault_missing_usage(stream_it: bool) -> None:
    twin = _faulty(Fault.MISSING_USAGE)
    if stream_it:
        cs = chunks(stream(twin, body()))
        assert all("usage" not in c for c in cs)
        assert cs[-1]["choices"][0]["finish_reason"] == "stop"
    else:
        data = completion(twin, body())
        assert "usage" not in data
        assert [f.path for f in validate(ChatCompletion, data, Mode.STRICT).findings] == ["$.usage"]


@pytest.mark.parametrize("stream_it", [False, True])
@pytest.mark.parametrize("tool_stream", [False, True])
def test_fault_invalid_tool_arguments(stream_it: bool, tool_stream: bool) -> None:
    twin = _faulty(Fault.INVALID_TOOL_ARGUMENTS)
    payload = body(WEATHER_Q, tools=[WEATHER], tool_stream=tool_stream)
    if stream_it:
        ds = deltas(chunks(stream(twin, payload)))
        arguments = "".join(c["function"].get("arguments", "")
                            for d in ds for c in d.get("tool_calls", ()))
    else:
        calls = completion(twin, payload)["choices"][0]["message"]["tool_calls"]
        assert len(calls) == 1
        arguments = calls[0]["function"]["arguments"]
    assert arguments
    with pytest.raises(json.JSONDecodeError):
        json.loads(arguments)


@pytest.mark.parametrize("stream_it", [False, True])
def test_fault_missing_field(stream_it: bool) -> None:
    twin = _faulty(Fault.MISSING_FIELD)
    if stream_it:
        cs = chunks(stream(twin, body()))
        assert cs and all("id" not in c for c in cs)
        assert not validate(ChatCompletionChunk, cs[0]).ok
    else:
        data = completion(twin, body())
        assert "id" not in data
        assert [(f.path, f.kind) for f in validate(ChatCompletion, data).findings] == [
            ("$.id", "missing")]


@pytest.mark.parametrize("stream_it", [False, True])
def test_fault_wrong_usage(stream_it: bool) -> None:
    twin = _faulty(Fault.WRONG_USAGE)
    if stream_it:
        usage = chunks(stream(twin, body()))[-1]["usage"]
    else:
        usage = completion(twin, body())["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] + 7
    assert usage["total_tokens"] != usage["prompt_tokens"] + usage["completion_tokens"]


def test_every_fault_is_tested() -> None:
    tested = {name.removeprefix("test_fault_").upper() for name in globals()
              if name.startswith("test_fault_")}
    assert {f.name for f in Fault} <= tested


def test_fault_times() -> None:
    twin = _faulty(FaultSpec(Fault.MISSING_USAGE, times=2))
    results = ["usage" in completion(twin, body()) for _ in range(4)]
    assert results == [False, False, True, True]


def test_fault_times_zero_persists() -> None:
    twin = _faulty(FaultSpec(Fault.MISSING_USAGE, times=0))
    assert ["usage" in completion(twin, body()) for _ in range(5)] == [False] * 5


def test_faults_from_config() -> None:
    twin = GLMTwin(TwinConfig(faults=(FaultSpec(Fault.SERVER_ERROR_BURST, times=1),)))
    assert [send(twin, body()).status for _ in range(2)] == [500, 200]


def test_clear_faults() -> None:
    twin = GLMTwin()
    for fault in Fault:
        twin.inject(fault)
    assert send(twin, body()).status == 500
    twin.clear_faults()
    reply = stream(twin, body())
    assert reply.headers["Content-Type"] == SSE_TYPE
    assert events(reply)[-1] == DONE
    assert not any(s.reset for s in reply.script or [])
    for c in chunks(reply):
        assert validate(ChatCompletionChunk, c, Mode.STRICT).findings == []
    data = completion(twin, body(WEATHER_Q, tools=[WEATHER]))
    assert validate(ChatCompletion, data, Mode.STRICT).findings == []
    error = send(twin, body(model="nope"))
    assert error_of(error) == (400, "1211", MSG_1211)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stall:0:2.5", FaultSpec(Fault.STALL, times=0, stall_s=2.5)),
        ("reset_mid_stream", FaultSpec(Fault.RESET_MID_STREAM)),
        ("rate_limit_burst:5", FaultSpec(Fault.RATE_LIMIT_BURST, times=5)),
        ("server_error_burst:2", FaultSpec(Fault.SERVER_ERROR_BURST, times=2)),
    ],
)
def test_parse_fault(text: str, expected: FaultSpec) -> None:
    assert parse_fault(text) == expected


def test_parse_fault_defaults() -> None:
    spec = parse_fault("stall")
    assert (spec.times, spec.after_chunks, spec.stall_s) == (0, 3, 30.0)


@pytest.mark.parametrize("text", ["nope", "STALL", "", "reset"])
def test_parse_fault_unknown(text: str) -> None:
    with pytest.raises(ValueError, match="unknown fault") as info:
        parse_fault(text)
    message = str(info.value)
    assert repr(text) in message
    for fault in Fault:
        assert fault.value in message


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


def test_timing_fixed() -> None:
    twin = GLMTwin(TwinConfig(timing=Timing(ttft_ms=150, itl_ms=10)))
    script = stream(twin, body()).script
    assert script is not None
    assert script[0].delay_s == 0.150
    assert len(script) > 10
    assert [s.delay_s for s in script[1:]] == [0.010] * (len(script) - 1)


def test_timing_non_streamed_delay() -> None:
    twin = GLMTwin(TwinConfig(timing=Timing(ttft_ms=150, itl_ms=10)))
    reply = send(twin, body())
    tokens = json.loads(reply.body)["usage"]["completion_tokens"]
    assert reply.delay_s == pytest.approx(0.150 + (tokens - 1) * 0.010)


def test_no_timing_no_delay() -> None:
    reply = send(GLMTwin(), body())
    assert reply.delay_s == 0.0


def _gaps(seed: int, requests: int = 3) -> list[float]:
    config = TwinConfig(timing=Timing(itl_ms=10, jitter=0.5, seed=seed),
                        style=Style(reply_tokens=400, reasoning_tokens=0))
    twin = GLMTwin(config)
    gaps: list[float] = []
    for i in range(requests):
        script = stream(twin, body(f"question {i}", thinking={"type": "disabled"})).script
        assert script is not None
        gaps += [s.delay_s for s in script[1:]]
    return gaps


def test_timing_jitter_mean_and_spread() -> None:
    gaps = _gaps(seed=11)
    assert len(gaps) >= 1200
    mean = statistics.fmean(gaps)
    assert abs(mean - 0.010) <= 0.001
    cv = statistics.stdev(gaps) / mean
    assert 0.4 <= cv <= 0.6
    assert min(gaps) > 0


def test_timing_jitter_seeded() -> None:
    assert _gaps(seed=5) == _gaps(seed=5)
    assert _gaps(seed=5) != _gaps(seed=6)


def _jwt(key: str, exp_ms: int, secret: str | None = None) -> str:
    """A GLM JWT as zai-sdk builds it: HS256 over api_key/exp/timestamp, signed with the secret."""
    import base64
    import hashlib
    import hmac

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    key_id, key_secret = key.split(".", 1)
    head = part({"alg": "HS256", "sign_type": "SIGN"})
    body = part({"api_key": key_id, "exp": exp_ms, "timestamp": exp_ms - 60_000})
    signature = hmac.new((secret or key_secret).encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


@pytest.mark.parametrize(("token", "status", "code"), [
    (lambda: _jwt(TWIN_KEY, int(time.time() * 1000) + 60_000), 200, None),
    (lambda: _jwt(TWIN_KEY, int(time.time() * 1000) - 1), 401, "1003"),
    (lambda: _jwt(TWIN_KEY, int(time.time() * 1000) + 60_000, secret="wrong"), 401, "1004"),
    (lambda: _jwt("ffffffffffffffffffffffffffffffff.NoSuchTwinKey000", int(time.time() * 1000) + 60_000), 401, "1000"),
], ids=["valid", "expired", "bad-signature", "unknown-key"])
def test_jwt_made_from_the_key_authenticates_like_the_key(token: Any, status: int, code: str | None) -> None:
    reply = GLMTwin().handle(WireRequest("POST", PATH, {"Authorization": f"Bearer {token()}"},
                                         json.dumps(body()).encode()))
    reply.close()
    assert reply.status == status, reply.body
    if code is not None:
        assert json.loads(reply.body)["error"]["code"] == code


# -- the business errors only a fault provokes (2026 codes) ------------------------------------
def _filtered(reply: Reply) -> tuple[int, str]:
    data = json.loads(reply.body)
    assert set(data) == {"error", "contentFilter"}
    assert data["contentFilter"] == [{"level": 1, "role": "user"}]
    return reply.status, data["error"]["code"]


def test_fault_content_filter() -> None:
    assert _filtered(send(_faulty(Fault.CONTENT_FILTER), body())) == (400, "1301")


def test_fault_overloaded() -> None:
    assert error_of(send(_faulty(Fault.OVERLOADED), body())) == (
        429, "1305", "The service may be temporarily overloaded, please try again later")


def test_fault_plan_limit() -> None:
    status, code, message = error_of(send(_faulty(Fault.PLAN_LIMIT), body()))
    assert (status, code) == (429, "1310")
    assert re.fullmatch(r"Weekly/Monthly Limit Exhausted\. Your limit will reset at "
                        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", message), message


def test_fault_five_hour_limit() -> None:
    status, code, message = error_of(send(_faulty(Fault.FIVE_HOUR_LIMIT), body()))
    assert (status, code) == (429, "1308")
    assert re.fullmatch(r"Usage limit reached for 5 hour\. Your limit will reset at "
                        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", message), message


def test_fault_network_error() -> None:
    status, code, message = error_of(send(_faulty(Fault.NETWORK_ERROR), body()))
    assert (status, code) == (500, "1234")
    assert re.fullmatch(r"Network error, error id: \w+, please contact customer service", message)


def test_plan_limit_in_chinese_falls_back_to_the_recorded_english() -> None:
    """Only the English 1310 text is known; the twin does not invent a Chinese one."""
    twin = GLMTwin(TwinConfig(locale="zh", faults=(FaultSpec(Fault.PLAN_LIMIT),)))
    assert error_of(send(twin, body()))[2].startswith("Weekly/Monthly Limit Exhausted")


def test_blocked_term_is_refused_by_the_content_filter() -> None:
    assert _filtered(send(GLMTwin(), body("Tell me about TWIN-BLOCKED"))) == (400, "1301")
