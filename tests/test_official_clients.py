"""The official Python clients against the twin over HTTP (`glm-harness serve`'s server).

`openai` and `zai-sdk` run in this environment: plain, streaming, thinking, tool calls, parallel
tool calls, tool_stream, a second turn, and each error status mapped to the client's own
exception class. Any twin output a client rejects is a bug in the twin. Then what each client does
on a 429, with its default `max_retries`: how many requests it sends, with and without
`Retry-After` (the sleeps are recorded, not slept: counts and classes are asserted, never wall
clock; benchmarks/client_429_behaviour.py measures the real delays).

`zhipuai` pins `pyjwt<2.9`, which conflicts with zai-sdk, so it lives in its own virtual
environment; point `ZHIPUAI_PYTHON` at that environment's python to run its probe here.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from harness.client import tls_context
from harness.mock import (
    EMPTY_BALANCE_KEY,
    TWIN_KEY,
    Fault,
    FaultSpec,
    GLMTwin,
    Limits,
    TwinConfig,
)
from harness.mock.server import RunningTwin, running_twin

try:
    import zai
    from zai.core import _errors as zai_errors
except ImportError:  # the openai half still runs; the zai-sdk half says why it cannot
    zai = zai_errors = None

needs_zai = pytest.mark.skipif(zai is None, reason="zai-sdk is not installed: pip install -e '.[dev]'")

MODEL = "glm-4.6"
UNKNOWN_KEY = "00000000000000000000000000000000.glmHarnessNoSuchKey"
TOOLS = Path(__file__).resolve().parents[1] / "fixtures" / "tools"
BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "client_429_behaviour.py"


def _tool(name: str) -> dict[str, Any]:
    return json.loads((TOOLS / f"{name}.json").read_text())


def _ask(text: str, **params: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **params}


WEATHER = "What's the weather in Florence, Italy?"
PARALLEL = "Add and multiply the numbers 2 and 3: call the add and the multiply tools at the same time."


# -- the two clients behind one small interface -----------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Client:
    name: str
    default_retries: int
    errors: dict[int, type[BaseException]]
    rate_limit: type[BaseException]
    make: Callable[..., Any]
    create: Callable[[Any, dict[str, Any]], Any]

    def __str__(self) -> str:
        return self.name


_OPENAI_PARAMS = {"model", "messages", "stream", "tools", "tool_choice", "max_tokens", "temperature",
                  "top_p", "stop", "response_format", "user"}


# Each client gets the harness's one TLS context (`http_client`, with each SDK's own defaults
# otherwise): built per client, it loads the CA bundle, about 40 ms of CPU in each of 64 tests.
def _openai_make(base_url: str, key: str | None, max_retries: int | None = None) -> Any:
    kwargs = {} if max_retries is None else {"max_retries": max_retries}
    return openai.OpenAI(base_url=base_url, api_key=key or "", **kwargs,
                         http_client=openai.DefaultHttpxClient(verify=tls_context()))


def _openai_create(sdk: Any, body: dict[str, Any]) -> Any:
    """GLM's own parameters (thinking, tool_stream, do_sample) go in `extra_body`."""
    known = {k: v for k, v in body.items() if k in _OPENAI_PARAMS}
    extra = {k: v for k, v in body.items() if k not in _OPENAI_PARAMS}
    return sdk.chat.completions.create(**known, extra_body=extra or None)


def _zai_make(base_url: str, key: str | None, max_retries: int | None = None) -> Any:
    kwargs = {} if max_retries is None else {"max_retries": max_retries}
    return zai.ZaiClient(base_url=base_url, api_key=key or "", **kwargs,
                         http_client=httpx.Client(verify=tls_context()))


def _zai_create(sdk: Any, body: dict[str, Any]) -> Any:
    return sdk.chat.completions.create(**body)


OPENAI = Client(
    "openai", default_retries=2,
    errors={400: openai.BadRequestError, 401: openai.AuthenticationError, 429: openai.RateLimitError,
            500: openai.InternalServerError},
    rate_limit=openai.RateLimitError, make=_openai_make, create=_openai_create)
