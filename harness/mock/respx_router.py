"""The in-process adapter: the twin behind a respx router, for pytest.

Responses are built per call, and streams are real timed byte streams that work with both the
sync and the async httpx client, so TTFT and gaps are felt by the code under test.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import httpx
import respx

from ._pacing import Pacer
from .engine import Handler, Reply, WireRequest
from .render import Step

DEFAULT_BASE_URL = "https://api.z.ai/api/paas/v4"


class _ScriptStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Sleeps as the script says; a gap longer than the client's read timeout ends in
    `httpx.ReadTimeout`, as it would on a socket (respx has none to time out on)."""

    def __init__(self, reply: Reply, read_timeout: float | None, received: float) -> None:
        self._reply = reply
        self._read_timeout = read_timeout
        self._received = received

    def __iter__(self) -> Iterator[bytes]:
        pacer = Pacer(self._reply.precise, start=self._received)
        try:
            for step in self._steps():
                if step.delay_s:
                    pacer.sleep_until(pacer.deadline(step.delay_s), self._stall_cap(step))
                    self._check_timeout(step)
                yield from _emit(step)
        finally:
            self._reply.close()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pacer = Pacer(self._reply.precise, start=self._received)
        try:
            for step in self._steps():
                if step.delay_s:
                    await pacer.asleep_until(pacer.deadline(step.delay_s), self._stall_cap(step))
                    self._check_timeout(step)
                for data in _emit(step):
                    yield data
        finally:
            self._reply.close()

    def _stall_cap(self, step: Step) -> float | None:
        """A gap longer than the read timeout is only waited out up to the timeout."""
        timeout = self._read_timeout
        return timeout if timeout is not None and step.delay_s > timeout else None

    def _check_timeout(self, step: Step) -> None:
        if self._read_timeout is not None and step.delay_s > self._read_timeout:
            raise httpx.ReadTimeout(f"no data for {self._read_timeout:g} s (twin stall)")

    def close(self) -> None:
        """httpx closes a response that was never read; the slot must come back all the same."""
        self._reply.close()

    async def aclose(self) -> None:
        self._reply.close()

    def _steps(self) -> list[Step]:
        """A plain reply is one step: the whole body after the time it took to generate."""
        reply = self._reply
        return reply.script if reply.script is not None else [Step(reply.delay_s, reply.body)]


def _emit(step: Step) -> Iterator[bytes]:
    if step.reset:
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
    if step.data:
        yield step.data


def _to_httpx(reply: Reply, request: httpx.Request, received: float) -> httpx.Response:
    read_timeout = request.extensions.get("timeout", {}).get("read")
    stream = _ScriptStream(reply, read_timeout, received)
    return httpx.Response(reply.status, headers=reply.headers, stream=stream)


def twin_router(twin: Handler, base_url: str = DEFAULT_BASE_URL, **router_kwargs: object) -> respx.MockRouter:
    """A respx router that answers every request to `base_url`'s host with the twin."""
    url = httpx.URL(base_url)
    router = respx.MockRouter(assert_all_called=False, **router_kwargs)  # type: ignore[arg-type]
    # respx matches port None as "no port given", so only pin it when the URL names one.
    route = (router.route(scheme=url.scheme, host=url.host) if url.port is None
             else router.route(scheme=url.scheme, host=url.host, port=url.port))
    def answer(request: httpx.Request) -> httpx.Response:
        received = time.perf_counter()
        return _to_httpx(twin.handle(_wire(request)), request, received)

    route.side_effect = answer
    return router


def _wire(request: httpx.Request) -> WireRequest:
    return WireRequest(request.method, request.url.path, dict(request.headers), request.read())
