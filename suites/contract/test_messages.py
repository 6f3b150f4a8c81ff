"""The Anthropic-compatible surface (`--glm-surface anthropic`): what only the Messages API has.
Its blocks and events, tool_use and tool_choice, the tool_result turn, thinking blocks, the
max_tokens stop, and its bad requests. The tests both surfaces share live in the other modules;
every check here is a named check of the Messages surface (docs/checks.md)."""

from __future__ import annotations

import pytest

from harness.checks import Observed

from ._requests import ONLY_ANTHROPIC, ROOMY, THINKING_ROOM, WEATHER_QUESTION, say, tool_param

pytestmark = ONLY_ANTHROPIC

WEATHER = tool_param("weather")
ADD, MULTIPLY = tool_param("add"), tool_param("multiply")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_plain_message_ends_its_turn(glm_client, glm_check, stream) -> None:
    # message_usage_conformance: counts in the answer (message_delta when streamed)
    glm_check(glm_client.send(say("Say hi in Portuguese", stream=stream)), stop_reason="end_turn", content=True)


def test_stream_arrives_in_several_text_deltas(glm_client, glm_check) -> None:
    # message_event_order: start, ping, blocks opened and closed, message_delta, message_stop last
    glm_check(glm_client.send(say("Name three colours.", stream=True)), incremental=True)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_tool_use(glm_client, glm_check, stream) -> None:
    exchange = glm_client.send(say(WEATHER_QUESTION, tools=[WEATHER], max_tokens=ROOMY, stream=stream))
    # tool_use_conformance: id, name, the input (partial_json joined) against input_schema
    glm_check(exchange, tool_calls=("weather",), stop_reason="tool_use")


@pytest.mark.parametrize(("choice", "called", "reason"), [
    ({"type": "tool", "name": "multiply"}, ("multiply",), "tool_use"),
    ({"type": "any"}, None, "tool_use"),
    ({"type": "none"}, (), "end_turn"),
], ids=["tool", "any", "none"])
def test_tool_choice_is_honoured(glm_client, glm_check, choice, called, reason) -> None:
    exchange = glm_client.send(say("Add the numbers 2 and 3.", tools=[ADD, MULTIPLY], tool_choice=choice,
                                   max_tokens=ROOMY))
    # tool_use_conformance.tool_choice: a forced call made, none made under `none`
    glm_check(exchange, tool_calls=called, stop_reason=reason)


def test_second_turn_with_the_tool_result(glm_client, glm_check) -> None:
    body = say(WEATHER_QUESTION, tools=[WEATHER], max_tokens=ROOMY)
    first = glm_client.send(body)
    glm_check(first, tool_calls=("weather",))  # fails here, by name, when there is no call to answer
    answer = Observed(first).answer() or {}
    call = next(b for b in answer["content"] if b["type"] == "tool_use")
    body["messages"] += [
        {"role": "assistant", "content": answer["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "40 C"}]},
    ]
    glm_check(glm_client.send(body), stop_reason="end_turn", content=True, tool_calls=())


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_thinking_enabled_returns_a_thinking_block(glm_client, glm_check, stream) -> None:
    exchange = glm_client.send(say("What is 17 * 23? Think it through.", max_tokens=THINKING_ROOM, stream=stream,
                                   thinking={"type": "enabled", "budget_tokens": 1024}))
    # thinking_block_conformance; message_event_order checks thinking_delta inside a thinking block
    glm_check(exchange, reasoning=True)


def test_thinking_disabled_returns_no_thinking_block(glm_client, glm_check) -> None:
    glm_check(glm_client.send(say("Say hi", thinking={"type": "disabled"})))


def test_max_tokens_stops_at_the_limit(glm_client, glm_check) -> None:
    # stop_reason_conformance.max_tokens_at_limit: 'max_tokens' only when the limit is reached
    glm_check(glm_client.send(say("Count from one to fifty in words.", max_tokens=8)), stop_reason="max_tokens")


def test_system_blocks_with_cache_control_are_accepted(glm_client, glm_check) -> None:
    body = say("Say hi") | {"system": [{"type": "text", "text": "You are terse.",
                                        "cache_control": {"type": "ephemeral"}}]}
    glm_check(glm_client.send(body), stop_reason="end_turn")


@pytest.mark.glm_mock_only
def test_a_repeated_prefix_is_read_from_the_cache(glm_client, glm_check) -> None:
    """Live, GLM caches by its own rules (a recorded repeat read 0); the twin caches every prefix."""
    glm_check(glm_client.send(say("Name three colours.")))
    again = glm_client.send(say("Name three colours."))
    glm_check(again)
    usage = (Observed(again).answer() or {}).get("usage") or {}
    if not usage.get("cache_read_input_tokens"):
        pytest.fail(f"a repeated request read nothing from the cache: usage {usage}")


BAD_REQUESTS = {  # recorded on this surface (shared/real-traffic-2026, 2026-05-07)
    "unknown-model": ({"model": "this-model-does-not-exist-999"}, "1211"),
    "empty-messages": ({"messages": []}, "1214"),
}


@pytest.mark.parametrize(("override", "code"), BAD_REQUESTS.values(), ids=BAD_REQUESTS)
def test_bad_request_is_400_with_its_code(glm_client, glm_check, override, code) -> None:
    # message_error_schema_conformance: either envelope GLM has used, the status for the code
    glm_check(glm_client.send({**say("Say hi"), **override}), status=400, code=code)
