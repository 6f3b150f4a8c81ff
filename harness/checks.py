"""Named conformance checks: each a small function from an observed exchange to failures.

A check enforces a few named rules (`RULES`); for each broken rule it yields a `Failure` that
says where (a JSON path, a byte offset, a chunk), what was expected and what came. `run_checks`
turns them into `Violation`s that also carry the check's name and a curl line that reproduces
the request (the key left as an environment variable), so a failing suite tells a user exactly
what the API did wrong. Suites call `run_checks()` or `assert_conforms()`; `docs/checks.md`
lists every rule with the exchange that breaks it and the message it gives.

Checks read the body and the stream leniently, as plain JSON, so that one malformed field
cannot hide what the rest of the answer does wrong: the schema checks say what is malformed,
the others judge what is there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import jsonschema

from .client import Exchange
from .contract import MessagesAnswer, Mode, business_error, error_body_model, validate
from .errors import ContractViolation
from .message_stream import (
    MessageAssembly,
    MessageStream,
    assemble_message,
    event_order,
    event_schema,
    read_message_stream,
)
from .profiles import DEFAULT_PROFILE, NOT_APPLIED, Profile, applies
from .stream import Assembly, Stream, as_dict, assemble, chunk_schema, invariants, read_stream, token_count
from .surface import Surface


@dataclass(frozen=True, slots=True)
class Expect:
    """What the caller asked for, and so what a conforming answer looks like.

    `status` and `code` describe the answer. The rest, when given, is what the request was built
    to provoke, checked beside every other rule so that one finding never hides another:
    `tool_calls` the names of the tools called, `reasoning` whether reasoning_content comes,
    `finish_reason` its value, `content` visible text in the answer, `message_fields` the exact
    set of non-empty message fields, `incremental` more than one token-bearing chunk,
    `fragments` tool-call arguments in several deltas, `message_contains` text in an error message.
    On the Messages surface, `tool_calls` names the tool_use blocks, `reasoning` asks for a thinking
    block, and `stop_reason` is the stop_reason the request was built to provoke.
    """

    status: int = 200
    code: str | tuple[str, ...] | None = None
    mode: Mode = Mode.LENIENT
    tool_calls: tuple[str, ...] | None = None
    reasoning: bool | None = None
    finish_reason: str | None = None
    content: bool | None = None
    message_fields: frozenset[str] | None = None
    incremental: bool = False
    fragments: bool = False
    message_contains: str | None = None
    stop_reason: str | None = None

    def accepts_code(self, code: object) -> bool:
        wanted = (self.code,) if isinstance(self.code, str) else self.code
        return wanted is None or code in wanted


class Failure(NamedTuple):
    """What a check yields: the rule broken, where, what was expected, what came."""

    rule: str
    path: str
    expected: str
    got: str


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken rule, as a value: serialised as is into reports (`to_json`)."""

    check: str
    rule: str
    path: str
    expected: str
    got: str
    reproduce: str = ""

    def line(self) -> str:
        return f"[{self.check}] {self.path}: expected {self.expected}; got {self.got}"

    def __str__(self) -> str:
        return self.line() + (f"\n    reproduce: {self.reproduce}" if self.reproduce else "")

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "rule": self.rule, "path": self.path, "expected": self.expected,
                "got": self.got}


