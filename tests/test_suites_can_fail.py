"""Proofs that the contract suites can fail: run them (pytester, in a subprocess) against a twin
armed with each fault, and see the right test fail through the right named check."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.mock import Fault

SUITES = Path(__file__).resolve().parents[1] / "suites" / "contract"

# fault -> (suite file, test selection, the check that must name the failure, a detail it must say)
CAUGHT_BY: dict[str, tuple[str, str, str, str]] = {
    "reset_mid_stream": ("test_streaming.py", "test_stream_conforms", "transport_completed", "RemoteProtocolError"),
    "stall:0:3": ("test_streaming.py", "test_stream_conforms", "transport_completed", "ReadTimeout"),
    "truncated_chunk": ("test_streaming.py", "test_stream_conforms", "sse_framing", "unterminated_event"),
    "malformed_json_chunk": ("test_streaming.py", "test_stream_conforms", "stream_chunk_schema", "malformed_json"),
    "missing_done": ("test_streaming.py", "test_stream_conforms", "stream_invariants", "missing_done"),
    "duplicate_finish_reason": ("test_streaming.py", "test_stream_conforms", "stream_invariants",
                                "duplicate_finish_reason"),
    "missing_usage": ("test_schemas.py", "test_plain_completion_conforms", "usage_conformance", "a usage object"),
    "wrong_usage": ("test_schemas.py", "test_plain_completion_conforms", "response_schema_conformance",
                    "total_tokens"),
    "missing_field": ("test_schemas.py", "test_plain_completion_conforms", "response_schema_conformance",
                      "$.id"),
    "wrong_content_type": ("test_schemas.py", "test_plain_completion_conforms", "content_type_conformance",
                           "text/html"),
    "empty_body": ("test_schemas.py", "test_plain_completion_conforms", "non_empty_body", "0 bytes"),
    "server_error_burst": ("test_schemas.py", "test_plain_completion_conforms", "status_code_conformance",
                           "got 500"),
    "rate_limit_burst": ("test_schemas.py", "test_plain_completion_conforms", "status_code_conformance",
                         "got 429"),
    "content_filter": ("test_schemas.py", "test_plain_completion_conforms", "status_code_conformance",
                       "got 400"),
    "overloaded": ("test_schemas.py", "test_plain_completion_conforms", "status_code_conformance", "got 429"),
    "plan_limit": ("test_schemas.py", "test_plain_completion_conforms", "status_code_conformance", "got 429"),
    "five_hour_limit": ("test_schemas.py", "test_plain_completion_conforms", "status_code_conformance",
                        "got 429"),
    "network_error": ("test_schemas.py", "test_plain_completion_conforms", "status_code_conformance",
                      "got 500"),
    "invalid_tool_arguments": ("test_tool_calls.py", "test_single_tool_call", "tool_call_conformance",
                               "invalid JSON"),
    "wrong_status": ("test_errors.py", "test_bad_request_is_400_with_its_code and unknown",
                     "status_code_conformance", "expected 400; got 500"),
    "numeric_error_code": ("test_errors.py", "test_bad_request_is_400_with_its_code and unknown",
                           "error_schema_conformance", "string_type"),
}


def _run(pytester: pytest.Pytester, suite: str, select: str, *extra: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(
        str(SUITES / suite), "-k", select, "-p", "no:cacheprovider", "--glm-read-timeout", "1", *extra)


def test_every_fault_kind_has_a_proof() -> None:
    armed = {name.split(":")[0] for name in CAUGHT_BY}
    assert armed == {f.value for f in Fault}, f"faults without a proof: {sorted({f.value for f in Fault} - armed)}"


@pytest.mark.parametrize("fault", CAUGHT_BY, ids=[f.split(":")[0] for f in CAUGHT_BY])
def test_suite_catches_fault(pytester: pytest.Pytester, fault: str) -> None:
    suite, select, check, detail = CAUGHT_BY[fault]
    result = _run(pytester, suite, select, "--glm-twin-fault", fault)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    failures = [line for line in result.outlines if line.lstrip().startswith(f"[{check}]")]
    assert failures, f"no failure named [{check}] for {fault}:\n{result.stdout.str()}"
    assert any(detail in line for line in failures), f"[{check}] did not say {detail!r}: {failures}"
    assert "reproduce: curl" in result.stdout.str(), "a failure must say how to reproduce it"


def test_the_same_selections_pass_on_the_healthy_twin(pytester: pytest.Pytester) -> None:
    selections = sorted({select.split(" and ")[0] for _, select, _, _ in CAUGHT_BY.values()})
    result = pytester.runpytest_inprocess(str(SUITES), "-k", " or ".join(selections), "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    passed = result.parseoutcomes().get("passed", 0)
    assert passed >= len(selections), f"expected every selected test to run and pass: {result.outlines[-1]}"
