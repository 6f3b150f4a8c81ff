"""No file the harness writes holds the API key: contract outcome reports, JUnit XML, transcripts
(from `glm-harness record` and from `pytest --record`), bench reports and their sample logs, and
the logs of each run.

A planted key is put in $ZAI_API_KEY and really sent: the outputs are produced against an HTTP
twin that accepts exactly that key (`--glm-target live --glm-base-url <twin>`), and the twin's request log
proves it arrived. Every file under the output folder is then searched for the key and for its
secret half. The last test turns the scrubber off and shows that the same search finds the key:
this test can fail.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import scrub
from harness.mock import FaultSpec, GLMTwin, KeyState, TwinConfig
from harness.mock.faults import Fault
from harness.mock.server import running_twin
from harness.record import add_record_arguments, run_record

PLANTED = "glm-test-PLANTED-0123456789abcdef.Pl4ntedS3cretHalf9xyz"
NEEDLES = (PLANTED.encode(), PLANTED.split(".")[1].encode())
SUITES = Path(__file__).resolve().parents[1] / "suites" / "contract"
# completions that fail (the twin drops `usage`: failure messages with curl lines land in the
# report and the JUnit XML), rejected keys that pass, an echoed request_id
SELECTION = ("test_stream_conforms or test_plain_completion_conforms or echoes_model_and_request_id "
             "or test_bad_key_is_401")


@pytest.fixture(scope="module")
def twin_url() -> Iterator[tuple[str, GLMTwin]]:
    keys = {PLANTED: KeyState.ACTIVE}
    faults = (FaultSpec(Fault.MISSING_USAGE),)
    with running_twin(GLMTwin(TwinConfig(keys=keys, faults=faults))) as running:
        yield running.base_url, running.twin


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ZAI_API_KEY", PLANTED)
    return PLANTED


def leaks(folder: Path) -> list[str]:
    """`file: needle` for every file under `folder` that holds the key or its secret half."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{path.relative_to(folder)}: {n.decode()}" for n in NEEDLES if n in data]
    return found


def assert_no_leak(folder: Path) -> None:
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files, f"nothing was written under {folder}"
    found = leaks(folder)
    assert not found, "the planted key leaked into:\n" + "\n".join(found)


def write_log(path: Path, *texts: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(texts), encoding="utf-8")


# -- producers: each writes everything one kind of run writes, its console output included ------
def contract_run(pytester: pytest.Pytester, out: Path, base_url: str) -> pytest.RunResult:
    result = pytester.runpytest_inprocess(
        str(SUITES / "test_schemas.py"), str(SUITES / "test_streaming.py"), str(SUITES / "test_errors.py"),
        "-k", SELECTION, "-p", "no:cacheprovider", "-v",
        "--glm-target", "live", "--glm-base-url", base_url,
        "--glm-report", str(out / "report.json"), "--junitxml", str(out / "junit.xml"),
        "--glm-record", str(out / "pytest-transcripts"), "--glm-record-sensitive", "request_id",
        "--log-file", str(out / "pytest-debug.log"), "--log-file-level", "DEBUG")
    write_log(out / "pytest-console.log", *result.outlines, *result.errlines)
    return result


def record_run(capsys: pytest.CaptureFixture[str], out: Path, base_url: str) -> int:
    args = add_record_arguments(argparse.ArgumentParser()).parse_args([
        "--target", "live", "--base-url", base_url, "--out", str(out / "transcripts"),
        "--scenario", "all", "--sensitive", "user_id,request_id",
        "--user-id", "customer-0042", "--request-id", "ticket-7781"])
    code = run_record(args)
    captured = capsys.readouterr()
    write_log(out / "record-console.log", captured.out, captured.err)
    return code


# -- the checks ----------------------------------------------------------------------------------
def test_contract_report_junit_pytest_transcripts_and_logs_hold_no_key(
        pytester: pytest.Pytester, tmp_path: Path, planted: str, twin_url: tuple[str, GLMTwin],
        caplog: pytest.LogCaptureFixture) -> None:
    base_url, twin = twin_url
    caplog.set_level(logging.DEBUG)
    result = contract_run(pytester, tmp_path, base_url)
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 3 and outcomes.get("failed", 0) >= 1, result.outlines[-1]
    write_log(tmp_path / "caplog.log", caplog.text)
    for name in ("report.json", "junit.xml", "pytest-debug.log"):
        assert (tmp_path / name).exists(), name
    assert "reproduce: curl" in (tmp_path / "junit.xml").read_text()
    assert any(f"Bearer {planted}" in r.headers.get("authorization", "") for r in twin.requests), (
        "the planted key must really have been sent, or this test proves nothing")
    assert_no_leak(tmp_path)


def test_record_command_transcripts_and_output_hold_no_key(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, planted: str, twin_url: tuple[str, GLMTwin]) -> None:
    base_url, _ = twin_url
    assert record_run(capsys, tmp_path, base_url) == 0
    text = "".join(p.read_text() for p in (tmp_path / "transcripts").iterdir())
    assert "customer-0042" not in text and "ticket-7781" not in text, "marked fields must go too"
    assert_no_leak(tmp_path)


def test_bench_report_sample_log_and_output_hold_no_key(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, planted: str, twin_url: tuple[str, GLMTwin]) -> None:
    try:
        from harness.bench import commands
    except ImportError as error:
        pytest.skip(f"harness.bench.commands is not available: {error}")
    base_url, _ = twin_url
    args = commands.add_bench_arguments(argparse.ArgumentParser()).parse_args([
        "--target", "live", "--base-url", base_url, "--concurrency", "1", "--requests", "2",
        "--warmup", "0", "--tasks", "none", "--no-progress", "--max-retries", "0",
        "--out", str(tmp_path / "bench" / "bench.json")])
    code = commands.run_bench(args)
    captured = capsys.readouterr()
    write_log(tmp_path / "bench-console.log", captured.out, captured.err)
    assert code in (0, 1), captured.err
    assert (tmp_path / "bench" / "bench.json").exists()
    assert_no_leak(tmp_path)


def test_with_the_scrubber_off_the_same_scan_finds_the_key(
        pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], tmp_path: Path, planted: str,
        twin_url: tuple[str, GLMTwin]) -> None:
    base_url, _ = twin_url
    with scrub.disabled():
        record_run(capsys, tmp_path / "record", base_url)
        contract_run(pytester, tmp_path / "contract", base_url)
    assert scrub.ENABLED
    found = leaks(tmp_path)
    assert any(f.startswith("record/transcripts/") for f in found), found
    assert any(f.startswith("contract/pytest-transcripts/") for f in found), found
    with pytest.raises(AssertionError, match="leaked"):
        assert_no_leak(tmp_path)
