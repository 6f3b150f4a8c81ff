"""The plugin's check of --glm-record-sensitive, which needs the scrubber's list of fields."""

from __future__ import annotations

import pytest

from .scrub import SENSITIVE_CHOICES, parse_fields


def check_record_sensitive(fields: str) -> None:
    unknown = parse_fields(fields) - set(SENSITIVE_CHOICES)
    if unknown:
        raise pytest.UsageError(f"--glm-record-sensitive: unknown field(s) {', '.join(sorted(unknown))}; "
                                f"choose from {', '.join(SENSITIVE_CHOICES)}")
