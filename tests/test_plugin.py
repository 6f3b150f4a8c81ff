"""The pytest plugin as a guest in other projects: prefixed options in one group, settings from
the command line, the environment and the ini file, one usage error for a bad value, a report
that is never lost, no trace in a session that does not use it, and a bounded wait on a hung
server."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import _settings
from harness._silence import HUNG_AFTER, Silence
from harness.contract import DEFAULT_MODEL
from harness.errors import TransportError
from harness.targets import DEFAULT_KEY_ENV, LIVE_BASE_URL

SHOW_TARGET = """
def test_show(glm_target, glm_mode):
    print(f"TARGET kind={glm_target.kind} model={glm_target.model} mode={glm_mode}")
"""
UNRELATED = """
import pytest

@pytest.mark.bench
def test_marked_bench():
    pass

def test_plain():
    pass
"""


def test_every_option_is_prefixed_and_in_the_glm_group(pytester: pytest.Pytester) -> None:
    config = pytester.parseconfig()
    group = config._parser.getgroup(_settings.GROUP)
    names = [name for option in group.options for name in option.names()]
    assert names and all(name.startswith("--glm-") for name in names), names
    assert len(group.options) == len(_settings.OPTIONS)
    for option in _settings.OPTIONS:
        assert option.ini in config._parser._inidict, option.ini


def test_help_names_the_real_defaults() -> None:
    help_of = {option.name: option.help for option in _settings.OPTIONS}
    assert f"default {DEFAULT_MODEL})" in help_of["model"]
    assert f"default {LIVE_BASE_URL})" in help_of["base_url"]
    assert f"default {DEFAULT_KEY_ENV})" in help_of["api_key_env"]


def test_an_unrelated_session_shows_no_trace(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_unrelated=UNRELATED)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=2)
    assert not [line for line in result.outlines if "glm-harness:" in line or "deselected" in line]


def test_a_session_that_uses_the_fixtures_says_what_it_runs_against(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_target=SHOW_TARGET)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"glm-harness: target=mock model={DEFAULT_MODEL} base_url=*"])


@pytest.mark.parametrize(("where", "expect"), [
    ("ini", "model=glm-ini mode=strict"),
    ("env", "model=glm-env mode=strict"),
    ("cli", "model=glm-cli mode=strict"),
])
def test_settings_come_from_the_command_line_then_the_environment_then_the_ini_file(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, where: str, expect: str) -> None:
    pytester.makepyfile(test_target=SHOW_TARGET)
    pytester.makeini("[pytest]\nglm_model = glm-ini\nglm_strict_schema = true\n")
    args = ["-p", "no:cacheprovider", "-s"]
    if where in ("env", "cli"):
        monkeypatch.setenv("GLM_HARNESS_MODEL", "glm-env")
    if where == "cli":
        args += ["--glm-model", "glm-cli"]
    result = pytester.runpytest_inprocess(*args)
    result.assert_outcomes(passed=1)
    assert any(expect in line.lower() for line in result.outlines), result.outlines


def test_an_ini_target_of_live_without_a_key_skips(pytester: pytest.Pytester,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GLM_TEST_NO_KEY", raising=False)
    pytester.makepyfile(test_target=SHOW_TARGET)
    pytester.makeini("[pytest]\nglm_target = live\nglm_api_key_env = GLM_TEST_NO_KEY\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*--glm-target live needs an API key in $GLM_TEST_NO_KEY*"])


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--glm-twin-fault", "bogus"], {}, "--glm-twin-fault bogus: unknown fault 'bogus'*"),
    (["--glm-read-timeout", "0"], {}, "--glm-read-timeout: expected a number of seconds > 0, got '0'"),
    ([], {"GLM_HARNESS_TARGET": "staging"}, "$GLM_HARNESS_TARGET: expected one of mock, live, got 'staging'"),
    ([], {"GLM_HARNESS_STRICT_SCHEMA": "maybe"}, "$GLM_HARNESS_STRICT_SCHEMA: expected true or false*"),
])
def test_a_bad_value_is_one_usage_error_before_any_test(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str],
        message: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile(test_target=SHOW_TARGET, test_more=SHOW_TARGET.replace("test_show", "test_again"))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_a_report_path_that_is_a_folder_is_a_usage_error(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_target=SHOW_TARGET)
    for path in (str(tmp_path), f"{tmp_path}/new-folder/"):
        result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--glm-report", path)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(["ERROR: --glm-report *: is a folder; give a file path such as *"])


def test_a_report_path_that_cannot_be_written_is_a_usage_error(pytester: pytest.Pytester,
                                                               tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    pytester.makepyfile(test_target=SHOW_TARGET)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--glm-report",
                                          str(tmp_path / "a-file" / "report.json"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --glm-report */a-file/report.json: cannot write there*"])


def test_the_report_is_never_lost(pytester: pytest.Pytester, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder vanishes (and a file takes its name) during the run: the report still lands."""
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    doomed = tmp_path / "out"
    pytester.makepyfile(test_target=SHOW_TARGET + f"""
def test_pull_the_rug():
    import shutil
    shutil.rmtree({str(doomed)!r})
    open({str(doomed)!r}, "w").close()
""")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--glm-report", str(doomed / "r.json"))
    result.assert_outcomes(passed=2)
    line = next(line for line in result.outlines if "the report is in" in line)
    saved = Path(re.search(r"the report is in (\S+)", line).group(1))  # type: ignore[union-attr]
    assert json.loads(saved.read_text())["summary"] == {"passed": 2}


