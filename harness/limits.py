"""What one response may cost: its size once decompressed, the size of one SSE line or event, and
its total time. The harness is pointed at servers that may be broken or hostile; without these
bounds a 4 MB gzip bomb inflates to gigabytes in memory, a line without a line break grows until
the process dies, and a server that sends a byte every few seconds (or 1xx interim answers
forever) is never late for any one read, so a per-read timeout never fires.

The reading layer for every client of the harness (the suites' `GLMClient`/`AsyncGLMClient`,
`record`, the bench's own transport; the proxy forwards whatever comes and bounds what it keeps
for its checks instead, `harness.proxy.MAX_KEPT_BYTES`):

- `ResponseLimits`: the bounds, with documented defaults (`DEFAULT_*`).
- `BoundedBody`: raw body bytes in, decoded bytes out (gzip and deflate undone here, never more
  than the limit at a time), raising `ResponseLimitError` past the limit.
- `iter_bounded` / `aiter_bounded`: an httpx response's body through a `BoundedBody`, with the
  deadline checked after every piece.
- `Deadline` and `bound_time(client)`: a total deadline per request for httpx clients. Each read
  and write of the connection waits at most the time left, so a trickling server or an endless
  run of 1xx answers ends in a timeout at the deadline; `Deadline.passed()` tells that timeout
  from an ordinary read timeout.

A breach becomes `Exchange.transport_error` and the named check `transport_completed` reports it
(rules `body_within_limit`, `event_within_limit`, `within_deadline`; docs/checks.md).
"""

from __future__ import annotations

import contextlib
import contextvars
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpcore
import httpx

from .errors import ResponseLimitError

__all__ = [
    "ACCEPT_ENCODING",
    "DEFAULT_DEADLINE_S",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_EVENT_BYTES",
    "BoundedBody",
    "Deadline",
    "ResponseLimits",
    "aiter_bounded",
    "body_too_large",
    "bound_time",
    "deadline_exceeded",
    "in_force",
    "iter_bounded",
    "time_bounded",
]

MIB = 1 << 20
# A 128K-token answer streamed one token per event is 25-40 MB of SSE (about 180-300 bytes an
# event in the recordings): twice that, and a gzip bomb stops at this instead of gigabytes.
DEFAULT_MAX_BODY_BYTES = 64 * MIB
# One SSE line, and one event's data: a whole tool call's arguments in one chunk fit easily.
DEFAULT_MAX_EVENT_BYTES = 8 * MIB
# The whole answer, from sending the request to its last byte: well above a long thinking
# answer of the suites' small requests, well below "forever".
DEFAULT_DEADLINE_S = 300.0
# What `BoundedBody` can undo with bounded output; a server that sends another encoding anyway
# gets its bytes kept as they came (bounded by size, and failing the body checks as not JSON).
ACCEPT_ENCODING = "gzip, deflate"


@dataclass(frozen=True, slots=True)
class ResponseLimits:
    """The bounds on one response. `deadline_s` None: no total deadline (per-read timeouts only)."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    deadline_s: float | None = DEFAULT_DEADLINE_S


def body_too_large(limit: int) -> ResponseLimitError:
    return ResponseLimitError("limit", "ResponseTooLarge",
                              f"the body passed {limit:,} bytes (decompressed); reading stopped there")


def deadline_exceeded(deadline_s: float, received: int) -> ResponseLimitError:
    return ResponseLimitError("timeout", "DeadlineExceeded",
                              f"the answer was not complete {deadline_s:g} s after the request was "
                              f"sent ({received:,} body bytes had come); reading stopped there")


# -- size -------------------------------------------------------------------------------------------
class _Inflate:
    """One zlib decompressor (gzip or deflate) that never returns more than `room` bytes."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16 if encoding.endswith("gzip")
                                        else zlib.MAX_WBITS)
        self._first = True

    def feed(self, data: bytes, room: int) -> bytes:
        """Up to `room` + 1 bytes of output (one more than fits proves the body too large)."""
        try:
            out = self._zlib.decompress(data, room + 1)
        except zlib.error:
            if not (self._first and self.encoding == "deflate"):
                raise
            # "deflate" as servers send it is often raw DEFLATE without the zlib wrapper
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._zlib.decompress(data, room + 1)
        self._first = False
        return out

    @property
    def pending(self) -> bytes:
        """Input kept back because the output hit `room`."""
        return self._zlib.unconsumed_tail


