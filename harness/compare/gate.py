"""What fails a comparison whatever its thresholds say: a comparison that tested nothing, a new
run that did not finish or failed its own gate, a level whose requests all failed.

These are not regressions of a metric (a `--fail-on` rule's business) but reasons the new run
cannot be called as good as its base; `--fail-on none` does not silence them.
"""

from __future__ import annotations

from .rows import FAILED_OUTCOMES, WORSE, Comparison

ALL_FAILED_RULE = "every request failed"


def problems(comparison: Comparison) -> list[str]:
    """Reasons this comparison cannot pass; marks the rows they concern as failed."""
    base, new = comparison.base, comparison.new
    if new.bench is not None and base.bench is not None:
        return _bench_problems(comparison)
    if new.contract is not None:
        found = []
        if new.contract.finished_at is None:
            found.append(f"{new.name} is an incomplete contract run (no finish time)")
        ran = [t for t in new.contract.tests if t.outcome == "passed" or t.outcome in FAILED_OUTCOMES]
        if not ran:
            found.append(f"nothing tested: {new.name} has no test that passed or failed")
        return found
    if new.agent is not None and base.agent is not None:
        return _agent_problems(comparison)
    return []


def _agent_problems(comparison: Comparison) -> list[str]:
    new, base = comparison.new.agent, comparison.base.agent
    assert new is not None and base is not None
    name = comparison.new.name
    found = []
    if not new.complete:
        found.append(f"{name} is an incomplete agent-bench run (stopped before its last task)")
    if not new.tasks:
        found.append(f"nothing tested: {name} ran no task")
    elif not any(t.solved for t in new.tasks) and any(t.solved for t in base.tasks):
        found.append(f"{name} solved none of its {len(new.tasks)} task(s)")
    broken = sum(len(t.violations) for t in new.tasks)
    if broken and not any(t.violations for t in base.tasks):
        found.append(f"{name}: {broken} contract violation(s) in the agent's exchanges, none in the base")
    if comparison.tested == 0:
        found.append("nothing tested: no metric had measurements on both sides")
    return found


def _bench_problems(comparison: Comparison) -> list[str]:
    new = comparison.new.bench
    base = comparison.base.bench
    assert new is not None and base is not None
    found = []
    if not new.complete:
        found.append(f"{comparison.new.name} is an incomplete run (interrupted or stopped)")
    found += [f"{comparison.new.name} failed its own gate: {reason}" for reason in new.gate_failures]
    base_levels = {level.name: level for level in base.levels}
    for level in new.levels:
        before = base_levels.get(level.name)
        if level.completed and not level.succeeded and before is not None and before.succeeded:
            found.append(f"{level.name}: every request failed (error rate "
                         f"{before.failed / before.completed:.0%} -> 100%)")
            _fail_error_rate(comparison, level.name)
    if comparison.tested == 0:
        found.append("nothing tested: no metric had measurements on both sides")
    return found


def _fail_error_rate(comparison: Comparison, level: str) -> None:
    for row in comparison.rows:
        if row.metric == "error_rate" and row.scope == level:
            row.verdict = WORSE
            row.failed, row.rule = True, row.rule or ALL_FAILED_RULE
