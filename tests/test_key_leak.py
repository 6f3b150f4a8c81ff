"""No file the harness writes holds the API key: contract outcome reports, JUnit XML, transcripts
(from `glm-harness record` and from `pytest --record`), bench reports and their sample logs, and
the logs of each run.

A planted key is put in $ZAI_API_KEY and really sent: the outputs are produced against an HTTP
twin that accepts exactly that key (`--glm-target live --glm-base-url <twin>`), and the twin's request log
proves it arrived. Every file under the output folder is then searched for the key and for its
secret half. The last test turns the scrubber off and shows that the same search finds the key:
this test can fail.

A second twin is hostile: it echoes the credential it was sent back, raw, base64-encoded (at
each byte offset, in both alphabets) and as the JWT a zai client would make of it, upper- and
lower-cased, percent-encoded (either hex case) and JSON-escaped, in every error body and at the
start of every answer's content, streamed or not; and in a stream, split over events into
pieces shorter than the scrubber's cut minimum. Its outputs (pytest's terminal, JUnit XML, logs,
transcripts, the bench report's answer excerpts, the CLI's own output) are searched for every
form: each file is also read with its escapes undone and its letters lower-cased, and with the
text of its `content` fields joined.

A third run points the suites at a base URL that carries `user:pass@`: the password reaches no
output, and no request carries it (as Basic auth) in place of the key.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import scrub
from harness.cli import main as cli_main
from harness.mock import FaultSpec, GLMTwin, KeyState, Reply, TwinConfig, WireRequest
from harness.mock.faults import Fault
from harness.mock.server import running_twin
from harness.record import add_record_arguments, run_record

# The twin takes keys of letters, digits, '-' and '_' only, whose base64 is the same in both
# alphabets; tests/test_scrub_encodings.py shows the URL-safe forms are caught, with a key they differ for.
PLANTED = "glm-test-PLANTED-0123456789abcdef.Pl4ntedS3cretHalf9xyz"
PIECE = 5  # the split echo's pieces: far under the scrubber's 16-character cut minimum


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt_of(key: str) -> str:
    """The token zai-sdk sends for `key`: HS256 over the key id, signed with its secret (at a
    fixed time, so that the echoed token is a needle known in advance)."""
    key_id, secret = key.split(".", 1)
    now = 1_900_000_000_000
    head = b64url(json.dumps({"alg": "HS256", "sign_type": "SIGN"}).encode())
    body = b64url(json.dumps({"api_key": key_id, "exp": now + 3_600_000, "timestamp": now}).encode())
    signature = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(signature)}"


def base64_needles(secret: str) -> list[bytes]:
    """What any base64 blob holding `secret` contains, whatever the byte it starts at."""
    found = []
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * offset + secret.encode())
            found.append(text[4 if offset else 0:(offset + len(secret)) // 3 * 4])
    return found


def encodings(key: str) -> list[str]:
    """The key as a hostile server may reflect it, each a text that can sit in a JSON string."""
    raw = key.encode()
    blobs = [encode(b"{" * offset + raw + b"}").decode() for offset in range(3)
             for encode in (base64.b64encode, base64.urlsafe_b64encode)]
    return [key.upper(), key.lower(), "".join(f"%{b:02X}" for b in raw), "".join(f"%{b:02x}" for b in raw),
            "".join(f"\\u{ord(c):04x}" for c in key), *blobs]


def pieces(key: str) -> list[str]:
    return [key[i:i + PIECE] for i in range(0, len(key), PIECE)]


_ESCAPES = re.compile(rb"%([0-9A-Fa-f]{2})|\\+u([0-9A-Fa-f]{4})")
_CONTENT = re.compile(rb'content\\*"\s*:\s*\\*"([^"\\]*)')


def unescaped(data: bytes) -> bytes:
    """A file's bytes with percent and JSON escapes undone and letters lower-cased."""
    return _ESCAPES.sub(lambda m: chr(int(m[1] or m[2], 16)).encode("utf-8", "replace"), data).lower()


PLANTED_JWT = jwt_of(PLANTED)
NEEDLES = (PLANTED.encode(), PLANTED.split(".")[1].encode(), PLANTED_JWT.encode(),
           *base64_needles(PLANTED))
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


