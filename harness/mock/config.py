"""How a twin behaves: its keys, limits, timing and answer style. Plain data, no behaviour."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from enum import StrEnum

from .faults import FaultSpec
from .scenarios import Style

# Well-formed like real keys (`<id>.<secret>`); public constants that open only the twin.
TWIN_KEY = "7f3c0a1e9b2d4c6f8a0b1c2d3e4f5a6b.TwinKeyForTests"
EXPIRED_KEY = "0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e.ExpiredTwinKey00"
EMPTY_BALANCE_KEY = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0.NoBalanceTwinKey"




class TwinProfile(StrEnum):
    """Which era of the real API the twin speaks: today's (2026) or the 2025 recordings'.

    2026 adds `object`, `usage.completion_tokens_details` (for models whose card says so),
    content beside tool calls and `call_-<int64>` tool-call ids; 2025 has none of these."""

    API_2025 = "2025"
    API_2026 = "2026"


class KeyState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    NO_BALANCE = "no_balance"


@dataclass(frozen=True, slots=True)
class Timing:
    """Time to first token and inter-token gaps; `jitter` is the gaps' coefficient of variation.

    With jitter the gaps follow a gamma distribution with the given mean, drawn from a generator
    seeded per request, so a benchmark can compare what it measured with what was sent.
    """

    ttft_ms: float = 0.0
    itl_ms: float = 0.0
    jitter: float = 0.0
    seed: int = 0

    def draw(self, mean_ms: float, rng: random.Random) -> float:
        if mean_ms <= 0:
            return 0.0
        if self.jitter <= 0:
            return mean_ms / 1000
        shape = 1 / self.jitter**2
        return rng.gammavariate(shape, mean_ms / shape) / 1000


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-key limits; `None` is unlimited. Real GLM sends no Retry-After, hence the default."""

    requests: int | None = None
    per_seconds: float = 60.0
    max_concurrency: int | None = None
    retry_after: bool = False

    def retry_after_header(self, wait_s: float) -> dict[str, str]:
        return {"Retry-After": str(max(1, math.ceil(wait_s)))} if self.retry_after else {}


def _default_keys() -> dict[str, KeyState]:
    return {
        TWIN_KEY: KeyState.ACTIVE,
        EXPIRED_KEY: KeyState.EXPIRED,
        EMPTY_BALANCE_KEY: KeyState.NO_BALANCE,
    }


@dataclass(frozen=True, slots=True)
class TwinConfig:
    keys: dict[str, KeyState] = field(default_factory=_default_keys)
    timing: Timing = field(default_factory=Timing)
    limits: Limits = field(default_factory=Limits)
    style: Style = field(default_factory=Style)
    faults: tuple[FaultSpec, ...] = ()
    locale: str = "en"
    profile: TwinProfile = TwinProfile.API_2026
    base_paths: tuple[str, ...] = ("/api/paas/v4", "/api/coding/paas/v4", "/v1")