@dataclass
class Observed:
    """An exchange with its readings computed once and shared by every check."""

    exchange: Exchange
    expect: Expect = field(default_factory=Expect)

    @cached_property
    def body(self) -> Any:
        """The body as JSON; None when it is not JSON."""
        try:
            return json.loads(self.exchange.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None

    @cached_property
    def stream(self) -> Stream:
        return read_stream(self.exchange.events)

    @cached_property
    def assembly(self) -> Assembly:
        return assemble(self.stream)

    @cached_property
    def message_stream(self) -> MessageStream:
        return read_message_stream(self.exchange.events)

    @cached_property
    def message_assembly(self) -> MessageAssembly:
        return assemble_message(self.message_stream)

    def answer(self) -> dict[str, Any] | None:
        """The Messages answer: assembled from the stream, or the body."""
        if self.exchange.streamed:
            return self.message_assembly.message
        return self.body if isinstance(self.body, dict) else None

    def blocks(self, kind: str) -> list[dict[str, Any]]:
        """The Messages answer's content blocks of one type."""
        content = (self.answer() or {}).get("content")
        return [b for b in content if isinstance(b, dict) and b.get("type") == kind] \
            if isinstance(content, list) else []

    def _choice(self) -> dict[str, Any]:
        choices = self.body.get("choices") if isinstance(self.body, dict) else None
        return choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}

    def message(self) -> dict[str, Any] | None:
        """The assistant message, assembled from the stream or taken from the body."""
        if self.exchange.streamed:
            return self.assembly.message()
        message = self._choice().get("message")
        return message if isinstance(message, dict) else None

    def finish_reason(self) -> str | None:
        if self.exchange.streamed:
            return self.stream.finish_reason
        reason = self._choice().get("finish_reason")
        return reason if isinstance(reason, str) else None

    def usage(self) -> dict[str, Any] | None:
        if self.exchange.streamed:
            return self.stream.usage
        usage = self.body.get("usage") if isinstance(self.body, dict) else None
        return usage if isinstance(usage, dict) else None


Check = Callable[[Observed], Iterable[Failure]]


# -- transport and HTTP ---------------------------------------------------------------------------
def transport_completed(o: Observed) -> Iterator[Failure]:
    error = o.exchange.transport_error
    if error is None:
        return
    if error.kind == "timeout":
        yield Failure("answered_in_time", "connection", "an answer within the read timeout",
                      f"no answer within the timeout ({error}); the server may be slow or stalled")
    else:
        yield Failure("arrived", "connection", "the response to arrive in full", str(error))


def status_code_conformance(o: Observed) -> Iterator[Failure]:
    if o.exchange.status != o.expect.status:
        yield Failure("status", "HTTP status", str(o.expect.status), f"{o.exchange.status} {_peek(o.exchange.body)}")


def content_type_conformance(o: Observed) -> Iterator[Failure]:
    wanted = "text/event-stream" if o.exchange.streamed and o.expect.status == 200 else "application/json"
    if o.exchange.status is not None and not o.exchange.content_type.startswith(wanted):
        yield Failure("media_type", "Content-Type", wanted, repr(o.exchange.content_type))


def non_empty_body(o: Observed) -> Iterator[Failure]:
    if o.exchange.status is not None and not o.exchange.body:
        yield Failure("body", "body", "a non-empty body", "0 bytes")


# -- bodies ---------------------------------------------------------------------------------------
def response_schema_conformance(o: Observed) -> Iterator[Failure]:
    for f in o.exchange.completion(o.expect.mode).findings:
        yield Failure("schema", f.path, f"a ChatCompletion ({o.expect.mode} mode)", f"{f.kind}: {f.message}")


def error_schema_conformance(o: Observed) -> Iterator[Failure]:
    checked = o.exchange.error(o.expect.mode)
    for f in checked.findings:
        yield Failure("schema", f.path, 'an error body {"error": {"code": "<string>", "message": "..."}}',
                      f"{f.kind}: {f.message}")
    if checked.model is None:
        return
    code = checked.model.error.code
    known = business_error(code)
    if known is not None and o.exchange.status != known.http_status:
        yield Failure("status_for_code", "HTTP status",
                      f"{known.http_status} for business code {code} ({known.meaning})", str(o.exchange.status))


