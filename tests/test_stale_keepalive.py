"""A request that dies before any byte on a reused keep-alive connection is sent once more on a
fresh one and counted apart (`retried_stale`), by the clients and by the bench's own transport;
every other failure stays a failure.

The loopback server below answers the first request on each connection with keep-alive, then
closes the connection when the next request arrives on it, without a byte: the race a server
with an idle keep-alive timeout (llama-server) loses against a client that reuses the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Iterator

import httpx

from harness.bench.transport import BenchHTTPClient
from harness.client import FLOOR_TOKENS_PER_S, AsyncGLMClient, Exchange, GLMClient, request_timeout
from harness.targets import Target

BODY = json.dumps({"id": "x", "object": "chat.completion", "created": 1, "model": "m",
                   "choices": [{"index": 0, "finish_reason": "stop",
                                "message": {"role": "assistant", "content": "hi"}}],
                   "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
          b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


def _read_request(conn: socket.socket) -> bool:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return False
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(rest) < length:
        rest += conn.recv(65536)
    return True


def _serve(conn: socket.socket, answers: int) -> None:
    with conn:
        for _ in range(answers):
            if not _read_request(conn):
                return
            conn.sendall(ANSWER)
        _read_request(conn)  # the next request on this connection: closed unanswered


@contextlib.contextmanager
def closing_server(answers: int) -> Iterator[str]:
    """A base URL whose server answers `answers` requests per connection, then drops the next."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_serve, args=(conn, answers), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        listener.close()


def _target(base_url: str) -> Target:
    return Target("live", base_url, "m", None)


REQUEST = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}


def test_a_request_dropped_on_a_reused_connection_is_retried_once_on_a_fresh_one() -> None:
    with closing_server(answers=1) as url, GLMClient(_target(url)) as client:
        first, second = client.send(REQUEST), client.send(REQUEST)
    assert (first.status, first.retried_stale) == (200, None)
    assert second.status == 200 and second.transport_error is None
    assert second.retried_stale is not None and second.retried_stale.kind == "protocol"


def test_the_async_client_retries_the_same_way() -> None:
    async def two() -> tuple[int | None, object, object]:
        with closing_server(answers=1) as url:
            async with AsyncGLMClient(_target(url)) as client:
                await client.send(REQUEST)
                second = await client.send(REQUEST)
        return second.status, second.transport_error, second.retried_stale

    status, error, stale = asyncio.run(two())
    assert (status, error) == (200, None) and stale is not None


def test_a_fresh_connection_dropped_unanswered_stays_a_failure() -> None:
    with closing_server(answers=0) as url, GLMClient(_target(url)) as client:
        exchange = client.send(REQUEST)
    assert exchange.retried_stale is None
    assert exchange.transport_error is not None and exchange.transport_error.kind == "protocol"


def test_a_non_streamed_request_gets_a_budget_from_max_tokens_a_stream_does_not() -> None:
    base = httpx.Timeout(10.0, read=30.0)
    assert request_timeout(base, {"stream": True, "max_tokens": 4096}).read == 30.0
    assert request_timeout(base, {"max_tokens": 200}).read == 30.0 + 200 / FLOOR_TOKENS_PER_S
    assert request_timeout(base, {}).read == 30.0  # no size to budget for: a hung server shows fast


def test_a_timeout_says_how_long_it_waited() -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    with listener, GLMClient(_target(url), timeout=httpx.Timeout(5.0, read=0.2)) as client:
        exchange = client.send({**REQUEST, "stream": True})
    error = exchange.transport_error
    assert error is not None and error.kind == "timeout" and "(after 0.2 s)" in str(error)


def _bench_pair(answers: int) -> list[Exchange]:
    async def run() -> list[Exchange]:
        with closing_server(answers) as url:
            client = BenchHTTPClient(_target(url))
            try:
                return [[item async for item in client.iter_events(REQUEST)][-1] for _ in range(2)]
            finally:
                await client.aclose()

    return [e for e in asyncio.run(run()) if isinstance(e, Exchange)]


def test_the_bench_transport_retries_the_same_way() -> None:
    first, second = _bench_pair(answers=1)
    assert (first.status, first.retried_stale) == (200, None)
    assert (second.status, second.transport_error) == (200, None)
    assert second.retried_stale is not None and "closed the connection" in str(second.retried_stale)


def test_the_bench_transport_keeps_a_fresh_connection_dropped_unanswered_a_failure() -> None:
    for exchange in _bench_pair(answers=0):
        assert exchange.retried_stale is None
        assert exchange.status is None and exchange.transport_error is not None
