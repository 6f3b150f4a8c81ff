"""The checks at their edges: bodies of the wrong shape, boundaries of every comparison, strict
mode, and the wording of what a user reads. The table (check_table.py) breaks each rule once;
these pin down where a rule stops and what it says around that point."""

from __future__ import annotations

import json
from typing import Any

import pytest
from check_exchanges import answer, body_of, chunks_of, error, exchange, request_of, stream

from harness.checks import (
    ERROR_CHECKS,
    Expect,
    Violation,
    assert_conforms,
    default_checks,
    describe,
    run_checks,
)
from harness.contract import Mode
from harness.errors import ContractError, ContractViolation
from harness.sse import ServerSentEvent
from harness.stream import EventKind, read_event, read_stream


def lines(ex: Any, check: str, **expect: Any) -> list[str]:
    return [v.line() for v in run_checks(ex, Expect(**expect), names=[check])]


def raw_answer(body: Any, request: dict[str, Any] | None = None) -> Any:
    return exchange(request or request_of("simple"), json.dumps(body).encode())


# -- bodies that are not what a completion looks like ----------------------------------------------
@pytest.mark.parametrize("body", [[1], "text", {"choices": "x"}, {"choices": ["x"]}, {"choices": []},
                                  {"choices": [{"message": "hi", "finish_reason": 5}], "usage": "many"}])
def test_a_body_of_the_wrong_shape_is_judged_not_crashed_on(body: Any) -> None:
    ex = raw_answer(body)
    assert lines(ex, "usage_conformance") == ["[usage_conformance] usage: expected a usage object; got none"]
    for check in ("finish_reason_conformance", "message_conformance", "thinking_conformance", "error_code_conformance",
                  "echo_conformance"):
        assert lines(ex, check, finish_reason="stop", content=True, reasoning=False) == [], check
    assert lines(ex, "tool_call_conformance", tool_calls=("f",)) == [
        "[tool_call_conformance] tool_calls: expected calls to ['f']; got calls to []"]


def test_a_message_with_a_bad_finish_reason_is_compared_as_none() -> None:
    ex = answer("simple", lambda b: b["choices"][0].update(finish_reason=5))
    assert lines(ex, "finish_reason_conformance", finish_reason="stop") == [
        "[finish_reason_conformance] finish_reason: expected 'stop'; got None"]
    assert lines(ex, "finish_reason_conformance") == []


def test_an_error_body_without_an_object_has_no_code_or_message() -> None:
    ex = exchange(request_of("simple"), b'{"error": "overloaded"}', status=429)
    assert lines(ex, "error_code_conformance", code="1302", message_contains="busy") == [
        "[error_code_conformance] $.error.code: expected '1302'; got None",
        "[error_code_conformance] $.error.message: expected a message that says 'busy'; got None"]
    assert lines(exchange(request_of("simple"), b"[1]", status=429), "error_code_conformance", code="1302") == [
        "[error_code_conformance] $.error.code: expected '1302'; got None"]


def test_several_acceptable_codes_are_named_together_and_each_is_accepted() -> None:
    ex = error("429_1113", 429)
    assert lines(ex, "error_code_conformance", code=("1302", "1305")) == [
        "[error_code_conformance] $.error.code: expected '1302 or 1305'; got '1113'"]
    assert lines(ex, "error_code_conformance", code=("1302", "1113")) == []
    assert Expect(code="1210").accepts_code("1210") and not Expect(code="1210").accepts_code("121")
    assert Expect().accepts_code("anything")


# -- strict mode reaches every schema ---------------------------------------------------------------
def test_strict_mode_reaches_bodies_errors_and_chunks() -> None:
    body = answer("simple", lambda b: b.update(surprise=1))
    chunked = stream("simple_streaming", lambda c: c[0].update(surprise=1))
    failed = error("400_1211", 400, lambda b: b["error"].update(surprise=1))
    for ex, check in ((body, "response_schema_conformance"), (chunked, "stream_chunk_schema"),
                      (failed, "error_schema_conformance")):
        assert lines(ex, check, status=ex.status) == [], check
        strict = lines(ex, check, status=ex.status, mode=Mode.STRICT)
        assert len(strict) == 1 and "surprise: expected" in strict[0] and "unknown_field" in strict[0], strict