def error_code_conformance(o: Observed) -> Iterator[Failure]:
    error = o.body.get("error") if isinstance(o.body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    if o.expect.code is not None and not o.expect.accepts_code(code):
        wanted = o.expect.code if isinstance(o.expect.code, str) else " or ".join(o.expect.code)
        yield Failure("code", "$.error.code", repr(wanted), repr(code))
    message = error.get("message") if isinstance(error, dict) else None
    wanted_text = o.expect.message_contains
    if wanted_text is not None and (not isinstance(message, str) or wanted_text not in message):
        yield Failure("message", "$.error.message", f"a message that says {wanted_text!r}", repr(message))


# -- streams --------------------------------------------------------------------------------------
def sse_framing(o: Observed) -> Iterator[Failure]:
    for v in o.exchange.sse_violations:
        yield Failure(v.kind, f"byte {v.offset}", "well-formed Server-Sent Events", f"{v.kind}: {v.message}")


def stream_chunk_schema(o: Observed) -> Iterator[Failure]:
    """One failure per distinct problem, however many chunks repeat it."""
    seen: dict[tuple[str, str, str], list[str]] = {}
    for f in chunk_schema(o.stream, o.expect.mode).findings:
        event, _, path = f.path.partition("]")
        seen.setdefault((path, f.kind, f.message), []).append(event + "]")
    for (path, kind, message), events in seen.items():
        where = events[0] + path + (f" (and {len(events) - 1} more chunks)" if len(events) > 1 else "")
        expected, got = f"a ChatCompletionChunk ({o.expect.mode} mode)", f"{kind}: {message}"
        if kind == "malformed_json":
            yield Failure("malformed_json", where, expected, got)
        else:
            yield Failure("schema", where, expected, got)


def stream_invariants(o: Observed) -> Iterator[Failure]:
    for f in invariants(o.stream):
        yield Failure(f.kind, f.path, INVARIANT_EXPECTATIONS[f.kind], f"{f.kind}: {f.message}")


INVARIANT_EXPECTATIONS = {
    "error_frame": "chunks only; errors belong in an HTTP error response",
    "first_delta_without_role": "role 'assistant' in the first delta",
    "id_changed": "one id for every chunk",
    "model_changed": "one model for every chunk",
    "missing_finish_reason": "one finish_reason, in the last chunk",
    "finish_reason_not_last": "one finish_reason, in the last chunk",
    "duplicate_finish_reason": "one finish_reason, in the last chunk",
    "missing_usage": "usage in the last chunk",
    "usage_not_last": "usage in the last chunk",
    "usage_repeated": "usage in the last chunk",
    "reasoning_after_content": "reasoning_content before content",
    "missing_done": "the stream to end with data: [DONE]",
}


# -- semantics ------------------------------------------------------------------------------------
def usage_conformance(o: Observed) -> Iterator[Failure]:
    usage = o.usage()
    if usage is None:
        yield Failure("present", "usage", "a usage object", "none")
        return
    prompt, completion, total = (token_count(usage.get(k))
                                 for k in ("prompt_tokens", "completion_tokens", "total_tokens"))
    if prompt == 0:
        yield Failure("prompt_counted", "usage.prompt_tokens", "at least 1 (every request has a prompt)", "0")
    said = {k for k, v in (o.message() or {}).items() if k != "role" and v}
    if completion == 0 and said:
        yield Failure("completion_counted", "usage.completion_tokens",
                      f"at least 1 (the answer carries {', '.join(sorted(said))})", "0")
    if prompt is not None and completion is not None and total != prompt + completion:
        yield Failure("total", "usage.total_tokens", f"{prompt + completion} (prompt + completion)", repr(total))
    cached = token_count(as_dict(usage.get("prompt_tokens_details")).get("cached_tokens"))
    if cached is not None and prompt is not None and cached > prompt:
        yield Failure("cached", "usage.prompt_tokens_details.cached_tokens", f"<= prompt_tokens ({prompt})",
                      str(cached))
    reasoning = token_count(as_dict(usage.get("completion_tokens_details")).get("reasoning_tokens"))
    if reasoning is not None and completion is not None and reasoning > completion:
        yield Failure("reasoning", "usage.completion_tokens_details.reasoning_tokens",
                      f"<= completion_tokens ({completion})", str(reasoning))
    max_tokens = o.exchange.request.get("max_tokens")
    if isinstance(max_tokens, int) and completion is not None and completion > max_tokens:
        yield Failure("max_tokens", "usage.completion_tokens", f"<= max_tokens ({max_tokens})", str(completion))


def finish_reason_conformance(o: Observed) -> Iterator[Failure]:
    message, reason = o.message(), o.finish_reason()
    if message is None:
        return
    wanted = o.expect.finish_reason
    if wanted is not None and reason != wanted:
        yield Failure("expected", "finish_reason", repr(wanted), repr(reason))
    if reason is None:  # the schema checks say it is missing
        return
    calls = len(message.get("tool_calls") or ())
    if bool(calls) != (reason == "tool_calls"):
        yield Failure("tool_calls_match", "finish_reason", "'tool_calls' exactly when the message has tool calls",
                      f"{reason!r} with {calls} tool call(s)")
    completion = token_count((o.usage() or {}).get("completion_tokens"))
    max_tokens = o.exchange.request.get("max_tokens")
    if reason == "length" and completion is not None and isinstance(max_tokens, int) and completion < max_tokens:
        yield Failure("length_at_limit", "finish_reason",
                      f"'length' only when completion_tokens reaches max_tokens ({max_tokens})",
                      f"'length' at {completion} tokens")


def tool_call_conformance(o: Observed) -> Iterator[Failure]:
    message = o.message() or {}
    calls = [c if isinstance(c, dict) else {} for c in message.get("tool_calls") or ()]
    wanted = o.expect.tool_calls
    names = [as_dict(c.get("function")).get("name") for c in calls]
    if wanted is not None and set(names) != set(wanted):
        yield Failure("expected_calls", "tool_calls", f"calls to {sorted(wanted)}", f"calls to {names}")
    pieces = sum(len(e.tool_calls) for e in o.stream.events)
    if o.expect.fragments and o.exchange.streamed and pieces < 2:
        yield Failure("fragments", "stream", "tool-call arguments in several deltas (tool_stream)",
                      f"{pieces} tool-call delta(s)")
    requested = o.exchange.request.get("tools") or ()
    tools = {t["function"]["name"]: t["function"] for t in requested if t.get("type") == "function"}
    for i, call in enumerate(calls):
        yield from _tool_call(f"tool_calls[{i}]", i, call, tools)


def _tool_call(where: str, i: int, call: dict[str, Any], tools: dict[str, Any]) -> Iterator[Failure]:
    if not call.get("id"):
        yield Failure("id", f"{where}.id", "a tool call id", repr(call.get("id")))
    if call.get("index", i) != i:
        yield Failure("index", f"{where}.index", f"{i} (the call's position)", repr(call.get("index")))
    function = as_dict(call.get("function"))
    name = function.get("name")
    if name not in tools:
        yield Failure("name", f"{where}.function.name", f"one of {sorted(tools)}", repr(name))
        return
    try:
        arguments = json.loads(function.get("arguments") or "")
    except (TypeError, json.JSONDecodeError) as error:
        got = f"invalid JSON ({getattr(error, 'msg', error)}): {function.get('arguments')!r}"
        yield Failure("arguments_json", f"{where}.function.arguments", "a JSON object", got)
        return
    schema = tools[name].get("parameters") or {"type": "object"}
    for problem in jsonschema.Draft202012Validator(schema).iter_errors(arguments):
        path = "".join(f"[{p!r}]" for p in problem.absolute_path)
        yield Failure("arguments_schema", f"{where}.function.arguments{path}",
                      f"arguments matching the {name} schema", problem.message)


def message_conformance(o: Observed) -> Iterator[Failure]:
    message = o.message()
    if message is None:
        return
    if o.expect.content and not str(message.get("content") or "").strip():
        yield Failure("content", "message.content", "visible text in the answer", repr(message.get("content")))
    fields = {k for k, v in message.items() if v}
    wanted = o.expect.message_fields
    if wanted is not None and fields != wanted:
        yield Failure("fields", "message", f"the fields {sorted(wanted)}", f"the fields {sorted(fields)}")
    tokens = len(o.stream.tokens())
    if o.expect.incremental and o.exchange.streamed and tokens < 2:
        yield Failure("incremental", "stream", "the answer in several token-bearing chunks", f"{tokens} chunk(s)")


def echo_conformance(o: Observed) -> Iterator[Failure]:
    """The answer names the model that was asked for, and (GLM) echoes the caller's request_id."""
    asked = o.exchange.request.get("model")
    if o.exchange.streamed:
        first = next(iter(o.stream.events), None)
        model, request_id = (first.get("model") if first else None), None
    else:
        body = o.body if isinstance(o.body, dict) else {}
        model, request_id = body.get("model"), body.get("request_id")
    if asked is not None and model is not None and model != asked:
        yield Failure("model", "$.model", repr(asked), repr(model))
    sent_id = o.exchange.request.get("request_id")
    if sent_id is not None and not o.exchange.streamed and request_id != sent_id:
        yield Failure("request_id", "$.request_id", f"{sent_id!r} (the request_id sent)", repr(request_id))


def thinking_conformance(o: Observed) -> Iterator[Failure]:
    thinking = as_dict(o.exchange.request.get("thinking")).get("type")
    reasoning = (o.message() or {}).get("reasoning_content") or ""
    if thinking == "disabled" and reasoning:
        yield Failure("disabled", "reasoning_content", "no reasoning_content with thinking disabled",
                      f"{len(reasoning)} characters")
    if o.expect.reasoning and not reasoning:
        yield Failure("enabled", "reasoning_content", "reasoning_content with thinking enabled", "none")


# -- the Messages surface (POST /api/anthropic/v1/messages) -----------------------------------------
# GLM's status for a business code where this surface differs from chat completions (529 overload:
# shared/anthropic-api.md), and the error type Anthropic's envelope gives each status.
MESSAGES_STATUS_FOR_CODE = {"1305": 529}
ERROR_TYPE_FOR_STATUS = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
    403: "permission_error", 404: "not_found_error", 413: "request_too_large",
    429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error",
}


