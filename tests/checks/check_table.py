"""The check table: for every rule of every check, a real exchange with that one rule broken, and
the exact line a user sees; and the healthy exchanges every check must pass.

This table is the documentation of what the suites guarantee: `docs/checks.md` is rendered from
it (`python tests/checks/check_table.py > docs/checks.md`), and a test fails when the doc is stale.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from check_exchanges import THINKING, answer, error, exchange, request_of, stream
from message_exchanges import m_answer, m_error, m_stream
from message_exchanges import request_of as m_request_of

from harness.checks import Expect
from harness.client import Exchange
from harness.contract import Mode
from harness.errors import TransportError
from harness.sse import VIOLATION_KINDS


@dataclass(frozen=True)
class Case:
    check: str
    rule: str
    breaks: str  # what was done to a real exchange to break the rule
    build: Callable[[], Exchange]
    message: str  # the violation's line, as the user sees it
    expect: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.check}.{self.rule}"


def _delta(chunk: dict[str, Any]) -> dict[str, Any]:
    delta: dict[str, Any] = chunk["choices"][0]["delta"]
    return delta


def _set(path: str, value: Any) -> Callable[[Any], None]:
    """An edit that sets one field of a JSON body, by a dotted path (`choices.0.message.content`)."""
    def edit(data: Any) -> None:
        *parents, last = path.split(".")
        for part in parents:
            data = data[int(part)] if isinstance(data, list) else data[part]
        if isinstance(data, list):
            data[int(last)] = value
        else:
            data[last] = value
    return edit


def _drop(path: str) -> Callable[[Any], None]:
    def edit(data: Any) -> None:
        *parents, last = path.split(".")
        for part in parents:
            data = data[int(part)] if isinstance(data, list) else data[part]
        del data[last]
    return edit


def _insert_reasoning_after_content(chunks: list[Any]) -> None:
    chunks.insert(-1, {**chunks[-2], "choices": [{"index": 0, "delta": {"role": "assistant",
                                                                         "reasoning_content": "wait"}}]})


def _finish_early(chunks: list[Any]) -> None:
    chunks[3]["choices"][0]["finish_reason"] = "stop"


def _usage_early(chunks: list[Any]) -> None:
    chunks[1]["usage"] = chunks[-1].pop("usage")


def _usage_twice(chunks: list[Any]) -> None:
    chunks[1]["usage"] = chunks[-1]["usage"]


def _finish_not_last(chunks: list[Any]) -> None:
    """A content chunk after the finishing one, which hands it the usage so that usage stays last."""
    chunks.append({**chunks[-2], "choices": [{"index": 0, "delta": {"role": "assistant", "content": "."}}],
                   "usage": chunks[-1].pop("usage")})


def _tool_args_in_pieces(chunks: list[Any]) -> None:
    call = _delta(chunks[-2])["tool_calls"][0]
    arguments = call["function"]["arguments"]
    first = {**chunks[-2], "choices": [{"index": 0, "delta": {"tool_calls": [
        {**call, "function": {"name": "weather", "arguments": arguments[:5]}}]}}]}
    second = {**chunks[-2], "choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "function": {"arguments": arguments[5:]}}]}}]}
    chunks[-2:-1] = [first, second]


TIMEOUT = TransportError("timeout", "ReadTimeout", "timed out")
RESET = TransportError("protocol", "RemoteProtocolError",
                       "peer closed connection without sending complete message body")
TOOL_EXPECT = {"tool_calls": ("weather",)}

CASES: list[Case] = [
    # -- transport and HTTP
    Case("transport_completed", "answered_in_time", "the read timed out before the answer ended",
         lambda: stream("simple_streaming", lambda c: c[:5], done=False, error=TIMEOUT),
         "[transport_completed] connection: expected an answer within the read timeout; got no answer within the "
         "timeout (ReadTimeout: timed out); the server may be slow or stalled"),
    Case("transport_completed", "arrived", "the connection broke mid-stream",
         lambda: stream("simple_streaming", lambda c: c[:5], done=False, error=RESET),
         "[transport_completed] connection: expected the response to arrive in full; got RemoteProtocolError: "
         "peer closed connection without sending complete message body"),
    Case("status_code_conformance", "status", "a 200 answer where a 400 was due",
         lambda: answer("simple"), "[status_code_conformance] HTTP status: expected 400; got 200 {\"choices\":"
         "[{\"finish_reason\":\"stop\",\"index\":0,\"message\":{\"content\":\"\\nOi!\\n\\nThat's the most common and "
         "informal way to say \\\"hi,\\\" similar to \\\"hey\\\" in Englis...", {"status": 400}),
    Case("content_type_conformance", "media_type", "a stream sent as application/json",
         lambda: stream("simple_streaming", content_type="application/json"),
         "[content_type_conformance] Content-Type: expected text/event-stream; got 'application/json'"),
    Case("non_empty_body", "body", "a 200 with no body",
         lambda: exchange(request_of("simple"), b""),
         "[non_empty_body] body: expected a non-empty body; got 0 bytes"),
    # -- bodies
    Case("response_schema_conformance", "schema", "choices[0].finish_reason removed",
         lambda: answer("simple", _drop("choices.0.finish_reason")),
         "[response_schema_conformance] $.choices[0].finish_reason: expected a ChatCompletion (lenient mode); got "
         "missing: Field required"),
    Case("error_schema_conformance", "schema", "the business code sent as a number",
         lambda: error("400_1211", 400, _set("error.code", 1211)),
         "[error_schema_conformance] $.error.code: expected an error body {\"error\": {\"code\": \"<string>\", "
         "\"message\": \"...\"}}; got string_type: Input should be a valid string (got 1211)",
         {"status": 400}),
    Case("error_schema_conformance", "status_for_code", "code 1113 (empty balance) sent with HTTP 400",
         lambda: error("429_1113", 400),
         "[error_schema_conformance] HTTP status: expected 429 for business code 1113 (balance insufficient or no "
         "resource package); got 400", {"status": 400}),
    Case("error_code_conformance", "code", "code 1211 where 1210 was due",
         lambda: error("400_1211", 400),
         "[error_code_conformance] $.error.code: expected '1210'; got '1211'", {"status": 400, "code": "1210"}),
    Case("error_code_conformance", "message", "a 1210 message that does not name the range",
         lambda: error("400_1210", 400, _set("error.message", "The max_tokens parameter is illegal.")),
         "[error_code_conformance] $.error.message: expected a message that says '[1,131072]'; got "
         "'The max_tokens parameter is illegal.'", {"status": 400, "message_contains": "[1,131072]"}),
    # -- streams: chunk schema
    Case("stream_chunk_schema", "schema", "a chunk's id sent as a number",
         lambda: stream("simple_streaming", lambda c: c[2].update(id=7)),
         "[stream_chunk_schema] event[2].id: expected a ChatCompletionChunk (lenient mode); got string_type: "
         "Input should be a valid string (got 7)"),
    Case("stream_chunk_schema", "malformed_json", "a chunk cut short",
         lambda: stream("simple_streaming", lambda c: [*c[:2], '{"id": "x", "choi', *c[2:]]),
         "[stream_chunk_schema] event[2]: expected a ChatCompletionChunk (lenient mode); got malformed_json: data "
         "is not JSON (Unterminated string starting at): '{\"id\": \"x\", \"choi'"),
    # -- streams: invariants
    Case("stream_invariants", "error_frame", "an error object sent as a chunk of a 200 stream",
         lambda: stream("simple_streaming", lambda c: [*c[:3], {"error": {"code": "1234", "message": "网络错误"}},
                                                       *c[3:]]),
         "[stream_invariants] event[3]: expected chunks only; errors belong in an HTTP error response; got "
         "error_frame: an error inside a 200 stream: code '1234', message '网络错误'"),
    Case("stream_invariants", "first_delta_without_role", "the role removed from the first delta",
         lambda: stream("simple_streaming", lambda c: _delta(c[0]).pop("role")),
         "[stream_invariants] event[0].choices[0].delta.role: expected role 'assistant' in the first delta; got "
         "first_delta_without_role: the first delta must carry role 'assistant'; it carried None"),
    Case("stream_invariants", "id_changed", "one chunk's id changed",
         lambda: stream("simple_streaming", lambda c: c[4].update(id="other")),
         "[stream_invariants] event[4].id: expected one id for every chunk; got id_changed: id changed mid-stream "
         "from '20251023225921c2f842a8205b4cfa' to 'other'"),
    Case("stream_invariants", "model_changed", "one chunk's model changed",
         lambda: stream("simple_streaming", lambda c: c[4].update(model="glm-4.5")),
         "[stream_invariants] event[4].model: expected one model for every chunk; got model_changed: model changed "
         "mid-stream from 'glm-4.6' to 'glm-4.5'"),
    Case("stream_invariants", "missing_finish_reason", "the finish_reason removed from the last chunk",
         lambda: stream("simple_streaming", lambda c: c[-1]["choices"][0].pop("finish_reason")),
         "[stream_invariants] stream: expected one finish_reason, in the last chunk; got missing_finish_reason: no "
         "chunk carried a finish_reason"),
    Case("stream_invariants", "finish_reason_not_last", "a content chunk added after the finishing one",
         lambda: stream("simple_streaming", _finish_not_last),
         "[stream_invariants] event[1284]: expected one finish_reason, in the last chunk; got finish_reason_not_last: "
         "the last finish_reason came in event 1284, not in the last chunk (1285)"),
    Case("stream_invariants", "duplicate_finish_reason", "a finish_reason on a content chunk too",
         lambda: stream("simple_streaming", _finish_early),
         "[stream_invariants] stream: expected one finish_reason, in the last chunk; got duplicate_finish_reason: "
         "finish_reason also appeared in event 3 (stop); expected once, in the last"),
    Case("stream_invariants", "missing_usage", "usage removed from the last chunk",
         lambda: stream("simple_streaming", lambda c: c[-1].pop("usage")),
         "[stream_invariants] stream: expected usage in the last chunk; got missing_usage: no chunk carried usage; "
         "GLM sends it in the last chunk"),
    Case("stream_invariants", "usage_not_last", "usage moved to the second chunk",
         lambda: stream("simple_streaming", _usage_early),
         "[stream_invariants] event[1]: expected usage in the last chunk; got usage_not_last: usage came in event 1, "
         "before the last chunk (1284)"),
    Case("stream_invariants", "usage_repeated", "usage sent on the second chunk as well",
         lambda: stream("simple_streaming", _usage_twice),
         "[stream_invariants] stream: expected usage in the last chunk; got usage_repeated: usage came in events 1, "
         "1284; expected once, in the last"),
    Case("stream_invariants", "reasoning_after_content", "a reasoning delta after the answer started",
         lambda: stream("simple_streaming", _insert_reasoning_after_content),
         "[stream_invariants] event[1284].choices[0].delta.reasoning_content: expected reasoning_content before "
         "content; got reasoning_after_content: reasoning_content arrived after visible content had started"),
    Case("stream_invariants", "missing_done", "data: [DONE] left out",
         lambda: stream("simple_streaming", done=False),
         "[stream_invariants] stream: expected the stream to end with data: [DONE]; got missing_done: the stream "
         "did not end with data: [DONE]"),
    # -- semantics
    Case("usage_conformance", "present", "usage removed from the body",
         lambda: answer("simple", _drop("usage")), "[usage_conformance] usage: expected a usage object; got none"),
    Case("usage_conformance", "total", "total_tokens one more than prompt + completion",
         lambda: answer("simple", _set("usage.total_tokens", 878)),
         "[usage_conformance] usage.total_tokens: expected 877 (prompt + completion); got 878"),
    Case("usage_conformance", "prompt_counted", "prompt_tokens 0 (and total adjusted)",
         lambda: answer("simple", lambda b: b["usage"].update(prompt_tokens=0, total_tokens=859)),
         "[usage_conformance] usage.prompt_tokens: expected at least 1 (every request has a prompt); got 0"),
    Case("usage_conformance", "completion_counted", "completion_tokens 0 beside an answer",
         lambda: answer("simple", lambda b: b["usage"].update(completion_tokens=0, total_tokens=18)),
         "[usage_conformance] usage.completion_tokens: expected at least 1 (the answer carries content, "
         "reasoning_content); got 0"),
    Case("usage_conformance", "cached", "more cached tokens than prompt tokens",
         lambda: answer("simple", _set("usage.prompt_tokens_details.cached_tokens", 19)),
         "[usage_conformance] usage.prompt_tokens_details.cached_tokens: expected <= prompt_tokens (18); got 19"),
    Case("usage_conformance", "reasoning", "more reasoning tokens than completion tokens",
         lambda: answer("simple", _set("usage.completion_tokens_details", {"reasoning_tokens": 860})),
         "[usage_conformance] usage.completion_tokens_details.reasoning_tokens: expected <= completion_tokens "
         "(859); got 860"),
    Case("usage_conformance", "max_tokens", "more completion tokens than max_tokens allowed",
         lambda: answer("simple", request=lambda r: r.update(max_tokens=800)),
         "[usage_conformance] usage.completion_tokens: expected <= max_tokens (800); got 859"),
    Case("finish_reason_conformance", "expected", "'stop' where the request was built to hit max_tokens",
         lambda: answer("simple"),
         "[finish_reason_conformance] finish_reason: expected 'length'; got 'stop'", {"finish_reason": "length"}),
    Case("finish_reason_conformance", "tool_calls_match", "finish_reason 'stop' beside tool calls",
         lambda: answer("tool", _set("choices.0.finish_reason", "stop")),
         "[finish_reason_conformance] finish_reason: expected 'tool_calls' exactly when the message has tool calls; "
         "got 'stop' with 1 tool call(s)"),
    Case("finish_reason_conformance", "length_at_limit", "'length' well below max_tokens",
         lambda: answer("simple", _set("choices.0.finish_reason", "length"),
                        request=lambda r: r.update(max_tokens=900)),
         "[finish_reason_conformance] finish_reason: expected 'length' only when completion_tokens reaches "
         "max_tokens (900); got 'length' at 859 tokens"),
    Case("tool_call_conformance", "expected_calls", "no call to the tool the request was built to provoke",
         lambda: answer("tool"), "[tool_call_conformance] tool_calls: expected calls to ['add']; got calls to "
         "['weather']", {"tool_calls": ("add",)}),
    Case("tool_call_conformance", "fragments", "tool_stream asked for, the arguments sent whole",
         lambda: stream("tool_streaming", request=lambda r: r.update(tool_stream=True)),
         "[tool_call_conformance] stream: expected tool-call arguments in several deltas (tool_stream); got 1 "
         "tool-call delta(s)", {"fragments": True}),
    Case("tool_call_conformance", "id", "the tool call's id removed",
         lambda: answer("tool", _drop("choices.0.message.tool_calls.0.id")),
         "[tool_call_conformance] tool_calls[0].id: expected a tool call id; got None"),
    Case("tool_call_conformance", "index", "the second parallel call indexed 0",
         lambda: answer("multi_tool", _set("choices.0.message.tool_calls.1.index", 0)),
         "[tool_call_conformance] tool_calls[1].index: expected 1 (the call's position); got 0"),
    Case("tool_call_conformance", "name", "a call to a tool that was not offered",
         lambda: answer("tool", _set("choices.0.message.tool_calls.0.function.name", "forecast")),
         "[tool_call_conformance] tool_calls[0].function.name: expected one of ['weather']; got 'forecast'"),
    Case("tool_call_conformance", "arguments_json", "arguments that are not JSON",
         lambda: answer("tool", _set("choices.0.message.tool_calls.0.function.arguments", '{"location": ')),
         "[tool_call_conformance] tool_calls[0].function.arguments: expected a JSON object; got invalid JSON "
         "(Expecting value): '{\"location\": '"),
    Case("tool_call_conformance", "arguments_schema", "arguments without the required location",
         lambda: answer("tool", _set("choices.0.message.tool_calls.0.function.arguments", '{"city": "Florence"}')),
         "[tool_call_conformance] tool_calls[0].function.arguments: expected arguments matching the weather schema; "
         "got 'location' is a required property"),
    Case("message_conformance", "content", "an empty answer where text was due",
         lambda: answer("tool"), "[message_conformance] message.content: expected visible text in the answer; got "
         "None", {"content": True}),
    Case("message_conformance", "fields", "a streamed answer without the reasoning the JSON answer had",
         lambda: stream("simple_streaming", lambda c: [x for x in c if not _delta(x).get("reasoning_content")]),
         "[message_conformance] message: expected the fields ['content', 'reasoning_content', 'role']; got the "
         "fields ['content', 'role']", {"message_fields": frozenset({"content", "reasoning_content", "role"})}),
    Case("message_conformance", "incremental", "the whole answer in one chunk",
         lambda: stream("simple_streaming", lambda c: [x for x in c if not x["choices"][0].get("delta", {})
                                                       .get("reasoning_content")][-2:]),
         "[message_conformance] stream: expected the answer in several token-bearing chunks; got 1 chunk(s)",
         {"incremental": True}),
    Case("echo_conformance", "model", "the answer names another model",
         lambda: answer("simple", _set("model", "glm-4.5")),
         "[echo_conformance] $.model: expected 'glm-4.6'; got 'glm-4.5'"),
    Case("echo_conformance", "request_id", "the caller's request_id not echoed",
         lambda: answer("simple", request=lambda r: r.update(request_id="mine-0001")),
         "[echo_conformance] $.request_id: expected 'mine-0001' (the request_id sent); got "
         "'20251023225903cf0228dfd8f1415d'"),
    Case("thinking_conformance", "disabled", "reasoning_content with thinking disabled",
         lambda: answer("simple", request=lambda r: r.update(thinking={"type": "disabled"})),
         "[thinking_conformance] reasoning_content: expected no reasoning_content with thinking disabled; got 3134 "
         "characters"),
    Case("thinking_conformance", "enabled", "no reasoning_content though the request asked for it",
         lambda: answer("simple", _drop("choices.0.message.reasoning_content")),
         "[thinking_conformance] reasoning_content: expected reasoning_content with thinking enabled; got none",
         {"reasoning": True}),
]

# SSE framing: one case per violation the decoder reports, each on a real stream with its bytes changed.
_FRAMING: dict[str, tuple[str, Callable[[bytes], bytes], str]] = {
    "unterminated_event": ("the last event lost its blank line", lambda b: b[:-1],
                           "byte 232985: expected well-formed Server-Sent Events; got unterminated_event: stream ended "
                           "before the blank line that dispatches the last event; dispatched anyway with "
                           "terminated=False"),
    "trailing_partial_line": ("a comment line without its line break after the end", lambda b: b + b": ping",
                              "byte 232986: expected well-formed Server-Sent Events; got trailing_partial_line: "
                              "stream ended inside a line (6 bytes with no line break)"),
    "unknown_field": ("a line with a field SSE does not define", lambda b: b"foo: bar\n" + b,
                      "byte 0: expected well-formed Server-Sent Events; got unknown_field: unknown field 'foo' "
                      "ignored"),
    "invalid_retry": ("a retry field that is not a number", lambda b: b"retry: soon\n" + b,
                      "byte 0: expected well-formed Server-Sent Events; got invalid_retry: retry 'soon' is not only "
                      "ASCII digits; ignored"),
    "invalid_id": ("an id field with a NUL character", lambda b: b"id: a\x00b\n" + b,
                   "byte 0: expected well-formed Server-Sent Events; got invalid_id: id 'a\\x00b' contains NUL; "
                   "ignored"),
    "invalid_utf8": ("a byte that is not UTF-8 inside a chunk", lambda b: b.replace(b"Oi", b"O\xff", 1),
                     "byte 16218: expected well-formed Server-Sent Events; got invalid_utf8: 1 invalid UTF-8 "
                     "sequence(s) in the line replaced with U+FFFD, the first b'\\xff'"),
    "data_after_done": ("an event after data: [DONE]", lambda b: b + b'data: {"late": true}\n\n',
                        "byte 233007: expected well-formed Server-Sent Events; got data_after_done: event after "
                        "[DONE]: '{\"late\": true}'"),
}


def _framing_case(kind: str) -> Case:
    breaks, change, got = _FRAMING[kind]
    return Case("sse_framing", kind, breaks, lambda: stream("simple_streaming", raw=change), f"[sse_framing] {got}")


CASES += [_framing_case(kind) for kind in sorted(VIOLATION_KINDS)]

# Healthy counterparts: real answers every check passes, with the expectations their requests set.
HEALTHY: dict[str, tuple[Callable[[], Exchange], Expect]] = {
    "simple": (lambda: answer("simple", request=lambda r: r.update(request_id=None) or r),
               Expect(content=True, reasoning=True, finish_reason="stop")),
    "simple_streaming": (lambda: stream("simple_streaming"),
                         Expect(content=True, reasoning=True, incremental=True,
                                message_fields=frozenset({"content", "reasoning_content", "role"}))),
    "tool": (lambda: answer("tool"), Expect(tool_calls=("weather",), finish_reason="tool_calls")),
    "tool_streaming": (lambda: stream("tool_streaming"), Expect(**TOOL_EXPECT, finish_reason="tool_calls")),
    "tool_stream_in_pieces": (lambda: stream("tool_streaming", _tool_args_in_pieces,
                                             request=lambda r: r.update(tool_stream=True)),
                              Expect(**TOOL_EXPECT, fragments=True)),
    "multi_tool": (lambda: answer("multi_tool"), Expect(tool_calls=("add", "multiply"))),
    "multi_tool_streaming": (lambda: stream("multi_tool_streaming"), Expect(tool_calls=("add", "multiply"))),
    "thinking_streaming": (lambda: stream("thinking-streaming", prefix=THINKING), Expect(reasoning=True)),
    "thinking_streaming_strict": (lambda: stream("thinking-streaming", prefix=THINKING),
                                  Expect(reasoning=True, mode=Mode.STRICT)),
    "error_1211": (lambda: error("400_1211", 400), Expect(status=400, code="1211")),
    "error_1113": (lambda: error("429_1113", 429), Expect(status=429, code="1113")),
    "error_1210_range": (lambda: error("400_1210", 400), Expect(status=400, code="1210",
                                                               message_contains="[1,131072]")),
}

# -- the Messages surface (fixtures/real-2026: GLM's Anthropic-compatible API, recorded 2026-05-07)
TEXT, TOOL = "glm-4.6__anthropic-simple", "glm-4.6__anthropic-tool-use"
TEXT_STREAM, TOOL_STREAM = "glm-4.6__anthropic-streaming", "glm-4.6__anthropic-tool-use-streaming"
ONLY_TOOL_STREAM = "glm-5.1__anthropic-tool-use-streaming"
WEATHER = {"tool_calls": ("get_weather",)}


def _event(n: int, change: Callable[[Any], Any]) -> Callable[[list[Any]], None]:
    """An edit of the data of the stream's n-th event."""
    def edit(events: list[Any]) -> None:
        change(events[n][1])
    return edit


