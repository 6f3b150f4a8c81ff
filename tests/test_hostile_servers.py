"""Hostile servers of issue 21, each a row: the command pointed at it, the exit status, the line
it must print, and the peak memory of the process that read the answer.

The servers (tests/hostile_servers.py) are raw sockets on 127.0.0.1: a gzip bomb (1 MB that
inflates to 1 GiB), an SSE line that never ends, a stream that never ends, a stream that
trickles a byte a second, 100 Continue forever, silence, and 1xx answers before a real stream.
The suites, `bench` and `record` run as subprocesses, their peak RSS taken by a wrapper from
/proc/self/status (VmHWM) at exit; every run is bounded by a generous hang guard, never timed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hostile_servers import MODES, gzip_bomb, real_stream, serving

from harness import _settings
from harness.client import AsyncGLMClient, GLMClient
from harness.errors import ResponseLimitError
from harness.limits import (
    DEFAULT_DEADLINE_S,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_EVENT_BYTES,
    BoundedBody,
    ResponseLimits,
    time_bounded,
)
from harness.sse import SSEDecoder
from harness.targets import live_target

ROOT = Path(__file__).resolve().parents[1]
GUARD_S = 90  # a hang guard, not a speed limit
PEAK_MB = 300  # the whole process, interpreter and harness included (1-6 GB before issue 21)
KEY = "hostile-id.hostile-secret-0123456789"
SCHEMAS = "suites/contract/test_schemas.py::test_plain_completion_conforms"
STREAMING = "suites/contract/test_streaming.py::test_stream_conforms"
# Runs a module as `python -m` would, then writes the process's own peak RSS (KiB) to a file: VmHWM,
# the high-water mark of this process's memory. Not getrusage's ru_maxrss: Linux carries that over
# exec from the parent, so a child of a big pytest worker would report the worker's size.
PEAK = ("import atexit, os, re, runpy, sys\n"
        "def peak():\n"
        "    status = open('/proc/self/status').read()\n"
        "    open(os.environ['GLM_PEAK_FILE'], 'w').write(re.search(r'VmHWM:\\s+(\\d+) kB', status)[1])\n"
        "atexit.register(peak)\n"
        "sys.argv = sys.argv[1:]\n"
        "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n")

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux: /proc, signals")


@dataclass(frozen=True)
class Row:
    mode: str  # the server (tests/hostile_servers.py)
    argv: tuple[str, ...]  # `python -m` and its arguments; {url} is the server's base URL
    code: int
    line: str  # a regex one line of stdout or stderr must match
    peak_mb: int = PEAK_MB

    def __str__(self) -> str:
        return f"{self.mode}: {' '.join(self.argv)[:70]}"


def _suite(test: str, *options: str) -> tuple[str, ...]:
    return ("pytest", test, "-q", "-n", "0", "-p", "no:cacheprovider", "--glm-target", "live",
            "--glm-base-url", "{url}", *options)


def _bench(*options: str) -> tuple[str, ...]:
    return ("harness.cli", "bench", "--target", "live", "--base-url", "{url}", "--requests", "2",
            "--concurrency", "1", "--warmup", "0", "--tasks", "none", "--workers", "1",
            "--out", "{tmp}/bench.json", *options)


def _record(scenario: str) -> tuple[str, ...]:
    return ("harness.cli", "record", "--target", "live", "--base-url", "{url}", "--scenario", scenario,
            "--out", "{tmp}/transcripts")


TOO_LARGE = (r"\[transport_completed\] body: expected a body within the size limit, decompressed "
             r"\(--glm-max-body-bytes\); got ResponseTooLarge: the body passed 67,108,864 bytes "
             r"\(decompressed\); reading stopped there")
LINE_TOO_LONG = (r"\[transport_completed\] stream: expected SSE lines and events within the size limit "
                 r"\(--glm-max-event-bytes\); got EventTooLarge: an SSE line passed 8,388,608 bytes; "
                 r"reading stopped there")
LATE = (r"\[transport_completed\] connection: expected the whole answer within the total deadline "
        r"\(--glm-deadline\); got DeadlineExceeded: the answer was not complete 3 s after the request was sent")

ROWS = [
    # the suites: each bound a named check failure, with its exact message
    Row("gzip_bomb", _suite(SCHEMAS), 1, TOO_LARGE),
    Row("endless_line", _suite(STREAMING), 1, LINE_TOO_LONG),
    Row("endless_stream", _suite(STREAMING, "--glm-max-body-bytes", "16M"), 1,
        r"got ResponseTooLarge: the body passed 16,777,216 bytes \(decompressed\)"),
    Row("trickle", _suite(STREAMING, "--glm-deadline", "3"), 1, LATE + r" \(\d+ body bytes had come\)"),
    Row("endless_1xx", _suite(STREAMING, "--glm-deadline", "3"), 1, LATE + r" \(0 body bytes had come\)"),
    # bench: the same bounds as failed samples; a hung target is given up on, with progress lines
    Row("gzip_bomb", _bench(), 1, r"^FAILED: c1: 0 of 2 requests succeeded \(transport x2\)"),
    Row("endless_line", _bench(), 1, r"^FAILED: c1: 0 of 2 requests succeeded \(transport x2\)"),
    Row("endless_stream", _bench(), 1, r"^FAILED: c1: 0 of 2 requests succeeded \(transport x2\)"),
    Row("trickle", _bench("--timeout", "3"), 1, r"^FAILED: c1: 0 of 2 requests succeeded \(timeout x2\)"),
    Row("endless_1xx", _bench("--timeout", "3"), 1, r"^FAILED: c1: 0 of 2 requests succeeded \(timeout x2\)"),
    Row("silent", _bench("--timeout", "1", "--requests", "5"), 1,
        r"^glm-harness bench: stopped: http://127\.0\.0\.1:\d+/api/paas/v4 has not answered 3 requests in a "
        r"row within 1 s \(--timeout\); taken as hung, not waited on again$"),
    Row("silent", _bench("--timeout", "1", "--requests", "5"), 1, r"^c1: started, 5 requests$"),
    Row("interim_then_stream", _bench(), 0, r"^  c1: 2/2 ok, p50 TTFT"),
    # record: the exchange is saved, the bound named in it
    Row("gzip_bomb", _record("simple"), 1, r"^simple: HTTP 200, then ResponseTooLarge: the body passed 67,108,864"),
    Row("endless_line", _record("stream"), 1, r"^stream: HTTP 200, then EventTooLarge: an SSE line passed 8,388,608"),
]


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    gzip_bomb()  # built once, before any row's clock starts
    urls: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        for mode in MODES:
            urls[mode] = stack.enter_context(serving(mode))
        yield urls


def _run(argv: tuple[str, ...], values: dict[str, str], tmp: Path) -> tuple[int, str, str, int]:
    """Exit status, stdout, stderr and peak RSS (MB) of `python -m argv...`."""
    peak = tmp / "peak"
    env = {**os.environ, "ZAI_API_KEY": KEY, "GLM_PEAK_FILE": str(peak)}
    env.pop("PYTEST_XDIST_WORKER", None)
    args = [arg.format(**values, tmp=tmp) for arg in argv]
    done = subprocess.run([sys.executable, "-c", PEAK, *args], capture_output=True, text=True,
                          timeout=GUARD_S, cwd=ROOT, env=env)
    return done.returncode, done.stdout, done.stderr, int(peak.read_text()) // 1024


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_a_hostile_server_costs_bounded_memory_and_time(row: Row, servers: dict[str, str],
                                                        tmp_path: Path) -> None:
    code, out, err, peak_mb = _run(row.argv, {"url": servers[row.mode]}, tmp_path)
    assert "Traceback" not in out + err and "INTERNALERROR" not in out, out[-3000:] + err[-3000:]
    assert code == row.code, (code, out[-3000:], err[-3000:])
    lines = [line.strip() if row.argv[0] == "pytest" else line for line in (out + err).splitlines()]
    assert any(re.search(row.line, line) for line in lines), (row.line, out[-3000:], err[-3000:])
    assert peak_mb < row.peak_mb, f"peak RSS {peak_mb} MB"
    assert KEY not in out + err


# -- the reading layer itself ------------------------------------------------------------------------
def test_the_documented_defaults_are_the_readers_defaults() -> None:
    assert ResponseLimits() == ResponseLimits(DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_EVENT_BYTES, DEFAULT_DEADLINE_S)
    assert (_settings.DEFAULT_MAX_BODY_BYTES, _settings.DEFAULT_MAX_EVENT_BYTES, _settings.DEFAULT_DEADLINE_S) == (
        DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_EVENT_BYTES, DEFAULT_DEADLINE_S)
    readme = (ROOT / "README.md").read_text()
    assert "64 MiB" in readme and "8 MiB" in readme and "300 s" in readme


def test_both_clients_take_the_deadline_into_their_connections() -> None:
    """`bound_time` reaches into httpx's pools: an httpx release that moves them fails here."""
    target = live_target("http://127.0.0.1:9/api/paas/v4", "glm-4.6", "NO_SUCH_KEY_VAR")
    with GLMClient(target) as client:
        assert time_bounded(client._http)
    assert time_bounded(AsyncGLMClient(target)._http)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "x-gzip"])
