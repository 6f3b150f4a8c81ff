"""Streaming: SSE framing, chunk schema, stream invariants, and agreement with the JSON answer."""

from __future__ import annotations

import asyncio

from harness.stream import assemble

from ._requests import ask


def _shape(message: dict) -> set[str]:
    return {key for key, value in message.items() if value}


def test_stream_conforms(glm_client, glm_check, cheap) -> None:
    glm_check(glm_client.send(cheap("Say hi in Portuguese", stream=True)))


def test_stream_arrives_in_several_chunks_with_usage_last(glm_client, glm_check, cheap) -> None:
    exchange = glm_client.send(cheap("Name three colours.", stream=True))
    glm_check(exchange)
    data = exchange.data_events()
    assert len(data) > 2, f"expected an incremental stream, got {len(data)} data event(s)"
    times = [e.at for e in exchange.events]
    assert times == sorted(times), "event arrival times must not go backwards"
    carrying_usage = [i for i, e in enumerate(data) if '"usage"' in e.event.data]
    assert carrying_usage == [len(data) - 1], f"usage expected only in the last chunk; found in {carrying_usage}"


def test_stream_assembles_to_the_shape_of_the_json_answer(glm_client, glm_check, cheap) -> None:
    body = cheap("Say hi in Portuguese")
    plain, streamed = glm_client.send(body), glm_client.send({**body, "stream": True})
    glm_check(plain)
    glm_check(streamed)
    message = plain.json()["choices"][0]["message"]
    assembled = assemble(e.event for e in streamed.events).message()
    assert _shape(assembled) == _shape(message), (
        f"streamed message has fields {sorted(_shape(assembled))}, JSON answer {sorted(_shape(message))}")


def test_thinking_stream_reasons_before_it_answers(glm_client, glm_check) -> None:
    exchange = glm_client.send(ask("What is 17 * 23? Think it through.", stream=True,
                                   thinking={"type": "enabled"}, max_tokens=2048))
    glm_check(exchange)
    assembly = assemble(e.event for e in exchange.events)
    assert assembly.reasoning_content, "thinking enabled, but no reasoning_content was streamed"
    kinds = [("r" if c.choices[0].delta.reasoning_content else "c")
             for c in assembly.chunks if c.choices and (c.choices[0].delta.reasoning_content
                                                         or (c.choices[0].delta.content or "").strip())]
    assert "r" in kinds and kinds.index("r") < (kinds.index("c") if "c" in kinds else len(kinds))


def test_async_client_streams_the_same_contract(glm_async_client, glm_check, cheap) -> None:
    async def run():
        async with glm_async_client as client:
            return await client.send(cheap("Say hi", stream=True))

    glm_check(asyncio.run(run()))
