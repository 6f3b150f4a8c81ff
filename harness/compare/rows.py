"""Comparison rows: one per metric and scope, with base, new, change, interval, test, verdict.

Bench reports give latency rows per concurrency level (matched by level name: c1, c8, ...) and
token-efficiency rows per thinking mode; contract reports give a row per test that flipped,
gained or lost violations, appeared or disappeared. `METRICS` names every metric a `--fail-on`
rule can point at.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..agent_bench import AgentBenchReport
from ..bench.report import BenchReport, LevelResult
from .load import ContractReport, Loaded, check_comparable
from .stats import (
    DEFAULT_ALPHA,
    DEFAULT_MIN_EFFECT,
    DEFAULT_MIN_EFFECT_TAIL,
    DEFAULT_RESAMPLES,
    TestResult,
    compare_clustered,
    compare_grouped,
    compare_percentiles,
    compare_proportions,
    holm,
    relative,
)

BETTER, WORSE, SAME, NOT_TESTED, INFO = "better", "worse", "no significant change", "not tested", "info"
FAILED_OUTCOMES = frozenset({"failed", "error"})


@dataclass(frozen=True, slots=True)
class Metric:
    key: str  # what --fail-on names: ttft.p95, pass_rate, contract.flipped
    label: str
    unit: str  # ms, tokens/s, tokens, USD, fraction, tests
    higher_is_better: bool
    section: str


# (key, sample field, label, unit, higher is better, percentiles, grouped by request)
_LATENCY = (
    ("ttft", "ttft_ms", "TTFT", "ms", False, (50, 95, 99), False),
    ("itl", "itl_chunk_ms", "ITL per chunk", "ms", False, (50, 95, 99), True),
    ("tpot", "tpot_ms", "TPOT", "ms", False, (50, 95), False),
    ("e2e", "e2e_ms", "E2E", "ms", False, (50, 95, 99), False),
    ("output_tps", "output_tps", "tokens/s per request", "tokens/s", True, (50,), False),
)
_EFFICIENCY = (
    ("pass_rate", "pass rate", "fraction", True),
    ("tokens_per_task", "completion tokens per task", "tokens", False),
    ("tokens_per_solved_task", "completion tokens per solved task", "tokens", False),
    ("reasoning_share", "reasoning share of completion tokens (est.)", "fraction", False),
    ("cost_per_task", "cost per task", "USD", False),
    ("cost_per_solved_task", "cost per solved task", "USD", False),
)
_AGENT = (
    ("agent.solved_rate", "tasks solved", "fraction", True),
    ("agent.tokens_per_task", "input + output tokens per task", "tokens", False),
    ("agent.tokens_per_solved_task", "input + output tokens per solved task", "tokens", False),
    ("agent.cache_hit_share", "cached share of input tokens", "fraction", True),
    ("agent.seconds_per_task", "wall time per task", "s", False),
    ("agent.seconds_per_solved_task", "wall time per solved task", "s", False),
    ("agent.cost_per_solved_task", "cost per solved task", "USD", False),
    ("agent.violations_per_task", "contract violations per task", "violations", False),
)
METRICS: dict[str, Metric] = {
    **{f"{key}.p{q}": Metric(f"{key}.p{q}", f"{label} p{q}", unit, hib, "latency")
       for key, _, label, unit, hib, qs, _ in _LATENCY for q in qs},
    "throughput": Metric("throughput", "output tokens/s (level)", "tokens/s", True, "latency"),
    "error_rate": Metric("error_rate", "error rate", "fraction", False, "latency"),
    **{key: Metric(key, label, unit, hib, "efficiency") for key, label, unit, hib in _EFFICIENCY},
    "contract.flipped": Metric("contract.flipped", "test flipped", "tests", True, "contract"),
    "contract.new_violations": Metric("contract.new_violations", "new violations", "tests", True,
                                      "contract"),
    "contract.resolved_violations": Metric("contract.resolved_violations",
                                           "violations gone", "tests", True, "contract"),
    "contract.changed": Metric("contract.changed", "outcome changed", "tests", True, "contract"),
    "contract.added": Metric("contract.added", "test added", "tests", True, "contract"),
    "contract.removed": Metric("contract.removed", "test removed", "tests", True, "contract"),
    **{key: Metric(key, label, unit, hib, "agent") for key, label, unit, hib in _AGENT},
    "contract.passed": Metric("contract.passed", "tests passed", "tests", True, "contract"),
    "contract.failed": Metric("contract.failed", "tests failed", "tests", False, "contract"),
}
PROPORTIONS = frozenset({"pass_rate", "error_rate", "reasoning_share", "agent.solved_rate", "agent.cache_hit_share"})


@dataclass(slots=True)
class Row:
    section: str
    metric: str
    scope: str
    label: str
    unit: str
    higher_is_better: bool
    base: float | str | None
    new: float | str | None
    delta: float | None = None
    rel: float | None = None
    ci: tuple[float, float] | None = None
    p: float | None = None
    p_adj: float | None = None
    test: str = "-"
    n_base: int | None = None
    n_new: int | None = None
    verdict: str = NOT_TESTED
    note: str = ""
    failed: bool = False
    rule: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]


@dataclass(slots=True)
class CompareSettings:
    alpha: float = DEFAULT_ALPHA
    min_effect: float = DEFAULT_MIN_EFFECT
    min_effect_tail: float = DEFAULT_MIN_EFFECT_TAIL  # p95, p99
    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0


@dataclass(slots=True)
class Comparison:
    base: Loaded
    new: Loaded
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    settings: CompareSettings = field(default_factory=CompareSettings)
    # Reasons it cannot pass whatever the thresholds (harness.compare.gate).
    problems: list[str] = field(default_factory=list)
    # Rows a --fail-on rule covers that could not be tested (thresholds.untested): the verdict
    # is "inconclusive" unless the user accepts them (--allow-untested).
    untested: list[Row] = field(default_factory=list)
    allow_untested: bool = False

    @property
    def failures(self) -> list[Row]:
        return [r for r in self.rows if r.failed]

    @property
    def failed(self) -> bool:
        return bool(self.problems or self.failures)

    @property
    def inconclusive(self) -> bool:
        return bool(self.untested) and not self.failed and not self.allow_untested

    def untested_reason(self) -> str:
        """Which covered rows were not tested and why, grouped by reason, in one line."""
        by_note: dict[str, list[str]] = {}
        for row in self.untested:
            by_note.setdefault(row.note or "not tested", []).append(f"{row.metric}@{row.scope}")
        parts = []
        for note, rows in by_note.items():
            shown = ", ".join(rows[:6]) + (f" and {len(rows) - 6} more" if len(rows) > 6 else "")
            parts.append(f"{shown} ({note})")
        return f"{len(self.untested)} row(s) a --fail-on rule covers were not tested: " + "; ".join(parts)

    @property
    def tested(self) -> int:
        return sum(r.p is not None for r in self.rows)

    def count(self, verdict: str) -> int:
        return sum(r.verdict == verdict for r in self.rows)


def _row(metric: str, scope: str, result: TestResult, label: str | None = None) -> Row:
    m = METRICS[metric]
    return Row(section=m.section, metric=metric, scope=scope, label=label or m.label, unit=m.unit,
               higher_is_better=m.higher_is_better, base=result.base, new=result.new,
               delta=result.delta, rel=relative(result.base, result.new), ci=result.ci,
               p=result.p, test=result.test, n_base=result.n_base, n_new=result.n_new,
               note=result.note)


# -- latency ----------------------------------------------------------------------------------------
def _groups(report: BenchReport, level: LevelResult) -> list[list[float]] | None:
    """Per-request chunk gaps of a level's measured requests, if the report kept its samples."""
    groups = [s.itl_chunk_ms() for s in report.samples
              if s.level == level.name and s.phase == "measure" and s.ok]
    return groups if groups and any(groups) else None


