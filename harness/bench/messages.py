"""The bench on the Anthropic-compatible surface (`bench --surface anthropic`): the same jobs and
tasks, sent as Messages requests, and their `event:` streams read into the same `Sample`.

The jobs stay written in chat-completions terms (one task set, one prompt for both surfaces);
`messages_body` says each one the Messages API's way just before it is sent. What is measured:
- TTFT: the first `content_block_delta` that carries text, thinking or tool input
  (`signature_delta` carries none); TTFR, TTFC and the first tool input the same way by kind.
- Tokens: `message_delta.usage` (token_source "usage"; GLM sends zeros in `message_start`),
  with `input_tokens + cache_read_input_tokens` as the prompt and `cache_read_input_tokens` as
  its cached part, so that the efficiency figures and the cost (cached input at its own price)
  read the same on both surfaces; without usage, one token per token-bearing delta ("chunks").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..client import Exchange, TimedEvent
from ..message_stream import MessageEvent, MessageStream, assemble_message, read_message_stream
from ..stream import as_dict, token_count
from .metrics import (
    CONTENT,
    ERROR_EVENT,
    NO_TOKEN,
    REASONING,
    TOOL_CALL,
    UNPARSED,
    Phase,
    Sample,
    SampleError,
    _add_metrics,
    _apportion,
    _ms,
    error_of,
)

# Messages requires max_tokens; a chat-completions job without one gets this (GLM's own default
# output budget is larger, but a benchmark prompt never needs it).
DEFAULT_MAX_TOKENS = 4096
THINKING_BUDGET = 1024  # Anthropic's minimum budget_tokens

_KIND = {"thinking_delta": REASONING, "text_delta": CONTENT, "input_json_delta": TOOL_CALL}
_SLOT = {REASONING: 0, CONTENT: 1, TOOL_CALL: 2}


def messages_body(body: dict[str, Any]) -> dict[str, Any]:
    """A chat-completions job body as the Messages request that asks the same."""
    out: dict[str, Any] = {k: v for k, v in body.items()
                           if k in ("model", "stream", "temperature", "top_p", "request_id")}
    out["max_tokens"] = body.get("max_tokens") or DEFAULT_MAX_TOKENS
    system = [str(m.get("content") or "") for m in body.get("messages", ()) if m.get("role") == "system"]
    if system:
        out["system"] = "\n\n".join(system)
    out["messages"] = [_turn(m) for m in body.get("messages", ()) if m.get("role") != "system"]
    tools = [t["function"] for t in body.get("tools") or () if t.get("type") == "function"]
    if tools:
        out["tools"] = [{"name": f["name"], "description": f.get("description", ""),
                         "input_schema": f.get("parameters") or {"type": "object"}} for f in tools]
    if as_dict(body.get("thinking")).get("type") == "enabled":
        out["thinking"] = {"type": "enabled", "budget_tokens": THINKING_BUDGET}
        out["max_tokens"] = max(out["max_tokens"], THINKING_BUDGET + 1)
    return out


def _turn(message: dict[str, Any]) -> dict[str, Any]:
    role = message.get("role")
    if role == "tool":
        return {"role": "user", "content": [{"type": "tool_result", "tool_use_id": message.get("tool_call_id"),
                                             "content": str(message.get("content") or "")}]}
    calls = message.get("tool_calls") or ()
    if role == "assistant" and calls:
        text = [{"type": "text", "text": message["content"]}] if message.get("content") else []
        return {"role": "assistant", "content": text + [
            {"type": "tool_use", "id": c["id"], "name": c["function"]["name"],
             "input": json.loads(c["function"]["arguments"] or "{}")} for c in calls]}
    return {"role": role, "content": message.get("content") or ""}


def chat_message(events: Sequence[TimedEvent]) -> dict[str, Any]:
    """The answer a stream adds up to, as a chat-completions message (for the task graders)."""
    message = assemble_message(read_message_stream(events)).message
    blocks = [b for b in message.get("content") or () if isinstance(b, dict)]
    calls = [{"id": b.get("id"), "type": "function",
              "function": {"name": b.get("name"), "arguments": json.dumps(b.get("input"))}}
             for b in blocks if b.get("type") == "tool_use"]
    return {"role": "assistant",
            "content": "".join(str(b.get("text") or "") for b in blocks if b.get("type") == "text"),
            "reasoning_content": "".join(str(b.get("thinking") or "") for b in blocks if b.get("type") == "thinking"),
            **({"tool_calls": calls} if calls else {})}


def _letter(event: MessageEvent) -> str:
    if event.malformed:
        return UNPARSED
    if event.type == "error":
        return ERROR_EVENT
    return _KIND.get(event.delta_type or "", NO_TOKEN) if event.carries_token else NO_TOKEN


def _stream_error(stream: MessageStream) -> SampleError | None:
    for event in stream.events:
        if event.type == "error":
            error = as_dict(event.get("error"))
            code = error.get("code")
            return SampleError(kind="stream", code=None if code is None else str(code),
                               message=str(error.get("message", ""))[:300])
        if event.malformed:
            return SampleError(kind="stream", message="an event's data is not a JSON object")
    return None


def build_message_sample(
    events: Sequence[TimedEvent], sent_at: float, *, run_t0: float, index: int, level: str, phase: Phase,
    scheduled_at: float, ready_at: float, exchange: Exchange | None = None, ended_at: float | None = None,
    error: SampleError | None = None, task_id: str | None = None, thinking: bool | None = None,
    attempts: int = 1, retry_wait_s: float = 0.0, first_sent_at: float | None = None,
) -> Sample:
    """`metrics.build_sample` for a Messages stream: the same fields, read from its events."""
    if exchange is not None:
        sent_at, ended_at = exchange.written_at or exchange.sent_at, exchange.ended_at
        error = error or error_of(exchange)
    stream = read_message_stream(events)
    error = error or _stream_error(stream)
    tokens = [e for e in stream.tokens() if e.at is not None]
    token_times = [_ms(e.at - sent_at) for e in tokens if e.at is not None]

    def first(kind: str) -> float | None:
        at = next((e.at for e in tokens if _letter(e) == kind), None)
        return None if at is None else _ms(at - sent_at)

    sample = Sample(
        index=index, level=level, phase=phase, task_id=task_id, thinking=thinking,
        attempts=attempts, retry_wait_s=round(retry_wait_s, 4),
        scheduled_s=round(scheduled_at - run_t0, 6), ready_s=round(ready_at - run_t0, 6),
        sent_s=round(sent_at - run_t0, 6),
        lateness_ms=_ms((first_sent_at if first_sent_at is not None else sent_at) - ready_at),
        status=exchange.status if exchange is not None else None, error=error,
        first_byte_ms=(_ms(exchange.first_byte_at - sent_at)
                       if exchange is not None and exchange.first_byte_at is not None else None),
        first_token_ms=token_times[0] if token_times else None,
        first_reasoning_ms=first(REASONING), first_content_ms=first(CONTENT), first_tool_call_ms=first(TOOL_CALL),
        end_ms=_ms(ended_at - sent_at) if ended_at is not None else None,
        chunk_ms=[_ms(e.at - sent_at) for e in stream.events if e.at is not None],
        chunk_kinds="".join(_letter(e) for e in stream.events if e.at is not None),
        reads=len(exchange.chunks) if exchange is not None else 0,
        token_chunks=len(tokens), finish_reason=stream.stop_reason,
        retried_stale=exchange is not None and exchange.retried_stale is not None,
    )
    sample.ok = error is None and sample.status == 200 and bool(token_times)
    _add_tokens(sample, stream, [_letter(e) for e in tokens])
    _add_metrics(sample, token_times)
    return sample


def _add_tokens(sample: Sample, stream: MessageStream, kinds: list[str]) -> None:
    usage = stream.delta_usage or {}
    outputs = token_count(usage.get("output_tokens"))
    inputs, cached = token_count(usage.get("input_tokens")), token_count(usage.get("cache_read_input_tokens"))
    sample.prompt_tokens = None if inputs is None else inputs + (cached or 0)
    sample.cached_tokens = cached
    sample.completion_tokens, sample.token_source = (outputs, "usage") if outputs is not None else (None, None)
    if sample.completion_tokens is None and sample.token_chunks:
        sample.completion_tokens, sample.token_source = sample.token_chunks, "chunks"
    if sample.completion_tokens is None:
        return
    weights = [0.0, 0.0, 0.0]
    for kind in kinds:
        weights[_SLOT[kind]] += 1
    reasoning, content, tool = _apportion(sample.completion_tokens, weights)
    sample.reasoning_tokens_est, sample.content_tokens_est, sample.tool_tokens_est = reasoning, content, tool
    sample.reasoning_source = "chunk share"
    if sample.token_chunks:
        sample.tokens_per_chunk = round(sample.completion_tokens / sample.token_chunks, 4)
