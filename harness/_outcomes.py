"""`--report PATH`: each test's contract outcome as JSON, for nightly-to-nightly comparison."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from .scrub import Scrubber

OUTCOME_SCHEMA_VERSION = "1.0"


class OutcomeRecorder:
    def __init__(self, config: pytest.Config, path: str) -> None:
        self.config = config
        self.path = Path(path)
        self.started = dt.datetime.now(dt.UTC)
        self.tests: dict[str, dict[str, Any]] = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        if report.when == "call" or report.outcome != "passed":
            from .pytest_plugin import violations_key

            violations = item.stash.get(violations_key, [])
            entry = self.tests.setdefault(item.nodeid, {"nodeid": item.nodeid})
            if report.when == "call" or entry.get("outcome") in (None, "passed"):
                entry.update(
                    outcome="skipped" if report.skipped else report.outcome,
                    duration_s=round(report.duration, 4),
                    checks=sorted({v.check for v in violations}),
                    violations=[self._scrub(str(v)) for v in violations],
                    # scrubbed before the cut, so that a key cut in half cannot slip through
                    message=self._scrub(report.longreprtext)[:2000] if report.failed or report.skipped else "",
                )

    def _scrub(self, text: str) -> str:
        return _scrubber(self.config.getoption("--api-key-env")).scrub_text(text)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        config = self.config
        env = config.getoption("--api-key-env")
        document = {
            "schema_version": OUTCOME_SCHEMA_VERSION,
            "kind": "contract",
            "target": config.getoption("--target"),
            "base_url": config.getoption("--base-url"),
            "model": config.getoption("--model"),
            "strict_schema": config.getoption("--strict-schema"),
            "harness_version": _version(),
            "git_sha": _git_sha(),
            "started_at": self.started.isoformat(),
            "finished_at": dt.datetime.now(dt.UTC).isoformat(),
            "summary": _summary(self.tests.values()),
            "tests": sorted(self.tests.values(), key=lambda t: t["nodeid"]),
        }
        text = _scrubber(env).scrub_text(json.dumps(document, indent=2, ensure_ascii=False))
        try:
            write_atomically(self.path, text)
        except OSError as error:  # the folder went away mid-run: keep the report elsewhere
            fallback = Path(tempfile.gettempdir()) / f"glm-harness-report-{os.getpid()}.json"
            write_atomically(fallback, text)
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"glm-harness: cannot write {self.path} ({error.strerror or error}); "
                                    f"the report is in {fallback}", red=True)


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _scrubber(env: str | None = None) -> Scrubber:
    """Keys from `ZAI_API_KEY` and the run's `--api-key-env`, read when the text is written."""
    return Scrubber.for_target(None, env_names=(env,) if env else ())


def _scrub(text: str) -> str:
    return _scrubber().scrub_text(text)


def _summary(tests: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for test in tests:
        counts[test["outcome"]] = counts.get(test["outcome"], 0) + 1
    return counts


def _version() -> str:
    from . import __version__

    return __version__


def _git_sha() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
