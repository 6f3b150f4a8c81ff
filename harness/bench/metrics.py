"""Per-request metrics from one exchange, with every formula written down as data.

The definitions follow vLLM's `bench serve` and aiperf so figures can be set beside theirs; where
peers disagree (guidellm's "TPOT" includes TTFT, vLLM's ITL is per chunk, aiperf's request latency
stops at the last content chunk) the `DEFINITIONS` table says which one we use and what the
denominator is, and the report prints it next to every figure.

Timestamps are the client's: `TimedEvent.at` is the arrival time of the byte chunk that completed
the event, stamped before SSE splitting and JSON parsing. Token counts come only from the API's
`usage`; GLM's usage has no reasoning_tokens field, so the split into reasoning, visible and
tool-call tokens is an estimate from the share of chunks of each kind, and is labelled as such.
Chunks are parsed with plain `json.loads` (not the contract models): this runs on the load
generator's event loop, and measuring must stay cheap and must not depend on the chunk being valid.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from ..client import Exchange, TimedEvent

# One character per SSE data event, in arrival order (the report keeps them as a string).
REASONING, CONTENT, TOOL_CALL, MIXED, NO_TOKEN, ERROR_EVENT, UNPARSED = "r", "c", "t", "x", "-", "!", "?"
TOKEN_KINDS = frozenset({REASONING, CONTENT, TOOL_CALL, MIXED})

TOKEN_SOURCE: Final = "usage"  # where every token count comes from: the API's own usage object
REASONING_SPLIT_METHOD = (
    "GLM's usage gives only the total completion_tokens (no reasoning_tokens field); it is split "
    "into reasoning / visible content / tool-call tokens by the share of token-bearing chunks of "
    "each kind (a chunk carrying two kinds counts half to each), largest remainder rounding. "
    "Exact when every chunk carries one token; a tool call streamed whole in one chunk (GLM's "
    "default without tool_stream) is undercounted. An estimate, not a figure the API gave."
)

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
    retry_wait_s: float = 0.0
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
    # tokens (usage) and their estimated split
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens_est: int | None = None
    content_tokens_est: int | None = None
    tool_tokens_est: int | None = None
    token_chunks: int = 0
    tokens_per_chunk: float | None = None
    finish_reason: str | None = None
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


@dataclass(slots=True)
class _Trace:
    times: list[float]
    kinds: list[str]
    first_reasoning: float | None = None
    first_content: float | None = None
    first_tool: float | None = None
    usage: dict[str, Any] | None = None
    finish_reason: str | None = None
    error: SampleError | None = None


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 4)


def _kind(delta: dict[str, Any]) -> tuple[str, bool]:
    """The chunk's kind, and whether its content has a visible (non-whitespace) character."""
    content = delta.get("content") or ""
    has = [bool(delta.get("reasoning_content")), bool(content), bool(delta.get("tool_calls"))]
    visible = bool(content.strip())
    if sum(has) > 1:
        return MIXED, visible
    if has[0]:
        return REASONING, visible
    if has[1]:
        return CONTENT, visible
    if has[2]:
        return TOOL_CALL, visible
    return NO_TOKEN, visible


