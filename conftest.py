"""Root conftest. The glm-harness plugin itself comes from the `pytest11` entry point of the
installed package (pyproject.toml), so suites run the same way here and in other projects;
pytester is loaded for the proofs in tests/ that run the suites against a broken twin."""

import os

import pytest

pytest_plugins = ["pytester"]


@pytest.hookimpl(optionalhook=True, tryfirst=True)  # before xdist's own count, whatever the load order
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """The `-n auto` of pyproject's addopts, for this repository's own run: one worker more than
    the usable cores, since many tests wait on sockets, timeouts and subprocesses (measured on 2
    cores: 50 s with 3 workers, 53 s with 2). A pytest started by one of the tests (pytester, a
    subprocess) runs in that one process. The plugin's own rule (live targets and benchmarks in
    one process) comes after this one, so it is asked for those runs."""
    if os.environ.get("PYTEST_CURRENT_TEST"):
        return 0
    from harness.pytest_plugin import pytest_xdist_auto_num_workers as plugin_rule

    if plugin_rule(config) == 0:
        return 0
    return len(os.sched_getaffinity(0)) + 1 if hasattr(os, "sched_getaffinity") else None


def pytest_configure(config: pytest.Config) -> None:
    _rewrite_asserts_only_in_this_project(config)
    _hypothesis_without_wall_clock_limits()


def _rewrite_asserts_only_in_this_project(config: pytest.Config) -> None:
    """pytest rewrites the asserts of every package that ships a pytest plugin: all of
    Hypothesis (75 modules), anyio, respx, pytest-benchmark. Their asserts are internal
    invariants no test here looks into. With PYTHONDONTWRITEBYTECODE set, as on CI, nothing
    rewritten is cached, so each pytest process paid about 1 s of CPU for them on every run.
    In this repository's own run they are left as they are; pytest's own modules (pytester's
    assertion helpers) and `harness` are still rewritten, and the tests and conftests always are.
    pytest has no public switch for this: if its private set of names moves, this does nothing."""
    must_rewrite = getattr(getattr(config.pluginmanager, "rewrite_hook", None), "_must_rewrite", None)
    if isinstance(must_rewrite, set):
        ours = {name for name in must_rewrite if name.split(".")[0] in ("harness", "_pytest")}
        must_rewrite.intersection_update(ours)


def _hypothesis_without_wall_clock_limits() -> None:
    """Hypothesis's 200 ms deadline per example and its too_slow health check are wall-clock
    limits: on a busy 2-core machine, a garbage collection in a large test session or a
    neighbour's load can pass them and fail a test at random. No test here asserts wall-clock
    time, so this repository's run drops both (`--hypothesis-profile` still picks another).
    Imported here, not at the top, so that Hypothesis loads after the rewrite set is trimmed."""
    from hypothesis import HealthCheck, settings

    settings.register_profile("glm-harness-tests", deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("glm-harness-tests")
