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
