"""The contract models against the real recordings, in lenient and strict mode; the catalogue."""

# The recorded GLM messages use full-width punctuation on purpose.

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.contract import (
    CATALOGUE,
    MODEL_CARDS,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ErrorBody,
    ErrorDetail,
    Mode,
    Retry,
    business_error,
    is_retryable,
    model_card,
    validate,
)
from harness.contract.catalogue import invalid_parameter_message, range_detail
from harness.sse import decode_all
from harness.stream import read_stream

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real"  # vendored from shared/real-traffic
BODIES = REAL / "streams-and-bodies"
ERRORS = REAL / "errors"



def _files(folder: Path, suffix: str) -> list[Path]:
    found = sorted(folder.glob(f"*{suffix}"))
    assert found, f"no *{suffix} recordings in {folder}: fixtures/real is part of the repository"
    return found


def _params(files: list[Path]) -> list[Any]:
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no recordings at {REAL}"))]
    return [pytest.param(f, id=f.name) for f in files]


REQUESTS = _files(BODIES, ".request.json")
RESPONSES = _files(BODIES, ".response.json")
STREAMS = _files(BODIES, ".response.sse")
ERROR_FILES = _files(ERRORS, ".json")


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _chunks(path: Path) -> list[dict[str, Any]]:
    return [e.data for e in read_stream(decode_all(path.read_bytes())[0]).events]


def _error_model(data: dict[str, Any]) -> type[ErrorBody] | type[ErrorDetail]:
    return ErrorBody if "error" in data else ErrorDetail


# ---------------------------------------------------------------------------------------------
# The recordings exist and are what we think they are
# ---------------------------------------------------------------------------------------------


def test_recordings_present() -> None:
    assert (len(REQUESTS), len(RESPONSES), len(STREAMS), len(ERROR_FILES)) == (38, 19, 19, 8)
    # every request has exactly one recorded answer, streamed iff the request asked for a stream
    for request in REQUESTS:
        stem = request.name.removesuffix(".request.json")
        answers = [p for p in (*RESPONSES, *STREAMS) if p.name.startswith(stem + ".response.")]
        assert len(answers) == 1, stem
        assert answers[0].suffix == (".sse" if _load(request).get("stream") else ".json"), stem


# ---------------------------------------------------------------------------------------------
# Lenient mode: every recording validates
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", _params(REQUESTS))
def test_recorded_request_lenient(path: Path) -> None:
    result = validate(ChatCompletionRequest, _load(path), Mode.LENIENT)
    assert result.findings == []
    assert isinstance(result.model, ChatCompletionRequest)


@pytest.mark.parametrize("path", _params(RESPONSES))
def test_recorded_response_lenient(path: Path) -> None:
    result = validate(ChatCompletion, _load(path), Mode.LENIENT)
    assert result.findings == []
    assert isinstance(result.model, ChatCompletion)


@pytest.mark.parametrize("path", _params(STREAMS))
def test_recorded_stream_lenient(path: Path) -> None:
    chunks = _chunks(path)
    assert len(chunks) >= 2
    for i, chunk in enumerate(chunks):
        result = validate(ChatCompletionChunk, chunk, Mode.LENIENT)
        assert result.findings == [], f"chunk {i}"
        assert isinstance(result.model, ChatCompletionChunk)
    assert path.read_text(encoding="utf-8").rstrip("\n").endswith("data: [DONE]")


@pytest.mark.parametrize("path", _params(ERROR_FILES))
def test_recorded_error_lenient(path: Path) -> None:
    data = _load(path)
    model = _error_model(data)
    result = validate(model, data, Mode.LENIENT)
    assert result.findings == []
    detail = result.model.error if isinstance(result.model, ErrorBody) else result.model
    assert isinstance(detail, ErrorDetail)
    # the business code is in the file name: ..._<status>_<code>... or ..._<code>.json
    assert re.search(rf"_{detail.code}(_|\.json$)", path.name)


