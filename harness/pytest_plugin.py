"""The pytest plugin: options, markers and fixtures that let the same suites run on the twin
(default, offline) and on a live endpoint, and record each test's contract outcome as data.

Exposed through the `pytest11` entry point, so any project that installs glm-harness can run
`pytest --pyargs suites` or write its own suites on these fixtures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from ._argtypes import at_least
from ._pytest_options import check_options, probe
from ._pytest_scrub import ScrubOutputs
from .checks import Expect, Violation, describe, run_checks
from .client import AsyncGLMClient, Exchange, GLMClient
from .contract import DEFAULT_MODEL, Mode, card_or_generic
from .mock import GLMTwin, TwinConfig, parse_fault, twin_router
from .targets import (
    DEFAULT_KEY_ENV,
    LIVE_BASE_URL,
    MOCK_BASE_URL,
    Secret,
    Target,
    live_target,
    mock_target,
)

MARKERS = {
    "mock_only": "needs the twin: a forced fault, a forced 429, a key state only the twin has",
    "live_cost": "spends many tokens on a live target",
    "bench": "a benchmark; deselected unless selected with -m bench",
}
violations_key = pytest.StashKey[list[Violation]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("glm-harness", "GLM API contract suites")
    group.addoption("--target", choices=("mock", "live"), default="mock",
                    help="run against the embedded twin (default) or a live endpoint")
    group.addoption("--base-url", default=None,
                    help=f"live endpoint base URL (default {LIVE_BASE_URL}); any OpenAI-compatible server")
    group.addoption("--model", default=DEFAULT_MODEL, help="model to call (default %(default)s)")
    group.addoption("--api-key-env", default=DEFAULT_KEY_ENV,
                    help="environment variable holding the API key (default %(default)s)")
    group.addoption("--strict-schema", action="store_true",
                    help="flag unknown fields, nulls and missing always-sent fields (drift)")
    group.addoption("--report", default=None, metavar="PATH",
                    help="write each test's contract outcome as JSON to PATH")
    group.addoption("--read-timeout", type=at_least(float, 0, strictly=True), default=120.0, metavar="S",
                    help="seconds to wait for the next byte before calling the stream stalled")
    group.addoption("--twin-fault", action="append", default=[], metavar="FAULT",
                    help="arm the twin with a fault for every request (e.g. missing_done, "
                         "stall:0:5): shows what the suites catch")
    group.addoption("--record", default=None, metavar="DIR",
                    help="save every exchange of glm_client / glm_client_with_key as a scrubbed "
                         "transcript in DIR (replay: glm-harness serve --replay DIR)")
    group.addoption("--record-sensitive", default="", metavar="FIELDS",
                    help="with --record: request fields to scrub too (user_id,request_id)")


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    _register_hypothesis_profile(config.getoption("--target", default="mock"))
    check_options(config, report="--report", fault="--twin-fault", sensitive="--record-sensitive")
    config.pluginmanager.register(ScrubOutputs(), "glm-harness-scrub")
    path = config.getoption("--report", default=None)
    if path:
        from ._outcomes import OutcomeRecorder

        config.pluginmanager.register(OutcomeRecorder(config, path), "glm-harness-outcomes")


def _register_hypothesis_profile(target: str) -> None:
    """`settings.get_profile("glm-harness")`: few examples, no shrinking and a replay database
    on a live target (each example is a paid call), more on the twin; never a deadline."""
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis.database import DirectoryBasedExampleDatabase

    live = target == "live"
    settings.register_profile(
        "glm-harness",
        max_examples=5 if live else 30,
        # Shrinking a live failure costs one paid call per step, for minutes: report it as found.
        phases=[Phase.explicit, Phase.reuse, Phase.generate] if live else list(Phase),
        deadline=None,
        database=DirectoryBasedExampleDatabase(".hypothesis/glm-live") if live else None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Live runs drop what only the twin can force; benchmarks run only when asked for."""
    live = config.getoption("--target") == "live"
    wants_bench = "bench" in (config.getoption("markexpr", "") or "")
    keep, drop = [], []
    for item in items:
        if (live and item.get_closest_marker("mock_only")) or (
            item.get_closest_marker("bench") and not wants_bench
        ):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_report_header(config: pytest.Config) -> list[str]:
    target, model = config.getoption("--target"), config.getoption("--model")
    where = config.getoption("--base-url") or (LIVE_BASE_URL if target == "live" else MOCK_BASE_URL)
    lines = [f"glm-harness: target={target} model={model} base_url={where}"]
    if not card_or_generic(model)[1]:
        lines.append(f"glm-harness: NOTICE: no model card for {model!r}; using generic limits, "
                     "and card-dependent checks are skipped")
    return lines


