"""pytest-benchmark of the harness's own hot paths: what a latency run does per chunk.

`pytest -m glm_bench suites/bench/test_hot_paths_bench.py --benchmark-json out.json`, and
`--benchmark-compare` against a saved run, work as usual. Each figure is per stream of
`CHUNKS` SSE events, as the twin sends them (one token per event).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.bench.metrics import build_sample
from harness.client import Exchange, TimedEvent
from harness.contract import ChatCompletionChunk, Mode, validate
from harness.mock import GLMTwin, Style, TwinConfig
from harness.sse import SSEDecoder
from harness.stream import Stream, assemble, read_stream
from harness.targets import mock_target

pytestmark = pytest.mark.glm_bench

CHUNKS = 200


@pytest.fixture(scope="module")
def stream() -> list[bytes]:
    """One streamed answer, as the byte pieces the twin writes (one SSE event each)."""
    twin = GLMTwin(TwinConfig(style=Style(reply_tokens=CHUNKS - 40, reasoning_tokens=40)))
    return twin.stream_pieces({"model": "glm-4.6", "messages": [{"role": "user", "content": "hello"}]})


def _decode(pieces: list[bytes]) -> list[Any]:
    decoder = SSEDecoder()
    events = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    events.extend(decoder.close())
    return events


def test_sse_decoding(benchmark: Any, stream: list[bytes]) -> None:
    events = benchmark(_decode, stream)
    benchmark.extra_info.update(events=len(events), bytes=sum(map(len, stream)))
    assert events[-1].is_done and len(events) == CHUNKS + 2


def test_chunk_validation(benchmark: Any, stream: list[bytes]) -> None:
    datas = [json.loads(e.data) for e in _decode(stream) if not e.is_done]

    def validate_all() -> int:
        return sum(validate(ChatCompletionChunk, d, Mode.STRICT).ok for d in datas)

    assert benchmark(validate_all) == len(datas)
    benchmark.extra_info["chunks"] = len(datas)


def test_sample_from_exchange(benchmark: Any, stream: list[bytes]) -> None:
    """What the runner does per finished request: classify each chunk, take tokens, metrics."""
    exchange = Exchange(mock_target(), {"stream": True}, 0.0)
    exchange.status, exchange.ended_at = 200, 1.0
    exchange.events = [TimedEvent(0.1 + i * 0.001, e) for i, e in enumerate(_decode(stream))]

    def build() -> Any:
        return build_sample(exchange.events, 0.0, run_t0=0.0, index=0, level="c1",
                            phase="measure", scheduled_at=0.0, ready_at=0.0, exchange=exchange)

    sample = benchmark(build)
    assert sample.ok and sample.token_chunks == CHUNKS
    benchmark.extra_info["chunks"] = CHUNKS


def test_stream_reading_and_assembly(benchmark: Any, stream: list[bytes]) -> None:
    """What a check does with a finished stream: read each event once, join the deltas."""
    events = _decode(stream)

    def read_and_assemble() -> tuple[Stream, Any]:
        read = read_stream(events)
        return read, assemble(read)

    read, assembly = benchmark(read_and_assemble)
    assert read.done and read.usage is not None and assembly.content
    benchmark.extra_info["chunks"] = len(read.events)
