"""argparse types shared by the subcommands: bad values become one line, never a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

N = TypeVar("N", int, float)


def at_least(kind: Callable[[str], N], minimum: float, *, strictly: bool = False) -> Callable[[str], N]:
    """`kind(text)`, refused when below `minimum` (or equal to it, if `strictly`)."""
    relation = ">" if strictly else ">="

    def convert(text: str) -> N:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (strictly and value == minimum):
            raise argparse.ArgumentTypeError(f"expected a number {relation} {minimum:g}, got {text!r}")
        return value

    convert.__name__ = getattr(kind, "__name__", "value")  # argparse names the type in its errors
    return convert
