"""The page of `glm-harness report`: one section per kind of input, charts next to their tables.

Order: the verdicts first (comparisons of two or more reports of the same kind, compare results),
then the contract's conformance, then the benchmarks level by level (latency distributions and
percentiles, throughput against load, client health), token efficiency, the proxy and
agent-bench reports, and every run's provenance last.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from ..bench.report import BenchReport, LevelResult
from ..compare.gate import problems
from ..compare.load import ContractReport
from ..compare.render import fmt_ci, fmt_delta, fmt_p, fmt_rel, fmt_value, headline, to_json
from ..compare.rows import BETTER, INFO, NOT_TESTED, SAME, WORSE, compare
from ..compare.thresholds import apply, parse_fail_on
from ..errors import UsageError
from ._text import esc, num, page
from .inputs import Input
from .svg import Bar, Series, bar_chart, cdf_points, line_chart

VERDICT_WORDS = {WORSE: "regressed", BETTER: "improved", SAME: "unchanged", NOT_TESTED: "not tested",
                 INFO: "info"}
_CLASS = {WORSE: "worse", BETTER: "better", SAME: "same", NOT_TESTED: "not-tested", INFO: "info"}
_ORDER = {WORSE: 0, BETTER: 1, INFO: 2, SAME: 3, NOT_TESTED: 4}
CDF_METRICS = (("ttft_ms", "TTFT"), ("itl_chunk_ms", "ITL per chunk"), ("e2e_ms", "end-to-end"))
TABLE_METRICS = ("ttft_ms", "itl_chunk_ms", "itl_token_ms", "tpot_ms", "e2e_ms", "output_tps")
_REPRODUCE = re.compile(r"^\s*reproduce:\s*(.+)$", re.MULTILINE)


def build_page(inputs: Sequence[Input], title: str = "glm-harness report") -> str:
    bench = [i for i in inputs if i.kind == "bench"]
    contract = [i for i in inputs if i.kind == "contract"]
    sections: list[tuple[str, str, str]] = []  # (anchor, heading, html)
    agents = [i for i in inputs if i.kind == "agent"]
    verdicts = _comparisons(bench) + _comparisons(contract) + _comparisons([i for i in agents if i.loaded])
    verdicts += [_compare_result(i.name, c) for i in inputs if i.kind == "compare"
                 for c in i.data["comparisons"]]
    if verdicts:
        sections.append(("verdict", "Comparison", "".join(verdicts)))
    if contract:
        sections.append(("contract", "Contract conformance", "".join(_contract(i) for i in contract)))
    if bench:
        sections.append(("latency", "Latency", _latency(bench)))
        sections.append(("throughput", "Throughput and client health", _throughput(bench)))
        if any(_bench(i).efficiency for i in bench):
            sections.append(("efficiency", "Token efficiency and cost", "".join(
                _efficiency(i) for i in bench if _bench(i).efficiency)))
    proxies = [i for i in inputs if i.kind == "proxy"]
    if proxies:
        sections.append(("proxy", "Proxy exchanges", "".join(_proxy(i) for i in proxies)))
    if agents:
        sections.append(("agent", "Agent benchmark", "".join(_agent(i) for i in agents)))
    sections.append(("provenance", "Provenance", _provenance(inputs)))
    nav = "<nav>" + "".join(f'<a href="#{a}">{esc(h)}</a>' for a, h, _ in sections) + "</nav>"
    files = ", ".join(i.name for i in inputs)
    body = [f"<header><h1>{esc(title)}</h1><p class=\"note\">{len(inputs)} report(s): {esc(files)}</p>"
            f"{nav}</header>"]
    body += [f'<section id="{a}"><h2>{esc(h)}</h2>{html}</section>' for a, h, html in sections]
    return page(title, "\n".join(body))


def _bench(item: Input) -> BenchReport:
    assert item.loaded is not None and item.loaded.bench is not None
    return item.loaded.bench


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """`rows` hold HTML already escaped; a cell starting with "\x00n" is a number (right-aligned)."""
    out = [f'<table class="{cls}"><thead><tr>' + "".join(f"<th>{esc(h)}</th>" for h in head)
           + "</tr></thead><tbody>"]
    for row in rows:
        cells = "".join(f'<td class="n">{c[2:]}</td>' if c.startswith("\x00n") else f"<td>{c}</td>"
                        for c in row)
        out.append(f"<tr>{cells}</tr>")
    return "".join(out) + "</tbody></table>"


def _n(value: float | None, digits: int | None = None) -> str:
    return "\x00n" + esc(num(value, digits))


# -- comparisons ---------------------------------------------------------------------------------
def _comparisons(items: Sequence[Input]) -> list[str]:
    """Each later report against the first, with `glm-harness compare`'s defaults."""
    if len(items) < 2:
        return []
    base = items[0]
    out = []
    for new in items[1:]:
        assert base.loaded is not None and new.loaded is not None
        try:
            comparison = compare(base.loaded, new.loaded)
        except UsageError as error:
            out.append(f'<div class="verdict warn">{esc(new.name)} not compared with {esc(base.name)}: '
                       f"{esc(error)}</div>")
            continue
        apply(comparison, parse_fail_on(None))
        comparison.problems = problems(comparison)
        document = to_json([comparison], 1 if comparison.failed else 0)["comparisons"][0]
        document["headline"] = headline(comparison)
        out.append(_compare_result(None, document))
    return out


