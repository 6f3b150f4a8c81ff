"""The edges of the Messages surface's checks that the one-rule-per-row table does not reach: what
passes at a limit, what each message says in its other branch, strict mode, and which checks run."""

from __future__ import annotations

from typing import Any

import pytest
from check_table import ONLY_TOOL_STREAM, TEXT, TEXT_STREAM, TOOL, TOOL_STREAM, _event
from message_exchanges import m_answer, m_error, m_stream

from harness.checks import Expect, default_checks, run_checks
from harness.client import Exchange
from harness.contract import Mode


def _lines(exchange: Exchange, check: str, **expect: Any) -> list[str]:
    return [v.line() for v in run_checks(exchange, Expect(**expect), names=[check])]


def test_which_checks_run_on_the_messages_surface() -> None:
    base = ("transport_completed", "status_code_conformance", "content_type_conformance", "non_empty_body")
    semantic = ("message_usage_conformance", "stop_reason_conformance", "tool_use_conformance",
                "message_content_conformance", "message_echo_conformance", "thinking_block_conformance")
    assert default_checks(m_answer(TEXT), Expect()) == (*base, "message_schema_conformance", *semantic)
    assert default_checks(m_stream(TEXT_STREAM), Expect()) == (
        *base, "sse_framing", "message_event_schema", "message_event_order", *semantic)
    assert default_checks(m_error("glm-4.6__anthropic-error-model"), Expect(status=400)) == (
        *base[:3], "message_error_schema_conformance", "error_code_conformance")


def test_strict_mode_reaches_every_messages_schema() -> None:
    answer = m_answer(TEXT, lambda b: b.update(extra=1))
    assert _lines(answer, "message_schema_conformance") == []
    assert _lines(answer, "message_schema_conformance", mode=Mode.STRICT) == [
        "[message_schema_conformance] $.extra: expected a Message (strict mode); got unknown_field: field is not in "
        "the GLM contract"]
    error = m_error("glm-4.6__anthropic-error-model", lambda b: b.update(extra=1))
    assert _lines(error, "message_error_schema_conformance", status=400) == []
    assert len(_lines(error, "message_error_schema_conformance", status=400, mode=Mode.STRICT)) == 1
    stream = m_stream(TEXT_STREAM, _event(1, lambda d: d.update(extra=1)))
    assert _lines(stream, "message_event_schema") == []
    assert _lines(stream, "message_event_schema", mode=Mode.STRICT) == [
        "[message_event_schema] event[1].extra: expected a Messages stream event (strict mode); got unknown_field: "
        "field is not in the GLM contract"]


def test_a_business_code_sent_as_a_number_says_only_that() -> None:
    error = m_error("glm-4.6__anthropic-error-model", lambda b: b["error"].update(code=1305))
    assert [line.split(":")[0] for line in _lines(error, "message_error_schema_conformance", status=400)] == [
        "[message_error_schema_conformance] $.error.code"]


@pytest.mark.parametrize(("events", "where"), [
    (2, "event[3].delta.text (and 1 more events)"), (3, "event[3].delta.text (and 2 more events)")])
def test_one_problem_in_several_events_is_one_failure(events: int, where: str) -> None:
    def edit(stream: list[Any]) -> None:
        for n in range(3, 3 + events):
            stream[n][1]["delta"]["text"] = 7
    assert [line.split(": expected")[0] for line in _lines(m_stream(TEXT_STREAM, edit), "message_event_schema")] == [
        f"[message_event_schema] {where}"]


def test_a_schema_path_with_an_index_keeps_it() -> None:
    stream = m_stream(TEXT_STREAM, _event(0, lambda d: d["message"].update(content=[{"type": "bogus"}])))
    assert [line.split(": expected")[0] for line in _lines(stream, "message_event_schema")] == [
        "[message_event_schema] event[0].message.content[0]"]
    two = m_stream(TEXT_STREAM, _event(0, lambda d: d["message"].update(
        content=[{"type": "text", "text": 5}, {"type": "text", "text": 5}])))
    assert [line.split(": expected")[0] for line in _lines(two, "message_event_schema")] == [
        "[message_event_schema] event[0].message.content[0].text",
        "[message_event_schema] event[0].message.content[1].text"]