def test_a_compressed_body_inflates_only_up_to_the_limit(encoding: str) -> None:
    import zlib

    wbits = {"gzip": 31, "x-gzip": 31, "deflate": 15}[encoding]
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    bomb = packer.compress(bytes(8 << 20)) + packer.flush()
    body = BoundedBody(encoding, max_bytes=1 << 20)
    with pytest.raises(ResponseLimitError, match=r"ResponseTooLarge: the body passed 1,048,576 bytes"):
        for start in range(0, len(bomb), 4096):
            assert len(body.feed(bomb[start:start + 4096])) <= (1 << 20) + 1
    fine = BoundedBody(encoding, max_bytes=1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    assert fine.feed(packer.compress(b'{"ok": true}') + packer.flush()) == b'{"ok": true}'


def test_raw_deflate_as_servers_send_it_is_read_too() -> None:
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    assert BoundedBody("deflate").feed(packer.compress(b"hello") + packer.flush()) == b"hello"


@pytest.mark.parametrize(("feed", "message"), [
    ([b"data: " + b"x" * 2000], "an SSE line passed 1,024 bytes"),
    ([b"data: 123456789\n" * 300], "an SSE event's data passed 1,024 characters"),
    ([b"data: " + b"x" * 700 + b"\n", b"data: " + b"x" * 700 + b"\n"], "an SSE event's data passed 1,024 characters"),
    ([b"data: " + b"x" * 2000 + b"\n\n"], "an SSE event's data passed 1,024 characters"),
])
def test_the_decoder_drops_what_it_held_and_stops_at_its_bound(feed: list[bytes], message: str) -> None:
    decoder = SSEDecoder(max_event_bytes=1024)
    with pytest.raises(ResponseLimitError, match=message):
        for piece in feed:
            decoder.feed(piece)
    assert decoder.close() == [] and not decoder.violations


def test_the_decoder_without_a_bound_and_well_within_it_decodes_the_same() -> None:
    data = real_stream()
    pieces = [data[i:i + 100] for i in range(0, len(data), 100)]
    bounded, unbounded = SSEDecoder(max_event_bytes=4096), SSEDecoder()
    assert ([e for p in pieces for e in bounded.feed(p)] + bounded.close()
            == [e for p in pieces for e in unbounded.feed(p)] + unbounded.close())


def test_the_async_client_keeps_the_deadline_against_endless_1xx(servers: dict[str, str]) -> None:
    target = live_target(servers["endless_1xx"], "glm-4.6", "NO_SUCH_KEY_VAR")

    async def send() -> str:
        async with AsyncGLMClient(target, timeout=httpx.Timeout(10.0),
                                  limits=ResponseLimits(deadline_s=1.5)) as client:
            exchange = await client.send({"messages": [{"role": "user", "content": "hi"}], "stream": True})
        return str(exchange.transport_error)

    started = time.monotonic()
    assert asyncio.run(send()).startswith("DeadlineExceeded: the answer was not complete 1.5 s after")
    assert time.monotonic() - started < GUARD_S


def test_a_deadline_in_force_for_one_request_is_not_left_for_the_next(servers: dict[str, str]) -> None:
    target = live_target(servers["interim_then_stream"], "glm-4.6", "NO_SUCH_KEY_VAR")
    from harness.client import Exchange
    from harness.limits import _CURRENT

    with GLMClient(target, limits=ResponseLimits(deadline_s=30)) as client:
        items = []
        for item in client.iter_events({"messages": [{"role": "user", "content": "hi"}], "stream": True}):
            assert _CURRENT.get() is None  # not while the caller holds an event
            items.append(item)
    exchange = items[-1]
    assert isinstance(exchange, Exchange) and exchange.transport_error is None and exchange.status == 200
    assert len(items) > 100


# -- levels that cannot start, and signals ------------------------------------------------------------
def test_a_concurrency_this_process_cannot_open_is_refused_in_one_line(tmp_path: Path) -> None:
    code, out, err, _ = _run(("harness.cli", "bench", "--concurrency", "50000", "--requests", "50000",
                              "--tasks", "none"), {}, tmp_path)
    assert code == 2 and err.count("\n") == 1 and not out, (out, err)
    assert re.match(r"glm-harness bench: error: --concurrency 50000 cannot start: this process may open "
                    r"\d+ files \(ulimit -n\), enough for \d+ requests in flight; raise ulimit -n or lower "
                    r"--concurrency$", err), err


def _signalled(argv: list[str], signum: int, after_s: float) -> tuple[int, str]:
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                               env={**os.environ, "ZAI_API_KEY": KEY})
    time.sleep(after_s)
    process.send_signal(signum)
    try:
        _, err = process.communicate(timeout=GUARD_S)
    finally:
        process.kill()
    return process.returncode, err


