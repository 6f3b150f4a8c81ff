"""Per-request metrics from one exchange, with every formula written down as data.

The definitions follow vLLM's `bench serve` and aiperf so figures can be set beside theirs; where
peers disagree (guidellm's "TPOT" includes TTFT, vLLM's ITL is per chunk, aiperf's request latency
stops at the last content chunk) the `DEFINITIONS` table says which one we use and what the
denominator is, and the report prints it next to every figure.

Timestamps are the client's: `TimedEvent.at` is the arrival time of the byte chunk that completed
the event, stamped before SSE splitting and JSON parsing; "sent" is when the request's last byte
was written to the socket (`Exchange.written_at`, else when the client was asked to send), so
the time from a request being due to it being written counts as client lateness. The stream is read by `harness.stream`
(the one reading every part of the harness shares) once the request has ended, off the stamping
path. Token counts come from the API's `usage` where it was sent, otherwise from the count of
token-bearing chunks; each sample says which (`token_source`). Reasoning tokens come from
`usage.completion_tokens_details.reasoning_tokens` where sent (glm-4.7 and later), otherwise from
the share of chunks of each kind; each sample says which (`reasoning_source`).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from ..client import Exchange, TimedEvent
from ..stream import EventKind, Stream, StreamEvent, as_dict, read_stream, token_count

# One character per SSE data event, in arrival order (the report keeps them as a string).
REASONING, CONTENT, TOOL_CALL, MIXED, NO_TOKEN, ERROR_EVENT, UNPARSED = "r", "c", "t", "x", "-", "!", "?"
TOKEN_KINDS = frozenset({REASONING, CONTENT, TOOL_CALL, MIXED})

TOKEN_SOURCE: Final = (
    "usage where the server sent it (token_source 'usage'); otherwise the number of token-bearing "
    "chunks, one token each (token_source 'chunks'): exact for servers that stream one token per "
    "chunk, a lower bound for those that pack several"
)
REASONING_SPLIT_METHOD = (
    "usage.completion_tokens_details.reasoning_tokens where the API sent it (reasoning_source "
    "'usage'; glm-4.7 and later), the rest split between content and tool calls by chunk share. "
    "Otherwise (reasoning_source 'chunk share'; GLM before 4.7 gives only the total) the total is "
    "split into reasoning / visible content / tool-call tokens by the share of token-bearing "
    "chunks of each kind (a chunk carrying two kinds counts half to each), largest remainder "
    "rounding: exact when every chunk carries one token; a tool call streamed whole in one chunk "
    "(GLM's default without tool_stream) is undercounted. An estimate, not a figure the API gave."
)
TokenSource = Literal["usage", "chunks"]
ReasoningSource = Literal["usage", "chunk share"]

Phase = Literal["warmup", "measure", "task"]
ErrorKind = Literal["http", "transport", "timeout", "stream", "client", "cancelled"]


@dataclass(frozen=True, slots=True)
class MetricDef:
    name: str
    unit: str
    formula: str
    denominator: str
    per: str
    peers: str


DEFINITIONS: tuple[MetricDef, ...] = (
    MetricDef("ttft_ms", "ms", "t(first chunk with reasoning, content or tool-call delta) - t(sent)",
              "-", "request",
              "vLLM TTFT (first content or reasoning delta); aiperf time_to_first_token"),
    MetricDef("ttfr_ms", "ms", "t(first chunk with a reasoning_content delta) - t(sent)", "-",
              "request", "time to first reasoning token; no peer equivalent"),
    MetricDef("ttfc_ms", "ms",
              "t(first chunk whose content delta has a non-whitespace character) - t(sent)", "-",
              "request",
              "time to first visible word; aiperf TTFO also counts whitespace-only content"),
    MetricDef("ttftool_ms", "ms", "t(first chunk with a tool_calls delta) - t(sent)", "-",
              "request", "time to first tool-call chunk; no peer equivalent"),
    MetricDef("itl_chunk_ms", "ms",
              "t(token chunk i) - t(token chunk i-1), every gap of every request", "chunks",
              "chunk gap",
              "vLLM ITL (per chunk, not per token); aiperf inter_chunk_latency. Chunks that "
              "arrived in one read have a gap of ~0"),
    MetricDef("itl_token_ms", "ms",
              "(t(last token chunk) - t(first token chunk)) / (usage.completion_tokens - 1)",
              "usage tokens", "request",
              "aiperf inter_token_latency (which ends at the last content chunk, as here); "
              "guidellm ITL uses E2E instead, see tpot_ms"),
    MetricDef("tpot_ms", "ms", "(e2e - ttft) / (usage.completion_tokens - 1)", "usage tokens",
              "request",
              "vLLM TPOT. guidellm's 'time per output token' is e2e / tokens (includes TTFT); "
              "its ITL is this formula"),
    MetricDef("e2e_ms", "ms", "t(end of response body) - t(sent)", "-", "request",
              "vLLM E2EL (end of stream, after usage and [DONE]); aiperf request_latency stops at "
              "the last content chunk"),
    MetricDef("output_tps", "tokens/s", "usage.completion_tokens / e2e", "usage tokens",
              "request", "per-request output rate incl. TTFT; aiperf's per-user rate is 1/ITL"),
    MetricDef("requests_per_s", "requests/s", "successful requests / level duration",
              "level duration = last end - first send of measured requests", "level",
              "vLLM request_throughput; aiperf request_throughput"),
    MetricDef("output_tokens_per_s", "tokens/s",
              "sum(usage.completion_tokens) / level duration", "usage tokens", "level",
              "vLLM output_throughput; aiperf output_token_throughput"),
)
DEFINITION_BY_NAME = {d.name: d for d in DEFINITIONS}
PER_REQUEST_METRICS = ("ttft_ms", "ttfr_ms", "ttfc_ms", "ttftool_ms", "itl_token_ms", "tpot_ms",
                       "e2e_ms", "output_tps")


class SampleError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ErrorKind
    code: str | None = None
    message: str = ""


class Sample(BaseModel):
    """One request as measured: when it was due, sent, and each chunk came; tokens; metrics.

    Times `*_s` are seconds since the run started; `*_ms` are milliseconds after `sent_s`.
    `first_byte_ms` is the first byte of the body (httpx hands over the body only, so the
    arrival of the status line and headers is not stamped). `chunk_ms[i]` is the arrival of the
    read that completed data event i, and `chunk_kinds[i]` its kind: r reasoning, c content,
    t tool call, x several of those, - no token (role, finish, usage), ! error, ? not JSON.
    """

    model_config = ConfigDict(extra="forbid")

    index: int
    level: str
    phase: Phase
    task_id: str | None = None
    thinking: bool | None = None
    attempts: int = 1
    # sent again once on a fresh connection: the reused one had been closed while idle (client.py)
    retried_stale: bool = False
    retry_wait_s: float = 0.0
    worker: int | None = None  # which worker measured it, when the level was split (bench --workers)
    scheduled_s: float
    ready_s: float
    sent_s: float
    lateness_ms: float
    status: int | None = None
    ok: bool = False
    error: SampleError | None = None
    # timestamps, ms after sent
    first_byte_ms: float | None = None
    first_token_ms: float | None = None
    first_reasoning_ms: float | None = None
    first_content_ms: float | None = None
    first_tool_call_ms: float | None = None
    end_ms: float | None = None
    chunk_ms: list[float] = []
    chunk_kinds: str = ""
    reads: int = 0
    # tokens (usage, or counted chunks: see token_source) and their split (see reasoning_source)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    token_source: TokenSource | None = None
    reasoning_source: ReasoningSource | None = None
    cached_tokens: int | None = None
    reasoning_tokens_est: int | None = None
    content_tokens_est: int | None = None
    tool_tokens_est: int | None = None
    token_chunks: int = 0
    tokens_per_chunk: float | None = None
    finish_reason: str | None = None
    # "check.rule" for each contract rule the answer broke (checked after its level, off the clock)
    violations: list[str] = []
    # metrics (see DEFINITIONS)
    ttft_ms: float | None = None
    ttfr_ms: float | None = None
    ttfc_ms: float | None = None
    ttftool_ms: float | None = None
    itl_token_ms: float | None = None
    tpot_ms: float | None = None
    e2e_ms: float | None = None
    output_tps: float | None = None

    def itl_chunk_ms(self) -> list[float]:
        """Gaps between successive token-bearing chunks (vLLM's per-chunk ITL)."""
        times = [t for t, k in zip(self.chunk_ms, self.chunk_kinds, strict=True) if k in TOKEN_KINDS]
        return [round(b - a, 4) for a, b in itertools.pairwise(times)]


_LETTER = {
    EventKind.REASONING: REASONING, EventKind.CONTENT: CONTENT, EventKind.BLANK: CONTENT,
    EventKind.TOOL_CALLS: TOOL_CALL, EventKind.MIXED: MIXED, EventKind.FINAL: NO_TOKEN,
    EventKind.EMPTY: NO_TOKEN, EventKind.ERROR: ERROR_EVENT, EventKind.MALFORMED: UNPARSED,
}
_SLOT = {EventKind.REASONING: 0, EventKind.CONTENT: 1, EventKind.BLANK: 1, EventKind.TOOL_CALLS: 2}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 4)


