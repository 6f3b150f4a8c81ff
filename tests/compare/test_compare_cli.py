"""`glm-harness compare` and `plot` end to end: exit codes, bad input, Markdown, JSON, the table,
`--baseline latest`, contract reports, plots."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.bench.report import write_report
from harness.cli import main
from harness.compare.thresholds import DEFAULT_FAIL_ON, parse_fail_on
from harness.errors import UsageError

from .conftest import contract_doc, make_report

Write = Callable[..., Path]
FAST = ["--resamples", "300"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["compare", *FAST, *argv] if argv and argv[0] != "plot" else list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """base, a same-distribution run, a run with TTFT +30%, one with a different task set."""
    root = tmp_path_factory.mktemp("pair")
    reports = {
        "base": make_report(1, n=80, tokens=12, levels=(1, 4)),
        "same": make_report(2, n=80, tokens=12, levels=(1, 4)),
        "slow": make_report(3, n=80, tokens=12, levels=(1, 4), ttft_ms=156),
        "other_tasks": make_report(4, n=80, tokens=12, levels=(1, 4), task_ids=("t1", "t2", "t3")),
    }
    paths = {}
    for name, report in reports.items():
        paths[name] = root / f"{name}.json"
        write_report(report, paths[name], markdown=False)
    return paths


# -- exit codes --------------------------------------------------------------------------------------
def test_same_distribution_exits_0(pair: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    # 80 requests a level leave the default rules' p95 rows untested: accepted here, on purpose
    code, out, _ = run(capsys, str(pair["base"]), str(pair["same"]), "--format", "json", "--allow-untested")
    assert code == 0
    data = json.loads(out)
    assert data["exit_code"] == 0 and not data["regressed"]
    assert data["comparisons"][0]["counts"]["worse"] == 0


def test_ttft_regression_exits_1(pair: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(pair["base"]), str(pair["slow"]), "--format", "json")
    assert code == 1
    comparison = json.loads(out)["comparisons"][0]
    failed = {(r["metric"], r["scope"]) for r in comparison["rows"] if r["failed"]}
    assert ("ttft.p50", "c1") in failed and ("ttft.p50", "c4") in failed
    assert all(r["verdict"] == "worse" for r in comparison["rows"] if r["failed"])
    assert any(f.startswith("ttft.p50@c1: ttft.p50:+10%") for f in comparison["failures"])


def test_threshold_beyond_the_change_does_not_fail(pair: dict[str, Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    args = (str(pair["base"]), str(pair["slow"]))
    assert run(capsys, *args, "--fail-on", "ttft.p50:+50%")[0] == 0  # +30% < 50%
    assert run(capsys, *args, "--fail-on", "ttft.p50@c4:+20%")[0] == 1
    assert run(capsys, *args, "--fail-on", "ttft.p50@c4:+100ms")[0] == 0
    assert run(capsys, *args, "--fail-on", "*.p50:10%")[0] == 1
    assert run(capsys, *args, "--fail-on", "none")[0] == 0


def test_more_than_two_reports_compare_each_with_the_first(
        pair: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(pair["base"]), str(pair["same"]), str(pair["slow"]),
                       "--format", "json")
    comparisons = json.loads(out)["comparisons"]
    assert code == 1
    assert [Path(c["new"]["path"]).name for c in comparisons] == ["same.json", "slow.json"]
    assert [bool(c["failures"]) for c in comparisons] == [False, True]


def test_pass_rate_rule(write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    base = write("pass.json", make_report(5, n=20, levels=(1,), passed=[True] * 8))
    fail = write("fail.json", make_report(6, n=20, levels=(1,), passed=[False] * 8))
    assert run(capsys, str(base), str(fail), "--fail-on", "pass_rate:-2pp")[0] == 1
    # 20 requests cannot test a p95: the gate says it could not judge, rather than passing
    assert run(capsys, str(base), str(fail), "--fail-on", "ttft.p95:+10%")[0] == 3
    assert run(capsys, str(base), str(fail), "--fail-on", "ttft.p95:+10%", "--allow-untested")[0] == 0


# -- bad input: exit 2, one line --------------------------------------------------------------------
def _one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("glm-harness compare: error: ")
    return lines[0]


def test_missing_file(pair: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _one_line_error(capsys, str(pair["base"]), str(tmp_path / "nope.json"))
    assert line.endswith("nope.json: no such file")


def test_other_schema_version(pair: dict[str, Path], write: Write,
                              capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(pair["same"].read_text())
    data["schema_version"] = "2.0"
    line = _one_line_error(capsys, str(pair["base"]), str(write("v2.json", data)))
    assert "schema version '2.0'" in line and "'1.0', '1.1', '1.2' only" in line


def test_different_task_sets(pair: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    line = _one_line_error(capsys, str(pair["base"]), str(pair["other_tasks"]))
    assert "ran different task sets" in line and "8 tasks" in line and "3 tasks" in line


def test_bench_against_contract(pair: dict[str, Path], write: Write,
                                capsys: pytest.CaptureFixture[str]) -> None:
    contract = write("contract.json", contract_doc({"t::a": "passed"}))
    line = _one_line_error(capsys, str(pair["base"]), str(contract))
    assert "cannot compare a bench report" in line and "with a contract report" in line


@pytest.mark.parametrize(("content", "expected"), [
    ("{not json", "not a JSON report (invalid JSON at line 1 column 2)"),
    ("[1, 2]", "not a glm-harness report"),
    ('{"kind": "something"}', "not a glm-harness bench, contract or agent-bench report (kind 'something')"),
    ('{"kind": "glm-harness.bench", "schema_version": "1.0"}', "invalid bench report"),
    ('{"kind": "contract", "schema_version": "1.0"}', "invalid contract report at tests"),
])
def test_not_a_report(pair: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                      content: str, expected: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert expected in _one_line_error(capsys, str(pair["base"]), str(bad))


@pytest.mark.parametrize(("spec", "expected"), [
    ("ttft.p95", "is not METRIC:CHANGE"),
    ("latency:+5%", "unknown metric 'latency'"),
    ("ttft.p95:+ten%", "is not a change like"),
    ("pass_rate:+2pp", "pass_rate gets worse by falling: write pass_rate:-2pp"),
    ("ttft.p95:-10%", "ttft.p95 gets worse by rising"),
    ("ttft.p95:+2pp", "pp only applies to"),
    ("contract.flipped:+5%", "contract rules take a count"),
    ("*.p50:+10%", "matches metrics that get worse in both directions; drop the sign"),
])
def test_bad_fail_on(pair: dict[str, Path], capsys: pytest.CaptureFixture[str], spec: str,
                     expected: str) -> None:
    assert expected in _one_line_error(capsys, str(pair["base"]), str(pair["same"]), "--fail-on", spec)


def test_one_report_is_not_enough(pair: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert "at least one NEW.json" in _one_line_error(capsys, str(pair["base"]))


def test_argparse_errors_are_one_line_too(pair: dict[str, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, str(pair["base"]), str(pair["same"]), "--alpha", "2")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--alpha" in err


def test_default_fail_on_parses() -> None:
    rules = parse_fail_on(None)
    assert {r.pattern for r in rules} >= {"ttft.p95", "itl.p50", "pass_rate", "contract.flipped"}
    assert parse_fail_on("none") == []
    assert "ttft.p95:+10%" in DEFAULT_FAIL_ON
    with pytest.raises(UsageError):
        parse_fail_on("e2e.p50:+10%,bogus:1")


# -- output ------------------------------------------------------------------------------------------
def test_markdown_fits_a_job_summary(pair: dict[str, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    md_file = tmp_path / "out" / "summary.md"
    code, out, _ = run(capsys, str(pair["base"]), str(pair["slow"]), "--format", "markdown",
                       "--markdown", str(md_file), "--title", "glm-4.6 nightly")
    assert code == 1
    assert md_file.read_text() == out
    assert out.startswith("## glm-4.6 nightly\n\n**🔴 Regression beyond thresholds**")
    assert "#### Latency" in out and "#### Token efficiency" in out
    assert "🔴 worse **FAIL** `ttft.p50:+10%`" in out
    assert len(out.encode()) < 1024 * 1024  # GitHub's job summary limit per step
    for table in re.findall(r"(?:^\|.*\|\n)+", out, flags=re.M):
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in table.splitlines()}
        assert len(widths) == 1, table  # every row has as many cells as the header
    # changed rows first: the first data row of the latency table is a worse one
    latency = out.split("#### Latency")[1].split("\n")
    assert "worse" in latency[4]


def test_json_output(pair: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cmp.json"
    code, _, _ = run(capsys, str(pair["base"]), str(pair["slow"]), "--json", str(path))
    data = json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert code == 1 == data["exit_code"]
    assert data["kind"] == "glm-harness.compare" and data["schema_version"] == "1.0"
    assert data["alpha"] == 0.01 and data["min_effect"] == 0.05
    rows = data["comparisons"][0]["rows"]
    row = next(r for r in rows if r["metric"] == "ttft.p50" and r["scope"] == "c4")
    assert set(row) >= {"base", "new", "delta", "rel", "ci", "p", "p_adj", "test", "verdict",
                        "failed", "rule", "n_base", "n_new"}
    assert row["verdict"] == "worse" and row["rule"] == "ttft.p50:+10%"
    assert row["ci"][0] > 0 and row["delta"] == pytest.approx(row["new"] - row["base"])


def test_terminal_table(pair: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(pair["base"]), str(pair["slow"]))
    assert code == 1
    assert "TTFT p50" in out and "FAIL ttft.p50:+10%" in out and "99% CI of change" in out
    assert "regression(s) beyond the --fail-on thresholds" in out


# -- baselines ----------------------------------------------------------------------------------------
def test_baseline_latest_picks_the_newest_of_the_same_model_and_target(
        tmp_path: Path, write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    baselines = tmp_path / "baselines"
    baselines.mkdir()
    for name, model, target, when in (("old.json", "glm-4.6", "mock", "2025-01-01T00:00:00Z"),
                                      ("new.json", "glm-4.6", "mock", "2025-03-01T00:00:00Z"),
                                      ("live.json", "glm-4.6", "live", "2025-04-01T00:00:00Z"),
                                      ("other.json", "glm-4.5", "mock", "2025-05-01T00:00:00Z")):
        write(f"baselines/{name}", make_report(len(name), n=40, levels=(1,), model=model,
                                               target=target, started_at=when))
    (baselines / "junk.json").write_text("{}")
    fresh = write("fresh.json", make_report(9, n=40, levels=(1,), started_at="2025-06-01T00:00:00Z"))
    code, out, _ = run(capsys, "--baseline", "latest", "--baseline-dir", str(baselines),
                       str(fresh), "--format", "json", "--allow-untested")
    assert code == 0
    assert Path(json.loads(out)["comparisons"][0]["base"]["path"]).name == "new.json"
    lonely = write("lonely.json", make_report(9, n=40, levels=(1,), model="glm-4.7"))
    line = _one_line_error(capsys, "--baseline", "latest", "--baseline-dir", str(baselines),
                           str(lonely))
    assert "no bench report of glm-4.7 on mock in" in line


# -- contract reports ----------------------------------------------------------------------------------
def test_contract_flips_and_new_violations(write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    base = write("c-base.json", contract_doc(
        {"s::ok": "passed", "s::breaks": "passed", "s::fixed": "failed", "s::gone": "passed",
         "s::skip": "passed", "s::checks": "passed"},
        {"s::checks": ["usage.present"]}))
    new = write("c-new.json", contract_doc(
        {"s::ok": "passed", "s::breaks": "failed", "s::fixed": "passed", "s::added": "passed",
         "s::skip": "skipped", "s::checks": "passed"},
        {"s::checks": ["usage.present", "finish_reason.valid"]}))
    code, out, _ = run(capsys, str(base), str(new), "--format", "json")
    assert code == 1
    rows = {(r["metric"], r["scope"]): r for r in json.loads(out)["comparisons"][0]["rows"]}
    assert rows[("contract.flipped", "s::breaks")]["verdict"] == "worse"
    assert rows[("contract.flipped", "s::breaks")]["note"] == "AssertionError: boom"
    assert rows[("contract.flipped", "s::fixed")]["verdict"] == "better"
    assert rows[("contract.new_violations", "s::checks")]["new"] == "finish_reason.valid"
    assert rows[("contract.changed", "s::skip")]["verdict"] == "info"
    assert ("contract.added", "s::added") in rows and ("contract.removed", "s::gone") in rows
    assert not any(metric == "contract.flipped" and scope == "s::ok" for metric, scope in rows)
    failed = {k for k, r in rows.items() if r["failed"]}
    assert failed == {("contract.flipped", "s::breaks"), ("contract.new_violations", "s::checks")}
    # a tolerated flip, a tolerated violation: exit 0
    assert run(capsys, str(base), str(new), "--fail-on",
               "contract.flipped:1,contract.new_violations:1")[0] == 0
    # only improvements: exit 0
    fixed = write("c-fixed.json", contract_doc(
        {"s::ok": "passed", "s::breaks": "passed", "s::fixed": "passed", "s::gone": "passed",
         "s::skip": "passed", "s::checks": "passed"}))
    assert run(capsys, str(base), str(fixed))[0] == 0
    code, out, _ = run(capsys, str(base), str(new), "--format", "markdown")
    assert "#### Contract" in out and "`s::breaks`" in out and "#### Latency" not in out


def test_contract_schema_version(write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    doc = contract_doc({"s::ok": "passed"})
    base = write("c1.json", doc)
    other = write("c2.json", {**doc, "schema_version": "0.9"})
    assert "contract report schema version '0.9'" in _one_line_error(capsys, str(base), str(other))


# -- plots --------------------------------------------------------------------------------------------
def _assert_pngs(paths: list[Path], prefix: str, levels: tuple[str, ...] = ("c1", "c4")) -> None:
    names = sorted(p.name for p in paths)
    assert names == [f"{prefix}.{name}" for name in (
        *(f"latency-cdf-{lv}.png" for lv in levels), "latency-vs-concurrency.png",
        "tokens-per-solved-task.png")]
    for path in paths:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_compare_plots(pair: dict[str, Path], tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, str(pair["base"]), str(pair["same"]), str(pair["slow"]),
                       "--plots", str(tmp_path / "plots"), "--fail-on", "none")
    assert code == 0
    paths = [Path(line.split("plot: ", 1)[1]) for line in err.splitlines() if line.startswith("plot: ")]
    _assert_pngs(paths, f"{pair['base'].stem}+{pair['same'].stem}+{pair['slow'].stem}")


def test_plot_writes_next_to_the_report_and_another_reports_plots_overwrite_nothing(
        write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    first = write("first.json", make_report(11, n=30, tokens=8, levels=(2,)))
    second = write("second.json", make_report(12, n=30, tokens=8, levels=(2,), efficiency=False))
    code, out, _ = run(capsys, "plot", str(first))
    assert code == 0
    paths = [Path(line) for line in out.splitlines()]
    assert all(p.parent == first.parent for p in paths)
    _assert_pngs(paths, "first", levels=("c2",))
    before = {p: p.read_bytes() for p in paths}
    assert run(capsys, "plot", str(second))[0] == 0
    assert all(p.read_bytes() == data for p, data in before.items())
    assert len(list(first.parent.glob("second.*.png"))) == len(before) - 1  # no efficiency: no tokens plot


def test_plot_refuses_contract_reports(write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    contract = write("c.json", contract_doc({"s::ok": "passed"}))
    code, _, err = run(capsys, "plot", str(contract))
    assert code == 2 and "plot takes bench reports" in err
