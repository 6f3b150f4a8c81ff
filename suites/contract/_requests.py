"""Request builders and tool definitions (from fixtures/tools) for the contract suites. Kept
cheap on purpose: a live run pays for every token asked for here."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness._resources import fixtures_dir

# A test only one API has: `@ONLY_OPENAI` / `pytestmark = ONLY_OPENAI` (skipped, with the reason,
# under --glm-surface anthropic), and the other way round.
ONLY_OPENAI = pytest.mark.glm_surface("openai", reason="chat-completions parameters and fields")
ONLY_ANTHROPIC = pytest.mark.glm_surface("anthropic", reason="Messages API blocks and events")

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


def say(text: str, **params: Any) -> dict[str, Any]:
    """The same ask on the Anthropic-compatible surface: `system` beside the turns, and the
    `max_tokens` the Messages API requires."""
    return {"system": "You are a helpful assistant", "messages": [{"role": "user", "content": text}],
            "max_tokens": SMALL, **params}


def tool_param(name: str) -> dict[str, Any]:
    """A fixtures/tools definition as a Messages API tool (`input_schema`)."""
    function = tool(name)["function"]
    return {"name": function["name"], "description": function.get("description", ""),
            "input_schema": function["parameters"]}


def quiet(text: str, **params: Any) -> dict[str, Any]:
    """A cheap request: no thinking (where the model allows it), few tokens."""
    return ask(text, **{"max_tokens": SMALL, "thinking": {"type": "disabled"}, **params})


WEATHER_QUESTION = "What's the weather in Florence, Italy?"
PARALLEL_QUESTION = ("Add and multiply the numbers 2 and 3. CRITICAL: call both the add and the "
                     "multiply tools at the same time.")
