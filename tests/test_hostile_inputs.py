"""Every hostile input of issue 11, each with the exit status and the first line it must give.

None may end in a traceback or hang: in-process cases run `harness.cli.main`; the rest (pytest
options, signals) run as subprocesses, all started at once on first use, each with a timeout
well under a minute. The served twin's own hostile requests (broken framing, bodies too big or
too deep) are a second table, sent over raw sockets.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from compare.conftest import make_report  # tests/ is on sys.path (rootdir-relative imports)

from harness.cli import main
from harness.mock import TWIN_KEY, GLMTwin
from harness.mock import asgi as twin_asgi
from harness.mock.engine import MAX_BODY_BYTES
from harness.mock.server import running_twin

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 45


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    code: int
    first: str  # regex the first line of `stream` must match (search)
    stream: str = "err"  # err, out, or out-last (the last line of stdout)
    suite: str = "test_schemas.py"  # pytest cases: the contract module they run

    def __str__(self) -> str:
        return " ".join(self.argv)[:80]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("hostile")
    (root / "a-file").write_text("not a folder")
    (root / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (root / "unknown.json").write_text(json.dumps({"hello": "world"}))
    (root / "empty-dir").mkdir()
    base = make_report(1, n=20, levels=(1,), efficiency=False)
    dead = make_report(2, n=20, levels=(1,), efficiency=False)
    dead.levels[0].succeeded, dead.levels[0].failed = 0, dead.levels[0].completed
    incomplete = make_report(3, n=20, levels=(), efficiency=False)
    incomplete.complete = False
    from harness.bench.report import write_report

    for name, report in (("base", base), ("dead", dead), ("incomplete", incomplete)):
        write_report(report, root / f"{name}.json", markdown=False)
    transcript = next((ROOT / "fixtures" / "transcripts").glob("*simple.json"))
    return {"root": str(root), "file": str(root / "a-file"), "deep": str(root / "deep.json"),
            "unknown": str(root / "unknown.json"), "base": str(root / "base.json"),
            "dead": str(root / "dead.json"), "incomplete": str(root / "incomplete.json"),
            "transcript": str(transcript), "dir": str(root / "empty-dir")}


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a hung API."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture(scope="module")
def refused_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here now
    return port


def _answering(reply: bytes) -> Iterator[int]:
    """A port whose server reads a request, sends `reply` (maybe nothing) and hangs up."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture(scope="module")
def html_port() -> Iterator[int]:
    page = b"<html><body>Service Unavailable</body></html>"
    yield from _answering(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (len(page), page))


@pytest.fixture(scope="module")
def closing_port() -> Iterator[int]:
    yield from _answering(b"")


@pytest.fixture(scope="module")
def twin_url() -> Iterator[str]:
    with running_twin(GLMTwin()) as running:
        yield running.base_url


QUICK_BENCH = ("--requests", "2", "--concurrency", "1", "--tasks", "none", "--no-progress",
               "--max-retries", "0")

