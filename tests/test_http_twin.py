"""The twin over real HTTP (uvicorn on loopback): raw SSE, curl, the official openai SDK, faults.

Everything here goes through a real socket, so it checks what `respx` cannot: uvicorn's framing
(chunked transfer, headers), the openai 3.x client (which speaks `httpx2`, not `httpx`), and
what a client sees when the connection drops mid-stream.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import openai
import pytest

from harness.client import tls_context
from harness.errors import UsageError
from harness.mock import (
    EMPTY_BALANCE_KEY,
    TWIN_KEY,
    Fault,
    FaultSpec,
    GLMTwin,
    Limits,
    Style,
    TwinConfig,
)
from harness.mock.server import (
    RunningTwin,
    add_serve_arguments,
    config_from_args,
    main,
    running_twin,
    serve,
)
from harness.sse import decode_all
from harness.stream import read_stream

MODEL = "glm-4.6"
HELLO = [{"role": "user", "content": "Say hello"}]
AUTH = {"Authorization": f"Bearer {TWIN_KEY}"}
SSE_TYPE = "text/event-stream;charset=UTF-8"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string", "description": "City, country"}},
            "required": ["location"],
        },
    },
}


def _arith_tool(name: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} two numbers",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"],
            },
        },
    }


# Every client shares the harness's one TLS context: each httpx or SDK client otherwise loads the
# CA bundle (about 40 ms of CPU), though it only ever speaks plain HTTP to the twin.
def _http(**options: Any) -> httpx.Client:
    return httpx.Client(verify=tls_context(), **options)


def _openai(base_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0,
                         http_client=openai.DefaultHttpxClient(verify=tls_context()))


@pytest.fixture(scope="module")
def twin() -> Iterator[RunningTwin]:
    with running_twin() as running:
        yield running


@pytest.fixture
def client(twin: RunningTwin) -> Iterator[openai.OpenAI]:
    with _openai(twin.base_url, TWIN_KEY) as sdk:
        yield sdk


def _events(raw: bytes) -> list[bytes]:
    assert raw.endswith(b"\n\n"), raw[-80:]
    return raw[:-2].split(b"\n\n")


# -- raw HTTP ------------------------------------------------------------------------------------
def test_running_twin_url_and_port(twin: RunningTwin) -> None:
    assert twin.base_url == f"http://127.0.0.1:{twin.port}/api/paas/v4"
    assert twin.port > 0


def test_httpx_stream_is_glm_shaped_sse(twin: RunningTwin) -> None:
    body = {"model": MODEL, "messages": HELLO, "stream": True}
    with _http(timeout=10) as http, http.stream(
        "POST", f"{twin.base_url}/chat/completions", json=body, headers=AUTH
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == SSE_TYPE
        raw = b"".join(response.iter_raw())
    events = _events(raw)
    assert events[-1] == b"data: [DONE]"
    chunks = [e.data for e in read_stream(decode_all(raw)[0]).events]
    assert all(e.startswith(b"data: {") for e in events[:-1])
    assert all(c["choices"][0]["delta"]["role"] == "assistant" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["total_tokens"] > 0
    assert len({c["id"] for c in chunks}) == 1


def test_curl_n_streams_until_done(twin: RunningTwin) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl not installed")
    body = json.dumps({"model": MODEL, "messages": HELLO, "stream": True})
    done = subprocess.run(
        [curl, "-N", "-sS", "--max-time", "20", f"{twin.base_url}/chat/completions",
         "-H", f"Authorization: Bearer {TWIN_KEY}", "-H", "Content-Type: application/json",
         "-d", body],
        capture_output=True, check=True, timeout=30,
    )
    assert done.stdout.rstrip(b"\n").endswith(b"data: [DONE]")
    assert done.stdout.startswith(b"data: {")


def test_other_base_paths_and_errors_over_http(twin: RunningTwin) -> None:
    with _http(timeout=10) as http:
        coding = http.post(f"http://127.0.0.1:{twin.port}/api/coding/paas/v4/chat/completions",
                           json={"model": MODEL, "messages": HELLO}, headers=AUTH)
        missing = http.post(f"{twin.base_url}/chat/completions", json={"model": MODEL})
    assert coding.status_code == 200
    assert coding.headers["content-type"] == "application/json; charset=UTF-8"
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "1001"
    assert set(missing.json()) == {"error"}


# -- the official openai SDK ---------------------------------------------------------------------
def test_openai_plain_completion(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model=MODEL, messages=HELLO)
    assert reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    assert reply.usage.total_tokens > 0


def test_openai_streaming_completion(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    reasoning = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or ""
                        for c in chunks)
    assert content and reasoning
    assert (chunks[0].choices[0].delta.model_extra or {}).get("reasoning_content")
    assert all(c.usage is None for c in chunks[:-1])
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.usage is not None and last.usage.total_tokens > 0


def test_openai_tool_call(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL, tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "What's the weather in Florence, Italy?"}],
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert len(calls) == 1
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == {"location": "Florence, Italy"}


def test_openai_parallel_tool_calls(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL, tools=[_arith_tool("add"), _arith_tool("multiply")],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "Add and multiply 2 and 3"}],
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [c.function.name for c in calls] == ["add", "multiply"]
    assert len({c.id for c in calls}) == 2
    assert all(json.loads(c.function.arguments) == {"a": 2, "b": 3} for c in calls)


def test_openai_streamed_tool_call(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL, tools=[WEATHER_TOOL], stream=True,  # type: ignore[list-item]
        messages=[{"role": "user", "content": "What's the weather in Florence, Italy?"}],
    )
    chunks = list(stream)
    calls = [call for c in chunks for call in (c.choices[0].delta.tool_calls or [])]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert calls and calls[0].function is not None
    assert json.loads(calls[0].function.arguments or "") == {"location": "Florence, Italy"}


def test_openai_unknown_model_is_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="glm-nope", messages=HELLO)
    assert caught.value.status_code == 400
    assert caught.value.code == "1211"
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "1211"


def test_openai_bad_key_is_authentication_error(twin: RunningTwin) -> None:
    with _openai(twin.base_url, "bad") as sdk, \
            pytest.raises(openai.AuthenticationError) as caught:
        sdk.chat.completions.create(model=MODEL, messages=HELLO)
    assert caught.value.status_code == 401
    assert caught.value.code == "1002"  # "bad" is not shaped like `<id>.<secret>`


def test_openai_empty_balance_is_rate_limit_error(twin: RunningTwin) -> None:
    with _openai(twin.base_url, EMPTY_BALANCE_KEY) as sdk, \
            pytest.raises(openai.RateLimitError) as caught:
        sdk.chat.completions.create(model=MODEL, messages=HELLO)
    assert caught.value.status_code == 429
    assert caught.value.code == "1113"


def test_openai_rate_limit_1302() -> None:
    limited = GLMTwin(TwinConfig(limits=Limits(requests=1, per_seconds=60)))
    with running_twin(limited) as running, _openai(running.base_url, TWIN_KEY) as sdk:
        sdk.chat.completions.create(model=MODEL, messages=HELLO)
        with pytest.raises(openai.RateLimitError) as caught:
            sdk.chat.completions.create(model=MODEL, messages=HELLO)
    assert caught.value.status_code == 429
    assert caught.value.code == "1302"
    assert "retry-after" not in caught.value.response.headers  # real GLM sends none


def test_async_openai_streaming(twin: RunningTwin) -> None:
    async def run() -> tuple[str, Any]:
        async with openai.AsyncOpenAI(
                base_url=twin.base_url, api_key=TWIN_KEY, max_retries=0,
                http_client=openai.DefaultAsyncHttpxClient(verify=tls_context())) as sdk:
            stream = await sdk.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
            chunks = [chunk async for chunk in stream]
        return "".join(c.choices[0].delta.content or "" for c in chunks), chunks[-1].usage

    content, usage = asyncio.run(run())
    assert content
    assert usage is not None and usage.total_tokens > 0


# -- faults and lifecycle ------------------------------------------------------------------------
def test_reset_mid_stream_is_remote_protocol_error() -> None:
    """Observed: httpx.RemoteProtocolError ("peer closed connection without sending complete
    message body (incomplete chunked read)"): uvicorn closes the socket inside a chunked body."""
    resetting = GLMTwin(TwinConfig(faults=(FaultSpec(Fault.RESET_MID_STREAM),)))
    received: list[bytes] = []
    body = {"model": MODEL, "messages": HELLO, "stream": True}
    with running_twin(resetting) as running, _http(timeout=10) as http, \
            pytest.raises(httpx.RemoteProtocolError) as caught, \
            http.stream("POST", f"{running.base_url}/chat/completions", json=body,
                        headers=AUTH) as response:
        assert response.status_code == 200
        for piece in response.iter_raw():
            received.append(piece)
    assert "incomplete chunked read" in str(caught.value)
    assert b"".join(received).count(b"data: ") == 3  # FaultSpec.after_chunks
    assert b"[DONE]" not in b"".join(received)


def test_shutdown_does_not_wait_for_a_stalled_stream() -> None:
    stalling = GLMTwin(TwinConfig(faults=(FaultSpec(Fault.STALL, after_chunks=1, stall_s=60),)))
    body = {"model": MODEL, "messages": HELLO, "stream": True}
    with _http(timeout=10) as http:
        stack = ExitStack()
        running = stack.enter_context(running_twin(stalling))
        with http.stream("POST", f"{running.base_url}/chat/completions", json=body,
                         headers=AUTH) as response:
            assert next(response.iter_raw()).startswith(b"data: ")
        started = time.monotonic()
        stack.close()
        assert time.monotonic() - started < 5


def test_hung_up_zero_delay_stream_is_dropped_quietly(caplog: pytest.LogCaptureFixture) -> None:
    """Without pacing, the rest of a zero-delay stream went to the dead socket: one asyncio
    "socket.send() raised exception." warning per remaining event (19,102 for 20,000)."""
    long_answers = GLMTwin(TwinConfig(style=Style(reply_tokens=20_000, reasoning_tokens=0)))
    body = {"model": MODEL, "messages": HELLO, "stream": True}
    with running_twin(long_answers) as running:
        with _http(timeout=10) as http, http.stream(
            "POST", f"{running.base_url}/chat/completions", json=body, headers=AUTH
        ) as response:
            next(response.iter_raw())
        time.sleep(0.5)
        with _http(timeout=10) as http:  # the loop is not stuck in the dropped stream
            assert http.post(f"{running.base_url}/chat/completions",
                             json={"model": MODEL, "messages": HELLO},
                             headers=AUTH).status_code == 200
    assert not [r for r in caplog.records if "socket.send() raised" in r.getMessage()]


def test_running_twin_is_reusable_and_releases_its_port() -> None:
    ports = []
    for _ in range(3):
        with running_twin(host="localhost") as running:
            ports.append(running.port)
            with _http(timeout=5) as http:
                reply = http.post(f"{running.base_url}/chat/completions",
                                  json={"model": MODEL, "messages": HELLO}, headers=AUTH)
            assert reply.status_code == 200
        with pytest.raises(httpx.ConnectError), _http(timeout=2) as http:
            http.post(f"{running.base_url}/chat/completions", json={})
    assert len(ports) == 3


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.10", "example.com"])
def test_serve_refuses_non_loopback_hosts(host: str) -> None:
    with pytest.raises(UsageError, match="loopback"):
        serve(GLMTwin(), host=host, port=0)
    with pytest.raises(UsageError, match="loopback"), running_twin(host=host):
        pass


# -- command line --------------------------------------------------------------------------------
def test_main_rejects_unknown_fault(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "0", "--fault", "nope"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("glm-harness serve: error: ")
    assert "nope" in lines[0]
    assert "Traceback" not in captured.err + captured.out


@pytest.mark.parametrize("argv", [
    ["--rate-limit", "abc"], ["--rate-limit", "5/0"], ["--locale", "fr"], ["--port", "x"],
    ["--ttft-ms", "-1"], ["--max-concurrency", "0"], ["--fault", "stall:x"],
    ["--host", "0.0.0.0", "--port", "0"],
])
def test_main_bad_values_exit_2_with_one_line(argv: list[str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert captured.err.startswith("glm-harness serve: error: ")
    assert "Traceback" not in captured.err
    assert TWIN_KEY not in captured.err + captured.out


def test_config_from_args() -> None:
    import argparse

    parser = add_serve_arguments(argparse.ArgumentParser())
    args = parser.parse_args([
        "--ttft-ms", "250", "--itl-ms", "20", "--jitter", "0.3", "--seed", "7",
        "--fault", "reset_mid_stream", "--fault", "rate_limit_burst:5",
        "--rate-limit", "10/30", "--max-concurrency", "4", "--retry-after",
        "--locale", "zh", "--reply-tokens", "100", "--reasoning-tokens", "0",
    ])
    config = config_from_args(args)
    assert (config.timing.ttft_ms, config.timing.itl_ms, config.timing.jitter,
            config.timing.seed) == (250, 20, 0.3, 7)
    assert [f.fault for f in config.faults] == [Fault.RESET_MID_STREAM, Fault.RATE_LIMIT_BURST]
    assert config.faults[1].times == 5
    assert config.limits == Limits(requests=10, per_seconds=30, max_concurrency=4,
                                   retry_after=True)
    assert config.locale == "zh"
    assert (config.style.reply_tokens, config.style.reasoning_tokens) == (100, 0)
    defaults = config_from_args(parser.parse_args([]))
    assert defaults.limits == Limits() and defaults.faults == () and defaults.timing.ttft_ms == 0
    assert args.host == "127.0.0.1" and args.port == 8000
