"""A GLM-shaped SSE server that costs the machine almost nothing: for client-side benchmarks.

Run: ``python benchmarks/lean_sse_server.py [--port 0] [--ttft-ms 50] [--itl-ms 20]
      [--jitter 0] [--reply-tokens 50]``; it prints ``listening on http://127.0.0.1:PORT/api/paas/v4``.

The twin (``glm-harness serve``) renders each answer and streams it through uvicorn and
Starlette: some 100 µs of CPU per chunk, so on a small machine it, not the client, is what a
client-side curve measures (`benchmarks/workers_curve.py --server twin` shows it: its TTFT grows
past the configured one long before the client is busy). This server renders one answer once,
with the twin's own engine (so the chunks are the twin's, byte for byte: GLM's shape, usage on
the last one), and then only replays those bytes on a plain asyncio socket, HTTP/1.1 keep-alive
with chunked framing, on schedule: the first chunk `ttft` after the request's body arrived, then
one every `itl`, each drawn as the twin draws them (`--jitter`, the gaps' coefficient of
variation; 0, the default, keeps every stream in lock-step). Every request gets the same
answer; it answers nothing else (any path, any body: the client is what is measured).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
try:
    import harness  # noqa: F401
except ModuleNotFoundError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))

from harness.mock import GLMTwin, Style, TwinConfig  # noqa: E402
from harness.mock.config import Timing  # noqa: E402

HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
        b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")


def rendered_answer(reply_tokens: int) -> list[bytes]:
    """The twin's streamed answer (no reasoning, one token per chunk), as its SSE pieces."""
    twin = GLMTwin(TwinConfig(style=Style(reply_tokens=reply_tokens, reasoning_tokens=0)))
    return twin.stream_pieces({"model": "glm-4.6", "thinking": {"type": "disabled"},
                               "messages": [{"role": "user", "content": "hello"}]})


def _framed(piece: bytes) -> bytes:
    return b"%x\r\n" % len(piece) + piece + b"\r\n"


class _Reply:
    """One answer on the clock, each frame written by a timer callback: a task per stream that
    sleeps before each frame costs this process more CPU per chunk than the client it serves."""

    def __init__(self, writer: asyncio.StreamWriter, frames: list[bytes], timing: Timing,
                 rng: random.Random) -> None:
        self.loop = asyncio.get_running_loop()
        self.writer, self.frames, self.timing, self.rng = writer, frames, timing, rng
        self.sent = 0
        self.done: asyncio.Future[None] = self.loop.create_future()
        # on the clock, not after the previous write: a late write does not delay the rest
        self.due = self.loop.time() + timing.draw(timing.ttft_ms, rng)
        writer.write(HEAD)
        self.loop.call_at(self.due, self._write)

    def _write(self) -> None:
        if self.writer.is_closing():
            self.done.set_result(None)
            return
        self.writer.write(self.frames[self.sent])
        self.sent += 1
        if self.sent == len(self.frames):
            self.writer.write(b"0\r\n\r\n")
            self.done.set_result(None)
            return
        self.due += self.timing.draw(self.timing.itl_ms, self.rng)
        self.loop.call_at(self.due, self._write)


async def _answer(writer: asyncio.StreamWriter, frames: list[bytes], timing: Timing,
                  rng: random.Random) -> None:
    await _Reply(writer, frames, timing, rng).done
    await writer.drain()


async def _connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, frames: list[bytes],
                      timing: Timing, rng: random.Random) -> None:
    try:
        while head := await reader.readuntil(b"\r\n\r\n"):
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            await _answer(writer, frames, timing, rng)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(port: int, timing: Timing, reply_tokens: int) -> None:
    frames = [_framed(piece) for piece in rendered_answer(reply_tokens)]
    rng = random.Random(timing.seed)
    server = await asyncio.start_server(
        lambda r, w: _connection(r, w, frames, timing, rng), "127.0.0.1", port, backlog=4096)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening on http://127.0.0.1:{bound}/api/paas/v4", flush=True)
    async with server:
        await server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    parser.add_argument("--itl-ms", type=float, default=20.0)
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--reply-tokens", type=int, default=50)
    args = parser.parse_args()
    timing = Timing(ttft_ms=args.ttft_ms, itl_ms=args.itl_ms, jitter=args.jitter)
    try:
        asyncio.run(serve(args.port, timing, args.reply_tokens))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
