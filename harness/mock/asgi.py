"""The over-the-wire adapter: the twin as an ASGI app, served by uvicorn on loopback.

Real sockets let any client (curl, the openai SDK, a load generator) talk to the twin. A
`reset` step raises inside the response so the server drops the connection mid-body, which is
what a client sees when the real API's connection breaks.

Like the real gateway (nginx), it refuses a request whose framing is ambiguous (both
Content-Length and Transfer-Encoding) or whose body stops arriving, with 400 and a closed
connection, and it never holds more than `MAX_BODY_BYTES` of a body: the rest is drained unread.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ._pacing import Pacer
from .engine import MAX_BODY_BYTES, Handler, WireRequest
from .render import Step

# How long a body may pause before the request is given up on (nginx's client_body_timeout is
# 60 s; a twin in a test suite should not hold a connection that long).
BODY_TIMEOUT_S = 10.0


class StreamReset(Exception):
    """Raised inside a response to drop the connection on purpose."""


def twin_app(twin: Handler) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if _ambiguous_framing(headers):
            await _bad_request(send)
            return
        try:
            body, oversized = await read_body(receive)
        except TimeoutError:
            await _bad_request(send)
            return
        received = time.perf_counter()
        reply = twin.handle(WireRequest(scope["method"], scope["path"], headers, body, oversized))
        try:
            steps = reply.script if reply.script is not None else [Step(reply.delay_s, reply.body)]
            await send({
                "type": "http.response.start",
                "status": reply.status,
                "headers": [(k.lower().encode(), v.encode()) for k, v in reply.headers.items()],
            })
            pacer = Pacer(reply.precise, start=received)
            for n, step in enumerate(steps):
                if step.delay_s:
                    await pacer.asleep_until(pacer.deadline(step.delay_s))
                elif n % 4 == 3:
                    # Without a pause a zero-delay stream holds the loop until the socket buffer
                    # fills and never sees the client hang up.
                    await asyncio.sleep(0)
                if step.reset:
                    raise StreamReset("twin fault: connection reset mid-stream")
                if step.data:
                    await send({"type": "http.response.body", "body": step.data, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            reply.close()

    return app


async def read_body(receive: Any, limit: int = MAX_BODY_BYTES,
                    timeout_s: float | None = BODY_TIMEOUT_S) -> tuple[bytes, bool]:
    """An ASGI request's body, or (b"", True) when it is longer than `limit` (the rest is drained,
    not kept). TimeoutError when the client stops sending for `timeout_s` before it is complete."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await asyncio.wait_for(receive(), timeout_s)
        if message["type"] == "http.disconnect":
            break
        data = message.get("body", b"")
        size += len(data)
        if size <= limit:
            chunks.append(data)
        elif chunks:
            chunks.clear()
        if not message.get("more_body"):
            break
    if size > limit:
        return b"", True
    return b"".join(chunks), False


def _ambiguous_framing(headers: dict[str, str]) -> bool:
    names = {name.lower() for name in headers}
    return "content-length" in names and "transfer-encoding" in names


# What nginx, in front of the real API, answers a request it cannot frame.
_BAD_REQUEST = (b"<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n"
                b"<center><h1>400 Bad Request</h1></center>\r\n<hr><center>nginx</center>\r\n"
                b"</body>\r\n</html>\r\n")


async def _bad_request(send: Any) -> None:
    await send({"type": "http.response.start", "status": 400, "headers": [
        (b"content-type", b"text/html"), (b"content-length", str(len(_BAD_REQUEST)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": _BAD_REQUEST, "more_body": False})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
