"""The twin's Anthropic-compatible surface (`POST /api/anthropic/v1/messages`, what Claude Code
calls): the same engine and the same plan as chat completions, read and written in the shape of
Anthropic's Messages API as GLM serves it (shared/anthropic-api.md, shared/real-traffic-2026).

Three things live here and nothing else: reading a Messages request into the engine's own terms
(a chat-completions request), writing the engine's errors in the envelope of the era the twin
speaks, and rendering a `Plan` as a message or as an `event:` stream. The engine decides what to
answer; this module only says it the other way.

Eras (the twin's `TwinProfile`): the recordings of 2026-05 (and all earlier ones) carry GLM's own
envelope `{"error": {"code", "message"}, "request_id"}`; from June 2026 GLM answers in
Anthropic's `{"type": "error", "error": {"type", "code", "message": "[code][text][request_id]"},
"request_id"}`. Profile "2025" speaks the first, "2026" (today's, the default) the second. In
both, overload (1305) is HTTP 529 on this surface (recorded with the later envelope; nothing
recorded says otherwise for the earlier one), and the 401 for a bad key is the one recorded body.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..contract.messages import MessagesRequest
from ..surface import Surface
from .config import Timing
from .faults import Fault, FaultSpec
from .render import Step, TwinAnswer, _break_script
from .scenarios import Plan
from .tokens import TOKENS_PER_REQUEST

# Where the surface is served: below GLM's base path for Anthropic clients, and at the SDKs' own
# path (Claude Code appends `?beta=true`, which is in the query, not the path).
ANTHROPIC_BASE_PATH = Surface.ANTHROPIC.base_paths[0]
MESSAGES_PATHS = (*(base + Surface.ANTHROPIC.endpoint for base in Surface.ANTHROPIC.base_paths),
                  Surface.ANTHROPIC.endpoint)

# Recorded (2026-05-07, every model): the body of a 401 on this surface, with no business code.
UNAUTHORIZED_BODY = {"error": {"message": "令牌已过期或验证不正确", "type": "401"}}

# Anthropic's error types by HTTP status, as its envelope names them.
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
                500: "api_error", 529: "overloaded_error"}

_STOP_REASONS = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens",
                 "sensitive": "refusal"}


def is_messages_path(path: str) -> bool:
    return path.rstrip("/") in MESSAGES_PATHS


def on_surface(path: str) -> bool:
    """The endpoint, or any other path below the surface's base (a 404 in its envelope)."""
    return is_messages_path(path) or path.startswith(ANTHROPIC_BASE_PATH + "/")


def with_bearer(headers: Mapping[str, str]) -> dict[str, str]:
    """Anthropic clients send the key as `x-api-key` (the SDK) or `Authorization: Bearer` (Claude
    Code with ANTHROPIC_AUTH_TOKEN); GLM takes either. The engine reads the Bearer form."""
    found = {k.lower(): v for k, v in headers.items()}
    if "authorization" not in found and found.get("x-api-key", "").strip():
        found["authorization"] = f"Bearer {found['x-api-key'].strip()}"
    return found


# -- the request, in the engine's terms ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MessagesCall:
    """A Messages request read for the engine: the same ask as a chat-completions body, and
    whether the caller switched thinking on (on this surface GLM thinks only when asked)."""

    chat: dict[str, Any]
    thinking: bool


def read_request(request: MessagesRequest) -> MessagesCall:
    """The chat-completions body that asks the engine for the same answer: `system` and
    system-role turns become system messages, `tool_result` blocks tool messages, `tool_use`
    blocks tool calls, `input_schema` the tool's parameters, and `tool_choice` (auto, any, tool,
    none) the tool the plan may or must call. `thinking` stays out of the chat body: on this
    surface GLM thinks only when asked (`MessagesCall.thinking`, which the plan follows), and a
    model that always thinks on chat completions is not refused for it here."""
    chat: dict[str, Any] = {"model": request.model, "max_tokens": request.max_tokens, "stream": request.stream}
    chat |= {k: v for k in ("temperature", "top_p") if (v := getattr(request, k)) is not None}
    messages: list[dict[str, Any]] = []
    if request.system_text:
        messages.append({"role": "system", "content": request.system_text})
    for turn in request.messages:
        messages += _turn(turn.role, turn.content)
    chat["messages"] = messages
    # Anthropic's server tools (web_search_..., ...) have no schema: GLM runs none of them.
    tools = [{"type": "function", "function": {"name": t.name, "description": t.description,
                                              "parameters": t.input_schema}}
             for t in request.client_tools()]
    choice = request.tool_choice.type if request.tool_choice is not None else "auto"
    if tools and choice != "none":
        chat["tools"] = tools
        forced = request.forced_tool or (_named_in_question(tools, messages) if choice == "any" else None)
        chat["tool_choice"] = {"type": "function", "function": {"name": forced}} if forced else "auto"
    return MessagesCall(chat, request.thinking_enabled)


