"""Token efficiency: what a task set costs in tokens and money, thinking on and off.

Per task: prompt, completion, cached tokens from `usage`; reasoning vs visible tokens from
usage where the API reports reasoning tokens, else by chunk share (metrics.REASONING_SPLIT_METHOD);
pass or fail from the task's grader; cost from the dated price table in fixtures/prices.json. Per set and thinking mode:
pass rate, token totals, tokens and cost per solved task.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ..contract import model_card
from ..errors import UsageError
from ..scrub import scrub_text
from ..stream import assemble, read_stream
from ..surface import Surface
from .messages import chat_message
from .runner import Job, LevelRun, LevelSpec, LoadRunner, Outcome
from .tasks import TaskSet, fixtures_dir, grade


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelPrice(_Strict):
    input: float
    cached_input: float
    output: float


class PriceTable(_Strict):
    as_of: str
    source: str
    note: str = ""
    currency: str = "USD"
    unit: str = "per 1M tokens"
    models: dict[str, ModelPrice]


class PriceRef(ModelPrice):
    """The price used in a report, with where and when it came from."""

    model: str
    as_of: str
    source: str
    currency: str


def load_prices(path: Path | None = None) -> PriceTable:
    path = path or fixtures_dir() / "prices.json"
    try:
        return PriceTable.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise UsageError(f"no price table at {path}") from None
    except ValueError as error:
        raise UsageError(f"price table {path} is invalid: {str(error).splitlines()[0]}") from None


def price_for(table: PriceTable, model: str) -> PriceRef | None:
    price = table.models.get(model)
    if price is None:
        return None
    return PriceRef(model=model, as_of=table.as_of, source=table.source, currency=table.currency,
                    **price.model_dump())


def cost_usd(price: PriceRef, prompt: int, cached: int, completion: int) -> float:
    fresh = max(prompt - cached, 0)
    return (fresh * price.input + cached * price.cached_input + completion * price.output) / 1e6


class TaskResult(_Strict):
    task_id: str
    kind: str
    thinking: bool
    repeat: int = 0
    ok: bool
    status: int | None = None
    error: str | None = None
    passed: bool = False
    grade_detail: str = ""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    token_source: str | None = None  # metrics.TokenSource; None: no count at all
    reasoning_tokens_est: int | None = None
    content_tokens_est: int | None = None
    tool_tokens_est: int | None = None
    cached_tokens: int | None = None
    cost_usd: float | None = None
    ttft_ms: float | None = None
    ttfc_ms: float | None = None
    e2e_ms: float | None = None
    answer_excerpt: str = ""


class SetSummary(_Strict):
    thinking: bool
    tasks: int
    errors: int
    solved: int
    pass_rate: float
    # None: some answered task has no count (the server sent no usage): unknown, never 0
    prompt_tokens: int | None
    completion_tokens: int | None
    reasoning_tokens_est: int | None
    cached_tokens: int
    completion_tokens_per_solved: float | None
    total_tokens_per_solved: float | None
    reasoning_share: float | None
    cached_share: float | None
    cost_usd: float | None
    cost_per_solved_usd: float | None


class Efficiency(_Strict):
    task_set: str
    task_ids: list[str]
    thinking_modes: list[bool]
    repeats: int
    price: PriceRef | None
    rows: list[TaskResult]
    sets: list[SetSummary]
    notes: list[str] = []


def thinking_modes_for(model: str, wanted: Sequence[bool]) -> tuple[list[bool], list[str]]:
    """Drop `thinking off` for models that always think (the API would answer 400 1210)."""
    card = model_card(model)
    if card is not None and False in wanted and not card.accepts_thinking_disabled():
        return [m for m in wanted if m], [f"{model} always thinks: 'thinking off' skipped"]
    return list(wanted), []


async def run_efficiency(runner: LoadRunner, task_set: TaskSet, model: str,
                         thinking: Sequence[bool] = (True, False), *, concurrency: int = 4,
                         repeats: int = 1, prices: PriceTable | None = None) -> tuple[Efficiency, LevelRun]:
    modes, notes = thinking_modes_for(model, thinking)
    jobs = [Job(task.body(mode), task_id=task.id, thinking=mode, keep=True)
            for mode in modes for _ in range(repeats) for task in task_set.tasks]
    spec = LevelSpec(concurrency=concurrency, requests=len(jobs), label="tasks")
    run = await runner.run_level(spec, lambda i: jobs[i])
    price = price_for(prices, model) if prices is not None else None
    if prices is not None and price is None:
        notes.append(f"no price for {model} in the price table: costs left empty")
    return summarize_efficiency(task_set, run.outcomes, modes, repeats, price, notes), run


def _row(task_set: TaskSet, outcome: Outcome, repeat: int, price: PriceRef | None) -> TaskResult:
    sample = outcome.sample
    task = next(t for t in task_set.tasks if t.id == sample.task_id)
    row = TaskResult(
        task_id=task.id, kind=task.kind, thinking=bool(sample.thinking), repeat=repeat,
        ok=sample.ok, status=sample.status,
        error=(f"{sample.error.kind} {sample.error.code or ''} {sample.error.message}".strip()
               if sample.error else None),
        finish_reason=sample.finish_reason, prompt_tokens=sample.prompt_tokens,
        completion_tokens=sample.completion_tokens, token_source=sample.token_source,
        reasoning_tokens_est=sample.reasoning_tokens_est,
        content_tokens_est=sample.content_tokens_est, tool_tokens_est=sample.tool_tokens_est,
        cached_tokens=sample.cached_tokens, ttft_ms=sample.ttft_ms, ttfc_ms=sample.ttfc_ms,
        e2e_ms=sample.e2e_ms,
    )
    if price is not None and sample.prompt_tokens is not None and sample.completion_tokens is not None:
        row.cost_usd = round(cost_usd(price, sample.prompt_tokens, sample.cached_tokens or 0,
                                      sample.completion_tokens), 8)
    if outcome.exchange is not None and sample.ok:
        message = (chat_message(outcome.exchange.events) if outcome.exchange.surface is Surface.ANTHROPIC
                   else assemble(read_stream(outcome.exchange.events)).message())
        verdict = grade(task, message)
        row.passed, row.grade_detail = verdict.passed, verdict.detail
        shown = message.get("content") or json.dumps(message.get("tool_calls", ""))
        row.answer_excerpt = scrub_text(shown)[:200]  # scrubbed before the cut: no half key
    else:
        row.grade_detail = "not graded: the request failed"
    return row


def summarize_efficiency(task_set: TaskSet, outcomes: Sequence[Outcome], modes: Sequence[bool],
                         repeats: int, price: PriceRef | None, notes: list[str]) -> Efficiency:
    seen: dict[tuple[str, bool], int] = {}
    rows = []
    for outcome in sorted(outcomes, key=lambda o: o.sample.index):
        key = (outcome.sample.task_id or "", bool(outcome.sample.thinking))
        rows.append(_row(task_set, outcome, seen.get(key, 0), price))
        seen[key] = seen.get(key, 0) + 1
    order = {tid: i for i, tid in enumerate(task_set.ids)}
    rows.sort(key=lambda r: (not r.thinking, order[r.task_id], r.repeat))
    return Efficiency(task_set=task_set.name, task_ids=task_set.ids, thinking_modes=list(modes),
                      repeats=repeats, price=price, rows=rows,
                      sets=[_set_summary([r for r in rows if r.thinking == m], m, price) for m in modes],
                      notes=notes)


def _set_summary(rows: Sequence[TaskResult], thinking: bool, price: PriceRef | None) -> SetSummary:
    answered = [r for r in rows if r.ok]

    def total(name: str) -> int | None:
        """The sum over answered tasks; None when one of them has no count."""
        values = [getattr(r, name) for r in answered]
        return None if None in values else sum(values)

    solved = sum(r.passed for r in rows)
    prompt, completion = total("prompt_tokens"), total("completion_tokens")
    reasoning, cached = total("reasoning_tokens_est"), sum(r.cached_tokens or 0 for r in answered)
    cost = total("cost_usd") if price is not None else None
    both = prompt + completion if prompt is not None and completion is not None else None
    return SetSummary(
        thinking=thinking, tasks=len(rows), errors=sum(not r.ok for r in rows), solved=solved,
        pass_rate=round(solved / len(rows), 4) if rows else 0.0,
        prompt_tokens=prompt, completion_tokens=completion, reasoning_tokens_est=reasoning,
        cached_tokens=cached,
        completion_tokens_per_solved=round(completion / solved, 2) if solved and completion is not None else None,
        total_tokens_per_solved=round(both / solved, 2) if solved and both is not None else None,
        reasoning_share=round(reasoning / completion, 4) if completion and reasoning is not None else None,
        cached_share=round(cached / prompt, 4) if prompt else None,
        cost_usd=round(cost, 8) if cost is not None else None,
        cost_per_solved_usd=round(cost / solved, 8) if cost is not None and solved else None,
    )