def message_schema_conformance(o: Observed) -> Iterator[Failure]:
    for f in validate(MessagesAnswer, o.body, o.expect.mode).findings:
        yield Failure("schema", f.path, f"a Message ({o.expect.mode} mode)", f"{f.kind}: {f.message}")


def message_error_schema_conformance(o: Observed) -> Iterator[Failure]:
    """One of the three error bodies GLM has sent on this surface, with the status its code and
    its type call for."""
    model = error_body_model(o.body)
    checked = validate(model, o.body, o.expect.mode)
    for f in checked.findings:
        yield Failure("schema", f.path, "an error body: GLM's {\"error\": {\"code\", \"message\"}} or "
                      "Anthropic's {\"type\": \"error\", \"error\": {\"type\", \"message\"}}", f"{f.kind}: {f.message}")
    if checked.model is None:
        return
    error = as_dict(o.body.get("error"))
    code = error.get("code")
    known = business_error(code) if isinstance(code, str) else None
    if known is not None:
        status = MESSAGES_STATUS_FOR_CODE.get(known.code, known.http_status)
        if o.exchange.status != status:
            yield Failure("status_for_code", "HTTP status", f"{status} for business code {code} ({known.meaning})",
                          str(o.exchange.status))
    wanted_type = ERROR_TYPE_FOR_STATUS.get(o.exchange.status or 0)
    if "type" in o.body and wanted_type is not None and error.get("type") != wanted_type:
        yield Failure("type_for_status", "$.error.type", f"{wanted_type!r} for HTTP {o.exchange.status}",
                      repr(error.get("type")))


