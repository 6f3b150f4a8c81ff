"""`glm-harness summary`: reports side by side as Markdown, one row per model (and level).

Made for a CI job summary: the contract suites' outcome and the benchmarks' headline figures of
each report given, so the nightly can show glm-4.5, 4.6, 4.7 and 5 from the same night in one
table. It states figures and never judges them (that is `compare`'s job); a figure a report does
not hold is shown as "-", never as 0.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .._argtypes import output_file
from .._files import write_atomic
from ..bench.report import BenchReport, LevelResult
from .load import ContractReport, Loaded, load

_FAILED = ("failed", "error")


def add_summary_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("reports", nargs="+", metavar="REPORT",
                        help="bench, contract (pytest --report) and agent-bench reports, any models")
    parser.add_argument("--title", default="glm-harness: models side by side")
    parser.add_argument("--markdown", type=output_file(), default=None, metavar="PATH",
                        help="also write the Markdown here")
    return parser


def run_summary(args: argparse.Namespace) -> int:
    text = render_summary([load(path) for path in args.reports], args.title)
    if args.markdown is not None:
        write_atomic(args.markdown, text)
    print(text, end="")
    return 0


def render_summary(reports: Sequence[Loaded], title: str) -> str:
    out = [f"## {title}", ""]
    contract = [r for r in reports if r.contract is not None]
    bench = [r for r in reports if r.bench is not None]
    if contract:
        out += ["### Contract suites", "", "| model | target | passed | failed | skipped | failing tests |",
                "|---|---|--:|--:|--:|---|"]
        out += [_contract_row(r, r.contract) for r in contract if r.contract is not None]
        out.append("")
    if bench:
        out += ["### Benchmarks", "",
                "| model | level | ok / sent | error rate | TTFT p50 | TTFT p95 | ITL p50 | E2E p50 | "
                "output tokens/s | gate |", "|---|---|--:|--:|--:|--:|--:|--:|--:|---|"]
        out += [_level_row(r, r.bench, level) for r in bench if r.bench is not None
                for level in r.bench.levels if level.kind == "latency"]
        out += [f"| {r.model} | - | - | - | - | - | - | - | - | no level ran |"
                for r in bench if r.bench is not None and not r.bench.levels]
        tasks = [(r, s) for r in bench if r.bench is not None and r.bench.efficiency
                 for s in r.bench.efficiency.sets]
        if tasks:
            out += ["", "| model | thinking | solved | completion tokens per solved task |",
                    "|---|---|--:|--:|"]
            out += [f"| {r.model} | {'on' if s.thinking else 'off'} | {s.solved}/{s.tasks} | "
                    f"{_n(s.completion_tokens_per_solved, 0)} |" for r, s in tasks]
        out.append("")
    agents = [r for r in reports if r.agent is not None]
    if agents:
        out += ["### Agent tasks", "", "| model | agent | target | solved | tokens per solved task | "
                "cached share | seconds per solved task | violations |", "|---|---|---|--:|--:|--:|--:|--:|"]
        out += [_agent_row(r) for r in agents]
        out.append("")
    return "\n".join(out) + "\n"


def _agent_row(loaded: Loaded) -> str:
    report = loaded.agent
    assert report is not None
    solved = [t for t in report.tasks if t.solved]
    tokens = sum(t.usage.input_tokens + t.usage.output_tokens for t in report.tasks)
    seconds = [t.wall_s for t in report.tasks]
    inputs = sum(t.usage.input_tokens for t in report.tasks)
    cached = f"{sum(t.usage.cached_tokens for t in report.tasks) / inputs:.0%}" if inputs else "-"
    per_s = (_n(sum(s for s in seconds if s is not None) / len(solved), 1)
             if solved and None not in seconds else "-")
    return (f"| {loaded.model} | {report.agent} | {loaded.target} | {len(solved)}/{len(report.tasks)} | "
            f"{_n(tokens / len(solved), 0) if solved else '-'} | {cached} | {per_s} | "
            f"{sum(len(t.violations) for t in report.tasks)} |")


def _contract_row(loaded: Loaded, report: ContractReport) -> str:
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failing = []
    for test in report.tests:
        outcome = "failed" if test.outcome in _FAILED else test.outcome
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome == "failed":
            failing.append(f"`{test.nodeid.rsplit('::', 1)[-1]}`")
    shown = ", ".join(failing[:5]) + (f" and {len(failing) - 5} more" if len(failing) > 5 else "")
    unfinished = "" if report.finished_at else " (unfinished)"
    return (f"| {loaded.model} | {loaded.target}{unfinished} | {counts['passed']} | {counts['failed']} | "
            f"{counts['skipped']} | {shown or '-'} |")


def _level_row(loaded: Loaded, report: BenchReport, level: LevelResult) -> str:
    def p(metric: str, q: int) -> str:
        summary = level.summaries.get(metric)
        value = getattr(summary, f"p{q}", None) if summary else None
        return "-" if value is None else f"{value:,.1f} ms"

    rate = f"{level.failed / level.completed:.0%}" if level.completed else "-"
    gate = [g.split(": ", 1)[1] for g in report.gate_failures if g.startswith(f"{level.name}: ")]
    verdict = "FAILED: " + "; ".join(gate) if gate else "ok"
    if not report.complete:
        verdict += " (incomplete run)"
    return (f"| {loaded.model} | {level.name} | {level.succeeded}/{level.completed} | {rate} | "
            f"{p('ttft_ms', 50)} | {p('ttft_ms', 95)} | {p('itl_chunk_ms', 50)} | {p('e2e_ms', 50)} | "
            f"{_n(level.output_tokens_per_s, 1)} | {verdict} |")


def _n(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"
