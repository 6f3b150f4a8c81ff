"""Request and response schemas, non-streaming: lenient by default, strict with --glm-strict-schema."""

from __future__ import annotations

from typing import Any

import pytest

from ._requests import ONLY_OPENAI, ask

DOCUMENTED_PARAMETERS: dict[str, dict[str, Any]] = {
    "temperature-min": {"temperature": 0.0},
    "temperature-max": {"temperature": 1.0},
    "top_p-min": {"top_p": 0.01},
    "top_p-max": {"top_p": 1.0},
    "greedy": {"do_sample": False},
    "stop": {"stop": ["\n\n"]},
    "json-object": {"response_format": {"type": "json_object"}},
    "user_id": {"user_id": "glm-harness-suite"},
    "request_id": {"request_id": "glm-harness-request-0001"},
}


def test_plain_completion_conforms(glm_client, glm_check, cheap) -> None:
    glm_check(glm_client.send(cheap("Say hi in Portuguese")))


@ONLY_OPENAI
@pytest.mark.parametrize("params", DOCUMENTED_PARAMETERS.values(), ids=DOCUMENTED_PARAMETERS)
def test_documented_parameter_is_accepted(glm_client, glm_check, cheap, params) -> None:
    text = "Reply with a JSON object with key 'greeting'." if "response_format" in params else "Say hi"
    glm_check(glm_client.send(cheap(text, **params)))


@ONLY_OPENAI
def test_completion_echoes_model_and_request_id(glm_client, glm_check, cheap) -> None:
    # echo_conformance: the model asked for, and the request_id sent
    glm_check(glm_client.send(cheap("Say hi", request_id="glm-harness-echo-0001")))


@ONLY_OPENAI
def test_usage_counts_the_prompt_and_respects_max_tokens(glm_client, glm_check) -> None:
    # usage_conformance: prompt counted, completion counted and within max_tokens
    exchange = glm_client.send(ask("Count from one to fifty in words.", max_tokens=8))
    glm_check(exchange, finish_reason="length")  # 8 tokens cannot finish that count