def test_chunk_problems_are_grouped_by_their_whole_path() -> None:
    """The same problem in choices[0] of one chunk and choices[1] of another is two lines."""
    def two_choices(chunks: list[Any]) -> None:
        chunks[1]["choices"][0]["index"] = -1
        chunks[2]["choices"] = [chunks[2]["choices"][0], {**chunks[2]["choices"][0], "index": -1}]
    found = lines(stream("simple_streaming", two_choices), "stream_chunk_schema")
    assert [line.split(":")[0] for line in found] == [
        "[stream_chunk_schema] event[1].choices[0].index", "[stream_chunk_schema] event[2].choices[1].index"]


def test_a_chunk_problem_repeated_is_one_line_with_its_count() -> None:
    ex = stream("simple_streaming", lambda c: [x["choices"][0].update(index=-1) for x in c[1:4]] and None)
    assert lines(ex, "stream_chunk_schema") == [
        "[stream_chunk_schema] event[1].choices[0].index (and 2 more chunks): expected a ChatCompletionChunk "
        "(lenient mode); got greater_than_equal: Input should be greater than or equal to 0 (got -1)"]
    once = stream("simple_streaming", lambda c: [x["choices"][0].update(index=-1) for x in c[1:3]] and None)
    assert "(and 1 more chunks)" in lines(once, "stream_chunk_schema")[0]


# -- boundaries -------------------------------------------------------------------------------------
def test_usage_at_its_limits_passes() -> None:
    at_limit = answer("simple", lambda b: b["usage"].update(completion_tokens_details={"reasoning_tokens": 859}),
                      request=lambda r: r.update(max_tokens=859))
    assert lines(at_limit, "usage_conformance") == []
    cached_all = answer("simple", lambda b: b["usage"]["prompt_tokens_details"].update(cached_tokens=18))
    assert lines(cached_all, "usage_conformance") == []


def test_usage_figures_that_are_not_counts_are_left_to_the_schema() -> None:
    ex = answer("simple", lambda b: b["usage"].update(prompt_tokens="18", completion_tokens=True, total_tokens=-1))
    assert lines(ex, "usage_conformance") == []


def test_an_empty_answer_with_no_tokens_is_not_a_miscount() -> None:
    ex = answer("simple", lambda b: b.update(choices=[{"index": 0, "finish_reason": "stop",
                                                        "message": {"role": "assistant", "content": ""}}],
                                              usage={"prompt_tokens": 5, "completion_tokens": 0, "total_tokens": 5}))
    assert lines(ex, "usage_conformance") == []


def test_length_exactly_at_max_tokens_passes() -> None:
    ex = answer("simple", lambda b: b["choices"][0].update(finish_reason="length"),
                request=lambda r: r.update(max_tokens=859))
    assert lines(ex, "finish_reason_conformance") == []


def test_two_token_chunks_are_incremental() -> None:
    def answer_only(chunks: list[Any]) -> list[Any]:
        return [x for x in chunks if not x["choices"][0]["delta"].get("reasoning_content")][-3:]

    two = stream("simple_streaming", answer_only)
    assert lines(two, "message_conformance", incremental=True) == []
    assert lines(answer("simple"), "message_conformance", incremental=True) == []  # a JSON answer has no chunks


def test_visible_content_is_judged_after_stripping_and_shown_as_sent() -> None:
    ex = answer("simple", lambda b: b["choices"][0]["message"].update(content=" \n"))
    assert lines(ex, "message_conformance", content=True) == [
        "[message_conformance] message.content: expected visible text in the answer; got ' \\n'"]


# -- tool calls -------------------------------------------------------------------------------------
def _calls(*calls: dict[str, Any], tools: list[dict[str, Any]] | None = None) -> Any:
    request = request_of("tool")
    if tools is not None:
        request["tools"] = tools
    body = body_of("tool")
    body["choices"][0]["message"]["tool_calls"] = list(calls)
    return exchange(request, json.dumps(body).encode())


