"""The plugin's option values checked once, at configure time, as one usage error each
(not a setup error per test), and the live target probed once before any test waits on it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ._argtypes import writable_file
from .errors import UsageError
from .mock import parse_fault
from .scrub import SENSITIVE_CHOICES, parse_fields
from .targets import Target

PROBE_TIMEOUT_S = 30.0


def check_options(config: pytest.Config, *, report: str, fault: str, sensitive: str) -> None:
    """pytest.UsageError for a bad --report path, --twin-fault or --record-sensitive (the
    option names are passed in, so that renaming them stays the plugin's business)."""
    for text in config.getoption(fault, default=None) or ():
        try:
            parse_fault(text)
        except ValueError as error:
            raise pytest.UsageError(f"{fault} {text!r}: {error}") from None
    unknown = parse_fields(config.getoption(sensitive, default="")) - set(SENSITIVE_CHOICES)
    if unknown:
        raise pytest.UsageError(f"{sensitive}: unknown field(s) {', '.join(sorted(unknown))}; "
                                f"choose from {', '.join(SENSITIVE_CHOICES)}")
    path = config.getoption(report, default=None)
    if path:
        if str(path).endswith(("/", "\\")):
            raise pytest.UsageError(f"{report} {path!r}: expected a file path, not a directory")
        try:
            writable_file(Path(path))
        except UsageError as error:
            raise pytest.UsageError(f"{report}: {error}") from None


def probe(target: Target, read_timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """One request that costs no tokens (an empty body, which the API refuses at once); a
    target that does not answer it within PROBE_TIMEOUT_S (or the read timeout, if shorter)
    ends the session instead of every test waiting out its read timeout."""
    timeout_s = min(PROBE_TIMEOUT_S, read_timeout_s)
    try:
        httpx.post(target.chat_url, json={}, headers=target.headers(), timeout=timeout_s)
    except httpx.TimeoutException:
        pytest.exit(f"glm-harness: {target.base_url} did not answer a request within "
                    f"{timeout_s:g} s; not running the live suites against a hung server",
                    returncode=pytest.ExitCode.TESTS_FAILED)
    except httpx.HTTPError:
        return  # refused or reset: each test reports that itself, at once
