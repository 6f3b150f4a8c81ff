"""Plots of bench reports (matplotlib, Agg backend, PNG), one colour per report throughout.

Every file name starts with the reports' names (`bench-a.latency-cdf-c1.png`, or
`bench-a+bench-b.` for a comparison), so plots of other reports in the same folder survive.

* `latency-cdf-<level>.png`: per concurrency level, the CDFs of TTFT, ITL per chunk, TPOT and
  E2E, one line per report, with the p50 and p95 marked.
* `latency-vs-concurrency.png`: TTFT and ITL p50 (solid) and p95 (dashed) against concurrency.
* `tokens-per-solved-task.png`: completion tokens per solved task, per thinking mode and report,
  split into estimated reasoning and visible tokens, with the pass rate written on each bar.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._files import write_atomic
from ..errors import UsageError
from .load import Loaded

_CDF_PANELS = (("ttft_ms", "TTFT"), ("itl_chunk_ms", "ITL per chunk"), ("tpot_ms", "TPOT"),
               ("e2e_ms", "E2E"))
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22")


def _save(fig: Any, path: Path) -> None:
    """The PNG written whole, and never through a link planted at a name the harness chose."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    write_atomic(path, buffer.getvalue(), named=False)


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def labels_for(reports: Sequence[Loaded]) -> list[str]:
    """Model names, made unique with the file name where two reports share a model."""
    models = [r.model for r in reports]
    labels = []
    for report in reports:
        label = report.model
        if models.count(report.model) > 1:
            label = f"{report.model} · {report.path.stem}"
        labels.append(label if len(label) <= 48 else label[:45] + "...")
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return unique


