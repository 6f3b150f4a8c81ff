"""Small raw-socket servers on 127.0.0.1 that answer a chat request the way a hostile or broken
API might: a gzip bomb, a line that never ends, a stream that never ends, a stream that trickles,
interim 1xx answers forever, or nothing at all; and a well-behaved one that sends 1xx answers
before a real stream.

`serving(mode)` runs one in a background thread (one thread per connection); run this file to
serve one from the command line (`python tests/hostile_servers.py gzip_bomb --port 8999`), as the
measurements quoted in issue 21 did.
"""

from __future__ import annotations

import argparse
import functools
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

BASE_PATH = "/api/paas/v4"
ROOT = Path(__file__).resolve().parents[1]
_REAL = ROOT / "fixtures" / "real" / "streams-and-bodies"
SSE_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
            b"Cache-Control: no-cache\r\n\r\n")


@functools.cache
def gzip_bomb(inflated_mib: int = 1024) -> bytes:
    """`inflated_mib` MiB of zeros as one gzip stream, about 1 KiB per MiB (1 GiB in 1 MB).

    Each MiB is compressed after a full flush, which resets the compressor, so every MiB after
    the first is the same bytes: built in milliseconds, not the seconds of compressing it all. The
    trailer is left off: no reader that stays bounded ever gets to it."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(1 << 20)
    first = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    again = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    return first + again * (inflated_mib - 1)


@functools.cache
def real_stream() -> bytes:
    """A recorded GLM stream (simple_streaming), as its SSE bytes."""
    path = next(_REAL.glob("*__simple_streaming__i0.response.sse"))
    return path.read_bytes()


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _read_request(conn: socket.socket) -> bool:
    """Read one request's head and its Content-Length body; False when the client went away."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return False
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            return False
        body += piece
    return True


def _gzip_bomb(conn: socket.socket) -> None:
    bomb = gzip_bomb()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nConnection: close\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(bomb) + bomb)


def _endless_line(conn: socket.socket) -> None:
    conn.sendall(SSE_HEAD + _chunk(b'data: {"choices": "'))
    piece = _chunk(b"x" * 65536)
    while True:
        conn.sendall(piece)


def _endless_stream(conn: socket.socket) -> None:
    event = (b'data: {"id":"1","created":1,"model":"glm-4.6","choices":[{"index":0,"delta":'
             b'{"role":"assistant","content":"and on "}}]}\n\n')
    conn.sendall(SSE_HEAD)
    piece = _chunk(event * 400)
    while True:
        conn.sendall(piece)


def _trickle(conn: socket.socket) -> None:
    """A byte of the stream every second: each read is in time, the answer never is."""
    conn.sendall(SSE_HEAD)
    for byte in real_stream():
        conn.sendall(_chunk(bytes([byte])))
        time.sleep(1.0)


def _endless_1xx(conn: socket.socket) -> None:
    while True:
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        time.sleep(0.5)


def _silent(conn: socket.socket) -> None:
    time.sleep(3600)


def _interim_then_stream(conn: socket.socket) -> None:
    """103 Early Hints and 100 Continue before a real stream: a client skips both."""
    conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
    conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n" + SSE_HEAD + _chunk(real_stream()) + b"0\r\n\r\n")


MODES: dict[str, Callable[[socket.socket], None]] = {
    "gzip_bomb": _gzip_bomb, "endless_line": _endless_line, "endless_stream": _endless_stream,
    "trickle": _trickle, "endless_1xx": _endless_1xx, "silent": _silent,
    "interim_then_stream": _interim_then_stream,
}
KEEP_ALIVE = {"interim_then_stream"}  # answers whole, so the connection may carry the next request


def _serve_connection(conn: socket.socket, answer: Callable[[socket.socket], None], again: bool) -> None:
    with conn:
        try:
            while _read_request(conn):
                answer(conn)
                if not again:
                    return
        except OSError:  # the client hung up, as it should
            return


def _accept(sock: socket.socket, mode: str) -> None:
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        threading.Thread(target=_serve_connection, args=(conn, MODES[mode], mode in KEEP_ALIVE),
                         daemon=True).start()


@contextmanager
def serving(mode: str, port: int = 0) -> Iterator[str]:
    """The base URL of a `mode` server on loopback, for as long as the block runs."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    threading.Thread(target=_accept, args=(sock, mode), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}{BASE_PATH}"
    finally:
        sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=sorted(MODES))
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with serving(args.mode, args.port) as url:
        print(url, flush=True)
        with suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
