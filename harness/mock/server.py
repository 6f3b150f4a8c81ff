"""The twin over real sockets: uvicorn serving `twin_app`, on loopback only.

`serve()` blocks (the CLI's `glm-harness serve`, and `python -m harness.mock.server`);
`running_twin()` runs one in a background thread for tests and benchmarks. Either way the
listening socket is bound here, before uvicorn starts, so a busy port or a non-loopback host is
a one-line `UsageError` and never a traceback or a server reachable from another machine.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import math
import socket
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, cast
from urllib.parse import urlsplit

import uvicorn

from .._argtypes import PORT, at_least
from ..errors import UsageError
from .asgi import StreamReset, twin_app
from .config import Limits, Timing, TwinConfig, TwinProfile
from .engine import GLMTwin
from .faults import FaultSpec, parse_fault
from .messages import ANTHROPIC_BASE_PATH
from .replay import ReplayTwin
from .scenarios import Style

PROG = "glm-harness serve"
_START_TIMEOUT_S = 10.0


# What `serve` can serve; the adapters take any `harness.mock.Handler`.
AnyTwin = GLMTwin | ReplayTwin


@dataclass(frozen=True, slots=True)
class RunningTwin:
    base_url: str
    twin: GLMTwin  # a ReplayTwin when `running_twin()` was given one
    port: int

    @property
    def anthropic_base_url(self) -> str:
        """The Anthropic-compatible surface's base URL (clients append `/v1/messages`)."""
        return _origin(self.base_url) + ANTHROPIC_BASE_PATH


# -- loopback only ------------------------------------------------------------------------------
def _loopback_address(host: str) -> str:
    """The IP literal to bind for `host`, or UsageError if it is not loopback."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise UsageError(
            f"refusing to listen on {host!r}: the twin serves loopback only "
            "(127.0.0.0/8, localhost, ::1)"
        )
    return str(address)


def bind_loopback(host: str, port: int, backlog: int = 4096) -> socket.socket:
    """A listening TCP socket on a loopback address (UsageError for any other host)."""
    address = _loopback_address(host)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when the listening
    # socket names its protocol, and without it Nagle holds a first chunk ~40 ms behind headers.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(backlog)  # accepting (queued) from here on, before uvicorn's loop runs
    except OSError as error:
        sock.close()
        raise UsageError(f"cannot listen on {address}:{port}: {error.strerror or error}") from None
    sock.set_inheritable(True)
    return sock


def _url(sock: socket.socket, twin: AnyTwin) -> tuple[str, int]:
    address, port = sock.getsockname()[:2]
    shown = f"[{address}]" if ":" in address else address
    base_path = twin.base_path if isinstance(twin, ReplayTwin) else twin.config.base_paths[0]
    return f"http://{shown}:{port}{base_path}", port


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# -- uvicorn --------------------------------------------------------------------------------------
class _QuietResets(logging.Filter):
    """Streams the twin cuts on purpose log one line, not a traceback: a `reset_mid_stream`
    fault (at INFO), or a stream still open when the server stops (at WARNING)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, StreamReset):
            message, level = "twin fault: dropped a connection mid-stream", logging.INFO
        elif isinstance(error, asyncio.CancelledError):
            message, level = "twin stopping: cut an unfinished stream short", logging.WARNING
        else:
            return True
        record.msg, record.args, record.exc_info, record.exc_text = message, (), None, None
        record.levelno, record.levelname = level, logging.getLevelName(level)
        return logging.getLogger(record.name).isEnabledFor(level)


def _server(twin: AnyTwin, log_level: str, graceful_s: int | None) -> uvicorn.Server:
    config = uvicorn.Config(
        twin_app(twin),
        http="h11",
        loop="auto",
        lifespan="on",
        log_level=log_level,
        access_log=False,
        timeout_keep_alive=30,
        backlog=4096,
        timeout_graceful_shutdown=graceful_s,
        server_header=False,
        proxy_headers=False,
    )
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietResets) for f in logger.filters):
        logger.addFilter(_QuietResets())
    return uvicorn.Server(config)