# ---------------------------------------------------------------------------------------------
# Strict mode: the recordings are the standard, so only the one known finding remains
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", _params(RESPONSES))
def test_recorded_response_strict(path: Path) -> None:
    assert validate(ChatCompletion, _load(path), Mode.STRICT).findings == []


@pytest.mark.parametrize("path", _params(STREAMS))
def test_recorded_stream_strict(path: Path) -> None:
    for i, chunk in enumerate(_chunks(path)):
        assert validate(ChatCompletionChunk, chunk, Mode.STRICT).findings == [], f"chunk {i}"


@pytest.mark.parametrize("path", _params(ERROR_FILES))
def test_recorded_error_strict(path: Path) -> None:
    data = _load(path)
    assert validate(_error_model(data), data, Mode.STRICT).findings == []


@pytest.mark.parametrize("path", _params(REQUESTS))
def test_recorded_request_strict(path: Path) -> None:
    data = _load(path)
    checked = validate(ChatCompletionRequest, data, Mode.STRICT)
    assert checked.findings == []
    if "reasoning_effort" in data:
        # The openai-compatible client sends `reasoning_effort`; GLM answers 200 but does not
        # document it on api.z.ai: observed, so a notice.
        assert [(f.path, f.kind) for f in checked.notices] == [("$.reasoning_effort", "observed_field")]
    else:
        assert checked.notices == []


def test_reasoning_effort_requests_are_the_thinking_ones() -> None:
    carrying = [p.name for p in REQUESTS if "reasoning_effort" in _load(p)]
    assert len(carrying) == 8
    assert all("Thinking" in name for name in carrying)


# ---------------------------------------------------------------------------------------------
# Strict mode catches drift
# ---------------------------------------------------------------------------------------------

COMPLETION: dict[str, Any] = {
    "id": "20251023225951823569fea7794962",
    "request_id": "20251023225951823569fea7794962",
    "created": 1761231591,
    "model": "glm-4.6",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Hi", "reasoning_content": "Think"},
        }
    ],
    "usage": {
        "prompt_tokens": 10,
        "completion_tokens": 2,
        "total_tokens": 12,
        "prompt_tokens_details": {"cached_tokens": 0},
    },
}

CHUNK: dict[str, Any] = {
    "id": "20251023225951823569fea7794962",
    "created": 1761231591,
    "model": "glm-4.6",
    "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}],
}


def _edit(base: dict[str, Any], path: tuple[Any, ...], value: Any = ..., delete: bool = False):
    data = copy.deepcopy(base)
    target = data
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


def test_strict_baselines_are_clean() -> None:
    assert validate(ChatCompletion, COMPLETION, Mode.STRICT).findings == []
    assert validate(ChatCompletionChunk, CHUNK, Mode.STRICT).findings == []


@pytest.mark.parametrize(
    ("model", "data", "path", "kind"),
    [
        pytest.param(ChatCompletion, _edit(COMPLETION, ("system_fingerprint",), "fp_1"),
                     "$.system_fingerprint", "unknown_field", id="unknown-top-level-field"),
        pytest.param(ChatCompletionChunk, _edit(CHUNK, ("system_fingerprint",), "fp_1"),
                     "$.system_fingerprint", "unknown_field", id="chunk-unknown-top-level-field"),
        pytest.param(ChatCompletion, _edit(COMPLETION, ("choices", 0, "message", "refusal"), "x"),
                     "$.choices[0].message.refusal", "unknown_field", id="nested-unknown-field"),
        pytest.param(ChatCompletionChunk, _edit(CHUNK, ("choices", 0, "finish_reason"), None),
                     "$.choices[0].finish_reason", "null_value", id="chunk-null-finish-reason"),
        pytest.param(ChatCompletion, _edit(COMPLETION, ("choices", 0, "message", "content"), None),
                     "$.choices[0].message.content", "null_value", id="null-content"),
        pytest.param(ChatCompletion, _edit(COMPLETION, ("usage",), delete=True),
                     "$.usage", "missing_field", id="missing-usage"),
        pytest.param(ChatCompletion, _edit(COMPLETION, ("request_id",), delete=True),
                     "$.request_id", "missing_field", id="missing-request-id"),
        pytest.param(ChatCompletion,
                     _edit(COMPLETION, ("usage", "prompt_tokens_details"), delete=True),
                     "$.usage.prompt_tokens_details", "missing_field",
                     id="missing-prompt-tokens-details"),
    ],
)
def test_strict_catches(model: type, data: dict[str, Any], path: str, kind: str) -> None:
    lenient = validate(model, data, Mode.LENIENT)
    assert lenient.findings == []  # a client would not notice...
    strict = validate(model, data, Mode.STRICT)
    assert [(f.path, f.kind) for f in strict.findings] == [(path, kind)]  # ...strict mode does
    assert strict.model is not None
    assert not strict.ok


