"""Three views of the same comparisons: a rich terminal table, Markdown, JSON.

The Markdown is made for a GitHub job summary: the outcome first, then one table per section,
with the rows that changed before those that did not.
"""

from __future__ import annotations

import io
import json
import math
import shutil
import sys
from collections.abc import Sequence
from typing import Any

from .rows import BETTER, INFO, NOT_TESTED, SAME, WORSE, Comparison, Row
from .stats import DEFAULT_RESAMPLES

COMPARE_KIND = "glm-harness.compare"
COMPARE_SCHEMA_VERSION = "1.0"
SECTIONS = (("latency", "Latency"), ("efficiency", "Token efficiency"), ("agent", "Agent tasks"),
            ("contract", "Contract"))
_ORDER = {WORSE: 0, BETTER: 1, INFO: 2, SAME: 3, NOT_TESTED: 4}
_EMOJI = {WORSE: "🔴 worse", BETTER: "🟢 better", SAME: "⚪ no significant change",
          NOT_TESTED: "· not tested", INFO: "ℹ️ info"}
_STYLE = {WORSE: "bold red", BETTER: "green", SAME: "dim", NOT_TESTED: "dim italic", INFO: "cyan"}


# -- numbers ----------------------------------------------------------------------------------------------
def fmt_value(value: float | str | None, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if not math.isfinite(value):
        return "-"
    if unit == "fraction":
        return f"{value * 100:.1f}%"
    if unit == "USD":
        return f"${value:.4g}"
    if unit == "tests":
        return f"{value:.0f}"
    if abs(value) < 10:
        return f"{value:.2f}"
    return f"{value:,.1f}" if abs(value) < 1e4 else f"{value:,.0f}"


def fmt_delta(value: float | None, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if unit == "fraction":
        return f"{value * 100:+.1f} pp"
    if unit == "USD":
        return f"{value:+.3g}"
    if unit == "tests":
        return f"{value:+.0f}"
    suffix = " ms" if unit == "ms" else ""
    digits = 2 if abs(value) < 10 else 1
    return f"{value:+,.{digits}f}{suffix}"


def fmt_rel(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value * 100:+.1f}%"


def fmt_ci(ci: tuple[float, float] | None, unit: str) -> str:
    if ci is None:
        return "-"
    digits = 2 if max(abs(ci[0]), abs(ci[1])) < 10 else 1
    if unit in ("USD", "tests"):
        low, high = (fmt_delta(v, unit) for v in ci)
    else:
        scale = 100 if unit == "fraction" else 1
        digits = 1 if unit == "fraction" else digits
        low, high = (f"{v * scale:+,.{digits}f}" for v in ci)
    return f"[{low}, {high}]" + (" pp" if unit == "fraction" else " ms" if unit == "ms" else "")


def fmt_p(p: float | None) -> str:
    if p is None:
        return "-"
    return "<0.0001" if p < 1e-4 else f"{p:.2g}" if p < 0.1 else f"{p:.2f}"


def _sorted(rows: Sequence[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (_ORDER.get(r.verdict, 9), 0)) if rows else []


def _section_rows(comparison: Comparison, section: str) -> list[Row]:
    return [r for r in comparison.rows if r.section == section]


def headline(comparison: Comparison) -> str:
    failures = comparison.failures
    worse, better = comparison.count(WORSE), comparison.count(BETTER)
    if comparison.problems:
        head = "FAILED: " + "; ".join(comparison.problems)
        if failures:
            head += f"; and {len(failures)} regression(s) beyond the --fail-on thresholds"
    elif failures:
        head = f"{len(failures)} regression(s) beyond the --fail-on thresholds"
    elif comparison.inconclusive:
        head = ("INCONCLUSIVE: " + comparison.untested_reason()
                + "; more samples, more workers, or --allow-untested to accept")
    else:
        head = "no regression beyond the --fail-on thresholds"
        if comparison.untested:
            head += f" (accepted with --allow-untested: {comparison.untested_reason()})"
    return (f"{head}; {worse} worse, {better} better, {comparison.count(SAME)} no significant "
            f"change, of {comparison.tested} tested rows")


def method_text(comparison: Comparison) -> str:
    s = comparison.settings
    if comparison.base.kind == "contract":
        return "contract outcomes: a test that went from passed or skipped to failed is worse; " \
               "a check that was not violated before and is now is a new violation"
    return (f"Tests: Mann-Whitney U for medians of per-request values; Fisher exact on the share "
            "above the pooled percentile for p95 and p99; per-chunk ITL with requests as the "
            "units (Mann-Whitney U on each request's share above the pooled percentile); Fisher "
            "exact for rates; a permutation test over tasks for token and cost ratios. Intervals: "
            f"{1 - s.alpha:.0%} percentile bootstrap of new - base ({s.resamples} resamples), "
            f"descriptive. Verdicts: Holm-adjusted p < {s.alpha:g} over the {comparison.tested} "
            f"tested rows (family-wise error <= {s.alpha:g}) and a change of at least "
            f"{s.min_effect:.0%} ({s.min_effect_tail:.0%} for p95 and p99, which move more "
            "between runs); a regression fails the run only beyond its --fail-on threshold")


# -- terminal ------------------------------------------------------------------------------------------------
def render_table(comparisons: Sequence[Comparison], *, width: int | None = None,
                 color: bool | None = None) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if width is None:
        width = shutil.get_terminal_size((160, 40)).columns if sys.stdout.isatty() else 160
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=color, no_color=color is False,
                      highlight=False, soft_wrap=False)
    for comparison in comparisons:
        console.print(Text(f"{comparison.new.describe()}  vs  base {comparison.base.describe()}",
                           style="bold"))
        for section, title in SECTIONS:
            rows = _section_rows(comparison, section)
            if not rows:
                continue
            contract = section == "contract"
            table = Table(title=title, title_justify="left", show_lines=False, expand=False,
                          pad_edge=False)
            table.add_column("scope" if not contract else "test", overflow="fold",
                             max_width=60 if contract else 14)
            table.add_column("metric", overflow="fold")
            table.add_column("base", justify="right")
            table.add_column("new", justify="right")
            if not contract:
                table.add_column("change", justify="right")
                table.add_column("rel.", justify="right")
                table.add_column(f"{1 - comparison.settings.alpha:.0%} CI of change",
                                 justify="right")
                table.add_column("p (Holm)", justify="right")
            table.add_column("verdict")
            for row in rows:
                verdict = Text(row.verdict, style=_STYLE.get(row.verdict, ""))
                if row.failed:
                    verdict.append(f"  FAIL {row.rule}", style="bold red reverse")
                cells = [row.scope, row.label, fmt_value(row.base, row.unit),
                         fmt_value(row.new, row.unit)]
                if not contract:
                    cells += [fmt_delta(row.delta, row.unit), fmt_rel(row.rel),
                              fmt_ci(row.ci, row.unit), fmt_p(row.p_adj)]
                table.add_row(*cells, verdict)
            console.print(table)
        for note in comparison.notes:
            console.print(Text(f"note: {note}", style="yellow"))
        console.print(Text(method_text(comparison), style="dim"))
        style = "bold red" if comparison.failed else "bold green"
        console.print(Text(headline(comparison), style=style))
        console.print()
    return buffer.getvalue()


# -- Markdown ------------------------------------------------------------------------------------------------
def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(comparisons: Sequence[Comparison], *, title: str | None = None) -> str:
    regressed = any(c.failures for c in comparisons)
    blocked = any(c.problems for c in comparisons)
    inconclusive = any(c.inconclusive for c in comparisons)
    out = [f"## {title or 'glm-harness compare'}", ""]
    out.append(("**🔴 Regression beyond thresholds**" if regressed else
                "**🔴 Not a pass: the new run failed or nothing was compared**" if blocked else
                "**🟡 Inconclusive: rows the thresholds cover were not tested**" if inconclusive else
                "**✅ No regression beyond thresholds**") + f" ({len(comparisons)} comparison"
               + ("s" if len(comparisons) != 1 else "") + ")")
    for comparison in comparisons:
        out += ["", f"### `{comparison.new.name}` vs base `{comparison.base.name}`", "",
                f"- base: {_md(comparison.base.describe())}",
                f"- new: {_md(comparison.new.describe())}",
                f"- **{headline(comparison)}**"]
        out += [f"- note: {_md(n)}" for n in comparison.notes]
        for section, title_ in SECTIONS:
            rows = _section_rows(comparison, section)
            if not rows:
                continue
            contract = section == "contract"
            out += ["", f"#### {title_}", ""]
            if contract:
                out += ["| test | change | base | new | verdict | detail |", "|---|---|---|---|---|---|"]
            else:
                ci = f"{1 - comparison.settings.alpha:.0%} CI"
                out += [f"| scope | metric | base | new | change | rel. | {ci} | p (Holm) | verdict |",
                        "|---|---|--:|--:|--:|--:|--:|--:|---|"]
            for row in _sorted(rows):
                verdict = _EMOJI.get(row.verdict, row.verdict)
                if row.failed:
                    verdict += f" **FAIL** `{_md(row.rule or '')}`"
                if contract:
                    out.append(f"| `{_md(row.scope)}` | {row.label} | {fmt_value(row.base, row.unit)} | "
                               f"{fmt_value(row.new, row.unit)} | {verdict} | {_md(row.note)} |")
                else:
                    out.append(f"| {row.scope} | {row.label} | {fmt_value(row.base, row.unit)} | "
                               f"{fmt_value(row.new, row.unit)} | {fmt_delta(row.delta, row.unit)} | "
                               f"{fmt_rel(row.rel)} | {fmt_ci(row.ci, row.unit)} | "
                               f"{fmt_p(row.p_adj)} | {verdict} |")
        out += ["", f"<sub>{_md(method_text(comparison))}</sub>"]
    return "\n".join(out) + "\n"


# -- JSON ----------------------------------------------------------------------------------------------------
def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, tuple | list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def to_json(comparisons: Sequence[Comparison], exit_code: int) -> dict[str, Any]:
    def side(loaded: Any) -> dict[str, Any]:
        return {"path": str(loaded.path), "kind": loaded.kind, "model": loaded.model,
                "target": loaded.target, "started_at": loaded.started_at}

    settings = comparisons[0].settings if comparisons else None
    return _clean({
        "kind": COMPARE_KIND,
        "schema_version": COMPARE_SCHEMA_VERSION,
        "alpha": settings.alpha if settings else None,
        "min_effect": settings.min_effect if settings else None,
        "min_effect_tail": settings.min_effect_tail if settings else None,
        "resamples": settings.resamples if settings else DEFAULT_RESAMPLES,
        "exit_code": exit_code,
        "regressed": any(c.failed for c in comparisons),
        "inconclusive": any(c.inconclusive for c in comparisons),
        "comparisons": [{
            "base": side(c.base), "new": side(c.new),
            "method": method_text(c), "notes": c.notes, "tested_rows": c.tested,
            "counts": {v: c.count(v) for v in (WORSE, BETTER, SAME, NOT_TESTED, INFO)},
            "failures": [f"{r.metric}@{r.scope}: {r.rule}" for r in c.failures],
            "problems": c.problems,
            "untested": [f"{r.metric}@{r.scope}: {r.note}" for r in c.untested],
            "rows": [r.as_dict() for r in c.rows],
        } for c in comparisons],
    })


def render_json(comparisons: Sequence[Comparison], exit_code: int) -> str:
    return json.dumps(to_json(comparisons, exit_code), indent=2, ensure_ascii=False) + "\n"
