"""The harness pointed at a server that is not GLM: a verdict, by check name, and no crash.

The contract suites run (pytester, in-process) against tests/deviating_server.py, an
OpenAI-compatible server that deviates from the GLM contract on purpose, with a model the harness
has no card for. The run must end as "tests failed" (exit 1, never a usage error or an internal
error), print no traceback, announce the unknown model card in its header, and name each
deviation by the check that caught it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from deviating_server import API_KEY, serving

SUITES = Path(__file__).resolve().parents[1] / "suites" / "contract"
MODEL = "some-other-model"
# Left out: against a server that fails it, Hypothesis shrinks the failing request one HTTP call
# at a time for up to 5 minutes (its MAX_SHRINKING_SECONDS), as it would on any live target.
PROPERTY_TEST = "test_valid_requests_succeed"


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with serving() as url:
        yield url


def _verdict(tmp: Path, url: str, *extra: str) -> pytest.RunResult:
    """The suites against the server in a pytest of their own: each distinct run once per module,
    in a fresh process, so that no result depends on which test asked for it first."""
    env = {**os.environ, "ZAI_API_KEY": API_KEY}
    selection = extra if "-k" in extra else ("-k", f"not {PROPERTY_TEST}", *extra)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(SUITES), "--glm-target", "live", "--glm-base-url", url,
         "--glm-model", MODEL, "-p", "no:cacheprovider", "--glm-read-timeout", "10", "--rootdir", str(tmp),
         "-c", os.devnull, *selection],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    return pytest.RunResult(done.returncode, done.stdout.splitlines(), done.stderr.splitlines(),
                            time.monotonic() - started)


@pytest.fixture(scope="module")
def verdict(tmp_path_factory: pytest.TempPathFactory, server_url: str) -> pytest.RunResult:
    return _verdict(tmp_path_factory.mktemp("lenient"), server_url, "-rs")


@pytest.fixture(scope="module")
def strict_verdict(tmp_path_factory: pytest.TempPathFactory, server_url: str) -> pytest.RunResult:
    return _verdict(tmp_path_factory.mktemp("strict"), server_url, "--glm-strict-schema", "-k",
                    "test_plain_completion_conforms or test_stream_conforms")


def _named(result: pytest.RunResult, check: str) -> list[str]:
    return [line.strip() for line in result.outlines if line.lstrip().startswith(f"[{check}]")]


def _output(result: pytest.RunResult) -> str:
    return result.stdout.str() + "\n" + result.stderr.str()


# -- a verdict, not a crash ------------------------------------------------------------------------
def test_the_run_ends_as_failed_tests_not_a_crash(verdict: pytest.RunResult) -> None:
    assert verdict.ret == pytest.ExitCode.TESTS_FAILED, _output(verdict)[-3000:]
    outcomes = verdict.parseoutcomes()
    assert outcomes.get("failed", 0) > 0 and outcomes.get("passed", 0) > 0, outcomes
    assert "error" not in outcomes and "errors" not in outcomes, f"setup/teardown errors: {outcomes}"


def test_no_traceback_and_no_internal_error(verdict: pytest.RunResult) -> None:
    output = _output(verdict)
    assert "Traceback" not in output
    assert "INTERNALERROR" not in output


def test_unknown_model_card_is_announced_in_the_header(verdict: pytest.RunResult) -> None:
    header = [line for line in verdict.outlines if line.startswith("glm-harness:")]
    assert f"glm-harness: target=live model={MODEL} base_url=" in header[0]
    assert any(f"NOTICE: no model card for {MODEL!r}" in line for line in header), header


def test_card_dependent_checks_are_skipped_not_failed(verdict: pytest.RunResult) -> None:
    skipped = [line for line in verdict.outlines if line.startswith("SKIPPED")]
    assert any(f"no model card for {MODEL!r}" in line for line in skipped), skipped


# -- each deviation, named by its check ------------------------------------------------------------
def test_numeric_error_codes_are_named_by_error_schema_conformance(verdict: pytest.RunResult) -> None:
    found = _named(verdict, "error_schema_conformance")
    assert any("$.error.code" in line and "string_type" in line and "got 401" in line for line in found), found


def test_numeric_codes_also_fail_error_code_conformance(verdict: pytest.RunResult) -> None:
    found = _named(verdict, "error_code_conformance")
    assert any("expected '1001'; got 401" in line for line in found), found


def test_500_for_bad_requests_is_named_by_status_code_conformance(verdict: pytest.RunResult) -> None:
    found = _named(verdict, "status_code_conformance")
    assert any("expected 400; got 500" in line for line in found), found


def test_unknown_model_accepted_is_named_by_status_code_conformance(verdict: pytest.RunResult) -> None:
    found = [line for line in _named(verdict, "status_code_conformance") if "got 200" in line]
    assert any('"model": "glm-nonexistent"' in line for line in found), found


def test_missing_usage_in_streams_is_named_by_stream_invariants(verdict: pytest.RunResult) -> None:
    found = _named(verdict, "stream_invariants")
    assert any("missing_usage" in line for line in found), found


def test_missing_usage_in_streams_is_not_named_twice(verdict: pytest.RunResult) -> None:
    """Its answers carry usage and its streams do not: the one finding is stream_invariants'."""
    found = _named(verdict, "usage_conformance")
    assert not any("expected a usage object; got none" in line for line in found), found


def test_missing_done_is_named_by_stream_invariants(verdict: pytest.RunResult) -> None:
    found = _named(verdict, "stream_invariants")
    assert any("missing_done" in line for line in found), found


def test_each_failure_says_how_to_reproduce_it(verdict: pytest.RunResult) -> None:
    assert "reproduce: curl" in verdict.stdout.str()
    assert API_KEY not in verdict.stdout.str(), "the key must never be printed"


# -- what only --glm-strict-schema sees -----------------------------------------------------------
def test_strict_run_is_a_verdict_too(strict_verdict: pytest.RunResult) -> None:
    assert strict_verdict.ret == pytest.ExitCode.TESTS_FAILED, _output(strict_verdict)[-3000:]
    assert "Traceback" not in _output(strict_verdict)


def test_openai_only_field_is_an_unknown_field_in_strict_mode(strict_verdict: pytest.RunResult) -> None:
    in_body = _named(strict_verdict, "response_schema_conformance")
    in_chunks = _named(strict_verdict, "stream_chunk_schema")
    assert any("$.system_fingerprint" in line and "unknown_field" in line for line in in_body), in_body
    assert any(".system_fingerprint" in line and "unknown_field" in line for line in in_chunks), in_chunks


def test_object_field_is_not_drift_in_strict_mode(strict_verdict: pytest.RunResult) -> None:
    """2026 GLM sends `object` too: strict mode notes it, it does not fail on it."""
    found = _named(strict_verdict, "response_schema_conformance") + _named(strict_verdict, "stream_chunk_schema")
    assert not any(".object" in line for line in found), found


def test_null_finish_reason_is_a_null_value_in_strict_mode(strict_verdict: pytest.RunResult) -> None:
    found = _named(strict_verdict, "stream_chunk_schema")
    assert any("finish_reason" in line and "null_value" in line for line in found), found


def test_missing_request_id_is_a_missing_field_in_strict_mode(strict_verdict: pytest.RunResult) -> None:
    found = _named(strict_verdict, "response_schema_conformance")
    assert any("$.request_id" in line and "missing_field" in line for line in found), found
