"""Streaming: SSE framing, chunk schema, stream invariants, and agreement with the JSON answer."""

from __future__ import annotations

import asyncio

from harness.checks import Observed

from ._requests import ONLY_OPENAI, THINKING_ROOM, ask


def test_stream_conforms(glm_client, glm_check, cheap) -> None:
    glm_check(glm_client.send(cheap("Say hi in Portuguese", stream=True)))


def test_stream_arrives_in_several_chunks_with_usage_last(glm_client, glm_check, cheap) -> None:
    # stream_invariants: usage once, in the last chunk; message_conformance: several chunks
    glm_check(glm_client.send(cheap("Name three colours.", stream=True)), incremental=True)


@ONLY_OPENAI
def test_stream_assembles_to_the_shape_of_the_json_answer(glm_client, glm_check, cheap) -> None:
    body = cheap("Say hi in Portuguese")
    plain = glm_client.send(body)
    glm_check(plain)
    fields = frozenset(k for k, v in (Observed(plain).message() or {}).items() if v)
    glm_check(glm_client.send({**body, "stream": True}), message_fields=fields)


@ONLY_OPENAI
def test_thinking_stream_reasons_before_it_answers(glm_client, glm_check) -> None:
    # stream_invariants: reasoning before content; thinking_conformance: reasoning at all
    glm_check(glm_client.send(ask("What is 17 * 23? Think it through.", stream=True,
                                  thinking={"type": "enabled"}, max_tokens=THINKING_ROOM)), reasoning=True)


def test_async_client_streams_the_same_contract(glm_async_client, glm_check, cheap) -> None:
    async def run():
        async with glm_async_client as client:
            return await client.send(cheap("Say hi", stream=True))

    glm_check(asyncio.run(run()))
