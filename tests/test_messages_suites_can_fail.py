"""The contract suites on the Anthropic-compatible surface (`--glm-surface anthropic`, pytester):
proofs that they fail, run against a twin armed with each fault, through the right named check of
that surface; and the plugin's machinery working the same as on chat completions (the surface in
three spellings, one-surface tests skipped with a reason, --glm-report, record and replay, the
hung-target rule)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from harness._silence import HUNG_AFTER
from harness.mock import TWIN_KEY, Fault
from harness.mock.replay import ReplayTwin
from harness.mock.server import running_twin

SUITES = Path(__file__).resolve().parents[1] / "suites" / "contract"

# fault -> (suite file, test selection, the check that must name the failure, a detail it must say)
CAUGHT_BY: dict[str, tuple[str, str, str, str]] = {
    "reset_mid_stream": ("test_streaming.py", "test_stream_conforms", "transport_completed", "RemoteProtocolError"),
    "stall:0:3": ("test_streaming.py", "test_stream_conforms", "transport_completed", "ReadTimeout"),
    "truncated_chunk": ("test_streaming.py", "test_stream_conforms", "sse_framing", "unterminated_event"),
    "malformed_json_chunk": ("test_streaming.py", "test_stream_conforms", "message_event_schema", "malformed_json"),
    "missing_done": ("test_streaming.py", "test_stream_conforms", "message_event_order", "missing_message_stop"),
    "duplicate_finish_reason": ("test_streaming.py", "test_stream_conforms", "message_event_order",
                                "message_delta_repeated"),
    "missing_usage": ("test_schemas.py", "test_plain_completion_conforms", "message_usage_conformance",
                      "a usage object"),
    "wrong_usage": ("test_schemas.py", "test_plain_completion_conforms", "message_usage_conformance",
                    "output_tokens"),
    "missing_field": ("test_schemas.py", "test_plain_completion_conforms", "message_schema_conformance", "id"),
    "wrong_content_type": ("test_schemas.py", "test_plain_completion_conforms", "content_type_conformance",
                           "text/html"),
    "empty_body": ("test_schemas.py", "test_plain_completion_conforms", "non_empty_body", "0 bytes"),
    "server_error_burst": ("test_schemas.py", "test_plain_completion_conforms", "status_code_conformance",
                           "got 500"),
    "rate_limit_burst": ("test_schemas.py", "test_plain_completion_conforms", "status_code_conformance",
                         "got 429"),
    "content_filter": ("test_schemas.py", "test_plain_completion_conforms", "status_code_conformance",
                       "got 400"),
    "overloaded": ("test_schemas.py", "test_plain_completion_conforms", "status_code_conformance", "got 529"),
    "plan_limit": ("test_schemas.py", "test_plain_completion_conforms", "status_code_conformance", "got 429"),
    "five_hour_limit": ("test_schemas.py", "test_plain_completion_conforms", "status_code_conformance", "got 429"),
    "network_error": ("test_schemas.py", "test_plain_completion_conforms", "status_code_conformance",
                      "got 500"),
    "invalid_tool_arguments": ("test_messages.py", "test_tool_use and stream", "tool_use_conformance",
                               "invalid JSON"),
    "wrong_status": ("test_messages.py", "test_bad_request_is_400_with_its_code and unknown",
                     "status_code_conformance", "expected 400; got 500"),
    "numeric_error_code": ("test_messages.py", "test_bad_request_is_400_with_its_code and unknown",
                           "message_error_schema_conformance", "string_type"),
}


def _run(pytester: pytest.Pytester, suite: str, select: str, *extra: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(
        str(SUITES / suite), "-k", select, "-p", "no:cacheprovider", "--glm-read-timeout", "1",
        "--glm-surface", "anthropic", *extra)


def test_every_fault_kind_has_a_proof_on_this_surface() -> None:
    armed = {name.split(":")[0] for name in CAUGHT_BY}
    assert armed == {f.value for f in Fault}, f"faults without a proof: {sorted({f.value for f in Fault} - armed)}"


@pytest.mark.parametrize("fault", CAUGHT_BY, ids=[f.split(":")[0] for f in CAUGHT_BY])
def test_suite_catches_fault_on_the_messages_surface(pytester: pytest.Pytester, fault: str) -> None:
    suite, select, check, detail = CAUGHT_BY[fault]
    result = _run(pytester, suite, select, "--glm-twin-fault", fault)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    failures = [line for line in result.outlines if line.lstrip().startswith(f"[{check}]")]
    assert failures, f"no failure named [{check}] for {fault}:\n{result.stdout.str()}"
    assert any(detail in line for line in failures), f"[{check}] did not say {detail!r}: {failures}"
    assert "x-api-key: $ZAI_API_KEY" in result.stdout.str(), "a failure must say how to reproduce it"


def test_the_same_selections_pass_on_the_healthy_twin(pytester: pytest.Pytester) -> None:
    selections = sorted({select.split(" and ")[0] for _, select, _, _ in CAUGHT_BY.values()})
    result = pytester.runpytest_inprocess(str(SUITES), "-k", " or ".join(selections), "-p", "no:cacheprovider",
                                          "--glm-surface", "anthropic")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    passed = result.parseoutcomes().get("passed", 0)
    assert passed >= len(selections), f"expected every selected test to run and pass: {result.outlines[-1]}"


@pytest.mark.parametrize("how", ["option", "env", "ini"])
def test_the_surface_is_one_setting_in_three_spellings(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                       how: str) -> None:
    extra: tuple[str, ...] = ()
    if how == "option":
        extra = ("--glm-surface", "anthropic")
    elif how == "env":
        monkeypatch.setenv("GLM_HARNESS_SURFACE", "anthropic")
    else:  # the suites' own rootdir would win without -c
        extra = ("-c", str(pytester.makeini("[pytest]\nglm_surface = anthropic\n")))
    result = pytester.runpytest_inprocess(str(SUITES / "test_messages.py"), "-k", "test_plain_message",
                                          "-p", "no:cacheprovider", *extra)
    assert result.ret == pytest.ExitCode.OK and result.parseoutcomes().get("passed") == 2, result.stdout.str()
    assert any("surface=anthropic" in line for line in result.outlines)


def test_one_surface_tests_are_skipped_with_the_reason(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess(str(SUITES / "test_messages.py"), "-k", "test_plain_message", "-rs",
                                          "-p", "no:cacheprovider")
    assert result.parseoutcomes().get("skipped") == 2
    assert any("anthropic surface only: Messages API blocks and events (--glm-surface openai)" in line
               for line in result.outlines), result.stdout.str()


def test_an_unknown_surface_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess(str(SUITES / "test_messages.py"), "--glm-surface", "grpc",
                                          "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_report_record_and_replay_work_the_same(pytester: pytest.Pytester, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Record the Messages suite on the embedded twin, replay the recordings over HTTP, and run the
    same suite live against the replay: it passes, and the report names the surface."""
    recorded, report = tmp_path / "recorded", tmp_path / "report.json"
    first = pytester.runpytest_inprocess(str(SUITES / "test_messages.py"), "-p", "no:cacheprovider",
                                         "--glm-surface", "anthropic", "--glm-record", str(recorded),
                                         "--glm-report", str(report), "-m", "not glm_mock_only")
    assert first.ret == pytest.ExitCode.OK, first.stdout.str()
    outcome = json.loads(report.read_text())
    assert outcome["surface"] == "anthropic" and outcome["summary"]["passed"] >= 10
    transcripts = sorted(recorded.glob("*.json"))
    assert transcripts and TWIN_KEY not in "".join(p.read_text() for p in transcripts)
    monkeypatch.setenv("GLM_TEST_KEY", "any")
    with running_twin(ReplayTwin.from_paths([recorded], match="request")) as served:
        assert served.base_url.endswith("/api/anthropic")  # the recordings' own base path
        again = pytester.runpytest_inprocess(
            str(SUITES / "test_messages.py"), "-p", "no:cacheprovider", "--glm-surface", "anthropic",
            "--glm-target", "live", "--glm-base-url", served.base_url, "--glm-api-key-env", "GLM_TEST_KEY")
    assert again.ret == pytest.ExitCode.OK, again.stdout.str()
    assert again.parseoutcomes()["passed"] == outcome["summary"]["passed"]


def test_a_hung_target_is_given_up_on_the_same_way(pytester: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLM_TEST_KEY", "k")
    with socket.create_server(("127.0.0.1", 0)) as listener:  # accepts (the backlog) and never answers
        base_url = f"http://127.0.0.1:{listener.getsockname()[1]}/api/anthropic"
        result = pytester.runpytest_inprocess(
            str(SUITES / "test_messages.py"), "-p", "no:cacheprovider", "--glm-surface", "anthropic",
            "--glm-target", "live", "--glm-base-url", base_url, "--glm-api-key-env", "GLM_TEST_KEY",
            "--glm-read-timeout", "0.2", "-k", "stream")  # a plain request's wait grows with max_tokens
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == 4, result.stdout.str()
    result.stdout.fnmatch_lines([f"*has not answered {HUNG_AFTER} requests in a row within 0.2 s*"])
