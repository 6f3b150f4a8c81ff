"""The twin behind respx, with the sync and the async httpx clients."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from harness.contract import ChatCompletion, ChatCompletionChunk, Mode, validate
from harness.mock import (
    TWIN_KEY,
    Fault,
    FaultSpec,
    GLMTwin,
    Limits,
    Timing,
    TwinConfig,
    twin_router,
)
from harness.sse import decode_all
from harness.stream import read_stream

BASE = "https://api.z.ai/api/paas/v4"
URL = BASE + "/chat/completions"
AUTH = {"Authorization": f"Bearer {TWIN_KEY}"}
DONE = b"data: [DONE]\n\n"
SSE_TYPE = "text/event-stream;charset=UTF-8"
JSON_TYPE = "application/json; charset=UTF-8"


def body(stream: bool = False, **fields: Any) -> dict[str, Any]:
    return {"model": "glm-4.6", "messages": [{"role": "user", "content": "Hello there"}],
            "stream": stream, **fields}


def sse_chunks(raw: bytes) -> list[dict[str, Any]]:
    """The chunks of a stream that ends with data: [DONE], read by harness.stream."""
    assert raw.endswith(b"data: [DONE]\n\n")
    decoded, violations = decode_all(raw)
    assert violations == []
    return [e.data for e in read_stream(decoded).events]


def _assert_completion(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON_TYPE
    data = response.json()
    assert validate(ChatCompletion, data, Mode.STRICT).findings == []
    assert data["choices"][0]["finish_reason"] == "stop"
    return data


def _assert_stream(raw: bytes) -> list[dict[str, Any]]:
    assert raw.endswith(DONE)
    chunks = sse_chunks(raw)
    assert len(chunks) > 2
    for chunk in chunks:
        assert validate(ChatCompletionChunk, chunk, Mode.STRICT).findings == []
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    return chunks


# ---------------------------------------------------------------------------------------------
# Sync client
# ---------------------------------------------------------------------------------------------


def test_sync_non_streamed() -> None:
    twin = GLMTwin()
    with twin_router(twin), httpx.Client() as client:
        response = client.post(URL, headers=AUTH, json=body())
    data = _assert_completion(response)
    assert data["usage"]["total_tokens"] == (
        data["usage"]["prompt_tokens"] + data["usage"]["completion_tokens"])
    assert len(twin.requests) == 1
    assert twin.requests[0].method == "POST"
    assert twin.requests[0].path == "/api/paas/v4/chat/completions"
    assert json.loads(twin.requests[0].body) == body()
    assert twin.in_flight(TWIN_KEY) == 0


def test_sync_streamed_ttft() -> None:
    twin = GLMTwin(TwinConfig(timing=Timing(ttft_ms=30)))
    with twin_router(twin), httpx.Client() as client:
        start = time.perf_counter()
        with client.stream("POST", URL, headers=AUTH, json=body(stream=True)) as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == SSE_TYPE
            parts = response.iter_raw()
            first = next(parts)
            elapsed = time.perf_counter() - start
            raw = first + b"".join(parts)
    assert elapsed >= 0.03
    assert first.startswith(b"data: {")
    _assert_stream(raw)
    assert twin.in_flight(TWIN_KEY) == 0


def test_sync_non_streamed_waits_for_generation() -> None:
    twin = GLMTwin(TwinConfig(timing=Timing(ttft_ms=20, itl_ms=1)))
    with twin_router(twin), httpx.Client() as client:
        start = time.perf_counter()
        response = client.post(URL, headers=AUTH, json=body())
        elapsed = time.perf_counter() - start
    tokens = _assert_completion(response)["usage"]["completion_tokens"]
    assert elapsed >= 0.020 + (tokens - 1) * 0.001


def test_sync_error() -> None:
    with twin_router(GLMTwin()), httpx.Client() as client:
        response = client.post(URL, json=body())
    assert response.status_code == 401
    assert response.headers["content-type"] == JSON_TYPE
    assert response.json() == {"error": {"code": "1001", "message": "Authorization Token Missing"}}


@pytest.mark.parametrize(
    "base", ["https://api.z.ai/api/coding/paas/v4", "https://api.z.ai/api/paas/v4"]
)
def test_sync_base_paths(base: str) -> None:
    with twin_router(GLMTwin()), httpx.Client(base_url=base) as client:
        response = client.post("/chat/completions", headers=AUTH, json=body())
    _assert_completion(response)


def test_custom_base_url() -> None:
    base = "http://127.0.0.1:8123/v1"
    with twin_router(GLMTwin(), base_url=base), httpx.Client(base_url=base) as client:
        response = client.post("/chat/completions", headers=AUTH, json=body())
    _assert_completion(response)


def test_sync_reset_raises() -> None:
    twin = GLMTwin()
    twin.inject(FaultSpec(Fault.RESET_MID_STREAM, times=1))
    received = []
    with twin_router(twin), httpx.Client() as client:
        with (
            pytest.raises(httpx.RemoteProtocolError),
            client.stream("POST", URL, headers=AUTH, json=body(stream=True)) as response,
        ):
            assert response.status_code == 200
            for part in response.iter_raw():
                received.append(part)
        assert b"".join(received).count(b"data: {") == 3
        assert twin.in_flight(TWIN_KEY) == 0
        # the fault was armed once: the next stream is whole
        with client.stream("POST", URL, headers=AUTH, json=body(stream=True)) as response:
            _assert_stream(response.read())


def test_sync_slot_released_after_stream() -> None:
    twin = GLMTwin(TwinConfig(limits=Limits(max_concurrency=1)))
    with twin_router(twin), httpx.Client() as client:
        for _ in range(3):
            with client.stream("POST", URL, headers=AUTH, json=body(stream=True)) as response:
                assert response.status_code == 200
                assert twin.in_flight(TWIN_KEY) == 1
                blocked = client.post(URL, headers=AUTH, json=body())
                assert blocked.status_code == 429
                assert blocked.json()["error"]["code"] == "1302"
                raw = b"".join(response.iter_raw())
            _assert_stream(raw)
            assert twin.in_flight(TWIN_KEY) == 0


def test_sync_slot_released_after_non_streamed() -> None:
    twin = GLMTwin(TwinConfig(limits=Limits(max_concurrency=1)))
    with twin_router(twin), httpx.Client() as client:
        statuses = [client.post(URL, headers=AUTH, json=body()).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert twin.in_flight(TWIN_KEY) == 0


def test_sync_slot_released_when_closed_unread() -> None:
    twin = GLMTwin(TwinConfig(limits=Limits(max_concurrency=1)))
    with twin_router(twin), httpx.Client() as client:
        with client.stream("POST", URL, headers=AUTH, json=body(stream=True)) as response:
            assert response.status_code == 200
        assert twin.in_flight(TWIN_KEY) == 0


# ---------------------------------------------------------------------------------------------
# Async client
# ---------------------------------------------------------------------------------------------


def test_async_non_streamed() -> None:
    twin = GLMTwin()

    async def main() -> httpx.Response:
        async with httpx.AsyncClient() as client:
            return await client.post(URL, headers=AUTH, json=body())

    with twin_router(twin):
        response = asyncio.run(main())
    _assert_completion(response)
    assert twin.in_flight(TWIN_KEY) == 0


def test_async_streamed_ttft() -> None:
    twin = GLMTwin(TwinConfig(timing=Timing(ttft_ms=30)))

    async def main() -> tuple[float, bytes, str]:
        async with httpx.AsyncClient() as client:
            start = time.perf_counter()
            async with client.stream("POST", URL, headers=AUTH, json=body(stream=True)) as r:
                assert r.status_code == 200
                parts = []
                elapsed = 0.0
                async for part in r.aiter_raw():
                    if not parts:
                        elapsed = time.perf_counter() - start
                    parts.append(part)
                return elapsed, b"".join(parts), r.headers["content-type"]

    with twin_router(twin):
        elapsed, raw, content_type = asyncio.run(main())
    assert elapsed >= 0.03
    assert content_type == SSE_TYPE
    _assert_stream(raw)
    assert twin.in_flight(TWIN_KEY) == 0


def test_async_error() -> None:
    async def main() -> httpx.Response:
        async with httpx.AsyncClient() as client:
            return await client.post(URL, headers=AUTH, json=body(model="nope"))

    with twin_router(GLMTwin()):
        response = asyncio.run(main())
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "1211", "message": "Unknown Model, please check the model code."}


def test_async_reset_raises() -> None:
    twin = GLMTwin()
    twin.inject(Fault.RESET_MID_STREAM)
    received: list[bytes] = []

    async def main() -> None:
        async with (
            httpx.AsyncClient() as client,
            client.stream("POST", URL, headers=AUTH, json=body(stream=True)) as r,
        ):
            assert r.status_code == 200
            async for part in r.aiter_raw():
                received.append(part)

    with twin_router(twin), pytest.raises(httpx.RemoteProtocolError):
        asyncio.run(main())
    assert b"".join(received).count(b"data: {") == 3
    assert twin.in_flight(TWIN_KEY) == 0


def test_async_slot_released_after_stream() -> None:
    twin = GLMTwin(TwinConfig(limits=Limits(max_concurrency=1)))

    async def main() -> list[int]:
        seen = []
        async with httpx.AsyncClient() as client:
            for _ in range(3):
                async with client.stream("POST", URL, headers=AUTH,
                                         json=body(stream=True)) as r:
                    assert r.status_code == 200
                    seen.append(twin.in_flight(TWIN_KEY))
                    blocked = await client.post(URL, headers=AUTH, json=body())
                    assert blocked.status_code == 429
                    _assert_stream(b"".join([p async for p in r.aiter_raw()]))
                seen.append(twin.in_flight(TWIN_KEY))
        return seen

    with twin_router(twin):
        assert asyncio.run(main()) == [1, 0, 1, 0, 1, 0]


def test_async_concurrent_streams_share_the_limit() -> None:
    config = TwinConfig(timing=Timing(ttft_ms=20, itl_ms=1), limits=Limits(max_concurrency=2))
    twin = GLMTwin(config)

    async def one(client: httpx.AsyncClient) -> int:
        async with client.stream("POST", URL, headers=AUTH, json=body(stream=True)) as r:
            await r.aread()
            return r.status_code

    async def main() -> list[int]:
        async with httpx.AsyncClient() as client:
            return list(await asyncio.gather(*(one(client) for _ in range(3))))

    with twin_router(twin):
        statuses = asyncio.run(main())
    assert sorted(statuses) == [200, 200, 429]
    assert twin.in_flight(TWIN_KEY) == 0


def test_async_slot_released_when_abandoned() -> None:
    twin = GLMTwin(TwinConfig(limits=Limits(max_concurrency=1)))

    async def main() -> int:
        async with httpx.AsyncClient() as client:
            async with client.stream("POST", URL, headers=AUTH, json=body(stream=True)) as r:
                async for _ in r.aiter_raw():
                    break
            return twin.in_flight(TWIN_KEY)

    with twin_router(twin):
        assert asyncio.run(main()) == 0