def message_event_schema(o: Observed) -> Iterator[Failure]:
    """One failure per distinct problem, however many events repeat it."""
    seen: dict[tuple[str, str, str], list[str]] = {}
    for f in event_schema(o.message_stream, o.expect.mode).findings:
        event, _, path = f.path.partition("]")
        seen.setdefault((path, f.kind, f.message), []).append(event + "]")
    for (path, kind, message), events in seen.items():
        where = events[0] + path + (f" (and {len(events) - 1} more events)" if len(events) > 1 else "")
        expected, got = f"a Messages stream event ({o.expect.mode} mode)", f"{kind}: {message}"
        if kind == "malformed_json":
            yield Failure("malformed_json", where, expected, got)
        elif kind == "unknown_event":
            yield Failure("unknown_event", where, expected, got)
        else:
            yield Failure("schema", where, expected, got)


def message_event_order(o: Observed) -> Iterator[Failure]:
    for f in event_order(o.message_stream):
        yield Failure(f.kind, f.path, EVENT_ORDER_EXPECTATIONS[f.kind], f"{f.kind}: {f.message}")


EVENT_ORDER_EXPECTATIONS = {
    "event_name": "the event name equal to its data's type",
    "message_start_first": "message_start first",
    "missing_message_stop": "message_stop last",
    "event_after_message_stop": "message_stop last",
    "block_overlap": "each block stopped before the next starts",
    "block_index": "blocks numbered 0, 1, 2... in order",
    "delta_outside_block": "deltas only inside a started, unstopped block",
    "delta_type": "deltas of the block's type",
    "stop_outside_block": "content_block_stop for the open block",
    "block_not_closed": "every block stopped before message_delta",
    "missing_message_delta": "one message_delta, with stop_reason and usage",
    "message_delta_repeated": "one message_delta, with stop_reason and usage",
    "error_event": "no error event; errors belong in an HTTP error response",
    "done_sentinel": "no data: [DONE] (a Messages stream ends with message_stop)",
}


