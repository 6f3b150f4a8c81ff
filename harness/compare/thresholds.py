"""`--fail-on`: which regressions fail the run (exit 1).

A spec is comma-separated `METRIC[@SCOPE]:CHANGE` rules, for example
`ttft.p95:+10%,itl.p50@c8:+2ms,pass_rate:-2pp,contract.flipped:0`.

* METRIC is a key of `rows.METRICS` (`ttft.p50`, `e2e.p99`, `tokens_per_solved_task`, ...);
  `*` and `?` match as in shell patterns (`*.p95`). SCOPE narrows it to a level (`c8`) or a
  thinking mode (`thinking on`).
* CHANGE is how far in the worse direction the metric may move: `10%` relative to base, `2pp`
  percentage points (proportions: pass_rate, error_rate, reasoning_share), `20ms` milliseconds
  (latency), or a bare number in the metric's own unit. The sign is optional; when given it
  must be the worse direction (`+` for latency and cost, `-` for pass rate and tokens/s).
  Contract rules take a count: `contract.flipped:0` fails when more than 0 tests flipped to
  failed.

A row fails only when it is BOTH a significant regression (verdict `worse`, see stats) AND
beyond its rule: noise never fails a run, and neither does a real but tolerated change.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import UsageError
from .rows import METRICS, NOT_TESTED, PROPORTIONS, WORSE, Comparison, Row

DEFAULT_FAIL_ON = ",".join([
    *(f"{m}.{q}:+10%" for m in ("ttft", "itl", "tpot", "e2e") for q in ("p50", "p95")),
    "error_rate:+5pp",
    "pass_rate:-5pp",
    "agent.solved_rate:-5pp",
    "contract.flipped:0",
    "contract.new_violations:0",
])
_COUNTED = frozenset({"contract.flipped", "contract.new_violations"})
_CHANGE = re.compile(r"^(?P<sign>[+-]?)(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>%|pp|ms)?$")


@dataclass(frozen=True, slots=True)
class Rule:
    pattern: str
    scope: str | None
    amount: float
    unit: str  # "%", "pp", "ms", "abs", "count"
    text: str

    def matches(self, row: Row) -> bool:
        return fnmatch.fnmatchcase(row.metric, self.pattern) and (
            self.scope is None or row.scope == self.scope)

    def beyond(self, row: Row) -> bool:
        """Is `row`'s change past this rule's allowance (in the worse direction)?"""
        if row.delta is None:
            return False
        worse_by = -row.delta if row.higher_is_better else row.delta
        if worse_by <= 0:
            return False
        if self.unit == "%":
            if row.rel is None:
                return True  # from zero to something worse: beyond any relative allowance
            return abs(row.rel) * 100 > self.amount
        if self.unit == "pp":
            return worse_by * 100 > self.amount
        return worse_by > self.amount


def _targets(pattern: str) -> list[str]:
    return [key for key in METRICS if fnmatch.fnmatchcase(key, pattern)]


def parse_rule(text: str) -> Rule:
    item = text.strip()
    if ":" not in item:
        raise UsageError(f"--fail-on: {item!r} is not METRIC:CHANGE (e.g. ttft.p95:+10%)")
    path, change = (part.strip() for part in item.rsplit(":", 1))
    pattern, _, scope_text = path.partition("@")
    pattern, scope = pattern.strip(), scope_text.strip() or None
    targets = _targets(pattern)
    if not targets:
        known = ", ".join(k for k in METRICS if k.endswith((".p50", ".p95")) or "." not in k)
        raise UsageError(f"--fail-on: unknown metric {pattern!r}; known: {known}, "
                         "*.p99, contract.flipped, contract.new_violations")
    match = _CHANGE.match(change)
    if match is None:
        raise UsageError(f"--fail-on: {change!r} in {item!r} is not a change like +10%, -2pp, "
                         "+20ms or 0")
    amount, unit, sign = float(match["amount"]), match["unit"] or "abs", match["sign"]
    counted = [t for t in targets if t in _COUNTED]
    if counted:
        if len(counted) != len(targets) or unit != "abs" or sign:
            raise UsageError(f"--fail-on: {item!r}: contract rules take a count of tests, "
                             "e.g. contract.flipped:0")
        return Rule(pattern, scope, amount, "count", item)
    if any(t.startswith("contract.") for t in targets):
        raise UsageError(f"--fail-on: {pattern!r} is informational and cannot fail a run; use "
                         "contract.flipped or contract.new_violations")
    if unit == "pp" and not all(t in PROPORTIONS for t in targets):
        raise UsageError(f"--fail-on: {item!r}: pp only applies to {', '.join(sorted(PROPORTIONS))}")
    if unit == "ms" and not all(METRICS[t].unit == "ms" for t in targets):
        raise UsageError(f"--fail-on: {item!r}: ms only applies to latency percentiles")
    if sign:
        directions = {METRICS[t].higher_is_better for t in targets}
        if len(directions) > 1:
            raise UsageError(f"--fail-on: {pattern!r} matches metrics that get worse in both "
                             "directions; drop the sign")
        worse_sign = "-" if directions.pop() else "+"
        if sign != worse_sign:
            raise UsageError(f"--fail-on: {pattern} gets worse by "
                             f"{'falling' if worse_sign == '-' else 'rising'}: write "
                             f"{pattern}:{worse_sign}{match['amount']}{match['unit'] or ''}")
    return Rule(pattern, scope, amount, unit, item)


def parse_fail_on(spec: str | None) -> list[Rule]:
    """Rules from a --fail-on spec; None gives the default, 'none' no rules. An empty spec is
    a usage error: a typo'd variable in CI must not switch the gate off."""
    if spec is None:
        spec = DEFAULT_FAIL_ON
    if spec.strip().lower() == "none":
        return []
    rules = [parse_rule(item) for item in spec.split(",") if item.strip()]
    if not rules:
        raise UsageError(f"--fail-on {spec!r} names no rule; give METRIC:CHANGE rules, or 'none' "
                         "to fail on nothing")
    return rules