def _rename(n: int, name: str) -> Callable[[list[Any]], None]:
    def edit(events: list[Any]) -> None:
        events[n] = (name, events[n][1])
    return edit


def _move(source: int, target: int) -> Callable[[list[Any]], None]:
    def edit(events: list[Any]) -> None:
        events.insert(target, events.pop(source))
    return edit


def _renumber(index: int) -> Callable[[list[Any]], None]:
    """The tool_use block (the stream's events -5 to -3) numbered `index`."""
    def edit(events: list[Any]) -> None:
        for _, data in events[-5:-2]:
            data["index"] = index
    return edit


def _tool_input(text: str) -> Callable[[list[Any]], None]:
    """The tool_use block's single input_json_delta (the stream's third-last event) carries `text`."""
    return _event(-4, lambda d: d["delta"].update(partial_json=text))


def _in_pieces(events: list[Any]) -> None:
    whole = events[-4][1]["delta"]["partial_json"]
    piece = {"type": "input_json_delta", "partial_json": whole[5:]}
    second = ("content_block_delta", {**events[-4][1], "delta": piece})
    events[-4][1]["delta"]["partial_json"] = whole[:5]
    events.insert(-3, second)


def _counts_only_in_start(events: list[Any]) -> None:
    """Anthropic's own placement: input counts in message_start, output counts in message_delta."""
    events[0][1]["message"]["usage"] = dict(events[-2][1]["usage"], output_tokens=1)
    events[-2][1]["usage"] = {"output_tokens": events[-2][1]["usage"]["output_tokens"]}