def message_usage_conformance(o: Observed) -> Iterator[Failure]:
    """Where the counts are: GLM sends zeros in message_start and the real counts in
    message_delta; the counts a client ends with must be real."""
    answer = o.answer() or {}
    usage = answer.get("usage")
    if not isinstance(usage, dict):
        yield Failure("present", "usage", "a usage object", "none")
        return
    where = "message_delta.usage" if o.exchange.streamed else "usage"
    source = "message_delta.usage or message_start" if o.exchange.streamed else "the answer"
    inputs, outputs = token_count(usage.get("input_tokens")), token_count(usage.get("output_tokens"))
    if inputs == 0:
        yield Failure("input_counted", f"{where}.input_tokens", f"at least 1 in {source} (every request has input)",
                      "0")
    said = [b.get("type") for b in answer.get("content") or () if isinstance(b, dict)]
    if outputs == 0 and said:
        yield Failure("output_counted", f"{where}.output_tokens",
                      f"at least 1 (the answer carries {', '.join(map(str, said))} blocks)", "0")
    max_tokens = o.exchange.request.get("max_tokens")
    if isinstance(max_tokens, int) and outputs is not None and outputs > max_tokens:
        yield Failure("max_tokens", f"{where}.output_tokens", f"<= max_tokens ({max_tokens})", str(outputs))


def stop_reason_conformance(o: Observed) -> Iterator[Failure]:
    answer = o.answer()
    if answer is None:
        return
    reason = answer.get("stop_reason")
    wanted = o.expect.stop_reason
    if wanted is not None and reason != wanted:
        yield Failure("expected", "stop_reason", repr(wanted), repr(reason))
    if not isinstance(reason, str):
        yield Failure("present", "stop_reason", "a stop_reason in the answer (message_delta when streamed)",
                      repr(reason))
        return
    uses = len(o.blocks("tool_use"))
    if bool(uses) != (reason == "tool_use"):
        yield Failure("tool_use_match", "stop_reason", "'tool_use' exactly when the answer has a tool_use block",
                      f"{reason!r} with {uses} tool_use block(s)")
    outputs = token_count(as_dict(answer.get("usage")).get("output_tokens"))
    max_tokens = o.exchange.request.get("max_tokens")
    if reason == "max_tokens" and outputs is not None and isinstance(max_tokens, int) and outputs < max_tokens:
        yield Failure("max_tokens_at_limit", "stop_reason",
                      f"'max_tokens' only when output_tokens reaches max_tokens ({max_tokens})",
                      f"'max_tokens' at {outputs} tokens")
    sequence = answer.get("stop_sequence")
    sent = o.exchange.request.get("stop_sequences") or ()
    if (reason == "stop_sequence") != (sequence is not None) or (sequence is not None and sequence not in sent):
        yield Failure("stop_sequence_match", "stop_sequence",
                      f"one of the stop_sequences sent {list(sent)} exactly when stop_reason is 'stop_sequence'",
                      f"{sequence!r} with stop_reason {reason!r}")


def tool_use_conformance(o: Observed) -> Iterator[Failure]:
    uses = o.blocks("tool_use")
    names = [u.get("name") for u in uses]
    wanted = o.expect.tool_calls
    if wanted is not None and set(names) != set(wanted):
        yield Failure("expected_calls", "content", f"tool_use blocks for {sorted(wanted)}", f"for {names}")
    choice = as_dict(o.exchange.request.get("tool_choice"))
    forced = {"any": "a tool_use block", "tool": f"a tool_use block for {choice.get('name')!r}"}.get(
        str(choice.get("type")))
    if (forced and (not uses or (choice.get("type") == "tool" and choice.get("name") not in names))) \
            or (choice.get("type") == "none" and uses):
        yield Failure("tool_choice", "content", forced or "no tool_use block (tool_choice none)",
                      f"tool_use blocks for {names}")
    tools = {t.get("name"): t for t in o.exchange.request.get("tools") or () if isinstance(t, dict)}
    seen: set[Any] = set()
    content = (o.answer() or {}).get("content") or []
    for i, block in enumerate(content):
        if isinstance(block, dict) and block.get("type") == "tool_use":
            yield from _tool_use(f"content[{i}]", i, block, tools, seen, o)