def test_strict_finding_str_names_the_path() -> None:
    finding = validate(ChatCompletion, _edit(COMPLETION, ("usage",), delete=True),
                       Mode.STRICT).findings[0]
    assert str(finding).startswith("$.usage: ")


# ---------------------------------------------------------------------------------------------
# Lenient mode still rejects what no client can use
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(Mode))
def test_numeric_error_code_rejected(mode: Mode) -> None:
    result = validate(ErrorBody, {"error": {"code": 1210, "message": "bad"}}, mode)
    assert result.model is None
    assert [(f.path, f.kind) for f in result.findings] == [("$.error.code", "string_type")]


@pytest.mark.parametrize("code", ["1210", "1302", "500"])
def test_string_error_code_accepted(code: str) -> None:
    result = validate(ErrorBody, {"error": {"code": code, "message": "m"}}, Mode.STRICT)
    assert result.ok
    assert result.model is not None and result.model.error.code == code


def test_usage_total_must_be_the_sum() -> None:
    data = _edit(COMPLETION, ("usage", "total_tokens"), 13)
    result = validate(ChatCompletion, data, Mode.LENIENT)
    assert result.model is None
    [finding] = result.findings
    assert finding.path == "$.usage.total_tokens"
    assert finding.kind == "value_error"
    assert "total_tokens 13" in finding.message
    assert "prompt 10" in finding.message
    assert "completion 2" in finding.message


@pytest.mark.parametrize("reason", ["content_filter", "end_turn", "STOP", ""])
def test_unknown_finish_reason_rejected(reason: str) -> None:
    result = validate(ChatCompletion, _edit(COMPLETION, ("choices", 0, "finish_reason"), reason))
    assert result.model is None
    assert [(f.path, f.kind) for f in result.findings] == [
        ("$.choices[0].finish_reason", "literal_error")
    ]


@pytest.mark.parametrize(
    "reason",
    ["stop", "length", "tool_calls", "sensitive", "network_error", "model_context_window_exceeded"],
)
def test_known_finish_reasons_accepted(reason: str) -> None:
    data = _edit(COMPLETION, ("choices", 0, "finish_reason"), reason)
    assert validate(ChatCompletion, data, Mode.STRICT).findings == []


def test_tool_call_without_function_rejected() -> None:
    data = _edit(COMPLETION, ("choices", 0, "message", "tool_calls"),
                 [{"id": "call_1", "index": 0, "type": "function"}])
    result = validate(ChatCompletion, data)
    assert result.model is None
    assert [(f.path, f.kind) for f in result.findings] == [
        ("$.choices[0].message.tool_calls[0].function", "missing")
    ]