# {name} placeholders are filled from the fixtures above.
CLI_CASES = [
    # output paths: a file where a folder is needed, a device, a folder that cannot be made
    Case(("bench", "--out", "{file}/x.json"), 2, r"^glm-harness bench: error: argument --out: .*not a directory"),
    Case(("bench", "--out", "/dev/null"), 2, r"argument --out: must end in \.json"),
    Case(("bench", "--out", "/dev/null/x.json"), 2,
         r"argument --out: cannot write into /dev/null: it is not a directory"),
    Case(("bench", "--out", "{dir}"), 2, r"argument --out: must end in \.json"),
    Case(("bench", *QUICK_BENCH, "--out", "/proc/glm-harness/x.json"), 2,
         r"^glm-harness bench: error: /proc/glm-harness"),
    Case(("calibrate", "--out", "{file}/x.json"), 2, r"argument --out: .*not a directory"),
    Case(("record", "--out", "{file}"), 2, r"argument --out: cannot write into .*not a directory"),
    Case(("schema", "--out", "{file}"), 2, r"argument --out: cannot write into .*not a directory"),
    Case(("schema", "--out", "/dev/null"), 2, r"argument --out: cannot write into /dev/null"),
    Case(("compare", "{base}", "{base}", "--plots", "{file}"), 2, r"argument --plots: .*not a directory"),
    Case(("compare", "{base}", "{base}", "--json", "{dir}"), 2, r"argument --json: cannot write .*a directory"),
    Case(("plot", "{base}", "--out", "{file}"), 2, r"argument --out: .*not a directory"),
    # JSON nested 100,000 deep
    Case(("validate", "{deep}"), 2, r"^glm-harness validate: error: .*deep.json: JSON nested too deep$"),
    Case(("compare", "{deep}", "{deep}"), 2, r"deep.json: not a glm-harness report \(JSON nested too deep\)"),
    Case(("plot", "{deep}"), 2, r"deep.json: not a glm-harness report \(JSON nested too deep\)"),
    # numbers out of range, non-finite, or meaningless
    Case(("serve", "--port", "70000"), 2, r"argument --port: expected a number >= 0 and <= 65535"),
    Case(("serve", "--fault", "stall:-1"), 2, r"argument --fault: invalid fault 'stall:-1'"),
    Case(("serve", "--fault", "stall:0:inf"), 2, r"argument --fault: invalid fault"),
    Case(("serve", "--fault", "bogus"), 2, r"argument --fault: unknown fault 'bogus'"),
    Case(("bench", "--itl-ms", "inf"), 2, r"argument --itl-ms: expected a number >= 0, got 'inf'"),
    Case(("bench", "--ttft-ms", "nan"), 2, r"argument --ttft-ms: expected a number >= 0, got 'nan'"),
    Case(("bench", "--timeout", "nan"), 2, r"argument --timeout: expected a number >= 0.001, got 'nan'"),
    Case(("bench", "--max-error-rate", "1.5"), 2, r"argument --max-error-rate: expected a number >= 0 and <= 1"),
    Case(("bench", "--concurrency", "100000", "--requests", "1"), 2,
         r"--concurrency 100000 is more than --requests 1"),
    Case(("record", "--ttft-ms", "-1"), 2, r"argument --ttft-ms: expected a number >= 0, got '-1'"),
    Case(("record", "--sensitive", "bogus"), 2, r"argument --sensitive: unknown field\(s\) bogus"),
    Case(("calibrate", "--timeout", "0"), 2, r"argument --timeout: expected a number >= 0.001"),
    Case(("bench", "--rate", "inf"), 2, r"argument --rate: expected request rates > 0"),
    Case(("bench", "--base-url", "http://127.0.0.1:99999"), 2, r"argument --base-url: expected an http\(s\) base URL"),
    Case(("bench", "--base-url", "http://[::1"), 2, r"argument --base-url: expected an http\(s\) base URL"),
    Case(("serve", "--rate-limit", "1/inf"), 2, r"argument --rate-limit: invalid rate limit '1/inf'"),
    # a server that never answers, or is not there
    Case(("calibrate", "--base-url", "http://127.0.0.1:{silent_port}", "--timeout", "1", "--no-progress"), 2,
         r"did not answer a first request within 1 s"),
    Case(("calibrate", "--base-url", "http://127.0.0.1:{refused_port}", "--timeout", "1", "--no-progress"), 2,
         r"did not answer a first request within 1 s"),
    # the bench gate: nothing measured, or only failures, never exits 0
    Case(("bench", "--target", "mock", "--base-url", "http://127.0.0.1:{refused_port}", *QUICK_BENCH,
          "--out", "{root}/refused.json"), 1, r"^FAILED: c1: 0 of 2 requests succeeded", "out-last"),
    Case(("bench", "--target", "mock", "--base-url", "http://127.0.0.1:{silent_port}", *QUICK_BENCH,
          "--timeout", "0.5", "--out", "{root}/hung.json"), 1, r"^FAILED: c1: 0 of 2 requests succeeded",
         "out-last"),
    Case(("bench", "--target", "mock", "--base-url", "http://127.0.0.1:{html_port}", *QUICK_BENCH,
          "--out", "{root}/html.json"), 1, r"^FAILED: c1: 0 of 2 requests succeeded", "out-last"),
    Case(("bench", "--target", "mock", "--base-url", "http://127.0.0.1:{closing_port}", *QUICK_BENCH,
          "--out", "{root}/closed.json"), 1, r"^FAILED: c1: 0 of 2 requests succeeded", "out-last"),
    Case(("bench", "--target", "mock", "--base-url", "{twin_url}", "--model", "glm-no-such-model",
          *QUICK_BENCH, "--out", "{root}/unknown-model.json"), 1,
         r"^FAILED: c1: 0 of 2 requests succeeded \(http 400 code 1211 x2\)", "out-last"),
    # validate: transcripts are known; anything else is an unknown kind
    Case(("validate", "{unknown}"), 2, r"unknown.json: unknown kind", "out"),
    Case(("validate", "{transcript}"), 0, r"simple.json: transcript, ok", "out"),
    # the compare gate
    Case(("compare", "{base}", "{dead}"), 1, r"FAILED: c1: every request failed \(error rate 0% -> 100%\)",
         "out-grep"),
    Case(("compare", "{incomplete}", "{incomplete}", "--fail-on", "none"), 1, r"FAILED: .*nothing tested",
         "out-grep"),
    Case(("compare", "{base}", "{base}", "--fail-on", ""), 2, r"--fail-on '' names no rule"),
    Case(("compare", "{base}", "{base}", "--fail-on", "e2e.p50@c42:+5%"), 2, r"scope 'c42' matches nothing"),
]


