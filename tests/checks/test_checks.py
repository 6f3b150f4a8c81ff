"""Every rule of every check, broken once on a real exchange, gives exactly its message; the
healthy real exchanges pass every check; docs/checks.md is the table, rendered."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from check_table import CASES, HEALTHY, Case, render

from harness import checks
from harness.checks import CHECKS, EVENT_ORDER_EXPECTATIONS, INVARIANT_EXPECTATIONS, Expect, describe, run_checks
from harness.sse import VIOLATION_KINDS

DOC = Path(__file__).resolve().parents[2] / "docs" / "checks.md"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_breaking_one_rule_gives_exactly_its_message(case: Case) -> None:
    violations = run_checks(case.build(), Expect(**case.expect), names=[case.check])
    assert [(v.check, v.rule, v.line()) for v in violations] == [(case.check, case.rule, case.message)]


@pytest.mark.parametrize("name", sorted(HEALTHY))
def test_a_healthy_real_exchange_passes_every_check(name: str) -> None:
    build, expect = HEALTHY[name]
    assert describe(run_checks(build(), expect)) == "conforms"


def _rules_in_code() -> set[tuple[str, str]]:
    """(check, rule) for every `Failure("rule", ...)` written in a check, and the rules a check
    takes from elsewhere: stream invariants, SSE framing violations."""
    found: set[tuple[str, str]] = set()
    for name, fn in CHECKS.items():
        tree = ast.parse(inspect.getsource(fn))
        helpers = [getattr(checks, n.id) for n in ast.walk(tree) if isinstance(n, ast.Name)
                   and n.id.startswith("_") and inspect.isfunction(getattr(checks, n.id, None))]
        for source in (fn, *helpers):
            for node in ast.walk(ast.parse(inspect.getsource(source))):
                if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Failure"
                        and isinstance(node.args[0], ast.Constant)):
                    found.add((name, node.args[0].value))
    found |= {("stream_invariants", kind) for kind in INVARIANT_EXPECTATIONS}
    found |= {("message_event_order", kind) for kind in EVENT_ORDER_EXPECTATIONS}
    found |= {("sse_framing", kind) for kind in VIOLATION_KINDS}
    return found


def test_every_rule_has_a_case_and_every_case_a_rule() -> None:
    table = {(c.check, c.rule) for c in CASES}
    assert _rules_in_code() == table
    assert len(table) == len(CASES), "one case per rule"


def test_every_check_is_in_the_table() -> None:
    assert {c.check for c in CASES} == set(CHECKS)


def test_the_checks_doc_is_current() -> None:
    assert DOC.read_text() == render(), "stale: run python tests/checks/check_table.py > docs/checks.md"


def test_a_gate_says_which_checks_it_stopped() -> None:
    case = next(c for c in CASES if c.id == "status_code_conformance.status")
    text = describe(run_checks(case.build(), Expect(**case.expect)))
    assert "(checks after status_code_conformance were not run: they would restate this failure)" in text
    assert "reproduce: curl -sS -X POST https://api.z.ai/api/paas/v4/chat/completions" in text


def test_one_finding_does_not_hide_another() -> None:
    """A stream without usage still has its missing tool call and missing reasoning reported."""
    case = next(c for c in CASES if c.id == "stream_invariants.missing_usage")
    found = {(v.check, v.rule) for v in run_checks(case.build(), Expect(tool_calls=("weather",), reasoning=True))}
    assert {("stream_invariants", "missing_usage"), ("usage_conformance", "present"),
            ("tool_call_conformance", "expected_calls")} <= found