def latency_rows(base: BenchReport, new: BenchReport, settings: CompareSettings) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    notes: list[str] = []
    a_levels = {lv.name: lv for lv in base.levels if lv.kind == "latency"}
    b_levels = {lv.name: lv for lv in new.levels if lv.kind == "latency"}
    only_a = [n for n in a_levels if n not in b_levels]
    only_b = [n for n in b_levels if n not in a_levels]
    if only_a or only_b:
        notes.append("levels not in both reports, not compared: "
                     + ", ".join([*(f"{n} (base only)" for n in only_a),
                                  *(f"{n} (new only)" for n in only_b)]))
    seed = settings.seed
    for name, la in a_levels.items():
        lb = b_levels.get(name)
        if lb is None:
            continue
        for key, attr, _label, _unit, _hib, qs, grouped in _LATENCY:
            seed += 1
            ga, gb = (_groups(base, la), _groups(new, lb)) if grouped else (None, None)
            if ga is not None and gb is not None:
                results = compare_clustered(ga, gb, qs, alpha=settings.alpha,
                                            resamples=settings.resamples, seed=seed)
            else:
                results = compare_percentiles(getattr(la.samples, attr), getattr(lb.samples, attr),
                                              qs, alpha=settings.alpha,
                                              resamples=settings.resamples, seed=seed)
                if grouped:
                    results = [_note(r, "gaps resampled one by one: the report kept no per-request "
                                        "samples") for r in results]
            if bound := _client_bound(la, lb):
                results = [_untested(r, bound) for r in results]
            rows += [_row(f"{key}.p{q}", name, r) for q, r in zip(qs, results, strict=True)]
        rows.append(_row("throughput", name, TestResult(
            la.output_tokens_per_s, lb.output_tokens_per_s, None, None, "-", 1, 1,
            note="one value per run: not tested")))
        rows.append(_row("error_rate", name, compare_proportions(
            la.failed, la.completed, lb.failed, lb.completed, alpha=settings.alpha)))
    return rows, notes