MESSAGE_CASES: list[Case] = [
    Case("message_schema_conformance", "schema", "the answer's role sent as 'user'",
         lambda: m_answer(TEXT, _set("role", "user")),
         "[message_schema_conformance] $.role: expected a Message (lenient mode); got literal_error: Input should be "
         "'assistant' (got 'user')"),
    Case("message_error_schema_conformance", "schema", "the business code sent as a number",
         lambda: m_error("glm-4.6__anthropic-error-model", _set("error.code", 1211)),
         "[message_error_schema_conformance] $.error.code: expected an error body: GLM's {\"error\": {\"code\", "
         "\"message\"}} or Anthropic's {\"type\": \"error\", \"error\": {\"type\", \"message\"}}; got string_type: "
         "Input should be a valid string (got 1211)", {"status": 400}),
    Case("message_error_schema_conformance", "status_for_code", "1305 (overloaded) sent with HTTP 429, not 529",
         lambda: m_error("glm-4.6__anthropic-error-model", lambda b: b["error"].update(
             code="1305", message="The service may be temporarily overloaded, please try again later"), status=429),
         "[message_error_schema_conformance] HTTP status: expected 529 for business code 1305 (service overloaded); "
         "got 429", {"status": 429}),
    Case("message_error_schema_conformance", "type_for_status", "Anthropic's envelope typed api_error for a 400",
         lambda: m_error("glm-4.6__anthropic-error-model", lambda b: {
             "type": "error", "error": {"type": "api_error", **b["error"]}, "request_id": b["request_id"]}),
         "[message_error_schema_conformance] $.error.type: expected 'invalid_request_error' for HTTP 400; got "
         "'api_error'", {"status": 400}),
    Case("message_event_schema", "schema", "a text delta's text sent as a number",
         lambda: m_stream(TEXT_STREAM, _event(3, lambda d: d["delta"].update(text=7))),
         "[message_event_schema] event[3].delta.text: expected a Messages stream event (lenient mode); got "
         "string_type: Input should be a valid string (got 7)"),
    Case("message_event_schema", "malformed_json", "an event's data cut short",
         lambda: m_stream(TEXT_STREAM, lambda e: e.__setitem__(1, ("ping", '{"type": "pi'))),
         "[message_event_schema] event[1]: expected a Messages stream event (lenient mode); got malformed_json: data "
         "is not JSON (Unterminated string starting at): '{\"type\": \"pi'"),
    Case("message_event_schema", "unknown_event", "an event type the Messages API does not have",
         lambda: m_stream(TEXT_STREAM, lambda e: e.insert(2, ("keepalive", {"type": "keepalive"}))),
         "[message_event_schema] event[2].type: expected a Messages stream event (lenient mode); got unknown_event: "
         "'keepalive' is not a Messages stream event"),
    Case("message_event_order", "event_name", "message_delta sent under the event name message",
         lambda: m_stream(TEXT_STREAM, _rename(-2, "message")),
         "[message_event_order] event[12]: expected the event name equal to its data's type; got event_name: the "
         "event is named 'message' but its data's type is 'message_delta'"),
    Case("message_event_order", "message_start_first", "ping sent before message_start",
         lambda: m_stream(TEXT_STREAM, _move(1, 0)),
         "[message_event_order] event[0]: expected message_start first; got message_start_first: the first event is "
         "'ping', not message_start"),
    Case("message_event_order", "missing_message_stop", "message_stop left out",
         lambda: m_stream(TEXT_STREAM, lambda e: e[:-1]),
         "[message_event_order] stream: expected message_stop last; got missing_message_stop: no message_stop event "
         "ended the stream"),
    Case("message_event_order", "event_after_message_stop", "a ping after message_stop",
         lambda: m_stream(TEXT_STREAM, lambda e: e.append(("ping", {"type": "ping"}))),
         "[message_event_order] event[14]: expected message_stop last; got event_after_message_stop: a 'ping' event "
         "came after message_stop (event 13)"),
    Case("message_event_order", "block_overlap", "the text block stopped only after the tool_use block started",
         lambda: m_stream(TOOL_STREAM, _move(-6, -4)),
         "[message_event_order] event[15]: expected each block stopped before the next starts; got block_overlap: "
         "block 1 started while block 0 was still open", WEATHER),
    Case("message_event_order", "block_index", "the tool_use block numbered 2 after block 0",
         lambda: m_stream(TOOL_STREAM, _renumber(2)),
         "[message_event_order] event[16].index: expected blocks numbered 0, 1, 2... in order; got block_index: block "
         "2 started where block 1 was next", WEATHER),
    Case("message_event_order", "delta_outside_block", "a text delta after its block was stopped",
         lambda: m_stream(TEXT_STREAM, _move(-4, -2)),
         "[message_event_order] event[11]: expected deltas only inside a started, unstopped block; got "
         "delta_outside_block: a delta for block 0, which is not open"),
    Case("message_event_order", "delta_type", "the tool input sent as a text_delta",
         lambda: m_stream(ONLY_TOOL_STREAM, _event(-4, lambda d: d.update(delta={"type": "text_delta", "text": "{}"}))),
         "[message_event_order] event[3].delta.type: expected deltas of the block's type; got delta_type: a "
         "'text_delta' in a 'tool_use' block", WEATHER),
    Case("message_event_order", "stop_outside_block", "content_block_stop sent twice",
         lambda: m_stream(TEXT_STREAM, lambda e: e.insert(-2, e[-3])),
         "[message_event_order] event[12]: expected content_block_stop for the open block; got stop_outside_block: "
         "content_block_stop for block 0, which is not open"),
    Case("message_event_order", "block_not_closed", "content_block_stop left out",
         lambda: m_stream(TEXT_STREAM, lambda e: e.__delitem__(-3)),
         "[message_event_order] event[11]: expected every block stopped before message_delta; got block_not_closed: "
         "message_delta came while block 0 was still open"),
    Case("message_event_order", "missing_message_delta", "message_delta left out",
         lambda: m_stream(TEXT_STREAM, lambda e: e.__delitem__(-2)),
         "[message_event_order] stream: expected one message_delta, with stop_reason and usage; got "
         "missing_message_delta: no message_delta carried the stop_reason and usage"),
    Case("message_event_order", "message_delta_repeated", "message_delta sent twice",
         lambda: m_stream(TEXT_STREAM, lambda e: e.insert(-1, e[-2])),
         "[message_event_order] stream: expected one message_delta, with stop_reason and usage; got "
         "message_delta_repeated: message_delta came in events 12, 13; expected once"),
    Case("message_event_order", "error_event", "an overloaded error event inside the 200 stream",
         lambda: m_stream(TEXT_STREAM, lambda e: e.insert(5, ("error", {"type": "error", "error": {
             "type": "overloaded_error", "message": "Overloaded"}}))),
         "[message_event_order] event[5]: expected no error event; errors belong in an HTTP error response; got "
         "error_event: an error event inside a 200 stream: 'overloaded_error', 'Overloaded'"),
    Case("message_event_order", "done_sentinel", "data: [DONE] after message_stop",
         lambda: m_stream(TEXT_STREAM, raw=lambda b: b + b"data: [DONE]\n\n"),
         "[message_event_order] stream: expected no data: [DONE] (a Messages stream ends with message_stop); got "
         "done_sentinel: the stream sent data: [DONE], which Messages streams never send"),
    Case("message_usage_conformance", "present", "usage removed from the answer",
         lambda: m_answer(TEXT, _drop("usage")),
         "[message_usage_conformance] usage: expected a usage object; got none"),
    Case("message_usage_conformance", "input_counted", "zeros in message_start and no input count in message_delta",
         lambda: m_stream(TEXT_STREAM, _event(-2, lambda d: d["usage"].pop("input_tokens"))),
         "[message_usage_conformance] message_delta.usage.input_tokens: expected at least 1 in message_delta.usage or "
         "message_start (every request has input); got 0"),
    Case("message_usage_conformance", "output_counted", "output_tokens 0 beside a text block",
         lambda: m_answer(TEXT, _set("usage.output_tokens", 0)),
         "[message_usage_conformance] usage.output_tokens: expected at least 1 (the answer carries text blocks); "
         "got 0"),
    Case("message_usage_conformance", "max_tokens", "more output tokens than max_tokens allowed",
         lambda: m_answer(TEXT, request=lambda r: r.update(max_tokens=5)),
         "[message_usage_conformance] usage.output_tokens: expected <= max_tokens (5); got 6"),
    Case("stop_reason_conformance", "expected", "'end_turn' where the request was built to hit max_tokens",
         lambda: m_answer(TEXT),
         "[stop_reason_conformance] stop_reason: expected 'max_tokens'; got 'end_turn'", {"stop_reason": "max_tokens"}),
    Case("stop_reason_conformance", "present", "no stop_reason in message_delta",
         lambda: m_stream(TEXT_STREAM, _event(-2, lambda d: d["delta"].update(stop_reason=None))),
         "[stop_reason_conformance] stop_reason: expected a stop_reason in the answer (message_delta when streamed); "
         "got None"),
    Case("stop_reason_conformance", "tool_use_match", "stop_reason 'end_turn' beside a tool_use block",
         lambda: m_answer(TOOL, _set("stop_reason", "end_turn")),
         "[stop_reason_conformance] stop_reason: expected 'tool_use' exactly when the answer has a tool_use block; "
         "got 'end_turn' with 1 tool_use block(s)", WEATHER),
    Case("stop_reason_conformance", "max_tokens_at_limit", "'max_tokens' well below max_tokens",
         lambda: m_answer(TEXT, _set("stop_reason", "max_tokens")),
         "[stop_reason_conformance] stop_reason: expected 'max_tokens' only when output_tokens reaches max_tokens "
         "(1024); got 'max_tokens' at 6 tokens"),
    Case("stop_reason_conformance", "stop_sequence_match", "a stop_sequence that was never sent",
         lambda: m_answer(TEXT, lambda b: b.update(stop_reason="stop_sequence", stop_sequence="END")),
         "[stop_reason_conformance] stop_sequence: expected one of the stop_sequences sent [] exactly when "
         "stop_reason is 'stop_sequence'; got 'END' with stop_reason 'stop_sequence'"),
    Case("tool_use_conformance", "expected_calls", "no tool_use for the tool the request was built to provoke",
         lambda: m_answer(TOOL),
         "[tool_use_conformance] content: expected tool_use blocks for ['get_time']; got for ['get_weather']",
         {"tool_calls": ("get_time",)}),
    Case("tool_use_conformance", "tool_choice", "tool_choice any answered with text only",
         lambda: m_answer(TEXT, request=lambda r: r.update(tools=m_request_of(TOOL)["tools"],
                                                           tool_choice={"type": "any"})),
         "[tool_use_conformance] content: expected a tool_use block; got tool_use blocks for []"),
    Case("tool_use_conformance", "id", "the tool_use id removed",
         lambda: m_answer(TOOL, _drop("content.1.id")),
         "[tool_use_conformance] content[1].id: expected a tool_use id; got None", WEATHER),
    Case("tool_use_conformance", "id_unique", "two tool_use blocks with one id",
         lambda: m_answer(TOOL, lambda b: b["content"].append(b["content"][1])),
         "[tool_use_conformance] content[2].id: expected an id no other tool_use block of the answer has; got "
         "'call_44d7c543a2b14c5c86c14b67'", WEATHER),
    Case("tool_use_conformance", "name", "a tool_use for a tool that was not offered",
         lambda: m_answer(TOOL, _set("content.1.name", "get_forecast")),
         "[tool_use_conformance] content[1].name: expected one of ['get_weather']; got 'get_forecast'"),
    Case("tool_use_conformance", "input_json", "partial_json pieces that do not join to JSON",
         lambda: m_stream(TOOL_STREAM, _tool_input('{"location": ')),
         "[tool_use_conformance] content[1].input: expected the partial_json pieces joined to a JSON object; got "
         "invalid JSON (Expecting value): '{\"location\": '", WEATHER),
    Case("tool_use_conformance", "input_schema", "input without the required location",
         lambda: m_answer(TOOL, _set("content.1.input", {"city": "San Francisco"})),
         "[tool_use_conformance] content[1].input: expected input matching the get_weather input_schema; got "
         "'location' is a required property", WEATHER),
    Case("message_content_conformance", "content", "no text where text was due",
         lambda: m_stream(ONLY_TOOL_STREAM),
         "[message_content_conformance] content: expected visible text in a text block; got ''",
         {"content": True, **WEATHER}),
    Case("message_content_conformance", "incremental", "the whole text in one text_delta",
         lambda: m_stream(TEXT_STREAM, lambda e: [*e[:3], ("content_block_delta", {
             **e[4][1], "delta": {"type": "text_delta", "text": "1, 2, 3."}}), *e[-3:]]),
         "[message_content_conformance] stream: expected the text in several text_delta events; got 1 event(s)",
         {"incremental": True}),
    Case("message_echo_conformance", "model", "message_start names another model",
         lambda: m_stream(TEXT_STREAM, _event(0, lambda d: d["message"].update(model="glm-4.5"))),
         "[message_echo_conformance] $.model: expected 'glm-4.6'; got 'glm-4.5'"),
    Case("thinking_block_conformance", "disabled", "a thinking block with thinking disabled",
         lambda: m_answer(TEXT, lambda b: b["content"].insert(0, {"type": "thinking", "thinking": "Hm.",
                                                                  "signature": "0123456789abcdef01234567"}),
                          request=lambda r: r.update(thinking={"type": "disabled"})),
         "[thinking_block_conformance] content: expected no thinking block with thinking disabled; got 1 block(s)"),
    Case("thinking_block_conformance", "enabled", "no thinking block though the request asked for one",
         lambda: m_answer(TEXT, request=lambda r: r.update(thinking={"type": "enabled", "budget_tokens": 1024})),
         "[thinking_block_conformance] content: expected a thinking block with thinking enabled; got none",
         {"reasoning": True}),
]