def test_tool_call_arguments_parse() -> None:
    call = {"id": "c", "index": 0, "type": "function",
            "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}}
    data = _edit(COMPLETION, ("choices", 0, "message", "tool_calls"), [call])
    result = validate(ChatCompletion, data, Mode.STRICT)
    assert result.ok
    assert result.model is not None
    tool_calls = result.model.choices[0].message.tool_calls
    assert tool_calls is not None
    assert tool_calls[0].function.parsed_arguments() == {"a": 2, "b": 3}


# ---------------------------------------------------------------------------------------------
# Request ranges
# ---------------------------------------------------------------------------------------------

BASE_REQUEST: dict[str, Any] = {"model": "glm-4.6", "messages": [{"role": "user", "content": "hi"}]}


def _request(**fields: Any) -> dict[str, Any]:
    return {**copy.deepcopy(BASE_REQUEST), **fields}


def _kinds(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f.path, f.kind) for f in validate(ChatCompletionRequest, data).findings]


@pytest.mark.parametrize("hundredths", range(0, 101))
def test_temperature_two_decimals_accepted(hundredths: int) -> None:
    assert _kinds(_request(temperature=round(hundredths / 100, 2))) == []


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (0.123, "multiple_of"),
        (0.001, "multiple_of"),
        (0.555, "multiple_of"),
        (0.999, "multiple_of"),
        (1.01, "less_than_equal"),
        (1.5, "less_than_equal"),
        (-0.01, "greater_than_equal"),
    ],
)
def test_temperature_rejected(value: float, kind: str) -> None:
    assert _kinds(_request(temperature=value)) == [("$.temperature", kind)]


@pytest.mark.parametrize("value", [0.01, 0.5, 0.95, 0.333, 1, 1.0])
def test_top_p_accepted(value: float) -> None:
    assert _kinds(_request(top_p=value)) == []


@pytest.mark.parametrize(
    ("value", "kind"),
    [(0, "greater_than_equal"), (0.009, "greater_than_equal"), (1.0001, "less_than_equal")],
)
def test_top_p_rejected(value: float, kind: str) -> None:
    assert _kinds(_request(top_p=value)) == [("$.top_p", kind)]


@pytest.mark.parametrize("value", [1, 4000, 131072, 10**9])
def test_max_tokens_accepted(value: int) -> None:
    # The upper bound is per model (see the cards), not part of the request model.
    assert _kinds(_request(max_tokens=value)) == []


@pytest.mark.parametrize("value", [0, -1])
def test_max_tokens_rejected(value: int) -> None:
    assert _kinds(_request(max_tokens=value)) == [("$.max_tokens", "greater_than_equal")]


def test_messages_must_not_be_empty() -> None:
    assert _kinds(_request(messages=[])) == [("$.messages", "too_short")]


def test_messages_required() -> None:
    assert _kinds({"model": "glm-4.6"}) == [("$.messages", "missing")]


@pytest.mark.parametrize("role", ["system", "user", "assistant"])
def test_roles_accepted(role: str) -> None:
    assert _kinds(_request(messages=[{"role": role, "content": "x"}])) == []


def test_tool_role_accepted_with_call_id() -> None:
    messages = [{"role": "tool", "content": "5", "tool_call_id": "call_1"}]
    assert _kinds(_request(messages=messages)) == []


@pytest.mark.parametrize("role", ["developer", "function", "User", ""])
def test_unknown_roles_rejected(role: str) -> None:
    assert _kinds(_request(messages=[{"role": role, "content": "x"}])) == [
        ("$.messages[0]", "union_tag_invalid")
    ]


