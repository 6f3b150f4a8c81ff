"""What the twin answers: a deterministic plan (reasoning, content, tool calls, finish_reason)
derived from the request alone, so the same request always gets the same answer.

The plan is the one thing both the JSON and the SSE renderings are made from, which is how the
twin keeps its streamed and non-streamed answers consistent.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from ..contract import (
    AssistantMessage,
    ChatCompletionRequest,
    FinishReason,
    FunctionCall,
    FunctionDefinition,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from .tokens import tokenize

_SENTENCES = (
    "Here is a short answer to your question about {topic}.",
    "The key point is that {topic} depends on the context you give.",
    "In practice, most people start with the simplest option and refine it.",
    "If you need more detail, ask a follow-up and I will expand on it.",
    "This answer is generated deterministically by the GLM twin for testing.",
    "Each token you see was streamed with a measured delay.",
)
_THOUGHTS = (
    "The user is asking about {topic}.",
    "I should give a direct answer first and then add useful context.",
    "Let me check whether any of the available tools would help here.",
    "A concise, friendly reply is best.",
    "I will keep the answer short and accurate.",
)


@dataclass(frozen=True, slots=True)
class Plan:
    reasoning: list[str]
    content: list[str]
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: FinishReason = "stop"

    @property
    def completion_tokens(self) -> int:
        return len(self.reasoning) + len(self.content) + sum(
            len(tokenize(call.function.name + call.function.arguments))
            for call in self.tool_calls
        )


@dataclass(frozen=True, slots=True)
class Style:
    """How long the twin's answers are, in tokens; benchmarks set these to know the truth."""

    reply_tokens: int = 24
    reasoning_tokens: int = 40
    sensitive_terms: tuple[str, ...] = ("TWIN-SENSITIVE",)
    # A prompt with one of these is refused before any answer: 400 1301 (the content filter).
    blocked_terms: tuple[str, ...] = ("TWIN-BLOCKED",)


def plan_reply(request: ChatCompletionRequest, style: Style, thinking: bool, era: str = "2026") -> Plan:
    """`era` "2026" writes a sentence before a glm-4.x model's tool calls, as GLM does today
    (glm-5.x models write none); "2025" does not, as the 2025 glm-4.6 recordings show. A 2026
    streamed call has a `call_<24 hex>` id, a non-streamed one `call_-<int64>`."""
    rng = random.Random(_fingerprint(request))
    last = request.messages[-1]
    topic = _topic(_text(last.content) if not isinstance(last, AssistantMessage) else "")
    reasoning = _compose(_THOUGHTS, style.reasoning_tokens, topic, rng) if thinking else []
    if isinstance(last, UserMessage) and any(t in _text(last.content) for t in style.sensitive_terms):
        cut = _cut(Plan(reasoning, _compose(_SENTENCES, 3, topic, rng)), request.max_tokens)
        return cut if cut.finish_reason == "length" else Plan(cut.reasoning, cut.content,
                                                              finish_reason="sensitive")
    hex_ids = bool(request.stream) and era >= "2026"
    directed = directed_turn(request, rng, hex_ids)  # TWIN-CALL / TWIN-RESULT: see directed_turn
    calls = directed.calls if directed is not None else _tool_calls(request, rng, hex_ids=hex_ids)
    if directed is not None and not calls:
        return _cut(Plan(reasoning, tokenize(directed.text)), request.max_tokens)
    if calls:
        preamble = tokenize(_preamble(calls)) if writes_before_tool_calls(request.model, era) else []
        return _cut(Plan(reasoning, preamble, calls, "tool_calls"), request.max_tokens)
    return _cut(Plan(reasoning, _compose(_SENTENCES, style.reply_tokens, topic, rng)), request.max_tokens)


def _cut(plan: Plan, max_tokens: int | None) -> Plan:
    """Apply max_tokens the way the API does: stop mid-thought with finish_reason `length`."""
    if max_tokens is None or plan.completion_tokens <= max_tokens:
        return plan
    reasoning = plan.reasoning[:max_tokens]
    content = plan.content[: max_tokens - len(reasoning)]
    return Plan(reasoning, content, [], "length")


def writes_before_tool_calls(model: str, era: str) -> bool:
    """Whether the model says a sentence before its tool calls: the glm-4.x models of 2026 do
    (2026-05 captures: glm-4.5-air, glm-4.6, glm-4.7*, stream and body; glm-4.7 not always),
    the glm-5.x models never do, and no model did in the twin's 2025 profile."""
    return era >= "2026" and not model.lower().startswith("glm-5")


def _preamble(calls: list[ToolCall]) -> str:
    names = " and ".join(call.function.name for call in calls)
    return f"I'll use {names} for this."


def _tool_calls(request: ChatCompletionRequest, rng: random.Random, hex_ids: bool) -> list[ToolCall]:
    tools = request.function_tools()
    last = request.messages[-1]
    if not tools or not isinstance(last, UserMessage):
        return []
    asked = _text(last.content).lower()
    forced = request.forced_tool
    chosen = ([t for t in tools if t.name == forced] if forced is not None
              else [t for t in tools if any(w in asked for w in _name_words(t.name))])
    return [
        ToolCall(
            id=_hex_call_id(rng) if hex_ids else _call_id(rng),
            index=i,
            function=FunctionCall(
                name=tool.name,
                arguments=json.dumps(_arguments(tool, _text(last.content)), ensure_ascii=False,
                                     separators=(",", ":")),
            ),
        )
        for i, tool in enumerate(chosen)
    ]


def _call_id(rng: random.Random) -> str:
    """Like `call_-8167683298435521960`: a negative int64, in 2025 and 2026 recordings alike."""
    return f"call_-{rng.getrandbits(62) + 2**62}"


