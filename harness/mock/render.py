"""Turn a plan into wire bytes the way GLM does: a JSON body, or a timed script of SSE events.

Every object is built from the contract models and serialised with `to_wire()`, so the twin
cannot drift from the schema the suites check. Faults are applied to the rendered dicts and
bytes afterwards: the models themselves never hold a broken answer.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from ..contract import (
    AssistantReply,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    CompletionTokensDetails,
    Delta,
    DeltaToolCall,
    ModelCard,
    Usage,
)
from ..contract.response import DeltaFunction, PromptTokensDetails
from .config import Timing
from .faults import Fault, FaultSpec
from .scenarios import Plan
from .tokens import tokenize

DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True, slots=True)
class Step:
    """Wait `delay_s`, then send `data`; `reset` drops the connection instead."""

    delay_s: float
    data: bytes = b""
    reset: bool = False


@dataclass(frozen=True, slots=True)
class TwinAnswer:
    id: str
    created: int
    model: str
    plan: Plan
    usage: Usage
    request_id: str | None = None
    tool_stream: bool = False
    faults: dict[Fault, FaultSpec] = field(default_factory=dict)
    era: str = "2026"

    @property
    def speaks_2026(self) -> bool:
        return self.era >= "2026"


def usage_for(prompt_tokens: int, plan: Plan, cached_tokens: int, card: ModelCard,
              era: str = "2026") -> Usage:
    """What the model's card says its answers report: cached tokens (most models), and since 2026
    the reasoning tokens (the glm-4.7 family and later)."""
    reasoning = len(plan.reasoning)
    return Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=plan.completion_tokens,
        total_tokens=prompt_tokens + plan.completion_tokens,
        prompt_tokens_details=(PromptTokensDetails(cached_tokens=cached_tokens)
                               if card.reports_cached_tokens else None),
        completion_tokens_details=(CompletionTokensDetails(reasoning_tokens=reasoning)
                                   if era >= "2026" and card.reports_reasoning_tokens else None),
    )


def completion_body(answer: TwinAnswer) -> dict[str, Any]:
    plan = answer.plan
    # A 2026 body beside tool calls always has content: the sentence, or "" (glm-5.x, 2026-05).
    empty = "" if answer.speaks_2026 and plan.tool_calls else None
    reply = AssistantReply(
        role="assistant",
        content="".join(plan.content) or empty,
        reasoning_content="".join(plan.reasoning) or None,
        tool_calls=plan.tool_calls or None,
    )
    body = ChatCompletion(
        id=answer.id,
        object="chat.completion" if answer.speaks_2026 else None,
        request_id=answer.request_id or answer.id,
        created=answer.created,
        model=answer.model,
        choices=[Choice(index=0, finish_reason=plan.finish_reason, message=reply)],
        usage=answer.usage,
    ).to_wire()
    return _break_body(body, answer.faults)


def chunk_dicts(answer: TwinAnswer) -> list[dict[str, Any]]:
    """Every chunk of the stream, in order, as GLM shapes them (role repeated in each delta)."""

    def chunk(delta: Delta, **extra: Any) -> dict[str, Any]:
        choice = ChunkChoice(index=0, delta=delta, finish_reason=extra.pop("finish_reason", None))
        return ChatCompletionChunk(
            id=answer.id, object="chat.completion.chunk" if answer.speaks_2026 else None,
            created=answer.created, model=answer.model, choices=[choice], **extra
        ).to_wire()

    plan = answer.plan
    chunks = [chunk(Delta(role="assistant", reasoning_content=t)) for t in plan.reasoning]
    chunks += [chunk(Delta(role="assistant", content=t)) for t in plan.content]
    if not chunks and plan.tool_calls:
        # GLM's tool-call deltas carry no role, and its first delta always does: the recorded
        # tool-call streams open with a whitespace-only content chunk, so does the twin's.
        chunks.append(chunk(Delta(role="assistant", content="\n")))
    for call in plan.tool_calls:
        chunks += [chunk(Delta(tool_calls=[d])) for d in _tool_call_deltas(call, answer.tool_stream)]
    chunks.append(
        chunk(Delta(role="assistant", content=""), finish_reason=plan.finish_reason,
              usage=answer.usage)
    )
    return _break_chunks(chunks, answer.faults)


def _tool_call_deltas(call: Any, incremental: bool) -> list[DeltaToolCall]:
    """Whole in one delta, as GLM streams by default; in argument fragments with tool_stream."""
    head = DeltaToolCall(index=call.index or 0, id=call.id, type="function",
                         function=DeltaFunction(name=call.function.name,
                                                arguments="" if incremental else call.function.arguments))
    if not incremental:
        return [head]
    return [head] + [
        DeltaToolCall(index=call.index or 0, function=DeltaFunction(arguments=piece))
        for piece in tokenize(call.function.arguments)
    ]


def stream_script(answer: TwinAnswer, timing: Timing, rng: random.Random) -> list[Step]:
    events = [_event(c) for c in chunk_dicts(answer)]
    faults = answer.faults
    if Fault.MALFORMED_JSON_CHUNK in faults:
        at = min(faults[Fault.MALFORMED_JSON_CHUNK].after_chunks, len(events) - 1)
        events[at] = events[at].replace(b'"choices"', b'"choices\'', 1)
    if Fault.MISSING_DONE not in faults:
        events.append(DONE)
    steps = [
        Step(timing.draw(timing.ttft_ms if i == 0 else timing.itl_ms, rng), data)
        for i, data in enumerate(events)
    ]
    return _break_script(steps, faults)


def _event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def _break_script(steps: list[Step], faults: dict[Fault, FaultSpec]) -> list[Step]:
    def at(fault: Fault) -> int:
        return min(faults[fault].after_chunks, len(steps) - 1)

    if Fault.TRUNCATED_CHUNK in faults:
        cut = steps[at(Fault.TRUNCATED_CHUNK)]
        steps = [*steps[: at(Fault.TRUNCATED_CHUNK)], Step(cut.delay_s, cut.data[: len(cut.data) // 2])]
    if Fault.STALL in faults:
        i = at(Fault.STALL)
        steps[i] = Step(steps[i].delay_s + faults[Fault.STALL].stall_s, steps[i].data)
    if Fault.RESET_MID_STREAM in faults:
        steps = [*steps[: at(Fault.RESET_MID_STREAM)], Step(0.0, reset=True)]
    return steps


def _break_body(body: dict[str, Any], faults: dict[Fault, FaultSpec]) -> dict[str, Any]:
    message = body["choices"][0]["message"]
    if Fault.MISSING_USAGE in faults:
        body.pop("usage", None)
    if Fault.WRONG_USAGE in faults and "usage" in body:
        body["usage"]["total_tokens"] += 7
    if Fault.MISSING_FIELD in faults:
        body.pop("id")
    if Fault.INVALID_TOOL_ARGUMENTS in faults:
        for call in message.get("tool_calls", ()):
            call["function"]["arguments"] = call["function"]["arguments"][:-2]
    return body


def _break_chunks(chunks: list[dict[str, Any]], faults: dict[Fault, FaultSpec]) -> list[dict[str, Any]]:
    last = chunks[-1]
    if Fault.MISSING_USAGE in faults:
        last.pop("usage", None)
    if Fault.WRONG_USAGE in faults and "usage" in last:
        last["usage"]["total_tokens"] += 7
    if Fault.DUPLICATE_FINISH_REASON in faults and len(chunks) > 1:
        early = min(faults[Fault.DUPLICATE_FINISH_REASON].after_chunks, len(chunks) - 2)
        chunks[early]["choices"][0]["finish_reason"] = last["choices"][0]["finish_reason"]
    if Fault.MISSING_FIELD in faults:
        for c in chunks:
            c.pop("id")
    if Fault.INVALID_TOOL_ARGUMENTS in faults:
        for c in chunks:
            for call in c["choices"][0]["delta"].get("tool_calls", ()):
                fn = call.get("function", {})
                if fn.get("arguments"):
                    fn["arguments"] = fn["arguments"][:-2]
    return chunks