def test_tool_result_must_answer_a_call() -> None:
    messages = [
        {"role": "user", "content": "add"},
        {"role": "assistant", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": "{}"}}]},
        {"role": "tool", "content": "5", "tool_call_id": "call_2"},
    ]
    findings = validate(ChatCompletionRequest, _request(messages=messages)).findings
    assert [f.kind for f in findings] == ["value_error"]
    assert "call_2" in findings[0].message


def test_tool_choice_auto_accepted() -> None:
    assert _kinds(_request(tool_choice="auto")) == []


@pytest.mark.parametrize("choice", ["none", "required", {"type": "function"}])
def test_tool_choice_other_rejected(choice: Any) -> None:
    found = _kinds(_request(tool_choice=choice))
    assert found and all(path.startswith("$.tool_choice") for path, _ in found), found


def test_forced_tool_choice_accepted_and_noted_in_strict_mode() -> None:
    forced = {"type": "function", "function": {"name": "get_weather"}}
    assert _kinds(_request(tool_choice=forced)) == []
    checked = validate(ChatCompletionRequest, _request(tool_choice=forced), Mode.STRICT)
    assert checked.findings == []
    assert [(n.path, n.kind) for n in checked.notices] == [("$.tool_choice", "observed_field")]


@pytest.mark.parametrize("length", [6, 7, 64, 128])
def test_user_id_length_accepted(length: int) -> None:
    assert _kinds(_request(user_id="u" * length)) == []


@pytest.mark.parametrize(
    ("length", "kind"),
    [(1, "string_too_short"), (5, "string_too_short"), (129, "string_too_long")],
)
def test_user_id_length_rejected(length: int, kind: str) -> None:
    assert _kinds(_request(user_id="u" * length)) == [("$.user_id", kind)]


@pytest.mark.parametrize("count", [0, 1, 4])
def test_stop_accepted(count: int) -> None:
    assert _kinds(_request(stop=["s"] * count)) == []


@pytest.mark.parametrize("count", [5, 10])
def test_stop_too_many(count: int) -> None:
    assert _kinds(_request(stop=["s"] * count)) == [("$.stop", "too_long")]


def _tool(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}


@pytest.mark.parametrize("name", ["weather", "get_weather", "get-weather", "A1", "x" * 64])
def test_tool_name_accepted(name: str) -> None:
    assert _kinds(_request(tools=[_tool(name)])) == []


@pytest.mark.parametrize("name", ["bad name", "", "x" * 65, "wétter", "a.b"])
def test_tool_name_rejected(name: str) -> None:
    kinds = [kind for _, kind in _kinds(_request(tools=[_tool(name)]))]
    assert kinds == ["string_pattern_mismatch"]


def test_tool_name_finding_path_is_the_json_path() -> None:
    assert _kinds(_request(tools=[_tool("bad name")])) == [
        ("$.tools[0].function.name", "string_pattern_mismatch")
    ]


def test_message_finding_path_is_the_json_path() -> None:
    assert _kinds(_request(messages=[{"role": "tool", "content": "5"}])) == [
        ("$.messages[0].tool_call_id", "missing")
    ]


@pytest.mark.parametrize(
    ("thinking", "enabled"),
    [(None, True), ({"type": "enabled"}, True), ({"type": "disabled"}, False), ({}, True)],
)
def test_thinking_enabled(thinking: Any, enabled: bool) -> None:
    data = _request() if thinking is None else _request(thinking=thinking)
    request = ChatCompletionRequest.model_validate(data)
    assert request.thinking_enabled is enabled


def test_thinking_type_rejected() -> None:
    assert _kinds(_request(thinking={"type": "auto"})) == [("$.thinking.type", "literal_error")]


def test_request_to_wire_omits_unset() -> None:
    wire = ChatCompletionRequest.model_validate(_request(temperature=0.5)).to_wire()
    assert "top_p" not in wire and "thinking" not in wire
    assert wire["temperature"] == 0.5


# ---------------------------------------------------------------------------------------------
# The business error catalogue
# ---------------------------------------------------------------------------------------------

STATUS = {
    "1000": 401, "1001": 401, "1002": 401, "1003": 401, "1004": 401,
    "1110": 403, "1111": 403, "1112": 403, "1113": 429, "1120": 403,
    "1200": 500, "1210": 400, "1211": 400, "1212": 400, "1213": 400, "1214": 400,
    "1220": 403, "1234": 500, "1261": 400, "1301": 400,
    "1302": 429, "1303": 429, "1304": 429, "1305": 429, "1308": 429, "1309": 429, "1310": 429,
    "500": 500, "401": 401,
}
BACKOFF = {"1302", "1303", "1305", "1200", "1234", "500"}
AFTER_RESET = {"1304", "1308", "1310"}


def test_catalogue_codes() -> None:
    assert set(CATALOGUE) == set(STATUS)


@pytest.mark.parametrize(("code", "status"), sorted(STATUS.items()))
def test_catalogue_status(code: str, status: int) -> None:
    known = business_error(code)
    assert known is not None
    assert known.code == code
    assert known.http_status == status
    assert business_error(int(code)) is known


@pytest.mark.parametrize("code", sorted(STATUS))
def test_catalogue_retry(code: str) -> None:
    known = business_error(code)
    assert known is not None
    expected = Retry.BACKOFF if code in BACKOFF else (
        Retry.AFTER_RESET if code in AFTER_RESET else Retry.NEVER)
    assert known.retry is expected
    assert known.retryable is (code in BACKOFF)
    assert is_retryable(known.http_status, code) is (code in BACKOFF)


@pytest.mark.parametrize("code", sorted(STATUS))
def test_catalogue_messages_present(code: str) -> None:
    known = business_error(code)
    assert known is not None
    assert known.locales, "every code has a message in at least one locale"
    assert known.message_en is None or not re.search(r"[\u4e00-\u9fff]", known.message_en)
    assert known.message_zh is None or re.search(r"[\u4e00-\u9fff]", known.message_zh)


def test_1113_is_429_and_never_retried() -> None:
    known = business_error("1113")
    assert known is not None
    assert known.http_status == 429
    assert known.retryable is False
    assert known.retry is Retry.NEVER


@pytest.mark.parametrize("code", ["1302", "1305"])
def test_rate_and_overload_are_429_and_retried(code: str) -> None:
    known = business_error(code)
    assert known is not None
    assert known.http_status == 429
    assert known.retryable is True


def test_1210_not_retryable() -> None:
    known = business_error("1210")
    assert known is not None
    assert known.retryable is False
    assert is_retryable(400, "1210") is False


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (429, "1113", False),
        (429, "1302", True),
        (429, "1305", True),
        (429, None, True),
        (503, None, True),
        (500, None, True),
        (500, "500", True),
        (400, None, False),
        (401, None, False),
        (404, None, False),
        (401, "1000", False),
        (429, "9999", True),  # unknown code: the status decides
        (400, "9999", False),
    ],
)
def test_is_retryable(status: int, code: str | None, expected: bool) -> None:
    assert is_retryable(status, code) is expected


