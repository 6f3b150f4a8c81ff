"""Named conformance checks: each a small function from an observed exchange to violations.

A violation says which check failed, where, what was expected, what came, and how to reproduce
it (a curl line with the key left as an environment variable), so a failing suite tells a user
exactly what the API did wrong. Suites call `run_checks()` and assert on the result.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import jsonschema

from .client import Exchange
from .contract import (
    ChatCompletion,
    Mode,
    business_error,
)
from .stream import Assembly, assemble, invariants


@dataclass(frozen=True, slots=True)
class Expect:
    """What the caller asked for and so what a conforming answer looks like."""

    status: int = 200
    code: str | tuple[str, ...] | None = None
    mode: Mode = Mode.LENIENT

    def accepts_code(self, code: object) -> bool:
        wanted = (self.code,) if isinstance(self.code, str) else self.code
        return wanted is None or code in wanted


@dataclass(frozen=True, slots=True)
class Violation:
    check: str
    where: str
    expected: str
    actual: str
    reproduce: str = ""

    def __str__(self) -> str:
        text = f"[{self.check}] {self.where}: expected {self.expected}; got {self.actual}"
        return text + (f"\n    reproduce: {self.reproduce}" if self.reproduce else "")


@dataclass
class Observed:
    """An exchange with its parsed views computed once and shared by every check."""

    exchange: Exchange
    expect: Expect = field(default_factory=Expect)

    @cached_property
    def assembly(self) -> Assembly:
        return assemble((t.event for t in self.exchange.events), self.expect.mode)

    @cached_property
    def completion(self) -> ChatCompletion | None:
        return self.exchange.completion(self.expect.mode).model

    def message(self) -> dict[str, Any] | None:
        """The assistant message, assembled from the stream or taken from the body."""
        if self.exchange.streamed:
            return self.assembly.message()
        return self.completion.choices[0].message.to_wire() if self.completion else None

    def finish_reason(self) -> str | None:
        if self.exchange.streamed:
            return self.assembly.finish_reason
        return self.completion.choices[0].finish_reason if self.completion else None

    def usage(self) -> Any:
        return self.assembly.usage if self.exchange.streamed else getattr(self.completion, "usage", None)


Check = Callable[[Observed], Iterable[tuple[str, str, str]]]
CHECKS: dict[str, Check] = {}


def check(fn: Check) -> Check:
    CHECKS[fn.__name__] = fn
    return fn


# -- transport and HTTP ---------------------------------------------------------------------------
@check
def transport_completed(o: Observed) -> Iterable[tuple[str, str, str]]:
    if o.exchange.transport_error:
        yield "connection", "the response to arrive in full", o.exchange.transport_error


@check
def status_code_conformance(o: Observed) -> Iterable[tuple[str, str, str]]:
    if o.exchange.status != o.expect.status:
        yield "HTTP status", str(o.expect.status), f"{o.exchange.status} {_peek(o.exchange.body)}"


@check
def content_type_conformance(o: Observed) -> Iterable[tuple[str, str, str]]:
    wanted = "text/event-stream" if o.exchange.streamed and o.expect.status == 200 else "application/json"
    if o.exchange.status is not None and not o.exchange.content_type.startswith(wanted):
        yield "Content-Type", wanted, repr(o.exchange.content_type)


@check
def non_empty_body(o: Observed) -> Iterable[tuple[str, str, str]]:
    if o.exchange.status is not None and not o.exchange.body:
        yield "body", "a non-empty body", "0 bytes"


# -- bodies ---------------------------------------------------------------------------------------
@check
def response_schema_conformance(o: Observed) -> Iterable[tuple[str, str, str]]:
    for f in o.exchange.completion(o.expect.mode).findings:
        yield f.path, f"a ChatCompletion ({o.expect.mode} mode)", f"{f.kind}: {f.message}"


@check
def error_schema_conformance(o: Observed) -> Iterable[tuple[str, str, str]]:
    checked = o.exchange.error(o.expect.mode)
    for f in checked.findings:
        yield f.path, 'an error body {"error": {"code": "<string>", "message": "..."}}', f"{f.kind}: {f.message}"
    if checked.model is None:
        return
    code = checked.model.error.code
    known = business_error(code)
    if known is not None and o.exchange.status != known.http_status:
        yield "HTTP status", f"{known.http_status} for business code {code} ({known.meaning})", str(o.exchange.status)


@check
def error_code_conformance(o: Observed) -> Iterable[tuple[str, str, str]]:
    if o.expect.code is None:
        return
    body = _json(o.exchange.body)
    code = body.get("error", {}).get("code") if isinstance(body, dict) else None
    if not o.expect.accepts_code(code):
        wanted = o.expect.code if isinstance(o.expect.code, str) else " or ".join(o.expect.code)
        yield "$.error.code", repr(wanted), repr(code)


# -- streams --------------------------------------------------------------------------------------
@check
def sse_framing(o: Observed) -> Iterable[tuple[str, str, str]]:
    for v in o.exchange.sse_violations:
        yield f"byte {v.offset}", "well-formed Server-Sent Events", f"{v.kind}: {v.message}"


@check
def stream_chunk_schema(o: Observed) -> Iterable[tuple[str, str, str]]:
    """One line per distinct problem, however many chunks repeat it."""
    seen: dict[tuple[str, str, str], list[str]] = {}
    for f in o.assembly.findings:
        event, _, field = f.path.partition("]")
        seen.setdefault((field, f.kind, f.message), []).append(event + "]")
    for (field, kind, message), events in seen.items():
        where = events[0] + field + (f" (and {len(events) - 1} more chunks)" if len(events) > 1 else "")
        yield where, f"a ChatCompletionChunk ({o.expect.mode} mode)", f"{kind}: {message}"


@check
def stream_invariants(o: Observed) -> Iterable[tuple[str, str, str]]:
    for f in invariants(o.assembly):
        yield f.path, _INVARIANT_EXPECTATIONS.get(f.kind, "a GLM-shaped stream"), f"{f.kind}: {f.message}"


_INVARIANT_EXPECTATIONS = {
    "missing_done": "the stream to end with data: [DONE]",
    "missing_usage": "usage in the last chunk",
    "usage_not_last": "usage in the last chunk",
    "duplicate_finish_reason": "one finish_reason, in the last chunk",
    "finish_reason_not_last": "one finish_reason, in the last chunk",
    "missing_finish_reason": "one finish_reason, in the last chunk",
    "first_delta_without_role": "role 'assistant' in the first delta",
    "reasoning_after_content": "reasoning_content before content",
}


# -- semantics ------------------------------------------------------------------------------------
@check
def usage_conformance(o: Observed) -> Iterable[tuple[str, str, str]]:
    usage = o.usage()
    if usage is None:
        yield "usage", "a usage object", "none"
        return
    if usage.total_tokens != usage.prompt_tokens + usage.completion_tokens:
        yield "usage.total_tokens", f"{usage.prompt_tokens + usage.completion_tokens}", str(usage.total_tokens)
    if usage.cached_tokens > usage.prompt_tokens:
        yield ("usage.prompt_tokens_details.cached_tokens", f"<= prompt_tokens ({usage.prompt_tokens})",
               str(usage.cached_tokens))
    max_tokens = o.exchange.request.get("max_tokens")
    if max_tokens is not None and usage.completion_tokens > max_tokens:
        yield "usage.completion_tokens", f"<= max_tokens ({max_tokens})", str(usage.completion_tokens)


@check
def finish_reason_conformance(o: Observed) -> Iterable[tuple[str, str, str]]:
    message, reason = o.message(), o.finish_reason()
    if message is None or reason is None:
        return
    calls = len(message.get("tool_calls") or ())
    if bool(calls) != (reason == "tool_calls"):
        expected = "'tool_calls' exactly when the message has tool calls"
        yield "finish_reason", expected, f"{reason!r} with {calls} tool call(s)"
    usage, max_tokens = o.usage(), o.exchange.request.get("max_tokens")
    if reason == "length" and usage is not None and max_tokens is not None and usage.completion_tokens < max_tokens:
        yield ("finish_reason", f"'length' only when completion_tokens reaches max_tokens ({max_tokens})",
               f"'length' at {usage.completion_tokens} tokens")


@check
def tool_call_conformance(o: Observed) -> Iterable[tuple[str, str, str]]:
    message = o.message() or {}
    requested = o.exchange.request.get("tools") or ()
    tools = {t["function"]["name"]: t["function"] for t in requested if t.get("type") == "function"}
    for i, call in enumerate(message.get("tool_calls") or ()):
        where = f"tool_calls[{i}]"
        function = call.get("function", {})
        if not call.get("id"):
            yield f"{where}.id", "a tool call id", repr(call.get("id"))
        name = function.get("name")
        if name not in tools:
            yield f"{where}.function.name", f"one of {sorted(tools)}", repr(name)
            continue
        try:
            arguments = json.loads(function.get("arguments", ""))
        except json.JSONDecodeError as error:
            got = f"invalid JSON ({error.msg}): {function.get('arguments')!r}"
            yield f"{where}.function.arguments", "a JSON object", got
            continue
        schema = tools[name].get("parameters") or {"type": "object"}
        for problem in jsonschema.Draft202012Validator(schema).iter_errors(arguments):
            path = "".join(f"[{p!r}]" for p in problem.absolute_path)
            yield f"{where}.function.arguments{path}", f"arguments matching the {name} schema", problem.message


@check
def thinking_conformance(o: Observed) -> Iterable[tuple[str, str, str]]:
    thinking = (o.exchange.request.get("thinking") or {}).get("type")
    message = o.message() or {}
    if thinking == "disabled" and message.get("reasoning_content"):
        got = f"{len(message['reasoning_content'])} characters"
        yield "reasoning_content", "no reasoning_content with thinking disabled", got


SUCCESS_CHECKS = (
    "transport_completed", "status_code_conformance", "content_type_conformance", "non_empty_body",
    "usage_conformance", "finish_reason_conformance", "tool_call_conformance", "thinking_conformance",
)
STREAM_CHECKS = ("sse_framing", "stream_chunk_schema", "stream_invariants")
ERROR_CHECKS = (
    "transport_completed", "status_code_conformance", "content_type_conformance",
    "error_schema_conformance", "error_code_conformance",
)


def default_checks(exchange: Exchange, expect: Expect) -> tuple[str, ...]:
    if expect.status != 200:
        return ERROR_CHECKS
    if exchange.streamed:
        return SUCCESS_CHECKS[:4] + STREAM_CHECKS + SUCCESS_CHECKS[4:]
    return (*SUCCESS_CHECKS[:4], "response_schema_conformance", *SUCCESS_CHECKS[4:])


def run_checks(exchange: Exchange, expect: Expect | None = None,
               names: Iterable[str] | None = None) -> list[Violation]:
    """Run the named checks (by default, all that apply) and return every violation found.

    A check that cannot run because an earlier one already failed (no body, a broken stream)
    stays quiet rather than piling on: the first failure is the useful one.
    """
    observed = Observed(exchange, expect or Expect())
    chosen = tuple(names) if names is not None else default_checks(exchange, observed.expect)
    reproduce = exchange.curl()
    violations: list[Violation] = []
    for name in chosen:
        for where, expected, actual in CHECKS[name](observed):
            violations.append(Violation(name, where, expected, actual, reproduce))
        if violations and name in _GATES:
            break
    return violations


# After these, later checks would only restate the same failure.
_GATES = {"transport_completed", "status_code_conformance", "non_empty_body"}


def describe(violations: list[Violation]) -> str:
    if not violations:
        return "conforms"
    lines = [f"GLM contract violated ({len(violations)} violation(s)):"]
    seen_reproduce = None
    for v in violations:
        lines.append(f"  [{v.check}] {v.where}: expected {v.expected}; got {v.actual}")
        seen_reproduce = v.reproduce or seen_reproduce
    if seen_reproduce:
        lines.append(f"  reproduce: {seen_reproduce}")
    return "\n".join(lines)


def assert_conforms(exchange: Exchange, expect: Expect | None = None,
                    names: Iterable[str] | None = None) -> None:
    violations = run_checks(exchange, expect, names)
    if violations:
        raise AssertionError(describe(violations))


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def _peek(raw: bytes) -> str:
    text = raw[:160].decode("utf-8", "replace")
    return text + ("..." if len(raw) > 160 else "")
