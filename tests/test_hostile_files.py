"""Hostile files of issue 21, each with the exit status and the first line it must give, and
what must be left as it was: /dev/null still a device, a planted link's target untouched.

The commands run as subprocesses, each under a timeout (a FIFO must never hang
a run) and a 1 GiB address-space limit (/dev/zero must never fill the memory: a MemoryError is a
traceback, and fails the row). pytest's own options run in-process through pytester, as in
test_hostile_inputs.py. The tests run as root in CI, where replacing /dev/null is possible.
"""

from __future__ import annotations

import errno
import io
import json
import os
import resource
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from compare.conftest import make_report  # tests/ is on sys.path (rootdir-relative imports)
from test_hostile_inputs import QUICK_BENCH, SUITES, TIMEOUT_S, Case, _check

from harness import _files
from harness.bench.report import SampleLog, read_sample_log, sample_log_path, write_report
from harness.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
MEMORY_LIMIT = 1 << 30  # bytes of address space per command: /dev/zero read whole would exceed it
VICTIM_TEXT = "a file a planted link points at; nothing may write it\n"
DEVICE = r"it is a character device; outputs go to regular files or new paths"
LINK = r"it is a symbolic link \(a file the harness names itself is never written through a link\)"


@dataclass(frozen=True)
class FileCase(Case):
    env: tuple[tuple[str, str], ...] = ()
    untouched: tuple[str, ...] = ()  # victims (by fixture name) whose text must stay VICTIM_TEXT
    absent: tuple[str, ...] = ()  # paths that must not exist afterwards


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("hostile-files")
    os.mkfifo(root / "fifo.json")
    (root / "dir").mkdir()
    (root / "file").write_text("not a folder")
    write_report(make_report(1, n=20, levels=(1,), efficiency=False), root / "base.json", markdown=False)
    with open(root / "big.json", "wb") as handle:  # sparse: no disk, but over the limit
        handle.truncate(_files.DEFAULT_MAX_INPUT_BYTES + 1)
    (root / "null-link.json").symlink_to("/dev/null")
    (root / "fifo-dir").mkdir()
    os.mkfifo(root / "fifo-dir" / "replay.json")
    values = {"root": str(root), "fifo": str(root / "fifo.json"), "dir": str(root / "dir"),
              "file": str(root / "file"), "base": str(root / "base.json"), "big": str(root / "big.json"),
              "null_link": str(root / "null-link.json"), "fifo_dir": str(root / "fifo-dir"),
              "recordings": str(ROOT / "fixtures" / "real" / "errors")}
    for name in ("samples", "md", "learn_tmp"):
        victim = root / f"victim-{name}.txt"
        victim.write_text(VICTIM_TEXT)
        values[f"victim_{name}"] = str(victim)
    # links planted where the harness derives a name: the sample log, the .md, learn's old NAME.tmp
    (root / "planted-samples").mkdir()
    (root / "planted-samples" / "run.samples.jsonl").symlink_to(values["victim_samples"])
    (root / "planted-md").mkdir()
    (root / "planted-md" / "run.md").symlink_to(values["victim_md"])
    (root / "planted-learn").mkdir()
    (root / "planted-learn" / "proposal.json.tmp").symlink_to(values["victim_learn_tmp"])
    return values


