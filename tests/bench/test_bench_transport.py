"""The bench's own HTTP/1.1 client gives the exchanges httpx gives, from awkwardly split reads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import pytest

from harness.bench.transport import BenchHTTPClient
from harness.client import AsyncGLMClient, Exchange, TimedEvent
from harness.targets import mock_target

EVENTS = [json.dumps({"choices": [{"index": 0, "delta": {"content": word}}]}) for word in ("a", "b", "c")]
SSE = "".join(f"data: {e}\n\n" for e in [*EVENTS, "[DONE]"]).encode()


def chunked(body: bytes, sizes: Sequence[int]) -> bytes:
    """`body` in HTTP chunks of the given sizes (the rest in one), then the last chunk."""
    out, pos = b"", 0
    for size in [*sizes, len(body)]:
        piece, pos = body[pos:pos + size], pos + size
        if piece:
            out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n\r\n"


STREAM_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
STREAM = STREAM_HEAD + chunked(SSE, [30, 5, 90])
ERROR_BODY = json.dumps({"error": {"code": "1302", "message": "slow down"}}).encode()
ERROR = (b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n"
         b"content-length: " + str(len(ERROR_BODY)).encode() + b"\r\n\r\n" + ERROR_BODY)


@asynccontextmanager
async def server(reply: bytes, cuts: Sequence[int], close_after: bool = False) -> AsyncIterator[tuple[str, list[int]]]:
    """Answers every request with `reply`, written in pieces cut at the given offsets."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length"))
                await reader.readexactly(length)
                for lo, hi in zip([0, *cuts], [*cuts, len(reply)], strict=True):
                    writer.write(reply[lo:hi])
                    await writer.drain()
                    await asyncio.sleep(0.005)  # separate reads on the client
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield f"http://127.0.0.1:{port}/api/paas/v4", connections


async def both(base_url: str) -> tuple[Exchange, list[TimedEvent], Exchange, list[TimedEvent]]:
    target = mock_target(base_url=base_url)
    body = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
    ours_client = BenchHTTPClient(target)
    ours = [item async for item in ours_client.iter_events(body)]
    await ours_client.aclose()
    async with AsyncGLMClient(target) as httpx_client:
        theirs = [item async for item in httpx_client.iter_events(body)]
    a, b = ours[-1], theirs[-1]
    assert isinstance(a, Exchange) and isinstance(b, Exchange)
    ours_events = [e for e in ours[:-1] if isinstance(e, TimedEvent)]
    their_events = [e for e in theirs[:-1] if isinstance(e, TimedEvent)]
    return a, ours_events, b, their_events


def test_a_stream_split_mid_chunk_and_mid_size_line_reads_as_httpx_reads_it() -> None:
    cuts = [len(STREAM_HEAD) - 3, len(STREAM_HEAD) + 1, len(STREAM_HEAD) + 40, len(STREAM) - 4]

    async def go() -> None:
        async with server(STREAM, cuts) as (url, _):
            ours, ours_events, theirs, their_events = await both(url)
        assert ours.status == theirs.status == 200
        assert ours.headers["content-type"] == "text/event-stream"
        assert ours.body == theirs.body == SSE
        assert [e.event.data for e in ours_events] == [e.event.data for e in their_events]
        assert [e.event.data for e in ours_events][-1] == "[DONE]" and not ours.sse_violations
        stamps = [at for at, _ in ours.chunks]
        assert stamps == sorted(stamps)  # one per read that carried body bytes
        assert all(e.at in stamps for e in ours_events)  # each event has its read's stamp
        assert ours.written_at is not None and ours.sent_at <= ours.written_at <= stamps[0]

    asyncio.run(go())


def test_a_content_length_error_and_keep_alive_reuse() -> None:
    async def go() -> None:
        async with server(ERROR, [10]) as (url, connections):
            client = BenchHTTPClient(mock_target(base_url=url))
            for _ in range(2):
                items = [item async for item in client.iter_events({"stream": True})]
                exchange = items[-1]
                assert isinstance(exchange, Exchange)
                assert (exchange.status, exchange.body) == (429, ERROR_BODY)
                assert exchange.transport_error is None
            await client.aclose()
        assert len(connections) == 1

    asyncio.run(go())


def test_a_connection_closed_mid_stream_is_a_transport_error_not_a_hang() -> None:
    cut = STREAM[:len(STREAM) - 20]

    async def go() -> None:
        async with server(cut, [], close_after=True) as (url, _):
            client = BenchHTTPClient(mock_target(base_url=url))
            async with asyncio.timeout(10):
                items = [item async for item in client.iter_events({"stream": True})]
            await client.aclose()
        exchange = items[-1]
        assert isinstance(exchange, Exchange) and exchange.transport_error is not None
        assert exchange.transport_error.kind == "network"
        assert "closed the connection before the response ended" in str(exchange.transport_error)

    asyncio.run(go())


def test_nothing_listening_is_a_connect_error() -> None:
    async def go() -> Exchange:
        client = BenchHTTPClient(mock_target(base_url="http://127.0.0.1:1/api"))
        items = [item async for item in client.iter_events({"stream": True})]
        exchange = items[-1]
        assert isinstance(exchange, Exchange)
        return exchange

    exchange = asyncio.run(go())
    assert exchange.transport_error is not None and exchange.transport_error.kind == "connect"
    assert exchange.status is None


def test_the_transport_reads_on_uvloop_as_on_asyncio() -> None:
    """Ray's async workers run on uvloop where it is installed (the serve extra brings it), whose
    transports are not asyncio.Transport by class: the bench's protocol must not insist they are
    (it asserted so, and every request of a Ray run failed with an AssertionError)."""
    uvloop = pytest.importorskip("uvloop", reason="uvloop not installed (the serve extra brings it)")
    cuts = [len(STREAM_HEAD) - 3, len(STREAM_HEAD) + 40]

    async def go() -> None:
        async with server(STREAM, cuts) as (url, _):
            ours, ours_events, theirs, _ = await both(url)
        assert ours.transport_error is None and ours.status == theirs.status == 200
        assert ours.body == theirs.body == SSE and [e.event.data for e in ours_events][-1] == "[DONE]"

    uvloop.run(go())
