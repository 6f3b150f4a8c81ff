"""The contract as the live API speaks it in 2026, the twin's two profiles, `validate --strict`
telling documented from observed from unknown, and `learn` proposing what new recordings add.

The 2026 answers below are written here from the facts in shared/glm-api.md ("What changed in
2026"); they are not copies of anyone's recordings.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main as cli_main
from harness.contract import (
    CATALOGUE,
    MODEL_CARDS,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ErrorBody,
    Mode,
    business_error,
    model_card,
    strict_report,
    validate,
)
from harness.learn import add_learn_arguments, learn, run_learn
from harness.mock import TWIN_KEY, GLMTwin, TwinConfig, TwinProfile, WireRequest
from harness.mock.server import add_serve_arguments, config_from_args

TOOL_ANSWER_2026: dict[str, Any] = {
    "id": "2026061012000011aa22bb33cc44dd", "object": "chat.completion",
    "request_id": "2026061012000011aa22bb33cc44dd", "created": 1781092800, "model": "glm-4.7",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "\n", "reasoning_content": "The user wants a sum.",
        "tool_calls": [{"id": "call_-8070450532247928832", "index": 0, "type": "function",
                        "function": {"name": "add", "arguments": "{\"a\":2,\"b\":3}"}}]}}],
    "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
              "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 12}},
}
FINAL_CHUNK_2026: dict[str, Any] = {
    "id": "2026061012000011aa22bb33cc44dd", "object": "chat.completion.chunk", "created": 1781092800,
    "model": "glm-5", "choices": [{"index": 0, "finish_reason": "stop", "delta": {"role": "assistant", "content": ""}}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13,
              "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 2}},
}
SMALL_MODEL_ANSWER: dict[str, Any] = {
    "id": "a1", "request_id": "a1", "object": "chat.completion", "created": 1781092800,
    "model": "glm-4-flash-250414",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hi."}}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}


def _kinds(findings: list[Any]) -> list[tuple[str, str]]:
    return [(f.path, f.kind) for f in findings]


# -- the contract: documented, observed, unknown ---------------------------------------------------
@pytest.mark.parametrize(("model", "data"), [(ChatCompletion, TOOL_ANSWER_2026),
                                            (ChatCompletionChunk, FINAL_CHUNK_2026)])
def test_2026_answers_are_valid_and_their_new_fields_are_notices(model: type, data: dict[str, Any]) -> None:
    assert validate(model, data).ok
    strict = validate(model, data, Mode.STRICT)
    assert strict.findings == []
    assert _kinds(strict.notices) == [("$.object", "observed_field"),
                                      ("$.usage.completion_tokens_details", "observed_field")]
    assert all("observed in real traffic on" in n.message and "2026" in n.message for n in strict.notices)


def test_a_truly_unknown_field_is_still_drift() -> None:
    data = copy.deepcopy(TOOL_ANSWER_2026) | {"service_tier": "default"}
    strict = validate(ChatCompletion, data, Mode.STRICT)
    assert _kinds(strict.findings) == [("$.service_tier", "unknown_field")]
    assert not strict.ok


def test_held_against_2025_the_2026_fields_are_unknown() -> None:
    checked = validate(ChatCompletion, TOOL_ANSWER_2026).model
    assert checked is not None
    found = {(f.path, f.kind) for f in strict_report(checked, era="2025")}
    assert {("$.object", "unknown_field"), ("$.usage.completion_tokens_details", "unknown_field")} <= found


def test_reasoning_tokens_are_read_where_the_api_reports_them() -> None:
    with_details = validate(ChatCompletion, TOOL_ANSWER_2026).model
    without = validate(ChatCompletion, SMALL_MODEL_ANSWER).model
    assert with_details is not None and with_details.usage is not None
    assert without is not None and without.usage is not None
    assert with_details.usage.reasoning_tokens == 12
    assert without.usage.reasoning_tokens is None  # not 0: the API did not say


def test_prompt_tokens_details_is_expected_only_where_the_card_says() -> None:
    assert validate(ChatCompletion, SMALL_MODEL_ANSWER, Mode.STRICT).findings == []
    bigger = copy.deepcopy(SMALL_MODEL_ANSWER) | {"model": "glm-4.6"}
    assert _kinds(validate(ChatCompletion, bigger, Mode.STRICT).findings) == [
        ("$.usage.prompt_tokens_details", "missing_field")]


def test_a_content_filter_body_is_documented() -> None:
    body = {"contentFilter": [{"level": 1, "role": "assistant"}], "error": {"code": "1301", "message": "unsafe"}}
    strict = validate(ErrorBody, body, Mode.STRICT)
    assert strict.findings == [] and strict.notices == []
    assert not validate(ErrorBody, body | {"contentFilter": [{"level": 7}]}).ok  # levels run 0 to 3


def test_a_top_level_request_id_in_an_error_body_is_a_notice() -> None:
    body = {"error": {"code": "1234", "message": "Network error"}, "request_id": "20260313110043f39c0c779d324bf1"}
    strict = validate(ErrorBody, body, Mode.STRICT)
    assert strict.findings == []
    assert [(n.path, n.kind) for n in strict.notices] == [("$.request_id", "observed_field")]


def test_forced_tool_choice_and_reasoning_effort_are_accepted() -> None:
    request = {"model": "glm-5", "messages": [{"role": "user", "content": "2+3?"}], "reasoning_effort": "high",
               "tools": [{"type": "function", "function": {"name": "add"}}],
               "tool_choice": {"type": "function", "function": {"name": "add"}}}
    checked = validate(ChatCompletionRequest, request, Mode.STRICT)
    assert checked.findings == [] and checked.model is not None
    assert checked.model.forced_tool == "add"
    assert {n.path for n in checked.notices} == {"$.tool_choice", "$.reasoning_effort"}


# -- cards and catalogue: facts with their sources -------------------------------------------------
@pytest.mark.parametrize("name", ["glm-4.7", "glm-4.7-flash", "glm-5", "glm-5.1", "glm-4-flash-250414",
                                  "glm-4.6v", "glm-4.6v-flash"])
def test_new_models_have_cards_with_sources(name: str) -> None:
    card = model_card(name)
    assert card is not None
    assert card.sources and all(card.sources.values())
    assert {"limits", "thinking", "usage"} <= set(card.sources)


def test_card_facts_from_the_2026_recordings() -> None:
    assert MODEL_CARDS["glm-5"].accepts_thinking_disabled()  # recorded 200 in 2026
    assert MODEL_CARDS["glm-4.7-flash"].max_tokens_range == (1, 131072)
    assert MODEL_CARDS["glm-4.7"].reports_reasoning_tokens and MODEL_CARDS["glm-4.6"].reports_reasoning_tokens
    assert not MODEL_CARDS["glm-4.5-air"].reports_reasoning_tokens  # 2026-05 captures
    assert not MODEL_CARDS["glm-4-flash-250414"].reports_cached_tokens
    assert "assumed" in MODEL_CARDS["glm-5.1"].sources["limits"]


@pytest.mark.parametrize(("code", "status"), [("1301", 400), ("1305", 429), ("1310", 429), ("1234", 500)])
def test_the_2026_codes_are_in_the_catalogue(code: str, status: int) -> None:
    known = business_error(code)
    assert known is not None and known.http_status == status


def test_a_locale_known_from_nowhere_is_left_out_not_invented() -> None:
    assert CATALOGUE["1310"].locales == ("en",)
    assert CATALOGUE["1310"].en is not None and CATALOGUE["1310"].en.recorded
    assert CATALOGUE["1305"].zh is not None and CATALOGUE["1305"].zh.recorded
    assert CATALOGUE["1305"].zh.template == "该模型当前访问量过大，请您稍后再试"
    assert all(t.source for e in CATALOGUE.values() for t in (e.en, e.zh) if t is not None)


# -- the twin's two profiles -------------------------------------------------------------------------
def _answer(twin: GLMTwin, **fields: Any) -> dict[str, Any]:
    body = {"model": "glm-4.7", "messages": [{"role": "user", "content": "Hello"}], **fields}
    reply = twin.handle(WireRequest("POST", "/api/paas/v4/chat/completions",
                                    {"Authorization": f"Bearer {TWIN_KEY}"}, json.dumps(body).encode()))
    assert reply.status == 200, reply.body
    return dict(json.loads(reply.body))


def test_the_twin_speaks_2026_by_default() -> None:
    data = _answer(GLMTwin())
    assert data["object"] == "chat.completion"
    assert data["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    assert "completion_tokens_details" not in _answer(GLMTwin(), model="glm-4.5-air")["usage"]


def test_the_2025_profile_has_the_2025_shapes() -> None:
    for twin in (GLMTwin(profile="2025"), GLMTwin(TwinConfig(profile=TwinProfile.API_2025))):
        data = _answer(twin)
        assert "object" not in data and "completion_tokens_details" not in data["usage"]


def test_a_forced_tool_choice_is_honoured() -> None:
    tools = [{"type": "function", "function": {"name": "add", "parameters": {
        "type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}},
             {"type": "function", "function": {"name": "get_weather"}}]
    data = _answer(GLMTwin(), tools=tools, tool_choice={"type": "function", "function": {"name": "get_weather"}})
    message = data["choices"][0]["message"]
    assert [c["function"]["name"] for c in message["tool_calls"]] == ["get_weather"]
    assert isinstance(message["content"], str) and message["content"]


def test_serve_takes_a_profile() -> None:
    parser = add_serve_arguments(argparse.ArgumentParser())
    assert config_from_args(parser.parse_args([])).profile is TwinProfile.API_2026
    assert config_from_args(parser.parse_args(["--profile", "2025"])).profile is TwinProfile.API_2025
    with pytest.raises(SystemExit):
        parser.parse_args(["--profile", "2024"])


# -- validate --strict: documented vs observed vs unknown ---------------------------------------------
def test_validate_strict_reports_observed_apart_from_unknown(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.json").write_text(json.dumps(TOOL_ANSWER_2026))
    assert cli_main(["validate", "--strict", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "notice $.object: [observed_field]" in out
    assert out.splitlines()[-1].startswith("fields beyond the documented contract: 2 observed in real traffic")
    assert out.splitlines()[-1].endswith("0 unknown (none)")
    (tmp_path / "b.json").write_text(json.dumps(TOOL_ANSWER_2026 | {"service_tier": "x"}))
    assert cli_main(["validate", "--strict", str(tmp_path)]) == 1
    assert "1 unknown ($.service_tier)" in capsys.readouterr().out


def test_validate_lenient_accepts_a_folder_of_2026_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.json").write_text(json.dumps(TOOL_ANSWER_2026))
    (tmp_path / "b.json").write_text(json.dumps(SMALL_MODEL_ANSWER))
    assert cli_main(["validate", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "2 valid, 0 invalid (lenient mode)"


# -- learn -------------------------------------------------------------------------------------------
def _folder(tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "x.json").write_text(json.dumps(TOOL_ANSWER_2026))
    (tmp_path / "y.sse").write_bytes(b"data: " + json.dumps(FINAL_CHUNK_2026).encode() + b"\n\ndata: [DONE]\n\n")
    (tmp_path / "z.json").write_text(json.dumps({"error": {"code": "1399", "message": "New thing"}}))
    (tmp_path / "w.json").write_text(json.dumps(SMALL_MODEL_ANSWER | {"model": "glm-6-preview"}))
    return tmp_path


def test_learn_proposes_the_2026_fields_against_the_2025_contract(tmp_path: Path) -> None:
    learned, _ = learn([_folder(tmp_path)], against="2025")
    proposal = learned.as_json("2025")
    new = {(f["in"], f["path"]): f for f in proposal["fields"] if f["status"] == "new"}
    assert set(new) >= {("ChatCompletion", "$.object"), ("ChatCompletionChunk", "$.object"),
                        ("ChatCompletion", "$.usage.completion_tokens_details")}
    assert new[("ChatCompletion", "$.object")]["examples"] == ["chat.completion"]
    assert new[("ChatCompletion", "$.object")]["models"] == ["glm-4.7", "glm-6-preview"]
    assert new[("ChatCompletion", "$.object")]["types"] == ["string"]


def test_learn_proposes_codes_models_and_behaviours(tmp_path: Path) -> None:
    proposal = learn([_folder(tmp_path)])[0].as_json("current")
    assert [(c["code"], c["propose"]) for c in proposal["codes"]] == [("1399", "add the code to the catalogue")]
    assert [m["name"] for m in proposal["models"]] == ["glm-6-preview"]
    assert proposal["models"][0]["seen"] == {"reports_reasoning_tokens": False, "reports_cached_tokens": False}
    assert proposal["behaviours"]["tool_call_id_shapes"] == {"call_-<int>": 1}
    assert proposal["behaviours"]["tool_calls_answers"] == {"with content": 1, "without": 0}


def test_learn_against_today_proposes_only_the_models_a_field_does_not_list(tmp_path: Path) -> None:
    proposal = learn([_folder(tmp_path)])[0].as_json("current")
    found = [(f["in"], f["status"], f.get("add_models")) for f in proposal["fields"] if f["path"] == "$.object"]
    assert found == [("ChatCompletion", "observed", ["glm-6-preview"])]


def test_learn_writes_its_proposal_atomically_and_refuses_bad_input(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    parser = add_learn_arguments(argparse.ArgumentParser())
    out = tmp_path / "proposal.json"
    assert run_learn(parser.parse_args([str(_folder(tmp_path / "in")), "--out", str(out)])) == 0
    assert json.loads(out.read_text())["recordings"] == 4
    assert run_learn(parser.parse_args([str(tmp_path / "nowhere")])) == 2
    err = capsys.readouterr().err
    assert err.startswith("glm-harness learn: error: ") and err.count("\n") == 1


@pytest.mark.parametrize("profile", ["2025", "2026"])
def test_the_in_process_twin_profile_is_chosen_by_the_environment(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, profile: str) -> None:
    pytester.makepyfile(f"""
