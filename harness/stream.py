"""Assemble streamed chunks into the final message, and check the stream's invariants.

The assembly is what a client ends up with (content, reasoning, tool calls joined by index);
the invariants are what GLM's streams have always done: the role in the first delta, one id and
model throughout, one finish_reason on the last chunk, usage with it, `[DONE]` last.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .contract import ChatCompletionChunk, Finding, Mode, ToolCall, Usage, validate
from .contract.response import FunctionCall
from .sse import ServerSentEvent


@dataclass(slots=True)
class _ToolCallParts:
    id: str | None = None
    name: str | None = None
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Assembly:
    chunks: list[ChatCompletionChunk] = field(default_factory=list)
    content: str = ""
    reasoning_content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reasons: list[tuple[int, str]] = field(default_factory=list)
    usage: Usage | None = None
    usage_at: int | None = None
    done: bool = False
    findings: list[Finding] = field(default_factory=list)

    @property
    def finish_reason(self) -> str | None:
        return self.finish_reasons[-1][1] if self.finish_reasons else None

    def message(self) -> dict[str, Any]:
        """The assembled assistant message, shaped like a non-streamed `choices[0].message`."""
        message: dict[str, Any] = {"role": "assistant"}
        if self.content:
            message["content"] = self.content
        if self.reasoning_content:
            message["reasoning_content"] = self.reasoning_content
        if self.tool_calls:
            message["tool_calls"] = [c.to_wire() for c in self.tool_calls]
        return message


def assemble(events: Iterable[ServerSentEvent], mode: Mode = Mode.LENIENT) -> Assembly:
    """Parse and validate every data event, then join the deltas; problems become findings."""
    assembly = Assembly()
    parts: dict[int, _ToolCallParts] = {}
    for n, event in enumerate(events):
        if event.is_done:
            assembly.done = True
            continue
        chunk = _parse(event, n, mode, assembly.findings)
        if chunk is None:
            continue
        assembly.chunks.append(chunk)
        if chunk.usage is not None:
            assembly.usage, assembly.usage_at = chunk.usage, len(assembly.chunks) - 1
        for choice in chunk.choices:
            delta = choice.delta
            assembly.content += delta.content or ""
            assembly.reasoning_content += delta.reasoning_content or ""
            for call in delta.tool_calls or ():
                part = parts.setdefault(call.index, _ToolCallParts())
                part.id = part.id or call.id
                if call.function is not None:
                    part.name = part.name or call.function.name
                    part.arguments.append(call.function.arguments or "")
            if choice.finish_reason is not None:
                assembly.finish_reasons.append((len(assembly.chunks) - 1, choice.finish_reason))
    assembly.tool_calls = [
        ToolCall(id=p.id or "", index=i,
                 function=FunctionCall(name=p.name or "", arguments="".join(p.arguments)))
        for i, p in sorted(parts.items())
    ]
    return assembly


def _parse(event: ServerSentEvent, n: int, mode: Mode, findings: list[Finding]) -> ChatCompletionChunk | None:
    try:
        data = json.loads(event.data)
    except json.JSONDecodeError as error:
        message = f"data is not JSON ({error.msg}): {event.data[:80]!r}"
        findings.append(Finding(f"event[{n}]", "malformed_json", message))
        return None
    checked = validate(ChatCompletionChunk, data, mode)
    findings.extend(Finding(f"event[{n}]{f.path[1:]}", f.kind, f.message) for f in checked.findings)
    return checked.model


def invariants(assembly: Assembly) -> list[Finding]:
    """What every GLM stream does, whatever the content; each breach named and placed."""
    return [
        *_first_delta_has_role(assembly.chunks),
        *_constant("id", assembly.chunks),
        *_constant("model", assembly.chunks),
        *_one_finish_reason(assembly),
        *_usage_at_end(assembly),
        *_reasoning_before_content(assembly.chunks),
        *([] if assembly.done else [Finding("stream", "missing_done", "the stream did not end with data: [DONE]")]),
    ]


def _first_delta_has_role(chunks: Sequence[ChatCompletionChunk]) -> list[Finding]:
    if chunks and chunks[0].choices and chunks[0].choices[0].delta.role != "assistant":
        return [Finding("chunk[0].choices[0].delta.role", "first_delta_without_role",
                        "the first delta must carry role 'assistant'")]
    return []


def _constant(name: str, chunks: Sequence[ChatCompletionChunk]) -> list[Finding]:
    values = [getattr(c, name) for c in chunks]
    changed = [i for i, v in enumerate(values) if v != values[0]]
    if changed:
        return [Finding(f"chunk[{changed[0]}].{name}", f"{name}_changed",
                        f"{name} changed mid-stream from {values[0]!r} to {values[changed[0]]!r}")]
    return []


def _one_finish_reason(assembly: Assembly) -> list[Finding]:
    """One finish_reason, on the last chunk. Recorded exception (glm-4.5, Sept 2025): the
    tool-call chunks before it repeated the same value, so those are tolerated."""
    last = len(assembly.chunks) - 1
    if not assembly.finish_reasons:
        return [Finding("stream", "missing_finish_reason", "no chunk carried a finish_reason")]
    final = assembly.finish_reasons[-1]
    if final[0] != last:
        return [Finding(f"chunk[{final[0]}]", "finish_reason_not_last",
                        f"the last finish_reason came in chunk {final[0]}, not the last ({last})")]
    extra = [(i, reason) for i, reason in assembly.finish_reasons[:-1]
             if reason != final[1] or not _only_tool_calls(assembly.chunks[i])]
    if extra:
        where = ", ".join(f"{i} ({reason})" for i, reason in extra)
        return [Finding("stream", "duplicate_finish_reason",
                        f"finish_reason also appeared in chunk {where}; expected once, in the last")]
    return []


def _only_tool_calls(chunk: ChatCompletionChunk) -> bool:
    delta = chunk.choices[0].delta
    return bool(delta.tool_calls) and not delta.content and not delta.reasoning_content


def _usage_at_end(assembly: Assembly) -> list[Finding]:
    if assembly.usage is None:
        return [Finding("stream", "missing_usage", "no chunk carried usage; GLM sends it in the last chunk")]
    if assembly.usage_at != len(assembly.chunks) - 1:
        return [Finding(f"chunk[{assembly.usage_at}]", "usage_not_last", "usage came before the last chunk")]
    return []


def _reasoning_before_content(chunks: Sequence[ChatCompletionChunk]) -> list[Finding]:
    """Once visible text has started, reasoning must be over (whitespace-only content may lead)."""
    seen_text = False
    for i, chunk in enumerate(chunks):
        for choice in chunk.choices:
            if choice.delta.reasoning_content and seen_text:
                return [Finding(f"chunk[{i}].choices[0].delta.reasoning_content", "reasoning_after_content",
                                "reasoning_content arrived after visible content had started")]
            if (choice.delta.content or "").strip():
                seen_text = True
    return []
