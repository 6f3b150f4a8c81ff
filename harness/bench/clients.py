"""Connection pools sized for load generation: one small httpx pool per group of slots.

httpcore's connection pool rescans every connection for every queued request each time a
request starts or ends (O(connections x requests) per pass; encode/httpcore#1035, fixed only in
the httpx2 fork). At 256 connections in one pool that bookkeeping took ~80% of the client's CPU
and stalled the event loop for up to a second, so chunk timestamps were late by as much. Giving
each group of `SHARD_SIZE` slots its own `AsyncGLMClient` (and httpx pool) keeps every pass
small; a slot always uses the same shard, so its connection stays warm.

Against a server over the network the shards are `BenchHTTPClient`s (harness.bench.transport):
reads stamped as they land, parsed after the response, at about the CPU per chunk of a bare
asyncio reader. The in-process twin answers through httpx's mock transport (respx), so it keeps
httpx, as does any run given `fast=False`.
"""

from __future__ import annotations

import httpx

from ..client import AsyncGLMClient, tls_context
from ..targets import MOCK_ANTHROPIC_BASE_URL, MOCK_BASE_URL, Target
from .transport import BenchHTTPClient

SHARD_SIZE = 16


class ShardedClient:
    def __init__(self, target: Target, *, slots: int, timeout: httpx.Timeout | float,
                 shard_size: int = SHARD_SIZE, fast: bool | None = None) -> None:
        self.target = target
        self.shard_size = shard_size
        count = max(1, -(-slots // shard_size))
        if fast if fast is not None else target.base_url not in (MOCK_BASE_URL, MOCK_ANTHROPIC_BASE_URL):
            connect = timeout.connect if isinstance(timeout, httpx.Timeout) else timeout
            # None for plain HTTP: the bench transport then never touches TLS.
            tls = tls_context() if target.base_url.startswith("https:") else None
            self._clients: list[AsyncGLMClient | BenchHTTPClient] = [
                BenchHTTPClient(target, connect_timeout_s=connect or 10.0, tls=tls)
                for _ in range(count)]
            return
        limits = httpx.Limits(max_connections=shard_size, max_keepalive_connections=shard_size)
        self._clients = [
            AsyncGLMClient(target, http=httpx.AsyncClient(timeout=timeout, limits=limits, verify=tls_context()))
            for _ in range(count)
        ]

    @classmethod
    def single(cls, client: AsyncGLMClient) -> ShardedClient:
        """Wrap one existing client (tests, small runs): every slot shares it."""
        sharded = cls.__new__(cls)
        sharded.target = client.target
        sharded.shard_size = 1 << 30
        sharded._clients = [client]
        return sharded

    def for_slot(self, slot: int) -> AsyncGLMClient | BenchHTTPClient:
        return self._clients[(slot // self.shard_size) % len(self._clients)]

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def __aenter__(self) -> ShardedClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
