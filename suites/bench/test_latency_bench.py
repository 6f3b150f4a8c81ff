"""Latency under load through the harness's own runner; pytest-benchmark carries a digest.

Run with `pytest -m glm_bench` (deselected otherwise). On the twin the figures are checked for
completeness, never against wall-clock thresholds; on a live target they are the measurement.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness.bench.report import load_report
from harness.bench.session import BenchConfig, run_session
from harness.mock import GLMTwin
from harness.targets import Target

pytestmark = pytest.mark.glm_bench


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def test_latency_levels(benchmark: Any, glm_target: Target, timed_twin: GLMTwin | None,
                        bench_report_dir: Path) -> None:
    out = bench_report_dir / f"latency-{glm_target.model}-{glm_target.kind}-{_stamp()}.json"
    config = BenchConfig(concurrency=(1, 4), requests=8, task_set=None, progress=False)
    notes = ["embedded twin (pytest): ttft 40 ms, itl 2 ms, jitter 0.3"] if timed_twin else []

    result = benchmark.pedantic(lambda: asyncio.run(run_session(glm_target, config, out, notes)),
                                rounds=1, iterations=1)
    report = load_report(result.path)  # validated against its schema
    for level in report.levels:
        for name in ("ttft_ms", "itl_chunk_ms", "tpot_ms", "e2e_ms"):
            summary = level.summaries[name]
            benchmark.extra_info[f"{level.name}.{name}.p50"] = summary.p50
            benchmark.extra_info[f"{level.name}.{name}.p99"] = summary.p99
        benchmark.extra_info[f"{level.name}.requests_per_s"] = level.requests_per_s
        benchmark.extra_info[f"{level.name}.client_bound"] = bool(level.health and
                                                                   level.health.client_bound)
    benchmark.extra_info["report"] = str(result.path)
    assert report.stopped is None, report.stopped
    assert [lv.name for lv in report.levels] == ["c1", "c4"]
    if timed_twin is not None:
        assert all(lv.succeeded == lv.completed == 8 for lv in report.levels), \
            [lv.errors for lv in report.levels]
        assert all(s.tokens_per_chunk == 1 for s in report.samples if s.ok)  # one token a chunk