class EchoingTwin(GLMTwin):
    """A twin that hands the credential it was sent back: raw, in base64 and as a JWT; in
    every error body and answer, or (`reject`) in a 401 to every request."""

    def __init__(self, config: TwinConfig, reject: bool = False) -> None:
        super().__init__(config)
        self.reject = reject
        self.echoed = 0

    def handle(self, request: WireRequest) -> Reply:
        reply = super().handle(request)
        auth = next((v for k, v in request.headers.items() if k.lower() == "authorization"), "")
        key = auth.partition(" ")[2]
        if not key:
            return reply
        echo = f"{key} "
        if "." in key:
            echo += f"b64:{base64.b64encode(key.encode()).decode()} jwt:{jwt_of(key)} "
            echo += " ".join(encodings(key)) + " "
        if self.reject:
            self.echoed += 1
            reply.close()
            body = {"error": {"code": "1000", "message": f"Authentication Failed: {echo}"}}
            return Reply(401, {"Content-Type": "application/json; charset=UTF-8"},
                         json.dumps(body).encode())
        if reply.script is not None:
            for n, step in enumerate(reply.script):
                if b'"content":"' in step.data:
                    data = step.data.replace(b'"content":"', b'"content":"' + echo.encode(), 1)
                    split = [dataclasses.replace(step, data=re.sub(
                        rb'"content":"(?:[^"\\]|\\.)*"', b'"content":"' + piece.encode() + b'"', step.data,
                        count=1)) for piece in (pieces(key) if "." in key else [])]
                    reply.script[n:n + 1] = [*split, dataclasses.replace(step, data=data)]
                    self.echoed += 1
                    break
        elif reply.body:
            reply.body = self._echoed_body(reply.body, echo)
        return reply

    def _echoed_body(self, raw: bytes, echo: str) -> bytes:
        body = json.loads(raw)
        if "error" in body:
            body["error"]["message"] = f"{body['error'].get('message', '')} (you sent {echo})"
        elif body.get("choices"):
            message = body["choices"][0]["message"]
            message["content"] = echo + (message.get("content") or "")
        self.echoed += 1
        return json.dumps(body).encode()


@pytest.fixture(scope="module", params=["in-answers", "in-401"])
def echoing_url(request: pytest.FixtureRequest) -> Iterator[tuple[str, EchoingTwin]]:
    twin = EchoingTwin(TwinConfig(keys={PLANTED: KeyState.ACTIVE}), reject=request.param == "in-401")
    with running_twin(twin) as running:
        yield running.base_url, twin


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ZAI_API_KEY", PLANTED)
    return PLANTED


LOWER_NEEDLES = (PLANTED.lower().encode(), PLANTED.split(".")[1].lower().encode())


