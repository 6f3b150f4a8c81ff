"""The twin's Anthropic-compatible surface (harness/mock/messages.py): the recorded shapes and
framing, one plan behind both renderings, tool_choice, thinking, the cache, auth, the era's error
envelope, and each fault as this surface shows it."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import httpx
import pytest

from harness.contract import (
    STREAM_EVENTS,
    AnthropicErrorBody,
    AuthErrorBody,
    GLMErrorBody,
    MessagesAnswer,
    Mode,
    validate,
)
from harness.mock import TWIN_KEY, Fault, FaultSpec, GLMTwin, Reply, TwinConfig, WireRequest, twin_router
from harness.mock.messages import MESSAGES_PATHS
from harness.sse import SSEDecoder

PATH = "/api/anthropic/v1/messages"
WEATHER = {"name": "get_weather", "description": "Weather in a city.",
           "input_schema": {"type": "object", "properties": {"location": {"type": "string"}},
                            "required": ["location"]}}
ADD = {"name": "add", "description": "Add two numbers.",
       "input_schema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                        "required": ["a", "b"]}}
# The recorded stream's first line (glm-4.6, 2026-05-07), with its id and model blanked.
RECORDED_START = ('data: {"type": "message_start", "message": {"id": "ID", "type": "message", "role": '
                  '"assistant", "model": "MODEL", "content": [], "stop_reason": null, "stop_sequence": null, '
                  '"usage": {"input_tokens": 0, "output_tokens": 0}}}')


def ask(text: str = "Say hi", **params: Any) -> dict[str, Any]:
    return {"model": "glm-4.6", "max_tokens": 256, "messages": [{"role": "user", "content": text}], **params}


def send(twin: GLMTwin, body: dict[str, Any] | bytes, headers: dict[str, str] | None = None,
         path: str = PATH) -> Reply:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply = twin.handle(WireRequest("POST", path, headers if headers is not None else {"x-api-key": TWIN_KEY}, raw))
    reply.close()
    return reply


def body_of(reply: Reply) -> Any:
    return json.loads(reply.body)


def frames(reply: Reply) -> bytes:
    return b"".join(step.data for step in reply.script or ())


def stream_events(reply: Reply) -> list[tuple[str, dict[str, Any]]]:
    decoder = SSEDecoder()
    decoded = [*decoder.feed(frames(reply)), *decoder.close()]
    return [(e.event, json.loads(e.data)) for e in decoded]


def faulty(fault: Fault) -> GLMTwin:
    return GLMTwin(TwinConfig(faults=(FaultSpec(fault),)))


# -- answers ----------------------------------------------------------------------------------------
def test_answer_is_the_recorded_shape_and_strictly_valid() -> None:
    reply = send(GLMTwin(), ask())
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/json")
    answer = body_of(reply)
    assert list(answer) == ["id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"]
    assert re.fullmatch(r"msg_\d{14}[0-9a-f]{18}", answer["id"])
    assert list(answer["usage"]) == ["input_tokens", "output_tokens", "cache_read_input_tokens",
                                     "server_tool_use", "service_tier"]
    assert answer["usage"]["server_tool_use"] == {"web_search_requests": 0}
    assert validate(MessagesAnswer, answer, Mode.STRICT).findings == []


def test_stream_is_the_recorded_framing_and_every_event_strictly_valid() -> None:
    reply = send(GLMTwin(), ask(stream=True))
    assert reply.headers["Content-Type"].startswith("text/event-stream")
    names = [name for name, _ in stream_events(reply)]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert b"[DONE]" not in frames(reply)
    for name, data in stream_events(reply):
        assert name == data["type"]
        assert validate(STREAM_EVENTS[name], data, Mode.STRICT).findings == [], (name, data)
    first = frames(reply).split(b"\n")[1].decode()
    assert re.sub(r'"id": "[^"]+"|"model": "[^"]+"', lambda m: m[0].split(":")[0] + ': "'
                  + ("ID" if m[0].startswith('"id"') else "MODEL") + '"', first) == RECORDED_START


def test_usage_zeros_in_message_start_and_counts_in_message_delta() -> None:
    twin = GLMTwin()
    streamed = dict(stream_events(send(twin, ask("Name three colours.", stream=True))))
    plain = body_of(send(GLMTwin(), ask("Name three colours.")))
    assert streamed["message_start"]["message"]["usage"] == {"input_tokens": 0, "output_tokens": 0}
    assert streamed["message_delta"]["usage"] == plain["usage"]
    assert streamed["message_delta"]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}


def test_one_plan_two_renderings() -> None:
    """The same request gets the same text, whether streamed or not, on either surface."""
    plain = body_of(send(GLMTwin(), ask("Name three colours.")))
    streamed = "".join(d["delta"]["text"] for n, d in stream_events(send(GLMTwin(), ask("Name three colours.",
                                                                                     stream=True)))
                       if n == "content_block_delta")
    chat = GLMTwin().handle(WireRequest("POST", "/api/paas/v4/chat/completions",
                                        {"Authorization": f"Bearer {TWIN_KEY}"},
                                        json.dumps({**ask("Name three colours."),
                                                    "thinking": {"type": "disabled"}}).encode()))
    assert plain["content"][0]["text"] == streamed == json.loads(chat.body)["choices"][0]["message"]["content"]
    assert plain["usage"]["output_tokens"] == json.loads(chat.body)["usage"]["completion_tokens"]


def test_tool_use_streams_whole_in_one_input_json_delta() -> None:
    events = stream_events(send(GLMTwin(), ask("What is the weather in Paris?", tools=[WEATHER], stream=True)))
    starts = [d["content_block"] for n, d in events if n == "content_block_start"]
    assert [b["type"] for b in starts] == ["text", "tool_use"]  # what the plan holds for glm-4.6
    assert re.fullmatch(r"call_[0-9a-f]{24}", starts[1]["id"]) and starts[1]["input"] == {}
    pieces = [d["delta"] for n, d in events if n == "content_block_delta" and d["index"] == 1]
    assert pieces == [{"type": "input_json_delta", "partial_json": '{"location":"Paris"}'}]
    assert dict(events)["message_delta"]["delta"]["stop_reason"] == "tool_use"


def test_tool_use_answer() -> None:
    answer = body_of(send(GLMTwin(), ask("What is the weather in Paris?", tools=[WEATHER])))
    assert [b["type"] for b in answer["content"]] == ["text", "tool_use"]
    call = answer["content"][1]
    assert (call["name"], call["input"], answer["stop_reason"]) == ("get_weather", {"location": "Paris"}, "tool_use")
    assert validate(MessagesAnswer, answer, Mode.STRICT).findings == []


@pytest.mark.parametrize(("choice", "called"), [
    ({"type": "auto"}, []),
    ({"type": "none"}, []),
    ({"type": "any"}, ["add"]),
    ({"type": "tool", "name": "get_weather"}, ["get_weather"]),
], ids=["auto", "none", "any", "tool"])
def test_tool_choice_is_honoured(choice: dict[str, Any], called: list[str]) -> None:
    answer = body_of(send(GLMTwin(), ask("Please add 2 and 3.", tools=[WEATHER, ADD], tool_choice=choice)))
    if choice["type"] == "auto":  # the question names `add`: auto calls it
        called = ["add"]
    assert [b["name"] for b in answer["content"] if b["type"] == "tool_use"] == called
    assert answer["stop_reason"] == ("tool_use" if called else "end_turn")


def test_none_keeps_the_tools_out_of_reach() -> None:
    answer = body_of(send(GLMTwin(), ask("What is the weather in Paris?", tools=[WEATHER],
                                         tool_choice={"type": "none"})))
    assert [b["type"] for b in answer["content"]] == ["text"]


def test_tool_result_turn_answers_from_the_result_with_the_prefix_cached() -> None:
    twin = GLMTwin()
    question = {"role": "user", "content": "What is the weather in Paris?"}
    first = body_of(send(twin, {**ask(tools=[WEATHER]), "messages": [question]}))
    call = first["content"][-1]
    second = body_of(send(twin, {**ask(tools=[WEATHER]), "messages": [
        question, {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"],
                                      "content": [{"type": "text", "text": "24℃, sunny"}]}]}]}))
    assert second["stop_reason"] == "end_turn" and "24℃, sunny" in second["content"][0]["text"]
    assert first["usage"]["cache_read_input_tokens"] == 0
    assert second["usage"]["cache_read_input_tokens"] > 0  # the question was sent before


def test_input_tokens_leave_out_the_cached_part() -> None:
    twin = GLMTwin()
    first, again = (body_of(send(twin, ask("Name three colours.")))["usage"] for _ in range(2))
    assert again["cache_read_input_tokens"] > 0
    assert again["input_tokens"] + again["cache_read_input_tokens"] == first["input_tokens"]


@pytest.mark.parametrize("thinking", [{"type": "enabled", "budget_tokens": 1024}, {"type": "adaptive"}])
def test_thinking_block_with_signature_when_asked(thinking: dict[str, Any]) -> None:
    answer = body_of(send(GLMTwin(), ask(thinking=thinking, max_tokens=2048)))
    assert [b["type"] for b in answer["content"]] == ["thinking", "text"]
    assert re.fullmatch(r"[0-9a-f]{24}", answer["content"][0]["signature"])
    events = stream_events(send(GLMTwin(), ask(thinking=thinking, max_tokens=2048, stream=True)))
    kinds = [d["delta"]["type"] for n, d in events if n == "content_block_delta"]
    assert kinds[0] == "thinking_delta" and kinds.index("signature_delta") < kinds.index("text_delta")
    assert kinds.count("signature_delta") == 1


@pytest.mark.parametrize("model", ["glm-4.6", "glm-5"])
def test_no_thinking_unless_asked(model: str) -> None:
    """On this surface GLM thinks only when asked (the recordings: no thinking block without it),
    even a model that always thinks on chat completions."""
    answer = body_of(send(GLMTwin(), ask(model=model)))
    assert [b["type"] for b in answer["content"]] == ["text"]


def test_max_tokens_cuts_the_answer() -> None:
    answer = body_of(send(GLMTwin(), ask("Count to fifty in words.", max_tokens=5)))
    assert answer["stop_reason"] == "max_tokens" and answer["usage"]["output_tokens"] == 5


def test_model_is_echoed() -> None:
    assert body_of(send(GLMTwin(), ask(model="glm-4.5-air")))["model"] == "glm-4.5-air"


def test_claude_code_shaped_request_is_answered() -> None:
    body = {"model": "glm-4.7", "max_tokens": 32000, "stream": True,
            "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "system", "content": "Working directory: /tmp"},
                         {"role": "user", "content": [{"type": "text", "text": "What is the weather in Paris?",
                                                       "cache_control": {"type": "ephemeral"}}]}],
            "tools": [WEATHER, {"type": "web_search_20250305", "name": "web_search"}],
            "thinking": {"type": "adaptive"}, "metadata": {"user_id": "user_x"},
            "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            "output_config": {"effort": "high"}}
    reply = send(GLMTwin(), body, headers={"Authorization": f"Bearer {TWIN_KEY}", "anthropic-beta": "x"})
    events = stream_events(reply)
    assert reply.status == 200 and events[-1][0] == "message_stop"
    assert [d["content_block"]["type"] for n, d in events if n == "content_block_start"] == \
        ["thinking", "text", "tool_use"]


# -- routes and auth --------------------------------------------------------------------------------
@pytest.mark.parametrize("path", MESSAGES_PATHS)
def test_both_paths_serve_the_surface(path: str) -> None:
    assert body_of(send(GLMTwin(), ask(), path=path))["type"] == "message"


def test_respx_router_serves_it_with_claude_codes_query() -> None:
    with twin_router(GLMTwin(), base_url="https://glm-twin.invalid/api/anthropic"), httpx.Client() as http:
        response = http.post("https://glm-twin.invalid/api/anthropic/v1/messages?beta=true", json=ask(),
                             headers={"x-api-key": TWIN_KEY, "anthropic-version": "2023-06-01"})
    assert response.status_code == 200 and response.json()["type"] == "message"


@pytest.mark.parametrize("headers", [
    {}, {"x-api-key": "wrong"}, {"x-api-key": "00000000000000000000000000000000.NoSuchKey"},
    {"Authorization": "Bearer 0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e.ExpiredTwinKey00"},
], ids=["missing", "malformed", "unknown", "expired"])
def test_bad_key_is_the_recorded_401(headers: dict[str, str]) -> None:
    reply = send(GLMTwin(), ask(), headers=headers)
    assert (reply.status, body_of(reply)) == (401, {"error": {"message": "令牌已过期或验证不正确", "type": "401"}})
    assert validate(AuthErrorBody, body_of(reply), Mode.STRICT).findings == []


@pytest.mark.parametrize("headers", [{"x-api-key": TWIN_KEY}, {"Authorization": f"Bearer {TWIN_KEY}"},
                                     {"X-Api-Key": TWIN_KEY}], ids=["x-api-key", "bearer", "header-case"])
def test_either_key_header_is_accepted(headers: dict[str, str]) -> None:
    assert send(GLMTwin(), ask(), headers=headers).status == 200


# -- errors, in the era's envelope ------------------------------------------------------------------
ERRORS = {
    "unknown-model": (ask(model="glm-nonexistent"), 400, "1211"),
    "empty-messages": (ask() | {"messages": []}, 400, "1214"),
    "no-max_tokens": ({k: v for k, v in ask().items() if k != "max_tokens"}, 400, "1210"),
    "temperature-above-1": (ask(temperature=1.5), 400, "1210"),
    "forced-tool-not-offered": (ask(tools=[WEATHER], tool_choice={"type": "tool", "name": "nope"}), 400, "1210"),
    "result-for-no-call": (ask() | {"messages": [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_2", "content": "x"}]}]},
        400, "1214"),
    "max_tokens-above-card": (ask(max_tokens=10_000_000), 400, "1210"),
}


@pytest.mark.parametrize(("body", "status", "code"), ERRORS.values(), ids=ERRORS)
def test_error_in_todays_envelope(body: dict[str, Any], status: int, code: str) -> None:
    reply = send(GLMTwin(), body)
    error = body_of(reply)
    assert reply.status == status and error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error" and error["error"]["code"] == code
    assert re.fullmatch(r"\d{14}[0-9a-f]{16}", error["request_id"])
    message = error["error"]["message"]
    assert message.startswith(f"[{code}][") and message.endswith(f"][{error['request_id']}]")
    assert validate(AnthropicErrorBody, error, Mode.STRICT).findings == []


@pytest.mark.parametrize(("body", "status", "code"), ERRORS.values(), ids=ERRORS)
def test_error_in_glms_envelope_in_the_2025_profile(body: dict[str, Any], status: int, code: str) -> None:
    reply = send(GLMTwin(profile="2025"), body)
    error = body_of(reply)
    assert reply.status == status and list(error) == ["error", "request_id"]
    assert error["error"]["code"] == code and not error["error"]["message"].startswith("[")
    assert validate(GLMErrorBody, error, Mode.LENIENT).findings == []


@pytest.mark.parametrize(("fault", "status", "code", "kind"), [
    (Fault.OVERLOADED, 529, "1305", "overloaded_error"),
    (Fault.RATE_LIMIT_BURST, 429, "1302", "rate_limit_error"),
    (Fault.FIVE_HOUR_LIMIT, 429, "1308", "rate_limit_error"),
    (Fault.SERVER_ERROR_BURST, 500, "500", "api_error"),
    (Fault.CONTENT_FILTER, 400, "1301", "invalid_request_error"),
])
def test_forced_errors(fault: Fault, status: int, code: str, kind: str) -> None:
    reply = send(faulty(fault), ask())
    error = body_of(reply)
    assert (reply.status, error["error"]["type"], error["error"]["code"]) == (status, kind, code)


def test_overload_is_529_in_glms_envelope_too() -> None:
    reply = send(GLMTwin(TwinConfig(faults=(FaultSpec(Fault.OVERLOADED),)), profile="2025"), ask())
    assert (reply.status, body_of(reply)["error"]["code"]) == (529, "1305")


def test_malformed_json_is_1210() -> None:
    reply = send(GLMTwin(), b'{"model": "glm-4.6", "messages": [}')
    assert (reply.status, body_of(reply)["error"]["code"]) == (400, "1210")


# -- faults as this surface shows them ---------------------------------------------------------------
def test_fault_missing_message_stop() -> None:
    names = [n for n, _ in stream_events(send(faulty(Fault.MISSING_DONE), ask(stream=True)))]
    assert names[-1] == "message_delta" and "message_stop" not in names


def test_fault_malformed_event() -> None:
    data = frames(send(faulty(Fault.MALFORMED_JSON_CHUNK), ask(stream=True))).split(b"\n\n")[3]
    with pytest.raises(json.JSONDecodeError):
        json.loads(data.split(b"data: ", 1)[1])


def test_fault_truncated_event_and_reset() -> None:
    steps = send(faulty(Fault.TRUNCATED_CHUNK), ask(stream=True)).script or []
    assert not steps[-1].data.endswith(b"\n\n")
    assert (send(faulty(Fault.RESET_MID_STREAM), ask(stream=True)).script or [])[-1].reset


def test_fault_stall() -> None:
    steps = send(GLMTwin(TwinConfig(faults=(FaultSpec(Fault.STALL, stall_s=7),))), ask(stream=True)).script
    assert max(s.delay_s for s in steps or ()) == 7


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_fault_missing_and_wrong_usage(stream: bool) -> None:
    def usage(fault: Fault) -> Any:
        reply = send(faulty(fault), ask(stream=stream))
        return dict(stream_events(reply))["message_delta"].get("usage") if stream else body_of(reply).get("usage")

    assert usage(Fault.MISSING_USAGE) is None
    assert usage(Fault.WRONG_USAGE)["output_tokens"] == 0  # for an answer that has text


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_fault_missing_id(stream: bool) -> None:
    reply = send(faulty(Fault.MISSING_FIELD), ask(stream=stream))
    message = dict(stream_events(reply))["message_start"]["message"] if stream else body_of(reply)
    assert "id" not in message


def test_fault_invalid_tool_input() -> None:
    body = ask("What is the weather in Paris?", tools=[WEATHER])
    answer = body_of(send(faulty(Fault.INVALID_TOOL_ARGUMENTS), body))
    assert not isinstance(answer["content"][-1]["input"], dict)
    events = stream_events(send(faulty(Fault.INVALID_TOOL_ARGUMENTS), body | {"stream": True}))
    piece = next(d["delta"]["partial_json"] for n, d in events if d.get("delta", {}).get("type") == "input_json_delta")
    with pytest.raises(json.JSONDecodeError):
        json.loads(piece)


def test_fault_stop_reason_mid_stream() -> None:
    names = [n for n, _ in stream_events(send(faulty(Fault.DUPLICATE_FINISH_REASON), ask(stream=True)))]
    assert names.count("message_delta") == 2 and names.index("message_delta") < names.index("content_block_stop")


@pytest.mark.parametrize("fault", [Fault.WRONG_CONTENT_TYPE, Fault.EMPTY_BODY])
def test_fault_content_type_and_empty_body(fault: Fault) -> None:
    reply = send(faulty(fault), ask(stream=True))
    if fault is Fault.EMPTY_BODY:
        assert reply.script == []
    else:
        assert reply.headers["Content-Type"].startswith("application/json")


def test_fault_numeric_code_and_wrong_status_on_the_error_path() -> None:
    reply = send(GLMTwin(TwinConfig(faults=(FaultSpec(Fault.NUMERIC_ERROR_CODE), FaultSpec(Fault.WRONG_STATUS)))),
                 ask(model="glm-nonexistent"))
    assert (reply.status, body_of(reply)["error"]["code"]) == (500, 1211)
    unauthorized = send(faulty(Fault.NUMERIC_ERROR_CODE), ask(), headers={})
    assert unauthorized.status == 401  # no code to turn into a number: the body stays as recorded


# -- the harness's own client on this surface ----------------------------------------------------
def test_targets_of_the_messages_surface() -> None:
    from harness.surface import Surface
    from harness.targets import live_target, mock_target

    mock = mock_target(surface=Surface.ANTHROPIC)
    assert mock.chat_url == "https://glm-twin.invalid/api/anthropic/v1/messages"
    assert mock.headers()["x-api-key"] == TWIN_KEY and "Authorization" not in mock.headers()
    assert mock.headers()["anthropic-version"] == "2023-06-01"
    assert mock.describe()["surface"] == "anthropic" and "surface" not in mock_target().describe()
    live = live_target(None, surface=Surface.ANTHROPIC, api_key_env="GLM_HARNESS_NO_SUCH_VAR")
    assert live.chat_url == "https://api.z.ai/api/anthropic/v1/messages" and "x-api-key" not in live.headers()
    assert live_target(None).chat_url == "https://api.z.ai/api/paas/v4/chat/completions"


def test_client_exchange_on_the_messages_surface_reproduces_with_x_api_key() -> None:
    from harness.client import GLMClient
    from harness.surface import Surface
    from harness.targets import mock_target

    # the openai-compatible profile asks chat-completions streams for usage; never this surface
    target = dataclasses.replace(mock_target(surface=Surface.ANTHROPIC), profile="openai-compatible")
    with twin_router(GLMTwin(), base_url=target.base_url), GLMClient(target) as client:
        exchange = client.send(ask(stream=True))
    assert exchange.status == 200 and exchange.surface is Surface.ANTHROPIC
    assert "stream_options" not in exchange.request
    assert [e.event.event for e in exchange.events][-1] == "message_stop"
    line = exchange.curl()
    assert '-H "x-api-key: $ZAI_API_KEY"' in line and "anthropic-version: 2023-06-01" in line
    assert TWIN_KEY not in line and "Authorization" not in line


def test_a_plan_without_a_preamble_streams_the_tool_use_first() -> None:
    """glm-5.x sends no text before a tool call: when the plan holds none, block 0 is the tool_use
    (the plan decides by model family; the rendering says what it holds)."""
    import random

    from harness.contract import FunctionCall, ToolCall, Usage
    from harness.mock.config import Timing
    from harness.mock.messages import event_script, message_body
    from harness.mock.render import TwinAnswer
    from harness.mock.scenarios import Plan

    call = ToolCall(id="call_-1", index=0, function=FunctionCall(name="get_weather", arguments='{"location":"Paris"}'))
    answer = TwinAnswer(id="20260507011136" + "0" * 16, created=0, model="glm-5.1",
                    plan=Plan([], [], [call], "tool_calls"),
                    usage=Usage(prompt_tokens=170, completion_tokens=12, total_tokens=182))
    decoder = SSEDecoder()
    steps = event_script(answer, 0, Timing(), random.Random(0))
    names = [e.event for e in decoder.feed(b"".join(s.data for s in steps))]
    assert names == ["message_start", "ping", "content_block_start", "content_block_delta", "content_block_stop",
                     "message_delta", "message_stop"]  # as the glm-5.1 recordings show
    body = json.loads(message_body(answer, 0))
    assert [b["type"] for b in body["content"]] == ["tool_use"] and body["stop_reason"] == "tool_use"
