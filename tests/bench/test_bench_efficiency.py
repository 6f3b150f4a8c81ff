"""Token efficiency: prices, costs, and the default task set against the twin (graded for real)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from harness.bench.efficiency import (
    PriceRef,
    cost_usd,
    load_prices,
    price_for,
    run_efficiency,
    thinking_modes_for,
)
from harness.bench.runner import LoadRunner
from harness.bench.tasks import load_task_set
from harness.client import AsyncGLMClient
from harness.errors import UsageError
from harness.mock import GLMTwin, Timing, TwinConfig, twin_router
from harness.targets import MOCK_BASE_URL, mock_target


def test_price_table_is_dated_and_complete() -> None:
    table = load_prices()
    assert table.as_of == "2026-07-31" and "docs.z.ai" in table.source
    glm46 = table.models["glm-4.6"]
    assert (glm46.input, glm46.cached_input, glm46.output) == (0.6, 0.11, 2.2)
    assert table.models["glm-4.5-flash"].output == 0
    assert set(table.models) >= {"glm-4.5", "glm-4.5-air", "glm-4.5-x", "glm-4.5-airx",
                                 "glm-4.5-flash", "glm-4.6", "glm-4.7", "glm-4.7-flash", "glm-5"}
    assert price_for(table, "no-such-model") is None


def test_cost_bills_cached_prompt_tokens_at_the_cached_rate() -> None:
    price = PriceRef(model="m", as_of="d", source="s", currency="USD", input=1.0,
                     cached_input=0.1, output=4.0)
    # 1000 prompt tokens of which 400 cached, 500 completion tokens
    assert cost_usd(price, 1000, 400, 500) == pytest.approx((600 * 1.0 + 400 * 0.1 + 500 * 4.0) / 1e6)


def test_bad_price_table_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "prices.json"
    bad.write_text(json.dumps({"as_of": "x", "models": {}}))
    with pytest.raises(UsageError, match="invalid"):
        load_prices(bad)
    with pytest.raises(UsageError, match="no price table"):
        load_prices(tmp_path / "missing.json")


def test_models_that_always_think_skip_thinking_off() -> None:
    assert thinking_modes_for("glm-4.5v", (True, False)) == ([True], ["glm-4.5v always thinks: 'thinking off' skipped"])
    assert thinking_modes_for("glm-4.6", (True, False)) == ([True, False], [])


def test_default_set_on_the_twin() -> None:
    task_set = load_task_set("default")
    twin = GLMTwin(TwinConfig(timing=Timing(ttft_ms=1, itl_ms=0.1)))

    async def go():  # type: ignore[no-untyped-def]
        async with AsyncGLMClient(mock_target()) as client:
            return await run_efficiency(LoadRunner(client), task_set, "glm-4.6", (True, False),
                                        concurrency=4, prices=load_prices())

    with twin_router(twin, base_url=MOCK_BASE_URL):
        efficiency, run = asyncio.run(go())
    assert len(efficiency.rows) == 2 * len(task_set.tasks) and all(r.ok for r in efficiency.rows)
    assert efficiency.task_ids == task_set.ids and efficiency.thinking_modes == [True, False]
    # the twin answers canned text: only the tool call is right, and it is graded as such
    passed = {(r.task_id, r.thinking) for r in efficiency.rows if r.passed}
    assert passed == {("tool-weather", True), ("tool-weather", False)}
    assert all(r.grade_detail for r in efficiency.rows)
    on, off = efficiency.sets
    assert (on.thinking, off.thinking) == (True, False)
    assert on.solved == off.solved == 1 and on.pass_rate == pytest.approx(1 / 7, abs=1e-4)
    assert on.reasoning_tokens_est > 0 and off.reasoning_tokens_est == 0
    assert on.completion_tokens_per_solved == on.completion_tokens  # one solved task
    assert on.cost_usd is not None and on.cost_usd > 0
    assert on.prompt_tokens == sum(r.prompt_tokens or 0 for r in efficiency.rows if r.thinking)
    long_row = next(r for r in efficiency.rows if r.task_id == "long-needle")
    assert long_row.prompt_tokens is not None and long_row.prompt_tokens > 2000
    assert all(s.phase == "task" and s.task_id for s in run.samples)