def _compare_result(source: str | None, c: dict[str, Any]) -> str:
    """One comparison as `glm-harness compare --json` writes it (or as computed here)."""
    base, new = c.get("base") or {}, c.get("new") or {}
    rows = [r for r in c.get("rows") or [] if isinstance(r, dict)]
    failures, found = c.get("failures") or [], c.get("problems") or []
    worse = sum(r.get("verdict") == WORSE for r in rows)
    failed = bool(failures or found)
    words = (f"FAILED: {'; '.join(map(str, found))}" if found else
             f"{len(failures)} regression(s) beyond the thresholds" if failures else
             "no regression beyond the thresholds")
    counts = ", ".join(f"{sum(r.get('verdict') == v for r in rows)} {VERDICT_WORDS[v]}"
                       for v in (WORSE, BETTER, SAME, NOT_TESTED))
    cls = "bad" if failed else "warn" if worse else "good"
    out = [f"<h3>{esc(_side(new))} <span class=\"note\">against base</span> {esc(_side(base))}</h3>"]
    if source:
        out.append(f'<p class="note">from {esc(source)}</p>')
    out.append(f'<div class="verdict {cls}" data-verdict="{"failed" if failed else "passed"}">'
               f"{esc(words)}; {esc(counts)}</div>")
    out += [f'<p class="note">note: {esc(n)}</p>' for n in c.get("notes") or []]
    for section in ("latency", "efficiency", "contract"):
        part = sorted((r for r in rows if r.get("section") == section),
                      key=lambda r: _ORDER.get(str(r.get("verdict")), 9))
        changed = [r for r in part if r.get("verdict") in (WORSE, BETTER, INFO) or r.get("failed")]
        quiet = [r for r in part if r not in changed]
        if changed:
            out.append(_rows_table(section, changed))
        if quiet:  # folded away: what did not move is there to check, not to read first
            out.append(f"<details><summary>{esc(section)}: {len(quiet)} row(s) unchanged or not tested"
                       f"</summary>{_rows_table(section, quiet)}</details>")
    if c.get("method"):
        out.append(f'<details><summary>How the verdicts are reached</summary><p class="note">'
                   f'{esc(c["method"])}</p></details>')
    return "".join(out)


def _side(side: dict[str, Any]) -> str:
    path = str(side.get("path") or "?").replace("\\", "/").rsplit("/", 1)[-1]
    return f"{path} ({side.get('model') or '?'} on {side.get('target') or '?'})"