def test_tool_call_edges() -> None:
    weather = {"id": "c", "index": 0, "type": "function",
               "function": {"name": "weather", "arguments": '{"location": "x"}'}}
    assert lines(_calls(weather), "tool_call_conformance") == []
    # GLM numbers every call of an answer (every recording): no index, or null, is a violation
    for missing in ({k: v for k, v in weather.items() if k != "index"}, {**weather, "index": None}):
        assert lines(_calls(missing), "tool_call_conformance") == [
            "[tool_call_conformance] tool_calls[0].index: expected the call's index (clients place each call by it); "
            "got none"]
    assert lines(_calls({**weather, "id": ""}), "tool_call_conformance") == [
        "[tool_call_conformance] tool_calls[0].id: expected a tool call id; got ''"]
    assert lines(_calls({**weather, "function": {"name": "weather"}}), "tool_call_conformance") == [
        "[tool_call_conformance] tool_calls[0].function.arguments: expected a JSON object; got invalid JSON "
        "(Expecting value): None"]
    assert lines(_calls({**weather, "function": {"name": "weather", "arguments": 5}}), "tool_call_conformance") == [
        "[tool_call_conformance] tool_calls[0].function.arguments: expected a JSON object; got invalid JSON "
        "(the JSON object must be str, bytes or bytearray, not int): 5"]
    assert lines(_calls("not a call"), "tool_call_conformance") == [  # type: ignore[arg-type]
        "[tool_call_conformance] tool_calls[0].id: expected a tool call id; got None",
        "[tool_call_conformance] tool_calls[0].index: expected the call's index (clients place each call by it); "
        "got none",
        "[tool_call_conformance] tool_calls[0].function.name: expected one of ['weather']; got None"]


def test_arguments_are_checked_against_nested_schemas_and_the_object_default() -> None:
    nested = {"type": "function", "function": {"name": "go", "parameters": {
        "type": "object", "properties": {"where": {"type": "object", "properties": {"city": {"type": "string"}}}}}}}
    bare = {"type": "function", "function": {"name": "ping"}}
    call = {"id": "c", "index": 0, "function": {"name": "go", "arguments": '{"where": {"city": 5}}'}}
    assert lines(_calls(call, tools=[nested, bare]), "tool_call_conformance") == [
        "[tool_call_conformance] tool_calls[0].function.arguments['where']['city']: expected arguments matching "
        "the go schema; got 5 is not of type 'string'"]
    ping = {"id": "c", "index": 0, "function": {"name": "ping", "arguments": "[1]"}}
    assert lines(_calls(ping, tools=[nested, bare]), "tool_call_conformance") == [
        "[tool_call_conformance] tool_calls[0].function.arguments: expected arguments matching the ping schema; "
        "got [1] is not of type 'object'"]
    assert lines(_calls({**ping, "function": {"name": "ping", "arguments": "{}"}}, tools=[bare]),
                 "tool_call_conformance") == []


def test_expected_calls_compare_names_not_order_or_count() -> None:
    ex = answer("multi_tool")
    assert lines(ex, "tool_call_conformance", tool_calls=("multiply", "add")) == []
    assert lines(ex, "tool_call_conformance", tool_calls=("add",)) == [
        "[tool_call_conformance] tool_calls: expected calls to ['add']; got calls to ['add', 'multiply']"]


# -- echo ---------------------------------------------------------------------------------------------
def test_a_stream_names_its_model_in_its_chunks() -> None:
    ex = stream("simple_streaming", lambda c: [x.update(model="glm-4.5") for x in c] and None)
    assert lines(ex, "echo_conformance") == ["[echo_conformance] $.model: expected 'glm-4.6'; got 'glm-4.5'"]
    assert lines(stream("simple_streaming", request=lambda r: r.update(request_id="mine")), "echo_conformance") == []
    assert lines(stream("simple_streaming", lambda c: [], done=False), "echo_conformance") == []
    no_model = stream("simple_streaming", lambda c: [x.pop("model") for x in c] and None)
    assert lines(no_model, "echo_conformance") == []


def test_a_stream_may_lower_case_the_model_name_a_body_may_not() -> None:
    """GLM serves `GLM-4.6` as glm-4.6: a stream names it in lower case, a body as it was sent."""
    def upper(request: dict[str, Any]) -> None:
        request.update(model="GLM-4.6")

    assert lines(stream("simple_streaming", request=upper), "echo_conformance") == []
    assert lines(answer("simple", request=upper), "echo_conformance") == [
        "[echo_conformance] $.model: expected 'GLM-4.6'; got 'glm-4.6'"]
    other = stream("simple_streaming", request=lambda r: r.update(model="GLM-4.5"))
    assert lines(other, "echo_conformance") == ["[echo_conformance] $.model: expected 'GLM-4.5'; got 'glm-4.6'"]


