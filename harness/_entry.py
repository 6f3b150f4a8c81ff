"""The `glm-harness` console script. Starting takes most of a second (the command's modules are
imported first); Ctrl-C in that second ends it as Ctrl-C does later on, with 130 and one line,
not a traceback out of an import."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def _interrupted(signum: int, frame: FrameType | None) -> None:
    sys.stderr.write("glm-harness: interrupted\n")
    sys.stderr.flush()
    os._exit(128 + signal.SIGINT)  # nothing is open yet that would need closing


def main() -> int:
    signal.signal(signal.SIGINT, _interrupted)
    from .cli import main as run  # cli.main puts Ctrl-C back to KeyboardInterrupt, inside its guard

    return run()
