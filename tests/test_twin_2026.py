"""The twin as GLM answered in 2026-05 (shared/real-traffic-2026), behaviour by behaviour, and the
reading of that capture's layout by `validate` and `drift`.

The answers and captures below are written here from the facts in the captures' README and
shared/glm-api.md ("More 2026 facts"); they are not copies of the recorded files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.cli import main as cli_main
from harness.contract import CATALOGUE, model_card
from harness.drift import drift_report
from harness.learn import learn
from harness.mock import TWIN_KEY, Fault, FaultSpec, GLMTwin, Limits, TwinConfig, WireRequest, twin_router
from harness.recordings import Kind, scan, undo_capture
from harness.surface import Surface
from harness.targets import CODING_PLAN_BASE_URL, MOCK_CODING_PLAN_BASE_URL, mock_target
from harness.validate import validate_paths

PAAS = "/api/paas/v4/chat/completions"
MESSAGES = "/api/anthropic/v1/messages"
CODING = "/api/coding/paas/v4/chat/completions"
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a given location.",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}
WEATHER_Q = "How's the weather in San Francisco? Use get_weather."
RATE_LIMITED_ZH = "您的账户已达到速率限制，请您控制请求频率"
SHARED_2026 = Path(__file__).resolve().parents[1].parent / "shared" / "real-traffic-2026"


def _send(twin: GLMTwin, body: dict[str, Any], path: str = PAAS, key: str | None = TWIN_KEY) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    reply = twin.handle(WireRequest("POST", path, headers, json.dumps(body).encode()))
    raw = reply.body if reply.script is None else b"".join(step.data for step in reply.script)
    reply.close()
    return reply.status, raw


def _body(model: str, content: str = "Say hello", **fields: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **fields}


def _completion(model: str, twin: GLMTwin | None = None, **fields: Any) -> dict[str, Any]:
    status, raw = _send(twin or GLMTwin(), _body(model, **fields))
    assert status == 200, raw
    return dict(json.loads(raw))


def _chunks(model: str, twin: GLMTwin | None = None, **fields: Any) -> list[dict[str, Any]]:
    status, raw = _send(twin or GLMTwin(), _body(model, stream=True, **fields))
    assert status == 200, raw
    events = [line[len("data: "):] for line in raw.decode().split("\n\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    return [json.loads(e) for e in events[:-1]]


def _error(status_raw: tuple[int, bytes]) -> tuple[int, str, str]:
    status, raw = status_raw
    error = json.loads(raw)["error"]
    return status, error["code"], error["message"]


# -- models ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("sent", "card"), [("GLM-4.7", "glm-4.7"), ("GLM-4.5-Air", "glm-4.5-air"),
                                            ("Glm-5-Turbo", "glm-5-turbo")])
def test_model_names_are_served_in_any_case_with_that_models_card(sent: str, card: str) -> None:
    found = model_card(sent)
    assert found is not None and found.name == card
    body = _completion(sent)
    assert body["model"] == sent  # a body echoes the name as sent
    assert {c["model"] for c in _chunks(sent)} == {card}  # a stream lower-cases it
    reports = "completion_tokens_details" in body["usage"]
    assert reports == found.reports_reasoning_tokens


@pytest.mark.parametrize("model", ["glm-5-turbo", "glm-4.7-flashx", "glm-5.2"])
def test_the_models_of_2026_are_known(model: str) -> None:
    assert _completion(model)["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


def test_reasoning_tokens_on_glm_4_6_in_2026_never_on_glm_4_5_air_nor_in_2025() -> None:
    assert _completion("glm-4.6")["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    assert "completion_tokens_details" not in _completion("glm-4.5-air")["usage"]
    assert "completion_tokens_details" not in _completion("glm-4.6", GLMTwin(profile="2025"))["usage"]


def test_cached_tokens_count_a_prefix_the_server_has_seen() -> None:
    twin = GLMTwin()
    first = _completion("glm-4.7", twin)["usage"]["prompt_tokens_details"]["cached_tokens"]
    again = _completion("glm-4.7", twin)["usage"]
    assert first == 0
    assert 0 < again["prompt_tokens_details"]["cached_tokens"] <= again["prompt_tokens"]


# -- tool calls -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("model", "writes"), [("glm-4.5-air", True), ("glm-4.6", True), ("glm-4.7", True),
                                               ("glm-5", False), ("glm-5-turbo", False), ("GLM-5.1", False)])
def test_glm_4_models_write_before_a_tool_call_glm_5_models_do_not(model: str, writes: bool) -> None:
    message = _completion(model, content=WEATHER_Q, tools=[WEATHER_TOOL])["choices"][0]["message"]
    assert message["tool_calls"]
    assert bool(message["content"]) is writes
    assert message["content"] == "" or writes  # glm-5.x: an empty content beside the calls
    deltas = [c["choices"][0]["delta"] for c in _chunks(model, content=WEATHER_Q, tools=[WEATHER_TOOL])]
    first_call = next(i for i, d in enumerate(deltas) if "tool_calls" in d)
    assert any(d.get("content") for d in deltas[:first_call]) is writes


def test_the_2025_profile_writes_nothing_before_a_tool_call() -> None:
    message = _completion("glm-4.6", GLMTwin(profile="2025"), content=WEATHER_Q,
                          tools=[WEATHER_TOOL])["choices"][0]["message"]
    assert message["tool_calls"] and "content" not in message


def test_call_ids_streamed_are_hex_non_streamed_negative_int64_and_a_streamed_call_comes_whole() -> None:
    call = _completion("glm-5", content=WEATHER_Q, tools=[WEATHER_TOOL])["choices"][0]["message"]["tool_calls"][0]
    assert re.fullmatch(r"call_-\d{1,19}", call["id"]) and call["index"] == 0
    deltas = [c["choices"][0]["delta"] for c in _chunks("glm-5", content=WEATHER_Q, tools=[WEATHER_TOOL])]
    calls = [d for d in deltas if "tool_calls" in d]
    assert len(calls) == 1 and set(calls[0]) == {"tool_calls"}  # no role on the tool-call delta
    streamed = calls[0]["tool_calls"][0]
    assert re.fullmatch(r"call_[0-9a-f]{24}", streamed["id"]) and streamed["index"] == 0
    assert set(json.loads(streamed["function"]["arguments"])) == {"location"}


# -- stream framing -------------------------------------------------------------------------------------
@pytest.mark.parametrize("tools", [False, True])
def test_stream_framing_of_2026(tools: bool) -> None:
    fields: dict[str, Any] = {"content": WEATHER_Q, "tools": [WEATHER_TOOL]} if tools else {}
    chunks = _chunks("glm-4.7", **fields)
    for chunk in chunks[:-1]:
        assert chunk["object"] == "chat.completion.chunk"
        choice = chunk["choices"][0]
        assert "finish_reason" not in choice and "usage" not in chunk
        delta = choice["delta"]
        if "tool_calls" in delta:
            assert "role" not in delta
        else:  # no role-only chunk: every other delta carries its text and repeats the role
            assert delta["role"] == "assistant" and (delta.get("content") or delta.get("reasoning_content"))
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == ("tool_calls" if tools else "stop")
    assert last["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert last["usage"]["total_tokens"] > 0


# -- errors ---------------------------------------------------------------------------------------------
def test_empty_input_is_1214_in_the_recorded_words() -> None:
    zh = GLMTwin(TwinConfig(locale="zh"))
    assert _error(_send(zh, {"model": "glm-5", "messages": []})) == (400, "1214", "输入不能为空")
    assert _error(_send(GLMTwin(), {"model": "glm-5", "messages": []}))[:2] == (400, "1214")


def test_a_tool_without_a_name_is_1210_in_the_recorded_words() -> None:
    nameless = {"type": "function", "function": {"description": "test", "parameters": {"type": "object"}}}
    zh = GLMTwin(TwinConfig(locale="zh"))
    assert _error(_send(zh, _body("glm-5", tools=[nameless]))) == (400, "1210", "API 调用参数有误，请检查文档。")
    assert _error(_send(GLMTwin(), _body("glm-5", tools=[nameless]))) == (
        400, "1210", "Invalid API parameter, please check the documentation.")
    assert CATALOGUE["1210"].zh is not None and CATALOGUE["1210"].zh.recorded


def test_1302_in_its_recorded_wordings() -> None:
    limits = Limits(requests=1, per_seconds=60)
    for locale, words in (("zh", RATE_LIMITED_ZH), ("en", "Rate limit reached for requests")):
        twin = GLMTwin(TwinConfig(locale=locale, limits=limits))
        _send(twin, _body("glm-4.7-flash"))
        assert _error(_send(twin, _body("glm-4.7-flash"))) == (429, "1302", words)
    busy = GLMTwin(TwinConfig(limits=Limits(max_concurrency=0)))
    assert _error(_send(busy, _body("glm-4.7")))[2].startswith("High concurrency usage of this API")


@pytest.mark.parametrize(("locale", "pattern"), [
    ("en", r"Usage limit reached for 5 hour\. Your limit will reset at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d"),
    ("zh", r"已达到 5 小时 的使用上限。您的限额将在 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d 重置。")])
def test_the_coding_plans_5_hour_limit_is_429_1308_with_its_reset_time(locale: str, pattern: str) -> None:
    twin = GLMTwin(TwinConfig(locale=locale, faults=(FaultSpec(Fault.FIVE_HOUR_LIMIT),)))
    status, code, message = _error(_send(twin, _body("glm-5.1"), CODING))
    assert (status, code) == (429, "1308")
    assert re.fullmatch(pattern, message), message


def test_the_coding_plan_endpoint_answers_a_bad_key_with_its_own_401() -> None:
    for key in ("invalid_key_xxx", "00000000000000000000000000000000.NoSuchKey"):
        assert _error(_send(GLMTwin(), _body("glm-5"), CODING, key)) == (401, "401", "令牌已过期或验证不正确")
    assert _error(_send(GLMTwin(), _body("glm-5"), PAAS, "invalid_key_xxx"))[:2] == (401, "1002")
    assert _error(_send(GLMTwin(), _body("glm-5"), CODING, None))[:2] == (401, "1001")


def test_the_coding_plan_base_url_is_served_and_known_to_the_targets() -> None:
    assert CODING_PLAN_BASE_URL.endswith("/api/coding/paas/v4")
    target = mock_target("glm-4.7", MOCK_CODING_PLAN_BASE_URL)
    with twin_router(GLMTwin(), base_url=MOCK_CODING_PLAN_BASE_URL), httpx.Client() as client:
        reply = client.post(target.chat_url, headers=target.headers(), json=_body("glm-4.7"))
    assert reply.status_code == 200 and reply.json()["object"] == "chat.completion"


# -- the capture layout, read by validate and drift -----------------------------------------------------
def _capture_folder(root: Path) -> Path:
    """A folder laid out like shared/real-traffic-2026: wrappers, a stream text, an INDEX."""
    twin = GLMTwin()
    request = {"model": "glm-4.7", "messages": [{"role": "user", "content": WEATHER_Q}]}
    status, raw = _send(twin, {**request, "tools": [WEATHER_TOOL]})
    answer = json.loads(raw)
    call = answer["choices"][0]["message"]["tool_calls"][0]
    round2 = [*request["messages"], {"role": "assistant", "content": "", "tool_calls": [call]},
              {"role": "tool", "tool_call_id": call["id"], "content": "24C, sunny"}]
    status2, raw2 = _send(twin, {"model": "glm-4.7", "messages": round2, "tools": [WEATHER_TOOL]})
    status3, raw3 = _send(twin, {**_body("glm-4.7"), "max_tokens": 64}, MESSAGES)
    assert status == status2 == status3 == 200
    message = json.loads(raw3)
    wrappers = {
        "x__openai__tool-use.json": {"protocol": "openai", "streaming": False, "scenario": "tool-use",
                                     "model": "glm-4.7", "request": request,
                                     "extra_body_sent": {"reasoning_split": True},
                                     "response": answer, "tools_sent": [WEATHER_TOOL]},
        "x__openai__tool-result.json": {"protocol": "openai", "streaming": False, "scenario": "tool-result",
                                        "model": "glm-4.7", "request": request, "tools_sent": [WEATHER_TOOL],
                                        "response": {"round1": answer, "round2": json.loads(raw2)},
                                        "rounds": [{"round": 1, "request_messages": request["messages"],
                                                    "response": answer},
                                                   {"round": 2, "request_messages": round2,
                                                    "response": json.loads(raw2)}]},
        "x__openai__cache.json": {"protocol": "openai", "streaming": False, "scenario": "cache", "model": "glm-4.7",
                                  "request": _body("glm-4.7"),
                                  "response": [_completion("glm-4.7", twin), _completion("glm-4.7", twin)]},
        "x__openai__error-model.json": {"protocol": "openai", "streaming": False, "scenario": "error-model",
                                        "model": "glm-4.7", "request": _body("glm-4.7"), "response": {
                                            "error": True, "http_code": 400, "reason": "Bad Request",
                                            "body": {"error": {"code": "1211", "message": "模型不存在"}}}},
        "x__openai__error-auth.json": {"protocol": "openai", "streaming": False, "scenario": "error-auth",
                                       "model": "glm-4.7", "request": _body("glm-4.7"), "response": {
                                           "error": True, "http_code": 401, "reason": "Unauthorized",
                                           "body": {"error": {"code": "401", "message": "令牌已过期或验证不正确"}}}},
        "x__openai__error-limit.json": {"protocol": "openai", "streaming": False, "scenario": "simple",
                                        "model": "glm-4.7-flash", "request": _body("glm-4.7-flash"), "response": {
                                            "error": True, "http_code": 429, "reason": "Too Many Requests",
                                            "body": {"error": {"code": "1302", "message": RATE_LIMITED_ZH}}}},
        "x__anthropic__simple.json": {"protocol": "anthropic", "streaming": False, "scenario": "anthropic-simple",
                                      "model": "glm-4.7", "request": _body("glm-4.7"), "max_tokens_sent": 64,
                                      "response": message},
    }
    for name, wrapper in wrappers.items():
        (root / name).write_text(json.dumps(wrapper, ensure_ascii=False, indent=2))
    stream = _send(GLMTwin(), {**_body("glm-4.7"), "stream": True})[1]
    text = repr({"_raw": (stream + b"data: [DONE]\n").decode()})  # the script's repr, its [DONE] appended
    (root / "x__openai__streaming.txt").write_text(text)
    endpoint = "https://open.bigmodel.cn/api/coding/paas/v4/chat/completions"
    appended = "stream file is a Python repr; the script APPENDED \"\\ndata: [DONE]\\n\""
    index = [{"file": "x__openai__streaming.txt", "endpoint": endpoint, "http_status": 200, "caveats": [appended]},
             {"file": "x__openai__error-model.json", "endpoint": endpoint,
              "caveats": ["actual request model was \"this-model-does-not-exist-999\" (the wrapper shows another)"]},
             {"file": "x__openai__error-auth.json", "endpoint": endpoint,
              "caveats": ["sent with invalid key \"invalid_key_xxx\""]}]
    (root / "INDEX.jsonl").write_text("".join(json.dumps(e) + "\n" for e in index))
    (root / "README.md").write_text("notes")
    return root


def test_a_capture_wrapper_is_read_as_its_requests_and_answers(tmp_path: Path) -> None:
    notes: list[str] = []
    found = {r.label: r for r in scan([_capture_folder(tmp_path)], notes) if r.kind is Kind.REQUEST}
    tool_use = found["x__openai__tool-use"]
    assert tool_use.kind is Kind.REQUEST and tool_use.data["tools"] == [WEATHER_TOOL]
    assert "extra_body" not in tool_use.data  # sent literally, ignored by the server
    assert {label for label in found if "tool-result" in label} == {"x__openai__tool-result#round1",
                                                                   "x__openai__tool-result#round2"}
    assert [m["role"] for m in found["x__openai__tool-result#round2"].data["messages"]] == ["user", "assistant", "tool"]
    cache = [r for r in scan([tmp_path], []) if r.label.startswith("x__openai__cache")]
    assert [(r.label, r.kind) for r in cache] == [("x__openai__cache#1", Kind.REQUEST),
                                                  ("x__openai__cache#1", Kind.COMPLETION),
                                                  ("x__openai__cache#2", Kind.REQUEST),
                                                  ("x__openai__cache#2", Kind.COMPLETION)]
    errors = [r for r in scan([tmp_path], []) if r.label == "x__openai__error-model" and r.kind is Kind.REQUEST]
    assert errors[0].data["model"] == "this-model-does-not-exist-999"
    assert [r.kind for r in scan([tmp_path], []) if r.label == "x__openai__streaming.txt"] == [Kind.STREAM]
    # the Messages surface's wrapper is read too: its answer a Message, its max_tokens put back
    simple = [r for r in scan([tmp_path], []) if r.label == "x__anthropic__simple"]
    assert [(r.kind, r.surface) for r in simple] == [(Kind.REQUEST, Surface.ANTHROPIC),
                                                     (Kind.MESSAGE, Surface.ANTHROPIC)]
    assert simple[0].data["max_tokens"] == 64
    assert notes == []


def test_the_capture_scripts_stream_text_is_read_as_the_server_sent_it() -> None:
    sent = b'data: {"choices":[]}\n\ndata: [DONE]\n\n'
    text = repr({"_raw": (sent + b"data: [DONE]\n").decode()}).encode()
    appended = {"caveats": ['the script APPENDED "\\ndata: [DONE]\\n"']}
    assert undo_capture(text, appended)[0] == sent
    assert undo_capture(sent + b"data: [DONE]\n", appended) == (sent, [
        "a final data: [DONE] line the capture script appended (INDEX.jsonl says so) was dropped"])
    # Without the INDEX saying so, a second [DONE] is the server's, and stays for the checks to see.
    assert undo_capture(sent + b"data: [DONE]\n", {}) == (sent + b"data: [DONE]\n", [])


def test_validate_reads_the_capture_and_says_what_it_skipped(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder = _capture_folder(tmp_path)
    reports = validate_paths([folder])
    assert {r.path.name: r.kind for r in reports if not r.skipped}["x__openai__streaming.txt"] == "stream"
    assert all(not r.findings for r in reports), [(r.path.name, r.findings) for r in reports if r.findings]
    skipped = sorted(r.path.name for r in reports if r.skipped)
    assert skipped == ["INDEX.jsonl", "README.md"]
    assert cli_main(["validate", "--strict", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "8 valid, 0 invalid, 2 skipped: 2 the folder's notes, not traffic (strict mode)" in out
    assert "x__anthropic__simple.json: capture (anthropic), ok" in out
    assert "; 0 unknown (none)" in out


def test_a_file_validate_cannot_read_in_a_folder_is_counted_not_fatal(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.log").write_text("hello")
    (tmp_path / ".gitkeep").write_text("")
    (tmp_path / "answer.json").write_text(json.dumps(_completion("glm-4.7")))
    assert cli_main(["validate", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert "notes.log: unknown kind (" in out and "is neither JSON nor an SSE stream" in out
    assert out.splitlines()[-1] == ("1 valid, 0 invalid, 1 of unknown kind, 1 skipped: 1 the folder's notes, "
                                    "not traffic (lenient mode)")


def test_learn_takes_nothing_from_a_request_the_server_refused(tmp_path: Path) -> None:
    folder = _capture_folder(tmp_path)
    empty = {"protocol": "openai", "scenario": "error-empty", "model": "glm-4.7",
             "request": {"model": "glm-4.7", "messages": []}, "response": {
                 "error": True, "http_code": 400, "body": {"error": {"code": "1214", "message": "输入不能为空"}}}}
    (folder / "x__openai__error-empty.json").write_text(json.dumps(empty, ensure_ascii=False))
    proposal = learn([folder])[0].as_json("current")
    assert proposal["fields"] == [] and proposal["models"] == []  # no `messages: []`, no bogus model


def test_drift_compares_the_capture_as_it_is(tmp_path: Path) -> None:
    report = drift_report(_capture_folder(tmp_path), known=[])
    assert report.differences == [], [str(d) for d in report.differences]
    assert len(report.compared) == 10  # 1 + 2 rounds + 2 repeats + 3 errors + the stream + the Message
    assert not any("skipped" in note for note in report.notes)


@pytest.mark.skipif(not SHARED_2026.is_dir(), reason=f"no {SHARED_2026} (the shared 2026 captures)")
def test_the_shared_2026_captures_validate_and_drift_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["validate", "--strict", str(SHARED_2026)]) == 0
    out = capsys.readouterr().out.splitlines()
    # every file read, on both surfaces; only the folder's own notes set aside, and said
    assert out[-2] == "365 valid, 0 invalid, 2 skipped: 2 the folder's notes, not traffic (strict mode)"
    assert out[-1].endswith("; 0 unknown (none)")
    report = drift_report(SHARED_2026)
    assert report.unknown == [] and all(d.reason for d in report.differences)