CASES = [
    # /dev/null (and a link to it) as an output: refused, and still a character device afterwards
    FileCase(("compare", "{base}", "{base}", "--json", "/dev/null"), 2,
             rf"^glm-harness compare: error: argument --json: cannot write /dev/null: {DEVICE}$"),
    FileCase(("compare", "{base}", "{base}", "--markdown", "/dev/null"), 2, rf"argument --markdown: .*{DEVICE}"),
    FileCase(("learn", "{recordings}", "--out", "/dev/null"), 2,
             rf"^glm-harness learn: error: argument --out: cannot write /dev/null: {DEVICE}$"),
    FileCase(("bench", "--out", "/dev/null"), 2, r"argument --out: must end in \.json"),
    FileCase(("bench", *QUICK_BENCH, "--out", "{null_link}"), 2,
             rf"^glm-harness bench: error: argument --out: cannot write .*null-link.json: {DEVICE}$"),
    FileCase(("calibrate", "--out", "{null_link}"), 2, rf"argument --out: .*null-link.json: {DEVICE}"),
    FileCase(("summary", "{base}", "--markdown", "/dev/null"), 2, rf"argument --markdown: .*{DEVICE}"),
    # a FIFO or a directory as an output: one line, no hang
    FileCase(("compare", "{base}", "{base}", "--json", "{fifo}"), 2,
             r"argument --json: cannot write .*fifo.json: it is a FIFO; outputs go to regular files"),
    FileCase(("summary", "{base}", "--markdown", "{fifo}"), 2, r"argument --markdown: .*it is a FIFO"),
    FileCase(("learn", "{recordings}", "--out", "{fifo}"), 2, r"argument --out: .*it is a FIFO"),
    FileCase(("learn", "{recordings}", "--out", "{dir}"), 2, r"argument --out: cannot write .*dir: it is a directory"),
    FileCase(("bench", *QUICK_BENCH, "--out", "{fifo}"), 2, r"argument --out: .*it is a FIFO"),
    # a FIFO, /dev/zero or a directory as an input: one line, no hang, bounded memory
    FileCase(("compare", "{fifo}", "{base}"), 2,
             r"^glm-harness compare: error: .*fifo.json: is a FIFO, not a regular file$"),
    FileCase(("compare", "/dev/zero", "{base}"), 2,
             r"^glm-harness compare: error: /dev/zero: is a character device, not a regular file$"),
    FileCase(("compare", "{base}", "{base}", "--baseline", "/dev/zero"), 2, r"/dev/zero: is a character device"),
    FileCase(("plot", "{fifo}"), 2, r"fifo.json: is a FIFO, not a regular file$"),
    FileCase(("plot", "/dev/zero"), 2, r"/dev/zero: is a character device, not a regular file$"),
    FileCase(("summary", "/dev/zero"), 2, r"/dev/zero: is a character device, not a regular file$"),
    FileCase(("validate", "{fifo}"), 2, r"^glm-harness validate: error: .*fifo.json: is a FIFO, not a regular file$"),
    FileCase(("validate", "/dev/zero"), 2, r"^glm-harness validate: error: /dev/zero: is a character device"),
    FileCase(("learn", "{fifo}"), 2, r"^glm-harness learn: error: .*fifo.json: is a FIFO, not a regular file$"),
    FileCase(("learn", "/dev/zero"), 2, r"^glm-harness learn: error: /dev/zero: is a character device"),
    FileCase(("drift", "{recordings}", "--known", "{fifo}"), 2,
             r"^glm-harness drift: error: .*fifo.json: is a FIFO, not a regular file$"),
    FileCase(("drift", "{recordings}", "--known", "/dev/zero"), 2, r"/dev/zero: is a character device"),
    FileCase(("bench", "--requests", "2", "--concurrency", "1", "--tasks", "{fifo}", "--out",
              "{root}/tasks-fifo.json"), 2,
             r"^glm-harness bench: error: .*fifo.json: is a FIFO, not a regular file$",
             absent=("{root}/tasks-fifo.json", "{root}/tasks-fifo.samples.jsonl")),
    FileCase(("serve", "--port", "0", "--replay", "{fifo}"), 2,
             r"^glm-harness serve: error: .*fifo.json: is a FIFO, not a regular file$"),
    FileCase(("serve", "--port", "0", "--replay", "{fifo_dir}"), 2, r"replay.json: is a FIFO, not a regular file$"),
    FileCase(("serve", "--port", "0", "--replay", "/dev/zero"), 2, r"/dev/zero: is a character device"),
    FileCase(("plot", "{dir}"), 2, r"dir: is a directory, not a report$"),
    # an input over the limit: refused before it is read
    FileCase(("validate", "{big}"), 2, r"big.json: 268,435,457 bytes, over the input limit of 268,435,456 bytes "
                                       r"\(raise it with \$GLM_HARNESS_MAX_INPUT_BYTES\)$"),
    FileCase(("compare", "{big}", "{base}"), 2, r"big.json: 268,435,457 bytes, over the input limit"),
    FileCase(("compare", "{base}", "{base}"), 2, r"base.json: [\d,]+ bytes, over the input limit of 1,000 bytes",
             env=(("GLM_HARNESS_MAX_INPUT_BYTES", "1000"),)),
    FileCase(("compare", "{base}", "{base}"), 2, r"\$GLM_HARNESS_MAX_INPUT_BYTES: expected a size in bytes",
             env=(("GLM_HARNESS_MAX_INPUT_BYTES", "lots"),)),
    FileCase(("compare", "{base}", "{base}", "--fail-on", "none"), 0, r"", stream="out-any",
             env=(("GLM_HARNESS_MAX_INPUT_BYTES", "1G"),)),
    # links planted where the harness names a file itself: refused before the run, target untouched
    FileCase(("bench", *QUICK_BENCH, "--out", "{root}/planted-samples/run.json"), 2,
             rf"^glm-harness bench: error: cannot write .*run.samples.jsonl: {LINK}$",
             untouched=("victim_samples",), absent=("{root}/planted-samples/run.json",)),
    FileCase(("bench", *QUICK_BENCH, "--out", "{root}/planted-md/run.json"), 2,
             rf"^glm-harness bench: error: cannot write .*run.md: {LINK}$",
             untouched=("victim_md",), absent=("{root}/planted-md/run.json", "{root}/planted-md/run.samples.jsonl")),
    # learn used to write NAME.tmp, following a link planted there: now a random O_EXCL name
    FileCase(("learn", "{recordings}", "--out", "{root}/planted-learn/proposal.json"), 0,
             r"proposal.json: 0 field\(s\)", stream="out", untouched=("victim_learn_tmp",)),
    # base URLs that are not http(s)
    FileCase(("record", "--target", "live", "--base-url", "ftp://127.0.0.1/api"), 2,
             r"^glm-harness record: error: argument --base-url: expected an http\(s\) base URL, got 'ftp://127.0.0.1/api'$"),
    FileCase(("bench", "--target", "live", "--base-url", "file:///etc/passwd"), 2,
             r"argument --base-url: expected an http\(s\) base URL"),
    FileCase(("bench", "--target", "live", "--base-url", "127.0.0.1:8000"), 2,
             r"argument --base-url: expected an http\(s\) base URL"),
    FileCase(("bench", "--target", "live", "--base-url", "ftp://user:hunter2@127.0.0.1"), 2,
             r"expected an http\(s\) base URL, got 'ftp://\*\*\*@127.0.0.1'$"),
]


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _run(argv: list[str], env: dict[str, str], cwd: str | Path = ROOT) -> tuple[int, str, str, float]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "harness.cli", *argv], capture_output=True, text=True,
                            env=env, cwd=cwd, timeout=TIMEOUT_S, preexec_fn=_limited)
    return result.returncode, result.stdout, result.stderr, time.monotonic() - started


