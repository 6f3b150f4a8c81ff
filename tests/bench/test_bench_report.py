"""The report: schema export and round trip, atomic writes, and a sample log that survives kills."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.bench import report as report_module
from harness.bench.report import (
    REPORT_SCHEMA_VERSION,
    SCHEMA_FILENAME,
    BenchReport,
    SampleLog,
    export_report_schema,
    load_report,
    read_sample_log,
    report_json_schema,
    sample_log_path,
    validate_report_data,
    write_report,
)
from harness.bench.session import BenchConfig, run_session
from harness.bench.tasks import load_task_set
from harness.mock import GLMTwin, Style, Timing, TwinConfig, twin_router
from harness.targets import MOCK_BASE_URL, mock_target

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One short run on the in-process twin: two latency levels and the default task set."""
    out = tmp_path_factory.mktemp("run") / "small.json"
    twin = GLMTwin(TwinConfig(timing=Timing(ttft_ms=3, itl_ms=0.3, jitter=0.2),
                              style=Style(reply_tokens=8, reasoning_tokens=4)))
    config = BenchConfig(concurrency=(1, 3), requests=4, task_set=load_task_set("default"),
                         progress=False)
    with twin_router(twin, base_url=MOCK_BASE_URL):
        result = asyncio.run(run_session(mock_target(), config, out, ["embedded twin (test)"]))
    assert result.exit_code == 0
    return out


def test_report_round_trips_through_its_schema(small_run: Path) -> None:
    data = json.loads(small_run.read_bytes())
    report = load_report(small_run)
    assert report.model_dump(mode="json") == data
    assert report.schema_version == REPORT_SCHEMA_VERSION and report.kind == "glm-harness.bench"
    assert report.complete and report.stopped is None


def test_report_records_what_a_comparison_needs(small_run: Path) -> None:
    report = load_report(small_run)
    meta = report.meta
    assert (meta.target, meta.model, meta.base_url) == ("mock", "glm-4.6", MOCK_BASE_URL)
    assert meta.harness_version and meta.python and meta.host and meta.started_at and meta.ended_at
    assert meta.options["concurrency"] == [1, 3] and meta.options["task_set"] == "default"
    assert report.task_set is not None and report.task_set.name == "default"
    assert report.task_set.task_ids == load_task_set("default").ids
    latency = [lv for lv in report.levels if lv.kind == "latency"]
    assert [lv.name for lv in latency] == ["c1", "c3"]
    for level in latency:
        assert level.succeeded == 4 and level.warmup == level.concurrency
        assert len(level.samples.ttft_ms) == 4 and len(level.samples.e2e_ms) == 4
        assert level.samples.itl_chunk_ms and level.samples.tpot_ms and level.samples.itl_token_ms
        assert level.summaries["ttft_ms"].n == 4 and level.summaries["ttft_ms"].ci95_mean
        assert level.requests_per_s and level.output_tokens_per_s and level.health is not None
    assert {d.name for d in report.definitions} >= {"ttft_ms", "itl_chunk_ms", "tpot_ms", "e2e_ms"}
    assert {s.token_source for s in report.samples if s.ok} == {"usage"}  # the twin always sends usage
    assert {s.reasoning_source for s in report.samples if s.ok} == {"usage"}  # glm-4.6 reports them since 2026
    assert "estimate" in report.token_accounting.reasoning_split
    assert report.efficiency is not None and len(report.efficiency.rows) == 14
    phases = {s.phase for s in report.samples}
    assert phases == {"warmup", "measure", "task"}
    first = next(s for s in report.samples if s.phase == "measure")
    assert first.chunk_ms and len(first.chunk_ms) == len(first.chunk_kinds)
    assert first.first_byte_ms is not None and first.end_ms is not None


def test_markdown_summary_states_formulas_next_to_figures(small_run: Path) -> None:
    text = small_run.with_suffix(".md").read_text()
    assert "| ttft_ms | t(first chunk with reasoning, content or tool-call delta) - t(sent) |" in text
    assert "| itl_chunk_ms |" in text and "| chunks |" in text and "| usage tokens |" in text
    assert "Token efficiency" in text and "as of 2026-07-31" in text
    assert "embedded twin (test)" in text


def test_sample_log_has_every_sample(small_run: Path) -> None:
    header, samples = read_sample_log(sample_log_path(small_run))
    assert header["kind"] == "glm-harness.bench.samples"
    assert header["schema_version"] == REPORT_SCHEMA_VERSION
    assert header["meta"]["model"] == "glm-4.6"
    report = load_report(small_run)
    assert sorted(s.index for s in samples) == [s.index for s in report.samples]


def test_exported_schema_matches_the_model(tmp_path: Path) -> None:
    path = export_report_schema(tmp_path)
    assert path.name == SCHEMA_FILENAME
    schema = json.loads(path.read_text())
    assert schema == report_json_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    assert REPORT_SCHEMA_VERSION in schema["properties"]["schema_version"]["enum"]


