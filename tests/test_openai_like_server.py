"""The openai-compatible profile judges fairly: a server that answers as OpenAI documents passes
the error and tool-call suites, and each rule where OpenAI differs from GLM is held the OpenAI way.

The suites run in a pytest of their own against tests/openai_like_server.py (404
`model_not_found` for an unknown model, `top_p: 0` taken, OpenAI's error object, named and
"required" tool_choice honoured). No false alarm is allowed: the run must end with exit 0.
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
from deviating_server import serving
from openai_like_server import API_KEY, MODEL, openai_like_app

SUITES = Path(__file__).resolve().parents[1] / "suites" / "contract"


@pytest.fixture(scope="module")
def verdict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pytest.RunResult]:
    tmp = tmp_path_factory.mktemp("openai-like")
    with serving(openai_like_app()) as url:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", str(SUITES / "test_errors.py"), str(SUITES / "test_tool_calls.py"),
             "--glm-target", "live", "--glm-base-url", url, "--glm-model", MODEL,
             "--glm-profile", "openai-compatible", "-p", "no:cacheprovider", "-n", "0", "-rA",
             "--glm-read-timeout", "10", "--rootdir", str(tmp), "-c", os.devnull],
            cwd=tmp, env={**os.environ, "ZAI_API_KEY": API_KEY}, capture_output=True, text=True, timeout=300)
    yield pytest.RunResult(done.returncode, done.stdout.splitlines(), done.stderr.splitlines(),
                           time.monotonic() - started)


def _line(result: pytest.RunResult, outcome: str, test: str) -> str:
    found = [line for line in result.outlines if line.startswith(outcome) and test in line]
    assert found, f"no {outcome} line for {test}:\n" + "\n".join(result.outlines[-60:])
    return found[0]


def test_a_server_answering_as_openai_documents_passes(verdict: pytest.RunResult) -> None:
    assert verdict.ret == pytest.ExitCode.OK, "\n".join(verdict.outlines[-80:])


def test_an_unknown_model_is_held_to_openais_404(verdict: pytest.RunResult) -> None:
    _line(verdict, "PASSED", "test_bad_request_is_400_with_its_code[unknown-model]")


def test_top_p_zero_is_not_asked_to_be_refused(verdict: pytest.RunResult) -> None:
    _line(verdict, "SKIPPED", "GLM-only, not applied: GLM refuses it, OpenAI takes top_p in [0, 1], 0 included")


def test_forced_and_required_tool_choice_are_asked(verdict: pytest.RunResult) -> None:
    _line(verdict, "PASSED", "test_forced_tool_choice_calls_that_tool[json]")
    _line(verdict, "PASSED", "test_forced_tool_choice_calls_that_tool[stream]")
    _line(verdict, "PASSED", "test_tool_choice_required_calls_a_tool")


def test_glms_own_answer_to_an_unknown_model_fails_under_the_profile(tmp_path: Path) -> None:
    """The reverse: GLM's 400/1211 is not what OpenAI documents, so the twin, judged as an
    OpenAI-compatible server, fails that one test by its status."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(SUITES / "test_errors.py"), "-k", "unknown-model",
         "--glm-profile", "openai-compatible", "-p", "no:cacheprovider", "-n", "0",
         "--rootdir", str(tmp_path), "-c", os.devnull],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout[-3000:]
    assert "[status_code_conformance] HTTP status: expected 404; got 400" in done.stdout
