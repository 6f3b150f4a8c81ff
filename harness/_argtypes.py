"""argparse types shared by the subcommands: bad values become one line, never a traceback.

Output paths are checked when the arguments are parsed, before anything runs, so a run is
never lost because its report could not be written at the end.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ._files import check_output
from .errors import UsageError

N = TypeVar("N", int, float)


def at_least(kind: Callable[[str], N], minimum: float, *, strictly: bool = False,
             maximum: float | None = None) -> Callable[[str], N]:
    """`kind(text)`, refused when not finite, below `minimum` (or equal to it, if `strictly`)
    or above `maximum`."""
    relation = ">" if strictly else ">="
    wanted = f"a number {relation} {minimum:g}" + (f" and <= {maximum:g}" if maximum is not None else "")

    def convert(text: str) -> N:
        try:
            value: N | None = kind(text)
        except (ValueError, OverflowError):
            value = None
        if (value is None or not math.isfinite(value) or value < minimum
                or (strictly and value == minimum) or (maximum is not None and value > maximum)):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value

    convert.__name__ = getattr(kind, "__name__", "value")  # argparse names the type in its errors
    return convert


PORT = at_least(int, 0, maximum=65535)


def http_url(text: str) -> str:
    """argparse type: an http(s) base URL with a host (and a valid port), without its last /."""
    import httpx  # not at import time: every command's start-up would pay for it

    try:
        port = httpx.URL(text).port
    except httpx.InvalidURL:
        port = -1
    if not re.match(r"^https?://[^/\s]+", text) or (port is not None and not 0 < port <= 65535):
        shown = re.sub(r"//[^/@]*@", "//***@", text)  # a password in the URL is never echoed
        raise argparse.ArgumentTypeError(f"expected an http(s) base URL, got {shown!r}")
    from .scrub import register_userinfo
    from .targets import without_userinfo

    url, userinfo = without_userinfo(text)
    if userinfo is not None:  # never sent as Basic auth, never shown (harness.targets)
        register_userinfo(userinfo)
    return url.rstrip("/")


def writable_dir(path: Path) -> Path:
    """`path` as a directory the harness can write into (created if missing), or UsageError."""
    for existing in (path, *path.parents):
        if existing.exists():
            break
    if existing != path and not existing.is_dir():
        raise UsageError(f"cannot write under {path}: {existing} is not a directory")
    if existing == path and not path.is_dir():
        raise UsageError(f"cannot write into {path}: it is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write into {existing}: permission denied")
    return path


def writable_file(path: Path) -> Path:
    """`path` as a regular file the harness can create or replace, or UsageError."""
    check_output(path)
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"cannot write {path}: permission denied")
    writable_dir(path.parent)
    return path


def _as_argtype(check: Callable[[Path], Path], suffix: str | None = None) -> Callable[[str], Path]:
    def convert(text: str) -> Path:
        path = Path(text)
        if suffix is not None and path.suffix != suffix:
            raise argparse.ArgumentTypeError(f"must end in {suffix}, got {text!r}")
        try:
            return check(path)
        except UsageError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = "path"
    return convert


def output_dir() -> Callable[[str], Path]:
    """argparse type: a directory to write into."""
    return _as_argtype(writable_dir)


def output_file(suffix: str | None = None) -> Callable[[str], Path]:
    """argparse type: a file to write (ending in `suffix`, when given)."""
    return _as_argtype(writable_file, suffix)
