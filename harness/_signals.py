"""Exit statuses for signals, as shells and other tools report them: 128 + the signal number.

Ctrl-C (SIGINT) ends a command with 130 and SIGTERM with 143, so a CI runner or a supervisor
can tell "stopped by the user" from "stopped by the system" from a failed check.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

EXIT_SIGINT = 128 + signal.SIGINT
EXIT_SIGTERM = 128 + signal.SIGTERM


class Terminated(BaseException):
    """SIGTERM arrived; unwinds like KeyboardInterrupt so `finally` blocks still run."""


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Terminated


@contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """While inside, SIGTERM raises `Terminated` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


@contextmanager
def interrupt_as_keyboard_interrupt() -> Iterator[None]:
    """While inside, Ctrl-C raises KeyboardInterrupt (Python's default), whatever handler the
    console script set while the modules loaded (harness._entry); main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)
