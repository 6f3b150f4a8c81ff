"""`--glm-report FILE`: each test's contract outcome as JSON, for nightly-to-nightly comparison.

The path is checked when the session starts (a folder, or a place that cannot be written, is one
usage error before any test runs); if writing still fails at the end, the report goes to the
temporary folder and the path is said, so a run's outcomes are never lost."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from ._settings import PluginSettings
from .contract_report import KIND, SCHEMA_VERSION
from .scrub import Scrubber


def check_report_path(path: str) -> None:
    """`pytest.UsageError` unless a file can be written at `path`: a regular file or a new one
    (run as root, a report "written" to /dev/null replaced the device)."""
    from ._files import check_output
    from .errors import UsageError

    target = Path(path)
    if path.endswith(("/", os.sep)) or target.is_dir():
        raise pytest.UsageError(f"--glm-report {path}: is a folder; give a file path such as "
                                f"{target / 'contract.json'}")
    try:
        check_output(target)
    except UsageError as error:
        raise pytest.UsageError(f"--glm-report: {error}") from None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", suffix=".probe"):
            pass
    except OSError as error:
        raise pytest.UsageError(f"--glm-report {path}: cannot write there ({error.strerror or error})") from None


class OutcomeRecorder:
    def __init__(self, config: pytest.Config, settings: PluginSettings) -> None:
        self.config = config
        self.settings = settings
        self.path = Path(settings.report or "")
        self.started = dt.datetime.now(dt.UTC)
        self.tests: dict[str, dict[str, Any]] = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        if report.when == "call" or report.outcome != "passed":
            report.glm_outcome = self._entry(item, report)  # type: ignore[attr-defined]  # plain data, as xdist sends it

    def _entry(self, item: pytest.Item, report: pytest.TestReport) -> dict[str, Any]:
        from .pytest_plugin import not_applied_key, violations_key

        violations = item.stash.get(violations_key, [])
        waived = item.stash.get(not_applied_key, [])
        return {
            "outcome": "skipped" if report.skipped else report.outcome,
            "duration_s": round(report.duration, 4),
            "checks": sorted({v.check for v in violations}),
            "violations": [self._scrub(str(v)) for v in violations],
            "findings": [v.to_json() for v in violations],  # scrubbed with the whole document
            "not_applied": [v.to_json() for v in waived],  # GLM-only rules, under the profile
            # scrubbed before the cut, so that a key cut in half cannot slip through
            "message": self._scrub(report.longreprtext)[:2000] if report.failed or report.skipped else "",
        }

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """In the process that writes the report: the controller under pytest-xdist."""
        new = getattr(report, "glm_outcome", None)
        if new is None:
            return
        entry = self.tests.setdefault(report.nodeid, {"nodeid": report.nodeid})
        if report.when == "call" or entry.get("outcome") in (None, "passed"):
            entry.update(new)

    def _scrub(self, text: str) -> str:
        return _scrubber(self.settings.api_key_env).scrub_text(text)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):  # a pytest-xdist worker: the controller writes it
            return
        from .contract import DEFAULT_MODEL
        from .targets import without_userinfo

        settings = self.settings
        document = {
            "schema_version": SCHEMA_VERSION,
            "kind": KIND,
            "target": settings.target,
            "base_url": without_userinfo(settings.base_url)[0] if settings.base_url else None,
            "model": settings.model or DEFAULT_MODEL,
            "strict_schema": settings.strict_schema,
            "harness_version": _version(),
            "git_sha": _git_sha(),
            "started_at": self.started.isoformat(),
            "finished_at": dt.datetime.now(dt.UTC).isoformat(),
            "profile": settings.profile,
            "surface": settings.surface,
            "summary": _summary(self.tests.values()),
            "conformance": _conformance(self.config),
            "tests": sorted(self.tests.values(), key=lambda t: t["nodeid"]),
        }
        text = _scrubber(settings.api_key_env).scrub_text(json.dumps(document, indent=2, ensure_ascii=False))
        from ._files import write_atomic, write_new
        from .errors import UsageError

        try:
            write_atomic(self.path, text)
        except (OSError, UsageError) as error:
            # a new name in the shared temporary folder, never one another user could plant
            stem = f"glm-report-{self.started:%Y%m%dT%H%M%SZ}"
            fallback = write_new([Path(tempfile.gettempdir()) / f"{stem}{f'-{n}' if n > 1 else ''}.json"
                                  for n in range(1, 100)], text)
            why = error.strerror if isinstance(error, OSError) and error.strerror else error
            self._say(f"glm-harness: could not write {self.path} ({why}); the report is in {fallback}")

    def _say(self, line: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(line, red=True)
        else:
            print(line)


def _scrubber(env: str | None = None) -> Scrubber:
    """Keys from `ZAI_API_KEY` and the run's `--glm-api-key-env`, read when the text is written."""
    return Scrubber.for_target(None, env_names=(env,) if env else ())


def _scrub(text: str) -> str:
    return _scrubber().scrub_text(text)


def _conformance(config: pytest.Config) -> dict[str, Any] | None:
    from .pytest_plugin import conformance_key

    tally = config.stash.get(conformance_key, None)
    return tally.to_json() if tally is not None else None


def _summary(tests: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for test in tests:
        counts[test["outcome"]] = counts.get(test["outcome"], 0) + 1
    return counts


def _version() -> str:
    from . import __version__

    return __version__


def _git_sha() -> str | None:
    checkout = Path(__file__).resolve().parents[1]
    if not (checkout / ".git").exists():  # an installed package: a repo around it is someone else's
        return None
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=checkout)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