ZAI = Client(
    "zai-sdk", default_retries=3,
    errors={400: zai_errors.APIRequestFailedError, 401: zai_errors.APIAuthenticationError,
            429: zai_errors.APIReachLimitError, 500: zai_errors.APIInternalError},
    rate_limit=zai_errors.APIReachLimitError, make=_zai_make, create=_zai_create,
) if zai_errors is not None else None
CLIENTS = [pytest.param(OPENAI, id="openai"), pytest.param(ZAI, id="zai-sdk", marks=needs_zai)]


@pytest.fixture(scope="module")
def served() -> Iterator[RunningTwin]:
    with running_twin(GLMTwin()) as running:
        yield running


@pytest.fixture
def twin(served: RunningTwin) -> Iterator[RunningTwin]:
    served.twin.reset(TwinConfig())
    yield served
    served.twin.reset(TwinConfig())


@pytest.fixture(params=CLIENTS)
def client(request: pytest.FixtureRequest) -> Client:
    return request.param


@pytest.fixture
def sdk(client: Client, twin: RunningTwin) -> Iterator[Any]:
    made = client.make(twin.base_url, TWIN_KEY, max_retries=0)
    yield made
    made.close()


def _chunks(stream: Any) -> list[Any]:
    return list(stream)


def _assemble(chunks: list[Any]) -> dict[str, Any]:
    """What a client program does with the chunks: join text, reasoning and tool calls by index."""
    content, reasoning, calls, finish, usage = "", "", {}, None, None
    order: list[str] = []
    for chunk in chunks:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            delta = choice.delta
            if getattr(delta, "reasoning_content", None):
                reasoning += delta.reasoning_content
                order.append("reasoning")
            if delta.content:
                content += delta.content
                if delta.content.strip():
                    order.append("content")
            for call in delta.tool_calls or ():
                slot = calls.setdefault(call.index, {"id": None, "name": "", "arguments": ""})
                slot["id"] = slot["id"] or call.id
                if call.function is not None:
                    slot["name"] += call.function.name or ""
                    slot["arguments"] += call.function.arguments or ""
            finish = choice.finish_reason or finish
    return {"content": content, "reasoning": reasoning, "calls": [calls[i] for i in sorted(calls)],
            "finish_reason": finish, "usage": usage, "order": order}


# -- answers ----------------------------------------------------------------------------------------
def test_plain_completion(client: Client, sdk: Any) -> None:
    answer = client.create(sdk, _ask("Say hello", thinking={"type": "disabled"}, max_tokens=64))
    choice = answer.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason == "stop" and answer.model == MODEL and answer.id
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    assert answer.usage.prompt_tokens_details.cached_tokens >= 0


def test_streaming_completion(client: Client, sdk: Any) -> None:
    chunks = _chunks(client.create(sdk, _ask("Say hello", stream=True, thinking={"type": "disabled"})))
    assembled = _assemble(chunks)
    assert len(chunks) > 2 and assembled["content"] and assembled["finish_reason"] == "stop"
    assert chunks[-1].usage is not None and assembled["usage"].total_tokens > 0
    assert {c.id for c in chunks} == {chunks[0].id}


def test_thinking_completion(client: Client, sdk: Any) -> None:
    message = client.create(sdk, _ask("What is 17 * 23?", thinking={"type": "enabled"})).choices[0].message
    assert getattr(message, "reasoning_content", None), f"{client}: no reasoning_content on the message"
    assert message.content


def test_thinking_stream_reasons_before_it_answers(client: Client, sdk: Any) -> None:
    assembled = _assemble(_chunks(client.create(sdk, _ask("What is 17 * 23?", stream=True,
                                                          thinking={"type": "enabled"}))))
    assert assembled["reasoning"] and assembled["content"]
    assert assembled["order"].index("content") > assembled["order"].index("reasoning")
    assert "reasoning" not in assembled["order"][assembled["order"].index("content"):]


