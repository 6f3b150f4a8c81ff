"""The one reading of a Messages stream (harness.message_stream): what each event carries, what
the events add up to, the schema and the order rules' edges."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from message_exchanges import events_of, sse

from harness.contract import Mode
from harness.message_stream import (
    MessageEvent,
    assemble_message,
    event_order,
    event_schema,
    is_message_stream,
    read_message_event,
    read_message_stream,
)
from harness.sse import ServerSentEvent, decode_all


def _sse(data: Any, name: str | None = None) -> ServerSentEvent:
    text = data if isinstance(data, str) else json.dumps(data)
    kind = name or (data.get("type") if isinstance(data, dict) else None) or "message"
    return ServerSentEvent(text, kind)


def _delta(index: Any, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


@pytest.mark.parametrize(("data", "read"), [
    (_delta(0, {"type": "text_delta", "text": "Hi"}),
     {"type": "content_block_delta", "index": 0, "delta_type": "text_delta", "piece": "Hi"}),
    (_delta(1, {"type": "thinking_delta", "thinking": "Hm"}),
     {"type": "content_block_delta", "index": 1, "delta_type": "thinking_delta", "piece": "Hm"}),
    (_delta(2, {"type": "input_json_delta", "partial_json": "{}"}),
     {"type": "content_block_delta", "index": 2, "delta_type": "input_json_delta", "piece": "{}"}),
    (_delta(0, {"type": "signature_delta", "signature": "ab"}),
     {"type": "content_block_delta", "index": 0, "delta_type": "signature_delta", "piece": ""}),
    (_delta(True, {"type": "text_delta", "text": 7}),
     {"type": "content_block_delta", "index": None, "delta_type": "text_delta", "piece": ""}),
    (_delta("0", {"type": 5}), {"type": "content_block_delta", "index": None, "delta_type": None, "piece": ""}),
    ({"type": "content_block_start", "index": 3, "delta": {"type": "text_delta", "text": "x"}},
     {"type": "content_block_start", "index": 3, "delta_type": None, "piece": ""}),
    ({"type": 7}, {"type": None, "index": None, "delta_type": None, "piece": ""}),
])
def test_what_an_event_carries(data: dict[str, Any], read: dict[str, Any]) -> None:
    event = read_message_event(_sse(data, "x"), 4, 1.5)
    assert {k: getattr(event, k) for k in read} == read
    assert (event.n, event.at, event.name, event.data, event.problem) == (4, 1.5, "x", data, "")
    assert event.carries_token is bool(read["piece"]) and not event.malformed


@pytest.mark.parametrize(("text", "data", "problem"), [
    ('{"type": "pi', None, "data is not JSON (Unterminated string starting at): '{\"type\": \"pi'"),
    ("[1, 2]", [1, 2], "data is JSON but not an object: '[1, 2]'"),
])
def test_an_event_that_is_not_an_object(text: str, data: Any, problem: str) -> None:
    event = read_message_event(ServerSentEvent(text, "ping"), 2)
    assert (event.name, event.type, event.data, event.problem, event.malformed) == ("ping", None, data, problem, True)
    assert event.get("type") is None


@dataclass(frozen=True)
class _Timed:
    at: float
    event: ServerSentEvent


def test_reading_a_stream_numbers_events_and_notes_done() -> None:
    items = [_Timed(1.0, _sse({"type": "ping"})), _Timed(2.0, ServerSentEvent("[DONE]")),
             _Timed(3.0, _sse({"type": "message_stop"}))]
    stream = read_message_stream(items)
    assert [(e.n, e.at, e.type) for e in stream.events] == [(0, 1.0, "ping"), (1, 3.0, "message_stop")]
    assert stream.done
    plain = read_message_stream([_sse({"type": "ping"})])
    assert [(e.n, e.at) for e in plain.events] == [(0, None)] and not plain.done


START = {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                                              "model": "glm-5", "content": [], "stop_reason": None,
                                              "stop_sequence": None,
                                              "usage": {"input_tokens": 9, "output_tokens": 1}}}


def _stream(*data: dict[str, Any]) -> Any:
    return read_message_stream([_sse(d) for d in data])


def test_what_the_events_add_up_to() -> None:
    stream = _stream(
        START,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        _delta(0, {"type": "thinking_delta", "thinking": "Let "}),
        _delta(0, {"type": "thinking_delta", "thinking": "me see."}),
        _delta(0, {"type": "signature_delta", "signature": "ab"}),
        _delta(0, {"type": "signature_delta", "signature": "cd"}),
        _delta(0, {"type": "signature_delta", "signature": 5}),
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "call_2",
                                                                      "name": "g", "input": {"a": 1}}},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        _delta(1, {"type": "text_delta", "text": "Hi"}),
        _delta(1, {"type": "citations_delta", "citation": {}}),
        _delta(1, {"type": "text_delta", "text": " there"}),
        _delta(7, {"type": "text_delta", "text": "lost"}),
        {"type": "content_block_start", "index": 3, "content_block": {"type": "tool_use", "id": "call_3",
                                                                      "name": "f", "input": {}}},
        _delta(3, {"type": "input_json_delta", "partial_json": '{"city": '}),
        _delta(3, {"type": "input_json_delta", "partial_json": '"Rome"}'}),
        {"type": "content_block_start", "index": 4, "content_block": {"type": "tool_use", "id": "call_4",
                                                                      "name": "f", "input": {}}},
        _delta(4, {"type": "input_json_delta", "partial_json": '{"city": '}),
        {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
         "usage": {"output_tokens": 30, "cache_read_input_tokens": 4}},
    )
    assembly = assemble_message(stream)
    assert assembly.message == {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "glm-5",
        "content": [
            {"type": "thinking", "thinking": "Let me see.", "signature": "abcd"},
            {"type": "text", "text": "Hi there"},
            {"type": "tool_use", "id": "call_2", "name": "g", "input": {"a": 1}},
            {"type": "tool_use", "id": "call_3", "name": "f", "input": {"city": "Rome"}},
            {"type": "tool_use", "id": "call_4", "name": "f", "input": None},
        ],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 9, "output_tokens": 30, "cache_read_input_tokens": 4},
    }
    assert assembly.tool_inputs == {2: '{"a": 1}', 3: '{"city": "Rome"}', 4: '{"city": '}
    assert [e.n for e in stream.tokens()] == [2, 3, 10, 12, 13, 15, 16, 18]


def test_a_stream_without_its_message_events() -> None:
    assembly = assemble_message(_stream({"type": "ping"}))
    assert assembly.message == {"content": [], "stop_reason": None, "stop_sequence": None, "usage": None}
    stream = _stream({"type": "message_delta", "delta": {"stop_sequence": "END", "stop_reason": 3}, "usage": 7},
                     {"type": "message_start", "message": {"usage": "none"}})
    assert (stream.stop_reason, stream.stop_sequence, stream.usage, stream.start_usage) == (None, "END", None, None)


def test_the_last_message_delta_counts() -> None:
    stream = _stream(START, {"type": "message_delta", "delta": {"stop_reason": "max_tokens", "stop_sequence": "A"},
                             "usage": {"output_tokens": 1}},
                     {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": "B"},
                      "usage": {"output_tokens": 2}})
    assert (stream.stop_reason, stream.stop_sequence, stream.delta_usage) == ("end_turn", "B", {"output_tokens": 2})


def test_schema_findings_say_which_event_and_notices_come_once() -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "code": "1305", "message": "busy"}}
    stream = _stream(error, {"type": "keepalive"}, _delta(0, {"type": "text_delta", "text": 5}), error)
    stream.events.append(read_message_event(ServerSentEvent("{oops", "ping"), 4))
    checked = event_schema(stream, Mode.STRICT)
    assert [(f.path, f.kind) for f in checked.findings] == [
        ("event[1].type", "unknown_event"), ("event[2].delta.text", "string_type"), ("event[4]", "malformed_json")]
    assert checked.findings[0].message == "'keepalive' is not a Messages stream event"
    assert [(n.path, n.kind) for n in checked.notices] == [("event[0].error.code", "observed_field")]
    assert event_schema(stream).notices == []


@pytest.mark.parametrize(("events", "messages_api"), [
    ([ServerSentEvent('{"type": "ping"}', "ping")], True),
    ([ServerSentEvent('{"type": "message_start", "message": {}}')], True),
    ([ServerSentEvent("[DONE]"), ServerSentEvent('{"type":"message_start"}')], True),
    ([ServerSentEvent('{"id": "1", "choices": [], "note": "message_start"}')], False),
    ([ServerSentEvent('{"id": "1", "choices": []}')], False),
    ([ServerSentEvent("[DONE]")], False),
    ([], False),
])
def test_a_messages_stream_is_known_by_its_events(events: list[ServerSentEvent], messages_api: bool) -> None:
    assert is_message_stream(events) is messages_api


def test_a_recorded_stream_is_a_messages_stream() -> None:
    assert is_message_stream(decode_all(sse(events_of("glm-4.6__anthropic-streaming")))[0])


def _order(*data: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(f.path, f.kind, f.message) for f in event_order(_stream(*data))]


def test_an_error_event_ends_a_stream() -> None:
    error = {"type": "error", "error": {"type": "api_error", "message": "x" * 200}}
    assert _order(START, error) == [("event[1]", "error_event", "an error event inside a 200 stream: 'api_error', '"
                                     + "x" * 120 + "'")]


def test_a_delta_of_a_block_type_the_api_does_not_have() -> None:
    assert _order(START, {"type": "content_block_start", "index": 0, "content_block": {"type": "server_tool_use"}},
                  _delta(0, {"type": "text_delta", "text": "x"}), {"type": "content_block_stop", "index": 0},
                  {"type": "message_delta"}, {"type": "message_stop"}) == [
        ("event[2].delta.type", "delta_type", "a 'text_delta' in a 'server_tool_use' block")]


def test_message_stop_with_a_block_still_open() -> None:
    assert _order(START, {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
                  {"type": "message_stop"}) == [
        ("event[2]", "block_not_closed", "message_stop came while block 0 was still open"),
        ("stream", "missing_message_delta", "no message_delta carried the stop_reason and usage")]


def test_an_event_reads_its_own_fields_only() -> None:
    event = MessageEvent(0, None, "ping", data=[1])
    assert event.get("type") is None
