"""The Anthropic-compatible surface's contract (harness.contract.messages): what GLM answers as
recorded, what Claude Code sends, lenient and strict, and the three error bodies.

The bodies below are written here from the facts in shared/anthropic-api.md; they are not copies
of anyone's recordings.
"""

# The recorded GLM messages use full-width punctuation on purpose.

from __future__ import annotations

import copy
from typing import Any

import pytest

from harness.contract import (
    STREAM_EVENTS,
    AnthropicErrorBody,
    AuthErrorBody,
    GLMErrorBody,
    MessagesAnswer,
    MessagesRequest,
    Mode,
    error_body_model,
    validate,
)
from harness.contract.messages import ThinkingAdaptive, ToolChoiceTool
from harness.surface import Surface, surface_of_path

WEATHER_TOOL = {"name": "get_weather", "description": "Weather in a city.",
                "input_schema": {"type": "object", "properties": {"location": {"type": "string"}},
                                 "required": ["location"]}}

TOOL_ANSWER: dict[str, Any] = {
    "id": "msg_20260507011102aa11bb22cc33dd44", "type": "message", "role": "assistant",
    "model": "glm-4.6",
    "content": [{"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "call_0123456789abcdef01234567", "name": "get_weather",
                 "input": {"location": "Paris"}}],
    "stop_reason": "tool_use", "stop_sequence": None,
    "usage": {"input_tokens": 175, "output_tokens": 24, "cache_read_input_tokens": 0,
              "server_tool_use": {"web_search_requests": 0}, "service_tier": "standard"},
}

# What Claude Code sends today, cut down: a system turn in `messages`, cache_control on blocks,
# adaptive thinking, context_management, output_config, metadata.user_id, a tool_result turn.
CLAUDE_CODE_REQUEST: dict[str, Any] = {
    "model": "glm-4.7", "max_tokens": 32000, "stream": True, "temperature": 1,
    "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "system", "content": "Working directory: /tmp/project"},
        {"role": "user", "content": [
            {"type": "text", "text": "<system-reminder>...</system-reminder>"},
            {"type": "text", "text": "What is the weather in Paris?",
             "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "A tool gives the weather.", "signature": "0123456789abcdef01234567"},
            {"type": "tool_use", "id": "call_0123456789abcdef01234567", "name": "get_weather",
             "input": {"location": "Paris"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_0123456789abcdef01234567",
             "content": [{"type": "text", "text": "24℃, sunny"}], "is_error": False}]},
    ],
    "tools": [{**WEATHER_TOOL, "cache_control": {"type": "ephemeral"}}],
    "tool_choice": {"type": "auto"},
    "thinking": {"type": "adaptive"},
    "metadata": {"user_id": "user_abc_account__session_0000"},
    "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    "output_config": {"effort": "high"},
}


def _paths(findings: Any) -> list[str]:
    return [f.path for f in findings]


def test_claude_code_request_validates_and_reads() -> None:
    checked = validate(MessagesRequest, CLAUDE_CODE_REQUEST, Mode.STRICT)
    assert checked.findings == []
    request = checked.model
    assert request is not None
    assert isinstance(request.thinking, ThinkingAdaptive) and request.thinking_enabled
    assert request.system_text == "You are Claude Code."
    assert [t.name for t in request.client_tools()] == ["get_weather"]
    # the system turn in `messages` is not Anthropic's: observed, a notice, not drift
    assert "$.messages[0]" in _paths(checked.notices)


@pytest.mark.parametrize(("change", "path", "message"), [
    (lambda r: r.pop("max_tokens"), "$.max_tokens", "Field required"),
    (lambda r: r.update(messages=[]), "$.messages", "at least 1 item"),
    (lambda r: r.update(thinking={"type": "enabled", "budget_tokens": 10}), "$.thinking.budget_tokens",
     "greater than or equal to 1024"),
    (lambda r: r.update(tool_choice={"type": "tool", "name": "nope"}), "$",
     "tool_choice names 'nope', which is not in tools"),
    (lambda r: r["messages"][3]["content"][0].update(tool_use_id="call_x"), "$",
     "tool_use_id 'call_x' answers no tool_use block"),
    (lambda r: r["tools"][0].update(input_schema={"type": "array"}), "$.tools[0]",
     "input_schema.type must be 'object'"),
])
def test_request_rules(change: Any, path: str, message: str) -> None:
    request = copy.deepcopy(CLAUDE_CODE_REQUEST)
    change(request)
    findings = validate(MessagesRequest, request).findings
    assert any(f.path.startswith(path) and message in f.message for f in findings), findings


def test_forced_tool_is_read() -> None:
    forced = {"type": "tool", "name": "get_weather"}
    request = MessagesRequest.model_validate({**CLAUDE_CODE_REQUEST, "tool_choice": forced})
    assert isinstance(request.tool_choice, ToolChoiceTool) and request.forced_tool == "get_weather"


def test_recorded_answer_is_strictly_clean() -> None:
    checked = validate(MessagesAnswer, TOOL_ANSWER, Mode.STRICT)
    assert (checked.findings, checked.notices) == ([], [])
    assert checked.model is not None
    assert [b.name for b in checked.model.tool_uses] == ["get_weather"]
    assert checked.model.text == "Let me check."


def test_strict_flags_what_glm_never_sends() -> None:
    answer = copy.deepcopy(TOOL_ANSWER)
    answer["surprise"] = 1
    del answer["stop_sequence"]
    findings = validate(MessagesAnswer, answer, Mode.STRICT).findings
    assert [(f.path, f.kind) for f in findings] == [("$.surprise", "unknown_field"),
                                                     ("$.stop_sequence", "missing_field")]
    assert validate(MessagesAnswer, answer).ok  # lenient: a client would not notice


def test_answer_rules() -> None:
    answer = copy.deepcopy(TOOL_ANSWER)
    answer["stop_reason"] = "finished"
    answer["content"][1]["type"] = "function"
    paths = _paths(validate(MessagesAnswer, answer).findings)
    assert paths == ["$.content[1]", "$.stop_reason"]


STREAM = [
    {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "glm-5.1", "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}},
    {"type": "ping"},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hm."}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "0123abcd"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {
        "type": "tool_use", "id": "call_0123456789abcdef01234567", "name": "get_weather", "input": {}}},
    {"type": "content_block_delta", "index": 1,
     "delta": {"type": "input_json_delta", "partial_json": "{\"location\": \"Paris\"}"}},
    {"type": "content_block_stop", "index": 1},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
     "usage": {"input_tokens": 175, "output_tokens": 24, "cache_read_input_tokens": 128,
               "server_tool_use": {"web_search_requests": 0}, "service_tier": "standard"}},
    {"type": "message_stop"},
    {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
]


