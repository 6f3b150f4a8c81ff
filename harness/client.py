"""A thin httpx client for one target, sync and async, that records everything it sees.

Each exchange keeps the request, status, headers, raw byte chunks stamped with a monotonic clock
at the moment they arrive (before any SSE splitting or JSON parsing), the decoded events, and a
curl line that reproduces it with the key left as `$ZAI_API_KEY`. Transport failures are recorded,
not raised: a contract check needs to say what broke, and a benchmark must not crash.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shlex
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .contract import ChatCompletion, ErrorBody, Mode, Validated, validate
from .contract.request import ChatCompletionRequest
from .errors import TransportError, TransportKind
from .profiles import with_usage_asked
from .sse import ServerSentEvent, SSEDecoder, SSEViolation
from .surface import Surface, surface_of_path
from .targets import Target

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=30.0)
# A non-streamed answer comes whole, so its first byte waits for its last token: its read timeout
# is a budget for the whole answer, the stream's timeout plus max_tokens at this floor rate (a
# slower server is stalled as far as the harness is concerned). Without max_tokens there is no
# size to budget for, and the read timeout stands as it is (a hung server is still found fast).
FLOOR_TOKENS_PER_S = 10.0
Body = Mapping[str, Any] | ChatCompletionRequest | bytes
OnExchange = Callable[["Exchange"], None]


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context per process, shared by every client: building one loads the CA bundle
    (20-90 ms of CPU), which a run that opens a client per test or per worker paid each time."""
    return httpx.create_ssl_context()


@dataclass(frozen=True, slots=True)
class TimedEvent:
    at: float
    event: ServerSentEvent


@dataclass(slots=True)
class Exchange:
    """One request and everything that came back, with arrival times (time.perf_counter)."""

    target: Target
    request: dict[str, Any]
    sent_at: float
    url: str = ""
    raw_request: bytes | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    events: list[TimedEvent] = field(default_factory=list)
    sse_violations: list[SSEViolation] = field(default_factory=list)
    transport_error: TransportError | None = None
    # A first attempt that died before any byte on a reused keep-alive connection: sent again once
    # on a fresh connection, and reported apart from failures (see `_stale`).
    retried_stale: TransportError | None = None
    ended_at: float | None = None
    # when the request's last byte went to the socket (async client over a real connection;
    # None with mocked transports): latencies count from here, not from before the
    # connection was checked out and the request written
    written_at: float | None = None

    @property
    def body(self) -> bytes:
        return b"".join(data for _, data in self.chunks)

    @property
    def streamed(self) -> bool:
        return bool(self.request.get("stream"))

    @property
    def surface(self) -> Surface:
        """Which API the request went to, read from its URL (`.../v1/messages`: Anthropic's)."""
        return surface_of_path(httpx.URL(self.url or self.target.chat_url).path)

    @property
    def payload(self) -> bytes:
        if self.raw_request is not None:
            return self.raw_request
        return json.dumps(self.request, ensure_ascii=False, separators=(",", ":")).encode()

    @property
    def first_byte_at(self) -> float | None:
        return self.chunks[0][0] if self.chunks else None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        return json.loads(self.body)

    def completion(self, mode: Mode = Mode.LENIENT) -> Validated[ChatCompletion]:
        return validate(ChatCompletion, _json_or_text(self.body), mode)

    def error(self, mode: Mode = Mode.LENIENT) -> Validated[ErrorBody]:
        return validate(ErrorBody, _json_or_text(self.body), mode)

    def raise_for_transport(self) -> Exchange:
        """Raise the `TransportError` if the answer did not arrive in full (as httpx's
        `raise_for_status`); the exchange itself otherwise, so calls chain."""
        if self.transport_error is not None:
            raise self.transport_error
        return self

    def data_events(self) -> list[TimedEvent]:
        """The events that carry a chunk: everything but `[DONE]`."""
        return [e for e in self.events if not e.event.is_done]

    def curl(self) -> str:
        """A shell line that replays this request; the key is read from the environment. A
        body over `CURL_INLINE_BYTES` goes to a file the line reads (`--data-binary @file`):
        a shell refuses a megabyte argument, and a failure message should not carry one."""
        parts = ["curl", "-sS"] + (["-N"] if self.streamed else []) + [
            "-X", "POST", shlex.quote(self.url or self.target.chat_url),
            "-H", shlex.quote("Content-Type: application/json"),
        ]
        if self.target.surface is Surface.ANTHROPIC:
            parts += ["-H", shlex.quote("anthropic-version: 2023-06-01")]
            if self.target.api_key:
                parts += ["-H", f'"x-api-key: ${self.target.api_key_env}"']
        elif self.target.api_key:
            parts += ["-H", f'"Authorization: Bearer ${self.target.api_key_env}"']
        payload = self.payload
        if len(payload) <= CURL_INLINE_BYTES:
            parts += ["--data-raw", shlex.quote(payload.decode("utf-8", "replace"))]
            return self.target.redact(" ".join(parts))
        path = _body_file(self.target.redact(payload.decode("utf-8", "surrogateescape")))
        excerpt = payload[:CURL_EXCERPT_BYTES].decode("utf-8", "replace")
        parts += ["--data-binary", shlex.quote(f"@{path}")]
        return self.target.redact(f"{' '.join(parts)}  # body: {len(payload):,} bytes, "
                                  f"starting {excerpt!r}...")


