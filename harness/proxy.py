"""`glm-harness proxy`: a checking proxy between an agent (Claude Code, an openai-SDK loop) and
GLM, a gateway, or the twin.

It listens on loopback and forwards every request to the upstream as it came (method, path,
query, headers, body; only hop-by-hop headers are dropped, and `Accept-Encoding` is pinned to
`identity` so that what passes through is what gets checked). Answers, streamed or not, go back to
the agent chunk by chunk as they arrive: the forwarding path only stamps and keeps each chunk.
When an exchange is over it is handed to one worker thread that rebuilds a `harness.client.Exchange`
from what passed, runs the named checks of its surface (`harness.surface`), reads the usage (cached and
reasoning tokens included) and its cost, keeps a scrubbed transcript (`--record`) and rewrites the
JSON report (`--out`) atomically, so that the report is complete and valid whenever the proxy is
stopped (SIGINT, SIGTERM), and a summary is printed on exit.

The upstream URL is an origin, optionally with a path prefix, to which the request's path is
appended: `--upstream https://api.z.ai` serves an agent whose base URL is
`http://127.0.0.1:PORT/api/paas/v4` or `http://127.0.0.1:PORT/api/anthropic`.

Memory is bounded per exchange: a request body over `MAX_REQUEST_BYTES` is refused (413) and not
forwarded; an answer is forwarded whole but only its first `MAX_KEPT_BYTES` are kept for checking
(an exchange over that is reported as not checked). The credential an agent sends is registered
with the scrubber the moment it is seen: it never reaches the report, a transcript or the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ._argtypes import PORT, output_dir, output_file
from ._conformance import Conformance, answer_of
from ._files import write_atomic
from .checks import CheckRun, Expect, Observed, check_exchange
from .client import Exchange, TimedEvent, tls_context, transport_error
from .errors import TransportError, TransportKind
from .mock.asgi import read_body
from .profiles import DEFAULT_PROFILE, PROFILES, Profile
from .scrub import Scrubber, register
from .sse import SSEDecoder
from .surface import Surface
from .targets import Secret, Target

log = logging.getLogger("glm-harness.proxy")

PROG = "glm-harness proxy"
REPORT_SCHEMA = "glm-harness-proxy/1"
MAX_REQUEST_BYTES = 32 * 1024 * 1024
MAX_KEPT_BYTES = 32 * 1024 * 1024
# No total deadline: an agent's answer may legitimately stream for minutes; a silent upstream is
# cut after `read` seconds without a byte.
UPSTREAM_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=60.0, pool=60.0)
_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length", "accept-encoding",
})
# An answer's Content-Length stays: with identity asked, the bytes passed on are the bytes counted.
_HOP_BY_HOP_ANSWER = _HOP_BY_HOP - {"content-length"}
_CREDENTIALS = ("authorization", "x-api-key", "api-key")


# -- surfaces ------------------------------------------------------------------------------------
def surface_of(path: str) -> Surface | None:
    """The surface whose generation endpoint `path` is (Claude Code's `?beta=true` is in the
    query, not the path); None for any other path (model lists, token counts), forwarded unchecked."""
    path = path.rstrip("/")
    return next((s for s in Surface if path.endswith(s.endpoint)), None)


# -- one exchange as it passed ---------------------------------------------------------------------
@dataclass(slots=True)
class Passed:
    """What went through for one request: kept cheaply on the forwarding path, judged later."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    sent_at: float = 0.0
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    kept: int = 0
    over_cap: bool = False
    error: tuple[TransportKind, str, str] | None = None  # a TransportError's fields: plain, picklable
    interrupted: bool = False
    hung_up: bool = False  # the agent left before the answer ended (the upstream is let go too)
    ended_at: float | None = None

    def take(self, data: bytes) -> None:
        at = time.perf_counter()
        if self.over_cap:
            return
        self.kept += len(data)
        if self.kept > MAX_KEPT_BYTES:
            self.over_cap, self.chunks = True, []
            return
        self.chunks.append((at, data))

    def credential(self) -> str | None:
        for name in _CREDENTIALS:
            value = self.headers.get(name, "").strip()
            if value:
                scheme, _, token = value.partition(" ")
                return token.strip() if scheme.lower() == "bearer" and token else value
        return None


