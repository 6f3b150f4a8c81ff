"""Token efficiency of the default task set, thinking on and off, graded automatically."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness.bench.report import load_report
from harness.bench.session import BenchConfig, run_session
from harness.bench.tasks import load_task_set
from harness.mock import GLMTwin
from harness.targets import Target

pytestmark = [pytest.mark.glm_bench, pytest.mark.glm_live_cost]


def test_default_task_set(benchmark: Any, glm_target: Target, timed_twin: GLMTwin | None,
                          bench_report_dir: Path) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = bench_report_dir / f"tasks-{glm_target.model}-{glm_target.kind}-{stamp}.json"
    task_set = load_task_set("default")
    config = BenchConfig(concurrency=(), task_set=task_set, progress=False)

    result = benchmark.pedantic(lambda: asyncio.run(run_session(glm_target, config, out)),
                                rounds=1, iterations=1)
    report = load_report(result.path)
    efficiency = report.efficiency
    assert efficiency is not None, report.stopped
    for summary in efficiency.sets:
        mode = "thinking" if summary.thinking else "no-thinking"
        benchmark.extra_info[f"{mode}.pass_rate"] = summary.pass_rate
        benchmark.extra_info[f"{mode}.completion_tokens_per_solved"] = summary.completion_tokens_per_solved
        benchmark.extra_info[f"{mode}.cost_usd"] = summary.cost_usd
    benchmark.extra_info["report"] = str(result.path)
    assert {r.task_id for r in efficiency.rows} == set(task_set.ids)
    assert all(r.grade_detail for r in efficiency.rows)
    if timed_twin is not None:  # the twin's canned text solves only the tool call
        assert {r.task_id for r in efficiency.rows if r.passed} == {"tool-weather"}