def test_profile(glm_mock):
    assert glm_mock.config.profile.value == "{profile}"
""")
    monkeypatch.setenv("GLM_HARNESS_TWIN_PROFILE", profile)
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_learn_knows_the_per_parameter_1210_messages(tmp_path: Path) -> None:
    for n, message in enumerate(["max_tokens参数非法：限制数值范围[1,98304]",
                                 "The max_tokens parameter is illegal.：限制数值范围[1,131072]",
                                 "该模型始终思考，不支持关闭思考；请使用 low、high 或 max。"]):
        (tmp_path / f"e{n}.json").write_text(json.dumps({"error": {"code": "1210", "message": message}},
                                                         ensure_ascii=False))
    assert learn([tmp_path])[0].as_json("current")["codes"] == []
    (tmp_path / "new.json").write_text(json.dumps({"code": "1210", "message": "Something else entirely"}))
    assert [c["message"] for c in learn([tmp_path])[0].as_json("current")["codes"]] == ["Something else entirely"]


@pytest.mark.parametrize(("call_id", "shape"), [("call_-8167683298435521960", "call_-<int>"),
                                                ("call_29207bee5b434b86830450d1", "call_<hex>"),
                                                ("call_1", "call_<int>")])
def test_learn_reports_the_shape_of_tool_call_ids(tmp_path: Path, call_id: str, shape: str) -> None:
    answer = copy.deepcopy(TOOL_ANSWER_2026)
    answer["choices"][0]["message"]["tool_calls"][0]["id"] = call_id
    (tmp_path / "a.json").write_text(json.dumps(answer))
    assert learn([tmp_path])[0].as_json("current")["behaviours"]["tool_call_id_shapes"] == {shape: 1}


def test_the_twin_refuses_thinking_off_in_the_recorded_chinese_words() -> None:
    twin = GLMTwin(TwinConfig(locale="zh"))
    body = {"model": "glm-4.5v", "messages": [{"role": "user", "content": "Hi"}], "thinking": {"type": "disabled"}}
    reply = twin.handle(WireRequest("POST", "/api/paas/v4/chat/completions",
                                    {"Authorization": f"Bearer {TWIN_KEY}"}, json.dumps(body).encode()))
    assert (reply.status, json.loads(reply.body)["error"]) == (
        400, {"code": "1210", "message": "该模型始终思考，不支持关闭思考；请使用 low、high 或 max。"})


# -- every undocumented fact says where it was seen --------------------------------------------------
def _observed_markers() -> list[tuple[str, dict[str, Any]]]:
    from pydantic import BaseModel

    import harness.contract as contract
    from harness.contract._base import PROVENANCE

    found = []
    classes = {c for c in vars(contract).values() if isinstance(c, type) and issubclass(c, BaseModel)}
    seen: set[type] = set()
    while classes:
        cls = classes.pop()
        seen.add(cls)
        extra = cls.model_config.get("json_schema_extra")
        if isinstance(extra, dict) and PROVENANCE in extra:
            found.append((cls.__name__, extra[PROVENANCE]))
        for name, info in cls.model_fields.items():
            if isinstance(info.json_schema_extra, dict) and PROVENANCE in info.json_schema_extra:
                found.append((f"{cls.__name__}.{name}", info.json_schema_extra[PROVENANCE]))
            for arg in getattr(info.annotation, "__args__", (info.annotation,)):
                inner = getattr(arg, "__args__", (arg,))
                classes |= {a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)} - seen
    return found


def test_every_observed_fact_names_its_models_dates_and_era() -> None:
    markers = _observed_markers()
    names = {name for name, _ in markers}
    assert {"ChatCompletion.object", "ChatCompletionChunk.object", "Usage.completion_tokens_details",
            "ChatCompletionRequest.reasoning_effort", "NamedToolChoice", "ErrorBody.request_id"} <= names
    for name, facts in markers:
        assert facts["source"] == "observed" and facts["models"] and facts["seen"], name
        assert facts["era"] in ("2025", "2026"), name


# -- recordings are read by content -------------------------------------------------------------------
def test_recordings_pair_by_name_less_role_and_read_an_index_above_them(tmp_path: Path) -> None:
    from harness.recordings import Kind, exchanges, scan

    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "call-7_request.json").write_text(json.dumps(
        {"model": "glm-4.7", "messages": [{"role": "user", "content": "hi"}]}))
    (tmp_path / "deep" / "call-7_response.json").write_text(json.dumps(TOOL_ANSWER_2026))
    (tmp_path / "deep" / "oops.json").write_text(json.dumps({"code": "1305", "message": "busy"}))
    (tmp_path / "INDEX.jsonl").write_text(json.dumps({"file": "deep/oops.json", "http_status": 429}) + "\n")
    notes: list[str] = []
    found = scan([tmp_path], notes)
    assert sorted(r.kind for r in found) == sorted([Kind.REQUEST, Kind.COMPLETION, Kind.INNER_ERROR])
    pairs = {e.answer.label: (e.request.label if e.request else None) for e in exchanges(found)}
    assert pairs == {"deep/call-7": "deep/call-7", "deep/oops": None}
    error = next(r for r in found if r.kind is Kind.INNER_ERROR)
    assert (error.status, error.error_code, error.error_body()) == (
        429, "1305", {"error": {"code": "1305", "message": "busy"}})
    assert next(r for r in found if r.kind is Kind.COMPLETION).era == "2026"