def _is_char_device(path: str) -> bool:
    return stat.S_ISCHR(os.stat(path).st_mode)


@pytest.mark.parametrize("case", CASES, ids=lambda c: " ".join(c.argv)[:80] + "".join(
    f" {k}={v}" for k, v in c.env))
def test_hostile_file(case: FileCase, places: dict[str, str]) -> None:
    env = {k: v for k, v in os.environ.items() if k != _files.MAX_INPUT_ENV} | dict(case.env)
    code, out, err, elapsed = _run([arg.format(**places) for arg in case.argv], env)
    assert elapsed < TIMEOUT_S
    if case.stream == "out-any":
        assert "Traceback" not in out + err and code == case.code, (code, out, err)
    else:
        _check(case, code, out, err)
    assert _is_char_device("/dev/null") and _is_char_device("/dev/zero")
    assert stat.S_ISFIFO(os.stat(places["fifo"]).st_mode)
    for victim in case.untouched:
        assert Path(places[victim]).read_text() == VICTIM_TEXT, victim
    for path in case.absent:
        assert not os.path.lexists(path.format(**places)), path


# -- pytest's own options: a usage error before any test runs --------------------------------------------
PYTEST_CASES = [
    Case(("--glm-report", "/dev/null"), 4, rf"^ERROR: --glm-report: cannot write /dev/null: {DEVICE}$"),
    Case(("--glm-report", "{null_link}"), 4, rf"^ERROR: --glm-report: cannot write .*null-link.json: {DEVICE}$"),
    Case(("--glm-report", "{fifo}"), 4, r"^ERROR: --glm-report: cannot write .*fifo.json: it is a FIFO"),
    Case(("--glm-record", "/dev/null"), 4,
         r"^ERROR: --glm-record: cannot write into /dev/null: it is not a directory$"),
    Case(("--glm-record", "{file}"), 4, r"^ERROR: --glm-record: cannot write into .*file: it is not a directory$"),
    Case(("--glm-record", "{file}/sub"), 4, r"^ERROR: --glm-record: cannot write under .*: .*file is not a directory$"),
    Case(("--glm-target", "live", "--glm-base-url", "ftp://127.0.0.1/api/paas/v4"), 4,
         r"^ERROR: --glm-base-url: expected an http\(s\) base URL, got 'ftp://127.0.0.1/api/paas/v4'$"),
    Case(("--glm-target", "live", "--glm-base-url", "127.0.0.1:8000/api/paas/v4"), 4,
         r"^ERROR: --glm-base-url: expected an http\(s\) base URL"),
]


