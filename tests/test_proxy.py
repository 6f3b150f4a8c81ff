"""`glm-harness proxy` end to end: real sockets from a client through the proxy to the twin.

What passes through is what the twin sent (byte for byte, streams chunk by chunk), and the report
lists every exchange with its surface's named checks, usage, cost and timings: plain, streamed,
a tool call, an error answer, an answer that breaks the contract, a request the proxy refuses.
The report is valid JSON after SIGINT or SIGTERM mid-stream (a real subprocess), and the agent's
key never reaches the report, a transcript or the terminal.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness import scrub
from harness.mock import TWIN_KEY, FaultSpec, GLMTwin, KeyState, TwinConfig
from harness.mock.config import Timing
from harness.mock.faults import Fault
from harness.mock.scenarios import Style
from harness.mock.server import running_twin
from harness.profiles import Profile
from harness.proxy import MAX_REQUEST_BYTES, running_proxy

CHAT = "/api/paas/v4/chat/completions"
READ_FILE = {"type": "function", "function": {
    "name": "read_file", "description": "Read a file",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}}


@pytest.fixture(scope="module")
def twin() -> Iterator[str]:
    with running_twin() as running:
        yield f"http://127.0.0.1:{running.port}"


def post(base: str, body: dict[str, Any], key: str = TWIN_KEY, path: str = CHAT) -> httpx.Response:
    return httpx.post(base + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def streamed_text(raw: bytes) -> str:
    chunks = [json.loads(line[6:]) for line in raw.decode().splitlines()
              if line.startswith("data: {")]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))


def wait_rows(path: Path, n: int) -> dict[str, Any]:
    """The report once it lists `n` exchanges: they are judged off the forwarding path, so a row
    lands just after its answer."""
    deadline = time.monotonic() + 10
    while True:
        document: dict[str, Any] = json.loads(path.read_text())
        if len(document["exchanges"]) >= n or time.monotonic() > deadline:
            return document
        time.sleep(0.02)


def test_plain_stream_tool_call_and_error_pass_through_and_are_judged(twin: str, tmp_path: Path) -> None:
    out = tmp_path / "proxy.json"
    plain = {"model": "glm-4.6", "messages": [{"role": "user", "content": "Hello there"}]}
    stream = {**plain, "stream": True}
    tool = {"model": "glm-4.6", "tools": [READ_FILE], "messages": [
        {"role": "user", "content": 'Look. TWIN-CALL read_file {"path": "a.txt"}'}]}
    with running_proxy(twin, out) as proxy:
        answers = [post(proxy.base_url, plain), post(proxy.base_url, stream), post(proxy.base_url, tool),
                   post(proxy.base_url, plain, key="no-such-key.NoSuchSecret")]
        direct = [post(twin, plain), post(twin, stream), post(twin, tool)]
        document = wait_rows(out, 4)
    assert [a.status_code for a in answers] == [200, 200, 200, 401]
    # the twin's answers are deterministic (but for ids, times and its prompt cache): through the
    # proxy or not, the same answer comes back
    assert [answers[i].json()["choices"] for i in (0, 2)] == [direct[i].json()["choices"] for i in (0, 2)]
    assert streamed_text(answers[1].content) == streamed_text(direct[1].content) != ""
    call = answers[2].json()["choices"][0]["message"]["tool_calls"][0]["function"]
    assert (call["name"], json.loads(call["arguments"])) == ("read_file", {"path": "a.txt"})

    rows = document["exchanges"]
    assert [(r["path"], r["surface"], r["status"], r["checked"], r["violations"]) for r in rows] == [
        (CHAT, "openai", 200, True, []), (CHAT, "openai", 200, True, []), (CHAT, "openai", 200, True, []),
        (CHAT, "openai", 401, True, [])]
    assert [r["stream"] for r in rows] == [False, True, False, False]
    for row in rows[:3]:
        assert row["usage"]["input_tokens"] > 0 and row["usage"]["output_tokens"] > 0
        assert row["cost_usd"] > 0
        assert row["timings"]["ttft_ms"] > 0 and row["timings"]["total_ms"] >= row["timings"]["ttft_ms"]
    assert rows[1]["timings"]["chunks"] == len(rows[1]["timings"]["chunk_ms"]) > 1
    assert rows[3]["usage"] is None and rows[3]["cost_usd"] is None  # unknown, never a zero
    assert document["conformance"]["answers_checked"] == 4
    assert "error_code_conformance" in document["conformance"]["met"]
    assert document["totals"]["violations"] == 0
    assert document["totals"]["usage"]["input_tokens"] == sum(r["usage"]["input_tokens"] for r in rows[:3])


def test_a_broken_answer_is_forwarded_as_it_is_and_reported(tmp_path: Path) -> None:
    out = tmp_path / "proxy.json"
    config = TwinConfig(faults=(FaultSpec(Fault.MISSING_USAGE),))
    with running_twin(GLMTwin(config)) as broken, \
            running_proxy(f"http://127.0.0.1:{broken.port}", out, tmp_path / "rec") as proxy:
        answer = post(proxy.base_url, {"model": "glm-4.6", "stream": True,
                                       "messages": [{"role": "user", "content": "Hi"}]})
        document = wait_rows(out, 1)
    assert answer.status_code == 200 and b"[DONE]" in answer.content
    [row] = document["exchanges"]
    # one finding, one rule: a stream without usage is stream_invariants' alone
    assert [(v["check"], v["rule"]) for v in row["violations"]] == [("stream_invariants", "missing_usage")]
    assert document["totals"]["with_violations"] == 1
    assert document["conformance"]["broken"] == {"stream_invariants.missing_usage": {"answers": 1, "of": 1}}
    [transcript] = (tmp_path / "rec").iterdir()
    assert row["transcript"] == transcript.name
    assert json.loads(transcript.read_text())["stream"] is True


def test_what_the_proxy_does_not_check_is_forwarded_and_said(twin: str, tmp_path: Path) -> None:
    out = tmp_path / "proxy.json"
    with running_proxy(twin, out) as proxy:
        auth = {"Authorization": f"Bearer {TWIN_KEY}"}
        models = httpx.get(proxy.base_url + "/api/paas/v4/models", headers=auth, timeout=10)
        direct = httpx.get(twin + "/api/paas/v4/models", headers=auth, timeout=10)
        huge = httpx.post(proxy.base_url + CHAT, content=b"x" * (MAX_REQUEST_BYTES + 1), timeout=30)
        document = wait_rows(out, 1)
    assert (models.status_code, models.content) == (direct.status_code, direct.content)  # forwarded
    assert huge.status_code == 413 and "not forwarded" in huge.json()["error"]["message"]
    [row] = document["exchanges"]  # the refused request never reached the upstream
    assert (row["path"], row["checked"], row["why_unchecked"]) == (
        "/api/paas/v4/models", False, "not a generation endpoint")


def test_an_answer_over_the_cap_is_forwarded_whole_but_not_kept(twin: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.proxy.MAX_KEPT_BYTES", 2000)
    out = tmp_path / "proxy.json"
    body = {"model": "glm-4.6", "stream": True, "messages": [{"role": "user", "content": "Hello"}]}
    with running_proxy(twin, out) as proxy:
        answer = post(proxy.base_url, body)
        [row] = wait_rows(out, 1)["exchanges"]
    assert len(answer.content) > 2000 and answer.content.rstrip().endswith(b"data: [DONE]")
    assert (row["checked"], row["why_unchecked"]) == (False, "answer over 2000 bytes: forwarded, not kept")
    assert row["usage"] is None and row["timings"]["chunks"] == 0


def test_an_unreachable_upstream_is_a_502_and_a_row(tmp_path: Path) -> None:
    out = tmp_path / "proxy.json"
    with running_twin() as gone:
        upstream = f"http://127.0.0.1:{gone.port}"
    with running_proxy(upstream, out) as proxy:
        answer = post(proxy.base_url, {"model": "glm-4.6", "messages": [{"role": "user", "content": "Hi"}]})
        document = wait_rows(out, 1)
    assert answer.status_code == 502 and "upstream unreachable" in answer.json()["error"]["message"]
    [row] = document["exchanges"]
    assert row["status"] is None
    assert [v["check"] for v in row["violations"]] == ["transport_completed"]
    assert row["transport_error"].startswith("ConnectError")


def test_an_agent_hanging_up_lets_the_upstream_go(tmp_path: Path) -> None:
    out = tmp_path / "proxy.json"
    long = TwinConfig(timing=Timing(itl_ms=10), style=Style(reply_tokens=1000, reasoning_tokens=0))
    with running_twin(GLMTwin(long)) as twin, running_proxy(f"http://127.0.0.1:{twin.port}", out) as proxy:
        body = {"model": "glm-4.6", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
        with httpx.stream("POST", proxy.base_url + CHAT, json=body, timeout=30,
                          headers={"Authorization": f"Bearer {TWIN_KEY}"}) as answer:
            for n, _ in enumerate(answer.iter_raw()):
                if n == 3:
                    break
        [row] = wait_rows(out, 1)["exchanges"]
    assert (row["checked"], row["why_unchecked"]) == (False, "the agent hung up before the answer ended")
    assert row["violations"] == []
    assert row["timings"]["chunks"] < 100  # of about a thousand: the proxy stopped reading


# -- the report survives the proxy being stopped mid-stream -------------------------------------
def _start(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", "harness.cli", "proxy", "--port", "0", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **(env or {})})
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on http://127.0.0.1:" in line, line + (process.stderr.read() if process.stderr else "")
    return process, line.split("listening on ")[1].split(",")[0]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_report_is_valid_after_a_signal_mid_stream(tmp_path: Path, stop: signal.Signals) -> None:
    out = tmp_path / "proxy.json"
    slow = TwinConfig(timing=Timing(ttft_ms=5, itl_ms=30), style=Style(reply_tokens=400))
    with running_twin(GLMTwin(slow)) as twin:
        process, base = _start(["--upstream", f"http://127.0.0.1:{twin.port}", "--out", str(out)])
        try:
            done = post(base, {"model": "glm-4.6", "max_tokens": 5, "messages": [{"role": "user", "content": "first"}]})
            assert done.status_code == 200
            wait_rows(out, 1)
            seen: list[bytes] = []
            body = {"model": "glm-4.6", "stream": True, "max_tokens": 2000,
                    "messages": [{"role": "user", "content": "second"}]}

            def stream() -> None:
                try:
                    with httpx.stream("POST", base + CHAT, json=body, timeout=30,
                                      headers={"Authorization": f"Bearer {TWIN_KEY}"}) as answer:
                        for data in answer.iter_raw():
                            seen.append(data)
                except httpx.HTTPError:
                    pass  # the proxy stopping cuts the stream: that is the point

            reader = threading.Thread(target=stream)
            reader.start()
            deadline = time.monotonic() + 10
            while len(seen) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(seen) >= 3, "the stream never started"
            process.send_signal(stop)
            stdout, stderr = process.communicate(timeout=30)
            reader.join(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 128 + stop, stderr
    document = json.loads(out.read_text())  # valid JSON, not a half-written file
    rows = document["exchanges"]
    assert rows[0]["checked"] is True and rows[0]["violations"] == []
    assert len(rows) == 2, "the interrupted exchange is listed too"
    assert rows[1]["checked"] is False
    assert rows[1]["why_unchecked"] == "the proxy stopped before the answer ended"
    assert rows[1]["timings"]["chunks"] >= 3
    assert "2 exchange(s), 1 checked, 0 violation(s)" in stdout  # the summary, printed on exit
    assert "Traceback" not in stderr
    assert not list(tmp_path.glob(".*.tmp"))


def test_bad_arguments_are_one_line_and_exit_2(tmp_path: Path) -> None:
    for args in (["--upstream", "ftp://x"], ["--upstream", "https://user:pw@api.z.ai"],
                 ["--host", "0.0.0.0", "--upstream", "http://127.0.0.1:9"], ["--out", str(tmp_path)]):
        result = subprocess.run([sys.executable, "-m", "harness.cli", "proxy", *args], capture_output=True,
                                text=True, timeout=30)
        assert result.returncode == 2, args
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("glm-harness proxy: error:"), \
            result.stderr


# -- the key ----------------------------------------------------------------------------------------
PLANTED = "glm-proxy-PLANTED-0123456789abcdef.Pl4ntedPr0xySecret9xyz"


def needles() -> list[bytes]:
    secret = PLANTED.split(".")[1]
    found = [PLANTED.encode(), secret.encode()]
    for offset in range(3):  # any base64 blob holding the key holds one of these
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * offset + PLANTED.encode())
            found.append(text[4 if offset else 0:(offset + len(PLANTED)) // 3 * 4])
    return found


def leaks(*texts: bytes) -> list[bytes]:
    return [n for n in needles() for text in texts if n in text]


def _agent_traffic(base: str) -> None:
    """What an agent sends, with its key in every place a key travels, and in the prompt too."""
    key_b64 = base64.b64encode(PLANTED.encode()).decode()
    prompt = f"my key is {PLANTED} and {key_b64}"
    post(base, {"model": "glm-4.6", "messages": [{"role": "user", "content": prompt}]}, key=PLANTED)
    post(base, {"model": "glm-4.6", "stream": True, "messages": [{"role": "user", "content": prompt}]},
         key=PLANTED)
    httpx.post(base + "/api/anthropic/v1/messages", headers={"x-api-key": PLANTED}, timeout=10,
               json={"model": "glm-4.6", "max_tokens": 20, "messages": [{"role": "user", "content": prompt}]})
    post(base, {"model": "glm-4.6", "messages": [{"role": "user", "content": "hi"}]},
         key="wrong." + PLANTED.split(".")[1])


def test_the_key_reaches_no_report_transcript_or_terminal(tmp_path: Path) -> None:
    out, record = tmp_path / "proxy.json", tmp_path / "rec"
    keys = {PLANTED: KeyState.ACTIVE}
    with running_twin(GLMTwin(TwinConfig(keys=keys))) as twin:
        process, base = _start(["--upstream", f"http://127.0.0.1:{twin.port}", "--out", str(out),
                                "--record", str(record)], env={"ZAI_API_KEY": ""})
        try:
            _agent_traffic(base)
            wait_rows(out, 4)
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    files = [out, *record.iterdir()]
    assert len(files) >= 4
    assert "4 exchange(s)" in stdout
    assert leaks(stdout.encode(), stderr.encode(), *(f.read_bytes() for f in files)) == []


def test_the_leak_search_finds_the_key_when_scrubbing_is_off(tmp_path: Path) -> None:
    """The search above can fail: with the scrubber off, the same traffic leaks the key."""
    out, record = tmp_path / "proxy.json", tmp_path / "rec"
    with scrub.disabled(), running_twin(GLMTwin(TwinConfig(keys={PLANTED: KeyState.ACTIVE}))) as twin, \
            running_proxy(f"http://127.0.0.1:{twin.port}", out, record) as proxy:
        _agent_traffic(proxy.base_url)
        wait_rows(out, 4)
        found = leaks(*(f.read_bytes() for f in [out, *record.iterdir()]))
    assert PLANTED.encode() in found


# -- a server that is not GLM -------------------------------------------------------------------------
@pytest.mark.parametrize("profile", ["glm", "openai-compatible"])
def test_the_profile_decides_whether_glm_only_rules_apply(tmp_path: Path, profile: Profile) -> None:
    from deviating_server import API_KEY, serving  # an OpenAI-compatible server that is not GLM

    out = tmp_path / "proxy.json"
    with serving() as url, running_proxy(url.split("/v1")[0], out, profile=profile) as proxy:
        answer = post(proxy.base_url, {"model": "glm-4.6", "request_id": "req-abcdef12",
                                       "messages": [{"role": "user", "content": "Hi"}]},
                      key=API_KEY, path="/v1/chat/completions")
        document = wait_rows(out, 1)
    assert answer.status_code == 200
    [row] = document["exchanges"]
    broken = [f"{v['check']}.{v['rule']}" for v in row["violations"]]
    assert document["conformance"]["profile"] == profile
    if profile == "glm":  # GLM echoes the caller's request_id; this server does not
        assert broken == ["echo_conformance.request_id"]
        assert document["conformance"]["not_applied"] == {}
    else:
        assert broken == []
        assert list(document["conformance"]["not_applied"]) == ["echo_conformance.request_id"]