def test_thinking_disabled_has_no_reasoning(client: Client, sdk: Any) -> None:
    message = client.create(sdk, _ask("Say hi", thinking={"type": "disabled"})).choices[0].message
    assert not getattr(message, "reasoning_content", None)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_tool_call(client: Client, sdk: Any, stream: bool) -> None:
    answer = client.create(sdk, _ask(WEATHER, tools=[_tool("weather")], tool_choice="auto", stream=stream))
    if stream:
        assembled = _assemble(_chunks(answer))
        calls, finish = assembled["calls"], assembled["finish_reason"]
    else:
        message = answer.choices[0].message
        calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                 for c in message.tool_calls]
        finish = answer.choices[0].finish_reason
    assert finish == "tool_calls" and [c["name"] for c in calls] == ["weather"]
    assert calls[0]["id"] and "location" in json.loads(calls[0]["arguments"])


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_parallel_tool_calls(client: Client, sdk: Any, stream: bool) -> None:
    answer = client.create(sdk, _ask(PARALLEL, tools=[_tool("add"), _tool("multiply")], stream=stream))
    if stream:
        calls = _assemble(_chunks(answer))["calls"]
    else:
        calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                 for c in answer.choices[0].message.tool_calls]
    assert sorted(c["name"] for c in calls) == ["add", "multiply"]
    assert len({c["id"] for c in calls}) == 2
    assert all(json.loads(c["arguments"]) == {"a": 2, "b": 3} for c in calls)


def test_tool_stream_fragments_join_into_json(client: Client, sdk: Any) -> None:
    chunks = _chunks(client.create(sdk, _ask(WEATHER, tools=[_tool("weather")], stream=True, tool_stream=True)))
    assembled = _assemble(chunks)
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.tool_calls) > 1
    assert json.loads(assembled["calls"][0]["arguments"])["location"]


def test_second_turn_with_the_tool_result(client: Client, sdk: Any) -> None:
    first = client.create(sdk, _ask(WEATHER, tools=[_tool("weather")])).choices[0].message
    call = first.tool_calls[0]
    body = _ask(WEATHER, tools=[_tool("weather")])
    body["messages"] += [
        {"role": "assistant", "content": first.content, "reasoning_content": getattr(first, "reasoning_content", None),
         "tool_calls": [{"id": call.id, "type": "function",
                         "function": {"name": call.function.name, "arguments": call.function.arguments}}]},
        {"role": "tool", "tool_call_id": call.id, "content": "40 C, sunny"},
    ]
    second = client.create(sdk, body)
    assert second.choices[0].finish_reason == "stop" and "40 C" in second.choices[0].message.content


@pytest.mark.filterwarnings("ignore:The HMAC key is")
@needs_zai
def test_jwt_token_auth_is_accepted(twin: RunningTwin) -> None:
    with zai.ZaiClient(base_url=twin.base_url, api_key=TWIN_KEY, max_retries=0,
                       disable_token_cache=False, http_client=httpx.Client(verify=tls_context())) as sdk:
        answer = sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert twin.twin.requests[-1].headers["authorization"].count(".") == 2  # a JWT went out
    assert answer.choices[0].message.content


@needs_zai
def test_zai_sends_thinking_null_and_clamped_sampling_and_the_twin_accepts_them(twin: RunningTwin) -> None:
    """zai-sdk always sends `"thinking": null` and `"response_format": null`, clamps temperature and
    top_p into (0, 1), and turns temperature 0 into do_sample false: the twin must take all that."""
    with _zai_make(twin.base_url, TWIN_KEY, max_retries=0) as sdk:
        for temperature, top_p in ((1.0, 1.0), (0.0, 0.0), (0.7, 0.9)):
            answer = sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                                 temperature=temperature, top_p=top_p)
            assert answer.choices[0].message.content
    sent = [json.loads(r.body) for r in twin.twin.requests]
    assert all(s["thinking"] is None and s["response_format"] is None for s in sent)
    assert [(s["temperature"], s["top_p"]) for s in sent] == [(0.99, 0.99), (0.01, 0.01), (0.7, 0.9)]
    assert sent[1]["do_sample"] is False