def _client_bound(base: LevelResult, new: LevelResult) -> str:
    """Which side's client could not keep up at this level ('' when neither): its latencies
    include the load generator's own queueing, so they are shown but not tested."""
    sides = [label for label, level in (("base", base), ("new", new))
             if level.health is not None and level.health.client_bound]
    return " and ".join(sides)


def _untested(result: TestResult, bound: str) -> TestResult:
    return TestResult(result.base, result.new, None, None, "-", result.n_base, result.n_new,
                      note=f"client-bound in {bound}: shown, not tested")


def _note(result: TestResult, note: str) -> TestResult:
    return TestResult(result.base, result.new, result.ci, result.p, result.test, result.n_base,
                      result.n_new, note=(result.note + "; " if result.note else "") + note)


# -- token efficiency ---------------------------------------------------------------------------------
_COLS = ("completion", "reasoning", "passed", "cost", "one")


def _table(report: BenchReport, thinking: bool) -> tuple[list[tuple[str, int]], np.ndarray]:
    assert report.efficiency is not None
    rows = sorted((r for r in report.efficiency.rows if r.thinking == thinking),
                  key=lambda r: (r.task_id, r.repeat))
    keys = [(r.task_id, r.repeat) for r in rows]
    unpriced = np.nan if report.efficiency.price is None else 0.0  # a failed request cost nothing
    table = np.array([[r.completion_tokens or 0, r.reasoning_tokens_est or 0, float(r.passed),
                       r.cost_usd if r.cost_usd is not None else unpriced, 1.0] for r in rows],
                     dtype=float).reshape(len(rows), len(_COLS))
    return keys, table


def _ratio(num: str, den: str, cols: tuple[str, ...] = _COLS) -> Callable[[np.ndarray], float]:
    """The statistic sum(column num) / sum(column den) of a table whose columns are `cols`."""
    i, j = cols.index(num), cols.index(den)

    def statistic(t: np.ndarray) -> float:
        d = t[:, j].sum()
        return float(t[:, i].sum() / d) if d else math.nan

    return statistic


_EFF_STATS = {
    "tokens_per_task": _ratio("completion", "one"),
    "tokens_per_solved_task": _ratio("completion", "passed"),
    "reasoning_share": _ratio("reasoning", "completion"),
    "cost_per_task": _ratio("cost", "one"),
    "cost_per_solved_task": _ratio("cost", "passed"),
}


def efficiency_rows(base: BenchReport, new: BenchReport, settings: CompareSettings) -> tuple[list[Row], list[str]]:
    if base.efficiency is None or new.efficiency is None:
        return [], []
    rows: list[Row] = []
    notes: list[str] = []
    modes = [m for m in base.efficiency.thinking_modes if m in new.efficiency.thinking_modes]
    seed = settings.seed + 1000
    for thinking in modes:
        scope = f"thinking {'on' if thinking else 'off'}"
        ka, ta = _table(base, thinking)
        kb, tb = _table(new, thinking)
        paired = ka == kb
        if not paired:
            notes.append(f"{scope}: the task runs differ (repeats?), so tasks are not paired")
        solved = (int(ta[:, 2].sum()), len(ta), int(tb[:, 2].sum()), len(tb))
        rows.append(_row("pass_rate", scope, compare_proportions(*solved, alpha=settings.alpha)))
        for key, statistic in _EFF_STATS.items():
            seed += 1
            if key.startswith("cost") and (np.isnan(ta[:, 3]).any() or np.isnan(tb[:, 3]).any()):
                rows.append(_row(key, scope, TestResult(None, None, None, None, "-", len(ta),
                                                        len(tb), note="no price for the model")))
                continue
            rows.append(_row(key, scope, compare_grouped(
                ta, tb, statistic, paired=paired, alpha=settings.alpha,
                resamples=settings.resamples, seed=seed)))
    return rows, notes


