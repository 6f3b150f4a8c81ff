"""A rich progress bar with live p50 TTFT and the error count, redrawn from the event loop.

Auto-refresh is off: rich's refresh thread would compete with the event loop for the GIL in the
middle of a measurement. The bar is redrawn from `advance()` at most `max_hz` times a second, and
the p50 over a bounded window of recent TTFTs keeps each redraw cheap. `LineProgress` is the
same for a log: plain lines, one every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import deque
from collections.abc import Callable

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from .metrics import Sample


class BenchProgress:
    def __init__(self, console: Console | None = None, max_hz: float = 4.0, window: int = 512):
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("p50 TTFT {task.fields[ttft]}"), TextColumn("errors {task.fields[errors]}"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True), auto_refresh=False, transient=False,
        )
        self._period = 1.0 / max_hz
        self._ttfts: deque[float] = deque(maxlen=window)
        self._errors = 0
        self._task: TaskID | None = None
        self._started = False
        self._drawn = 0.0

    def start_level(self, name: str, total: int) -> None:
        if not self._started:
            self._progress.start()
            self._started = True
        self._ttfts.clear()
        self._errors = 0
        self._task = self._progress.add_task(name, total=total, ttft="-", errors=0)
        self._progress.refresh()

    def advance(self, sample: Sample) -> None:
        if self._task is None or sample.phase == "warmup":
            return
        if sample.ttft_ms is not None:
            self._ttfts.append(sample.ttft_ms)
        self._errors += 0 if sample.ok else 1
        self._progress.advance(self._task)
        now = time.perf_counter()
        if now - self._drawn >= self._period:
            self._draw()
            self._drawn = now

    def _draw(self) -> None:
        if self._task is None:
            return
        ttft = f"{np.median(self._ttfts):.1f} ms" if self._ttfts else "-"
        self._progress.update(self._task, ttft=ttft, errors=self._errors)
        self._progress.refresh()

    def end_level(self) -> None:
        if self._task is not None:
            self._draw()
            self._task = None

    def close(self) -> None:
        if self._started:
            self._progress.stop()
            self._started = False


class LineProgress:
    """Progress for a log, not a terminal (CI, a pipe): one line per level started and ended,
    and one every `every_s` seconds while a level runs, even when nothing has finished (a
    silent server must not look like a hung harness)."""

    def __init__(self, every_s: float = 5.0, write: Callable[[str], None] | None = None) -> None:
        self.every_s = every_s
        self._write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self._name, self._total, self._done, self._errors = "", 0, 0, 0
        self._started = 0.0
        self._ticker: asyncio.Task[None] | None = None

    def start_level(self, name: str, total: int) -> None:
        self._name, self._total, self._done, self._errors = name, total, 0, 0
        self._started = time.perf_counter()
        self._write(f"{name}: started, {total} requests")
        with contextlib.suppress(RuntimeError):  # no running loop: lines at start and end only
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    def advance(self, sample: Sample) -> None:
        if sample.phase == "warmup":
            return
        self._done += 1
        self._errors += 0 if sample.ok else 1

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            self._write(self._line("running"))

    def _line(self, state: str) -> str:
        return (f"{self._name}: {state}, {self._done}/{self._total} done, {self._errors} errors, "
                f"{time.perf_counter() - self._started:.0f} s")

    def end_level(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        if self._name:  # a level interrupted in its warm-up never started
            self._write(self._line("ended"))
            self._name = ""

    def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
