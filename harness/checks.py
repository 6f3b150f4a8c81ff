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
from .contract import Mode, business_error, validate
from .contract.error import OpenAIErrorBody
from .errors import ContractViolation
from .profiles import DEFAULT_PROFILE, NOT_APPLIED, Profile, applies
from .stream import Assembly, Stream, as_dict, assemble, chunk_schema, invariants, read_stream, token_count


@dataclass(frozen=True, slots=True)
class Expect:
    """What the caller asked for, and so what a conforming answer looks like.

    `status` and `code` describe the answer. The rest, when given, is what the request was built
    to provoke, checked beside every other rule so that one finding never hides another:
    `tool_calls` the names of the tools called, `reasoning` whether reasoning_content comes,
    `finish_reason` its value, `content` visible text in the answer, `message_fields` the exact
    set of non-empty message fields, `incremental` more than one token-bearing chunk,
    `fragments` tool-call arguments in several deltas, `message_contains` text in an error message.
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
    profile: Profile = DEFAULT_PROFILE

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
    """A complete answer, within the bounds of harness.limits (named by the error's name)."""
    error = o.exchange.transport_error
    if error is None:
        return
    if error.name == "DeadlineExceeded":
        yield Failure("within_deadline", "connection", "the whole answer within the total deadline "
                      "(--glm-deadline)", str(error))
    elif error.name == "ResponseTooLarge":
        yield Failure("body_within_limit", "body", "a body within the size limit, decompressed "
                      "(--glm-max-body-bytes)", str(error))
    elif error.name == "EventTooLarge":
        yield Failure("event_within_limit", "stream", "SSE lines and events within the size limit "
                      "(--glm-max-event-bytes)", str(error))
    elif error.kind == "timeout":
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
    if o.profile != "glm":
        yield from _openai_error_schema(o)
        return
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


def _openai_error_schema(o: Observed) -> Iterator[Failure]:
    """A server that is not GLM is held to OpenAI's documented error object, not GLM's: `code` a
    string or null (OpenAI's "model_not_found", never a number), `type` and `param` allowed."""
    body = o.body if o.body is not None else o.exchange.body.decode("utf-8", "replace")
    for f in validate(OpenAIErrorBody, body, o.expect.mode).findings:
        yield Failure("schema", f.path,
                      'an OpenAI error body {"error": {"message": "...", "type", "param", "code": "<string>" or null}}',
                      f"{f.kind}: {f.message}")


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
        # A stream without usage is stream_invariants' missing_usage: one finding, one rule.
        if not o.exchange.streamed:
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
        yield from _tool_call(f"tool_calls[{i}]", i, call, tools, o.exchange.streamed)


def _tool_call(where: str, i: int, call: dict[str, Any], tools: dict[str, Any],
               streamed: bool) -> Iterator[Failure]:
    if not call.get("id"):
        yield Failure("id", f"{where}.id", "a tool call id", repr(call.get("id")))
    index = call.get("index")
    if index is None:
        # GLM numbers every call (all recordings, 2025 and 2026) and clients place each by it. A
        # stream's fragment without one is stream_chunk_schema's finding: one finding, one rule.
        if not streamed:
            yield Failure("index_present", f"{where}.index", "the call's index (clients place each call by it)",
                          "none")
    elif index != i:
        yield Failure("index", f"{where}.index", f"{i} (the call's position)", repr(index))
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
    # GLM serves a model by any spelling (`GLM-4.7`): a body echoes it as sent, a stream in lower case.
    same = (model.lower() == asked.lower() if o.exchange.streamed and isinstance(model, str)
            and isinstance(asked, str) else model == asked)
    if asked is not None and model is not None and not same:
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


CHECKS: dict[str, Check] = {fn.__name__: fn for fn in (
    transport_completed, status_code_conformance, content_type_conformance, non_empty_body,
    response_schema_conformance, error_schema_conformance, error_code_conformance,
    sse_framing, stream_chunk_schema, stream_invariants,
    usage_conformance, finish_reason_conformance, tool_call_conformance, message_conformance,
    echo_conformance, thinking_conformance,
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

# After these, the later checks could only restate the same failure (no answer, the wrong kind of
# answer, an empty one), so they are not run; the report says so.
GATES = frozenset({"transport_completed", "status_code_conformance", "non_empty_body"})


def default_checks(exchange: Exchange, expect: Expect) -> tuple[str, ...]:
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
    observed = Observed(exchange, expect or Expect(), profile)
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