def _rows_table(section: str, rows: list[dict[str, Any]]) -> str:
    head = ["scope", "metric", "base", "new", "change", "rel.", "interval of change", "test",
            "p (Holm)", "verdict"]
    body = []
    for r in rows:
        unit, verdict = str(r.get("unit") or ""), str(r.get("verdict") or NOT_TESTED)
        ci = r.get("ci")
        ci_pair = (float(ci[0]), float(ci[1])) if isinstance(ci, list | tuple) and len(ci) == 2 \
            and all(isinstance(v, int | float) for v in ci) else None
        word = VERDICT_WORDS.get(verdict, verdict)
        if r.get("failed"):
            word += f" — FAIL {r.get('rule') or ''}"
        note = f'<br><span class="note">{esc(r["note"])}</span>' if r.get("note") else ""
        body.append((f'<tr class="{_CLASS.get(verdict, "")}" data-metric="{esc(r.get("metric"))}" '
                     f'data-scope="{esc(r.get("scope"))}" data-verdict="{esc(verdict)}">',
                     [esc(r.get("scope")), esc(r.get("label") or r.get("metric")),
                      _cell(fmt_value(_value(r.get("base")), unit)), _cell(fmt_value(_value(r.get("new")), unit)),
                      _cell(fmt_delta(_float(r.get("delta")), unit)), _cell(fmt_rel(_float(r.get("rel")))),
                      _cell(fmt_ci(ci_pair, unit)), esc(r.get("test") or "-"),
                      _cell(fmt_p(_float(r.get("p_adj")))), f"<strong>{esc(word)}</strong>{note}"]))
    head_html = "".join(f"<th>{esc(h)}</th>" for h in head)
    rows_html = "".join(row + "".join(f'<td class="n">{c[2:]}</td>' if c.startswith("\x00n")
                                      else f"<td>{c}</td>" for c in cells) + "</tr>"
                        for row, cells in body)
    return (f'<table class="compare" data-section="{esc(section)}"><caption>{esc(section)}</caption>'
            f"<thead><tr>{head_html}</tr></thead><tbody>{rows_html}</tbody></table>")


def _cell(text: str) -> str:
    return "\x00n" + esc(text)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _value(value: Any) -> float | str | None:
    return value if isinstance(value, str) else _float(value)


# -- contract ---------------------------------------------------------------------------------------
def _contract(item: Input) -> str:
    assert item.loaded is not None and item.loaded.contract is not None
    report: ContractReport = item.loaded.contract
    raw_tests = {t.get("nodeid"): t for t in item.data.get("tests", []) if isinstance(t, dict)}
    counts: dict[str, int] = {}
    for test in report.tests:
        counts[test.outcome] = counts.get(test.outcome, 0) + 1
    failed = [t for t in report.tests if t.outcome in ("failed", "error")]
    cls = "bad" if failed or not report.finished_at else "good"
    said = ", ".join(f"{n} {o}" for o, n in sorted(counts.items())) or "no test ran"
    out = [f"<h3>{esc(item.name)}: {esc(report.model or '?')} on {esc(report.target or '?')}</h3>",
           f'<div class="verdict {cls}" data-failed="{len(failed)}">{len(failed)} failing test(s); '
           f"{esc(said)}{'' if report.finished_at else '; unfinished run'}</div>"]
    conformance = item.data.get("conformance")
    if isinstance(conformance, dict):
        out.append(_conformance(conformance))
    if failed:
        rows = []
        for test in failed:
            raw = raw_tests.get(test.nodeid, {})
            checks = test.checks or sorted({str(f.get("check")) for f in raw.get("findings", [])
                                            if isinstance(f, dict)})
            text = "\n".join(test.violations) or test.message
            reproduce = sorted(set(_REPRODUCE.findall(text)))
            detail = "".join(f"<pre>{esc(v.split(chr(10))[0])}</pre>" for v in test.violations) or \
                f"<pre>{esc(test.message[:600])}</pre>"
            rows.append([f"<code>{esc(test.nodeid)}</code>",
                         "".join(f'<span class="tag check">{esc(c)}</span> ' for c in checks) or "-",
                         detail, "".join(f"<pre>{esc(r)}</pre>" for r in reproduce) or "-"])
        out.append(_table(["failing test", "check", "what broke", "reproduce"], rows, "failures"))
    return "".join(out)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _conformance(doc: dict[str, Any]) -> str:
    met, broken, skipped = (_mapping(doc.get(k)) for k in ("met", "broken", "not_applied"))
    head = ["check or rule", "status", "answers breaking it", "of answers checked"]
    rows = [[f"<code>{esc(rule)}</code>", '<span class="tag worse">broken</span>',
             _n(_float(v.get("answers")) if isinstance(v, dict) else None),
             _n(_float(v.get("of")) if isinstance(v, dict) else None)] for rule, v in broken.items()]
    kept = [[f"<code>{esc(check)}</code>", '<span class="tag better">met</span>', _n(0), _n(_float(n))]
            for check, n in met.items()]
    kept += [[f"<code>{esc(rule)}</code>", "not applied (profile)",
              _n(_float(v.get("answers")) if isinstance(v, dict) else None), "-"]
             for rule, v in skipped.items()]
    out = (f"<p>Profile {esc(doc.get('profile') or '?')}: {esc(doc.get('answers_checked') or 0)} answer(s) "
           f"checked; {len(met)} check(s) met, {len(broken)} rule(s) broken.</p>")
    if rows:
        out += _table(head, rows, "conformance broken")
    if kept:
        out += (f"<details><summary>{len(met)} check(s) met, {len(skipped)} rule(s) not applied</summary>"
                + _table(head, kept, "conformance met") + "</details>")
    return out


