"""Drift reads Messages-surface recordings (fixtures/real-2026): the shape of an `event:` stream,
the request each recording is compared with, and the comparison itself, here against a stand-in
twin that answers exactly what was recorded (the real twin's Messages rendering is compared by
`glm-harness drift fixtures/real-2026`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.contract import MessagesRequest, validate
from harness.drift import (
    TwinResponse,
    _case,
    _compare,
    diff_message_streams,
    message_stream_shape,
)
from harness.recordings import Kind, RecordedExchange, exchanges, scan
from harness.surface import Surface

REAL_2026 = Path(__file__).resolve().parent.parent / "fixtures" / "real-2026"
TOOL_STREAM = next(REAL_2026.glob("*glm-4.6__anthropic__anthropic-tool-use-streaming__*.decoded.sse"))


def _exchanges() -> list[RecordedExchange]:
    return list(exchanges(scan([REAL_2026], [])))


def test_the_shape_of_a_recorded_messages_stream() -> None:
    shape = message_stream_shape(TOOL_STREAM.read_bytes())
    assert shape.describe_order() == (
        "message_start > ping > content_block_start(text) > content_block_delta(text_delta) > content_block_stop > "
        "content_block_start(tool_use) > content_block_delta(input_json_delta) > content_block_stop > "
        "message_delta > message_stop")
    assert shape.usage_at == "message_start, message_delta"
    assert sorted(shape.usage_fields["message_delta"]) == [
        "$.usage", "$.usage.cache_read_input_tokens", "$.usage.input_tokens", "$.usage.output_tokens",
        "$.usage.server_tool_use", "$.usage.server_tool_use.web_search_requests", "$.usage.service_tier"]
    assert (shape.done, shape.framing) == ("missing", ())
    assert diff_message_streams("x", shape, shape) == []


def _events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    blocks = raw.decode().strip().split("\n\n")
    return [(b.split("\n")[0][7:], json.loads(b.split("\n")[1][6:])) for b in blocks]


def _raw(events: list[tuple[str, dict[str, Any]]], done: bool = False) -> bytes:
    text = "".join(f"event: {n}\ndata: {json.dumps(d)}\n\n" for n, d in events)
    return (text + ("data: [DONE]\n\n" if done else "")).encode()


def test_each_way_a_messages_stream_can_differ_is_named() -> None:
    events = _events(TOOL_STREAM.read_bytes())
    recorded = message_stream_shape(_raw(events))
    events = [e for e in events if e[0] != "ping"]
    events[0][1]["message"]["usage"] = events[-2][1].pop("usage")
    events[-2][1]["usage"] = {"output_tokens": 1}
    events[3][1]["delta"]["extra"] = True
    twin = message_stream_shape(_raw(events, done=True))
    found = {(d.aspect, d.path): (d.recorded, d.twin) for d in diff_message_streams("x", recorded, twin)}
    assert found[("event_order", "stream")][1].startswith("message_start > content_block_start(text)")
    assert found[("content_block_delta(text_delta)_event_fields", "$.delta.extra")] == ("absent", "boolean")
    assert found[("message_delta_usage_fields", "$.usage.input_tokens")] == ("integer", "absent")
    assert found[("message_start_usage_fields", "$.message.usage.service_tier")] == ("absent", "string")
    assert found[("done", "[DONE]")] == ("missing", "last")
    assert len(found) == 10  # below a field absent on one side, nothing more is said


def test_every_recording_is_compared_with_a_messages_request() -> None:
    cases = [_case(e, []) for e in _exchanges()]
    assert len(cases) == 153
    for case in cases:
        if case.answer.kind.is_error:
            # an error the body causes is provoked by the body sent (the model INDEX.jsonl says was
            # sent, `messages: []`); a bad key by its recipe, with the key INDEX.jsonl names
            caused_by_body = case.answer.error_code in ("1211", "1214")
            assert (case.request is not None) is caused_by_body, case.label
            if case.request is not None:
                assert case.request["messages"] == [] or case.request["model"] == "this-model-does-not-exist-999"
            continue
        assert case.request is not None and validate(MessagesRequest, case.request).ok, case.label
    streams = [c for c in cases if c.answer.kind is Kind.STREAM]
    assert len(streams) == 36 and all(c.request and c.request["stream"] for c in streams)
    forced = [c.request for c in streams if c.request and "tool_choice" in c.request]
    assert forced and all(r["tool_choice"] == {"type": "tool", "name": "get_weather"} for r in forced)


class _RecordedTwin:
    """Answers what was recorded; remembers how it was asked."""

    def __init__(self, exchange: RecordedExchange) -> None:
        self.answer = exchange.answer
        self.asked: dict[str, Any] = {}

    def send(self, body: Any, **kw: Any) -> TwinResponse:
        self.asked = {"body": body, **kw}
        content_type = "text/event-stream" if self.answer.kind is Kind.STREAM else "application/json"
        return TwinResponse(self.answer.status, content_type, self.answer.raw)


@pytest.mark.parametrize("exchange", _exchanges(), ids=lambda e: e.answer.label.split("__", 2)[-1])
def test_a_twin_that_answers_as_recorded_shows_no_drift(exchange: RecordedExchange) -> None:
    twin = _RecordedTwin(exchange)
    notes: list[str] = []
    assert _compare(_case(exchange, notes), twin, None, notes) == []  # type: ignore[arg-type]
    assert twin.asked["surface"] is Surface.ANTHROPIC
    body = twin.asked["body"]
    assert validate(MessagesRequest, body).ok or body["messages"] == []  # 1214 is provoked by no messages
    if exchange.answer.status == 401:
        assert twin.asked["key"] == "invalid_key_xxx"
    if exchange.answer.kind.is_error:  # GLM's own envelope: the twin's older profile speaks it
        assert twin.asked["profile"] == ("2025" if exchange.answer.error_code else None)
