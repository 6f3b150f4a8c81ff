"""The pytest plugin: options, markers and fixtures that let the same suites run on the twin
(default, offline) and on a live endpoint, and record each test's contract outcome as data.

Exposed through the `pytest11` entry point, so it is loaded in every pytest session of an
environment where glm-harness is installed. It therefore keeps to itself: its options are all
`--glm-…` in one `glm` group (harness/_settings.py), its markers are `glm_…`, it imports the
harness only when one of its fixtures is used, and it changes nothing in a session whose tests
use none of them: no header line, no deselection. The suites that ship with it run with
`pytest --pyargs harness.suites.contract`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from . import _settings

if TYPE_CHECKING:
    import httpx

    from ._conformance import AnswerTally, Conformance
    from ._silence import Silence
    from .checks import Violation
    from .client import AsyncGLMClient, Exchange, GLMClient
    from .contract import Mode
    from .limits import ResponseLimits
    from .mock import GLMTwin
    from .profiles import Profile
    from .targets import Target

MARKERS = {
    "glm_mock_only": "needs the twin: a forced fault, a forced 429, a key state only the twin has; "
                     "deselected on a live target",
    "glm_live_cost": "spends many tokens on a live target",
    "glm_bench": "a benchmark; deselected unless selected with -m glm_bench",
    "glm_surface": "glm_surface('openai') or glm_surface('anthropic'): a test only that API has; "
                   "skipped, with the reason, when --glm-surface names the other",
}
FIXTURES = frozenset({"glm_target", "glm_client", "glm_client_with_key", "glm_async_client",
                      "glm_mock", "glm_mode", "glm_check"})


class GLMCheck(Protocol):
    """The `glm_check` fixture's type: run the named checks on an exchange, fail on violations."""

    def __call__(self, exchange: Exchange, status: int = 200, code: str | tuple[str, ...] | None = None,
                 checks: tuple[str, ...] | None = None, **expect: Any) -> None: ...


ClientFactory = Callable[[str | None], "GLMClient"]
"""The `glm_client_with_key` fixture's type: a client for the same target with another key."""

settings_key = pytest.StashKey[_settings.PluginSettings]()
violations_key: pytest.StashKey[list[Violation]] = pytest.StashKey()
not_applied_key: pytest.StashKey[list[Violation]] = pytest.StashKey()
conformance_key: pytest.StashKey[Conformance] = pytest.StashKey()
answers_key: pytest.StashKey[list[AnswerTally]] = pytest.StashKey()
_used_key = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    _settings.add_options(parser)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """The conformance tally, for a vendor's README: what the server meets and breaks."""
    tally = config.stash.get(conformance_key, None)
    if tally is not None and tally.answers:
        terminalreporter.write_sep("=", "glm-harness conformance summary")
        for line in tally.lines():
            terminalreporter.write_line(line)