# -- latency ------------------------------------------------------------------------------------------
def _label(item: Input, many_models: bool) -> str:
    return f"{item.name} ({item.model})" if many_models else item.name


def _latency(items: Sequence[Input]) -> str:
    many = len({i.model for i in items}) > 1
    names: list[str] = list(dict.fromkeys(lv.name for i in items for lv in _bench(i).levels
                                          if lv.kind == "latency"))
    out = []
    for name in names:
        levels = [(i, lv) for i in items for lv in _bench(i).levels if lv.name == name]
        bound = [i.name for i, lv in levels if lv.health and lv.health.client_bound]
        first = levels[0][1]
        mode = f"{first.rate:g} req/s {first.arrival}" if first.rate else "closed loop"
        flag = (f' <span class="tag bound">client-bound in {esc(", ".join(bound))}</span>' if bound else "")
        out.append(f'<h3 id="level-{esc(name)}">{esc(name)}: concurrency {first.concurrency}, {esc(mode)}{flag}</h3>')
        out.append('<div class="charts">')
        for metric, title in CDF_METRICS:
            series = [Series(_label(i, many), cdf_points(getattr(lv.samples, metric), "ms"))
                      for i, lv in levels]
            summary = "; ".join(f"{s.name}: p50 {num(_p(lv, metric, 50))} ms, p95 {num(_p(lv, metric, 95))} ms"
                                for s, (_, lv) in zip(series, levels, strict=True))
            out.append(line_chart(f"{name}: {title} distribution (CDF)", series, x_label=f"{title} (ms)",
                                  y_label="share of requests at or below", summary=summary))
        out.append("</div>")
        for item, lv in levels:
            out.append(f"<h4>{esc(_label(item, many))}: {lv.succeeded}/{lv.completed} succeeded"
                       + (f", errors: {esc(', '.join(f'{k}: {v}' for k, v in sorted(lv.errors.items())))}"
                          if lv.errors else "") + "</h4>")
            out.append(_percentiles(lv))
    return "".join(out) or '<p class="empty">No latency level in these reports.</p>'


def _p(level: LevelResult, metric: str, q: int) -> float | None:
    summary = level.summaries.get(metric)
    return getattr(summary, f"p{q}", None) if summary else None


def _percentiles(level: LevelResult) -> str:
    rows = []
    for metric in TABLE_METRICS:
        s = level.summaries.get(metric)
        if s is None or not s.n:
            continue
        ci_mean = f"[{num(s.ci95_mean[0])}, {num(s.ci95_mean[1])}]" if s.ci95_mean else "-"
        ci_p50 = f"[{num(s.ci95_p50[0])}, {num(s.ci95_p50[1])}]" if s.ci95_p50 else "-"
        rows.append([f"<code>{esc(metric)}</code>", _n(s.n), _n(s.mean), _n(s.p50), _n(s.p90), _n(s.p95),
                     _n(s.p99), "\x00n" + esc(ci_mean), "\x00n" + esc(ci_p50)])
    return _table(["metric", "n", "mean", "p50", "p90", "p95", "p99", "95% CI mean", "95% CI p50"], rows,
                  f"percentiles level-{esc(level.name)}")


