"""Fixtures for the benchmark suites: where reports go, and a twin that takes its time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness._extras import missing
from harness.mock import GLMTwin, Style, Timing
from harness.targets import Target

# Without the [bench] extra (numpy, scipy, pytest-benchmark) these suites cannot be imported; they
# run only with `-m glm_bench` anyway, so `pytest --pyargs harness.suites` leaves them out.
collect_ignore_glob = ["test_*.py"] if missing("bench") else []


@pytest.fixture(scope="session")
def bench_report_dir() -> Path:
    """Our own reports are the record; pytest-benchmark's JSON only carries a digest of them.
    `GLM_BENCH_REPORT_DIR` moves them (default reports/pytest-bench)."""
    path = Path(os.environ.get("GLM_BENCH_REPORT_DIR", "reports/pytest-bench"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def timed_twin(glm_target: Target, request: pytest.FixtureRequest) -> Iterator[GLMTwin | None]:
    """On the twin: realistic, jittered timing for this test (reset afterwards). Live: None."""
    if glm_target.kind != "mock":
        yield None
        return
    twin: GLMTwin = request.getfixturevalue("glm_mock")
    twin.reconfigure(timing=Timing(ttft_ms=40, itl_ms=2, jitter=0.3, seed=1),
                     style=Style(reply_tokens=24, reasoning_tokens=16))
    yield twin
