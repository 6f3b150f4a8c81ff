"""The twin, in every era, streamed or not, thinking or not, plain or calling tools, passes every
check: a healthy twin is what the suites' failures are measured against."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from harness.checks import Expect, describe, run_checks
from harness.client import GLMClient
from harness.mock import GLMTwin, twin_router
from harness.targets import MOCK_BASE_URL, mock_target

WEATHER = {"type": "function", "function": {"name": "weather", "parameters": {
    "type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}
ADD = {"type": "function", "function": {"name": "add", "parameters": {
    "type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}}}
ASKS: dict[str, tuple[dict[str, Any], Expect]] = {
    "plain": ({"messages": [{"role": "user", "content": "Say hi"}]}, Expect(content=True)),
    "tool": ({"messages": [{"role": "user", "content": "What's the weather in Florence?"}], "tools": [WEATHER]},
             Expect(tool_calls=("weather",), finish_reason="tool_calls")),
    "parallel": ({"messages": [{"role": "user", "content": "Add and multiply 2 and 3 at the same time."}],
                  "tools": [WEATHER, ADD]}, Expect(finish_reason="tool_calls")),
}


@pytest.mark.parametrize(("profile", "stream", "thinking", "ask"),
                         list(itertools.product(("2026", "2025"), (False, True), ("enabled", "disabled"), ASKS)))
def test_the_twin_conforms(profile: str, stream: bool, thinking: str, ask: str) -> None:
    body, expect = ASKS[ask]
    with twin_router(GLMTwin(profile=profile), base_url=MOCK_BASE_URL), GLMClient(mock_target("glm-4.6")) as client:
        exchange = client.send({**body, "stream": stream, "thinking": {"type": thinking}})
    assert describe(run_checks(exchange, expect)) == "conforms"