def _throughput(items: Sequence[Input]) -> str:
    many = len({i.model for i in items}) > 1
    open_loop = any(lv.rate for i in items for lv in _bench(i).levels)
    axis = "offered rate (req/s)" if open_loop else "concurrency"
    series, rps = [], []
    for item in items:
        levels = [lv for lv in _bench(item).levels if lv.kind == "latency"]
        points = [((lv.rate or 0.0) if open_loop else float(lv.concurrency), lv.output_tokens_per_s, lv)
                  for lv in levels]
        series.append(Series(_label(item, many), [(x, y, f"{lv.name}: {num(y)} output tokens/s")
                                                   for x, y, lv in points if y is not None]))
        rps.append(Series(_label(item, many), [(x, lv.requests_per_s, f"{lv.name}: {num(lv.requests_per_s)} req/s")
                                               for x, _, lv in points if lv.requests_per_s is not None]))
    out = ['<div class="charts">',
           line_chart("Output tokens/s against " + axis, series, x_label=axis, y_label="output tokens/s",
                      summary="; ".join(f"{s.name}: " + ", ".join(t for _, _, t in s.points) for s in series)),
           line_chart("Requests/s against " + axis, rps, x_label=axis, y_label="requests/s",
                      summary="; ".join(f"{s.name}: " + ", ".join(t for _, _, t in s.points) for s in rps)), "</div>"]
    rows = []
    for item in items:
        for lv in _bench(item).levels:
            h = lv.health
            verdict = ('<span class="tag bound">client-bound</span> ' + esc("; ".join(h.reasons))
                       if h and h.client_bound else "kept up" if h else "not measured")
            rows.append([esc(_label(item, many)), esc(lv.name), _n(lv.concurrency), _n(lv.requests_per_s),
                         _n(lv.output_tokens_per_s), _n(h.cpu_percent if h else None, 0),
                         _n(h.loop_lag_ms.p99 if h else None), _n(h.lateness_ms.p99 if h else None),
                         verdict, esc(_level_conformance(lv))])
    out.append(_table(["report", "level", "concurrency", "req/s", "output tokens/s", "client CPU %",
                       "loop lag p99 ms", "start lateness p99 ms", "client health", "answers checked"],
                      rows, "health"))
    return "".join(out)


def _level_conformance(level: LevelResult) -> str:
    if not level.checked:
        return "none"
    broken = ", ".join(f"{rule}: {n}" for rule, n in sorted(level.conformance.items()))
    return f"{level.checked}, " + (f"rules broken: {broken}" if broken else "all conform")


# -- token efficiency ---------------------------------------------------------------------------------
def _efficiency(item: Input) -> str:
    eff = _bench(item).efficiency
    assert eff is not None
    price = eff.price
    where = (f"{price.currency} {price.input}/{price.cached_input}/{price.output} per 1M input/cached/output "
             f"tokens, as of {price.as_of}" if price else "no price for this model: costs unknown")
    out = [f"<h3>{esc(item.name)}: task set {esc(eff.task_set)} ({len(eff.task_ids)} tasks × {eff.repeats})</h3>",
           f'<p class="note">Prices: {esc(where)}. Reasoning, visible and tool tokens are estimates '
           "(each kind's share of the chunks, applied to usage.completion_tokens).</p>"]
    out.append(_table(["thinking", "solved", "pass rate", "completion tokens", "reasoning (est.)", "cached",
                       "completion tokens per solved", "cost", "cost per solved"],
                      [[esc("on" if s.thinking else "off"), _n(s.solved) + esc(f" / {s.tasks}"),
                        "\x00n" + esc(f"{s.pass_rate:.0%}"), _n(s.completion_tokens), _n(s.reasoning_tokens_est),
                        _n(s.cached_tokens), _n(s.completion_tokens_per_solved), _n(s.cost_usd if price else None),
                        _n(s.cost_per_solved_usd if price else None)] for s in eff.sets], "efficiency-sets"))
    for thinking in eff.thinking_modes:
        rows = [r for r in eff.rows if r.thinking == thinking]
        bars = [Bar(f"{r.task_id}" + (f" #{r.repeat}" if r.repeat else ""),
                    [("reasoning", float(r.reasoning_tokens_est or 0)), ("visible", float(r.content_tokens_est or 0)),
                     ("tool", float(r.tool_tokens_est or 0))])
                for r in rows]
        solved = sum(r.passed for r in rows)
        out.append(bar_chart(f"Tokens per task, thinking {'on' if thinking else 'off'}", bars, unit="tokens",
                             summary=f"{solved} of {len(rows)} solved; completion tokens by kind per task "
                                     "(cached prompt tokens and cost in the table below)"))
    out.append(_table(["task", "thinking", "solved", "reasoning (est.)", "visible (est.)", "tool (est.)",
                       "cached", "completion", "cost", "grader"],
                      [[esc(r.task_id), esc("on" if r.thinking else "off"),
                        f'<span class="{"better" if r.passed else "worse"}">{"yes" if r.passed else "no"}</span>',
                        _n(r.reasoning_tokens_est), _n(r.content_tokens_est), _n(r.tool_tokens_est),
                        _n(r.cached_tokens), _n(r.completion_tokens), _n(r.cost_usd if price else None),
                        esc((r.error or r.grade_detail)[:160])] for r in eff.rows], "efficiency-tasks"))
    return "".join(out)