# -- the stream reading at its edges -----------------------------------------------------------------
def test_every_event_keeps_its_place_time_and_data() -> None:
    for data in ('{"a": ', "[1]", '{"error": {"code": "1"}}'):
        event = read_event(ServerSentEvent(data), 7, at=1.5)
        assert (event.n, event.at) == (7, 1.5)
    assert read_event(ServerSentEvent("[1]"), 0).data == [1]
    assert read_event(ServerSentEvent('{"error": {"code": "1"}}'), 0).data == {"error": {"code": "1"}}
    long = "x" * 100
    assert read_event(ServerSentEvent(long), 0).problem == f"data is not JSON (Expecting value): '{'x' * 80}'"
    assert read_event(ServerSentEvent(f'["{long}"]'), 0).problem == f"data is JSON but not an object: '[\"{'x' * 78}'"


def test_fields_of_the_wrong_type_are_read_as_absent() -> None:
    event = read_event(ServerSentEvent(json.dumps({"choices": [{"finish_reason": 5, "delta": {
        "role": 1, "content": "a", "tool_calls": [{"index": 0, "function": {"name": 3}}]}}], "usage": 5})), 0)
    assert (event.finish_reason, event.role, event.usage, event.tool_calls[0].name) == (None, None, None, None)
    both = read_event(ServerSentEvent(json.dumps({"error": {}, "choices": [{"delta": {"content": "a"}}]})), 0)
    assert both.kind is EventKind.CONTENT and both.error is None


def test_events_after_done_are_still_read() -> None:
    stream_ = read_stream([ServerSentEvent("[DONE]"), ServerSentEvent('{"choices": []}')])
    assert stream_.done and len(stream_.events) == 1


def test_a_long_error_frame_message_is_clipped() -> None:
    ex = stream("simple_streaming", lambda c: [*c, {"error": {"code": 1, "message": "m" * 130}}])
    (line,) = [x for x in lines(ex, "stream_invariants") if "error_frame" in x]
    assert line.endswith(f"code 1, message '{'m' * 120}'")


def test_the_first_chunk_sets_the_id_every_other_must_keep() -> None:
    ex = stream("simple_streaming", lambda c: c[0].update(id="first"))
    assert lines(ex, "stream_invariants") == [
        "[stream_invariants] event[1].id: expected one id for every chunk; got id_changed: id changed mid-stream "
        "from 'first' to '20251023225921c2f842a8205b4cfa'"]


def test_repeated_finish_reasons_on_tool_call_chunks() -> None:
    def repeat(value: str) -> Any:
        def edit(chunks: list[Any]) -> None:
            chunks[-2]["choices"][0]["finish_reason"] = value
        return edit
    assert lines(stream("tool_streaming", repeat("tool_calls")), "stream_invariants") == []  # glm-4.5, Sept 2025
    assert lines(stream("tool_streaming", repeat("stop")), "stream_invariants") == [
        "[stream_invariants] stream: expected one finish_reason, in the last chunk; got duplicate_finish_reason: "
        f"finish_reason also appeared in event {len(chunks_of('tool_streaming')) - 2} (stop); expected once, "
        "in the last"]
    two = stream("simple_streaming",
                 lambda c: [c[i]["choices"][0].update(finish_reason="stop") for i in (3, 5)] and None)
    assert "finish_reason also appeared in event 3 (stop), 5 (stop);" in lines(two, "stream_invariants")[0]


def test_reasoning_after_whitespace_only_content_is_in_order() -> None:
    ex = stream("tool_streaming")  # opens with content "\n", then reasons
    assert lines(ex, "stream_invariants") == []


# -- what the user reads ------------------------------------------------------------------------------
def test_a_violation_reads_as_one_line_with_its_reproduction() -> None:
    v = Violation("c", "r", "$.x", "1", "2", "curl x")
    assert v.line() == "[c] $.x: expected 1; got 2"
    assert str(v) == "[c] $.x: expected 1; got 2\n    reproduce: curl x"
    assert str(Violation("c", "r", "$.x", "1", "2")) == "[c] $.x: expected 1; got 2"
    assert v.to_json() == {"check": "c", "rule": "r", "path": "$.x", "expected": "1", "got": "2"}


def test_describe_lists_every_violation_then_one_reproduction() -> None:
    assert describe([]) == "conforms"
    text = describe([Violation("usage_conformance", "r", "p", "e", "g", ""),
                     Violation("thinking_conformance", "r", "p2", "e2", "g2", "curl y")])
    assert text == ("GLM contract violated (2 violation(s)):\n  [usage_conformance] p: expected e; got g\n"
                    "  [thinking_conformance] p2: expected e2; got g2\n  reproduce: curl y")
    one = describe([Violation("x", "r", "p", "e", "g")])
    assert one == "GLM contract violated (1 violation(s)):\n  [x] p: expected e; got g"