class BoundedBody:
    """A response body, fed raw as it arrives, given back decoded: never more than
    `max_bytes` decoded in all, and never more than that inflated from one piece of input.

    `feed` raises `ResponseLimitError` (ResponseTooLarge) when the body passes the limit;
    `received` is the decoded size so far. Encodings other than gzip and deflate are kept as
    they came (the harness never asks for them)."""

    def __init__(self, content_encoding: str = "", max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.max_bytes = max_bytes
        self.received = 0
        names = [e.strip().lower() for e in content_encoding.split(",") if e.strip()]
        self._inflate = (_Inflate(names[-1]) if len(names) == 1 and names[0] in ("gzip", "x-gzip", "deflate")
                         else None)

    def feed(self, raw: bytes) -> bytes:
        if self._inflate is None:
            return self._count(raw)
        try:
            out = self._inflate.feed(raw, self.max_bytes - self.received)
        except zlib.error as error:
            raise ResponseLimitError("protocol", "DecodingError",
                                     f"the {self._inflate.encoding} body does not decode: {error}") from None
        if self._inflate.pending:  # more output waits than the body may hold
            raise body_too_large(self.max_bytes)
        return self._count(out)

    def _count(self, data: bytes) -> bytes:
        self.received += len(data)
        if self.received > self.max_bytes:
            raise body_too_large(self.max_bytes)
        return data


def iter_bounded(response: httpx.Response, limits: ResponseLimits,
                 deadline: Deadline | None = None) -> Iterator[bytes]:
    """The decoded body of a streamed httpx response, bounded by `limits` and `deadline`. The
    deadline is in force only while a piece is being read, never while the caller holds one."""
    body = BoundedBody(response.headers.get("content-encoding", ""), limits.max_body_bytes)
    pieces = response.iter_raw()
    while True:
        with in_force(deadline):
            raw = next(pieces, None)
        if raw is None:
            return
        data = body.feed(raw)
        if data:
            yield data
        if deadline is not None and deadline.passed():
            raise deadline_exceeded(deadline.seconds, body.received)


async def aiter_bounded(response: httpx.Response, limits: ResponseLimits,
                        deadline: Deadline | None = None) -> AsyncIterator[bytes]:
    """`iter_bounded` for an async response."""
    body = BoundedBody(response.headers.get("content-encoding", ""), limits.max_body_bytes)
    pieces = response.aiter_raw()
    while True:
        with in_force(deadline):
            raw = await anext(pieces, None)
        if raw is None:
            return
        data = body.feed(raw)
        if data:
            yield data
        if deadline is not None and deadline.passed():
            raise deadline_exceeded(deadline.seconds, body.received)


# -- time -------------------------------------------------------------------------------------------
_CURRENT: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("glm_harness_deadline",
                                                                          default=None)


class Deadline:
    """The moment a request must be over by. While `active()`, every read and write of a client
    set up by `bound_time` waits at most the time left (connections are pooled, so the deadline
    travels with the request in a context variable, not with the connection)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return self.at - time.monotonic()

    def passed(self) -> bool:
        return self.left() <= 0

    def clamp(self, timeout: float | None) -> float:
        left = self.left()
        if left <= 0:
            raise httpcore.ReadTimeout(f"deadline of {self.seconds:g} s passed")
        return left if timeout is None else min(timeout, left)

    @contextlib.contextmanager
    def active(self) -> Iterator[Deadline]:
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)


def in_force(deadline: Deadline | None) -> contextlib.AbstractContextManager[Any]:
    """`deadline.active()`, or nothing when there is no deadline."""
    return deadline.active() if deadline is not None else contextlib.nullcontext()


def _clamp(timeout: float | None) -> float | None:
    deadline = _CURRENT.get()
    return timeout if deadline is None else deadline.clamp(timeout)


class _Stream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _clamp(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _clamp(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, _clamp(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _AsyncStream(httpcore.AsyncNetworkStream):
    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, _clamp(timeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, _clamp(timeout))

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        return _AsyncStream(await self._stream.start_tls(ssl_context, server_hostname, _clamp(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        return _Stream(self._backend.connect_tcp(host, port, _clamp(timeout), local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        return _Stream(self._backend.connect_unix_socket(path, _clamp(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self._backend = backend

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        return _AsyncStream(await self._backend.connect_tcp(host, port, _clamp(timeout), local_address,
                                                            socket_options))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        return _AsyncStream(await self._backend.connect_unix_socket(path, _clamp(timeout), socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


ClientT = TypeVar("ClientT", httpx.Client, httpx.AsyncClient)


def bound_time(client: ClientT) -> ClientT:
    """Make every connection of `client` (its transport and any proxy mounts) honour the active
    `Deadline`; returns the client. httpx has no public hook for the network backend, so this
    wraps its pools' backends: tests/test_hostile_servers.py fails if an httpx release moves them."""
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        pool: Any = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is None or isinstance(backend, _Backend | _AsyncBackend):
            continue
        wrapped = (_AsyncBackend(backend) if isinstance(backend, httpcore.AsyncNetworkBackend)
                   else _Backend(backend))
        pool._network_backend = wrapped
    return client


def time_bounded(client: httpx.Client | httpx.AsyncClient) -> bool:
    """Whether `bound_time` took hold on `client`'s own transport."""
    pool = getattr(client._transport, "_pool", None)
    return isinstance(getattr(pool, "_network_backend", None), _Backend | _AsyncBackend)
