"""The bench's own HTTP/1.1 client: stamp each read as it lands, parse once the response is over.

Through httpx, every read of a streamed response passes httpcore, h11's chunked decoding, httpx's
decoders and three async generators before it is stamped and split into SSE events: about three
times the CPU of a bare asyncio reader per chunk, all of it on the event loop that stamps the
next chunk (benchmarks/client_cpu_per_chunk.py). Here an `asyncio.Protocol` stamps each read in
`data_received`, the earliest point its bytes are in Python, keeps it, and looks only at its
last bytes to see whether the response may be over; nothing wakes the request's coroutine until
then. Once it is, h11 parses the response's head and its framing is checked (exactly as
httpx's h11 would), and that is all `answer` waits for: the body is split into SSE events with
each read's stamp only when `ReadResponse.exchange()` asks, so a closed loop sends its next request
before it decodes the last answer. The `TimedEvent`s and `Exchange`s are the ones
`AsyncGLMClient` makes. The request's bytes are written with one `transport.write`, and
`Exchange.written_at` is stamped right after it.

For the bench only, on plain HTTP/1.1 (TLS included): no proxies, no HTTP/2, no redirects. The
contract suites keep httpx.

Against a hostile server it keeps the bounds of harness.limits: a response's bytes stop at
`max_body_bytes` (decompressed too: a gzip or deflate body is undone by `BoundedBody` when it is
decoded), an SSE line or event at `max_event_bytes`; its total time is the runner's `--timeout`.
Interim 1xx answers before the real one are skipped.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import h11
import httpx

from ..client import Exchange, TimedEvent, _exchange, tls_context
from ..errors import ResponseLimitError, TransportError
from ..limits import BoundedBody, ResponseLimits, body_too_large
from ..sse import SSEDecoder
from ..targets import Target

# Candidate ends of a response: a chunked body's last chunk, or any blank line (a trailer's end,
# a body of known length is counted instead). A candidate is confirmed by h11.
_MAYBE_END = b"\r\n\r\n"
# h11's own bound on a response head; a head still open past it is not HTTP
MAX_HEAD_BYTES = 64 * 1024


class _Connection(asyncio.Protocol):
    """One keep-alive connection; collects (stamp, bytes) reads for the request in flight."""

    def __init__(self, max_bytes: int) -> None:
        self.transport: asyncio.Transport | None = None
        self.reads: list[tuple[float, bytes]] = []
        self.max_bytes = max_bytes
        self.size = 0  # bytes of the response in flight so far
        self.tail = b""
        self.done: asyncio.Future[None] | None = None
        self.lost: Exception | None = None
        self.open = True
        self.answered = 0  # responses read whole on it: a keep-alive connection once above 0
        # wake the request on every read (its head, or a body not chunked: an error, plain JSON),
        # not only on a chunked body's possible ends
        self.every_read = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport, though not always an asyncio.Transport by class: uvloop's (which
        # Ray's async workers run on when it is installed) is not registered as one
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.reads.append((time.perf_counter(), data))
        self.size += len(data)
        self.tail = (self.tail + data)[-4:] if len(data) < 4 else data[-4:]
        if self.size > self.max_bytes and self.transport is not None:
            self.transport.pause_reading()  # not a byte more: the request wakes and gives up
            self.every_read = True
        if (self.tail == _MAYBE_END or self.every_read) and self.done is not None and not self.done.done():
            self.done.set_result(None)

    @property
    def too_large(self) -> bool:
        return self.size > self.max_bytes

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self.lost = exc
        if self.done is not None and not self.done.done():
            self.done.set_result(None)


class BenchHTTPClient:
    """`iter_events` like `AsyncGLMClient`'s, over a small pool of raw keep-alive connections."""

    def __init__(self, target: Target, *, connect_timeout_s: float = 10.0,
                 tls: ssl.SSLContext | None = None, limits: ResponseLimits | None = None) -> None:
        self.target = target
        self.limits = limits or ResponseLimits()
        self._url = httpx.URL(target.chat_url)
        self._connect_timeout_s = connect_timeout_s
        self._tls = (tls or tls_context()) if self._url.scheme == "https" else None
        self._idle: list[_Connection] = []
        self._all: set[_Connection] = set()
        self._last: _Request | None = None

    async def iter_events(self, body: dict[str, Any]) -> AsyncIterator[TimedEvent | Exchange]:
        """The response's events, then its `Exchange`; yielded once the response has ended."""
        exchange = (await self.answer(body)).exchange()
        for timed in exchange.events:
            yield timed
        yield exchange

    async def answer(self, body: dict[str, Any]) -> ReadResponse:
        """The response, read whole (or failed); its body is decoded by `ReadResponse.exchange()`."""
        answer = ReadResponse(_exchange(self.target, body, None), self.limits)
        answer.head.sent_at = time.perf_counter()
        if await self._attempt(answer, reuse=True):
            # as AsyncGLMClient does: sent once more on a fresh connection, counted apart
            exchange = answer.head
            exchange.retried_stale, exchange.transport_error = exchange.transport_error, None
            exchange.ended_at = None
            await self._attempt(answer, reuse=False)
        return answer

    async def _attempt(self, answer: ReadResponse, *, reuse: bool) -> bool:
        """One try; True when it died as a stale keep-alive connection does: on a connection
        that had answered before, without a byte of the answer (the server closed it while
        idle, so the request never reached it)."""
        exchange = answer.head
        conn: _Connection | None = None
        finished = False
        try:
            try:
                conn = await self._checkout(reuse)
            except (OSError, TimeoutError) as failure:
                exchange.transport_error = _connect_error(failure)
                return False
            request = self._request(exchange.payload)
            answer.body = await self._response(conn, request, exchange)
            finished = True
            conn.answered += 1
            return False
        except ResponseLimitError as failure:
            exchange.transport_error = failure
            return False
        except (OSError, h11.ProtocolError, TimeoutError) as failure:
            exchange.transport_error = _transport_error(failure)
            return (conn is not None and conn.answered > 0 and not conn.reads
                    and not isinstance(failure, TimeoutError))
        finally:
            if exchange.ended_at is None:
                exchange.ended_at = time.perf_counter()
            if conn is not None:
                conn.open = conn.open and finished  # a response cut short leaves the connection unusable
                self._checkin(conn)

    def _request(self, payload: bytes) -> _Request:
        """The request for this body, serialized by h11 once: a level sends one body over and
        over, and a closed loop's round starts many at once, so starting one is a write."""
        if self._last is None or self._last.payload != payload:
            self._last = _Request(h11.Request(method="POST", target=self._url.raw_path,
                                              headers=self._headers(payload)), payload)
        return self._last

    async def _response(self, conn: _Connection, request: _Request,
                        exchange: Exchange) -> tuple[_Response, list[tuple[float, bytes]]]:
        assert conn.transport is not None
        conn.reads, conn.tail, conn.every_read, conn.size = [], b"", True, 0  # every read until the head
        loop = asyncio.get_running_loop()
        conn.transport.write(request.wire)
        exchange.written_at = time.perf_counter()
        response = _Response(request)
        while True:
            conn.done = loop.create_future()  # before parsing: a read landing meanwhile wakes it
            if conn.too_large:  # before parsing: joining the reads would double what is held
                raise body_too_large(conn.max_bytes)
            if response.parse(conn, exchange):
                break
            if not conn.open:
                raise OSError(str(conn.lost or "the server closed the connection before the "
                                                 "response ended"))
            conn.every_read = not response.chunked  # a chunked body: only its possible ends
            await conn.done
        exchange.ended_at = conn.reads[-1][0]
        if response.close:
            conn.open = False
        return response, conn.reads  # the connection takes a new list for its next request

    def _headers(self, payload: bytes) -> list[tuple[str, str]]:
        return [("Host", self._url.netloc.decode()), ("Content-Type", "application/json"),
                ("Accept", "*/*"), ("Content-Length", str(len(payload))),
                *self.target.headers().items()]

    async def _checkout(self, reuse: bool = True) -> _Connection:
        while reuse and self._idle:
            conn = self._idle.pop()
            if conn.open:
                return conn
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self._connect_timeout_s):
            port = self._url.port or (443 if self._tls else 80)
            _, conn = await loop.create_connection(lambda: _Connection(self.limits.max_body_bytes),
                                                   self._url.host, port, ssl=self._tls)
        self._all.add(conn)
        return conn

    def _checkin(self, conn: _Connection) -> None:
        conn.done = None
        if conn.open:
            self._idle.append(conn)
        else:
            self._all.discard(conn)
            if conn.transport is not None:
                conn.transport.close()

    async def aclose(self) -> None:
        for conn in self._all:
            if conn.transport is not None:
                conn.transport.close()
        self._all.clear()
        self._idle.clear()


