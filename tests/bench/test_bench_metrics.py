"""Per-request metrics on hand-built exchanges, where every figure is known exactly."""

from __future__ import annotations

import json

import pytest
from bench_helpers import SENT, chunk, exchange, usage

from harness.bench.metrics import (
    DEFINITION_BY_NAME,
    PER_REQUEST_METRICS,
    SampleError,
    build_sample,
    split_tokens,
)
from harness.client import Exchange
from harness.sse import ServerSentEvent
from harness.stream import read_stream


def approx(value: float, rel: float | None = None) -> object:
    """Metrics are rounded to 0.1 us (4 decimals of a millisecond)."""
    return pytest.approx(value, rel=rel, abs=1e-3)


def sample_of(ex: Exchange, **kw: object):
    return build_sample(ex.events, ex.sent_at, run_t0=SENT - 1, index=0, level="t", phase="measure",
                        scheduled_at=SENT, ready_at=SENT, exchange=ex, **kw)  # type: ignore[arg-type]


def test_reasoning_then_content() -> None:
    ex = exchange([
        (150, chunk(reasoning="I")), (160, chunk(reasoning=" think")), (170, chunk(reasoning=".")),
        (180, chunk(content="Hi")), (190, chunk(content="!")),
        (200, chunk(content="", usage=usage(5), finish="stop")), (210, "[DONE]"),
    ], end_ms=210)
    s = sample_of(ex)
    assert s.ok and s.status == 200 and s.error is None
    assert (s.ttft_ms, s.ttfr_ms, s.ttfc_ms, s.ttftool_ms) == (150, 150, 180, None)
    assert s.itl_chunk_ms() == [10, 10, 10, 10]
    assert s.itl_token_ms == approx((190 - 150) / 4)
    assert s.tpot_ms == approx((210 - 150) / 4)  # e2e runs to the end, usage and [DONE] too
    assert s.e2e_ms == 210
    assert s.output_tps == approx(5 / 0.210, rel=1e-4)
    assert s.chunk_kinds == "rrrcc-"  # [DONE] is not a chunk
    assert (s.completion_tokens, s.prompt_tokens, s.cached_tokens) == (5, 10, 0)
    assert (s.reasoning_tokens_est, s.content_tokens_est, s.tool_tokens_est) == (3, 2, 0)
    assert s.token_chunks == 5 and s.tokens_per_chunk == 1
    assert s.finish_reason == "stop"


def test_chunks_carrying_several_tokens_divide_by_usage_not_chunks() -> None:
    ex = exchange([(100, chunk(content="Hello there")), (130, chunk(content=" big world")),
                   (160, chunk(content="", usage=usage(12), finish="stop"))], end_ms=160)
    s = sample_of(ex)
    assert s.itl_chunk_ms() == [30]  # per chunk, as vLLM's ITL
    assert s.tokens_per_chunk == 6
    assert s.itl_token_ms == approx(30 / 11)  # decode span / (usage tokens - 1)
    assert s.tpot_ms == approx(60 / 11)
    assert s.content_tokens_est == 12


def test_whitespace_content_counts_for_ttft_but_not_first_visible_word() -> None:
    ex = exchange([(50, chunk(content="\n")), (90, chunk(reasoning="hmm")),
                   (120, chunk(content="Yes")), (130, chunk(content="", usage=usage(3)))])
    s = sample_of(ex)
    assert (s.ttft_ms, s.ttfr_ms, s.ttfc_ms) == (50, 90, 120)
    assert s.chunk_kinds == "crc-"