def serve(twin: AnyTwin, host: str = "127.0.0.1", port: int = 8000,
          log_level: str = "warning") -> None:
    """Serve the twin (or a replay) until interrupted (Ctrl-C / SIGTERM). Loopback hosts only."""
    server = _server(twin, log_level, graceful_s=5)
    sock = bind_loopback(host, port, server.config.backlog)
    url, _ = _url(sock, twin)
    if isinstance(twin, ReplayTwin):
        print(f"GLM twin replaying {len(twin.transcripts)} transcript(s) on {url} "
              f"(speed x{twin.speed:g}, match by {twin.match}; any key)", flush=True)
    else:
        print(f"GLM twin listening on {url} and {_origin(url)}{ANTHROPIC_BASE_PATH} (Anthropic-compatible) "
              "(key: see harness.mock.TWIN_KEY)", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


@contextmanager
def running_twin(twin: AnyTwin | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> Iterator[RunningTwin]:
    """Run a twin in a background thread for the duration of the `with` block."""
    twin = twin or GLMTwin()
    server = _server(twin, "warning", graceful_s=1)
    sock = bind_loopback(host, port, server.config.backlog)
    url, real_port = _url(sock, twin)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as error:
            failure.append(error)

    thread = threading.Thread(target=run, name=f"glm-twin:{real_port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                reason = repr(failure[0]) if failure else "did not start in time"
                raise RuntimeError(f"GLM twin on port {real_port} failed to start: {reason}")
            time.sleep(0.005)
        yield RunningTwin(base_url=url, twin=cast(GLMTwin, twin), port=real_port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)
        sock.close()


# -- command line ---------------------------------------------------------------------------------
def _fault(text: str) -> FaultSpec:
    try:
        return parse_fault(text)
    except ValueError as error:
        message = str(error) if str(error).startswith("unknown fault") else (
            f"invalid fault {text!r}: expected NAME[:TIMES[:STALL_SECONDS]]")
        raise argparse.ArgumentTypeError(message) from None


def _rate(text: str) -> tuple[int, float]:
    count, slash, seconds = text.partition("/")
    try:
        n, per = int(count), float(seconds) if slash else 60.0
    except ValueError:
        n, per = 0, 0.0
    if n < 1 or not 0 < per < math.inf:
        raise argparse.ArgumentTypeError(
            f"invalid rate limit {text!r}: expected N/SECONDS, e.g. 60/60")
    return n, per


def add_serve_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The `serve` options; shared by `python -m harness.mock.server` and `glm-harness serve`."""
    nn_float, nn_int = at_least(float, 0), at_least(int, 0)
    style, timing = Style(), Timing()
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="loopback address to listen on (default: %(default)s)")
    add("--port", type=PORT, default=8000, help="port, 0 for any free one (default: %(default)s)")
    add("--ttft-ms", type=nn_float, default=timing.ttft_ms, help="mean time to first token")
    add("--itl-ms", type=nn_float, default=timing.itl_ms, help="mean inter-token gap")
    add("--jitter", type=nn_float, default=timing.jitter,
        help="coefficient of variation of the gaps (gamma distributed)")
    add("--seed", type=int, default=timing.seed, help="seed for the jitter draws")
    add("--fault", type=_fault, action="append", default=[], metavar="FAULT",
        help="inject a fault: NAME[:TIMES[:STALL_S]] (repeatable)")
    add("--rate-limit", type=_rate, default=None, metavar="N/SECONDS",
        help="allow N requests per SECONDS per key, then 429 code 1302")
    add("--max-concurrency", type=at_least(int, 1), default=None, metavar="N",
        help="concurrent requests per key before 429 code 1302")
    add("--retry-after", action="store_true", help="send Retry-After on 429 (real GLM does not)")
    add("--locale", choices=("en", "zh"), default="en", help="language of error messages")
    add("--profile", choices=[p.value for p in TwinProfile], default=TwinProfile.API_2026.value,
        help="which era of the API to speak: 2026 (today's shapes) or 2025 (the 2025 recordings'; "
             "on /api/anthropic, GLM's own error envelope instead of Anthropic's)")
    add("--reply-tokens", type=nn_int, default=style.reply_tokens, help="content tokens per reply")
    add("--reasoning-tokens", type=nn_int, default=style.reasoning_tokens,
        help="reasoning tokens per reply (when thinking)")
    replay = parser.add_argument_group("replay (instead of the simulated twin)")
    replay.add_argument("--replay", nargs="+", type=_existing_path, default=None, metavar="PATH",
                        help="answer with recorded transcripts (files, or directories of *.json), "
                             "byte for byte on the recorded clock")
    replay.add_argument("--replay-speed", type=at_least(float, 0, strictly=True), default=1.0, metavar="X",
                        help="play the recorded timing X times faster (default: %(default)s)")
    replay.add_argument("--replay-match", choices=("sequence", "request"), default="sequence",
                        help="answer in recorded order, cycling (default), or by the request's "
                             "model and messages")
    add("--log-level", default="warning",
        choices=("critical", "error", "warning", "info", "debug"), help=argparse.SUPPRESS)
    return parser


def _existing_path(text: str) -> Path:
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such transcript file or directory: {text!r}")
    return path


def twin_from_args(args: argparse.Namespace) -> AnyTwin:
    """The twin the parsed `serve` options describe: a `ReplayTwin` with `--replay`, else a
    simulated `GLMTwin`. UsageError if the transcripts cannot be read."""
    paths = getattr(args, "replay", None)
    if not paths:
        return GLMTwin(config_from_args(args))
    try:
        return ReplayTwin.from_paths(paths, speed=args.replay_speed, match=args.replay_match)
    except (OSError, ValueError) as error:
        first = str(error).splitlines()[0]
        raise UsageError(f"cannot replay {' '.join(map(str, paths))}: {first}") from None


def config_from_args(args: argparse.Namespace) -> TwinConfig:
    """The TwinConfig the parsed `serve` options describe."""
    faults = tuple(f if isinstance(f, FaultSpec) else _fault(f) for f in args.fault or ())
    rate = args.rate_limit
    if isinstance(rate, str):
        rate = _rate(rate)
    requests, per_seconds = rate if rate is not None else (None, Limits().per_seconds)
    return TwinConfig(
        timing=Timing(ttft_ms=args.ttft_ms, itl_ms=args.itl_ms, jitter=args.jitter, seed=args.seed),
        limits=Limits(requests=requests, per_seconds=per_seconds,
                      max_concurrency=args.max_concurrency, retry_after=args.retry_after),
        style=Style(reply_tokens=args.reply_tokens, reasoning_tokens=args.reasoning_tokens),
        faults=faults,
        locale=args.locale,
        profile=TwinProfile(getattr(args, "profile", TwinProfile.API_2026.value)),
    )


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m harness.mock.server [options]`; returns the exit status (2: bad usage)."""
    parser = add_serve_arguments(_OneLineParser(
        prog=PROG, description="Serve the GLM twin on loopback."))
    try:
        args = parser.parse_args(argv)
        twin = twin_from_args(args)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    except (UsageError, argparse.ArgumentTypeError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    try:
        serve(twin, host=args.host, port=args.port, log_level=args.log_level)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