def _level_key(name: str, concurrency: int) -> tuple[int, str]:
    return concurrency, name


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def plot_latency_cdfs(reports: Sequence[Loaded], labels: Sequence[str], out_dir: Path,
                      prefix: str = "") -> list[Path]:
    plt = _pyplot()
    levels: dict[str, int] = {}
    for r in reports:
        assert r.bench is not None
        for lv in r.bench.levels:
            if lv.kind == "latency":
                levels.setdefault(lv.name, lv.concurrency)
    paths = []
    from matplotlib.lines import Line2D

    for name, concurrency in sorted(levels.items(), key=lambda kv: _level_key(kv[0], kv[1])):
        fig, axes = plt.subplots(2, 2, figsize=(12, 8.4), dpi=110)
        for ax, (attr, title) in zip(axes.flat, _CDF_PANELS, strict=True):
            tops: list[float] = []
            lows: list[float] = []
            counts: list[str] = []
            for i, report in enumerate(reports):
                assert report.bench is not None
                level = next((lv for lv in report.bench.levels if lv.name == name), None)
                values = np.sort(np.asarray(getattr(level.samples, attr) if level else [],
                                            dtype=float))
                values = values[np.isfinite(values)]
                counts.append(str(values.size))
                if not values.size:
                    continue
                y = np.arange(1, values.size + 1) / values.size
                color = _COLORS[i % len(_COLORS)]
                ax.step(values, y, where="post", color=color, lw=1.8)
                for q, marker in ((50, "o"), (95, "s")):
                    x = float(np.percentile(values, q))
                    ax.plot([x], [q / 100], marker=marker, color=color, ms=6, mec="white",
                            zorder=3)
                tops.append(float(np.percentile(values, 99.5)))
                lows.append(float(values[0]))
            ax.set_title(f"{title}", fontsize=12, loc="left", fontweight="bold")
            ax.set_title("n = " + ", ".join(counts), fontsize=8, loc="right", color="0.4")
            ax.set_xlabel("ms")
            ax.set_ylabel("fraction of values ≤ x")
            ax.set_ylim(0, 1.02)
            for level_y in (0.5, 0.95):
                ax.axhline(level_y, color="0.75", lw=0.8, ls=":", zorder=0)
                ax.text(1.0, level_y, f" p{round(level_y * 100)}",
                        transform=ax.get_yaxis_transform(), va="center", ha="left", fontsize=8,
                        color="0.45")
            if tops:
                low, high = min(lows), max(tops)
                span = (high - low) or max(high, 1.0)
                ax.set_xlim(left=max(0.0, low - 0.08 * span), right=high + 0.06 * span)
            else:
                ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes,
                        color="0.5")
            ax.grid(True, axis="x", color="0.92")
        handles = [Line2D([], [], color=_COLORS[i % len(_COLORS)], lw=2.5, label=label)
                   for i, label in enumerate(labels)]
        fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 4), fontsize=10,
                   frameon=False, bbox_to_anchor=(0.5, 0.965))
        fig.suptitle(f"Latency CDFs at concurrency {concurrency} (level {name}); "
                     "● p50  ■ p95; x axis from the fastest value to p99.5", fontsize=13,
                     y=0.99)
        fig.tight_layout(rect=(0, 0, 0.97, 0.935))
        path = out_dir / f"{prefix}latency-cdf-{_safe(name)}.png"
        _save(fig, path)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_latency_vs_concurrency(reports: Sequence[Loaded], labels: Sequence[str],
                                out_dir: Path, prefix: str = "") -> Path:
    plt = _pyplot()
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, 2, figsize=(12, 5), dpi=110)
    all_c: set[int] = set()
    for ax, (attr, title) in zip(axes, (("ttft_ms", "TTFT"), ("itl_chunk_ms", "ITL per chunk")),
                                 strict=True):
        for i, report in enumerate(reports):
            assert report.bench is not None
            levels = sorted((lv for lv in report.bench.levels
                             if lv.kind == "latency" and lv.rate is None),
                            key=lambda lv: lv.concurrency)
            points = [(lv.concurrency, np.asarray(getattr(lv.samples, attr), dtype=float))
                      for lv in levels]
            points = [(c, v[np.isfinite(v)]) for c, v in points if np.isfinite(v).any()]
            if not points:
                continue
            cs = [c for c, _ in points]
            all_c.update(cs)
            color = _COLORS[i % len(_COLORS)]
            for q, style, marker in ((50, "-", "o"), (95, "--", "s")):
                ax.plot(cs, [np.percentile(v, q) for _, v in points], ls=style, marker=marker,
                        color=color, lw=1.8, ms=6)
        ax.set_title(title, fontsize=12, loc="left", fontweight="bold")
        ax.set_xlabel("concurrency (requests in flight)")
        ax.set_ylabel("ms")
        ax.set_xscale("log", base=2)
        ax.set_ylim(bottom=0)
        ax.grid(True, color="0.92")
    if all_c:
        for ax in axes:
            ax.set_xticks(sorted(all_c))
            ax.set_xticklabels([str(c) for c in sorted(all_c)])
            if len(all_c) == 1:
                c = next(iter(all_c))
                ax.set_xlim(c / 1.5, c * 1.5)
    handles = [Line2D([], [], color=_COLORS[i % len(_COLORS)], lw=3, label=label)
               for i, label in enumerate(labels)]
    handles += [Line2D([], [], color="0.3", ls="-", marker="o", label="p50"),
                Line2D([], [], color="0.3", ls="--", marker="s", label="p95")]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 5), fontsize=9,
               frameon=False)
    fig.suptitle("Latency percentiles against concurrency (closed-loop levels; lower is better)",
                 fontsize=13)
    fig.tight_layout(rect=(0, 0.09, 1, 0.95))
    path = out_dir / f"{prefix}latency-vs-concurrency.png"
    _save(fig, path)
    plt.close(fig)
    return path