# -- errors: each status becomes the client's own exception ---------------------------------------------
ERRORS = {
    "400-unknown-model": (400, "1211", {"model": "glm-nonexistent"}, TWIN_KEY, None),
    "400-max_tokens": (400, "1210", {"max_tokens": 10_000_000}, TWIN_KEY, None),
    "401-unknown-key": (401, "1000", {}, UNKNOWN_KEY, None),
    "429-empty-balance": (429, "1113", {}, EMPTY_BALANCE_KEY, None),
    "429-rate-limit": (429, "1302", {}, TWIN_KEY, TwinConfig(limits=Limits(requests=1, per_seconds=60))),
    "500-server-error": (500, "500", {}, TWIN_KEY, TwinConfig(faults=(FaultSpec(Fault.SERVER_ERROR_BURST),))),
}


def _error_code(client: Client, error: BaseException) -> str | None:
    if client is OPENAI:
        return getattr(error, "code", None)
    return json.loads(error.response.text)["error"]["code"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("status", "code", "override", "key", "config"), ERRORS.values(), ids=ERRORS)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_error_status_maps_to_the_clients_exception(client: Client, twin: RunningTwin, status: int, code: str,
                                                    override: dict[str, Any], key: str, config: TwinConfig | None,
                                                    stream: bool) -> None:
    if config is not None:
        twin.twin.reset(config)
    with client.make(twin.base_url, key, max_retries=0) as sdk:
        if code == "1302":
            client.create(sdk, _ask("Say hi"))  # uses up the window
        with pytest.raises(client.errors[status]) as caught:
            _chunks(client.create(sdk, {**_ask("Say hi", stream=stream), **override}))
    assert caught.value.status_code == status  # type: ignore[attr-defined]
    assert _error_code(client, caught.value) == code


def test_malformed_key_is_an_authentication_error(client: Client, twin: RunningTwin) -> None:
    """(An empty key never reaches the server: openai refuses it, zai-sdk's `Bearer ` header is
    refused by h11 as an illegal header value.)"""
    with client.make(twin.base_url, "not-a-key", max_retries=0) as sdk, \
            pytest.raises(client.errors[401]) as caught:
        client.create(sdk, _ask("Say hi"))
    assert _error_code(client, caught.value) == "1002"


