"""Token figures are never a silent zero: a stream without usage is counted from its chunks and
says so, and a figure with no count at all reads "unknown (no usage)" in the report, the
markdown and on the console, never 0 or 0.000000."""

from __future__ import annotations

from bench_helpers import SENT, chunk, exchange, usage

from harness.bench.efficiency import PriceRef, TaskResult, _set_summary
from harness.bench.metrics import build_sample
from harness.bench.report import level_result, level_tokens_line, token_source_phrase
from harness.bench.runner import LevelRun, LevelSpec, Outcome
from harness.client import Exchange
from harness.profiles import with_usage_asked


def _sample(ex: Exchange, index: int = 0):  # type: ignore[no-untyped-def]
    return build_sample(ex.events, ex.sent_at, run_t0=SENT - 1, index=index, level="c1",
                        phase="measure", scheduled_at=SENT, ready_at=SENT, exchange=ex)


def _no_usage() -> Exchange:
    return exchange([(10, chunk(content="a")), (20, chunk(content="b")), (30, chunk(content="c")),
                     (40, chunk(finish="stop")), (41, "[DONE]")])


def _level(*exchanges: Exchange) -> LevelRun:
    return LevelRun(LevelSpec(1, len(exchanges)),
                    [Outcome(_sample(ex, i)) for i, ex in enumerate(exchanges)])


def test_a_stream_without_usage_is_counted_from_its_chunks_and_says_so() -> None:
    sample = _sample(_no_usage())
    assert (sample.completion_tokens, sample.token_source, sample.prompt_tokens) == (3, "chunks", None)
    result = level_result(_level(_no_usage(), _no_usage()))
    assert result.token_sources == {"chunks": 2}
    assert result.output_tokens_per_s is not None and result.output_tokens_per_s > 0
    assert "(counted from chunks; the server sent no usage)" in level_tokens_line(result)


def test_usage_is_named_as_the_source_when_the_server_sent_it() -> None:
    with_usage = exchange([(10, chunk(content="a")), (20, chunk(finish="stop", usage=usage(5))),
                           (21, "[DONE]")])
    result = level_result(_level(with_usage, _no_usage()))
    assert result.token_sources == {"usage": 1, "chunks": 1}
    assert token_source_phrase(result.token_sources) == \
        "from usage for 1, counted from chunks for 1 (no usage)"


def test_no_count_at_all_is_unknown_not_zero() -> None:
    # a 200 stream whose only token-bearing chunk is not there: nothing to count
    result = level_result(_level(exchange([(10, chunk(finish="stop")), (11, "[DONE]")])))
    assert result.output_tokens_per_s is None
    assert level_tokens_line(result).startswith("unknown (no usage) output tokens/s")
    assert "0.0 output" not in level_tokens_line(result)


PRICE = PriceRef(model="m", input=1.0, cached_input=0.5, output=2.0, as_of="2026-01-01",
                 source="test", currency="USD")


def test_a_task_set_without_usage_has_unknown_prompt_tokens_and_cost() -> None:
    rows = [TaskResult(task_id="t", kind="k", thinking=False, ok=True, passed=True,
                       completion_tokens=7, token_source="chunks")]
    summary = _set_summary(rows, False, PRICE)
    assert (summary.prompt_tokens, summary.completion_tokens) == (None, 7)
    assert (summary.cost_usd, summary.cost_per_solved_usd, summary.total_tokens_per_solved) == \
        (None, None, None)


def test_a_priced_set_with_usage_still_has_a_cost() -> None:
    rows = [TaskResult(task_id="t", kind="k", thinking=False, ok=True, passed=True,
                       prompt_tokens=10, completion_tokens=7, reasoning_tokens_est=0,
                       token_source="usage", cost_usd=0.000024)]
    summary = _set_summary(rows, False, PRICE)
    assert (summary.prompt_tokens, summary.cost_usd) == (10, 0.000024)


def test_the_openai_compatible_profile_asks_for_usage_in_streams_only() -> None:
    streamed = {"stream": True, "messages": []}
    assert with_usage_asked("openai-compatible", streamed)["stream_options"] == {"include_usage": True}
    assert "stream_options" not in with_usage_asked("glm", streamed)  # GLM sends it unasked
    assert "stream_options" not in with_usage_asked("openai-compatible", {"stream": False})
    own = {"stream": True, "stream_options": {"include_usage": False}}
    assert with_usage_asked("openai-compatible", own) == own  # a request's own choice stands


def test_a_model_named_like_a_path_makes_no_folder() -> None:
    from harness.bench.commands import _default_out

    path = _default_out("zai-org/GLM-4.6", "live")
    assert path.parent.name == "reports" and path.name.startswith("bench-zai-org_GLM-4.6-live-")