# -- by shape: proxy and agent-bench reports ----------------------------------------------------------------
def _scalars(items: list[dict[str, Any]], limit: int = 8) -> list[str]:
    keys: list[str] = []
    for item in items:
        keys += [k for k, v in item.items() if k not in keys and (v is None or isinstance(v, str | int | float | bool))]
    return keys[:limit]


def _scalar(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _n(float(value))
    return esc("-" if value is None else str(value)[:160])


def _proxy(item: Input) -> str:
    exchanges = item.data["exchanges"]
    keys = _scalars(exchanges)
    shown = exchanges[:200]
    out = [f"<h3>{esc(item.name)}</h3><p>{len(exchanges)} exchange(s)"
           + (f", the first {len(shown)} shown" if len(shown) < len(exchanges) else "") + ".</p>"]
    out.append(_table(keys, [[_scalar(e.get(k)) for k in keys] for e in shown], "proxy"))
    return "".join(out)


def _agent(item: Input) -> str:
    tasks = item.data["tasks"]
    solved = sum(bool(t.get("solved")) for t in tasks)
    keys = [k for k in _scalars(tasks) if k != "solved"]
    usage_keys: list[str] = []
    for t in tasks:
        usage = t.get("usage")
        if isinstance(usage, dict):
            usage_keys += [k for k, v in usage.items() if k not in usage_keys and isinstance(v, int | float)]
    rows = [[*(_scalar(t.get(k)) for k in keys),
             f'<span class="{"better" if t.get("solved") else "worse"}">{"yes" if t.get("solved") else "no"}</span>',
             *(_scalar((t.get("usage") or {}).get(k) if isinstance(t.get("usage"), dict) else None)
               for k in usage_keys)] for t in tasks]
    return (f"<h3>{esc(item.name)}: {esc(item.model)}</h3><p>{solved} of {len(tasks)} task(s) solved.</p>"
            + _table([*keys, "solved", *(f"usage.{k}" for k in usage_keys)], rows, "agent"))


# -- provenance --------------------------------------------------------------------------------------
def _provenance(inputs: Sequence[Input]) -> str:
    out = []
    for item in inputs:
        fields: list[tuple[str, Any]] = [("kind", item.kind)]
        if item.kind == "bench":
            report = _bench(item)
            m = report.meta
            fields += [("harness", f"{m.harness_version} at {m.git_sha or 'unknown commit'}"),
                       ("target", f"{m.target} ({m.base_url})"), ("model", m.model),
                       ("profile", m.options.get("profile", "not recorded")),
                       ("surface", "Messages API" if m.surface == "anthropic" else "chat completions"),
                       ("host", f"{m.host} ({m.cpu_count} CPUs), {m.platform}, {m.python}"),
                       ("time", f"{m.started_at} to {m.ended_at or '(unfinished)'}"),
                       ("complete", "yes" if report.complete else "no: interrupted or stopped"),
                       ("command", " ".join(m.command) or "-")]
            fields += [("options", ", ".join(f"{k}={v}" for k, v in sorted(m.options.items())) or "-")]
            fields += [("gate failed", g) for g in report.gate_failures]
            fields += [("note", n) for n in report.notes]
        elif item.kind == "contract":
            d = item.data
            fields += [("harness", f"{d.get('harness_version') or '?'} at {d.get('git_sha') or 'unknown commit'}"),
                       ("target", f"{d.get('target') or '?'} ({d.get('base_url') or 'embedded twin'})"),
                       ("model", d.get("model") or "?"), ("profile", d.get("profile") or "-"),
                       ("time", f"{d.get('started_at') or '?'} to {d.get('finished_at') or '(unfinished)'}")]
        else:
            d = item.data
            meta = _mapping(d.get("meta")) or d
            fields += [(k, meta.get(k)) for k in ("harness_version", "git_sha", "target", "base_url", "model",
                                                  "profile", "surface", "host", "started_at", "finished_at")
                       if meta.get(k) is not None and not isinstance(meta.get(k), dict | list)]
        out.append(f"<h3>{esc(item.name)}</h3><dl class=\"meta\">"
                   + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in fields) + "</dl>")
    return "".join(out)