@pytest.mark.parametrize("event", STREAM, ids=[e["type"] for e in STREAM])
def test_every_stream_event_validates_strictly(event: dict[str, Any]) -> None:
    assert validate(STREAM_EVENTS[event["type"]], event, Mode.STRICT).findings == []


def test_stream_event_rules() -> None:
    delta = {"type": "content_block_delta", "index": -1, "delta": {"type": "json_delta", "json": "{}"}}
    assert _paths(validate(STREAM_EVENTS["content_block_delta"], delta).findings) == ["$.index", "$.delta"]


GLM_ENVELOPE = {"error": {"code": "1211", "message": "模型不存在，请检查模型代码。"},
                "request_id": "20260507011135b3f1ac6a1b85459b"}
ANTHROPIC_ENVELOPE = {"type": "error", "error": {
    "type": "invalid_request_error", "code": "1211",
    "message": "[1211][Unknown Model, please check the model code.][20260610120000aa]"},
    "request_id": "20260610120000aa"}
RECORDED_401 = {"error": {"message": "令牌已过期或验证不正确", "type": "401"}}


@pytest.mark.parametrize(("body", "model"), [
    (GLM_ENVELOPE, GLMErrorBody), (ANTHROPIC_ENVELOPE, AnthropicErrorBody), (RECORDED_401, AuthErrorBody),
])
def test_the_three_error_bodies(body: dict[str, Any], model: type) -> None:
    assert error_body_model(body) is model
    checked = validate(model, body, Mode.STRICT)
    assert checked.findings == []
    assert checked.notices, "each is GLM's own on this surface: observed, not documented by Anthropic"


def test_error_body_rules() -> None:
    wrong = copy.deepcopy(ANTHROPIC_ENVELOPE)
    wrong["error"]["type"] = "teapot_error"
    assert _paths(validate(AnthropicErrorBody, wrong).findings) == ["$.error.type"]
    assert _paths(validate(AuthErrorBody, {"error": {"message": "x", "type": "unauthorised"}}).findings) \
        == ["$.error.type"]


@pytest.mark.parametrize(("path", "surface"), [
    ("/api/anthropic/v1/messages", Surface.ANTHROPIC), ("/v1/messages?beta=true", Surface.ANTHROPIC),
    ("/api/paas/v4/chat/completions", Surface.OPENAI), ("/api/coding/paas/v4/chat/completions", Surface.OPENAI),
])
def test_surface_of_path(path: str, surface: Surface) -> None:
    assert surface_of_path(path) is surface
    assert surface.base_paths[0] in ("/api/paas/v4", "/api/anthropic")