def _fill(text: str, values: dict[str, str]) -> str:
    return text.format(**values)


@pytest.fixture(scope="module")
def values(files: dict[str, str], silent_port: int, refused_port: int, html_port: int,
           closing_port: int, twin_url: str) -> dict[str, str]:
    return {**files, "silent_port": str(silent_port), "refused_port": str(refused_port),
            "html_port": str(html_port), "closing_port": str(closing_port), "twin_url": twin_url}


def _check(case: Case, code: int, out: str, err: str) -> None:
    assert "Traceback" not in out + err, out + err
    assert code == case.code, (code, out, err)
    lines = {"err": err.splitlines()[:1], "out": out.splitlines()[:1], "err-grep": err.splitlines(),
             "out-last": out.splitlines()[-1:], "out-grep": out.splitlines()}[case.stream]
    assert lines, f"nothing on {case.stream}: out={out!r} err={err!r}"
    assert any(re.search(case.first, line) for line in lines), (case.first, out, err)
    if case.code == 2 and case.stream == "err":
        assert err.count("\n") == 1, err


@pytest.mark.parametrize("case", CLI_CASES, ids=str)
def test_cli_input(case: Case, values: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    code = main([_fill(arg, values) for arg in case.argv])
    out, err = capsys.readouterr()
    assert time.monotonic() - started < TIMEOUT_S
    _check(case, code, out, err)


# -- pytest's own options (in-process through pytester), and signals -----------------------------------
SUITES = ROOT / "suites" / "contract"
PYTEST_CASES = [
    Case(("--glm-twin-fault", "bogus"), 4, r"^ERROR: --glm-twin-fault bogus: unknown fault 'bogus'"),
    Case(("--glm-twin-fault", "stall:-1"), 4, r"^ERROR: --glm-twin-fault stall:-1: invalid fault 'stall:-1'"),
    Case(("--glm-record-sensitive", "bogus"), 4, r"^ERROR: --glm-record-sensitive: unknown field\(s\) bogus"),
    Case(("--glm-report", "{dir}/"), 4, r"^ERROR: --glm-report .*/: is a folder; give a file path"),
    Case(("--glm-report", "{file}/report.json"), 4, r"^ERROR: --glm-report .*/report.json: cannot write there"),
    Case(("--glm-read-timeout", "-1"), 4, r"^ERROR: --glm-read-timeout: expected a number of seconds > 0, got '-1'"),
    Case(("--glm-read-timeout", "0"), 4, r"^ERROR: --glm-read-timeout: expected a number of seconds > 0, got '0'"),
    Case(("--glm-target", "live", "--glm-base-url", "http://127.0.0.1:{silent_port}/api/paas/v4",
          "--glm-read-timeout", "1", "-k", "not json_answer"), 1,
         r"has not answered 3 requests in a row within 1 s", "out-grep",
         # streamed only: a non-streamed request's read timeout also covers generating max_tokens
         suite="test_streaming.py"),
]


@pytest.mark.parametrize("case", PYTEST_CASES, ids=str)
def test_pytest_option(case: Case, values: dict[str, str], pytester: pytest.Pytester,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAI_API_KEY", "hostile-id.hostile-secret-0123456789")
    started = time.monotonic()
    result = pytester.runpytest_inprocess(str(SUITES / case.suite), "-q", "-p", "no:cacheprovider",
                                          *(_fill(arg, values) for arg in case.argv))
    assert time.monotonic() - started < TIMEOUT_S
    _check(case, int(result.ret), "\n".join(result.outlines), "\n".join(result.errlines) + "\n")


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_sigterm_ends_serve_with_143(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert process.stdout is not None
        assert "listening" in process.stdout.readline()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=TIMEOUT_S)
    finally:
        process.kill()
    err = process.stderr.read() if process.stderr else ""
    assert code == 143 and "Traceback" not in err, err


# -- the served twin ----------------------------------------------------------------------------------
HEAD = (b"POST /api/paas/v4/chat/completions HTTP/1.1\r\nHost: twin\r\nAuthorization: Bearer "
        + TWIN_KEY.encode() + b"\r\nContent-Type: application/json\r\n")
HELLO = b'{"model":"glm-4.6","messages":[{"role":"user","content":"hi"}]}'


def _with_length(body: bytes) -> bytes:
    return HEAD + b"Content-Length: %d\r\n\r\n" % len(body) + body


TWIN_CASES = {
    "content-length larger than the body": (HEAD + b"Content-Length: 1000\r\n\r\n" + HELLO,
                                            b"HTTP/1.1 400 ", b"400 Bad Request"),
    "chunked and content-length": (HEAD + b"Content-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   + b"%x\r\n" % len(HELLO) + HELLO + b"\r\n0\r\n\r\n",
                                   b"HTTP/1.1 400 ", b"400 Bad Request"),
    "JSON nested 100,000 deep": (_with_length(b"[" * 100_000 + b"]" * 100_000),
                                 b"HTTP/1.1 400 ", b'"code":"1210"'),
    "a 5,001-digit integer": (_with_length(b'{"model":"glm-4.6","max_tokens":' + b"7" * 5001 + b"}"),
                              b"HTTP/1.1 400 ", b'"code":"1210"'),
    "a tool schema nested 900 deep": (_with_length(
        b'{"model":"glm-4.6","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function",'
        b'"function":{"name":"deep","parameters":' + b'{"a":' * 900 + b"1" + b"}" * 900 + b"}}]}"),
        b"HTTP/1.1 400 ", b'"code":"1210"'),
    "a body over the cap": (_with_length(b'{"model":"glm-4.6","messages":[{"role":"user","content":"'
                                         + b"x" * MAX_BODY_BYTES + b'"}]}'),
                            b"HTTP/1.1 400 ", b'"code":"1261"'),
}


@pytest.fixture(scope="module")
def twin_port() -> Iterator[int]:
    with running_twin(GLMTwin()) as running:
        yield running.port


def _exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        sock.sendall(data)
        received = b""
        while b"\r\n0\r\n\r\n" not in received and b"</html>" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    return received


@pytest.mark.parametrize("name", list(TWIN_CASES))
def test_served_twin_answers_hostile_requests(name: str, twin_port: int,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(twin_asgi, "BODY_TIMEOUT_S", 1.0)
    data, status, body = TWIN_CASES[name]
    answer = _exchange(twin_port, data)
    assert answer.startswith(status) and body in answer, answer[:300]


def test_served_twin_keeps_a_bounded_journal(twin_port: int) -> None:
    from harness.mock._journal import Journal

    journal = Journal(max_requests=3, max_bytes=10)
    from harness.mock import WireRequest

    for n in range(5):
        journal.append(WireRequest("POST", "/", {}, b"x" * 4 + bytes([n])))
    assert len(journal) == 2 and journal[-1].body.endswith(b"\x04")


# -- reproduction lines ---------------------------------------------------------------------------------
def test_a_large_body_is_reproduced_from_a_file_with_a_short_excerpt() -> None:
    from harness.client import CURL_INLINE_BYTES, Exchange
    from harness.targets import mock_target

    prompt = "lorem ipsum " * 100_000  # 1.2 MB: a shell refuses it as one argument
    exchange = Exchange(mock_target(), {"model": "glm-4.6", "messages": [{"role": "user", "content": prompt}]},
                        sent_at=0.0)
    line = exchange.curl()
    assert len(line) < 1024, len(line)
    match = re.search(r"--data-binary @(\S+)", line)
    assert match and "# body: 1,200," in line and "lorem ipsum" in line
    assert Path(match[1]).read_bytes() == exchange.payload
    small = Exchange(mock_target(), {"model": "glm-4.6", "messages": [{"role": "user", "content": "hi"}]},
                     sent_at=0.0)
    assert "--data-raw" in small.curl() and len(small.payload) < CURL_INLINE_BYTES
