"""Per-request metrics to the exact digit the report keeps, and the error of each failure word
for word: what mutation testing of harness/bench/metrics.py showed the other tests let through
(a rounding, a default, a message or a count could change and every approximate assertion still
passed)."""

from __future__ import annotations

import pytest
from bench_helpers import SENT, chunk, exchange, usage

from harness.bench.metrics import Sample, SampleError, build_sample, error_of, split_tokens
from harness.client import Exchange
from harness.errors import TransportError
from harness.sse import ServerSentEvent
from harness.stream import read_stream

RUN_T0 = SENT - 1.2345674  # seconds with more digits than the report keeps (6)


def sample_of(ex: Exchange, **kw: object) -> Sample:
    return build_sample(ex.events, ex.sent_at, run_t0=SENT - 1, index=0, level="t", phase="measure",
                        scheduled_at=SENT, ready_at=SENT, exchange=ex, **kw)  # type: ignore[arg-type]


def test_per_request_metrics_keep_four_decimals_of_a_millisecond() -> None:
    ex = exchange([(100.12344, chunk(content="a")), (110, chunk(content="b")), (120, chunk(content="c")),
                   (130, chunk(content="", usage=usage(4)))], end_ms=210)
    s = sample_of(ex)
    assert s.ttft_ms == 100.1234 and s.chunk_ms == [100.1234, 110.0, 120.0, 130.0]
    assert s.tpot_ms == 36.6255  # (210 - 100.1234) / 3
    assert s.itl_token_ms == 6.6255  # (120 - 100.1234) / 3
    assert s.output_tps == 19.0476  # 4 / 0.210 s
    assert s.end_ms == 210.0 and s.reads == 4


def test_tokens_per_chunk_keeps_four_decimals() -> None:
    ex = exchange([(10, chunk(content="a")), (20, chunk(content="b")),
                   (30, chunk(content="c", usage=usage(10)))])
    assert sample_of(ex).tokens_per_chunk == 3.3333


def test_chunk_gaps_keep_four_decimals() -> None:
    sample = Sample(index=0, level="t", phase="measure", scheduled_s=0, ready_s=0, sent_s=0, lateness_ms=0,
                    chunk_ms=[1.0, 1.123456, 2.5], chunk_kinds="c-c")
    assert sample.itl_chunk_ms() == [1.5]  # the no-token chunk is not a gap of its own
    sample.chunk_kinds = "ccc"
    assert sample.itl_chunk_ms() == [0.1235, 1.3765]


def test_chunk_times_and_kinds_that_do_not_pair_up_are_refused() -> None:
    sample = Sample(index=0, level="t", phase="measure", scheduled_s=0, ready_s=0, sent_s=0, lateness_ms=0,
                    chunk_ms=[1.0, 2.0, 3.0], chunk_kinds="cc")
    with pytest.raises(ValueError, match="zip"):
        sample.itl_chunk_ms()


def test_run_times_keep_six_decimals_of_a_second_and_the_request_its_labels() -> None:
    ex = exchange([(10, chunk(content="a", usage=usage(1)))])
    s = build_sample(ex.events, ex.sent_at, run_t0=RUN_T0, index=7, level="c4", phase="task",
                     scheduled_at=SENT - 0.0040003, ready_at=SENT - 0.0020002, exchange=ex,
                     task_id="fix-bug", thinking=True, attempts=3, retry_wait_s=0.123456)
    assert (s.scheduled_s, s.ready_s, s.sent_s) == (1.230567, 1.232567, 1.234567)  # not 1.2305671, ...
    assert (s.index, s.level, s.phase, s.task_id, s.thinking) == (7, "c4", "task", "fix-bug", True)
    assert (s.attempts, s.retry_wait_s) == (3, 0.1235)


def test_a_first_attempt_counts_one_and_waited_nothing_by_default() -> None:
    s = sample_of(exchange([(10, chunk(content="a", usage=usage(1)))]))
    assert (s.attempts, s.retry_wait_s, s.task_id, s.thinking) == (1, 0.0, None, None)


