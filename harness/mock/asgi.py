"""The over-the-wire adapter: the twin as an ASGI app, served by uvicorn on loopback.

Real sockets let any client (curl, the openai SDK, a load generator) talk to the twin. A
`reset` step raises inside the response so the server drops the connection mid-body, which is
what a client sees when the real API's connection breaks.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ._pacing import Pacer
from .engine import Handler, WireRequest
from .render import Step


class StreamReset(Exception):
    """Raised inside a response to drop the connection on purpose."""


def twin_app(twin: Handler) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        received = time.perf_counter()
        reply = twin.handle(WireRequest(scope["method"], scope["path"], headers, body))
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


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
