"""Scrubbing for what pytest itself writes: failure output on the terminal, the JUnit XML
(messages, captured sections and properties), captured and file logs, collection errors.

Called from the plugin's hooks (harness.pytest_plugin._ScrubShim, and glm_target for the log
handlers); every text goes through `harness.scrub.scrub_text`,
the same choke point the CLI and the report writers use, so a key a server echoes back into a
failure message is gone before pytest's terminal reporter or junitxml sees the report.
"""

from __future__ import annotations

import logging

import pytest

from .scrub import scrub_text


def scrub_report(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Replace the report's failure text, captured sections and properties by scrubbed text."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
        report.longrepr = (longrepr[0], longrepr[1], scrub_text(str(longrepr[2])))
    elif longrepr is not None:
        text = report.longreprtext if hasattr(report, "longreprtext") else str(longrepr)
        cleaned = scrub_text(text)
        if cleaned != text:
            report.longrepr = cleaned
    report.sections = [(title, scrub_text(content)) for title, content in report.sections]
    if isinstance(report, pytest.TestReport):
        report.user_properties = [(name, scrub_text(value) if isinstance(value, str) else value)
                                  for name, value in report.user_properties]


class ScrubFilter(logging.Filter):
    """Scrubs a record's message (arguments merged in) and its traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
            record.exc_info = None
        return True


_LOG_HANDLERS = ("log_file_handler", "log_cli_handler", "caplog_handler", "report_handler")


def scrub_log_handlers(config: pytest.Config) -> None:
    """Put a `ScrubFilter` on every handler pytest's logging plugin writes through."""
    plugin = config.pluginmanager.get_plugin("logging-plugin")
    for name in _LOG_HANDLERS:
        handler = getattr(plugin, name, None)
        if isinstance(handler, logging.Handler) and not any(
                isinstance(f, ScrubFilter) for f in handler.filters):
            handler.addFilter(ScrubFilter())