def test_usage_messages_in_their_other_branches() -> None:
    no_input = m_answer(TEXT, lambda b: b["usage"].update(input_tokens=0))
    assert _lines(no_input, "message_usage_conformance") == [
        "[message_usage_conformance] usage.input_tokens: expected at least 1 in the answer (every request has "
        "input); got 0"]
    no_output = m_answer(TOOL, lambda b: b["usage"].update(output_tokens=0))
    assert _lines(no_output, "message_usage_conformance") == [
        "[message_usage_conformance] usage.output_tokens: expected at least 1 (the answer carries text, tool_use "
        "blocks); got 0"]
    at_limit = m_answer(TEXT, lambda b: b.update(stop_reason="max_tokens"), request=lambda r: r.update(max_tokens=6))
    assert _lines(at_limit, "message_usage_conformance") == []
    assert _lines(at_limit, "stop_reason_conformance") == []


def test_stop_reason_and_stop_sequence() -> None:
    odd = m_answer(TEXT, lambda b: b.update(stop_reason=5))
    assert _lines(odd, "stop_reason_conformance") == [
        "[stop_reason_conformance] stop_reason: expected a stop_reason in the answer (message_delta when streamed); "
        "got 5"]
    stopped = m_answer(TEXT, lambda b: b.update(stop_reason="stop_sequence", stop_sequence="END"),
                       request=lambda r: r.update(stop_sequences=["END"]))
    assert _lines(stopped, "stop_reason_conformance") == []
    unsaid = m_answer(TEXT, lambda b: b.update(stop_reason="stop_sequence"),
                      request=lambda r: r.update(stop_sequences=["END"]))
    assert _lines(unsaid, "stop_reason_conformance") == [
        "[stop_reason_conformance] stop_sequence: expected one of the stop_sequences sent ['END'] exactly when "
        "stop_reason is 'stop_sequence'; got None with stop_reason 'stop_sequence'"]


def test_tool_choice_tool_and_none() -> None:
    other = m_answer(TOOL, request=lambda r: r.update(tool_choice={"type": "tool", "name": "get_time"}))
    assert _lines(other, "tool_use_conformance") == [
        "[tool_use_conformance] content: expected a tool_use block for 'get_time'; got tool_use blocks for "
        "['get_weather']"]
    named = m_answer(TOOL, request=lambda r: r.update(tool_choice={"type": "tool", "name": "get_weather"}))
    assert _lines(named, "tool_use_conformance") == []
    none = m_answer(TOOL, request=lambda r: r.update(tool_choice={"type": "none"}))
    assert _lines(none, "tool_use_conformance") == [
        "[tool_use_conformance] content: expected no tool_use block (tool_choice none); got tool_use blocks for "
        "['get_weather']"]
    assert _lines(m_answer(TEXT, request=lambda r: r.update(tool_choice={"type": "none"})),
                  "tool_use_conformance") == []


def test_tool_use_ids_and_inputs_in_their_other_branches() -> None:
    assert _lines(m_answer(TOOL, lambda b: b["content"][1].update(id=5)), "tool_use_conformance") == [
        "[tool_use_conformance] content[1].id: expected a tool_use id; got 5"]
    assert _lines(m_answer(TOOL, lambda b: b["content"][1].update(input=["x" * 200])), "tool_use_conformance") == [
        "[tool_use_conformance] content[1].input: expected a JSON object; got " + repr(["x" * 200])[:120]]
    broken = '{"location": "' + "x" * 200
    assert _lines(m_stream(TOOL_STREAM, _event(-4, lambda d: d["delta"].update(partial_json=broken))),
                  "tool_use_conformance") == [
        "[tool_use_conformance] content[1].input: expected the partial_json pieces joined to a JSON object; got "
        f"invalid JSON (Unterminated string starting at): {broken[:120]!r}"]
    assert _lines(m_stream(ONLY_TOOL_STREAM, _event(-4, lambda d: d["delta"].update(partial_json="[1]"))),
                  "tool_use_conformance") == [
        "[tool_use_conformance] content[0].input: expected a JSON object; got [1]"]
    listed = m_answer(TOOL, lambda b: b["content"][1].update(input=[1]))
    assert [v.rule for v in run_checks(listed, Expect(), names=["tool_use_conformance"])] == ["input_json"]


