"""A rich progress bar with live p50 TTFT and the error count, redrawn from the event loop.

Auto-refresh is off: rich's refresh thread would compete with the event loop for the GIL in the
middle of a measurement. The bar is redrawn from `advance()` at most `max_hz` times a second, and
the p50 over a bounded window of recent TTFTs keeps each redraw cheap.
"""

from __future__ import annotations

import time
from collections import deque

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