def stream_error(stream: Stream) -> SampleError | None:
    """The first thing in the stream that makes the request a failure: an error frame, bad JSON."""
    for event in stream.events:
        if event.error is not None:
            return SampleError(kind="stream", code=_code(event.error.get("code")),
                               message=str(event.error.get("message", ""))[:300])
        if event.kind is EventKind.MALFORMED:
            return SampleError(kind="stream", message="a chunk is not a JSON object")
    return None


def _code(code: Any) -> str | None:
    return None if code is None else str(code)


def split_tokens(total: int, events: Sequence[StreamEvent]) -> tuple[int, int, int]:
    """(reasoning, content, tool) tokens: `total` apportioned by chunk share, summing to total.
    A chunk that carries two kinds counts half to each of them."""
    weights = [0.0, 0.0, 0.0]
    for event in events:
        if event.kind is EventKind.MIXED:
            parts = [0] * bool(event.reasoning) + [1] * bool(event.content) + [2] * bool(event.tool_calls)
            for slot in parts:
                weights[slot] += 1 / len(parts)
        elif event.kind in _SLOT:
            weights[_SLOT[event.kind]] += 1
    return _apportion(total, weights)


def _apportion(total: int, weights: list[float]) -> tuple[int, int, int]:
    """Largest-remainder rounding: integer shares of `total` in proportion to `weights`."""
    if not sum(weights):
        return 0, 0, 0
    exact = [total * w / sum(weights) for w in weights]
    shares = [int(x) for x in exact]
    by_remainder = sorted(range(3), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares[0], shares[1], shares[2]


def error_of(exchange: Exchange) -> SampleError | None:
    """What went wrong with the exchange as a whole, if anything."""
    failure = exchange.transport_error
    if failure is not None:
        kind: ErrorKind = "timeout" if failure.kind == "timeout" else "transport"
        return SampleError(kind=kind, message=exchange.target.redact(str(failure)))
    if exchange.status is not None and exchange.status != 200:
        # redacted whole, then cut: a key that crossed the cut would leave its first part behind
        code, message = None, exchange.body[:65536].decode("utf-8", "replace")
        try:
            body = json.loads(exchange.body)
            detail = body.get("error", {}) if isinstance(body, dict) else {}
            code, message = _code(detail.get("code")), str(detail.get("message", message))
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            pass
        return SampleError(kind="http", code=code, message=exchange.target.redact(message)[:300])
    return None


def build_sample(
    events: Sequence[TimedEvent],
    sent_at: float,
    *,
    run_t0: float,
    index: int,
    level: str,
    phase: Phase,
    scheduled_at: float,
    ready_at: float,
    exchange: Exchange | None = None,
    ended_at: float | None = None,
    error: SampleError | None = None,
    task_id: str | None = None,
    thinking: bool | None = None,
    attempts: int = 1,
    retry_wait_s: float = 0.0,
    first_sent_at: float | None = None,
) -> Sample:
    """The sample for one request. `exchange` is None when it never finished (a timeout)."""
    if exchange is not None:
        # From the request's bytes written where the client saw it: checking out a connection
        # and writing is the client's time (lateness), not the server's.
        sent_at, ended_at = exchange.written_at or exchange.sent_at, exchange.ended_at
        error = error or error_of(exchange)
    stream = read_stream(events)
    error = error or stream_error(stream)
    tokens = stream.tokens()
    token_times = [_ms(e.at - sent_at) for e in tokens if e.at is not None]
    first = {kind: stream.first(*kinds) for kind, kinds in _FIRSTS.items()}
    first_content = next((e for e in tokens if e.visible), None)
    sample = Sample(
        index=index, level=level, phase=phase, task_id=task_id, thinking=thinking,
        attempts=attempts, retry_wait_s=round(retry_wait_s, 4),
        scheduled_s=round(scheduled_at - run_t0, 6), ready_s=round(ready_at - run_t0, 6),
        sent_s=round(sent_at - run_t0, 6),
        lateness_ms=_ms((first_sent_at if first_sent_at is not None else sent_at) - ready_at),
        status=exchange.status if exchange is not None else None,
        error=error,
        first_byte_ms=(_ms(exchange.first_byte_at - sent_at)
                       if exchange is not None and exchange.first_byte_at is not None else None),
        first_token_ms=token_times[0] if token_times else None,
        first_reasoning_ms=_at(first["reasoning"], sent_at), first_content_ms=_at(first_content, sent_at),
        first_tool_call_ms=_at(first["tool_calls"], sent_at),
        end_ms=_ms(ended_at - sent_at) if ended_at is not None else None,
        chunk_ms=[_ms(e.at - sent_at) for e in stream.events if e.at is not None],
        chunk_kinds="".join(_LETTER[e.kind] for e in stream.events),
        reads=len(exchange.chunks) if exchange is not None else 0,
        token_chunks=len(tokens), finish_reason=stream.finish_reason,
        retried_stale=exchange is not None and exchange.retried_stale is not None,
    )
    sample.ok = error is None and sample.status == 200 and bool(token_times)
    _add_tokens(sample, stream)
    _add_metrics(sample, token_times)
    return sample


# A reasoning or tool-call delta that shares its chunk with another kind still starts that kind.
_FIRSTS = {
    "reasoning": (EventKind.REASONING, EventKind.MIXED),
    "tool_calls": (EventKind.TOOL_CALLS, EventKind.MIXED),
}


def _at(event: StreamEvent | None, sent_at: float) -> float | None:
    return None if event is None or event.at is None else _ms(event.at - sent_at)


def _add_tokens(sample: Sample, stream: Stream) -> None:
    """Counts from usage where the server sent it; otherwise the token-bearing chunks, said so.

    Reasoning tokens come from `usage.completion_tokens_details.reasoning_tokens` where sent
    (glm-4.7 and later); otherwise they are estimated by chunk share (REASONING_SPLIT_METHOD).
    """
    usage = stream.usage or {}
    sample.prompt_tokens = token_count(usage.get("prompt_tokens"))
    sample.completion_tokens = token_count(usage.get("completion_tokens"))
    sample.cached_tokens = token_count(as_dict(usage.get("prompt_tokens_details")).get("cached_tokens"))
    sample.token_source = "usage" if sample.completion_tokens is not None else None
    if sample.completion_tokens is None and sample.token_chunks:
        sample.completion_tokens, sample.token_source = sample.token_chunks, "chunks"
    if sample.completion_tokens is None:
        return
    tokens = stream.tokens()
    reported = token_count(as_dict(usage.get("completion_tokens_details")).get("reasoning_tokens"))
    if reported is not None and reported <= sample.completion_tokens:
        _, content, tool = _apportion(sample.completion_tokens - reported, _visible_weights(tokens))
        sample.reasoning_tokens_est, sample.content_tokens_est, sample.tool_tokens_est = reported, content, tool
        sample.reasoning_source = "usage"
    else:
        split = split_tokens(sample.completion_tokens, tokens)
        sample.reasoning_tokens_est, sample.content_tokens_est, sample.tool_tokens_est = split
        sample.reasoning_source = "chunk share"
    if sample.token_chunks:
        sample.tokens_per_chunk = round(sample.completion_tokens / sample.token_chunks, 4)


def _visible_weights(events: Sequence[StreamEvent]) -> list[float]:
    """Chunk shares of content and tool calls only: what is left once reasoning is known."""
    return [0.0, float(sum(bool(e.content) for e in events)), float(sum(bool(e.tool_calls) for e in events))]


def _add_metrics(sample: Sample, token_times: list[float]) -> None:
    if not token_times:
        return
    sample.ttft_ms = token_times[0]
    sample.ttfr_ms = sample.first_reasoning_ms
    sample.ttfc_ms = sample.first_content_ms
    sample.ttftool_ms = sample.first_tool_call_ms
    if sample.end_ms is None:
        return
    sample.e2e_ms = sample.end_ms
    tokens = sample.completion_tokens
    if tokens is None:
        return
    if tokens >= 2:
        sample.tpot_ms = round((sample.e2e_ms - sample.ttft_ms) / (tokens - 1), 4)
        sample.itl_token_ms = round((token_times[-1] - token_times[0]) / (tokens - 1), 4)
    if sample.e2e_ms > 0:
        sample.output_tps = round(tokens / (sample.e2e_ms / 1000), 4)