def _tool_use(where: str, i: int, block: dict[str, Any], tools: dict[Any, Any], seen: set[Any],
              o: Observed) -> Iterator[Failure]:
    use_id = block.get("id")
    if not isinstance(use_id, str) or not use_id:
        yield Failure("id", f"{where}.id", "a tool_use id", repr(use_id))
    elif use_id in seen:
        yield Failure("id_unique", f"{where}.id", "an id no other tool_use block of the answer has", repr(use_id))
    seen.add(use_id)
    name = block.get("name")
    if name not in tools:
        yield Failure("name", f"{where}.name", f"one of {sorted(map(str, tools))}", repr(name))
        return
    if o.exchange.streamed:
        joined = o.message_assembly.tool_inputs.get(i, "")
        try:
            tool_input = json.loads(joined)
        except json.JSONDecodeError as error:
            yield Failure("input_json", f"{where}.input", "the partial_json pieces joined to a JSON object",
                          f"invalid JSON ({error.msg}): {joined[:120]!r}")
            return
    else:
        tool_input = block.get("input")
    if not isinstance(tool_input, dict):
        yield Failure("input_json", f"{where}.input", "a JSON object", repr(tool_input)[:120])
        return
    schema = as_dict(tools[name].get("input_schema")) or {"type": "object"}
    for problem in jsonschema.Draft202012Validator(schema).iter_errors(tool_input):
        path = "".join(f"[{p!r}]" for p in problem.absolute_path)
        yield Failure("input_schema", f"{where}.input{path}", f"input matching the {name} input_schema",
                      problem.message)


def message_content_conformance(o: Observed) -> Iterator[Failure]:
    text = "".join(str(b.get("text") or "") for b in o.blocks("text"))
    if o.expect.content and not text.strip():
        yield Failure("content", "content", "visible text in a text block", repr(text))
    pieces = sum(1 for e in o.message_stream.events if e.delta_type == "text_delta" and e.piece)
    if o.expect.incremental and o.exchange.streamed and pieces < 2:
        yield Failure("incremental", "stream", "the text in several text_delta events", f"{pieces} event(s)")


def message_echo_conformance(o: Observed) -> Iterator[Failure]:
    """The answer names the model that was asked for (message_start's message, when streamed)."""
    asked = o.exchange.request.get("model")
    model = (o.answer() or {}).get("model")
    if asked is not None and model is not None and model != asked:
        yield Failure("model", "$.model", repr(asked), repr(model))


def thinking_block_conformance(o: Observed) -> Iterator[Failure]:
    thinking = as_dict(o.exchange.request.get("thinking")).get("type")
    blocks = o.blocks("thinking")
    if thinking == "disabled" and blocks:
        yield Failure("disabled", "content", "no thinking block with thinking disabled", f"{len(blocks)} block(s)")
    if o.expect.reasoning and not blocks:
        yield Failure("enabled", "content", "a thinking block with thinking enabled", "none")


CHECKS: dict[str, Check] = {fn.__name__: fn for fn in (
    transport_completed, status_code_conformance, content_type_conformance, non_empty_body,
    response_schema_conformance, error_schema_conformance, error_code_conformance,
    sse_framing, stream_chunk_schema, stream_invariants,
    usage_conformance, finish_reason_conformance, tool_call_conformance, message_conformance,
    echo_conformance, thinking_conformance,
    message_schema_conformance, message_error_schema_conformance, message_event_schema,
    message_event_order, message_usage_conformance, stop_reason_conformance, tool_use_conformance,
    message_content_conformance, message_echo_conformance, thinking_block_conformance,
)}

SUCCESS_CHECKS = (
    "transport_completed", "status_code_conformance", "content_type_conformance", "non_empty_body",
    "usage_conformance", "finish_reason_conformance", "tool_call_conformance", "message_conformance",
    "echo_conformance", "thinking_conformance",
)
STREAM_CHECKS = ("sse_framing", "stream_chunk_schema", "stream_invariants")
ERROR_CHECKS = (
    "transport_completed", "status_code_conformance", "content_type_conformance",
    "error_schema_conformance", "error_code_conformance",
)

