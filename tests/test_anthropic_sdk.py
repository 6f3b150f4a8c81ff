"""The official `anthropic` SDK against the twin's Anthropic-compatible surface, over HTTP.

What Claude Code and every Messages-API client does with GLM: plain and streamed answers, a
forced tool, the `tool_result` turn, thinking, and each error status mapped to the SDK's own
exception class. Any twin output the SDK rejects, or assembles into something other than what
the twin meant, is a bug in the twin.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from harness.client import tls_context
from harness.mock import TWIN_KEY, Fault, FaultSpec, GLMTwin, Limits, TwinConfig
from harness.mock.server import RunningTwin, running_twin

MODEL = "glm-4.6"
UNKNOWN_KEY = "00000000000000000000000000000000.glmHarnessNoSuchKey"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Get the current weather in a given location.",
    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}},
                     "required": ["location"]},
}
ADD_TOOL = {
    "name": "add",
    "description": "Add two numbers.",
    "input_schema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                     "required": ["a", "b"]},
}


@pytest.fixture(scope="module")
def served() -> Iterator[RunningTwin]:
    with running_twin(GLMTwin()) as running:
        yield running


@pytest.fixture
def twin(served: RunningTwin) -> Iterator[RunningTwin]:
    served.twin.reset(TwinConfig())
    yield served
    served.twin.reset(TwinConfig())


def _client(twin: RunningTwin, key: str = TWIN_KEY) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=twin.anthropic_base_url, api_key=key, max_retries=0,
                               http_client=anthropic.DefaultHttpxClient(verify=tls_context()))


@pytest.fixture
def sdk(twin: RunningTwin) -> Iterator[anthropic.Anthropic]:
    with _client(twin) as client:
        yield client


def _ask(text: str, **params: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 256, "messages": [{"role": "user", "content": text}], **params}


# -- answers ----------------------------------------------------------------------------------------
def test_plain_message(sdk: anthropic.Anthropic) -> None:
    message = sdk.messages.create(**_ask("Say hi in Portuguese"))
    assert message.id.startswith("msg_")
    assert message.type == "message" and message.role == "assistant" and message.model == MODEL
    assert [b.type for b in message.content] == ["text"] and message.content[0].text.strip()
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert message.usage.cache_read_input_tokens == 0
    assert message.usage.service_tier == "standard"


def test_stream_assembles_to_the_plain_answer(sdk: anthropic.Anthropic) -> None:
    plain = sdk.messages.create(**_ask("Name three colours."))
    with sdk.messages.stream(**_ask("Name three colours.")) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert kinds.count("content_block_delta") >= 2
    assert final.content[0].text == plain.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    # the counts come in message_delta (message_start's are GLM's zeros); the SDK adds them up
    assert final.usage.output_tokens == plain.usage.output_tokens


def test_text_stream_yields_the_text(sdk: anthropic.Anthropic) -> None:
    with sdk.messages.stream(**_ask("Say hi")) as stream:
        text = "".join(stream.text_stream)
    assert text.strip()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_forced_tool(sdk: anthropic.Anthropic, stream: bool) -> None:
    body = _ask("How's the weather in Paris?", tools=[WEATHER_TOOL, ADD_TOOL],
                tool_choice={"type": "tool", "name": "get_weather"})
    if stream:
        with sdk.messages.stream(**body) as events:
            message = events.get_final_message()
    else:
        message = sdk.messages.create(**body)
    calls = [b for b in message.content if b.type == "tool_use"]
    assert [c.name for c in calls] == ["get_weather"]
    assert calls[0].id.startswith("call_") and len(calls[0].id) == len("call_") + 24
    assert calls[0].input == {"location": "Paris"}
    assert message.stop_reason == "tool_use"
    # glm-4.x writes a sentence before the call (what the plan holds; glm-5.x would not)
    assert [b.type for b in message.content] == ["text", "tool_use"]


def test_tool_choice_none_calls_no_tool(sdk: anthropic.Anthropic) -> None:
    message = sdk.messages.create(**_ask("How's the weather in Paris?", tools=[WEATHER_TOOL],
                                         tool_choice={"type": "none"}))
    assert [b.type for b in message.content] == ["text"] and message.stop_reason == "end_turn"


def test_tool_choice_any_calls_a_tool(sdk: anthropic.Anthropic) -> None:
    message = sdk.messages.create(**_ask("Tell me something.", tools=[WEATHER_TOOL],
                                         tool_choice={"type": "any"}))
    assert message.stop_reason == "tool_use"
    assert [b.name for b in message.content if b.type == "tool_use"] == ["get_weather"]


def test_tool_result_turn(sdk: anthropic.Anthropic) -> None:
    question = {"role": "user", "content": "How's the weather in Paris?"}
    first = sdk.messages.create(model=MODEL, max_tokens=256, messages=[question],  # type: ignore[list-item]
                                tools=[WEATHER_TOOL])  # type: ignore[list-item]
    call = next(b for b in first.content if b.type == "tool_use")
    second = sdk.messages.create(
        model=MODEL, max_tokens=256, tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[question,  # type: ignore[list-item]
                  {"role": "assistant", "content": [b.model_dump() for b in first.content]},  # type: ignore[misc]
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                                "content": "24℃, sunny"}]}])
    assert second.stop_reason == "end_turn"
    assert [b.type for b in second.content] == ["text"]
    assert "24℃, sunny" in second.content[0].text  # type: ignore[union-attr]
    # the second turn repeats the first one's prefix: GLM reads it from its cache
    assert second.usage.cache_read_input_tokens and second.usage.cache_read_input_tokens > 0


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_thinking(sdk: anthropic.Anthropic, stream: bool) -> None:
    body = _ask("What is 17*23?", max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024})
    if stream:
        with sdk.messages.stream(**body) as events:
            deltas = {e.delta.type for e in events if e.type == "content_block_delta"}
            message = events.get_final_message()
        assert {"thinking_delta", "signature_delta", "text_delta"} <= deltas
    else:
        message = sdk.messages.create(**body)
    assert [b.type for b in message.content] == ["thinking", "text"]
    thinking = message.content[0]
    assert thinking.thinking.strip() and len(thinking.signature) == 24  # type: ignore[union-attr]


def test_no_thinking_unless_asked(sdk: anthropic.Anthropic) -> None:
    message = sdk.messages.create(**_ask("What is 17*23?"))
    assert [b.type for b in message.content] == ["text"]


def test_max_tokens_cuts_the_answer(sdk: anthropic.Anthropic) -> None:
    message = sdk.messages.create(**_ask("Count from one to fifty in words.", max_tokens=5))
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 5


def test_bearer_auth_as_claude_code_sends_it(twin: RunningTwin) -> None:
    """Claude Code with ANTHROPIC_AUTH_TOKEN sends `Authorization: Bearer`, and appends ?beta=true."""
    with anthropic.Anthropic(base_url=twin.anthropic_base_url, api_key=None, auth_token=TWIN_KEY,
                             max_retries=0, http_client=anthropic.DefaultHttpxClient(verify=tls_context())) as sdk:
        message = sdk.beta.messages.create(**_ask("Say hi"))
    assert message.stop_reason == "end_turn"


def test_sdk_default_path_works(twin: RunningTwin) -> None:
    """The SDK's own path, /v1/messages at the server's root, reaches the same surface."""
    root = twin.anthropic_base_url.removesuffix("/api/anthropic")
    with anthropic.Anthropic(base_url=root, api_key=TWIN_KEY, max_retries=0,
                             http_client=anthropic.DefaultHttpxClient(verify=tls_context())) as sdk:
        assert sdk.messages.create(**_ask("Say hi")).stop_reason == "end_turn"


# -- errors -----------------------------------------------------------------------------------------
# The SDK's class for 529 (OverloadedError since 0.4x; InternalServerError, 5xx, before it).
OVERLOADED = getattr(anthropic, "OverloadedError", anthropic.InternalServerError)
ERRORS = {
    "401-unknown-key": (anthropic.AuthenticationError, 401, None, UNKNOWN_KEY, None),
    "400-unknown-model": (anthropic.BadRequestError, 400, "1211", TWIN_KEY, None),
    "429-rate-limit": (anthropic.RateLimitError, 429, "1302", TWIN_KEY,
                       TwinConfig(limits=Limits(requests=1, per_seconds=60))),
    "429-usage-limit": (anthropic.RateLimitError, 429, "1308", TWIN_KEY,
                        TwinConfig(faults=(FaultSpec(Fault.FIVE_HOUR_LIMIT),))),
    "529-overloaded": (OVERLOADED, 529, "1305", TWIN_KEY,
                       TwinConfig(faults=(FaultSpec(Fault.OVERLOADED),))),
}


@pytest.mark.parametrize(("error", "status", "code", "key", "config"), ERRORS.values(), ids=ERRORS)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_error_status_maps_to_the_sdks_exception(twin: RunningTwin, error: type[anthropic.APIStatusError],
                                                  status: int, code: str | None, key: str,
                                                  config: TwinConfig | None, stream: bool) -> None:
    if config is not None:
        twin.twin.reset(config)
    body = _ask("Say hi") | ({"model": "glm-nonexistent"} if code == "1211" else {})
    with _client(twin, key) as sdk:
        if code == "1302":
            sdk.messages.create(**_ask("Say hi"))  # uses up the window
        with pytest.raises(error) as caught:
            if stream:
                with sdk.messages.stream(**body) as events:
                    list(events)
            else:
                sdk.messages.create(**body)
    assert caught.value.status_code == status
    envelope = caught.value.body
    assert isinstance(envelope, dict)
    if code is None:  # the recorded 401: no business code
        assert envelope == {"error": {"message": "令牌已过期或验证不正确", "type": "401"}}
    else:  # today's envelope: Anthropic's, GLM's code inside
        assert envelope["type"] == "error" and envelope["error"]["code"] == code
        assert envelope["error"]["message"].startswith(f"[{code}][")
        assert envelope["error"]["message"].endswith(f"][{envelope['request_id']}]")


def test_2025_profile_answers_errors_in_glms_envelope() -> None:
    with running_twin(GLMTwin(profile="2025")) as served, _client(served) as sdk, \
            pytest.raises(anthropic.BadRequestError) as caught:
        sdk.messages.create(**_ask("Say hi", model="glm-nonexistent"))
    body = caught.value.body
    assert isinstance(body, dict) and body["error"]["code"] == "1211" and "type" not in body
    assert body["request_id"]


def test_sdk_retries_a_429_with_its_default_retries(twin: RunningTwin, monkeypatch: pytest.MonkeyPatch) -> None:
    """With its default retries (2) the SDK sends a rate-limited request three times."""
    monkeypatch.setattr(anthropic._base_client.time, "sleep", lambda s: None)  # type: ignore[attr-defined]
    twin.twin.reset(TwinConfig(faults=(FaultSpec(Fault.RATE_LIMIT_BURST),)))
    with anthropic.Anthropic(base_url=twin.anthropic_base_url, api_key=TWIN_KEY,
                             http_client=anthropic.DefaultHttpxClient(verify=tls_context())) as sdk, \
            pytest.raises(anthropic.RateLimitError):
        sdk.messages.create(**_ask("Say hi"))
    assert len(twin.twin.requests) == 3


def test_async_client_streams_the_same(twin: RunningTwin) -> None:
    import asyncio

    async def run() -> Any:
        sdk = anthropic.AsyncAnthropic(base_url=twin.anthropic_base_url, api_key=TWIN_KEY, max_retries=0,
                                       http_client=anthropic.DefaultAsyncHttpxClient(verify=tls_context()))
        async with sdk, sdk.messages.stream(**_ask("Name three colours.")) as stream:
            return await stream.get_final_message()

    message = asyncio.run(run())
    assert message.stop_reason == "end_turn" and message.content[0].text.strip()  # type: ignore[union-attr]
