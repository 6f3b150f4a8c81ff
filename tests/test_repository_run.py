"""What the root conftest sets up for this repository's own test run (issue 9: the offline run on
2 cores in under a minute, and no test failing at random on a busy machine)."""

from __future__ import annotations

import sys

from hypothesis import HealthCheck, settings


def test_third_party_plugin_packages_are_not_rewritten() -> None:
    """About 1 s of CPU per pytest process with PYTHONDONTWRITEBYTECODE set, as on CI."""
    assert "@py_builtins" not in vars(sys.modules["hypothesis.core"])
    assert "@py_builtins" in globals()  # this module's asserts still are


def test_hypothesis_sets_no_wall_clock_limit() -> None:
    assert settings.default.deadline is None
    assert HealthCheck.too_slow in settings.default.suppress_health_check