def test_rules_not_applied_are_listed_after_the_verdict() -> None:
    from harness.checks import NOT_APPLIED

    waived = Violation("echo_conformance", "request_id", "$.request_id", "'a'", "None")
    assert describe([], [waived]) == (
        f"conforms\n  ({NOT_APPLIED}) [echo_conformance] $.request_id: expected 'a'; got None")
    text = describe([Violation("x", "r", "p", "e", "g")], [waived])
    assert text.splitlines()[-1] == f"  ({NOT_APPLIED}) [echo_conformance] $.request_id: expected 'a'; got None"


def test_assert_conforms_raises_a_contract_violation_carrying_the_violations() -> None:
    assert_conforms(answer("simple"))
    with pytest.raises(ContractViolation) as raised:
        assert_conforms(answer("simple", lambda b: b.pop("usage")), names=["usage_conformance"])
    assert isinstance(raised.value, ContractError) and isinstance(raised.value, AssertionError)
    assert [v.rule for v in raised.value.violations] == ["present"]
    assert str(raised.value).startswith("GLM contract violated (1 violation(s)):\n  [usage_conformance] usage:")
    with pytest.raises(ContractViolation):
        assert_conforms(answer("simple"), Expect(status=400))


def test_a_long_body_is_shown_short() -> None:
    short = exchange(request_of("simple"), b'{"a": 1}', status=500, content_type="application/json")
    assert lines(short, "status_code_conformance") == [
        '[status_code_conformance] HTTP status: expected 200; got 500 {"a": 1}']
    exact = exchange(request_of("simple"), b"x" * 160, status=500)
    assert lines(exact, "status_code_conformance")[0].endswith("got 500 " + "x" * 160)
    one_more = exchange(request_of("simple"), b"x" * 161, status=500)
    assert lines(one_more, "status_code_conformance")[0].endswith("got 500 " + "x" * 160 + "...")
    binary = exchange(request_of("simple"), b"\xff\xfeoops", status=502)
    assert lines(binary, "status_code_conformance") == [
        "[status_code_conformance] HTTP status: expected 200; got 502 \ufffd\ufffdoops"]


def test_the_checks_that_apply_depend_on_status_and_streaming() -> None:
    assert default_checks(answer("simple"), Expect(status=400)) == ERROR_CHECKS
    json_checks = default_checks(answer("simple"), Expect())
    stream_checks = default_checks(stream("simple_streaming"), Expect())
    assert "response_schema_conformance" in json_checks and "sse_framing" not in json_checks
    assert "sse_framing" in stream_checks and "response_schema_conformance" not in stream_checks
    assert json_checks.index("usage_conformance") > json_checks.index("response_schema_conformance")
    assert stream_checks[:4] == json_checks[:4]
    assert stream_checks == (*json_checks[:4], "sse_framing", "stream_chunk_schema", "stream_invariants",
                             *json_checks[5:])
    assert len(set(stream_checks)) == len(stream_checks) and len(set(json_checks)) == len(json_checks)


def test_a_transport_error_is_a_value_that_can_be_raised() -> None:
    from harness.errors import TransportError

    ok = answer("simple")
    assert ok.raise_for_transport() is ok
    broken = stream("simple_streaming", error=TransportError("timeout", "ReadTimeout", "timed out"))
    with pytest.raises(TransportError) as raised:
        broken.raise_for_transport()
    assert (raised.value.kind, str(raised.value)) == ("timeout", "ReadTimeout: timed out")


def test_a_stream_fragment_without_an_index_is_one_finding_of_the_chunk_schema() -> None:
    """In a stream the missing index is named where it was sent (the fragment), once: the
    assembled call keeps `index: None`, and tool_call_conformance does not say it again."""
    def drop_index(chunks: list[Any]) -> None:
        for chunk in chunks:
            for call in chunk["choices"][0].get("delta", {}).get("tool_calls") or ():
                call.pop("index")

    exchange = stream("tool_streaming", drop_index)
    found = [v for v in run_checks(exchange, Expect(tool_calls=("weather",))) if "index" in v.path]
    assert [v.line() for v in found] == [
        "[stream_chunk_schema] event[61].choices[0].delta.tool_calls[0].index: expected a ChatCompletionChunk "
        "(lenient mode); got missing: Field required"]
