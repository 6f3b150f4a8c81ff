"""The nightly's trend page: each model's figures night after night, from the reports it keeps.

Reports are grouped by model and by night (the UTC date they started on; of two runs in one night
the later counts). On top, the last night's verdict per model: its bench and contract reports
compared with the model's previous night by `glm-harness compare`'s engine and defaults. Then one
chart per metric and level with a line per model, and the contract's conformance per night.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..bench.efficiency import SetSummary
from ..bench.report import BenchReport, LevelResult
from ..compare.gate import problems
from ..compare.load import ContractReport
from ..compare.render import headline
from ..compare.rows import WORSE, compare
from ..compare.thresholds import apply, parse_fail_on
from ..errors import UsageError
from ._text import esc, num, page
from .inputs import Input
from .svg import Series, line_chart

# (label, unit, how a level gives it)
LEVEL_METRICS: tuple[tuple[str, str, Callable[[LevelResult], float | None]], ...] = (
    ("TTFT p50", "ms", lambda lv: _q(lv, "ttft_ms", 50)),
    ("TTFT p95", "ms", lambda lv: _q(lv, "ttft_ms", 95)),
    ("ITL per chunk p50", "ms", lambda lv: _q(lv, "itl_chunk_ms", 50)),
    ("end-to-end p50", "ms", lambda lv: _q(lv, "e2e_ms", 50)),
    ("output tokens/s", "tokens/s", lambda lv: lv.output_tokens_per_s),
    ("error rate", "%", lambda lv: 100 * lv.failed / lv.completed if lv.completed else None),
)


def _q(level: LevelResult, metric: str, q: int) -> float | None:
    summary = level.summaries.get(metric)
    return getattr(summary, f"p{q}", None) if summary else None


@dataclass
class Night:
    bench: Input | None = None
    contract: Input | None = None


@dataclass
class History:
    nights: list[str]
    models: dict[str, dict[str, Night]] = field(default_factory=dict)  # model -> night -> reports


def night_of(item: Input) -> str:
    assert item.loaded is not None
    return item.loaded.started_at[:10] or "?"


def history(inputs: Sequence[Input]) -> History:
    """Bench and contract reports by model and night; anything else is refused."""
    models: dict[str, dict[str, Night]] = {}
    for item in sorted(inputs, key=lambda i: (i.loaded.started_at if i.loaded else "", str(i.path))):
        if item.kind not in ("bench", "contract"):
            raise UsageError(f"{item.path}: a {item.kind} report has no place on the trend page "
                             "(it takes bench and contract reports)")
        night = models.setdefault(item.model, {}).setdefault(night_of(item), Night())
        setattr(night, item.kind, item)  # sorted by time: the night's last run wins
    nights = sorted({n for per in models.values() for n in per})
    return History(nights, dict(sorted(models.items())))


def build_trend_page(inputs: Sequence[Input], title: str = "glm-harness nightly trend") -> str:
    h = history(inputs)
    if not h.nights:
        raise UsageError("the trend page needs at least one bench or contract report")
    body = [f"<header><h1>{esc(title)}</h1><p class=\"note\">{len(h.models)} model(s), "
            f"{len(h.nights)} night(s): {esc(h.nights[0])} to {esc(h.nights[-1])}</p>"
            '<nav><a href="#verdict">Last night\'s verdict</a><a href="#contract">Contract per night</a>'
            '<a href="#metrics">Metrics per night</a></nav></header>']
    body.append(f'<section id="verdict"><h2>Last night ({esc(h.nights[-1])}): verdict per model</h2>'
                + _verdicts(h) + "</section>")
    body.append('<section id="contract"><h2>Contract conformance per night</h2>' + _contract(h) + "</section>")
    body.append('<section id="metrics"><h2>Metrics per night</h2>' + _metrics(h) + "</section>")
    return page(title, "\n".join(body))


def _previous(per: dict[str, Night], night: str, kind: str) -> Input | None:
    earlier = [n for n in sorted(per) if n < night and getattr(per[n], kind) is not None]
    return getattr(per[earlier[-1]], kind) if earlier else None


def _verdicts(h: History) -> str:
    last = h.nights[-1]
    rows = []
    overall_failed = False
    for model, per in h.models.items():
        tonight = per.get(last, Night())
        for kind in ("bench", "contract"):
            new: Input | None = getattr(tonight, kind)
            if new is None:
                rows.append((model, kind, "missing", f"no {kind} report on {last}", ""))
                overall_failed = True
                continue
            base = _previous(per, last, kind)
            if base is None:
                rows.append((model, kind, "first", "first night: nothing to compare with", ""))
                continue
            assert base.loaded is not None and new.loaded is not None
            try:
                comparison = compare(base.loaded, new.loaded)
            except UsageError as error:
                rows.append((model, kind, "refused", f"not compared: {error}", night_of(base)))
                overall_failed = True
                continue
            apply(comparison, parse_fail_on(None))
            comparison.problems = problems(comparison)
            worse = [f"{r.label} @ {r.scope}" for r in comparison.rows if r.verdict == WORSE]
            state = "regressed" if comparison.failed else "worse" if worse else "passed"
            overall_failed |= comparison.failed
            said = headline(comparison) + (f". Worse: {', '.join(worse[:8])}" if worse else "")
            rows.append((model, kind, state, said, night_of(base)))
    cls = "bad" if overall_failed else "good"
    word = "regressed or incomplete" if overall_failed else "no regression beyond the thresholds"
    out = [f'<div class="verdict {cls}" data-verdict="{"failed" if overall_failed else "passed"}">'
           f"{esc(last)}: {esc(word)}</div><table class=\"verdicts\"><thead><tr><th>model</th><th>report</th>"
           "<th>verdict</th><th>against the night of</th><th>detail</th></tr></thead><tbody>"]
    for model, kind, state, said, base_night in rows:
        cell = "worse" if state in ("regressed", "missing", "refused") else "better" if state == "passed" else ""
        out.append(f'<tr data-model="{esc(model)}" data-kind="{esc(kind)}" data-verdict="{esc(state)}">'
                   f"<td>{esc(model)}</td><td>{esc(kind)}</td><td class=\"{cell}\"><strong>{esc(state)}</strong></td>"
                   f"<td>{esc(base_night or '-')}</td><td>{esc(said)}</td></tr>")
    return "".join(out) + "</tbody></table>"


def _contract(h: History) -> str:
    series, rows = [], []
    for model, per in h.models.items():
        points = []
        for index, night in enumerate(h.nights):
            item = per.get(night, Night()).contract
            if item is None or item.loaded is None or item.loaded.contract is None:
                continue
            report: ContractReport = item.loaded.contract
            passed = sum(t.outcome == "passed" for t in report.tests)
            failed = sum(t.outcome in ("failed", "error") for t in report.tests)
            broken = item.data.get("conformance", {}).get("broken", {}) if isinstance(
                item.data.get("conformance"), dict) else {}
            ran = passed + failed
            share = 100 * passed / ran if ran else None
            if share is not None:
                points.append((float(index), share, f"{night}: {passed} of {ran} passed ({share:.1f}%)"))
            rows.append(f'<tr data-model="{esc(model)}" data-night="{esc(night)}"><td>{esc(model)}</td>'
                        f'<td>{esc(night)}</td><td class="n">{passed}</td><td class="n">{failed}</td>'
                        f'<td class="n">{esc(num(share, 1))}</td><td>{esc(", ".join(sorted(broken)) or "-")}</td></tr>')
        series.append(Series(model, points))
    chart = line_chart("Contract tests passed per night (% of tests that ran)", series, x_label="night",
                       y_label="% passed", categories=h.nights,
                       summary=_said(series))
    table = ("<table class=\"contract-trend\"><thead><tr><th>model</th><th>night</th><th>passed</th>"
             "<th>failed</th><th>% passed</th><th>rules broken</th></tr></thead><tbody>"
             + "".join(rows) + "</tbody></table>")
    if len(rows) > 12:  # sixty nights of four models: a table to consult, not to scroll past
        table = f"<details><summary>{len(rows)} runs: the values</summary>{table}</details>"
    return chart + table


def _metrics(h: History) -> str:
    reports = [_bench(n.bench) for per in h.models.values() for n in per.values() if n.bench]
    levels = sorted({lv.name for r in reports for lv in r.levels if lv.kind == "latency"})
    out = []
    for level in levels:
        out.append(f'<h3>level {esc(level)}</h3><div class="charts">')
        for label, unit, value in LEVEL_METRICS:
            out.append(_per_night(h, f"{level}: {label}", unit, _at_level(level, value), level))
        out.append("</div>")
    modes = sorted({s.thinking for r in reports if r.efficiency for s in r.efficiency.sets}, reverse=True)
    for thinking in modes:
        scope = f"thinking {'on' if thinking else 'off'}"
        out.append(f'<h3>token efficiency, {scope}</h3><div class="charts">')
        for label, unit, of_set in SET_METRICS:
            out.append(_per_night(h, f"{scope}: {label}", unit, _in_set(thinking, of_set), scope))
        out.append("</div>")
    return "".join(out) or '<p class="empty">No bench report among these.</p>'


# (label, unit, how a task set's summary gives it)
SET_METRICS: tuple[tuple[str, str, Callable[[SetSummary], float | None]], ...] = (
    ("pass rate", "%", lambda s: 100 * s.pass_rate),
    ("completion tokens per solved task", "tokens", lambda s: s.completion_tokens_per_solved),
    ("cost per solved task", "USD", lambda s: s.cost_per_solved_usd),
)


def _at_level(level: str, value: Callable[[LevelResult], float | None]) -> Callable[[BenchReport], float | None]:
    def get(report: BenchReport) -> float | None:
        found = next((lv for lv in report.levels if lv.name == level), None)
        return value(found) if found is not None else None

    return get


def _in_set(thinking: bool, value: Callable[[SetSummary], float | None]) -> Callable[[BenchReport], float | None]:
    def get(report: BenchReport) -> float | None:
        sets = report.efficiency.sets if report.efficiency else []
        found = next((s for s in sets if s.thinking == thinking), None)
        return value(found) if found is not None else None

    return get


def _per_night(h: History, title: str, unit: str, value: Callable[[BenchReport], float | None], scope: str) -> str:
    """One chart (a line per model over the nights) with its values in a table under it."""
    series, rows = [], []
    for model, per in h.models.items():
        points = []
        for index, night in enumerate(h.nights):
            item = per.get(night, Night()).bench
            v = value(_bench(item)) if item is not None else None
            if v is not None:
                points.append((float(index), v, f"{night}: {num(v)} {unit}"))
            rows.append((model, v))
        series.append(Series(model, points))
    label = title.split(": ", 1)[1]
    chart = line_chart(f"{title} per night", series, x_label="night", y_label=f"{label} ({unit})",
                       categories=h.nights,
                       summary=_said(series))
    values = (f"<details><summary>{esc(title)}: the values</summary><table class=\"trend\" "
              f"data-metric=\"{esc(label)}\" data-level=\"{esc(scope)}\"><thead><tr><th>model</th>"
              + "".join(f"<th>{esc(n)}</th>" for n in h.nights) + "</tr></thead><tbody>"
              + "".join(f"<tr><td>{esc(m)}</td>" + "".join(f'<td class="n">{esc(num(v))}</td>'
                                                          for mm, v in rows if mm == m) + "</tr>"
                        for m in h.models) + "</tbody></table></details>")
    return f"<div>{chart}{values}</div>"


def _said(series: Sequence[Series], listed: int = 8) -> str:
    """A chart's text alternative: every value over a few nights; over many, the last and the range
    (every value is in the table under the chart)."""
    out = []
    for s in series:
        if len(s.points) <= listed:
            out.append(f"{s.name}: " + ", ".join(t for _, _, t in s.points))
        elif s.points:
            low, high = min(s.points, key=lambda p: p[1]), max(s.points, key=lambda p: p[1])
            out.append(f"{s.name}: last {s.points[-1][2]}; lowest {low[2]}; highest {high[2]}")
    return "; ".join(out)


def _bench(item: Input) -> BenchReport:
    assert item.loaded is not None and item.loaded.bench is not None
    return item.loaded.bench