def to_exchange(passed: Passed, upstream: str) -> Exchange:
    """The `Exchange` the checks read, rebuilt from the bytes that passed (events decoded here,
    off the forwarding path, with each event stamped by the arrival of the chunk that ended it)."""
    key = passed.credential()
    target = Target("live", upstream, "", Secret(key) if key else None)
    try:
        request = json.loads(passed.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        request = None
    exchange = Exchange(target, request if isinstance(request, dict) else {}, passed.sent_at,
                        url=upstream.rstrip("/") + passed.path,
                        raw_request=None if isinstance(request, dict) else passed.body,
                        status=passed.status, headers=dict(passed.response_headers),
                        chunks=list(passed.chunks), ended_at=passed.ended_at)
    if passed.error is not None:
        exchange.transport_error = TransportError(*passed.error)
    if "text/event-stream" in exchange.content_type:
        decoder = SSEDecoder()
        for at, data in exchange.chunks:
            exchange.events += [TimedEvent(at, e) for e in decoder.feed(data)]
        exchange.events += [TimedEvent(passed.ended_at or 0.0, e) for e in decoder.close()]
        exchange.sse_violations = list(decoder.violations)
    return exchange


# -- what the report says of an exchange -----------------------------------------------------------
def surface_checks(exchange: Exchange, profile: Profile = DEFAULT_PROFILE) -> CheckRun:
    """The named checks of the exchange's surface (`Exchange.surface`, from its URL), for the
    status that came: an error answer is judged as an error of that surface."""
    status = exchange.status if exchange.status is not None else 200
    return check_exchange(exchange, Expect(status=status), profile=profile)


def usage_of(surface: str, exchange: Exchange) -> dict[str, int] | None:
    """Tokens as both surfaces can say them: input (cached included), output, cached, reasoning."""
    if surface == "openai":
        usage = Observed(exchange).usage()
        if usage is None:
            return None
        prompt_details = usage.get("prompt_tokens_details") or {}
        completion_details = usage.get("completion_tokens_details") or {}
        return {"input_tokens": _int(usage.get("prompt_tokens")),
                "output_tokens": _int(usage.get("completion_tokens")),
                "cached_tokens": _int(prompt_details.get("cached_tokens")),
                "reasoning_tokens": _int(completion_details.get("reasoning_tokens"))}
    if surface == "anthropic":
        return _anthropic_usage(exchange)
    return None


def _anthropic_usage(exchange: Exchange) -> dict[str, int] | None:
    """Messages usage: `input_tokens` excludes the cache, so the input here adds cache reads and
    writes back; a stream says it in `message_start` and (the output) in `message_delta`."""
    found: dict[str, Any] = {}
    if exchange.events:
        for timed in exchange.events:
            try:
                data = json.loads(timed.event.data)
            except (json.JSONDecodeError, TypeError):
                continue
            if not isinstance(data, dict):
                continue
            message = data.get("message")
            usage = data.get("usage") or (message.get("usage") if isinstance(message, dict) else None)
            if isinstance(usage, dict):
                found.update({k: v for k, v in usage.items() if v is not None})
    else:
        try:
            body = json.loads(exchange.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        usage = body.get("usage") if isinstance(body, dict) else None
        found = usage if isinstance(usage, dict) else {}
    if not found:
        return None
    cached = _int(found.get("cache_read_input_tokens"))
    written = _int(found.get("cache_creation_input_tokens"))
    return {"input_tokens": _int(found.get("input_tokens")) + cached + written,
            "output_tokens": _int(found.get("output_tokens")), "cached_tokens": cached,
            "reasoning_tokens": 0}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _cost(model: str, usage: dict[str, int] | None) -> float | None:
    """USD from the dated price table; None (never 0) when the model or the table is unknown."""
    if usage is None or not model:
        return None
    try:
        from .bench.efficiency import cost_usd, load_prices, price_for
    except ImportError:  # the price table's reader comes with [bench]
        return None
    price = price_for(load_prices(), model)
    if price is None:
        return None
    return round(cost_usd(price, usage["input_tokens"], usage["cached_tokens"], usage["output_tokens"]), 8)


def _ms(at: float | None, since: float) -> float | None:
    return None if at is None else round((at - since) * 1000, 3)


def judge(passed: Passed, upstream: str, record: Path | None = None,
          profile: Profile = DEFAULT_PROFILE) -> Judged:
    """One exchange's report row and its part of the conformance tally. Runs in the judging
    process (`Proxy`), away from the forwarding loop; never raises: a broken exchange is a row."""
    try:
        return _judge(passed, upstream, record, profile)
    except Exception as error:  # a check that crashed must not lose the rest of the run
        log.exception("glm-harness proxy: could not judge %s", passed.path)
        return ({"path": passed.path, "status": passed.status, "checked": False,
                 "why_unchecked": f"judging failed: {type(error).__name__}", "violations": [],
                 "usage": None, "cost_usd": None, "timings": {}}, None)


Judged = tuple[dict[str, Any], dict[str, list[str]] | None]


def _judge(passed: Passed, upstream: str, record: Path | None, profile: Profile) -> Judged:
    key = passed.credential()
    if key:
        register(key)  # every later output of this process is scrubbed of it
    exchange = to_exchange(passed, upstream)
    surface = surface_of(passed.path)
    name = surface.value if surface else None
    model = str(exchange.request.get("model") or "")
    entry: dict[str, Any] = {
        "method": passed.method, "path": passed.path, "surface": name, "model": model or None,
        "stream": "text/event-stream" in exchange.content_type, "status": passed.status,
    }
    why = (None if surface is not None and passed.method == "POST" and not passed.over_cap
           and not passed.interrupted and not passed.hung_up else _why_unchecked(passed))
    violations: list[dict[str, str]] = []
    answer = None
    if why is None:
        run = surface_checks(exchange, profile)
        violations = [v.to_json() for v in run.violations]
        answer = answer_of(run)
    usage = usage_of(name or "", exchange) if not passed.over_cap else None
    chunk_ms = [_ms(at, passed.sent_at) for at, _ in passed.chunks]
    entry.update({
        "checked": why is None, "why_unchecked": why, "violations": violations,
        "usage": usage, "cost_usd": _cost(model, usage),
        "timings": {"ttft_ms": chunk_ms[0] if chunk_ms else None,
                    "total_ms": _ms(passed.ended_at, passed.sent_at),
                    "chunks": len(chunk_ms), "chunk_ms": chunk_ms},
        "transport_error": str(exchange.transport_error) if exchange.transport_error else None,
    })
    if record is not None and why is None:
        entry["transcript"] = _record(passed, exchange, f"proxy-{name}", record)
    return entry, answer


# An agent sends an account or device id here (Claude Code's `metadata.user_id`): not kept.
RECORD_SCRUBBED_FIELDS = ("user_id",)


def _record(passed: Passed, exchange: Exchange, scenario: str, folder: Path) -> str:
    """A scrubbed transcript with the headers and URL the agent really sent (its client's
    version, `anthropic-beta`, `?beta=true`), not those the harness would have sent."""
    from .transcript import from_exchange, save

    scrubber = Scrubber.for_target(exchange.target, RECORD_SCRUBBED_FIELDS)
    transcript = from_exchange(exchange, scrubber, scenario=scenario)
    sent = {k: v for k, v in passed.headers.items() if k not in _HOP_BY_HOP}
    url = exchange.url + (f"?{passed.query}" if passed.query else "")
    request = transcript.request.model_copy(update={"headers": scrubber.scrub_headers(sent),
                                                    "url": scrubber.scrub_text(url)})
    return save(transcript.model_copy(update={"request": request}), folder).name


def _why_unchecked(passed: Passed) -> str:
    if passed.interrupted:
        return "the proxy stopped before the answer ended"
    if passed.hung_up:
        return "the agent hung up before the answer ended"
    if passed.over_cap:
        return f"answer over {MAX_KEPT_BYTES} bytes: forwarded, not kept"
    return "not a generation endpoint"


class ProxyReport:
    """Every exchange the proxy saw, judged, in the order they were judged. `--out` is rewritten
    atomically as rows come (at most every `WRITE_EVERY_S`, and at the end); each row is
    serialised and scrubbed once, so a long session does not make each rewrite slower."""

    WRITE_EVERY_S = 0.2

    def __init__(self, upstream: str, out: Path | None = None, profile: Profile = DEFAULT_PROFILE) -> None:
        self.upstream = upstream
        self.out = out
        self.started = dt.datetime.now(dt.UTC)
        self.exchanges: list[dict[str, Any]] = []
        self.conformance = Conformance(profile)
        self._rows: list[str] = []
        self._lock = threading.RLock()
        self._written_at = 0.0
        self._pending: threading.Timer | None = None
        if out is not None:
            self.write()

    def add(self, judged: Judged) -> dict[str, Any]:
        entry, answer = judged
        with self._lock:
            entry = {"n": len(self.exchanges) + 1, **entry}
            self.exchanges.append(entry)
            self._rows.append(_scrubbed(json.dumps(entry, ensure_ascii=False)))
            if answer is not None:
                self.conformance.add(answer)
            if self.out is not None:
                self._write_soon()
        return entry

    def _write_soon(self) -> None:
        wait = self._written_at + self.WRITE_EVERY_S - time.monotonic()
        if wait <= 0:
            self.write()
        elif self._pending is None:
            self._pending = threading.Timer(wait, self.write)
            self._pending.daemon = True
            self._pending.start()

    def totals(self) -> dict[str, Any]:
        usages = [e["usage"] for e in self.exchanges if e.get("usage")]
        costs = [e["cost_usd"] for e in self.exchanges if e.get("cost_usd") is not None]
        return {
            "exchanges": len(self.exchanges),
            "checked": sum(1 for e in self.exchanges if e.get("checked")),
            "with_violations": sum(1 for e in self.exchanges if e.get("violations")),
            "violations": sum(len(e.get("violations") or ()) for e in self.exchanges),
            "usage": {k: sum(u[k] for u in usages) for k in
                      ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")}
            if usages else None,
            # a sum over some exchanges only would read as the whole run's: null unless all priced
            "cost_usd": round(sum(costs), 8) if costs and len(costs) == len(usages) else None,
        }

    def document(self) -> dict[str, Any]:
        with self._lock:
            return {**self._head(), "exchanges": [json.loads(row) for row in self._rows]}

    def _head(self) -> dict[str, Any]:
        return {"schema": REPORT_SCHEMA, "upstream": self.upstream,
                "started_at": self.started.isoformat(), "updated_at": dt.datetime.now(dt.UTC).isoformat(),
                "totals": self.totals(), "conformance": self.conformance.to_json()}

    def write(self) -> None:
        assert self.out is not None
        with self._lock:
            if self._pending is not None:
                self._pending.cancel()
                self._pending = None
            head = _scrubbed(json.dumps(self._head(), indent=2, ensure_ascii=False))
            rows = ",\n    ".join(self._rows)
            text = head[:-2] + (f',\n  "exchanges": [\n    {rows}\n  ]\n}}' if rows else ',\n  "exchanges": []\n}')
            write_atomic(self.out, text)
            self._written_at = time.monotonic()

    def summary(self) -> list[str]:
        totals = self.totals()
        lines = [f"{PROG}: {totals['exchanges']} exchange(s), {totals['checked']} checked, "
                 f"{totals['violations']} violation(s) in {totals['with_violations']} exchange(s)"]
        usage = totals["usage"]
        if usage:
            cost = f", cost ${totals['cost_usd']:.6f}" if totals["cost_usd"] is not None else ""
            lines.append(f"  tokens: input {usage['input_tokens']} (cached {usage['cached_tokens']}), "
                         f"output {usage['output_tokens']} (reasoning {usage['reasoning_tokens']}){cost}")
        for entry in self.exchanges:
            for violation in entry.get("violations") or ():
                lines.append(f"  #{entry['n']} {entry['path']}: [{violation['check']}] "
                             f"{violation['path']}: expected {violation['expected']}; got {violation['got']}")
        lines += self.conformance.lines()
        if self.out is not None:
            lines.append(f"  report: {self.out}")
        return lines


def _scrubbed(text: str) -> str:
    return Scrubber.for_target(None).scrub_text(text)


# -- the forwarding path ---------------------------------------------------------------------------
async def upstream_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The one place the proxy reads an upstream answer: the bytes as they came off the socket
    (with `Accept-Encoding: identity` asked, they are what the agent gets and what the checks
    read). Forwarded whole, whatever their size; what is kept for the checks is bounded by
    `MAX_KEPT_BYTES` (`Passed.take`), so no upstream can grow the proxy's memory past it. No total
    deadline: an agent's answer takes as long as the model does; a silent upstream is cut by
    `UPSTREAM_TIMEOUT` between two reads."""
    async for data in response.aiter_raw():
        yield data


class UpstreamBroke(Exception):
    """The upstream's answer broke mid-body: the agent's connection is dropped the same way."""


OnPassed = Callable[[Passed], None]


def proxy_app(upstream: str, on_passed: OnPassed) -> Any:
    """The proxy as an ASGI app: forwards to `upstream`, hands each finished exchange to
    `on_passed` (which must return at once: it runs on the forwarding loop)."""
    base = upstream.rstrip("/")
    state: dict[str, httpx.AsyncClient] = {}

    def client() -> httpx.AsyncClient:
        if "http" not in state:
            limits = httpx.Limits(max_connections=1024, max_keepalive_connections=256)
            state["http"] = httpx.AsyncClient(timeout=UPSTREAM_TIMEOUT, limits=limits,
                                              verify=tls_context(), follow_redirects=False)
        return state["http"]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, state)
            return
        if scope["type"] != "http":
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        body, oversized = await read_body(receive, MAX_REQUEST_BYTES, timeout_s=None)
        query = scope.get("query_string", b"").decode("latin-1")
        passed = Passed(scope["method"], scope["path"], query, {k.lower(): v for k, v in headers}, body)
        if oversized:
            await _answer(send, 413, f"request body over {MAX_REQUEST_BYTES} bytes: not forwarded")
            return
        forward = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]
        forward.append(("accept-encoding", "identity"))
        url = base + scope["path"] + (f"?{query}" if query else "")
        response: httpx.Response | None = None
        gone: asyncio.Future[Any] | None = None
        try:
            request = client().build_request(scope["method"], url, headers=forward, content=body)
            passed.sent_at = time.perf_counter()
            try:
                response = await client().send(request, stream=True)
            except httpx.HTTPError as error:
                passed.error = _failure(error)
                await _answer(send, 502, f"upstream unreachable: {type(error).__name__}")
                return
            passed.status = response.status_code
            passed.response_headers = {k.lower(): v for k, v in response.headers.items()}
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": [(k.encode("latin-1"), v.encode("latin-1"))
                                    for k, v in response.headers.items()
                                    if k.lower() not in _HOP_BY_HOP_ANSWER]})
            # The agent hanging up (Esc in Claude Code) ends the upstream's answer too: a live
            # model would otherwise go on generating, and billing, for no one.
            gone = asyncio.ensure_future(receive())
            try:
                async for data in upstream_chunks(response):
                    passed.take(data)
                    await send({"type": "http.response.body", "body": data, "more_body": True})
                    if gone.done():
                        passed.hung_up = True
                        return
            except httpx.HTTPError as error:
                passed.error = _failure(error)
                raise UpstreamBroke(f"upstream broke mid-answer: {type(error).__name__}") from None
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            passed.interrupted = True
            raise
        finally:
            if gone is not None:
                gone.cancel()
            passed.ended_at = time.perf_counter()
            if response is not None:
                await response.aclose()
            on_passed(passed)

    return app


def _failure(error: httpx.HTTPError) -> tuple[TransportKind, str, str]:
    failure = transport_error(error, UPSTREAM_TIMEOUT)
    return failure.kind, failure.name, failure.message


async def _answer(send: Any, status: int, message: str) -> None:
    """The proxy's own answer (never the upstream's): an OpenAI-style error body saying so."""
    body = json.dumps({"error": {"code": "proxy", "message": f"glm-harness proxy: {message}"}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _lifespan(receive: Any, send: Any, state: dict[str, httpx.AsyncClient]) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if "http" in state:
                await state.pop("http").aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return


# -- running it --------------------------------------------------------------------------------------
def _judge_init() -> None:
    # Ctrl-C reaches the whole process group: the proxy decides when judging stops, not the signal.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _QuietBreaks(logging.Filter):
    """An upstream that broke mid-answer, or an answer cut by the proxy stopping, is one line,
    not uvicorn's traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, UpstreamBroke):
            message = f"{PROG}: {error}"
        elif isinstance(error, asyncio.CancelledError):
            message = f"{PROG}: stopping: cut an unfinished answer short (listed as such)"
        else:
            return True
        record.msg, record.args, record.exc_info, record.exc_text = message, (), None, None
        return True


@dataclass
class RunningProxy:
    base_url: str  # http://127.0.0.1:PORT, to which an agent appends its API's path
    port: int
    upstream: str
    report: ProxyReport


class Proxy:
    """A proxy and its report; `run()` serves in the calling thread, `running()` in a background one."""

    def __init__(self, upstream: str, out: Path | None = None, record: Path | None = None,
                 host: str = "127.0.0.1", port: int = 0, judge_apart: bool = True,
                 profile: Profile = DEFAULT_PROFILE) -> None:
        import uvicorn

        from .mock.server import bind_loopback

        self.upstream, self.record, self.profile = upstream, record, profile
        self._handed = 0  # exchanges handed over for judging (`settle` waits for their rows)
        self.report = ProxyReport(upstream, out, profile)
        # One worker, so rows come in the order exchanges ended. In its own process by default:
        # judging a long stream holds the GIL for milliseconds, which a thread would add to the
        # chunks of every stream still passing (benchmarks/proxy_overhead.py measures it).
        self._judges: Executor = (
            ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_judge_init)
            if judge_apart else ThreadPoolExecutor(1, thread_name_prefix="glm-proxy-judge"))
        self._judges.submit(int).result()  # started now, not on the first exchange
        # httptools and uvloop where installed (the serve extra brings them): the forwarding
        # path's added delay per chunk at concurrency 1 falls from +0.53 to +0.33 ms (p50) and
        # +1.42 to +0.59 ms (p99) against h11 on asyncio's loop (benchmarks/proxy_overhead.py)
        config = uvicorn.Config(proxy_app(upstream, self._hand_over), http="auto", loop="auto", lifespan="on",
                                log_level="warning", access_log=False, timeout_keep_alive=30,
                                timeout_graceful_shutdown=2, server_header=False, date_header=False,
                                proxy_headers=False)
        self.server = uvicorn.Server(config)
        self.sock = bind_loopback(host, port, config.backlog)
        self.port = self.sock.getsockname()[1]
        uvicorn_log = logging.getLogger("uvicorn.error")
        if not any(isinstance(f, _QuietBreaks) for f in uvicorn_log.filters):
            uvicorn_log.addFilter(_QuietBreaks())

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _hand_over(self, passed: Passed) -> None:
        """Called on the forwarding loop when an exchange ends: returns at once."""
        self._handed += 1
        key = passed.credential()
        if key:
            register(key)  # the terminal and the report are written here
        try:
            future = self._judges.submit(judge, passed, self.upstream, self.record, self.profile)
        except RuntimeError:  # shutting down: judge it here, so the report still lists it
            self.report.add(judge(passed, self.upstream, self.record, self.profile))
            return
        future.add_done_callback(lambda done: self._landed(done, passed))

    def _landed(self, done: Future[Judged], passed: Passed) -> None:
        try:
            judged = done.result()
        except Exception:  # the judging process died (a signal to the whole group): judge here
            judged = judge(passed, self.upstream, self.record, self.profile)
        self.report.add(judged)

    def settle(self, timeout_s: float = 30.0) -> int:
        """Wait until every exchange that has ended is judged; the number of rows."""
        deadline = time.monotonic() + timeout_s
        while len(self.report.exchanges) < self._handed and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.report.exchanges)

    def run(self) -> None:
        """Serve until SIGINT or SIGTERM; the report is final when this returns or raises."""
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.close()

    def close(self) -> None:
        self._judges.shutdown(wait=True)
        self.sock.close()
        if self.report.out is not None:
            self.report.write()

    @contextmanager
    def running(self) -> Iterator[RunningProxy]:
        thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                  name=f"glm-proxy:{self.port}", daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while not self.server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"{PROG} on port {self.port} failed to start")
                time.sleep(0.005)
            yield RunningProxy(self.base_url, self.port, self.report.upstream, self.report)
        finally:
            self.server.should_exit = True
            thread.join(timeout=10)
            self.close()