CASES += MESSAGE_CASES

MESSAGE_HEALTHY: dict[str, tuple[Callable[[], Exchange], Expect]] = {
    "messages_text": (lambda: m_answer(TEXT), Expect(content=True, stop_reason="end_turn")),
    "messages_text_strict": (lambda: m_answer(TEXT), Expect(content=True, mode=Mode.STRICT)),
    "messages_tool_use": (lambda: m_answer(TOOL), Expect(**WEATHER, stop_reason="tool_use")),
    "messages_forced_tool": (lambda: m_answer(TOOL, request=lambda r: r.update(
        tool_choice={"type": "tool", "name": "get_weather"})), Expect(**WEATHER)),
    "messages_text_stream": (lambda: m_stream(TEXT_STREAM), Expect(content=True, incremental=True)),
    "messages_text_stream_strict": (lambda: m_stream(TEXT_STREAM), Expect(content=True, mode=Mode.STRICT)),
    "messages_tool_use_stream": (lambda: m_stream(TOOL_STREAM), Expect(**WEATHER, stop_reason="tool_use")),
    "messages_tool_input_in_pieces": (lambda: m_stream(TOOL_STREAM, _in_pieces), Expect(**WEATHER)),
    "messages_tool_use_only_stream": (lambda: m_stream(ONLY_TOOL_STREAM), Expect(**WEATHER)),
    "messages_counts_in_message_start": (lambda: m_stream(TEXT_STREAM, _counts_only_in_start), Expect(content=True)),
    "messages_error_1211": (lambda: m_error("glm-4.6__anthropic-error-model"), Expect(status=400, code="1211")),
    "messages_error_1214": (lambda: m_error("glm-4.6__anthropic-error-empty"), Expect(status=400, code="1214")),
    "messages_error_401": (lambda: m_error("glm-4.6__anthropic-error-auth"), Expect(status=401)),
    "messages_error_anthropic_envelope": (lambda: m_error("glm-4.6__anthropic-error-model", lambda b: {
        "type": "error", "error": {"type": "invalid_request_error", **b["error"]}, "request_id": b["request_id"]}),
        Expect(status=400, code="1211")),
    "messages_error_1305_overloaded": (lambda: m_error("glm-4.6__anthropic-error-model", lambda b: {
        "type": "error", "error": {"type": "overloaded_error", "code": "1305",
                                   "message": "[1305][The service may be temporarily overloaded][x]"}}, status=529),
        Expect(status=529, code="1305")),
}
HEALTHY |= MESSAGE_HEALTHY


def render() -> str:
    """docs/checks.md: every rule, what breaks it, and the message a user sees."""
    lines = [
        "# What the checks guarantee",
        "",
        "Rendered from `tests/checks/check_table.py` by `python tests/checks/check_table.py > docs/checks.md`;",
        "`tests/checks/test_checks.py` fails when this page is stale. Each row is a test: a real GLM",
        "exchange (`fixtures/real/`; `fixtures/real-2026/` for the `message_*` checks of the Anthropic-compatible",
        "surface) with one thing changed, and the exact violation the check reports",
        "(every violation also carries a curl line that reproduces the request). The healthy exchanges",
        f"({', '.join(sorted(HEALTHY))}) pass every check.",
        "",
    ]
    for check in dict.fromkeys(c.check for c in CASES):
        lines += [f"## `{check}`", "", "| rule | what breaks it | what the user sees |", "|---|---|---|"]
        for case in (c for c in CASES if c.check == check):
            shown = case.message.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| `{case.rule}` | {case.breaks} | `{shown}` |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render())