@pytest.hookimpl(optionalhook=True, tryfirst=True)  # before xdist's own count, whatever the load order
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` (pytest-xdist) keeps a live target and the benchmarks in one process: a live
    API counts concurrent requests against the key's limit, and pytest-benchmark does not time
    under xdist. An explicit `-n N` is obeyed; the twin's runs spread over the cores."""
    benchmarks = re.search(r"(?<!not )glm_bench", config.option.markexpr or "") is not None
    return 0 if benchmarks or _settings.read(config).live else None


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    settings = _settings.read(config)
    config.stash[settings_key] = settings
    if settings.twin_fault:
        _check_faults(settings.twin_fault)
    if settings.live:
        _check_live_key(config, settings)
    if settings.record_sensitive:
        from ._pytest_options import check_record_sensitive

        check_record_sensitive(settings.record_sensitive)
    if settings.base_url or settings.record:
        from ._pytest_options import check_base_url, check_record_dir

        if settings.base_url:
            check_base_url(settings.base_url)
        if settings.record:
            check_record_dir(settings.record)
    config.pluginmanager.register(_ScrubShim(), "glm-harness-scrub")
    config.pluginmanager.register(_Tally(config), "glm-harness-tally")
    if settings.report:
        from ._outcomes import OutcomeRecorder, check_report_path

        check_report_path(settings.report)
        config.pluginmanager.register(OutcomeRecorder(config, settings), "glm-harness-outcomes")
    _register_hypothesis_profile(settings.live)


class _ScrubShim:
    """pytest's own outputs (failure text, captured sections, JUnit properties) through the
    harness's scrubber: a key a server echoed into a failure never reaches the terminal or the
    XML. harness._pytest_scrub is imported only when a report carries text, so that a session
    that never fails or prints loads nothing of the harness."""

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        outcome = yield
        _scrub(outcome.get_result())

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Any:
        outcome = yield
        _scrub(outcome.get_result())


class _Tally:
    """The conformance tally, added up from the test reports rather than in the fixture: under
    pytest-xdist the checks run in the workers and only their reports reach the controller,
    which prints the summary and writes --glm-report."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        outcome = yield
        answers = item.stash.get(answers_key, None)
        if answers:
            outcome.get_result().glm_answers = list(answers)  # plain data, as xdist sends it
            answers.clear()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        answers = getattr(report, "glm_answers", None)
        if not answers:
            return
        from ._conformance import Conformance

        profile = _target_of(self.config.stash[settings_key]).profile
        tally = self.config.stash.setdefault(conformance_key, Conformance(profile))
        for answer in answers:
            tally.add(answer)


def _scrub(report: pytest.TestReport | pytest.CollectReport) -> None:
    if report.longrepr is not None or report.sections or getattr(report, "user_properties", None):
        from ._pytest_scrub import scrub_report

        scrub_report(report)


def _check_faults(specs: tuple[str, ...]) -> None:
    """One usage error at startup, not one setup error per test."""
    from .errors import UsageError
    from .mock import parse_fault

    for spec in specs:
        try:
            parse_fault(spec)
        except (UsageError, ValueError) as error:
            raise pytest.UsageError(f"--glm-twin-fault {spec}: {error}") from None


def _check_live_key(config: pytest.Config, settings: _settings.PluginSettings) -> None:
    """Before any test: a scheduled live run without a key fails (--glm-require-key) instead of
    passing with every test skipped; a key bound for plain http off this machine is a warning,
    or with --glm-require-tls a usage error. The URL's `user:pass@` never reaches an output."""
    from .scrub import register_userinfo
    from .targets import DEFAULT_KEY_ENV, LIVE_BASE_URL, InsecureTransport, insecure_transport, without_userinfo

    userinfo = without_userinfo(settings.base_url or "")[1]
    if userinfo is not None:
        register_userinfo(userinfo)
    env = settings.api_key_env or DEFAULT_KEY_ENV
    key = os.environ.get(env, "").strip()
    if settings.require_key and not key:
        raise pytest.UsageError(f"--glm-require-key: --glm-target live needs an API key in ${env}, which is not set")
    try:
        warning = insecure_transport(settings.base_url or LIVE_BASE_URL, bool(key), settings.require_tls)
    except InsecureTransport as error:
        raise pytest.UsageError(f"--glm-require-tls: {error}") from None
    if warning:
        config.issue_config_time_warning(pytest.PytestConfigWarning(warning), stacklevel=2)


def _register_hypothesis_profile(live: bool) -> None:
    """`settings.get_profile("glm-harness")`: few examples, no shrinking and a replay database
    on a live target (each example is a paid call), more on the twin; never a deadline.
    Hypothesis's own pytest plugin has imported it already, so this costs nothing."""
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis.database import DirectoryBasedExampleDatabase

    settings.register_profile(
        "glm-harness",
        max_examples=5 if live else 30,
        # Shrinking a live failure costs one paid call per step, for minutes: report it as found.
        phases=[Phase.explicit, Phase.reuse, Phase.generate] if live else list(Phase),
        deadline=None,
        database=DirectoryBasedExampleDatabase(".hypothesis/glm-live") if live else None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def _uses_glm(item: pytest.Item) -> bool:
    return not FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Live runs drop what only the twin can force; benchmarks run only when asked for; a test
    of the other surface is skipped, saying why. Only tests that carry the plugin's own markers
    are touched."""
    config.stash[_used_key] = any(_uses_glm(item) for item in items)
    live = config.stash[settings_key].live
    surface = config.stash[settings_key].surface
    wants_bench = bool(re.search(r"(?<!not )\bglm_bench\b", config.getoption("markexpr", "") or ""))
    keep, drop = [], []
    for item in items:
        only = item.get_closest_marker("glm_surface")
        if only is not None and surface not in only.args:
            reason = only.kwargs.get("reason", "")
            item.add_marker(pytest.mark.skip(
                reason=f"{' and '.join(only.args)} surface only" + (f": {reason}" if reason else "")
                + f" (--glm-surface {surface})"))
        if (live and item.get_closest_marker("glm_mock_only")) or (
            item.get_closest_marker("glm_bench") and not wants_bench
        ):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    """What the suites run against, said only when some collected test uses the plugin."""
    if not config.stash.get(_used_key, False):
        return []
    from .contract import card_or_generic

    settings = config.stash[settings_key]
    target = _target_of(settings)
    surface = f" surface={target.surface}" if target.surface != "openai" else ""
    lines = [f"glm-harness: target={target.kind} model={target.model} base_url={target.base_url}{surface}"]
    if not card_or_generic(target.model)[1]:
        lines.append(f"glm-harness: NOTICE: no model card for {target.model!r}; using generic limits, "
                     "and card-dependent checks are skipped")
    return lines


def _target_of(settings: _settings.PluginSettings) -> Target:
    from .contract import DEFAULT_MODEL
    from .surface import Surface
    from .targets import DEFAULT_KEY_ENV, live_target, mock_target

    model = settings.model or DEFAULT_MODEL
    profile: Profile = "openai-compatible" if settings.profile == "openai-compatible" else "glm"
    surface = Surface(settings.surface)
    if not settings.live:
        return dataclasses.replace(mock_target(model, surface=surface), profile=profile)
    return live_target(settings.base_url, model, settings.api_key_env or DEFAULT_KEY_ENV, profile, surface)


@pytest.fixture(scope="session")
def glm_target(pytestconfig: pytest.Config) -> Target:
    settings = pytestconfig.stash[settings_key]
    target = _target_of(settings)
    if target.kind == "live" and target.api_key is None:
        from .targets import DEFAULT_KEY_ENV

        pytest.skip(f"--glm-target live needs an API key in ${settings.api_key_env or DEFAULT_KEY_ENV}, "
                    "which is not set")
    from ._pytest_scrub import scrub_log_handlers

    scrub_log_handlers(pytestconfig)  # from here on, a log line that quotes a key is scrubbed
    return target


@pytest.fixture(scope="session")
def _glm_session_twin(pytestconfig: pytest.Config, glm_target: Target) -> GLMTwin | None:
    """One twin for the session (its state is reset per test by `glm_mock`)."""
    if glm_target.kind != "mock":
        return None
    from .mock import GLMTwin, TwinConfig, parse_fault

    settings = pytestconfig.stash[settings_key]
    faults = tuple(parse_fault(f) for f in settings.twin_fault)
    return GLMTwin(TwinConfig(faults=faults), profile=settings.twin_profile)


@pytest.fixture
def _glm_routed(_glm_session_twin: GLMTwin | None) -> Iterator[GLMTwin | None]:
    """The twin's respx router, active only while a test that talks to it runs, so that
    other tests' routers and real loopback servers are left alone."""
    if _glm_session_twin is None:
        yield None
        return
    from .mock import twin_router
    from .targets import MOCK_BASE_URL

    # One router for the twin's host answers both surfaces: the engine tells them by the path.
    with twin_router(_glm_session_twin, base_url=MOCK_BASE_URL):
        yield _glm_session_twin


@pytest.fixture
def glm_mock(_glm_routed: GLMTwin | None) -> Iterator[GLMTwin]:
    """The twin, for tests that inject faults or change limits; reset after each test."""
    if _glm_routed is None:
        pytest.skip("needs the twin (--glm-target mock)")
    yield _glm_routed
    _glm_routed.reset()


@pytest.fixture(scope="session")
def _glm_silence(glm_target: Target) -> Silence | None:
    """How many requests in a row a live target has left unanswered (harness._silence)."""
    if glm_target.kind == "mock":
        return None  # the twin stalls only when told to, and the proofs of that tell it to
    from ._silence import Silence

    return Silence()


@pytest.fixture
def _glm_answering(pytestconfig: pytest.Config, glm_target: Target,
                   _glm_silence: Silence | None) -> Silence | None:
    """Fail at once, rather than wait once more, when the live target has stopped answering."""
    if _glm_silence is not None and _glm_silence.hung:
        from ._silence import HUNG_AFTER

        settings = pytestconfig.stash[settings_key]
        pytest.fail(f"{glm_target.base_url} has not answered {HUNG_AFTER} requests in a row within "
                    f"{settings.read_timeout:g} s (--glm-read-timeout); taken as hung, not waited on "
                    f"again (an answer still trickling in after {settings.deadline:g} s counts too: "
                    "--glm-deadline)", pytrace=False)
    return _glm_silence


def _prepared(client: GLMClient, request: pytest.FixtureRequest, silence: Silence | None) -> GLMClient:
    """With `--glm-record DIR`, the client saves each exchange as a transcript (harness.record);
    on a live target, each exchange is noted for the hung-target check."""
    settings = request.config.stash[settings_key]
    if settings.record:
        from .record import record_sends

        record_sends(client, settings.record, scenario=request.node.name,
                     sensitive=settings.record_sensitive)
    if silence is not None:
        silence.watch(client)
    return client


@pytest.fixture
def glm_client(request: pytest.FixtureRequest, pytestconfig: pytest.Config, glm_target: Target,
               _glm_routed: GLMTwin | None, _glm_answering: Silence | None) -> Iterator[GLMClient]:
    from .client import GLMClient

    with GLMClient(glm_target, timeout=_timeout(pytestconfig), limits=_limits(pytestconfig)) as client:
        yield _prepared(client, request, _glm_answering)


@pytest.fixture
def glm_client_with_key(request: pytest.FixtureRequest, pytestconfig: pytest.Config, glm_target: Target,
                        _glm_routed: GLMTwin | None, _glm_answering: Silence | None) -> Iterator[ClientFactory]:
    """`glm_client_with_key(key)`: a client for the same target with another key (or none)."""
    from .client import GLMClient
    from .targets import Secret

    opened: list[GLMClient] = []

    def make(key: str | None) -> GLMClient:
        target = dataclasses.replace(glm_target, api_key=Secret(key) if key else None)
        opened.append(GLMClient(target, timeout=_timeout(pytestconfig), limits=_limits(pytestconfig)))
        return _prepared(opened[-1], request, _glm_answering)

    yield make
    for client in opened:
        client.close()


@pytest.fixture
def glm_async_client(request: pytest.FixtureRequest, pytestconfig: pytest.Config, glm_target: Target,
                     _glm_routed: GLMTwin | None, _glm_answering: Silence | None) -> AsyncGLMClient:
    """A fresh async client per test: httpx's async pool belongs to one event loop."""
    from .client import AsyncGLMClient

    client = AsyncGLMClient(glm_target, timeout=_timeout(pytestconfig), limits=_limits(pytestconfig))
    if _glm_answering is not None:
        _glm_answering.watch(client)
    return client


def _timeout(config: pytest.Config) -> httpx.Timeout:
    import httpx

    read = config.stash[settings_key].read_timeout
    return httpx.Timeout(30.0, read=read)


def _limits(config: pytest.Config) -> ResponseLimits:
    from .limits import ResponseLimits

    settings = config.stash[settings_key]
    return ResponseLimits(max_body_bytes=settings.max_body_bytes, max_event_bytes=settings.max_event_bytes,
                          deadline_s=settings.deadline)


@pytest.fixture(scope="session")
def glm_mode(pytestconfig: pytest.Config) -> Mode:
    from .contract import Mode

    return Mode.STRICT if pytestconfig.stash[settings_key].strict_schema else Mode.LENIENT


@pytest.fixture
def glm_check(request: pytest.FixtureRequest, glm_mode: Mode) -> GLMCheck:
    """`glm_check(exchange, status=200, code=None, checks=None, **expect)`: run the named checks
    (with `Expect`'s other fields, e.g. `tool_calls=("weather",)`), record the violations on the
    test for the report, and fail with every violation spelled out."""
    from ._conformance import answer_of
    from .checks import Expect, check_exchange, describe

    recorded = request.node.stash.setdefault(violations_key, [])
    waived = request.node.stash.setdefault(not_applied_key, [])
    answers = request.node.stash.setdefault(answers_key, [])
    profile = _target_of(request.config.stash[settings_key]).profile

    def check(exchange: Exchange, status: int = 200, code: str | tuple[str, ...] | None = None,
              checks: tuple[str, ...] | None = None, **expect: Any) -> None:
        run = check_exchange(exchange, Expect(status, code, glm_mode, **expect), checks, profile)
        answers.append(answer_of(run))
        recorded.extend(run.violations)
        waived.extend(run.not_applied)
        if run.violations:
            pytest.fail(describe(run.violations, run.not_applied), pytrace=False)

    return check
