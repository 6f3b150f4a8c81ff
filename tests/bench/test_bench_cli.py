"""`glm-harness bench` / `calibrate` argument handling: bad input is one line and status 2."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from harness.bench.calibrate import error_stats
from harness.bench.commands import add_bench_arguments, bench_config
from harness.bench.report import load_report
from harness.cli import main


@pytest.mark.parametrize(("argv", "message"), [
    (["bench", "--concurrency", "0"], "expected integers >= 1"),
    (["bench", "--concurrency", "1,x"], "expected integers >= 1"),
    (["bench", "--requests", "-1"], "expected a number >= 1"),
    (["bench", "--rate", "0"], "request rates > 0"),
    (["bench", "--target", "staging"], "invalid choice"),
    (["bench", "--rate", "5", "--ramp", "1"], "--ramp spreads a closed loop's first requests"),
    (["bench", "--ramp", "-1"], "expected a number >= 0"),
    (["bench", "--base-url", "api.z.ai"], "http(s) base URL"),
    (["bench", "--tasks", "nosuch"], "no task set 'nosuch'"),
    (["bench", "--out", "report.txt"], "--out: must end in .json"),
    (["bench", "--target", "live"], "needs an API key in $ZAI_API_KEY"),
    (["bench", "--target", "live", "--ttft-ms", "5"], "--ttft-ms only apply to the embedded twin"),
    (["bench", "--base-url", "http://127.0.0.1:9", "--jitter", "0.1"], "--jitter only apply"),
    (["calibrate", "--concurrency", "-4"], "expected integers >= 1"),
    (["calibrate", "--reply-tokens", "1"], "expected a number >= 2"),
    (["calibrate", "--out", "x.csv"], "--out: must end in .json"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_is_one_line_and_status_2(argv: list[str], message: str,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZAI_API_KEY", raising=False)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_defaults_are_the_embedded_twin_with_the_default_task_set() -> None:
    args = add_bench_arguments(argparse.ArgumentParser()).parse_args([])
    config = bench_config(args)
    assert (args.target, args.base_url) == (None, None)
    assert config.concurrency == (1, 8) and config.task_set is not None
    assert config.task_set.name == "default" and config.task_thinking == (True, False)


def test_a_small_bench_run_writes_a_valid_report(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    argv = ["bench", "--concurrency", "1,2", "--requests", "2", "--tasks", "none", "--ttft-ms",
            "1", "--itl-ms", "0.1", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    report = load_report(out)
    assert [lv.name for lv in report.levels] == ["c1", "c2"] and report.complete
    assert any(n.startswith("embedded twin (respx)") for n in report.notes)
    assert f"report: {out}" in capsys.readouterr().out


def test_error_stats_against_constant_and_per_value_truths() -> None:
    nominal = error_stats([10.5, 10.0, 11.0], 10.0)
    assert (nominal.p50_ms, nominal.err_p50_ms, nominal.n) == (10.5, 0.5, 3)
    paired = error_stats([12.0, 20.0, None], [11.0, 19.5, 3.0])
    assert paired.truth_ms is None and paired.n == 2
    assert paired.err_p50_ms == pytest.approx(0.75)