def test_unknown_code() -> None:
    assert business_error("9999") is None


@pytest.mark.parametrize(
    ("code", "fields", "en", "zh"),
    [
        ("1220", {"model": "glm-5"}, "You do not have permission to access glm-5.",
         "您无权访问glm-5。"),
        ("1212", {"method": "sse"}, "The current model does not support the sse call method.",
         "当前模型不支持sse调用方式。"),
    ],
)
def test_message_templates(code: str, fields: dict[str, str], en: str, zh: str) -> None:
    known = business_error(code)
    assert known is not None
    assert known.message("en", **fields) == en
    assert known.message("zh", **fields) == zh


@pytest.mark.parametrize(
    ("param", "detail", "locale", "expected"),
    [
        ("max_tokens", range_detail(1, 131072), "en",
         "The max_tokens parameter is illegal.：限制数值范围[1,131072]"),
        ("max_tokens", range_detail(1, 98304), "zh", "max_tokens参数非法：限制数值范围[1,98304]"),
        ("temperature", None, "en", "The temperature parameter is illegal."),
        ("temperature", None, "zh", "temperature参数非法"),
    ],
)
def test_invalid_parameter_message(param: str, detail: str | None, locale: str,
                                   expected: str) -> None:
    assert invalid_parameter_message(param, detail, locale) == expected


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(1, 131072, "限制数值范围[1,131072]"), (0, 1, "限制数值范围[0,1]"),
     (0.01, 1.0, "限制数值范围[0.01,1]")],
)
def test_range_detail(low: float, high: float, expected: str) -> None:
    assert range_detail(low, high) == expected


