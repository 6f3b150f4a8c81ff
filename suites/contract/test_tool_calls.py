"""Tool calls: single and parallel, tool_choice, streamed deltas, arguments that match the tool's
parameter schema, and a second turn that sends the result back."""

from __future__ import annotations

import json

import pytest

from harness.stream import assemble

from ._requests import PARALLEL_QUESTION, ROOMY, WEATHER_QUESTION, ask, tool


def _calls(exchange) -> list[dict]:  # type: ignore[no-untyped-def]
    if exchange.streamed:
        return [c.to_wire() for c in assemble(e.event for e in exchange.events).tool_calls]
    return exchange.json()["choices"][0]["message"].get("tool_calls", [])


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_single_tool_call(glm_client, glm_check, stream) -> None:
    exchange = glm_client.send(ask(WEATHER_QUESTION, tools=[tool("weather")], tool_choice="auto",
                                   max_tokens=ROOMY, stream=stream))
    glm_check(exchange)  # tool_call_conformance checks the arguments against the schema
    calls = _calls(exchange)
    assert [c["function"]["name"] for c in calls] == ["weather"], f"expected one weather call: {calls}"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_parallel_tool_calls(glm_client, glm_check, stream) -> None:
    exchange = glm_client.send(ask(PARALLEL_QUESTION, tools=[tool("add"), tool("multiply")],
                                   tool_choice="auto", max_tokens=ROOMY, stream=stream))
    glm_check(exchange)
    calls = _calls(exchange)
    assert {c["function"]["name"] for c in calls} == {"add", "multiply"}, f"expected add and multiply: {calls}"
    assert [c.get("index") for c in calls] == list(range(len(calls))), "tool calls must be indexed 0..n-1"


def test_tool_choice_omitted_means_auto(glm_client, glm_check) -> None:
    exchange = glm_client.send(ask(WEATHER_QUESTION, tools=[tool("weather")], max_tokens=ROOMY))
    glm_check(exchange)
    assert exchange.json()["choices"][0]["finish_reason"] == "tool_calls"


def test_tool_stream_sends_argument_fragments(glm_client, glm_check, card) -> None:
    if card.name != "glm-4.6" and not card.name.startswith(("glm-4.7", "glm-5")):
        pytest.skip(f"tool_stream is documented for glm-4.6 and later, not {card.name}")
    exchange = glm_client.send(ask(WEATHER_QUESTION, tools=[tool("weather")], max_tokens=ROOMY,
                                   stream=True, tool_stream=True))
    glm_check(exchange)
    deltas = [json.loads(e.event.data) for e in exchange.data_events() if '"tool_calls"' in e.event.data]
    assert len(deltas) > 1, f"tool_stream should split the arguments over several deltas, got {len(deltas)}"


def test_second_turn_with_the_tool_result(glm_client, glm_check) -> None:
    first = glm_client.send(ask(WEATHER_QUESTION, tools=[tool("weather")], max_tokens=ROOMY))
    glm_check(first)
    call = first.json()["choices"][0]["message"]["tool_calls"][0]
    body = ask(WEATHER_QUESTION, tools=[tool("weather")], max_tokens=ROOMY)
    body["messages"] += [
        {"role": "assistant", "tool_calls": [{k: call[k] for k in ("id", "type", "function")}]},
        {"role": "tool", "tool_call_id": call["id"], "content": "40 C"},
    ]
    second = glm_client.send(body)
    glm_check(second)
    choice = second.json()["choices"][0]
    assert choice["finish_reason"] == "stop", f"after the tool result the model should answer: {choice}"
    assert choice["message"].get("content"), "the answer after the tool result is empty"