MESSAGE_CHECKS = (
    "transport_completed", "status_code_conformance", "content_type_conformance", "non_empty_body",
    "message_usage_conformance", "stop_reason_conformance", "tool_use_conformance",
    "message_content_conformance", "message_echo_conformance", "thinking_block_conformance",
)
MESSAGE_STREAM_CHECKS = ("sse_framing", "message_event_schema", "message_event_order")
MESSAGE_ERROR_CHECKS = (
    "transport_completed", "status_code_conformance", "content_type_conformance",
    "message_error_schema_conformance", "error_code_conformance",
)

# After these, the later checks could only restate the same failure (no answer, the wrong kind of
# answer, an empty one), so they are not run; the report says so.
GATES = frozenset({"transport_completed", "status_code_conformance", "non_empty_body"})


def default_checks(exchange: Exchange, expect: Expect) -> tuple[str, ...]:
    if exchange.surface is Surface.ANTHROPIC:
        if expect.status != 200:
            return MESSAGE_ERROR_CHECKS
        if exchange.streamed:
            return MESSAGE_CHECKS[:4] + MESSAGE_STREAM_CHECKS + MESSAGE_CHECKS[4:]
        return (*MESSAGE_CHECKS[:4], "message_schema_conformance", *MESSAGE_CHECKS[4:])
    if expect.status != 200:
        return ERROR_CHECKS
    if exchange.streamed:
        return SUCCESS_CHECKS[:4] + STREAM_CHECKS + SUCCESS_CHECKS[4:]
    return (*SUCCESS_CHECKS[:4], "response_schema_conformance", *SUCCESS_CHECKS[4:])


@dataclass(frozen=True, slots=True)
class CheckRun:
    """What checking one exchange found: the checks that ran (a gate stops the rest), the
    violations of rules that apply, and those of GLM-only rules the profile does not apply."""

    ran: tuple[str, ...]
    violations: list[Violation]
    not_applied: list[Violation]


def check_exchange(exchange: Exchange, expect: Expect | None = None, names: Iterable[str] | None = None,
                   profile: Profile = DEFAULT_PROFILE) -> CheckRun:
    """Run the named checks (by default, all that apply) under a profile (profiles.py)."""
    observed = Observed(exchange, expect or Expect())
    chosen = tuple(names) if names is not None else default_checks(exchange, observed.expect)
    reproduce = exchange.curl()
    ran: list[str] = []
    violations: list[Violation] = []
    not_applied: list[Violation] = []
    for name in chosen:
        ran.append(name)
        for failure in CHECKS[name](observed):
            kept = violations if applies(profile, name, failure.rule) else not_applied
            kept.append(Violation(name, *failure, reproduce))
        if violations and name in GATES:
            break
    return CheckRun(tuple(ran), violations, not_applied)


def run_checks(exchange: Exchange, expect: Expect | None = None,
               names: Iterable[str] | None = None) -> list[Violation]:
    """Run the named checks (by default, all that apply) and return every violation found."""
    return check_exchange(exchange, expect, names).violations


def describe(violations: list[Violation], not_applied: Iterable[Violation] = ()) -> str:
    waived = [f"  ({NOT_APPLIED}) {v.line()}" for v in not_applied]
    if not violations:
        return "\n".join(["conforms", *waived])
    lines = [f"GLM contract violated ({len(violations)} violation(s)):"]
    lines += [f"  {v.line()}" for v in violations]
    if violations[-1].check in GATES:
        lines.append(f"  (checks after {violations[-1].check} were not run: they would restate this failure)")
    lines += waived
    reproductions = [v.reproduce for v in violations if v.reproduce]  # one request: one line
    if reproductions:
        lines.append(f"  reproduce: {reproductions[0]}")
    return "\n".join(lines)


def assert_conforms(exchange: Exchange, expect: Expect | None = None,
                    names: Iterable[str] | None = None) -> None:
    violations = run_checks(exchange, expect, names)
    if violations:
        raise ContractViolation(describe(violations), violations)


def _peek(raw: bytes) -> str:
    text = raw[:160].decode("utf-8", "replace")
    return text + ("..." if len(raw) > 160 else "")
