"""Request builders and tool definitions (from fixtures/tools) for the contract suites. Kept
cheap on purpose: a live run pays for every token asked for here."""

from __future__ import annotations

import json
from typing import Any

from harness._resources import fixtures_dir

TOOLS = fixtures_dir() / "tools"
SMALL = 64
# Enough for a thinking model to reason its way to a tool call or a short answer: recorded GLM
# tool calls, reasoning included, took 69-178 tokens (real-traffic/, 2025-09..11). No more: a
# model that never calls the tool (a small self-hosted one) writes all of it, and a slow server
# takes minutes per 1000 tokens.
ROOMY = 512
# GLM-4.6 thinking "through" a sum: kept large so the reasoning and the answer both fit (a cut-off
# answer has no content to check the order against); no recording bounds it yet.
THINKING_ROOM = 2048


def tool(name: str) -> dict[str, Any]:
    return json.loads((TOOLS / f"{name}.json").read_text())


def ask(text: str, **params: Any) -> dict[str, Any]:
    return {"messages": [{"role": "system", "content": "You are a helpful assistant"},
                         {"role": "user", "content": text}], **params}


def quiet(text: str, **params: Any) -> dict[str, Any]:
    """A cheap request: no thinking (where the model allows it), few tokens."""
    return ask(text, **{"max_tokens": SMALL, "thinking": {"type": "disabled"}, **params})


WEATHER_QUESTION = "What's the weather in Florence, Italy?"
PARALLEL_QUESTION = ("Add and multiply the numbers 2 and 3. CRITICAL: call both the add and the "
                     "multiply tools at the same time.")
