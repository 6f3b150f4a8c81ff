"""Tool calls: single and parallel, tool_choice, streamed deltas, arguments that match the tool's
parameter schema, and a second turn that sends the result back."""

from __future__ import annotations

import pytest

from harness.checks import Observed

from ._requests import ONLY_OPENAI, PARALLEL_QUESTION, ROOMY, WEATHER_QUESTION, ask, tool

pytestmark = ONLY_OPENAI  # the Messages surface's tool_use blocks: test_messages.py


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_single_tool_call(glm_client, glm_check, stream) -> None:
    exchange = glm_client.send(ask(WEATHER_QUESTION, tools=[tool("weather")], tool_choice="auto",
                                   max_tokens=ROOMY, stream=stream))
    # tool_call_conformance: the call, its id and index, arguments against the tool's schema
    glm_check(exchange, tool_calls=("weather",), finish_reason="tool_calls")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_parallel_tool_calls(glm_client, glm_check, stream) -> None:
    exchange = glm_client.send(ask(PARALLEL_QUESTION, tools=[tool("add"), tool("multiply")],
                                   tool_choice="auto", max_tokens=ROOMY, stream=stream))
    glm_check(exchange, tool_calls=("add", "multiply"), finish_reason="tool_calls")


def test_tool_choice_omitted_means_auto(glm_client, glm_check) -> None:
    exchange = glm_client.send(ask(WEATHER_QUESTION, tools=[tool("weather")], max_tokens=ROOMY))
    glm_check(exchange, tool_calls=("weather",), finish_reason="tool_calls")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_forced_tool_choice_calls_that_tool(glm_client, glm_check, stream) -> None:
    # OpenAI documents a named tool_choice; GLM documents "auto" only, but calls the named tool
    # (recorded: glm-4.5, glm-4.7-flash, 2025-2026). The question does not ask for it.
    forced = {"type": "function", "function": {"name": "add"}}
    exchange = glm_client.send(ask(WEATHER_QUESTION, tools=[tool("weather"), tool("add")], tool_choice=forced,
                                   max_tokens=ROOMY, stream=stream))
    glm_check(exchange, tool_calls=("add",), finish_reason="tool_calls")


def test_tool_choice_required_calls_a_tool(glm_client, glm_check, glm_target) -> None:
    if glm_target.profile == "glm":
        pytest.skip("GLM refuses tool_choice 'required' (400 1210): test_errors holds that")
    exchange = glm_client.send(ask("Say hi", tools=[tool("weather")], tool_choice="required", max_tokens=ROOMY))
    glm_check(exchange, tool_calls=("weather",), finish_reason="tool_calls")


def test_tool_stream_sends_argument_fragments(glm_client, glm_check, card) -> None:
    if card.name != "glm-4.6" and not card.name.startswith(("glm-4.7", "glm-5")):
        pytest.skip(f"tool_stream is documented for glm-4.6 and later, not {card.name}")
    exchange = glm_client.send(ask(WEATHER_QUESTION, tools=[tool("weather")], max_tokens=ROOMY,
                                   stream=True, tool_stream=True))
    glm_check(exchange, tool_calls=("weather",), fragments=True)


def test_second_turn_with_the_tool_result(glm_client, glm_check) -> None:
    first = glm_client.send(ask(WEATHER_QUESTION, tools=[tool("weather")], max_tokens=ROOMY))
    glm_check(first, tool_calls=("weather",))  # fails here, by name, when there is no call to answer
    call = (Observed(first).message() or {})["tool_calls"][0]
    body = ask(WEATHER_QUESTION, tools=[tool("weather")], max_tokens=ROOMY)
    body["messages"] += [
        {"role": "assistant", "tool_calls": [{k: call[k] for k in ("id", "type", "function")}]},
        {"role": "tool", "tool_call_id": call["id"], "content": "40 C"},
    ]
    glm_check(glm_client.send(body), finish_reason="stop", content=True)
