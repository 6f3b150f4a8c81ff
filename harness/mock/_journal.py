"""The twin's request journal: the latest requests, for tests to inspect, in bounded memory.

A twin served for days must not keep every request it was sent: the journal holds the last
`max_requests` and at most `max_bytes` of their bodies, dropping the oldest first (the newest is
always kept, whatever its size, which the body cap bounds).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, overload

if TYPE_CHECKING:
    from .engine import WireRequest

MAX_REQUESTS = 1000
MAX_BYTES = 32 * 1024 * 1024


class Journal:
    def __init__(self, max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: deque[WireRequest] = deque(maxlen=max_requests)
        self._bytes = 0

    def append(self, request: WireRequest) -> None:
        if len(self._entries) == self._entries.maxlen:
            self._bytes -= len(self._entries[0].body)
        self._entries.append(request)
        self._bytes += len(request.body)
        while self._bytes > self.max_bytes and len(self._entries) > 1:
            self._bytes -= len(self._entries.popleft().body)

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[WireRequest]:
        return iter(self._entries)

    @overload
    def __getitem__(self, index: int) -> WireRequest: ...
    @overload
    def __getitem__(self, index: slice) -> list[WireRequest]: ...

    def __getitem__(self, index: int | slice) -> WireRequest | list[WireRequest]:
        if isinstance(index, slice):
            return list(self._entries)[index]
        return self._entries[index]