def test_the_committed_schema_is_current() -> None:
    committed = REPO / "fixtures" / "schemas" / SCHEMA_FILENAME
    assert json.loads(committed.read_text()) == report_json_schema(), (
        "regenerate: python -c 'from harness.bench import export_report_schema; "
        "export_report_schema(\"fixtures/schemas\")'")


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")
def test_invalid_reports_are_refused(small_run: Path, tmp_path: Path) -> None:
    data = json.loads(small_run.read_bytes())
    level = {**data["levels"][0], "concurrency": "many"}
    for broken, where, message in (
            ({**data, "schema_version": "2.0"}, "schema_version", '"2.0" is not one of'),
            ({k: v for k, v in data.items() if k != "meta"}, "$", '"meta" is a required property'),
            ({**data, "levels": [level]}, "levels/0/concurrency", '"many" is not of type "integer"')):
        with pytest.raises(ValueError) as refused:
            validate_report_data(broken)
        assert str(refused.value).startswith(f"report does not match its schema at {where}: {message}")
    report = BenchReport.model_validate(data)
    report.levels[0].concurrency = "many"  # type: ignore[assignment]
    with pytest.raises(ValueError):
        write_report(report, tmp_path / "never.json")
    assert not (tmp_path / "never.json").exists()


def test_write_is_atomic(small_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = load_report(small_run)
    target = tmp_path / "report.json"
    write_report(report, target)
    before = target.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(report_module.os, "replace", broken_replace)
    report.notes.append("changed")
    with pytest.raises(OSError, match="disk full"):
        write_report(report, target)
    assert target.read_bytes() == before  # the old report, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "report.md"]  # no temp left


def test_torn_last_line_is_skipped(small_run: Path, tmp_path: Path) -> None:
    log = tmp_path / "x.samples.jsonl"
    _, samples = read_sample_log(sample_log_path(small_run))
    with SampleLog(log, {"meta": {}}) as writer:
        for sample in samples[:3]:
            writer.write(sample)
    with open(log, "a") as handle:
        handle.write(samples[3].model_dump_json()[:40])  # killed mid-write
    _, read = read_sample_log(log)
    assert [s.index for s in read] == [s.index for s in samples[:3]]


# Ctrl-C reaches a job in the foreground. A job that a non-interactive shell started in the
# background (`pytest &` in a script) has SIGINT ignored, as POSIX says, and its children inherit
# that: the run is started with Python's own SIGINT handler, as in a terminal.
_IN_THE_FOREGROUND = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
                      "runpy.run_module('harness.cli', run_name='__main__', alter_sys=True)")


def _start_long_run(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    out = tmp_path / "long.json"
    command = [sys.executable, "-c", _IN_THE_FOREGROUND, "bench", "--concurrency", "2",
               "--requests", "2000", "--tasks", "none", "--ttft-ms", "5", "--itl-ms", "0.5",
               "--jitter", "0", "--no-progress", "--out", str(out)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return process, out


def _wait_for_samples(process: subprocess.Popen[bytes], log: Path, count: int) -> None:
    deadline = time.monotonic() + 120  # a guard against hanging, not a performance assertion
    while time.monotonic() < deadline:
        if log.exists() and len(log.read_text().splitlines()) > count:
            return
        if process.poll() is not None:
            pytest.fail(f"the run ended early: {process.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
        time.sleep(0.05)
    process.kill()
    pytest.fail("no samples were logged")


def test_sigkill_leaves_the_samples_so_far_readable(tmp_path: Path) -> None:
    process, out = _start_long_run(tmp_path)
    log = sample_log_path(out)
    _wait_for_samples(process, log, 5)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    header, samples = read_sample_log(log)
    assert header["meta"]["target"] == "mock"
    assert len(samples) >= 5
    assert all(s.phase in ("warmup", "measure") for s in samples)
    assert any(s.ok and s.ttft_ms is not None for s in samples)
    assert not out.exists()  # never finished; the JSONL is the record


def test_sigint_writes_a_partial_but_valid_report(tmp_path: Path) -> None:
    process, out = _start_long_run(tmp_path)
    log = sample_log_path(out)
    _wait_for_samples(process, log, 5)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130
    assert b"Traceback" not in process.stderr.read()  # type: ignore[union-attr]
    report = load_report(out)
    assert not report.complete and any("interrupted" in n for n in report.notes)
    assert report.levels and report.levels[0].interrupted
    _, logged = read_sample_log(log)
    assert sorted(s.index for s in logged) == [s.index for s in report.samples]


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_sigterm_is_handled_like_sigint_but_exits_143(tmp_path: Path) -> None:
    process, out = _start_long_run(tmp_path)
    _wait_for_samples(process, sample_log_path(out), 3)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 143  # 128 + SIGTERM, as shells report it
    assert not load_report(out).complete