def _turn(role: str, content: str | list[Any]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if role == "assistant":
        calls = [{"id": b.id, "type": "function",
                  "function": {"name": b.name, "arguments": json.dumps(b.input, ensure_ascii=False)}}
                 for b in content if b.type == "tool_use"]
        text = "".join(b.text for b in content if b.type == "text")
        return [{"role": "assistant", "content": text, **({"tool_calls": calls} if calls else {})}]
    results = [{"role": "tool", "tool_call_id": b.tool_use_id, "content": _text_of(b.content)}
               for b in content if b.type == "tool_result"]
    others = [b for b in content if b.type != "tool_result"]
    return results + ([{"role": role, "content": _text_of(others)}] if others else [])


def _text_of(content: str | list[Any] | None) -> str:
    """A string, or the text of a list of blocks (an image or a document stands as a word)."""
    if content is None or isinstance(content, str):
        return content or ""
    return "".join(getattr(block, "text", None) or f"[{block.type}]" for block in content)


def _named_in_question(tools: list[dict[str, Any]], messages: list[dict[str, Any]]) -> str:
    """`tool_choice: any` must call a tool: the one the last question names, else the first."""
    names = [str(t["function"]["name"]) for t in tools]
    asked = next((str(m["content"]).lower() for m in reversed(messages) if m["role"] == "user"), "")
    return next((n for n in names if n.lower() in asked.replace(" ", "_")), names[0])


# -- errors, in the era's envelope ---------------------------------------------------------------
def error_body(status: int, glm_body: Mapping[str, Any], request_id: str, era: str) -> tuple[int, dict[str, Any]]:
    """The status and body GLM sends on this surface for an error the engine raised in its own
    chat-completions envelope."""
    if status == 401:
        return 401, json.loads(json.dumps(UNAUTHORIZED_BODY))
    found = glm_body.get("error")
    error: Mapping[str, Any] = found if isinstance(found, dict) else {}
    code, message = str(error.get("code", status)), str(error.get("message", ""))
    if code == "1305":
        status = 529  # overload: Anthropic's status for it on this surface, whatever the envelope
    if era < "2026":
        return status, {"error": {"code": code, "message": message}, "request_id": request_id}
    return status, {"type": "error",
                    "error": {"type": _ERROR_TYPES.get(status, "api_error"), "code": code,
                              "message": f"[{code}][{message}][{request_id}]"},
                    "request_id": request_id}


# -- answers -----------------------------------------------------------------------------------
def _hex(seed: str, n: int) -> str:
    return hashlib.blake2b(seed.encode(), digest_size=16).hexdigest()[:n]


def message_id(answer: TwinAnswer) -> str:
    """Like `msg_20260507011036f22da9848e774181`: the local date-time, then 18 hex digits."""
    return f"msg_{answer.id[:14]}{_hex(answer.id, 18)}"


def tool_use_id(answer: TwinAnswer, call_id: str) -> str:
    """Like `call_3213dc45766043f9ae61030c`, streamed or not (the chat surface's non-streamed ids
    are `call_-<int64>`; this surface's are 24 hex digits)."""
    return f"call_{_hex(answer.id + call_id, 24)}"


def _signature(answer: TwinAnswer) -> str:
    """A thinking block's signature: 24 hex digits, as Claude Code transcripts of glm-4.7 show."""
    return _hex(answer.id + "".join(answer.plan.reasoning), 24)


def usage(answer: TwinAnswer, cached: int) -> dict[str, Any]:
    """GLM's usage on this surface: input_tokens without the cached part (Anthropic's sense: a
    recorded second turn reports 66 input and 128 cached), and always the same five keys. The
    turn's generation prompt is never read from the cache, so input_tokens is never 0."""
    prompt = answer.usage.prompt_tokens
    cached = min(cached, prompt - TOKENS_PER_REQUEST)
    return {"input_tokens": prompt - cached, "output_tokens": answer.plan.completion_tokens,
            "cache_read_input_tokens": cached, "server_tool_use": {"web_search_requests": 0},
            "service_tier": "standard"}


def _blocks(answer: TwinAnswer) -> list[dict[str, Any]]:
    plan = answer.plan
    blocks: list[dict[str, Any]] = []
    if plan.reasoning:
        blocks.append({"type": "thinking", "thinking": "".join(plan.reasoning), "signature": _signature(answer)})
    if plan.content:
        blocks.append({"type": "text", "text": "".join(plan.content)})
    for call in plan.tool_calls:
        blocks.append({"type": "tool_use", "id": tool_use_id(answer, call.id), "name": call.function.name,
                       "input": json.loads(call.function.arguments)})
    return blocks


def message_body(answer: TwinAnswer, cached: int) -> bytes:
    """The non-streamed answer, keys in the recorded order."""
    body: dict[str, Any] = {
        "id": message_id(answer), "type": "message", "role": "assistant", "model": answer.model,
        "content": _blocks(answer), "stop_reason": stop_reason(answer.plan), "stop_sequence": None,
        "usage": usage(answer, cached),
    }
    faults = answer.faults
    if Fault.MISSING_USAGE in faults:
        del body["usage"]
    if Fault.WRONG_USAGE in faults:
        body["usage"]["output_tokens"] = 0
    if Fault.MISSING_FIELD in faults:
        del body["id"]
    if Fault.INVALID_TOOL_ARGUMENTS in faults:
        for block in body["content"]:
            if block["type"] == "tool_use":
                block["input"] = json.dumps(block["input"])[:-2]  # a cut string, not an object
    return _dumps(body)


def stop_reason(plan: Plan) -> str:
    return _STOP_REASONS.get(plan.finish_reason, "end_turn")


# -- streams -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Event:
    data: dict[str, Any]
    token: bool = False  # carries a generated token: waits for it (TTFT, then inter-token gaps)


def events(answer: TwinAnswer, cached: int) -> list[dict[str, Any]]:
    """Every event's data, in order, as GLM streams them."""
    return [e.data for e in _events(answer, cached)]


def _events(answer: TwinAnswer, cached: int) -> list[_Event]:
    plan = answer.plan
    start: dict[str, Any] = {"id": message_id(answer), "type": "message", "role": "assistant", "model": answer.model,
             "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {"input_tokens": 0, "output_tokens": 0}}  # GLM's: the counts come at the end
    out = [_Event({"type": "message_start", "message": start}), _Event({"type": "ping"})]

    def block(index: int, opened: dict[str, Any], deltas: list[dict[str, Any]], tokens: int) -> None:
        out.append(_Event({"type": "content_block_start", "index": index, "content_block": opened}))
        out.extend(_Event({"type": "content_block_delta", "index": index, "delta": d}, token=n < tokens)
                   for n, d in enumerate(deltas))
        out.append(_Event({"type": "content_block_stop", "index": index}))

    index = 0
    if plan.reasoning:
        deltas = [{"type": "thinking_delta", "thinking": t} for t in plan.reasoning]
        block(index, {"type": "thinking", "thinking": "", "signature": ""},
              [*deltas, {"type": "signature_delta", "signature": _signature(answer)}], len(deltas))
        index += 1
    if plan.content:
        block(index, {"type": "text", "text": ""}, [{"type": "text_delta", "text": t} for t in plan.content],
              len(plan.content))
        index += 1
    for call in plan.tool_calls:
        # Whole, in one delta, as GLM streams it (compact JSON, as recorded).
        block(index, {"type": "tool_use", "id": tool_use_id(answer, call.id), "name": call.function.name,
                      "input": {}},
              [{"type": "input_json_delta", "partial_json": call.function.arguments}], 1)
        index += 1
    out.append(_Event({"type": "message_delta", "delta": {"stop_reason": stop_reason(plan), "stop_sequence": None},
                       "usage": usage(answer, cached)}))
    out.append(_Event({"type": "message_stop"}))
    return _break_events(out, answer.faults)


def _break_events(out: list[_Event], faults: dict[Fault, FaultSpec]) -> list[_Event]:
    last_delta = next(e.data for e in reversed(out) if e.data["type"] == "message_delta")
    if Fault.MISSING_USAGE in faults:
        del last_delta["usage"]
    if Fault.WRONG_USAGE in faults:
        last_delta["usage"]["output_tokens"] = 0
    if Fault.MISSING_FIELD in faults:
        del out[0].data["message"]["id"]
    if Fault.INVALID_TOOL_ARGUMENTS in faults:
        for e in out:
            delta = e.data.get("delta", {})
            if delta.get("type") == "input_json_delta":
                delta["partial_json"] = delta["partial_json"][:-2]
    if Fault.DUPLICATE_FINISH_REASON in faults:
        # a stop_reason before the answer is over: a second message_delta mid-stream
        early = min(faults[Fault.DUPLICATE_FINISH_REASON].after_chunks, len(out) - 3)
        out.insert(early, _Event({"type": "message_delta", "delta": dict(last_delta["delta"])}))
    if Fault.MISSING_DONE in faults:
        out = [e for e in out if e.data["type"] != "message_stop"]
    return out


def event_script(answer: TwinAnswer, cached: int, timing: Timing, rng: random.Random) -> list[Step]:
    """The timed stream: each token-bearing delta waits for its token (TTFT for the first, an
    inter-token gap for the rest); the framing events around them go out at once."""
    out = _events(answer, cached)
    frames = [_frame(e.data) for e in out]
    faults = answer.faults
    if Fault.MALFORMED_JSON_CHUNK in faults:
        at = min(faults[Fault.MALFORMED_JSON_CHUNK].after_chunks, len(frames) - 1)
        frames[at] = frames[at].replace(b'data: {"type"', b'data: {"type\'', 1)
    steps, first = [], True
    for event, data in zip(out, frames, strict=True):
        delay = timing.draw(timing.ttft_ms if first else timing.itl_ms, rng) if event.token else 0.0
        first = first and not event.token
        steps.append(Step(delay, data))
    return _break_script(steps, faults)


def _frame(data: dict[str, Any]) -> bytes:
    """`event: <type>` then the data, written with `", "` and `": "` as GLM writes it."""
    return f"event: {data['type']}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()
