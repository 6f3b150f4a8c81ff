"""The one reading of a stream (harness.stream): what each chunk is, and what the deltas add up to."""

from __future__ import annotations

import json
from typing import Any

import pytest
from check_exchanges import chunks_of, sse

from harness.sse import ServerSentEvent, decode_all
from harness.stream import EventKind, Stream, assemble, read_event, read_stream


def _event(data: Any) -> ServerSentEvent:
    return ServerSentEvent(data if isinstance(data, str) else json.dumps(data))


def _chunk(delta: dict[str, Any], finish: str | None = None, **top: Any) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta}
    if finish is not None:
        choice["finish_reason"] = finish
    return {"id": "1", "model": "glm-4.6", "choices": [choice], **top}


CALL = {"id": "c", "index": 0, "type": "function", "function": {"name": "f", "arguments": "{}"}}


@pytest.mark.parametrize(("data", "kind"), [
    (_chunk({"role": "assistant", "content": "\n"}), EventKind.BLANK),
    (_chunk({"content": " \t"}), EventKind.BLANK),
    (_chunk({"content": "Hi"}), EventKind.CONTENT),
    (_chunk({"reasoning_content": " ", "content": ""}), EventKind.REASONING),
    (_chunk({"reasoning_content": "Hm", "content": "Hi"}), EventKind.MIXED),
    (_chunk({"content": "Hi", "tool_calls": [CALL]}), EventKind.MIXED),
    (_chunk({"tool_calls": [CALL]}, "tool_calls"), EventKind.TOOL_CALLS),
    (_chunk({"tool_calls": []}), EventKind.EMPTY),
    (_chunk({"content": ""}, "stop", usage={}), EventKind.FINAL),
    (_chunk({"content": ""}, "stop"), EventKind.FINAL),
    ({"choices": [], "usage": {"total_tokens": 1}}, EventKind.FINAL),
    (_chunk({"role": "assistant"}), EventKind.EMPTY),
    ({"id": "1"}, EventKind.EMPTY),
    ({"error": {"code": "1234", "message": "network error"}}, EventKind.ERROR),
    ({"error": "overloaded"}, EventKind.ERROR),
    ([1, 2], EventKind.MALFORMED),
    ('{"id": ', EventKind.MALFORMED),
])
def test_each_chunk_is_read_as_one_kind(data: Any, kind: EventKind) -> None:
    assert read_event(_event(data), 0).kind is kind


def test_a_chunk_is_read_field_by_field_and_bad_fields_are_left_out() -> None:
    event = read_event(_event(_chunk({"role": "assistant", "content": "Hi", "reasoning_content": 7,
                                      "tool_calls": [{"index": "0", "id": 5, "function": {"name": "f"}}, "x"]},
                                     "stop", usage={"total_tokens": 3})), 4, at=1.5)
    assert (event.n, event.at, event.role, event.content, event.reasoning) == (4, 1.5, "assistant", "Hi", "")
    assert event.tool_calls == (event.tool_calls[0],) and event.tool_calls[0].index is None
    assert (event.tool_calls[0].id, event.tool_calls[0].name, event.tool_calls[0].arguments) == (None, "f", "")
    assert (event.finish_reason, event.usage) == ("stop", {"total_tokens": 3})
    assert (event.get("id"), event.get("nope"), read_event(_event([1]), 0).get("id")) == ("1", None, None)
    assert event.visible and not read_event(_event(_chunk({"content": "\n"})), 0).visible


def test_error_frames_and_malformed_chunks_say_what_they_are() -> None:
    frame = read_event(_event({"error": {"code": "1234", "message": "x"}, "usage": {"total_tokens": 1}}), 0)
    assert (frame.error, frame.usage) == ({"code": "1234", "message": "x"}, {"total_tokens": 1})
    assert read_event(_event({"error": "busy"}), 0).error == {"message": "busy"}
    assert read_event(_event('{"a": '), 0).problem == "data is not JSON (Expecting value): '{\"a\": '"
    assert read_event(_event("[1]"), 0).problem == "data is JSON but not an object: '[1]'"
    assert read_event(_event('"x' + "y" * 100 + '"'), 0).problem.endswith("y'") is True