def _hex_call_id(rng: random.Random) -> str:
    """Like `call_2dbb7568bf254f7cb91b4a09`: what GLM's streamed tool calls carry (2026-05)."""
    return f"call_{rng.getrandbits(96):024x}"


def _arguments(tool: FunctionDefinition, asked: str) -> dict[str, Any]:
    """Arguments that satisfy the tool's schema, taken from the question where possible."""
    numbers = iter(re.findall(r"-?\d+(?:\.\d+)?", asked))
    place = re.search(r"\bin ([A-Z][\w]*(?:, ?[A-Z][\w]*)?)", asked)
    properties: dict[str, Any] = tool.parameters.get("properties", {})
    required = tool.parameters.get("required", list(properties))
    return {
        name: _value(properties.get(name, {}), numbers, place.group(1) if place else "example")
        for name in required
    }


def _value(schema: dict[str, Any], numbers: Any, text: str) -> Any:
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "string")
    if kind == "integer":
        return int(float(next(numbers, "1")))
    if kind == "number":
        number = float(next(numbers, "1"))
        return int(number) if number.is_integer() else number
    if kind == "boolean":
        return True
    if kind == "array":
        return [_value(schema.get("items", {}), numbers, text)]
    if kind == "object":
        props = schema.get("properties", {})
        return {k: _value(v, numbers, text) for k, v in props.items() if k in schema.get("required", props)}
    return text


def _compose(pool: tuple[str, ...], n_tokens: int, topic: str, rng: random.Random) -> list[str]:
    pieces: list[str] = []
    while len(pieces) < n_tokens:
        sentence = rng.choice(pool).format(topic=topic)
        pieces += tokenize(("" if not pieces else " ") + sentence)
    return pieces[:n_tokens]


def _name_words(name: str) -> list[str]:
    return [w for w in re.split(r"[_\-]|(?<=[a-z])(?=[A-Z])", name.lower()) if len(w) > 2]


def _topic(text: str) -> str:
    words = re.findall(r"[\w']+", text)[:6]
    return " ".join(words) or "this"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(getattr(part, "text", "") for part in content or ())


def _fingerprint(request: ChatCompletionRequest) -> int:
    wire = json.dumps([m.to_wire() for m in request.messages], sort_keys=True)
    return int.from_bytes(hashlib.blake2b(wire.encode(), digest_size=8).digest(), "big")


# -- driving an agent: TWIN-CALL / TWIN-RESULT -------------------------------------------------------
# An agent (Claude Code, an openai-SDK loop) runs its tool loop against the twin when the twin can be
# told which tool to call: a user message holding `TWIN-CALL <ToolName> <JSON object>` (one or more,
# in order) makes the twin call each tool in turn with exactly those arguments, one per turn, when
# the request offers it; a turn that ends with a tool result and has no directive left is answered
# with `TWIN-RESULT: ` and the start of the result's text (of each, after parallel calls), so a
# test can see the result came back.
TWIN_CALL = "TWIN-CALL"
TWIN_RESULT = "TWIN-RESULT:"
_TWIN_CALL = re.compile(r"TWIN-CALL\s+([A-Za-z0-9_.:-]+)\s*")
RESULT_QUOTE_CHARS = 400


@dataclass(frozen=True, slots=True)
class DirectedTurn:
    calls: list[ToolCall]
    text: str = ""


def directed_turn(request: ChatCompletionRequest, rng: random.Random,
                  hex_ids: bool = False) -> DirectedTurn | None:
    """The turn the conversation's TWIN-CALL directives ask for, or TWIN-RESULT after a tool
    result; None when neither applies (the twin answers as it otherwise would). `hex_ids`: the
    call's id as a 2026 stream writes it (`call_<24 hex>`)."""
    messages = request.messages
    asked = next((i for i in range(len(messages) - 1, -1, -1) if isinstance(messages[i], UserMessage)
                  and TWIN_CALL in _text(messages[i].content)), None)
    if asked is not None:
        directives = twin_calls(_text(messages[asked].content))
        done = sum(1 for m in messages[asked + 1:] if isinstance(m, AssistantMessage) and m.tool_calls)
        offered = {tool.name for tool in request.function_tools()}
        if done < len(directives) and directives[done][0] in offered:
            name, arguments = directives[done]
            call_id = _hex_call_id(rng) if hex_ids else _call_id(rng)
            return DirectedTurn([ToolCall(id=call_id, index=0, function=FunctionCall(
                name=name, arguments=json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))))])
    last_assistant = max((i for i, m in enumerate(messages) if isinstance(m, AssistantMessage)), default=-1)
    results = [m for m in messages[last_assistant + 1:] if isinstance(m, ToolMessage)]
    if results:
        quoted = "; ".join(_text(m.content) for m in results)  # parallel calls: every result
        return DirectedTurn([], f"{TWIN_RESULT} {quoted[:RESULT_QUOTE_CHARS]}")
    return None


def twin_calls(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Every `TWIN-CALL <ToolName> <JSON object>` in `text`, in order; a malformed one is skipped."""
    found: list[tuple[str, dict[str, Any]]] = []
    decoder = json.JSONDecoder()
    for match in _TWIN_CALL.finditer(text):
        rest = text[match.end():]
        # an agent may pass the prompt on JSON-encoded (opencode does): its quotes escaped
        for candidate in (rest, rest.replace('\\"', '"')):
            try:
                arguments, _ = decoder.raw_decode(candidate)
            except json.JSONDecodeError:
                continue
            if isinstance(arguments, dict):
                found.append((match.group(1), arguments))
            break
    return found
