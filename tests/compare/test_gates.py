"""The gates that decide a CI run: a bench run that measured nothing or mostly failures fails;
a comparison gates error and pass rate by default, fails a level that went from working to all
errors, an incomplete new run or one that tested nothing, and refuses a --fail-on that cannot
gate anything. The client-bound flag is set only past its margin, and never on a dead level."""

from __future__ import annotations

import pytest

from harness.bench.gate import gate_failures
from harness.bench.health import CPU_BOUND_CLEAR, LATENESS_P90_MS, LOOP_LAG_P99_MS, MARGIN, verdict
from harness.compare.thresholds import DEFAULT_FAIL_ON

from .conftest import contract_doc, make_report
from .test_compare_cli import Write, run


# -- bench gate -------------------------------------------------------------------------------------
def test_a_level_with_no_success_fails_the_bench_gate() -> None:
    report = make_report(1, n=20, levels=(1,), efficiency=False)
    level = report.levels[0]
    level.succeeded, level.failed, level.errors = 0, level.completed, {"transport": level.completed}
    assert gate_failures(report.levels, 0.05) == [f"c1: 0 of {level.completed} requests succeeded "
                                                  f"(transport x{level.completed})"]


def test_an_error_rate_above_the_limit_fails_and_one_at_it_passes() -> None:
    report = make_report(1, n=19, levels=(1,), efficiency=False, errors=1)  # 1 of 20: 5%
    assert gate_failures(report.levels, 0.05) == []
    (reason,) = gate_failures(report.levels, 0.04)
    assert reason.startswith("c1: error rate 5.0% (1 of 20) is above --max-error-rate 4.0%")


def test_a_run_with_no_level_fails_the_bench_gate() -> None:
    assert gate_failures([], 0.05) == ["no level ran: nothing was measured"]


# -- client-bound -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("cpu", "lag", "late", "bound", "near"), [
    (0.50, 1.0, 1.0, False, False),                                   # healthy
    (0.93, LOOP_LAG_P99_MS * 1.5, LATENESS_P90_MS * 1.5, False, True),  # inside the margin
    (CPU_BOUND_CLEAR, 1.0, 1.0, True, False),                          # CPU past its margin
    (0.50, LOOP_LAG_P99_MS * MARGIN, 1.0, True, False),                # lag past its margin
    (0.50, 1.0, LATENESS_P90_MS * MARGIN + 1, True, False),            # lateness past its margin
])
def test_client_bound_needs_a_signal_past_its_margin(cpu: float, lag: float, late: float,
                                                     bound: bool, near: bool) -> None:
    flagged, close = verdict(cpu, lag, late)
    assert bool(flagged) is bound and bool(close) is near


def test_a_level_where_every_request_failed_is_never_client_bound() -> None:
    import asyncio

    from harness.bench.health import HealthMonitor

    async def measure() -> HealthMonitor:
        async with HealthMonitor(interval_s=0.002) as monitor:
            await asyncio.sleep(0.01)
        return monitor

    monitor = asyncio.run(measure())
    # a busy client (70% of a core): its late starts are its own (health.py counts them only then)
    monitor._wall0, monitor._wall1, monitor._cpu0, monitor._cpu1 = 0.0, 1.0, 0.0, 0.7
    late = [LATENESS_P90_MS * MARGIN * 5] * 10
    assert monitor.report(late).client_bound
    dead = monitor.report(late, succeeded=0)
    assert not dead.client_bound and all(r.startswith("near: ") for r in dead.reasons)


# -- compare gate ------------------------------------------------------------------------------------
def test_error_rate_is_gated_by_default() -> None:
    assert "error_rate:+5pp" in DEFAULT_FAIL_ON and "pass_rate:-5pp" in DEFAULT_FAIL_ON


def test_errors_from_none_to_all_is_a_regression(write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    base = write("base.json", make_report(1, n=3, levels=(1,), efficiency=False))
    dead_report = make_report(2, n=3, levels=(1,), efficiency=False)
    level = dead_report.levels[0]
    level.succeeded, level.failed, level.errors = 0, 3, {"transport": 3}
    dead = write("dead.json", dead_report)
    code, out, _ = run(capsys, str(base), str(dead))
    assert code == 1
    assert "c1: every request failed (error rate 0% -> 100%)" in out


def test_an_incomplete_new_run_is_not_a_pass(write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    base = write("base.json", make_report(1, n=30, levels=(1,), efficiency=False))
    cut = make_report(1, n=30, levels=(1,), efficiency=False)
    cut.complete = False
    new = write("cut.json", cut)
    code, out, _ = run(capsys, str(base), str(new), "--fail-on", "none")
    assert code == 1 and "cut.json is an incomplete run" in out


def test_two_reports_with_nothing_tested_are_not_a_pass(write: Write,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    empty = make_report(1, n=30, levels=(), efficiency=False)
    empty.complete = False
    a, b = write("a.json", empty), write("b.json", empty)
    code, out, _ = run(capsys, str(a), str(b))
    assert code == 1 and "nothing tested" in out


def test_a_contract_report_with_no_test_run_is_not_a_pass(write: Write,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    base = write("base.json", contract_doc({"s::a": "passed"}))
    skipped = write("new.json", contract_doc({"s::a": "skipped"}))
    code, out, _ = run(capsys, str(base), str(skipped))
    assert code == 1 and "nothing tested" in out


@pytest.mark.parametrize(("fail_on", "message"), [
    ("", "names no rule"),
    (" , ", "names no rule"),
    ("ttft.p50@c99:+10%", "scope 'c99' matches nothing"),
    ("pass_rate:-2pp", "these reports have no 'pass_rate' to compare"),
])
def test_a_fail_on_that_gates_nothing_is_bad_input(write: Write, capsys: pytest.CaptureFixture[str],
                                                   fail_on: str, message: str) -> None:
    base = write("base.json", make_report(1, n=30, levels=(1,), efficiency=False))
    new = write("new.json", make_report(2, n=30, levels=(1,), efficiency=False))
    code, out, err = run(capsys, str(base), str(new), "--fail-on", fail_on)
    assert code == 2 and message in err and err.count("\n") == 1 and not out


# -- the cross-model summary -----------------------------------------------------------------------------
def test_summary_puts_models_side_by_side_and_shows_unknown_as_a_dash(
        write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    reports = []
    for n, model in enumerate(("glm-4.5", "glm-4.6", "glm-4.7", "glm-5")):
        report = make_report(n, model=model, n=20, levels=(1,), efficiency=False)
        if model == "glm-5":
            level = report.levels[0]
            level.succeeded, level.failed, level.summaries = 0, level.completed, {}
            level.output_tokens_per_s = None
            report.gate_failures = [f"c1: 0 of {level.completed} requests succeeded (transport x20)"]
        reports.append(str(write(f"bench-{model}.json", report)))
    contract = write("contract-glm-4.6.json", contract_doc({"s::a": "passed", "s::b": "failed"}))
    assert main(["summary", *reports, str(contract)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| glm-")]
    assert [row.split(" | ")[0] for row in rows] == ["| glm-4.6", "| glm-4.5", "| glm-4.6", "| glm-4.7", "| glm-5"]
    assert "| 1 | 1 | 0 | `b` |" in rows[0]
    dead = rows[-1]
    assert "0/20 | 100% | - | - | - | - | - | FAILED: 0 of 20 requests succeeded" in dead