class ReadResponse:
    """A response read whole, or failed. `head` is its `Exchange` without the body: status,
    headers, times, transport error. The body is held as the reads that brought it until
    `exchange()` decodes it (once) into that same `Exchange`."""

    def __init__(self, head: Exchange, limits: ResponseLimits | None = None) -> None:
        self.head = head
        self.limits = limits or ResponseLimits()
        self.body: tuple[_Response, list[tuple[float, bytes]]] | None = None

    def exchange(self) -> Exchange:
        """The `Exchange`, its chunks and SSE events stamped with the reads that brought them."""
        if self.body is not None:
            response, reads = self.body
            self.body = None
            response.record(reads, self.head, self.limits)
        return self.head


class _Request:
    """A request's bytes, and how to ready an h11 connection to read the answer to it."""

    def __init__(self, event: h11.Request, payload: bytes) -> None:
        self.event, self.payload = event, payload
        self.wire = self._send(h11.Connection(h11.CLIENT))

    def sent(self) -> h11.Connection:
        """An h11 client connection that has sent this request: it parses the response's head.
        Made when the head arrives, not when the request starts."""
        conn = h11.Connection(h11.CLIENT)
        self._send(conn)
        return conn

    def _send(self, conn: h11.Connection) -> bytes:
        return b"".join(conn.send(event) or b"" for event in (
            self.event, h11.Data(data=self.payload), h11.EndOfMessage()))