# -- agent tasks (glm-harness agent-bench) ------------------------------------------------------------
_AGENT_COLS = ("tokens", "input", "cached", "seconds", "solved", "cost", "violations", "one")


def _agent_table(report: AgentBenchReport) -> tuple[list[str], np.ndarray]:
    rows = sorted(report.tasks, key=lambda t: t.id)
    table = np.array([[t.usage.input_tokens + t.usage.output_tokens, t.usage.input_tokens, t.usage.cached_tokens,
                       t.wall_s if t.wall_s is not None else np.nan, float(t.solved),
                       t.cost_usd if t.cost_usd is not None else np.nan, len(t.violations), 1.0]
                      for t in rows], dtype=float).reshape(len(rows), len(_AGENT_COLS))
    return [t.id for t in rows], table


_AGENT_STATS = {
    "agent.tokens_per_task": _ratio("tokens", "one", _AGENT_COLS),
    "agent.tokens_per_solved_task": _ratio("tokens", "solved", _AGENT_COLS),
    "agent.cache_hit_share": _ratio("cached", "input", _AGENT_COLS),
    "agent.seconds_per_task": _ratio("seconds", "one", _AGENT_COLS),
    "agent.seconds_per_solved_task": _ratio("seconds", "solved", _AGENT_COLS),
    "agent.cost_per_solved_task": _ratio("cost", "solved", _AGENT_COLS),
    "agent.violations_per_task": _ratio("violations", "one", _AGENT_COLS),
}


def agent_rows(base: AgentBenchReport, new: AgentBenchReport, settings: CompareSettings) -> list[Row]:
    """The same statistics as token efficiency, over agent tasks (paired by task id)."""
    ka, ta = _agent_table(base)
    kb, tb = _agent_table(new)
    scope = f"{new.agent}, {len(kb)} task(s)"
    solved = (int(ta[:, 4].sum()), len(ta), int(tb[:, 4].sum()), len(tb))
    rows = [_row("agent.solved_rate", scope, compare_proportions(*solved, alpha=settings.alpha))]
    seed = settings.seed + 2000
    for key, statistic in _AGENT_STATS.items():
        seed += 1
        column = 5 if key.startswith("agent.cost") else 3 if "seconds" in key else None
        if column is not None and (np.isnan(ta[:, column]).any() or np.isnan(tb[:, column]).any()):
            rows.append(_row(key, scope, TestResult(None, None, None, None, "-", len(ta), len(tb),
                                                    note="not known for every task")))
            continue
        rows.append(_row(key, scope, compare_grouped(ta, tb, statistic, paired=ka == kb, alpha=settings.alpha,
                                                     resamples=settings.resamples, seed=seed)))
    return rows


# -- contract outcomes ------------------------------------------------------------------------------------
def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:160]
    return ""


def contract_rows(base: ContractReport, new: ContractReport) -> list[Row]:
    def row(metric: str, scope: str, a: Any, b: Any, verdict: str, note: str = "") -> Row:
        m = METRICS[metric]
        return Row(section="contract", metric=metric, scope=scope, label=m.label, unit=m.unit,
                   higher_is_better=m.higher_is_better, base=a, new=b, verdict=verdict,
                   note=note, test="outcome")

    def count(report: ContractReport, outcomes: frozenset[str]) -> float:
        return float(sum(t.outcome in outcomes for t in report.tests))

    rows: list[Row] = []
    for metric, outcomes in (("contract.passed", frozenset({"passed"})),
                             ("contract.failed", FAILED_OUTCOMES)):
        before, after = count(base, outcomes), count(new, outcomes)
        rows.append(Row(section="contract", metric=metric, scope="all tests",
                        label=METRICS[metric].label, unit="tests",
                        higher_is_better=METRICS[metric].higher_is_better, base=before,
                        new=after, delta=after - before, rel=relative(before, after),
                        verdict=INFO, test="count"))
    old = {t.nodeid: t for t in base.tests}
    cur = {t.nodeid: t for t in new.tests}
    for nodeid in sorted(old.keys() | cur.keys()):
        a, b = old.get(nodeid), cur.get(nodeid)
        if a is None and b is not None:
            rows.append(row("contract.added", nodeid, None, b.outcome, INFO, "not in the base run"))
            continue
        if b is None and a is not None:
            rows.append(row("contract.removed", nodeid, a.outcome, None, INFO, "not in the new run"))
            continue
        assert a is not None and b is not None
        if a.outcome != b.outcome:
            if b.outcome in FAILED_OUTCOMES and a.outcome not in FAILED_OUTCOMES:
                rows.append(row("contract.flipped", nodeid, a.outcome, b.outcome, WORSE,
                                _first_line(b.message)))
            elif a.outcome in FAILED_OUTCOMES and b.outcome not in FAILED_OUTCOMES:
                rows.append(row("contract.flipped", nodeid, a.outcome, b.outcome, BETTER))
            else:
                rows.append(row("contract.changed", nodeid, a.outcome, b.outcome, INFO,
                                _first_line(b.message)))
        added = sorted(set(b.checks) - set(a.checks))
        gone = sorted(set(a.checks) - set(b.checks))
        if added:
            text = next((v for v in b.violations if any(c in v for c in added)), "")
            rows.append(row("contract.new_violations", nodeid, ", ".join(a.checks) or "none",
                            ", ".join(added), WORSE, _first_line(text)))
        if gone:
            rows.append(row("contract.resolved_violations", nodeid, ", ".join(gone),
                            ", ".join(b.checks) or "none", BETTER))
    return rows