# -- 429: how many requests does each client send, with its default max_retries? ------------------------
@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The clients' back-off sleeps, recorded instead of slept (main thread only: the twin's
    server thread keeps the real clock)."""
    asked: list[float] = []
    real_sleep = time.sleep

    def fake(seconds: float) -> None:
        if threading.current_thread() is threading.main_thread():
            asked.append(seconds)
        else:
            real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", fake)
    return asked


RATE_CASES = {
    "1302-no-retry-after": (TwinConfig(limits=Limits(requests=1, per_seconds=60)), TWIN_KEY, True),
    "1302-retry-after": (TwinConfig(limits=Limits(requests=1, per_seconds=60, retry_after=True)), TWIN_KEY, True),
    "1113-empty-balance": (TwinConfig(), EMPTY_BALANCE_KEY, False),
}


@pytest.mark.parametrize(("config", "key", "prime"), RATE_CASES.values(), ids=RATE_CASES)
def test_429_attempts_with_default_retries(client: Client, twin: RunningTwin, sleeps: list[float],
                                           config: TwinConfig, key: str, prime: bool) -> None:
    twin.twin.reset(config)
    with client.make(twin.base_url, key) as sdk:
        if prime:
            client.create(sdk, _ask("Say hi"))
        before = len(twin.twin.requests)
        with pytest.raises(client.rate_limit):
            client.create(sdk, _ask("Say hi"))
    attempts = len(twin.twin.requests) - before
    # Both retry every 429, 1113 ("balance empty, never retry") included: the code is not read.
    assert attempts == 1 + client.default_retries, f"{client}: {attempts} requests for one 429"
    assert len(sleeps) == client.default_retries


def test_openai_honours_retry_after_and_zai_ignores_it(client: Client, twin: RunningTwin,
                                                       sleeps: list[float]) -> None:
    twin.twin.reset(TwinConfig(limits=Limits(requests=1, per_seconds=60, retry_after=True)))
    with client.make(twin.base_url, TWIN_KEY) as sdk:
        client.create(sdk, _ask("Say hi"))
        with pytest.raises(client.rate_limit) as caught:
            client.create(sdk, _ask("Say hi"))
    retry_after = float(caught.value.response.headers["retry-after"])  # type: ignore[attr-defined]
    if client is OPENAI:
        assert sleeps == [retry_after] * client.default_retries
    else:
        assert all(s < retry_after for s in sleeps), f"zai-sdk is not expected to read Retry-After: {sleeps}"


def test_server_errors_are_retried_too(client: Client, twin: RunningTwin, sleeps: list[float]) -> None:
    twin.twin.reset(TwinConfig(faults=(FaultSpec(Fault.SERVER_ERROR_BURST),)))
    with client.make(twin.base_url, TWIN_KEY) as sdk, pytest.raises(client.errors[500]):
        client.create(sdk, _ask("Say hi"))
    assert len(twin.twin.requests) == 1 + client.default_retries


def test_openai_retry_succeeds_once_the_window_reopens(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry-After says when; a client that waits that long gets through. The twin's clock is
    advanced by the client's sleep instead of by waiting."""
    clock = [0.0]
    real_sleep = time.sleep

    def advancing_sleep(seconds: float) -> None:
        if threading.current_thread() is threading.main_thread():
            clock[0] += seconds
        else:
            real_sleep(seconds)

    limited = GLMTwin(TwinConfig(limits=Limits(requests=1, per_seconds=60, retry_after=True)),
                      clock=lambda: clock[0])
    with running_twin(limited) as running, _openai_make(running.base_url, TWIN_KEY) as sdk:
        monkeypatch.setattr(time, "sleep", advancing_sleep)  # once the server is up
        sdk.chat.completions.create(**_ask("Say hi"))
        answer = sdk.chat.completions.create(**_ask("Say hi"))
    assert answer.choices[0].message.content
    assert len(limited.requests) == 3, "one request, then one 429 and one retry after Retry-After"


# -- zhipuai, in its own environment ---------------------------------------------------------------
def _bench_module() -> Any:
    spec = importlib.util.spec_from_file_location("client_429_behaviour", BENCH)
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    if spec.name not in sys.modules:
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not os.environ.get("ZHIPUAI_PYTHON"),
                    reason="set ZHIPUAI_PYTHON to a python with zhipuai installed (it conflicts with zai-sdk)")
def test_zhipuai_in_its_own_environment(twin: RunningTwin) -> None:
    bench = _bench_module()
    python = os.environ["ZHIPUAI_PYTHON"]
    result = bench.zhipuai_probe(python, twin.base_url, TWIN_KEY, "features")
    assert result["plain"]["content"] and result["plain"]["finish_reason"] == "stop"
    assert result["stream"]["chunks"] > 2 and result["stream"]["usage"]
    assert result["thinking"]["reasoning"]
    assert sorted(result["parallel"]["names"]) == ["add", "multiply"]
    assert result["errors"] == {"400": "APIRequestFailedError", "401": "APIAuthenticationError",
                                "429": "APIReachLimitError"}
    # zhipuai's documented JWT mode (disable_token_cache=False) is accepted like the raw key.
    assert result["jwt"]["error"] is None


def test_zhipuai_probe_script_is_valid_python() -> None:
    compile(_bench_module().ZHIPUAI_SCRIPT, "zhipuai_probe", "exec")


def test_openai_sends_its_retry_count_header(twin: RunningTwin, sleeps: list[float]) -> None:
    twin.twin.reset(TwinConfig(faults=(FaultSpec(Fault.SERVER_ERROR_BURST),)))
    with _openai_make(twin.base_url, TWIN_KEY) as sdk, pytest.raises(openai.InternalServerError):
        sdk.chat.completions.create(**_ask("Say hi"))
    counts = [r.headers.get("x-stainless-retry-count") for r in twin.twin.requests]
    assert counts == ["0", "1", "2"]