def test_lateness_runs_from_ready_to_the_first_attempt_not_the_retry() -> None:
    ex = exchange([(10, chunk(content="a", usage=usage(1)))])
    s = build_sample(ex.events, ex.sent_at, run_t0=SENT - 1, index=0, level="t", phase="measure",
                     scheduled_at=SENT - 0.5, ready_at=SENT - 0.5, exchange=ex, first_sent_at=SENT - 0.497)
    assert s.lateness_ms == pytest.approx(3, abs=1e-3)  # not the 500 ms until the retry was sent


def test_a_request_that_never_ended_has_no_end_and_no_reads() -> None:
    ex = exchange([(15, chunk(content="a"))])
    s = build_sample(ex.events, SENT, run_t0=SENT, index=0, level="t", phase="measure",
                     scheduled_at=SENT, ready_at=SENT,
                     error=SampleError(kind="cancelled", message="stopped"))
    assert s.end_ms is None and s.e2e_ms is None and s.reads == 0 and s.chunk_ms == [15.0]
    assert s.retried_stale is False


def test_retried_stale_says_whether_the_first_connection_was_found_closed() -> None:
    ex = exchange([(10, chunk(content="a", usage=usage(1)))])
    assert sample_of(ex).retried_stale is False
    ex.retried_stale = TransportError("network", "RemoteProtocolError", "closed while idle")
    assert sample_of(ex).retried_stale is True


def test_output_rate_needs_a_positive_duration() -> None:
    zero = exchange([(0, chunk(content="a", usage=usage(2)))], end_ms=0)
    assert sample_of(zero).e2e_ms == 0 and sample_of(zero).output_tps is None
    half_ms = exchange([(0.2, chunk(content="a", usage=usage(2)))], end_ms=0.5)
    assert sample_of(half_ms).output_tps == 4000.0  # 2 tokens in 0.5 ms


def test_reasoning_tokens_reported_by_usage_are_taken_and_the_rest_split_by_chunks() -> None:
    detailed = usage(10) | {"completion_tokens_details": {"reasoning_tokens": 4}}
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    ex = exchange([(10, chunk(reasoning="r")), (20, chunk(content="a")), (30, chunk(content="b")),
                   (40, chunk(tool=call)), (50, chunk(content="", usage=detailed))])
    s = sample_of(ex)
    assert s.reasoning_source == "usage" and s.token_source == "usage"
    # 10 - 4 = 6 visible tokens over 2 content chunks and 1 tool-call chunk
    assert (s.reasoning_tokens_est, s.content_tokens_est, s.tool_tokens_est) == (4, 4, 2)


def test_reasoning_tokens_equal_to_the_total_leave_nothing_visible() -> None:
    detailed = usage(5) | {"completion_tokens_details": {"reasoning_tokens": 5}}
    s = sample_of(exchange([(10, chunk(reasoning="r")), (20, chunk(content="a", usage=detailed))]))
    assert s.reasoning_source == "usage"
    assert (s.reasoning_tokens_est, s.content_tokens_est, s.tool_tokens_est) == (5, 0, 0)


def test_reasoning_tokens_beyond_the_total_are_not_believed() -> None:
    detailed = usage(4) | {"completion_tokens_details": {"reasoning_tokens": 9}}
    s = sample_of(exchange([(10, chunk(reasoning="r")), (20, chunk(content="a")),
                            (30, chunk(content="b")), (40, chunk(content="c", usage=detailed))]))
    assert s.reasoning_source == "chunk share"
    assert (s.reasoning_tokens_est, s.content_tokens_est, s.tool_tokens_est) == (1, 3, 0)


def test_no_usage_and_no_token_chunk_is_no_count_and_no_source() -> None:
    s = sample_of(exchange([(10, chunk(content=""))]))
    assert (s.completion_tokens, s.token_source, s.reasoning_source) == (None, None, None)