def test_an_input_schema_problem_deep_down_names_its_path() -> None:
    nested = {"type": "object", "properties": {"where": {"type": "object", "properties": {
        "city": {"type": "string"}}}}}
    exchange = m_answer(TOOL, lambda b: b["content"][1].update(input={"where": {"city": 5}}),
                        request=lambda r: r["tools"][0].update(input_schema=nested))
    assert _lines(exchange, "tool_use_conformance") == [
        "[tool_use_conformance] content[1].input['where']['city']: expected input matching the get_weather "
        "input_schema; got 5 is not of type 'string'"]
    no_schema = m_answer(TOOL, request=lambda r: r["tools"][0].update(input_schema={}))
    assert _lines(no_schema, "tool_use_conformance") == []


def test_text_and_its_pieces() -> None:
    empty = m_answer(TEXT, lambda b: b.update(content=[{"type": "text", "text": ""}, {"type": "text", "text": None}]))
    assert _lines(empty, "message_content_conformance", content=True) == [
        "[message_content_conformance] content: expected visible text in a text block; got ''"]

    def two_pieces(events: list[Any]) -> list[Any]:
        return [*events[:4], events[4], *events[-3:]]

    assert _lines(m_stream(TEXT_STREAM, two_pieces), "message_content_conformance", incremental=True) == []

    def thinking_then_one_piece(events: list[Any]) -> list[Any]:
        thinking = [("content_block_start", {"type": "content_block_start", "index": 0,
                                             "content_block": {"type": "thinking", "thinking": ""}}),
                    *[("content_block_delta", {"type": "content_block_delta", "index": 0,
                                               "delta": {"type": "thinking_delta", "thinking": "Hm"}})] * 3,
                    ("content_block_stop", {"type": "content_block_stop", "index": 0})]
        text = [(n, {**d, "index": 1}) for n, d in events[2:4]] + [(events[-3][0], {**events[-3][1], "index": 1})]
        return [*events[:2], *thinking, *text, *events[-2:]]

    assert _lines(m_stream(TEXT_STREAM, thinking_then_one_piece), "message_content_conformance", incremental=True) == [
        "[message_content_conformance] stream: expected the text in several text_delta events; got 1 event(s)"]


def test_a_thinking_block_with_thinking_on_is_no_finding() -> None:
    block = {"type": "thinking", "thinking": "Hm.", "signature": "s"}
    thought = m_answer(TEXT, lambda b: b["content"].insert(0, block),
                       request=lambda r: r.update(thinking={"type": "enabled", "budget_tokens": 1024}))
    assert _lines(thought, "thinking_block_conformance", reasoning=True) == []


@pytest.mark.parametrize("body", [b"[1, 2]", b'{"type": "message", "content": 5, "usage": {"output_tokens": 0}}'])
def test_an_answer_of_the_wrong_shape_leaves_the_semantic_checks_quiet(body: bytes) -> None:
    exchange = m_answer(TEXT, lambda b: body)
    for check in ("tool_use_conformance", "message_content_conformance", "thinking_block_conformance",
                  "message_echo_conformance"):
        assert _lines(exchange, check) == []
    assert _lines(exchange, "message_usage_conformance") == ([] if body.startswith(b"{") else [
        "[message_usage_conformance] usage: expected a usage object; got none"])