def check_rules_match(rules: Iterable[Rule], comparisons: Iterable[Comparison]) -> None:
    """UsageError for a rule whose scope names no level, thinking mode or test of the reports,
    or whose metric none of them has: it would otherwise silently gate nothing."""
    comparisons = list(comparisons)
    scopes = {row.scope for c in comparisons for row in c.rows}
    for c in comparisons:
        for loaded in (c.base, c.new):
            if loaded.contract is not None:
                scopes |= {t.nodeid for t in loaded.contract.tests}
            if loaded.bench is not None:
                scopes |= {level.name for level in loaded.bench.levels}
    metrics = {row.metric for c in comparisons for row in c.rows}
    for rule in rules:
        if rule.scope is not None and rule.scope not in scopes:
            known = ", ".join(sorted(scopes)[:12]) or "none"
            raise UsageError(f"--fail-on {rule.text!r}: scope {rule.scope!r} matches nothing in "
                             f"these reports (scopes: {known})")
        # contract rows exist only for tests that changed, so a count rule may match none
        if rule.unit != "count" and not any(fnmatch.fnmatchcase(m, rule.pattern) for m in metrics):
            raise UsageError(f"--fail-on {rule.text!r}: these reports have no {rule.pattern!r} "
                             "to compare (no task set? another kind of report?)")


def untested(comparison: Comparison, rules: Iterable[Rule]) -> list[Row]:
    """The rows a rule covers that were not tested (a client-bound level, too few samples):
    the gate could not judge them, so it cannot pass them either."""
    rules = [rule for rule in rules if rule.unit != "count"]
    return [row for row in comparison.rows
            if row.verdict == NOT_TESTED and any(rule.matches(row) for rule in rules)]


def apply(comparison: Comparison, rules: Iterable[Rule]) -> list[Row]:
    """Mark the rows that fail a rule; return them."""
    rules = list(rules)
    for rule in rules:
        matched = [r for r in comparison.rows if rule.matches(r)]
        if rule.unit == "count":
            worse = [r for r in matched if r.verdict == WORSE]
            if len(worse) > rule.amount:
                for row in worse:
                    row.failed, row.rule = True, row.rule or rule.text
            continue
        for row in matched:
            if row.verdict == WORSE and rule.beyond(row):
                row.failed, row.rule = True, row.rule or rule.text
    return comparison.failures
