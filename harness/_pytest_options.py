"""The plugin's check of --glm-record-sensitive, which needs the scrubber's list of fields."""

from __future__ import annotations

import pytest

from .scrub import SENSITIVE_CHOICES, parse_fields


def check_record_sensitive(fields: str) -> None:
    unknown = parse_fields(fields) - set(SENSITIVE_CHOICES)
    if unknown:
        raise pytest.UsageError(f"--glm-record-sensitive: unknown field(s) {', '.join(sorted(unknown))}; "
                                f"choose from {', '.join(SENSITIVE_CHOICES)}")


def check_base_url(url: str) -> None:
    """One usage error for a base URL that is not http(s), not one failed test per request."""
    import argparse

    from ._argtypes import http_url

    try:
        http_url(url)
    except argparse.ArgumentTypeError as error:
        raise pytest.UsageError(f"--glm-base-url: {error}") from None


def check_record_dir(path: str) -> None:
    """--glm-record must be a folder the harness can write into (made if missing)."""
    from pathlib import Path

    from ._argtypes import writable_dir
    from .errors import UsageError

    try:
        writable_dir(Path(path))
    except UsageError as error:
        raise pytest.UsageError(f"--glm-record: {error}") from None