CURL_INLINE_BYTES = 8 * 1024
CURL_EXCERPT_BYTES = 120


def _body_file(text: str) -> Path:
    """The request body in a file named by its digest under the temp folder (written once)."""
    data = text.encode("utf-8", "surrogateescape")
    folder = Path(tempfile.gettempdir()) / "glm-harness-bodies"
    path = folder / f"{hashlib.sha256(data).hexdigest()[:16]}.json"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def _json_or_text(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw.decode("utf-8", "replace")


class _Recorder:
    """Feeds arriving bytes to the SSE decoder and stamps them; shared by both clients."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.decoder = SSEDecoder() if exchange.streamed else None

    def start(self, response: httpx.Response) -> None:
        self.exchange.status = response.status_code
        self.exchange.headers = {k.lower(): v for k, v in response.headers.items()}

    def take(self, data: bytes) -> list[TimedEvent]:
        at = time.perf_counter()
        self.exchange.chunks.append((at, data))
        if self.decoder is None:
            return []
        timed = [TimedEvent(at, e) for e in self.decoder.feed(data)]
        self.exchange.events.extend(timed)
        return timed

    def fail(self, error: httpx.HTTPError, timeout: httpx.Timeout) -> None:
        self.exchange.transport_error = transport_error(error, timeout)

    def finish(self) -> list[TimedEvent]:
        self.exchange.ended_at = time.perf_counter()
        if self.decoder is None:
            return []
        timed = [TimedEvent(self.exchange.ended_at, e) for e in self.decoder.close()]
        self.exchange.events.extend(timed)
        self.exchange.sse_violations = list(self.decoder.violations)
        return timed


def request_timeout(base: httpx.Timeout, request: Mapping[str, Any]) -> httpx.Timeout:
    """The timeouts for one request: a stream's read timeout is the time without a byte; a
    non-streamed request's also covers generating the whole answer (FLOOR_TOKENS_PER_S)."""
    if request.get("stream") or base.read is None:
        return base
    max_tokens = request.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens <= 0:
        return base
    return httpx.Timeout(connect=base.connect, read=base.read + max_tokens / FLOOR_TOKENS_PER_S,
                         write=base.write, pool=base.pool)


def transport_error(error: httpx.HTTPError, timeout: httpx.Timeout | None = None) -> TransportError:
    """The httpx failure as the harness's typed value; the key never reaches the message. A
    timeout says how long it waited, so that "slow" and "stalled" can be told from "broken"."""
    kind: TransportKind
    if isinstance(error, httpx.TimeoutException):
        waited = _waited(error, timeout)
        return TransportError("timeout", type(error).__name__,
                              f"{error}" + (f" (after {waited:g} s)" if waited is not None else ""))
    if isinstance(error, httpx.ConnectError):
        kind = "connect"
    elif isinstance(error, httpx.RemoteProtocolError | httpx.LocalProtocolError):
        kind = "protocol"
    else:
        kind = "network"
    return TransportError(kind, type(error).__name__, str(error))


def _waited(error: httpx.TimeoutException, timeout: httpx.Timeout | None) -> float | None:
    if timeout is None:
        return None
    phase = {httpx.ConnectTimeout: timeout.connect, httpx.ReadTimeout: timeout.read,
             httpx.WriteTimeout: timeout.write, httpx.PoolTimeout: timeout.pool}
    return next((s for cls, s in phase.items() if isinstance(error, cls)), timeout.read)


def _exchange(target: Target, body: Body, path: str | None) -> Exchange:
    """Raw bytes go out as they are (to test malformed bodies); dicts get the target's model."""
    url = target.base_url.rstrip("/") + path if path else target.chat_url
    if isinstance(body, bytes):
        return Exchange(target, {}, time.perf_counter(), url, raw_request=body)
    data = body.to_wire() if isinstance(body, ChatCompletionRequest) else dict(body)
    data.setdefault("model", target.model)
    if target.surface is Surface.OPENAI:
        data = with_usage_asked(target.profile, data)
    return Exchange(target, data, time.perf_counter(), url)


class _ConnectionTrace:
    """httpcore's trace of one attempt: whether it went out on a connection opened earlier, and
    when the request's last byte was written (`Exchange.written_at`, where TTFT counts from).

    Only a request that httpcore traced as sent without opening a connection counts as reused;
    a transport that traces nothing (a test's MockTransport, respx) never does."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.sent = self.connected = False

    def __call__(self, name: str, info: Mapping[str, Any]) -> None:
        self.connected = self.connected or name.startswith("connection.connect_tcp")
        self.sent = self.sent or name.endswith("send_request_headers.started")
        if name.endswith("send_request_body.complete"):
            self.exchange.written_at = time.perf_counter()

    async def atrace(self, name: str, info: Mapping[str, Any]) -> None:
        self(name, info)

    def stale(self, exchange: Exchange) -> bool:
        """The attempt failed before any byte of the answer, on a reused connection: the server
        had closed it while idle (a keep-alive race), so the request never reached it."""
        error = exchange.transport_error
        return (self.sent and not self.connected and error is not None and error.kind != "timeout"
                and exchange.status is None and not exchange.chunks)


def _retry(exchange: Exchange) -> None:
    exchange.retried_stale, exchange.transport_error = exchange.transport_error, None


class GLMClient:
    """Synchronous client: `send()` returns a finished `Exchange`; `iter_events()` streams."""

    def __init__(self, target: Target, *, timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
                 http: httpx.Client | None = None, on_exchange: OnExchange | None = None) -> None:
        self.target = target
        self.on_exchange = on_exchange  # called with each finished exchange (recording)
        self._http = http or httpx.Client(timeout=timeout, verify=tls_context())

    def send(self, body: Body, path: str | None = None) -> Exchange:
        exchange = _exchange(self.target, body, path)
        for _ in self._drive(exchange):
            pass
        return exchange

    def iter_events(self, body: Body, path: str | None = None) -> Iterator[TimedEvent | Exchange]:
        """Yields each event as it is decoded, then the finished `Exchange` last."""
        exchange = _exchange(self.target, body, path)
        yield from self._drive(exchange)
        yield exchange

    def _drive(self, exchange: Exchange) -> Iterator[TimedEvent]:
        recorder = _Recorder(exchange)
        exchange.sent_at = time.perf_counter()
        trace = _ConnectionTrace(exchange)
        yield from self._attempt(self._http, exchange, recorder, trace)
        if trace.stale(exchange):
            _retry(exchange)
            with httpx.Client(timeout=self._http.timeout, verify=tls_context()) as fresh:
                yield from self._attempt(fresh, exchange, recorder, _ConnectionTrace(exchange))
        yield from recorder.finish()
        if self.on_exchange is not None:
            self.on_exchange(exchange)

    def _attempt(self, http: httpx.Client, exchange: Exchange, recorder: _Recorder,
                 trace: _ConnectionTrace) -> Iterator[TimedEvent]:
        timeout = request_timeout(http.timeout, exchange.request)
        try:
            with http.stream("POST", exchange.url, content=exchange.payload, timeout=timeout,
                             headers=self.target.headers(), extensions={"trace": trace}) as response:
                recorder.start(response)
                for data in response.iter_bytes():
                    yield from recorder.take(data)
        except httpx.HTTPError as error:
            recorder.fail(error, timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncGLMClient:
    """Asynchronous twin of `GLMClient`, for load generation and concurrent suites."""

    def __init__(self, target: Target, *, timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
                 http: httpx.AsyncClient | None = None, max_connections: int = 1024,
                 on_exchange: OnExchange | None = None) -> None:
        self.target = target
        self.on_exchange = on_exchange
        limits = httpx.Limits(max_connections=max_connections,
                              max_keepalive_connections=max_connections)
        self._http = http or httpx.AsyncClient(timeout=timeout, limits=limits, verify=tls_context())

    async def send(self, body: Body, path: str | None = None) -> Exchange:
        exchange = _exchange(self.target, body, path)
        async for _ in self._drive(exchange):
            pass
        return exchange

    async def iter_events(self, body: Body, path: str | None = None) -> AsyncIterator[TimedEvent | Exchange]:
        exchange = _exchange(self.target, body, path)
        async for timed in self._drive(exchange):
            yield timed
        yield exchange

    async def _drive(self, exchange: Exchange) -> AsyncIterator[TimedEvent]:
        recorder = _Recorder(exchange)
        exchange.sent_at = time.perf_counter()
        trace = _ConnectionTrace(exchange)
        async for timed in self._attempt(self._http, exchange, recorder, trace):
            yield timed
        if trace.stale(exchange):
            _retry(exchange)
            async with httpx.AsyncClient(timeout=self._http.timeout, verify=tls_context()) as fresh:
                async for timed in self._attempt(fresh, exchange, recorder, _ConnectionTrace(exchange)):
                    yield timed
        for timed in recorder.finish():
            yield timed
        if self.on_exchange is not None:
            self.on_exchange(exchange)

    async def _attempt(self, http: httpx.AsyncClient, exchange: Exchange, recorder: _Recorder,
                       trace: _ConnectionTrace) -> AsyncIterator[TimedEvent]:
        timeout = request_timeout(http.timeout, exchange.request)
        try:
            async with http.stream("POST", exchange.url, content=exchange.payload, timeout=timeout,
                                   headers=self.target.headers(),
                                   extensions={"trace": trace.atrace}) as response:
                recorder.start(response)
                async for data in response.aiter_bytes():
                    for timed in recorder.take(data):
                        yield timed
        except httpx.HTTPError as error:
            recorder.fail(error, timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncGLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