def _events(*slots: tuple[str, ...]) -> list:  # type: ignore[type-arg]
    call = {"index": 0, "id": "c"}
    parts = {"r": {"reasoning": "x"}, "c": {"content": "x"}, "t": {"tool": call}}
    chunks = [chunk(**{k: v for s in kinds for k, v in parts[s].items()}) for kinds in slots]  # type: ignore[arg-type]
    return read_stream(ServerSentEvent(data) for data in chunks).events


def test_chunks_of_two_kinds_add_half_to_each_alongside_whole_chunks() -> None:
    # weights: reasoning 0.5 + 0.5 + 1 = 2, content 0.5 * 3 + 1 = 2.5, tool calls 0.5 (of 5)
    events = _events(("r", "c"), ("r", "c"), ("c", "t"), ("c",), ("r",))
    assert split_tokens(13, events) == (5, 7, 1)  # 5.2, 6.5, 1.3: the spare token to the .5


def test_the_spare_token_goes_to_the_largest_remainder_not_the_largest_share() -> None:
    events = _events(("r",), *[("c",)] * 7)
    assert split_tokens(7, events) == (1, 6, 0)  # 0.875 and 6.125: reasoning's remainder is larger


def test_transport_failures_are_timeouts_or_transport_errors_with_their_message() -> None:
    ex = exchange([])
    ex.status = None
    ex.transport_error = TransportError("timeout", "ReadTimeout", "no byte in 60 s")
    assert error_of(ex) == SampleError(kind="timeout", message="ReadTimeout: no byte in 60 s")
    ex.transport_error = TransportError("connect", "ConnectError", "refused")
    assert error_of(ex) == SampleError(kind="transport", message="ConnectError: refused")


def test_an_http_error_body_that_is_not_json_is_kept_decoded_and_cut() -> None:
    body = b"\xff" + b"upstream says no " * 30
    ex = exchange([], status=502, body=body)
    error = error_of(ex)
    assert error is not None and error.kind == "http" and error.code is None
    assert error.message == body[:300].decode("utf-8", "replace") and error.message.startswith("\ufffd")
    assert len(error.message) == 300


def test_an_http_error_message_is_cut_at_300_characters() -> None:
    body = b'{"error":{"code":"500","message":"' + b"m" * 400 + b'"}}'
    error = error_of(exchange([], status=500, body=body))
    assert error == SampleError(kind="http", code="500", message="m" * 300)


def test_an_http_error_without_a_message_keeps_the_body() -> None:
    body = b'{"error":{"code":"1113"}}'
    assert error_of(exchange([], status=429, body=body)) == SampleError(kind="http", code="1113",
                                                                        message=body.decode())


def test_a_stream_error_keeps_its_message_cut_at_300_and_no_code_when_none_was_sent() -> None:
    s = sample_of(exchange([(10, chunk(content="a")), (20, '{"error":{"message":"' + "n" * 400 + '"}}')]))
    assert s.error == SampleError(kind="stream", code=None, message="n" * 300)
    bare = sample_of(exchange([(10, chunk(content="a")), (20, '{"error":{"code":1214}}')]))
    assert bare.error == SampleError(kind="stream", code="1214", message="")


def test_a_chunk_that_is_not_json_says_so() -> None:
    s = sample_of(exchange([(10, chunk(content="a")), (20, "{not json")]))
    assert s.error == SampleError(kind="stream", message="a chunk is not a JSON object")


def test_a_key_crossing_the_cut_leaves_no_part_of_itself() -> None:
    """The body is redacted whole, then cut: cut first, the key's first part (under the length
    the writers' scrubber looks for) stayed in the message (a mutant of the cut showed it)."""
    from harness.mock import TWIN_KEY

    body = b"y" * 290 + TWIN_KEY.encode() + b" echoed by a proxy"
    error = error_of(exchange([], status=502, body=body))
    assert error is not None and TWIN_KEY[:10] not in error.message
    assert error.message.startswith("y" * 290) and len(error.message) <= 300