class _Response:
    """The response in the reads so far: its head by h11, its body framing by hand, so that each
    body byte is known to have come in a given read (and with that read's stamp)."""

    def __init__(self, request: _Request) -> None:
        self.request = request
        self.wire = bytearray()  # grown in place: joined anew at every read, it was quadratic
        self.seen = 0  # reads joined into `wire`
        self.head_start = 0  # past the interim 1xx answers skipped so far
        self.head_end: int | None = None
        self.next_chunk = 0  # where the chunk-size line not yet walked starts
        self.partial = False  # the last span is a chunk not yet complete
        self.chunked: bool | None = None
        self.length: int | None = None
        self.close = False
        self.spans: list[tuple[int, int]] = []  # body bytes as (start, end) offsets in `wire`

    def parse(self, conn: _Connection, exchange: Exchange) -> bool:
        """True once the whole response is in."""
        if self.seen < len(conn.reads):
            for _, data in conn.reads[self.seen:]:
                self.wire += data
            self.seen = len(conn.reads)
        if self.head_end is None and not self._head(exchange):
            return False
        assert self.head_end is not None
        if self.chunked:
            return self._dechunk()
        if self.length is not None:
            self.spans = [(self.head_end, min(self.head_end + self.length, len(self.wire)))]
            return len(self.wire) >= self.head_end + self.length
        self.spans = [(self.head_end, len(self.wire))]
        self.close = True
        return not conn.open  # delimited by the connection's close

    def _head(self, exchange: Exchange) -> bool:
        while True:
            end = self.wire.find(b"\r\n\r\n", self.head_start)
            if end < 0:
                if len(self.wire) - self.head_start > MAX_HEAD_BYTES:
                    raise h11.RemoteProtocolError(f"a response head over {MAX_HEAD_BYTES:,} bytes")
                return False
            h11_conn = self.request.sent()
            h11_conn.receive_data(bytes(self.wire[self.head_start:end + 4]))
            event = h11_conn.next_event()
            if not isinstance(event, h11.InformationalResponse):
                break
            self.head_start = end + 4  # 100 Continue, 103 Early Hints: skipped, the answer follows
        if not isinstance(event, h11.Response):
            raise h11.RemoteProtocolError("no response head")
        exchange.status = event.status_code
        exchange.headers = {k.decode().lower(): v.decode("latin-1") for k, v in event.headers}
        self.head_end = self.next_chunk = end + 4
        encoding = exchange.headers.get("transfer-encoding", "").lower()
        self.chunked = encoding.endswith("chunked")
        length = exchange.headers.get("content-length")
        self.length = int(length) if length is not None and not self.chunked else None
        self.close = (exchange.headers.get("connection", "").lower() == "close"
                      or event.http_version == b"1.0")
        return True

    def _dechunk(self) -> bool:
        """Walk the chunks not walked yet (one find per chunk); True at the last one."""
        wire, pos = self.wire, self.next_chunk
        if self.partial:
            self.spans.pop()
            self.partial = False
        while True:
            self.next_chunk = pos
            line_end = wire.find(b"\r\n", pos)
            if line_end < 0:
                return False
            try:
                size = int(wire[pos:line_end].split(b";", 1)[0], 16)
            except ValueError:
                raise h11.RemoteProtocolError("bad chunk size line") from None
            if size == 0:  # the last chunk; then trailers, if any, and a blank line
                rest = line_end + 2
                return wire.startswith(b"\r\n", rest) or wire.find(b"\r\n\r\n", rest) >= 0
            start = line_end + 2
            if len(wire) < start + size + 2:
                self.spans.append((start, min(start + size, len(wire))))
                self.partial = True
                return False
            self.spans.append((start, start + size))
            pos = start + size + 2

    def record(self, reads: list[tuple[float, bytes]], exchange: Exchange, limits: ResponseLimits) -> None:
        """Body bytes by the read that brought them (decompressed, within the limits); SSE events
        stamped with those reads. A limit passed ends the body there, as the transport error."""
        body = BoundedBody(exchange.headers.get("content-encoding", ""), limits.max_body_bytes)
        decoder = SSEDecoder(limits.max_event_bytes) if exchange.streamed else None
        try:
            self._record(reads, exchange, body, decoder)
        except ResponseLimitError as failure:
            exchange.transport_error = failure
            return
        if decoder is not None:
            exchange.events.extend(TimedEvent(exchange.ended_at or time.perf_counter(), e)
                                   for e in decoder.close())
            exchange.sse_violations = list(decoder.violations)

    def _record(self, reads: list[tuple[float, bytes]], exchange: Exchange, body: BoundedBody,
                decoder: SSEDecoder | None) -> None:
        spans = iter(self.spans)
        span = next(spans, None)
        wire_end = 0
        for at, data in reads:
            wire_start, wire_end = wire_end, wire_end + len(data)
            pieces = []
            while span is not None and span[0] < wire_end:
                lo, hi = max(span[0], wire_start), min(span[1], wire_end)
                if hi > lo:
                    pieces.append(self.wire[lo:hi])
                if span[1] > wire_end:
                    break
                span = next(spans, None)
            if not pieces:
                continue
            piece = body.feed(b"".join(pieces))
            if not piece:
                continue
            exchange.chunks.append((at, piece))
            if decoder is not None:
                exchange.events.extend(TimedEvent(at, e) for e in decoder.feed(piece))


def _connect_error(failure: Exception) -> TransportError:
    """Named as httpx names them, so reports read the same whichever client measured."""
    if isinstance(failure, TimeoutError):
        return TransportError("timeout", "ConnectTimeout", "no connection in time")
    return TransportError("connect", "ConnectError", str(failure))


def _transport_error(failure: Exception) -> TransportError:
    if isinstance(failure, h11.ProtocolError):
        return TransportError("protocol", "RemoteProtocolError", str(failure))
    return TransportError("network", "ReadError", str(failure))