# -- verdicts ------------------------------------------------------------------------------------------
def floor(row: Row, settings: CompareSettings) -> float | None:
    """The smallest relative change that row may be called better or worse at (None: any)."""
    if row.metric in ("pass_rate", "error_rate"):
        return None  # proportions: the exact test alone decides
    if row.metric.endswith((".p95", ".p99")):
        return settings.min_effect_tail
    return settings.min_effect


def decide(rows: list[Row], settings: CompareSettings) -> None:
    """Holm-adjust the p-values of the tested rows together, then give each row its verdict."""
    adjusted = holm([r.p for r in rows])
    for row, p_adj in zip(rows, adjusted, strict=True):
        if row.section == "contract":
            continue
        row.p_adj = p_adj
        if p_adj is None:
            row.verdict = NOT_TESTED if row.verdict != INFO else INFO
            continue
        if p_adj >= settings.alpha or not row.delta:
            row.verdict = SAME
            continue
        least = floor(row, settings)
        if least is not None and row.rel is not None and abs(row.rel) < least:
            row.verdict = SAME
            row.note = (row.note + "; " if row.note else "") + (
                f"significant, but under the {least:.0%} minimum effect")
            continue
        row.verdict = BETTER if (row.delta > 0) == row.higher_is_better else WORSE


def compare(base: Loaded, new: Loaded, settings: CompareSettings | None = None) -> Comparison:
    """All rows for `new` against `base`, with verdicts (no thresholds applied yet)."""
    settings = settings or CompareSettings()
    notes = check_comparable(base, new)
    rows: list[Row] = []
    if base.bench is not None and new.bench is not None:
        lat, lat_notes = latency_rows(base.bench, new.bench, settings)
        eff, eff_notes = efficiency_rows(base.bench, new.bench, settings)
        rows, notes = lat + eff, notes + lat_notes + eff_notes
        notes += _bench_notes(base, new)
    elif base.contract is not None and new.contract is not None:
        rows = contract_rows(base.contract, new.contract)
    elif base.agent is not None and new.agent is not None:
        rows = agent_rows(base.agent, new.agent, settings)
    decide(rows, settings)
    return Comparison(base, new, rows, notes, settings)


_IGNORED_OPTIONS = frozenset({"seed", "progress"})


def _bench_notes(base: Loaded, new: Loaded) -> list[str]:
    assert base.bench is not None and new.bench is not None
    notes = []
    for label, loaded in (("base", base), ("new", new)):
        report = loaded.bench
        assert report is not None
        if not report.complete:
            notes.append(f"{label} ({loaded.name}) is an incomplete run")
        if report.client_bound:
            notes.append(f"{label} ({loaded.name}) was client-bound: its latencies include the "
                         "load generator's own queueing")
    a, b = base.bench.meta.options, new.bench.meta.options
    differ = sorted(k for k in a.keys() | b.keys() if k not in _IGNORED_OPTIONS and a.get(k) != b.get(k))
    if differ:
        notes.append("run options differ: " + ", ".join(
            f"{k} {_short(a.get(k))} -> {_short(b.get(k))}" for k in differ))
    twin_a = [n for n in base.bench.notes if n.startswith("embedded twin")]
    twin_b = [n for n in new.bench.notes if n.startswith("embedded twin")]
    if twin_a and twin_b and twin_a[0].split(";")[0] != twin_b[0].split(";")[0]:
        notes.append(f"twin settings differ: {twin_a[0].split(';')[0]} -> {twin_b[0].split(';')[0]}")
    return notes


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."
