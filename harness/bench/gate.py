"""The bench gate: a run that measured nothing, or mostly failures, must not pass.

A level fails the gate when none of its requests succeeded (connection refused, every answer
an error, every request timed out) or when its error rate is above `max_error_rate`. A run with
no level at all fails too. Each failure is one sentence, printed and kept in the report.
"""

from __future__ import annotations

from collections.abc import Sequence

from .report import LevelResult

DEFAULT_MAX_ERROR_RATE = 0.05


def gate_failures(levels: Sequence[LevelResult], max_error_rate: float) -> list[str]:
    """Why this run must not pass; empty when it may."""
    if not levels:
        return ["no level ran: nothing was measured"]
    return [reason for level in levels if (reason := _level_failure(level, max_error_rate))]


def _level_failure(level: LevelResult, max_error_rate: float) -> str | None:
    if level.completed == 0:
        return f"{level.name}: no request completed"
    errors = _top_errors(level)
    if level.succeeded == 0:
        return f"{level.name}: 0 of {level.completed} requests succeeded ({errors})"
    rate = level.failed / level.completed
    if rate > max_error_rate:
        return (f"{level.name}: error rate {rate:.1%} ({level.failed} of {level.completed}) is above "
                f"--max-error-rate {max_error_rate:.1%} ({errors})")
    return None


def _top_errors(level: LevelResult, shown: int = 3) -> str:
    top = sorted(level.errors.items(), key=lambda kv: -kv[1])[:shown]
    return ", ".join(f"{name} x{count}" for name, count in top) or "no error recorded"
