"""The openai-compatible profile: GLM-only rules are reported as not applied, contract rules
still fail; the run ends with a conformance summary (terminal and --glm-report)."""

from __future__ import annotations

import json

import pytest
from check_exchanges import answer, error

from harness.checks import Expect, check_exchange, describe
from harness.profiles import GLM_ONLY, NOT_APPLIED


def _unechoed() -> object:
    return answer("simple", request=lambda r: r.update(request_id="mine-0001"))


def test_a_glm_only_rule_is_not_applied_under_the_openai_compatible_profile() -> None:
    exchange = _unechoed()
    glm = check_exchange(exchange)  # type: ignore[arg-type]
    other = check_exchange(exchange, profile="openai-compatible")  # type: ignore[arg-type]
    assert [(v.check, v.rule) for v in glm.violations] == [("echo_conformance", "request_id")]
    assert other.violations == [] and [v.rule for v in other.not_applied] == ["request_id"]
    assert f"({NOT_APPLIED}) [echo_conformance] $.request_id" in describe([], other.not_applied)


def test_a_contract_rule_still_fails_under_the_openai_compatible_profile() -> None:
    # a wrong status is everyone's contract; a wrong business code is GLM's alone
    exchange = error("400_1211", 404)
    run = check_exchange(exchange, Expect(400, "1211"), profile="openai-compatible")
    assert [(v.check, v.rule) for v in run.violations] == [("status_code_conformance", "status")]
    wrong_code = error("400_1211", 400, lambda b: b["error"].update(code="9999") or b)
    run = check_exchange(wrong_code, Expect(400, "1211"), profile="openai-compatible")
    assert run.violations == []
    assert "error_code_conformance.code" in {f"{v.check}.{v.rule}" for v in run.not_applied}


def test_every_glm_only_rule_names_a_rule_of_the_check_table() -> None:
    from check_table import CASES

    known = {f"{c.check}.{c.rule}" for c in CASES}
    assert set(GLM_ONLY) <= known, set(GLM_ONLY) - known


SUITE = '''
def test_echo(glm_client, glm_check):
    glm_check(glm_client.send({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8,
                               "request_id": "mine-0001"}))

def test_wrong_status(glm_client, glm_check):
    glm_check(glm_client.send({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}),
              status=400)
'''


def test_the_run_ends_with_a_conformance_summary(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    report = pytester.path / "report.json"
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--glm-profile", "openai-compatible",
                                          "--glm-report", str(report))
    text = result.stdout.str()
    assert "glm-harness conformance summary" in text
    assert "profile openai-compatible: 2 answer(s) checked" in text
    assert "BREAKS status_code_conformance.status: 1 of 2 answer(s)" in text
    assert "meets  echo_conformance: all 1 answer(s)" in text
    data = json.loads(report.read_text())
    assert data["profile"] == "openai-compatible"
    assert data["conformance"]["broken"] == {"status_code_conformance.status": {"answers": 1, "of": 2}}
    assert data["conformance"]["answers_checked"] == 2
    assert {t["nodeid"]: t["outcome"] for t in data["tests"]} == {
        "test_suite.py::test_echo": "passed", "test_suite.py::test_wrong_status": "failed"}
    assert data["tests"][1]["checks"] == ["status_code_conformance"]


# -- where the profile holds a server to OpenAI's documented behaviour instead of GLM's ----------
OPENAI_MODEL_NOT_FOUND = {"error": {"message": "The model `x` does not exist or you do not have access to it.",
                                    "type": "invalid_request_error", "param": None, "code": "model_not_found"}}


def test_openais_error_object_conforms_under_the_openai_compatible_profile() -> None:
    exchange = error("400_1211", 404, lambda b: OPENAI_MODEL_NOT_FOUND)
    run = check_exchange(exchange, Expect(404), profile="openai-compatible")
    assert run.violations == [] and run.not_applied == []


def test_a_null_code_is_openais_and_conforms_under_the_profile() -> None:
    exchange = error("400_1211", 400, lambda b: b["error"].update(code=None) or b)
    assert check_exchange(exchange, Expect(400), profile="openai-compatible").violations == []


def test_a_numeric_code_breaks_openais_error_object_too() -> None:
    exchange = error("400_1211", 400, lambda b: b["error"].update(code=400) or b)
    run = check_exchange(exchange, Expect(400), ("error_schema_conformance",), profile="openai-compatible")
    assert [v.line() for v in run.violations] == [
        '[error_schema_conformance] $.error.code: expected an OpenAI error body {"error": {"message": "...", '
        '"type", "param", "code": "<string>" or null}}; got string_type: Input should be a valid string (got 400)']


def test_an_error_without_a_message_breaks_openais_error_object() -> None:
    exchange = error("400_1211", 400, lambda b: {"detail": "Not Found"})
    run = check_exchange(exchange, Expect(400), ("error_schema_conformance",), profile="openai-compatible")
    assert [v.path for v in run.violations] == ["$.error"]
    assert all(v.rule == "schema" and "an OpenAI error body" in v.expected for v in run.violations)
