"""The twin over HTTP with a passive server-side trace, so calibration knows the real truth.

The twin's nominal sleeps are not what goes on the wire: request parsing and rendering come
before the first sleep, timers fire late, and at high concurrency its event loop falls behind.
This wraps the unchanged `twin_app` in an ASGI middleware that stamps (time.perf_counter, i.e.
CLOCK_MONOTONIC, shared by every process on the machine) when each request's first bytes
reached the server (`first_bytes`, from a stamping subclass of uvicorn's h11 protocol), when its
body had been read by the app (`arrived`), and when each body chunk had been handed to the
socket (`sends`). `GET /_calibration/trace` returns and
clears those stamps, keyed by the request's `request_id`.

With both sides on one clock, the harness's own error splits cleanly from the server's lateness:
client TTFT minus server TTFT is what the client and the loopback add; a chunk's client stamp
minus its server stamp is how late the client saw it.

Run: `python -m harness.bench.traced_twin --port 0 --ttft-ms 150 --itl-ms 10 --jitter 0`
(every `glm-harness serve` option applies). It listens through harness.mock.server's
`bind_loopback`, so asyncio sets TCP_NODELAY on each connection there too.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..errors import UsageError
from ..mock import GLMTwin, twin_app
from ..mock.server import add_serve_arguments, bind_loopback, config_from_args

TRACE_PATH = "/_calibration/trace"
PROG = "python -m harness.bench.traced_twin"


class StampingH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, stamping when a request's first bytes reach the server process.

    That is the earliest the server can know of a request; stamping in the ASGI app instead
    would count uvicorn's own parsing and task scheduling as the client's delay. The stamp is
    put in the request's `scope["state"]` before the app's task first runs.
    """

    def data_received(self, data: bytes) -> None:
        fresh = self.cycle is None or self.cycle.response_complete
        at = time.perf_counter()
        scope = getattr(self, "scope", None)
        super().data_received(data)
        new_scope = getattr(self, "scope", None)
        if fresh and new_scope is not None and new_scope is not scope:
            new_scope.setdefault("state", {})[FIRST_BYTES_KEY] = at


FIRST_BYTES_KEY = "glm_calibration_first_bytes_at"


class Tracer:
    def __init__(self) -> None:
        self.traces: dict[str, dict[str, Any]] = {}
        self._serial = itertools.count()

    def take(self) -> dict[str, dict[str, Any]]:
        traces, self.traces = self.traces, {}
        return traces


def _request_id(body: bytes, fallback: str) -> str:
    try:
        value = json.loads(body).get("request_id")
    except (ValueError, AttributeError):
        value = None
    return value if isinstance(value, str) else fallback


_CHUNK_HEAD = b'data: {"id":'
_CHUNK_HEAD_WITH_OBJECT = b'data: {"object":"chat.completion.chunk","id":'


def traced(app: Any, tracer: Tracer, openai_object: bool = False) -> Any:
    """`openai_object` adds OpenAI's `"object": "chat.completion.chunk"` to every chunk: GLM
    omits it, and aiperf's chat parser drops chunks without it (every request then fails with
    "no responses with actual content"). Clients that ignore the field see no difference."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        if scope["path"] == TRACE_PATH:
            await _send_json(send, {"traces": tracer.take()})
            return
        parts: list[bytes] = []
        state = scope.get("state") or {}
        trace: dict[str, Any] = {"first_bytes": state.get(FIRST_BYTES_KEY), "arrived": None,
                                 "sends": []}
        sends: list[float] = trace["sends"]
        stamp = time.perf_counter

        async def traced_receive() -> Any:
            message = await receive()
            parts.append(message.get("body", b""))
            if not message.get("more_body"):
                trace["arrived"] = stamp()
                key = _request_id(b"".join(parts), f"serial-{next(tracer._serial)}")
                tracer.traces[key] = trace
            return message

        async def traced_send(message: Any) -> None:
            if openai_object and message["type"] == "http.response.body":
                body = message.get("body", b"")
                if body.startswith(_CHUNK_HEAD):
                    message = {**message, "body": _CHUNK_HEAD_WITH_OBJECT + body[len(_CHUNK_HEAD):]}
            await send(message)
            # uvicorn's h11 protocol writes to the transport inside send(): after it returns
            # the bytes are in the kernel (or queued behind earlier ones).
            if message["type"] == "http.response.body" and message.get("body"):
                sends.append(stamp())

        await app(scope, traced_receive, traced_send)

    return wrapped


async def _send_json(send: Any, data: Any) -> None:
    body = json.dumps(data).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def main(argv: Sequence[str] | None = None) -> int:
    parser = add_serve_arguments(argparse.ArgumentParser(prog=PROG, description=__doc__))
    parser.add_argument("--openai-object", action="store_true",
                        help='add "object": "chat.completion.chunk" to each chunk (for aiperf)')
    args = parser.parse_args(argv)
    try:
        twin = GLMTwin(config_from_args(args))
        sock = bind_loopback(args.host, args.port)
    except (UsageError, argparse.ArgumentTypeError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    tracer = Tracer()
    config = uvicorn.Config(traced(twin_app(twin), tracer, args.openai_object),
                            http=StampingH11Protocol, loop="auto",
                            lifespan="on", log_level=args.log_level, access_log=False,
                            timeout_keep_alive=30, backlog=4096, timeout_graceful_shutdown=1,
                            server_header=False, proxy_headers=False)
    address, port = sock.getsockname()[:2]
    shown = f"[{address}]" if ":" in address else address
    print(f"GLM twin (traced) listening on http://{shown}:{port}{twin.config.base_paths[0]} "
          f"trace at {TRACE_PATH}", flush=True)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
