"""A live target that has stopped answering. Each request waits at most --glm-read-timeout; after
`HUNG_AFTER` requests in a row that got no byte in time, the plugin takes the target as hung and
fails the remaining tests at once, so a dead server costs a run seconds, not minutes per test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .client import Exchange, OnExchange

HUNG_AFTER = 3


class _Observed(Protocol):
    on_exchange: OnExchange | None


@dataclass
class Silence:
    in_a_row: int = 0

    def note(self, exchange: Exchange) -> None:
        failure = exchange.transport_error
        timed_out = failure is not None and failure.kind == "timeout"
        self.in_a_row = self.in_a_row + 1 if timed_out else 0

    @property
    def hung(self) -> bool:
        return self.in_a_row >= HUNG_AFTER

    def watch(self, client: _Observed) -> None:
        """Note every exchange of `client`, after whatever else observes it (recording)."""
        before = client.on_exchange

        def observe(exchange: Exchange) -> None:
            if before is not None:
                before(exchange)
            self.note(exchange)

        client.on_exchange = observe