@contextmanager
def running_proxy(upstream: str, out: Path | None = None, record: Path | None = None,
                  judge_apart: bool = False, profile: Profile = DEFAULT_PROFILE) -> Iterator[RunningProxy]:
    """A proxy in a background thread for the `with` block (tests); judging in a thread unless
    `judge_apart`."""
    with Proxy(upstream, out, record, judge_apart=judge_apart, profile=profile).running() as running:
        yield running


# -- command line ------------------------------------------------------------------------------------
def upstream_url(text: str) -> str:
    """argparse type: an http(s) origin (and path prefix) to forward to."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"expected an http(s) URL, got {text!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise argparse.ArgumentTypeError("the upstream URL takes no query, fragment or credentials "
                                         "(the agent's own key is forwarded)")
    return text.rstrip("/")


def add_proxy_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--upstream", type=upstream_url, default=None, metavar="URL",
        help="where to forward: an origin (and path prefix) the request's path is appended to, "
             "e.g. https://api.z.ai (default: the embedded twin)")
    add("--host", default="127.0.0.1", help="loopback address to listen on (default: %(default)s)")
    add("--port", type=PORT, default=8080, help="port, 0 for any free one (default: %(default)s)")
    add("--out", type=output_file(".json"), default=None, metavar="REPORT.json",
        help="JSON report of every exchange, rewritten as each one ends")
    add("--record", type=output_dir(), default=None, metavar="DIR",
        help="keep a scrubbed transcript of every checked exchange in DIR")
    add("--profile", choices=PROFILES, default=DEFAULT_PROFILE,
        help="glm (default): all of GLM's rules; openai-compatible: GLM-only rules reported as not applied")


def run_proxy(args: argparse.Namespace) -> int:
    with _upstream_or_twin(args.upstream) as upstream:
        proxy = Proxy(upstream, args.out, args.record, host=args.host, port=args.port, profile=args.profile)
        shown = "the embedded GLM twin (key: see harness.mock.TWIN_KEY)" if args.upstream is None else upstream
        print(f"{PROG}: listening on {proxy.base_url}, forwarding to {shown}; e.g. base URL "
              f"{proxy.base_url}/api/paas/v4 or {proxy.base_url}/api/anthropic", flush=True)
        try:
            proxy.run()
        finally:
            print("\n".join(proxy.report.summary()), flush=True)
    totals = proxy.report.totals()
    if not totals["checked"]:
        return 1  # it judged nothing: never a success
    return 1 if totals["violations"] else 0


@contextmanager
def _upstream_or_twin(upstream: str | None) -> Iterator[str]:
    if upstream is not None:
        yield upstream
        return
    from .mock.server import running_twin

    with running_twin() as twin:
        yield f"http://127.0.0.1:{twin.port}"


def main(argv: list[str] | None = None) -> int:
    from .cli import main as cli_main

    return cli_main(["proxy", *(argv or [])])


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "Passed",
    "Proxy",
    "ProxyReport",
    "RunningProxy",
    "add_proxy_arguments",
    "proxy_app",
    "run_proxy",
    "running_proxy",
    "surface_of",
    "to_exchange",
    "upstream_chunks",
    "upstream_url",
    "usage_of",
]
