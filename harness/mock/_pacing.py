"""When each step of a reply goes out: at its deadline from the start of the stream.

Sleeping step by step would let every timer's overshoot (asyncio wakes up to 1 ms late) pile
up over a stream; measuring each wait against an absolute deadline keeps the error per chunk,
not per stream. `precise` spins through the last millisecond instead of trusting the timer: a
replay promises chunk times within 2 ms of the recording, and costs a little CPU for it.
"""

from __future__ import annotations

import asyncio
import time

_SPIN_S = 0.001
# asyncio's selector rounds every timer wait *up* to a whole millisecond, so a plain wait lands
# 0-1 ms late; asking for half a millisecond less centres the error on the deadline.
_TIMER_ROUNDING_S = 0.0005


class Pacer:
    """Deadlines count from `start`: the moment the request arrived, so the twin's own work
    (validation, rendering) is inside its time to first token rather than added to it."""

    def __init__(self, precise: bool = False, start: float | None = None) -> None:
        self._start = time.perf_counter() if start is None else start
        self._due = 0.0
        self._precise = precise

    def deadline(self, delay_s: float) -> float:
        self._due += delay_s
        return self._start + self._due

    def sleep_until(self, deadline: float, cap_s: float | None = None) -> None:
        left = _left(deadline, cap_s)
        if self._precise and cap_s is None:
            time.sleep(max(0.0, left - _SPIN_S))
            while time.perf_counter() < deadline:
                pass
        elif left > 0:
            time.sleep(left)

    async def asleep_until(self, deadline: float, cap_s: float | None = None) -> None:
        left = _left(deadline, cap_s)
        if self._precise and cap_s is None:
            await asyncio.sleep(max(0.0, left - _SPIN_S))
            while time.perf_counter() < deadline:
                await asyncio.sleep(0)
        elif left > 0:
            await asyncio.sleep(max(0.0, left - _TIMER_ROUNDING_S))


def _left(deadline: float, cap_s: float | None) -> float:
    left = max(0.0, deadline - time.perf_counter())
    return left if cap_s is None else min(left, cap_s)