def leaks(folder: Path) -> list[str]:
    """`file: needle` for every file under `folder` that holds the key or its secret half: as
    it is, once its escapes are undone (any letter case), or in its `content` fields joined."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        name = path.relative_to(folder)
        found += [f"{name}: {n.decode()}" for n in NEEDLES if n in data]
        plain = unescaped(data)
        found += [f"{name}: (escaped or re-cased) {n.decode()}" for n in LOWER_NEEDLES if n in plain]
        joined = b"".join(_CONTENT.findall(data)).lower()
        found += [f"{name}: (split over content fields) {n.decode()}" for n in LOWER_NEEDLES if n in joined]
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


# -- a server that echoes the key ---------------------------------------------------------------
def test_an_echoed_key_reaches_no_pytest_output(
        pytester: pytest.Pytester, tmp_path: Path, planted: str,
        echoing_url: tuple[str, EchoingTwin], caplog: pytest.LogCaptureFixture) -> None:
    base_url, twin = echoing_url
    caplog.set_level(logging.DEBUG)
    before = twin.echoed
    result = contract_run(pytester, tmp_path, base_url)
    write_log(tmp_path / "caplog.log", caplog.text)
    assert twin.echoed > before, "the twin must really have echoed the key"
    if twin.reject:
        assert result.parseoutcomes().get("failed", 0) >= 1, result.outlines[-1]
        assert "&lt;scrubbed&gt;" in (tmp_path / "junit.xml").read_text(), "the echo reached the JUnit"
    assert_no_leak(tmp_path)


def test_an_echoed_key_reaches_no_transcript_or_record_output(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, planted: str,
        echoing_url: tuple[str, EchoingTwin]) -> None:
    base_url, twin = echoing_url
    before = twin.echoed
    record_run(capsys, tmp_path, base_url)
    assert twin.echoed > before
    assert_no_leak(tmp_path)


def test_an_echoed_key_reaches_no_bench_report_excerpt_or_output(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, planted: str,
        echoing_url: tuple[str, EchoingTwin]) -> None:
    base_url, twin = echoing_url
    before = twin.echoed
    code = cli_main(["bench", "--target", "live", "--base-url", base_url, "--concurrency", "1",
                     "--requests", "2", "--warmup", "0", "--task-thinking", "off",
                     "--task-concurrency", "4", "--no-progress", "--max-retries", "0",
                     "--out", str(tmp_path / "bench" / "bench.json")])
    captured = capsys.readouterr()
    write_log(tmp_path / "bench-console.log", captured.out, captured.err)
    assert code in (0, 1), captured.err
    assert twin.echoed > before
    report = json.loads((tmp_path / "bench" / "bench.json").read_text())
    if not twin.reject:
        assert any("<scrubbed>" in row["answer_excerpt"] for row in report["efficiency"]["rows"]), (
            "the echo reached the answer excerpts")
    assert_no_leak(tmp_path)


def test_with_the_scrubber_off_the_echo_is_found_in_pytest_outputs(
        pytester: pytest.Pytester, tmp_path: Path, planted: str,
        echoing_url: tuple[str, EchoingTwin]) -> None:
    base_url, twin = echoing_url
    if not twin.reject:
        pytest.skip("the suites pass against the twin echoing into answers: nothing to print")
    with scrub.disabled():
        contract_run(pytester, tmp_path, base_url)
    found = leaks(tmp_path)
    for name in ("junit.xml", "pytest-console.log", "report.json"):
        assert any(f.startswith(name) for f in found), (name, found)
    assert any(PLANTED_JWT in f for f in found), found


# -- a base URL with user:pass@ -----------------------------------------------------------------
PASSWORD = "url-Passw0rd-4242"


def with_userinfo(base_url: str) -> str:
    return base_url.replace("http://", f"http://operator:{PASSWORD}@", 1)


def test_a_password_in_the_base_url_is_never_sent_nor_written(
        pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], tmp_path: Path, planted: str,
        twin_url: tuple[str, GLMTwin]) -> None:
    base_url, twin = twin_url
    before = len(twin.requests)
    result = contract_run(pytester, tmp_path / "contract", with_userinfo(base_url))
    assert result.parseoutcomes().get("passed", 0) >= 3, result.outlines[-1]
    assert record_run(capsys, tmp_path / "record", with_userinfo(base_url)) == 0
    code = cli_main(["bench", "--target", "live", "--base-url", with_userinfo(base_url), "--concurrency", "1",
                     "--requests", "2", "--warmup", "0", "--tasks", "none", "--no-progress",
                     "--max-retries", "0", "--out", str(tmp_path / "bench" / "bench.json")])
    captured = capsys.readouterr()
    write_log(tmp_path / "bench-console.log", captured.out, captured.err)
    assert code in (0, 1), captured.err
    sent = [r.headers.get("authorization", "") for r in twin.requests[before:]]
    assert sent, "nothing reached the twin"
    # (the suites also send a wrong key and none at all on purpose: test_bad_key_is_401 and the like)
    assert not any(auth.lower().startswith("basic") for auth in sent), (
        "the userinfo went out as Basic auth in place of the key")
    assert sum(auth == f"Bearer {planted}" for auth in sent) >= 3
    assert_no_leak(tmp_path)
    found = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
             if p.is_file() and PASSWORD.encode() in p.read_bytes()]
    assert not found, f"the base URL's password reached {found}"
    assert "127.0.0.1" in (tmp_path / "contract" / "report.json").read_text(), "the URL's host is kept"
