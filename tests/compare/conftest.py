"""Reports built in the tests, with known differences: seeded gamma latencies, per-request chunk
timelines, a token-efficiency table. Written through the bench's own `write_report`, so every
synthetic report also passes the report schema."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.bench.efficiency import Efficiency, PriceRef, TaskResult, _set_summary
from harness.bench.metrics import Sample
from harness.bench.report import (
    BenchReport,
    LevelResult,
    LevelSamples,
    RunMeta,
    TaskSetRef,
    definitions,
    write_report,
)
from harness.bench.stats import summarize

TASK_IDS = ("code-a", "code-b", "reason-a", "reason-b", "extract-a", "tool-a", "long-a", "long-b")
PRICE = PriceRef(model="glm-4.6", as_of="2025-10-01", source="test", currency="USD", input=0.6,
                 cached_input=0.11, output=2.2)


def _gamma(rng: np.random.Generator, mean: float, cv: float, size: int | tuple[int, ...]) -> np.ndarray:
    shape = 1 / cv**2
    return rng.gamma(shape, mean / shape, size=size)


def make_level(name: str, concurrency: int, rng: np.random.Generator, *, n: int, ttft_ms: float,
               itl_ms: float, tokens: int, cv: float, errors: int = 0) -> tuple[LevelResult, list[Sample]]:
    ttft = _gamma(rng, ttft_ms, cv, n)
    gaps = _gamma(rng, itl_ms, cv, (n, tokens - 1))
    samples: list[Sample] = []
    values: dict[str, list[float]] = {k: [] for k in LevelSamples.model_fields}
    for i in range(n):
        times = np.concatenate([[ttft[i]], ttft[i] + np.cumsum(gaps[i])]).round(4)
        end = float(times[-1] + 0.5)
        tpot = (end - times[0]) / (tokens - 1)
        itl_token = (times[-1] - times[0]) / (tokens - 1)
        sample = Sample(
            index=i, level=name, phase="measure", scheduled_s=i * 0.01, ready_s=i * 0.01,
            sent_s=i * 0.01, lateness_ms=0.0, status=200, ok=True, first_byte_ms=float(times[0]),
            first_token_ms=float(times[0]), first_content_ms=float(times[0]), end_ms=end,
            chunk_ms=[float(t) for t in times], chunk_kinds="c" * tokens, reads=tokens,
            prompt_tokens=20, completion_tokens=tokens, cached_tokens=0, reasoning_tokens_est=0,
            content_tokens_est=tokens, tool_tokens_est=0, token_chunks=tokens,
            tokens_per_chunk=1.0, finish_reason="stop", ttft_ms=float(times[0]),
            ttfc_ms=float(times[0]), itl_token_ms=round(itl_token, 4), tpot_ms=round(tpot, 4),
            e2e_ms=end, output_tps=round(tokens / (end / 1000), 4))
        samples.append(sample)
        for key in ("ttft_ms", "ttfc_ms", "itl_token_ms", "tpot_ms", "e2e_ms", "output_tps"):
            values[key].append(getattr(sample, key))
        values["itl_chunk_ms"] += sample.itl_chunk_ms()
    level_samples = LevelSamples(**values)
    duration = float(np.sum(ttft) / concurrency / 1000 + 0.1)
    level = LevelResult(
        name=name, kind="latency", concurrency=concurrency, rate=None, arrival=None, requests=n,
        warmup=0, started_at="2025-01-01T00:00:00Z", ended_at="2025-01-01T00:01:00Z",
        duration_s=duration, completed=n + errors, succeeded=n, failed=errors,
        errors={"http 500": errors} if errors else {},
        requests_per_s=round(n / duration, 4), output_tokens_per_s=round(n * tokens / duration, 4),
        tokens_per_chunk_mean=1.0,
        summaries={k: summarize(v, resamples=200) for k, v in values.items()},
        samples=level_samples, health=None)
    return level, samples


def make_efficiency(rng: np.random.Generator, *, passed: Sequence[bool] | None = None,
                    token_scale: float = 1.0, thinking_modes: Sequence[bool] = (True, False),
                    task_ids: Sequence[str] = TASK_IDS) -> Efficiency:
    rows = []
    for thinking in thinking_modes:
        for j, task_id in enumerate(task_ids):
            completion = round((300 if thinking else 120) * token_scale * (1 + 0.1 * (j % 3)))
            reasoning = int(completion * 0.6) if thinking else 0
            ok = passed[j] if passed is not None else bool(rng.random() < 0.75)
            cost = (200 * PRICE.input + completion * PRICE.output) / 1e6
            rows.append(TaskResult(
                task_id=task_id, kind="coding", thinking=thinking, ok=True, status=200, passed=ok,
                grade_detail="ok" if ok else "wrong", prompt_tokens=200,
                completion_tokens=completion, reasoning_tokens_est=reasoning,
                content_tokens_est=completion - reasoning, tool_tokens_est=0, cached_tokens=0,
                cost_usd=round(cost, 8)))
    sets = [_set_summary([r for r in rows if r.thinking == m], m, PRICE) for m in thinking_modes]
    return Efficiency(task_set="synthetic", task_ids=list(task_ids),
                      thinking_modes=list(thinking_modes), repeats=1, price=PRICE, rows=rows,
                      sets=sets)


def make_report(seed: int = 0, *, model: str = "glm-4.6", target: str = "mock", n: int = 120,
                levels: Sequence[int] = (1, 8), ttft_ms: float = 120.0, itl_ms: float = 8.0,
                tokens: int = 24, cv: float = 0.3, efficiency: bool = True,
                passed: Sequence[bool] | None = None, token_scale: float = 1.0,
                task_ids: Sequence[str] = TASK_IDS, started_at: str = "2025-01-01T00:00:00.000Z",
                errors: int = 0, level_overrides: dict[int, dict[str, Any]] | None = None,
                ) -> BenchReport:
    rng = np.random.default_rng(seed)
    built = []
    all_samples: list[Sample] = []
    for c in levels:
        kwargs = dict(n=n, ttft_ms=ttft_ms, itl_ms=itl_ms, tokens=tokens, cv=cv, errors=errors)
        kwargs.update((level_overrides or {}).get(c, {}))
        level, samples = make_level(f"c{c}", c, rng, **kwargs)  # type: ignore[arg-type]
        for s in samples:
            s.index = len(all_samples)
            all_samples.append(s)
        built.append(level)
    eff = make_efficiency(rng, passed=passed, token_scale=token_scale, task_ids=task_ids) \
        if efficiency else None
    meta = RunMeta(target=target, base_url="https://glm-twin.invalid/api/paas/v4", model=model,
                   harness_version="0.1.0", git_sha=None, python="CPython 3.11", platform="test",
                   host="test", cpu_count=2, started_at=started_at, options={"seed": seed})
    task_set = (TaskSetRef(name="synthetic", version=1, task_ids=list(task_ids),
                           sha256=hashlib.sha256(" ".join(task_ids).encode()).hexdigest())
                if efficiency else None)
    return BenchReport(complete=True, meta=meta, task_set=task_set, definitions=definitions(),
                       levels=built, efficiency=eff, samples=all_samples)


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """write(name, report_or_dict) -> path of a report file in tmp_path."""

    def _write(name: str, report: BenchReport | dict[str, Any]) -> Path:
        path = tmp_path / name
        if isinstance(report, BenchReport):
            write_report(report, path, markdown=False)
        else:
            path.write_text(json.dumps(report), encoding="utf-8")
        return path

    return _write


def contract_doc(outcomes: dict[str, str], checks: dict[str, list[str]] | None = None, *,
                 model: str = "glm-4.6", target: str = "mock",
                 started_at: str = "2025-01-01T00:00:00+00:00") -> dict[str, Any]:
    checks = checks or {}
    tests = [{"nodeid": nodeid, "outcome": outcome, "duration_s": 0.01,
              "checks": checks.get(nodeid, []),
              "violations": [f"[{c}] broke the contract at $.choices" for c in checks.get(nodeid, [])],
              "message": "AssertionError: boom\nmore" if outcome == "failed" else ""}
             for nodeid, outcome in outcomes.items()]
    return {"schema_version": "1.0", "kind": "contract", "target": target, "base_url": None,
            "model": model, "strict_schema": False, "harness_version": "0.1.0", "git_sha": None,
            "started_at": started_at, "finished_at": started_at,
            "summary": {}, "tests": tests}