@pytest.fixture
def hung_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/paas/v4"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_a_hung_server_fails_each_request_after_the_read_timeout(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, hung_server: str) -> None:
    monkeypatch.setenv("GLM_TEST_KEY", "k")
    monkeypatch.setenv("GLM_HARNESS_READ_TIMEOUT", "0.3")
    pytester.makepyfile(test_hung="""
def test_ask(glm_client, glm_check):
    glm_check(glm_client.send({"messages": [{"role": "user", "content": "hi"}]}))
""")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--glm-target", "live",
                                          "--glm-base-url", hung_server, "--glm-api-key-env", "GLM_TEST_KEY")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*[[]transport_completed[]]*ReadTimeout*"])


def test_a_hung_target_is_given_up_on_after_a_few_requests(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, hung_server: str) -> None:
    """Three requests in a row without an answer: the rest of the run fails at once, each test
    naming why, instead of waiting --glm-read-timeout once more per request."""
    monkeypatch.setenv("GLM_TEST_KEY", "k")
    pytester.makepyfile(test_hung="""
import pytest

@pytest.mark.parametrize("n", range(5))
def test_ask(glm_client, n):
    assert glm_client.send({"messages": [{"role": "user", "content": "hi"}]}).transport_error
""")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--glm-target", "live",
                                          "--glm-base-url", hung_server, "--glm-api-key-env", "GLM_TEST_KEY",
                                          "--glm-read-timeout", "0.2")
    result.assert_outcomes(passed=HUNG_AFTER, errors=5 - HUNG_AFTER)
    result.stdout.fnmatch_lines([f"*has not answered {HUNG_AFTER} requests in a row within 0.2 s "
                                 "(--glm-read-timeout); taken as hung, not waited on again*"])


def test_an_answer_resets_the_count() -> None:
    from harness.client import Exchange
    from harness.targets import mock_target

    silence = Silence()
    stalled = Exchange(mock_target(), {}, sent_at=0.0,
                       transport_error=TransportError("timeout", "ReadTimeout", "timed out"))
    answered = Exchange(mock_target(), {}, sent_at=0.0, status=200)
    for exchange in [stalled] * (HUNG_AFTER - 1) + [answered] + [stalled] * (HUNG_AFTER - 1):
        silence.note(exchange)
    assert not silence.hung
    silence.note(stalled)
    assert silence.hung


def test_the_default_read_timeout_is_bounded() -> None:
    """Not httpx's or pytest's "forever": a hung live target costs each test seconds, not minutes."""
    assert _settings.PluginSettings().read_timeout == _settings.DEFAULT_READ_TIMEOUT_S <= 60


@pytest.mark.parametrize(("args", "workers"), [
    ((), None),  # the twin: xdist's own count (every core)
    (("--glm-target", "live"), 0),
    (("-m", "glm_bench"), 0),
    (("-m", "not glm_bench"), None),
])
def test_n_auto_keeps_live_targets_and_benchmarks_in_one_process(
        pytester: pytest.Pytester, args: tuple[str, ...], workers: int | None) -> None:
    from harness.pytest_plugin import pytest_xdist_auto_num_workers

    assert pytest_xdist_auto_num_workers(pytester.parseconfig(*args)) == workers


@pytest.mark.parametrize("args", [("--glm-target", "live"), ("-m", "glm_bench")], ids=["live", "bench"])
def test_n_auto_starts_no_worker_for_them_whatever_the_plugin_load_order(
        pytester: pytest.Pytester, args: tuple[str, ...]) -> None:
    """xdist's own count answers first unless ours goes first: the entry points load in no fixed order."""
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-n", "auto", *args)
    assert "created:" not in result.stdout.str() and "workers" not in result.stdout.str()



TWO_ANSWERS = """
def test_echo(glm_client, glm_check):
    glm_check(glm_client.send({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}))

def test_wrong_status(glm_client, glm_check):
    glm_check(glm_client.send({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}),
              status=400)
"""


def test_under_xdist_the_controller_adds_up_the_workers_checks(pytester: pytest.Pytester) -> None:
    """The checks run in the worker; the summary and --glm-report are the controller's (one worker
    is enough to cross that line, and starts in half the time of two)."""
    pytester.makepyfile(test_two=TWO_ANSWERS)
    report = pytester.path / "report.json"
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-n", "1", "--glm-report", str(report))
    assert "created: 1/1 worker" in result.stdout.str()
    result.stdout.fnmatch_lines(["*glm-harness conformance summary*", "profile glm: 2 answer(s) checked",
                                 "  BREAKS status_code_conformance.status: 1 of 2 answer(s)"])
    data = json.loads(report.read_text())
    assert data["conformance"]["answers_checked"] == 2
    assert data["conformance"]["broken"] == {"status_code_conformance.status": {"answers": 1, "of": 2}}
    assert {t["nodeid"]: (t["outcome"], t["checks"]) for t in data["tests"]} == {
        "test_two.py::test_echo": ("passed", []),
        "test_two.py::test_wrong_status": ("failed", ["status_code_conformance"])}