def test_assembly_keeps_every_character_in_order() -> None:
    stream = read_stream([_event(_chunk({"content": "\n"})), _event(_chunk({"reasoning_content": " a "})),
                          _event(_chunk({"reasoning_content": "b\n"})), _event(_chunk({"content": "  Hi "})),
                          _event('{"broken'), _event(_chunk({"content": "there\n"})), ServerSentEvent("[DONE]")])
    message = assemble(stream).message()
    assert message == {"role": "assistant", "content": "\n  Hi there\n", "reasoning_content": " a b\n"}
    assert stream.done and [e.n for e in stream.events] == [0, 1, 2, 3, 4, 5]


def test_tool_call_pieces_are_joined_by_index() -> None:
    def call(index: int, arguments: str, **named: str) -> dict[str, Any]:
        function = {"name": named["name"], "arguments": arguments} if "name" in named else {"arguments": arguments}
        return {"index": index, **({"id": named["id"]} if "id" in named else {}), "function": function}

    pieces = [
        _chunk({"tool_calls": [call(1, "{", id="b", name="g")]}),
        _chunk({"tool_calls": [call(0, "[", id="a", name="f")]}),
        _chunk({"tool_calls": [call(1, "}"), call(0, "]")]}),
        _chunk({"tool_calls": [call(1, "", id="z", name="h")]}),
    ]
    calls = assemble(read_stream(_event(p) for p in pieces)).tool_calls
    assert calls == [
        {"id": "a", "index": 0, "type": "function", "function": {"name": "f", "arguments": "[]"}},
        {"id": "b", "index": 1, "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]


def test_calls_without_an_index_are_placed_by_position_and_keep_no_index() -> None:
    """The assembly never invents the index a client would need: the call says it had none."""
    chunk = _chunk({"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{}"}},
                                   {"id": "b", "index": 1, "function": {"name": "g", "arguments": "{}"}}]})
    calls = assemble(read_stream([_event(chunk)])).tool_calls
    assert [(c["id"], c["index"]) for c in calls] == [("a", None), ("b", 1)]


def test_a_whole_stream_knows_its_usage_finish_and_first_kinds() -> None:
    chunks = chunks_of("simple_streaming")
    events, _ = decode_all(sse(chunks))
    stream = read_stream(events)
    assert isinstance(stream, Stream) and stream.done and len(stream.events) == len(chunks)
    assert stream.usage == chunks[-1]["usage"] and stream.finish_reason == "stop"
    first_reasoning = stream.first(EventKind.REASONING)
    assert first_reasoning is not None and first_reasoning.n == 0
    assert stream.first(EventKind.TOOL_CALLS) is None
    tool = read_stream(decode_all(sse(chunks_of("tool_streaming")))[0])
    assert tool.events[0].kind is EventKind.BLANK and tool.first(EventKind.TOOL_CALLS) is tool.events[-2]
    assert len(stream.tokens()) == sum(e.kind is not EventKind.FINAL for e in stream.events)
    assert not read_stream([]).done and read_stream([]).usage is None and read_stream([]).finish_reason is None


def test_arrival_times_come_with_timed_events() -> None:
    from harness.client import TimedEvent

    stream = read_stream([TimedEvent(2.5, _event(_chunk({"content": "a"})))])
    assert stream.events[0].at == 2.5 and read_stream([_event(_chunk({"content": "a"}))]).events[0].at is None


def test_strict_mode_notes_each_observed_field_once_at_its_first_chunk() -> None:
    from harness.contract import Mode
    from harness.stream import chunk_schema

    chunks = [{**c, "object": "chat.completion.chunk"} for c in chunks_of("simple_streaming")[-3:]]
    chunks[-1]["usage"]["completion_tokens_details"] = {"reasoning_tokens": 1}
    stream = read_stream(decode_all(sse(chunks))[0])
    strict = chunk_schema(stream, Mode.STRICT)
    assert strict.findings == []
    assert [(n.path, n.kind) for n in strict.notices] == [
        ("event[0].object", "observed_field"), ("event[2].usage.completion_tokens_details", "observed_field")]
    assert chunk_schema(stream).notices == [] and chunk_schema(stream).findings == []
