"""Compare benchmark and contract reports, decide what changed, and plot them.

`compare(base, new)` builds the rows (rows.py) with a test suited to each (stats.py) and
Holm-adjusted verdicts; `thresholds.apply` marks the regressions beyond `--fail-on`; render.py
prints them as a table, Markdown or JSON; plots.py draws the PNGs. commands.py is the CLI glue
(`glm-harness compare`, `glm-harness plot`).
"""

from __future__ import annotations

from .load import Loaded, check_comparable, latest_baseline, load
from .rows import BETTER, METRICS, NOT_TESTED, SAME, WORSE, CompareSettings, Comparison, Row, compare
from .thresholds import DEFAULT_FAIL_ON, Rule, apply, parse_fail_on

__all__ = [
    "BETTER",
    "DEFAULT_FAIL_ON",
    "METRICS",
    "NOT_TESTED",
    "SAME",
    "WORSE",
    "CompareSettings",
    "Comparison",
    "Loaded",
    "Row",
    "Rule",
    "apply",
    "check_comparable",
    "compare",
    "latest_baseline",
    "load",
    "parse_fail_on",
]