@pytest.fixture(scope="session")
def glm_target(pytestconfig: pytest.Config) -> Target:
    model = pytestconfig.getoption("--model")
    if pytestconfig.getoption("--target") == "mock":
        return mock_target(model)
    env = pytestconfig.getoption("--api-key-env")
    target = live_target(pytestconfig.getoption("--base-url") or LIVE_BASE_URL, model, env)
    if target.api_key is None:
        pytest.skip(f"--target live needs an API key in ${env}, which is not set")
    probe(target, pytestconfig.getoption("--read-timeout"))
    return target


@pytest.fixture(scope="session")
def _glm_session_twin(request: pytest.FixtureRequest, glm_target: Target) -> GLMTwin | None:
    """One twin for the session (its state is reset per test by `glm_mock`)."""
    if glm_target.kind != "mock":
        return None
    faults = tuple(parse_fault(f) for f in request.config.getoption("--twin-fault"))
    return GLMTwin(TwinConfig(faults=faults))


@pytest.fixture
def _glm_routed(_glm_session_twin: GLMTwin | None) -> Iterator[GLMTwin | None]:
    """The twin's respx router, active only while a test that talks to it runs, so that
    other tests' routers and real loopback servers are left alone."""
    if _glm_session_twin is None:
        yield None
        return
    with twin_router(_glm_session_twin, base_url=MOCK_BASE_URL):
        yield _glm_session_twin


@pytest.fixture
def glm_mock(_glm_routed: GLMTwin | None) -> Iterator[GLMTwin]:
    """The twin, for tests that inject faults or change limits; reset after each test."""
    if _glm_routed is None:
        pytest.skip("needs the twin (--target mock)")
    yield _glm_routed
    _glm_routed.reset()


def _maybe_recorded(client: GLMClient, request: pytest.FixtureRequest) -> GLMClient:
    """With `--record DIR`, the client saves each exchange as a transcript (harness.record)."""
    out = request.config.getoption("--record")
    if not out:
        return client
    from .record import record_sends

    return record_sends(client, out, scenario=request.node.name,
                        sensitive=request.config.getoption("--record-sensitive"))


@pytest.fixture
def glm_client(request: pytest.FixtureRequest, pytestconfig: pytest.Config, glm_target: Target,
               _glm_routed: GLMTwin | None) -> Iterator[GLMClient]:
    with GLMClient(glm_target, timeout=_timeout(pytestconfig)) as client:
        yield _maybe_recorded(client, request)


@pytest.fixture
def glm_client_with_key(request: pytest.FixtureRequest, pytestconfig: pytest.Config, glm_target: Target,
                        _glm_routed: GLMTwin | None) -> Iterator[Callable[[str | None], GLMClient]]:
    """`glm_client_with_key(key)`: a client for the same target with another key (or none)."""
    opened: list[GLMClient] = []

    def make(key: str | None) -> GLMClient:
        target = dataclasses.replace(glm_target, api_key=Secret(key) if key else None)
        opened.append(GLMClient(target, timeout=_timeout(pytestconfig)))
        return _maybe_recorded(opened[-1], request)

    yield make
    for client in opened:
        client.close()


@pytest.fixture
def glm_async_client(pytestconfig: pytest.Config, glm_target: Target,
                     _glm_routed: GLMTwin | None) -> AsyncGLMClient:
    """A fresh async client per test: httpx's async pool belongs to one event loop."""
    return AsyncGLMClient(glm_target, timeout=_timeout(pytestconfig))


def _timeout(config: pytest.Config) -> httpx.Timeout:
    return httpx.Timeout(30.0, read=config.getoption("--read-timeout"))


@pytest.fixture(scope="session")
def glm_mode(pytestconfig: pytest.Config) -> Mode:
    return Mode.STRICT if pytestconfig.getoption("--strict-schema") else Mode.LENIENT


@pytest.fixture
def glm_check(request: pytest.FixtureRequest, glm_mode: Mode) -> Any:
    """`glm_check(exchange, status=200, code=None, checks=None)`: run the named checks, record
    the violations on the test for the report, and fail with every violation spelled out."""
    recorded = request.node.stash.setdefault(violations_key, [])

    def check(exchange: Exchange, status: int = 200, code: str | tuple[str, ...] | None = None,
              checks: tuple[str, ...] | None = None) -> None:
        violations = run_checks(exchange, Expect(status, code, glm_mode), checks)
        recorded.extend(violations)
        if violations:
            pytest.fail(describe(violations), pytrace=False)

    return check
