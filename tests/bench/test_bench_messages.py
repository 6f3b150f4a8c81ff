"""`bench --surface anthropic`: the same jobs sent as Messages requests, their event streams read
into the same samples (TTFT at the first token-bearing content_block_delta, tokens from
message_delta.usage), and the same efficiency figures as on chat completions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.bench.calibrate import CalibrationSettings, calibrate
from harness.bench.messages import DEFAULT_MAX_TOKENS, build_message_sample, chat_message, messages_body
from harness.cli import main
from harness.client import TimedEvent
from harness.sse import ServerSentEvent


def test_a_chat_job_becomes_the_messages_request_that_asks_the_same() -> None:
    body = {"messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"},
                         {"role": "assistant", "content": "", "tool_calls": [
                             {"id": "call_1", "type": "function",
                              "function": {"name": "add", "arguments": '{"a": 1}'}}]},
                         {"role": "tool", "tool_call_id": "call_1", "content": "2"}],
            "tools": [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}],
            "thinking": {"type": "enabled"}, "stream": True, "request_id": "r-1"}
    wire = messages_body(body)
    assert wire["system"] == "Be terse." and wire["max_tokens"] == DEFAULT_MAX_TOKENS
    assert wire["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert wire["tools"] == [{"name": "add", "description": "", "input_schema": {"type": "object"}}]
    assert wire["messages"][1] == {"role": "assistant", "content": [
        {"type": "tool_use", "id": "call_1", "name": "add", "input": {"a": 1}}]}
    assert wire["messages"][2]["content"][0] == {"type": "tool_result", "tool_use_id": "call_1", "content": "2"}
    assert "thinking" not in messages_body({"messages": [], "thinking": {"type": "disabled"}})


def _events(*pairs: tuple[float, dict[str, Any]]) -> list[TimedEvent]:
    return [TimedEvent(at, ServerSentEvent(data=json.dumps(data), event=data["type"])) for at, data in pairs]


def _delta(index: int, kind: str, field: str, piece: str) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": {"type": kind, field: piece}}


STREAM = _events(
    (0.010, {"type": "message_start", "message": {"id": "msg_1", "model": "glm-4.6", "content": [],
                                                  "usage": {"input_tokens": 0, "output_tokens": 0}}}),
    (0.011, {"type": "ping"}),
    (0.012, {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
    (0.100, _delta(0, "thinking_delta", "thinking", "Hm")),
    (0.110, _delta(0, "signature_delta", "signature", "0123")),
    (0.111, {"type": "content_block_stop", "index": 0}),
    (0.112, {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
    (0.150, _delta(1, "text_delta", "text", "Hi")),
    (0.160, _delta(1, "text_delta", "text", " there")),
    (0.161, {"type": "content_block_stop", "index": 1}),
    (0.170, {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
             "usage": {"input_tokens": 5, "output_tokens": 9, "cache_read_input_tokens": 7}}),
    (0.171, {"type": "message_stop"}),
)


def test_ttft_is_the_first_token_bearing_delta_and_tokens_come_from_message_delta() -> None:
    sample = build_message_sample(STREAM, 0.0, run_t0=0.0, index=0, level="c1", phase="measure",
                                  scheduled_at=0.0, ready_at=0.0, ended_at=0.2)
    assert sample.ttft_ms == 100.0 and sample.ttfr_ms == 100.0 and sample.ttfc_ms == 150.0
    assert sample.chunk_kinds == "---r---cc---"  # the signature_delta carries no token
    assert (sample.prompt_tokens, sample.cached_tokens, sample.completion_tokens) == (12, 7, 9)
    assert sample.token_source == "usage" and sample.finish_reason == "end_turn"
    assert (sample.reasoning_tokens_est, sample.content_tokens_est) == (3, 6)
    assert sample.e2e_ms == 200.0 and sample.tpot_ms == 12.5


def test_without_usage_the_token_deltas_are_counted_and_said_so() -> None:
    events = [e for e in STREAM if '"message_delta"' not in e.event.data]
    sample = build_message_sample(events, 0.0, run_t0=0.0, index=0, level="c1", phase="measure",
                                  scheduled_at=0.0, ready_at=0.0, ended_at=0.2)
    assert (sample.completion_tokens, sample.token_source) == (3, "chunks")


def test_an_error_event_fails_the_sample() -> None:
    events = [*STREAM[:3], *_events((0.05, {"type": "error", "error": {"type": "overloaded_error", "code": "1305",
                                                                      "message": "busy"}}))]
    sample = build_message_sample(events, 0.0, run_t0=0.0, index=0, level="c1", phase="measure",
                                  scheduled_at=0.0, ready_at=0.0, ended_at=0.2)
    assert not sample.ok and sample.error is not None and sample.error.code == "1305"


def test_the_graders_read_the_answer_as_a_chat_message() -> None:
    message = chat_message(STREAM)
    assert (message["content"], message["reasoning_content"]) == ("Hi there", "Hm")


def _bench(tmp_path: Path, name: str, *extra: str) -> dict[str, Any]:
    out = tmp_path / f"{name}.json"
    assert main(["bench", "--requests", "4", "--concurrency", "1", "--no-progress", "--itl-ms", "1",
                 "--out", str(out), *extra]) == 0
    return json.loads(out.read_text())


@pytest.mark.parametrize("twin", ["respx", "http"])
def test_bench_on_the_messages_surface_measures_what_chat_completions_does(tmp_path: Path, twin: str) -> None:
    anthropic = _bench(tmp_path, "anthropic", "--surface", "anthropic", "--twin", twin)
    openai = _bench(tmp_path, "openai", "--twin", twin)
    assert anthropic["meta"]["surface"] == "anthropic" and anthropic["meta"]["base_url"].endswith("/api/anthropic")
    samples = [s for s in anthropic["samples"] if s["phase"] == "measure"]
    assert samples and all(s["ok"] and s["token_source"] == "usage" and s["ttft_ms"] for s in samples)
    assert any("message_delta.usage" in note for note in anthropic["notes"])
    # one plan, two renderings: the same tasks solved with the same output tokens on both surfaces
    for ours, theirs in zip(anthropic["efficiency"]["sets"], openai["efficiency"]["sets"], strict=True):
        assert (ours["solved"], ours["completion_tokens"], ours["prompt_tokens"]) == \
            (theirs["solved"], theirs["completion_tokens"], theirs["prompt_tokens"])
        assert ours["cost_usd"] is not None


def test_calibration_on_the_messages_surface_lines_up_the_token_events() -> None:
    """The twin's write of each text delta against the client's stamp of it (the framing events
    before the first token are left out on both sides); c3 over two worker processes too."""
    settings = CalibrationSettings(concurrency=(1, 3), requests=6, ttft_ms=5, itl_ms=1, reply_tokens=4,
                                   pin=False, workers=2, surface="anthropic")
    result = calibrate(settings)
    assert result.base_url.endswith("/api/anthropic")
    for level in result.levels:
        assert level.ok == level.requests == 6 and level.tokens_exact
        assert level.ttft.n == 6 and level.itl_chunk.n == 6 * 3
        assert level.ttft_vs_server is not None and level.ttft_vs_server.n == 6
        assert level.stamp_delay is not None and level.stamp_delay.n == 6 * 4
        assert level.stamp_delay.err_p50_ms is not None and level.stamp_delay.err_p50_ms > -0.5