def _recorded(path: Path) -> tuple[str, str]:
    data = _load(path)
    detail = data.get("error", data)
    return detail["code"], detail["message"]


@pytest.mark.parametrize("path", _params(ERROR_FILES))
def test_recorded_message_matches_catalogue(path: Path) -> None:
    code, recorded = _recorded(path)
    chinese = bool(re.search(r"[\u4e00-\u9fff]", recorded))
    locale = "zh" if chinese else "en"
    if code == "1210":
        # Param-specific: the recording is glm-4.7-flash refusing max_tokens=99999999.
        expected = invalid_parameter_message("max_tokens", range_detail(1, 131072), locale)
    else:
        known = business_error(code)
        assert known is not None, f"code {code} not in the catalogue"
        expected = known.message(locale)
    assert recorded == expected


@pytest.mark.parametrize("path", _params(ERROR_FILES))
def test_recorded_status_matches_catalogue(path: Path) -> None:
    code, _ = _recorded(path)
    lines = (ERRORS / "INDEX.jsonl").read_text(encoding="utf-8").splitlines()
    index = {row["file"]: row for row in map(json.loads, filter(str.strip, lines))}
    status = index[path.name]["http_status"]
    known = business_error(code)
    assert known is not None
    if status is None:  # the scrape did not keep it; the doc table does
        assert known.http_status == 401
    else:
        assert known.http_status == status


# ---------------------------------------------------------------------------------------------
# Model cards
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "limits"),
    [
        ("glm-4.6", (1, 131072)),
        ("glm-4.7", (1, 131072)),
        ("glm-4.7-flash", (1, 131072)),
        ("glm-5", (1, 131072)),
        ("glm-4.5", (1, 98304)),
        ("glm-4.5-air", (1, 98304)),
        ("glm-4.5-flash", (1, 98304)),
        ("glm-4.6v", (1, 32768)),
    ],
)
def test_max_tokens_range(name: str, limits: tuple[int, int]) -> None:
    card = model_card(name)
    assert card is not None
    assert card.max_tokens_range == limits


@pytest.mark.parametrize("name", ["glm-4.5v", "glm-4.1v-thinking-flash"])
def test_models_refusing_thinking_disabled(name: str) -> None:
    card = model_card(name)
    assert card is not None
    assert card.accepts_thinking_disabled() is False


@pytest.mark.parametrize(
    "name", ["glm-4.5", "glm-4.5-air", "glm-4.6", "glm-4.6v", "glm-4.7", "glm-4.7-flash"]
)
def test_models_accepting_thinking_disabled(name: str) -> None:
    card = model_card(name)
    assert card is not None
    assert card.accepts_thinking_disabled() is True


@pytest.mark.parametrize(
    "name",
    ["glm-4.6", "glm-4.5", "glm-4.5-air", "glm-4.5-x", "glm-4.5-airx", "glm-4.5-flash",
     "glm-4.7", "glm-4.7-flash"],
)
def test_documented_models_have_cards(name: str) -> None:
    card = MODEL_CARDS.get(name)
    assert card is not None and card.name == name
    assert card.context_window > card.max_output_tokens >= 1


@pytest.mark.parametrize("name", ["gpt-4o", "glm-4", "glm-4.6-nope", ""])
def test_unknown_models_have_no_card(name: str) -> None:
    assert model_card(name) is None  # (`GLM-4.6` is glm-4.6: names are case-insensitive, tests/test_twin_2026.py)