SCRIPT = str(Path(sys.executable).with_name("glm-harness"))


@pytest.mark.parametrize("after_s", [0.5, 2.0, 6.0])
def test_sigterm_ends_a_bench_run_at_any_point(after_s: float, servers: dict[str, str], tmp_path: Path) -> None:
    """Before the handler is in place SIGTERM's default ends the process (-15); after, the run
    stops, writes what it measured and exits 143. Either way, well before the hang guard."""
    code, err = _signalled([SCRIPT, "bench", "--target", "live", "--base-url", servers["interim_then_stream"],
                            "--concurrency", "1,8", "--requests", "5000", "--tasks", "none",
                            "--out", str(tmp_path / "b.json")], signal.SIGTERM, after_s)
    assert code in (143, -signal.SIGTERM) and "Traceback" not in err, (code, err)


@pytest.mark.parametrize("command", ["compare", "plot"])
@pytest.mark.parametrize("after_s", [0.3, 0.6, 1.0])
def test_ctrl_c_in_the_first_second_of_compare_and_plot_exits_130(command: str, after_s: float,
                                                                    tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    from compare.conftest import make_report  # tests/ is on sys.path

    from harness.bench.report import write_report

    write_report(make_report(1, n=20, levels=(1,), efficiency=False), report, markdown=False)
    argv = [SCRIPT, command, str(report), *([str(report)] if command == "compare" else
                                           ["--out", str(tmp_path / "plots")])]
    code, err = _signalled(argv, signal.SIGINT, after_s)
    if code == 0:  # the command was over before the signal (a fast machine): nothing to interrupt
        return
    assert code == 130 and "Traceback" not in err, (code, err)
    assert err.strip().splitlines()[-1] in ("glm-harness: interrupted", f"glm-harness {command}: interrupted")


def test_the_samples_say_which_bound(servers: dict[str, str], tmp_path: Path) -> None:
    code, _, _, _ = _run(_bench(), {"url": servers["endless_line"]}, tmp_path)
    assert code == 1
    samples = [json.loads(line) for line in (tmp_path / "bench.samples.jsonl").read_text().splitlines()[1:]]
    errors = {s["error"]["message"] for s in samples if s.get("error")}
    assert errors == {"ResponseTooLarge: the body passed 67,108,864 bytes (decompressed); reading stopped there"}


@pytest.mark.parametrize("n", [20_001, 25_000, 77_777, 123_457, 1_000_000])
@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99])
def test_the_median_interval_needs_no_scipy_and_matches_it(n: int, q: float) -> None:
    """The report of a big level (and so the exit after a SIGTERM) no longer imports scipy.stats
    (1-2 s): the binomial quantile is computed with numpy, as scipy computes it."""
    from scipy import stats

    from harness.bench.stats import binom_ppf

    for prob in (0.001, 0.025, 0.975, 0.999):
        assert binom_ppf(prob, n, q) == int(stats.binom.ppf(prob, n, q))