def plot_tokens_per_solved(reports: Sequence[Loaded], labels: Sequence[str],
                           out_dir: Path, prefix: str = "") -> Path | None:
    plt = _pyplot()
    from matplotlib.patches import Patch

    with_eff = [(i, r) for i, r in enumerate(reports) if r.bench and r.bench.efficiency]
    if not with_eff:
        return None
    modes = sorted({m for _, r in with_eff for m in r.bench.efficiency.thinking_modes},  # type: ignore[union-attr]
                   reverse=True)
    fig, ax = plt.subplots(figsize=(max(7.0, 2.2 + 1.6 * len(modes) * len(with_eff)), 5.5),
                           dpi=110)
    width = 0.8 / len(with_eff)
    top = 0.0
    for slot, (i, report) in enumerate(with_eff):
        assert report.bench is not None and report.bench.efficiency is not None
        eff = report.bench.efficiency
        color = _COLORS[i % len(_COLORS)]
        for g, mode in enumerate(modes):
            s = next((s for s in eff.sets if s.thinking == mode), None)
            x = g - 0.4 + width * (slot + 0.5)
            if s is None:
                continue
            if not s.solved:
                ax.text(x, 0, "none\nsolved", ha="center", va="bottom", fontsize=8, color=color)
                continue
            if s.completion_tokens is None or s.reasoning_tokens_est is None:
                ax.text(x, 0, "tokens\nunknown", ha="center", va="bottom", fontsize=8, color=color)
                continue
            reasoning = s.reasoning_tokens_est / s.solved
            visible = (s.completion_tokens - s.reasoning_tokens_est) / s.solved
            ax.bar(x, reasoning, width * 0.92, color=color, alpha=0.55, hatch="//",
                   edgecolor="white")
            ax.bar(x, visible, width * 0.92, bottom=reasoning, color=color, edgecolor="white")
            total = reasoning + visible
            top = max(top, total)
            ax.text(x, total, f"{total:,.0f}\n{s.solved}/{s.tasks} solved", ha="center",
                    va="bottom", fontsize=8)
    ax.set_xticks(range(len(modes)))
    ax.set_xticklabels([f"thinking {'on' if m else 'off'}" for m in modes], fontsize=11)
    ax.set_xlim(-0.6, len(modes) - 0.4)
    ax.set_ylim(0, top * 1.25 if top else 1)
    ax.set_ylabel("completion tokens per solved task")
    ax.grid(True, axis="y", color="0.92")
    ax.set_axisbelow(True)
    handles = [Patch(color=_COLORS[i % len(_COLORS)], label=labels[i]) for i, _ in with_eff]
    handles += [Patch(facecolor="0.85", hatch="//", edgecolor="0.35",
                      label="reasoning (est.)"),
                Patch(facecolor="0.6", label="visible answer")]
    ax.legend(handles=handles, fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False)
    task_sets = {r.bench.efficiency.task_set for _, r in with_eff}  # type: ignore[union-attr]
    ax.set_title("Completion tokens per solved task (lower is better), task set "
                 + ", ".join(sorted(task_sets)), fontsize=12, loc="left")
    fig.tight_layout()
    path = out_dir / f"{prefix}tokens-per-solved-task.png"
    _save(fig, path)
    plt.close(fig)
    return path


def plot_prefix(reports: Sequence[Loaded], limit: int = 80) -> str:
    """What the plots' file names start with: the reports' names, so that plotting another
    report (or set of reports) into the same folder never overwrites these."""
    stems = [_safe(r.path.stem) for r in reports]
    joined = "+".join(stems)
    if len(joined) > limit:
        digest = hashlib.sha256(joined.encode()).hexdigest()[:8]
        joined = f"{stems[0][:limit - 20]}+{len(stems) - 1}more-{digest}"
    return joined + "."


def plot_reports(reports: Sequence[Loaded], out_dir: str | Path) -> list[Path]:
    """Write every plot for `reports` (bench reports only) into `out_dir`; return the paths."""
    bench = [r for r in reports if r.bench is not None]
    if not bench:
        raise UsageError("nothing to plot: plots are drawn from bench reports, none was given")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = labels_for(bench)
    prefix = plot_prefix(bench)
    paths = plot_latency_cdfs(bench, labels, out, prefix)
    paths.append(plot_latency_vs_concurrency(bench, labels, out, prefix))
    tokens = plot_tokens_per_solved(bench, labels, out, prefix)
    if tokens is not None:
        paths.append(tokens)
    return paths