def test_tool_call_only() -> None:
    call = {"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
    ex = exchange([(80, chunk(reasoning="use the tool")), (95, chunk(tool=call)),
                   (100, chunk(content="", usage=usage(9), finish="tool_calls"))])
    s = sample_of(ex)
    assert s.ok
    assert (s.ttft_ms, s.ttftool_ms, s.ttfc_ms) == (80, 95, None)
    assert s.chunk_kinds == "rt-"
    assert (s.reasoning_tokens_est, s.content_tokens_est, s.tool_tokens_est) == (5, 0, 4)


def test_a_chunk_with_two_kinds_counts_half_to_each() -> None:
    ex = exchange([(10, chunk(reasoning="a", content="b")), (20, chunk(content="c", usage=usage(4)))])
    s = sample_of(ex)
    assert s.chunk_kinds == "xc"
    assert (s.ttfr_ms, s.ttfc_ms) == (10, 10)
    assert (s.reasoning_tokens_est, s.content_tokens_est) == (1, 3)


def test_chunks_coalesced_in_one_read_have_zero_gaps() -> None:
    ex = exchange([(40, chunk(content="a")), (40, chunk(content="b")), (55, chunk(content="c"))])
    assert sample_of(ex).itl_chunk_ms() == [0, 15]


def test_http_error_is_recorded_with_its_business_code() -> None:
    body = b'{"error":{"code":"1302","message":"Rate limit reached for requests"}}'
    ex = exchange([], status=429, body=body, headers={"content-type": "application/json"})
    s = sample_of(ex)
    assert not s.ok
    assert s.error == SampleError(kind="http", code="1302", message="Rate limit reached for requests")
    assert s.ttft_ms is None and s.completion_tokens is None


def test_error_event_inside_a_200_stream() -> None:
    ex = exchange([(10, chunk(content="a")), (20, '{"error":{"code":"1234","message":"network"}}')])
    s = sample_of(ex)
    assert not s.ok and s.error is not None
    assert (s.error.kind, s.error.code) == ("stream", "1234")
    assert s.chunk_kinds == "c!"


def test_malformed_chunk_is_a_stream_error_not_a_crash() -> None:
    s = sample_of(exchange([(10, chunk(content="a")), (20, "{not json")]))
    assert not s.ok and s.error is not None and s.error.kind == "stream"
    assert s.chunk_kinds == "c?"


def test_timeout_without_exchange_keeps_partial_stamps() -> None:
    ex = exchange([(150, chunk(content="a")), (160, chunk(content="b"))])
    s = build_sample(ex.events, SENT, run_t0=SENT, index=3, level="t", phase="measure",
                     scheduled_at=SENT, ready_at=SENT, ended_at=SENT + 1.0,
                     error=SampleError(kind="timeout", message="no complete response in 1 s"))
    assert not s.ok and s.status is None
    assert s.ttft_ms == 150 and s.end_ms == 1000
    assert s.itl_chunk_ms() == [10]


def test_lateness_counts_from_ready_to_first_attempt() -> None:
    ex = exchange([(10, chunk(content="a", usage=usage(1)))])
    s = build_sample(ex.events, ex.sent_at, run_t0=SENT - 1, index=0, level="t", phase="measure",
                     scheduled_at=SENT - 0.004, ready_at=SENT - 0.002, exchange=ex)
    assert s.lateness_ms == approx(2)
    assert s.scheduled_s == approx(0.996) and s.sent_s == approx(1.0)


@pytest.mark.parametrize(("total", "kinds", "expected"), [
    (10, "rrrc", (8, 2, 0)),  # 7.5/2.5: the tie goes to the first largest remainder
    (7, "rct", (3, 2, 2)),
    (0, "rc", (0, 0, 0)),
    (5, "--", (0, 0, 0)),
])
def test_split_tokens_sums_to_the_total(total: int, kinds: str, expected: tuple[int, int, int]) -> None:
    parts = {"r": {"reasoning": "x"}, "c": {"content": "x"}, "t": {"tool": {"index": 0, "id": "c"}}, "-": {}}
    events = read_stream(ServerSentEvent(chunk(**parts[k])) for k in kinds).events  # type: ignore[arg-type]
    split = split_tokens(total, events)
    assert split == expected
    assert sum(split) == (total if any(k in "rctx" for k in kinds) else 0)


def test_every_metric_states_its_formula_and_denominator() -> None:
    for name in (*PER_REQUEST_METRICS, "itl_chunk_ms", "requests_per_s", "output_tokens_per_s"):
        definition = DEFINITION_BY_NAME[name]
        assert definition.formula and definition.denominator and definition.peers
    assert DEFINITION_BY_NAME["itl_chunk_ms"].denominator == "chunks"
    assert DEFINITION_BY_NAME["tpot_ms"].denominator == "usage tokens"


def test_ttft_counts_from_the_first_token_not_a_role_only_first_chunk() -> None:
    """vLLM and SGLang open a stream with a chunk that carries only the role: the first body
    byte comes then, the first token later. TTFT is the first token's (issue 21: a TTFT taken
    from the first body byte passed every other test)."""
    role_only = json.dumps({"id": "x", "created": 1, "model": "glm-4.6",
                            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                         "finish_reason": None}]})
    ex = exchange([(40, role_only), (150, chunk(content="Hi")), (170, chunk(content="!")),
                   (180, chunk(content="", usage=usage(2), finish="stop")), (190, "[DONE]")], end_ms=190)
    s = sample_of(ex)
    assert s.first_byte_ms == 40  # the role-only chunk's bytes arrived first
    assert s.ok and s.ttft_ms == 150 and s.ttfc_ms == 150 and s.first_token_ms == 150
    assert s.tpot_ms == approx((190 - 150) / 1)
    assert s.chunk_kinds[0] == "-" and s.token_chunks == 2