def _pytest(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    started = time.monotonic()
    result = pytester.runpytest_inprocess(str(SUITES / "test_schemas.py"), "-q", "-p", "no:cacheprovider",
                                          *args)
    assert time.monotonic() - started < TIMEOUT_S
    return result


@pytest.mark.parametrize("case", PYTEST_CASES, ids=str)
def test_pytest_file_option(case: Case, places: dict[str, str], pytester: pytest.Pytester) -> None:
    result = _pytest(pytester, *(arg.format(**places) for arg in case.argv))
    _check(case, int(result.ret), "\n".join(result.outlines), "\n".join(result.errlines) + "\n")
    assert not any("passed" in line or "failed" in line for line in result.outlines)
    assert _is_char_device("/dev/null")


def test_report_env_of_dev_null_is_a_usage_error(pytester: pytest.Pytester,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`GLM_HARNESS_REPORT=/dev/null pytest`, as root, replaced /dev/null with a regular file."""
    monkeypatch.setenv("GLM_HARNESS_REPORT", "/dev/null")
    result = _pytest(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.errlines[0] == f"ERROR: --glm-report: cannot write /dev/null: {DEVICE}"
    assert _is_char_device("/dev/null")


def test_report_written_over_a_regular_file_and_through_no_fixed_name(pytester: pytest.Pytester,
                                                                      tmp_path: Path) -> None:
    report = tmp_path / "contract.json"
    report.write_text("old")
    (tmp_path / "contract.json.tmp").symlink_to(tmp_path / "victim")
    result = _pytest(pytester, "--glm-report", str(report), "-k", "plain_completion_conforms")
    assert result.ret == 0
    assert json.loads(report.read_text())["kind"] == "contract"
    assert not (tmp_path / "victim").exists() and sorted(p.name for p in tmp_path.iterdir()) == [
        "contract.json", "contract.json.tmp"]


# -- the writer and the reader themselves --------------------------------------------------------------
def test_write_atomic_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    for name, kind in (("fifo", "a FIFO"), ("dir", "a directory")):
        with pytest.raises(_files.FileRefused, match=f"it is {kind}"):
            _files.write_atomic(tmp_path / name, "x")
    with pytest.raises(_files.FileRefused, match="it is a symbolic link"):
        _files.write_atomic(tmp_path / "link", "x", named=False)
    assert not (tmp_path / "target").exists()
    _files.write_atomic(tmp_path / "link", "x")  # a link the user named is replaced, not followed
    assert not (tmp_path / "target").exists() and (tmp_path / "link").read_text() == "x"
    assert not (tmp_path / "link").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "fifo", "link"]  # no temporary left


def test_write_atomic_temporaries_are_new_random_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    real = _files.tempfile.mkstemp

    def spy(**kwargs: Any) -> tuple[int, str]:
        fd, name = real(**kwargs)
        made.append(name)
        return fd, name

    monkeypatch.setattr(_files.tempfile, "mkstemp", spy)
    for _ in range(2):
        _files.write_atomic(tmp_path / "out.json", "x")
    assert len(set(made)) == 2 and all(Path(n).parent == tmp_path for n in made)


def test_write_new_never_replaces(tmp_path: Path) -> None:
    names = [tmp_path / "a.json", tmp_path / "a-2.json"]
    (tmp_path / "a.json").symlink_to(tmp_path / "victim")
    assert _files.write_new(names, "one") == tmp_path / "a-2.json"
    assert not (tmp_path / "victim").exists()
    with pytest.raises(FileExistsError):
        _files.write_new(names, "two")
    assert (tmp_path / "a-2.json").read_text() == "one"


def test_open_log_refuses_a_fifo_without_blocking_and_a_hard_link(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "log")
    with pytest.raises(_files.FileRefused, match="it is a FIFO"):
        _files.open_log(tmp_path / "log")
    (tmp_path / "victim").write_text(VICTIM_TEXT)
    os.link(tmp_path / "victim", tmp_path / "linked.samples.jsonl")
    with pytest.raises(_files.FileRefused, match="it has 1 other hard link"):
        _files.open_log(tmp_path / "linked.samples.jsonl")
    assert (tmp_path / "victim").read_text() == VICTIM_TEXT


def test_read_input_refuses_and_bounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "small").write_bytes(b"12345")
    assert _files.read_input(tmp_path / "small", limit=5) == b"12345"
    with pytest.raises(_files.FileRefused, match="5 bytes, over the input limit of 4 bytes"):
        _files.read_input(tmp_path / "small", limit=4)
    with pytest.raises(_files.FileRefused, match=r"more than the input limit of 100 bytes"):
        _files.read_input("/proc/self/maps", limit=100)  # sized 0 by stat, longer when read
    with pytest.raises(_files.FileRefused, match="no such file"):
        _files.read_input(tmp_path / "missing")
    monkeypatch.setenv(_files.MAX_INPUT_ENV, "2K")
    assert _files.input_limit() == 2048
    monkeypatch.setenv(_files.MAX_INPUT_ENV, "0")
    with pytest.raises(UsageError, match="expected a size"):
        _files.input_limit()


# -- two runs started in the same second --------------------------------------------------------------
SAME_NAME = ("import sys; from pathlib import Path; import harness.bench.commands as c; "
             "c._default_out = lambda model, target: Path('reports/bench-same.json'); "
             "from harness.cli import main; sys.exit(main(sys.argv[1:]))")


def test_two_runs_started_at_once_never_share_a_default_name(tmp_path: Path) -> None:
    """Both runs get the same default name (as two runs in one second did): each claims it with
    O_EXCL, one gets `-2`; both reports and both sample logs are whole."""
    argv = [sys.executable, "-c", SAME_NAME, "bench", "--requests", "6", "--concurrency", "2",
            "--tasks", "none", "--no-progress", "--ttft-ms", "20", "--itl-ms", "2"]
    runs = [subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}) for _ in range(2)]
    outputs = [run.communicate(timeout=TIMEOUT_S) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    reports = sorted((tmp_path / "reports").glob("*.json"))
    assert [p.name for p in reports] == ["bench-same-2.json", "bench-same.json"], outputs
    for report in reports:
        header, samples = read_sample_log(sample_log_path(report))
        data = json.loads(report.read_text())
        assert header["kind"] == "glm-harness.bench.samples"
        assert sorted(s.index for s in samples) == sorted(s["index"] for s in data["samples"])
        assert data["sample_log"].endswith(sample_log_path(report).name)
        assert report.with_suffix(".md").is_file()


def test_a_default_name_taken_by_a_link_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.bench import commands

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(commands, "_default_out", lambda model, target: Path("reports/bench-x.json"))
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "bench-x.samples.jsonl").symlink_to(tmp_path / "victim")
    assert commands._claim_default_out("glm-4.6", "mock") == Path("reports/bench-x-2.json")
    assert commands._claim_default_out("glm-4.6", "mock") == Path("reports/bench-x-3.json")
    assert not (tmp_path / "victim").exists()


# -- the sample log on a full disk ----------------------------------------------------------------------
class _FullDisk(io.StringIO):
    """A log file that takes its header, then fails every write as a full disk does."""

    def __init__(self, after: int = 1) -> None:
        super().__init__()
        self.left = after
        self.disk = tempfile.TemporaryFile()  # noqa: SIM115 - something to fsync; closed in close()

    def write(self, text: str) -> int:
        if self.left <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.left -= 1
        return super().write(text)

    def fileno(self) -> int:
        return self.disk.fileno()

    def close(self) -> None:
        self.disk.close()
        super().close()


def _full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.bench.report as report

    monkeypatch.setattr(report, "open_log", lambda path: _FullDisk())


def test_a_failed_sample_write_is_kept_not_dropped_silently(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            small_samples: Callable[[], list[Any]]) -> None:
    _full_disk(monkeypatch)
    log = SampleLog(tmp_path / "x.samples.jsonl", {"meta": {}})
    for sample in small_samples():
        log.write(sample)
    log.close()
    assert log.failure is not None and "stopped after 0 sample(s): No space left on device" in log.failure


def test_bench_fails_when_its_sample_log_cannot_be_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    _full_disk(monkeypatch)
    out = tmp_path / "full.json"
    code = main(["bench", "--requests", "3", "--concurrency", "1", "--tasks", "none", "--no-progress",
                 "--ttft-ms", "1", "--itl-ms", "0", "--out", str(out)])
    _, err = capsys.readouterr()
    assert code == 2, err
    assert err.splitlines() == [f"glm-harness bench: error: the sample log {sample_log_path(out)} stopped after "
                                "0 sample(s): No space left on device; the report holds every sample"]
    report = json.loads(out.read_text())
    assert len(report["samples"]) == 4  # 1 warm-up + 3 measured: none lost
    assert any("stopped after 0 sample(s)" in note for note in report["notes"])


@pytest.fixture
def small_samples() -> Callable[[], list[Any]]:
    def make() -> list[Any]:
        return list(make_report(1, n=5, levels=(1,), efficiency=False).samples)

    return make