def trace(events: Sequence[TimedEvent], sent_at: float) -> _Trace:
    """Classify each data event and note first arrivals; `[DONE]` is not a chunk."""
    out = _Trace([], [])
    for timed in events:
        event = timed.event
        if event.is_done:
            continue
        at = _ms(timed.at - sent_at)
        out.times.append(at)
        try:
            data = json.loads(event.data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            out.kinds.append(UNPARSED)
            out.error = out.error or SampleError(kind="stream", message="a chunk is not JSON")
            continue
        if not isinstance(data, dict):
            out.kinds.append(UNPARSED)
            continue
        if "error" in data and "choices" not in data:  # an error sent inside a 200 stream
            out.kinds.append(ERROR_EVENT)
            body = data["error"] if isinstance(data["error"], dict) else {}
            out.error = SampleError(kind="stream", code=_code(body.get("code")),
                                    message=str(body.get("message", ""))[:300])
            continue
        if isinstance(data.get("usage"), dict):
            out.usage = data["usage"]
        choices = data.get("choices") or [{}]
        choice = choices[0] if isinstance(choices[0], dict) else {}
        out.finish_reason = choice.get("finish_reason") or out.finish_reason
        kind, visible = _kind(choice.get("delta") or {})
        out.kinds.append(kind)
        if kind in (REASONING, MIXED) and choice["delta"].get("reasoning_content"):
            out.first_reasoning = at if out.first_reasoning is None else out.first_reasoning
        if visible and out.first_content is None:
            out.first_content = at
        if kind in (TOOL_CALL, MIXED) and choice["delta"].get("tool_calls"):
            out.first_tool = at if out.first_tool is None else out.first_tool
    return out


def _code(code: Any) -> str | None:
    return None if code is None else str(code)


def split_tokens(total: int, kinds: Sequence[str]) -> tuple[int, int, int]:
    """(reasoning, content, tool) tokens: `total` apportioned by chunk share, summing to total."""
    weights = [0.0, 0.0, 0.0]
    slot = {REASONING: 0, CONTENT: 1, TOOL_CALL: 2}
    for kind in kinds:
        if kind in slot:
            weights[slot[kind]] += 1
        elif kind == MIXED:  # which kinds it mixed is not kept; reasoning+content is the usual pair
            weights[0] += 0.5
            weights[1] += 0.5
    chunks = sum(weights)
    if not chunks:
        return 0, 0, 0
    exact = [total * w / chunks for w in weights]
    shares = [int(x) for x in exact]
    by_remainder = sorted(range(3), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares[0], shares[1], shares[2]


def error_of(exchange: Exchange) -> SampleError | None:
    """What went wrong with the exchange as a whole, if anything."""
    if exchange.transport_error:
        return SampleError(kind="transport", message=exchange.target.redact(exchange.transport_error))
    if exchange.status is not None and exchange.status != 200:
        code, message = None, exchange.body[:300].decode("utf-8", "replace")
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
        sent_at, ended_at = exchange.sent_at, exchange.ended_at
        error = error or error_of(exchange)
    t = trace(events, sent_at)
    error = error or t.error
    token_times = [at for at, k in zip(t.times, t.kinds, strict=True) if k in TOKEN_KINDS]
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
        first_reasoning_ms=t.first_reasoning, first_content_ms=t.first_content,
        first_tool_call_ms=t.first_tool,
        end_ms=_ms(ended_at - sent_at) if ended_at is not None else None,
        chunk_ms=t.times, chunk_kinds="".join(t.kinds),
        reads=len(exchange.chunks) if exchange is not None else 0,
        token_chunks=len(token_times), finish_reason=t.finish_reason,
    )
    sample.ok = error is None and sample.status == 200 and bool(token_times)
    _add_tokens(sample, t.usage)
    _add_metrics(sample, token_times)
    return sample


def _add_tokens(sample: Sample, usage: dict[str, Any] | None) -> None:
    if not usage:
        return
    def count(value: Any) -> int | None:
        return value if isinstance(value, int) and value >= 0 else None

    sample.prompt_tokens = count(usage.get("prompt_tokens"))
    sample.completion_tokens = count(usage.get("completion_tokens"))
    details = usage.get("prompt_tokens_details")
    sample.cached_tokens = count(details.get("cached_tokens")) if isinstance(details, dict) else 0
    if sample.completion_tokens is not None:
        split = split_tokens(sample.completion_tokens, sample.chunk_kinds)
        sample.reasoning_tokens_est, sample.content_tokens_est, sample.tool_tokens_est = split
        if sample.token_chunks:
            sample.tokens_per_chunk = round(sample.completion_tokens / sample.token_chunks, 4)


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
