"""`glm-harness compare` and `glm-harness plot`: arguments and the glue.

`add_*_arguments` fill the CLI's subcommand parser; `run_*` take the parsed namespace and return
the exit status: 0 no regression beyond the thresholds, 1 a regression beyond them (or a new run
that failed, or nothing compared), 3 inconclusive: a row a --fail-on rule covers could not be
tested (a client-bound level, too few samples), so the gate can say neither; `--allow-untested`
accepts such rows (listed, exit 0). Bad input raises `UsageError` (the CLI prints it as one line
and exits 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._argtypes import at_least, output_dir, output_file, writable_dir
from .._files import write_atomic
from ..errors import UsageError
from .gate import problems
from .load import Loaded, check_comparable, latest_baseline, load
from .render import render_json, render_markdown, render_table
from .rows import CompareSettings, Comparison, compare
from .stats import DEFAULT_ALPHA, DEFAULT_MIN_EFFECT, DEFAULT_MIN_EFFECT_TAIL, DEFAULT_RESAMPLES
from .thresholds import DEFAULT_FAIL_ON, apply, check_rules_match, parse_fail_on, untested

EXIT_OK, EXIT_REGRESSION, EXIT_USAGE, EXIT_INCONCLUSIVE = 0, 1, 2, 3
DEFAULT_BASELINE_DIR = Path("reports/baselines")


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 0.5:
        raise argparse.ArgumentTypeError(f"expected a significance level in (0, 0.5), got {text!r}")
    return value


def _effect(text: str) -> float:
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < 10:
        raise argparse.ArgumentTypeError(f"expected a relative change like 5% or 0.05, got {text!r}")
    return value


def add_compare_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add = parser.add_argument
    add("reports", nargs="+", metavar="REPORT",
        help="BASE.json NEW.json [MORE.json ...]: each later report is compared with the first. "
             "With --baseline every REPORT is a new one. Bench reports or contract outcome "
             "reports (pytest --report), not both")
    add("--baseline", metavar="PATH|latest", default=None,
        help="the base report; 'latest': the newest report of the same kind, model and target "
             "in --baseline-dir")
    add("--baseline-dir", type=Path, default=DEFAULT_BASELINE_DIR, metavar="DIR",
        help="where --baseline latest looks, recursively (default: %(default)s)")
    add("--fail-on", default=None, metavar="RULES",
        help="comma-separated METRIC[@SCOPE]:CHANGE, e.g. 'ttft.p95:+10%%,pass_rate:-2pp,"
             "itl.p50@c8:+2ms,contract.flipped:0'; a row fails when it is a significant "
             "regression AND beyond its rule; 'none': no rule (a comparison that tested "
             "nothing, or a new run that failed or did not finish, still fails). Default: "
             + DEFAULT_FAIL_ON.replace("%", "%%"))
    add("--allow-untested", action="store_true",
        help="accept rows a --fail-on rule covers that could not be tested (a client-bound level, "
             "too few samples for p95 or p99); they are listed, and exit 0 instead of 3 (inconclusive)")
    add("--alpha", type=_alpha, default=DEFAULT_ALPHA,
        help="family-wise significance level per comparison, Holm-adjusted (default: %(default)s)")
    add("--min-effect", type=_effect, default=DEFAULT_MIN_EFFECT, metavar="REL",
        help="smallest relative change called better or worse, e.g. 5%% (default: 5%%)")
    add("--min-effect-tail", type=_effect, default=DEFAULT_MIN_EFFECT_TAIL, metavar="REL",
        help="the same for p95 and p99, which move more between runs (default: 10%%)")
    add("--resamples", type=at_least(int, 200), default=DEFAULT_RESAMPLES, metavar="N",
        help="bootstrap resamples (default: %(default)s)")
    add("--seed", type=int, default=0, help="bootstrap seed (default: %(default)s)")
    add("--format", choices=("table", "markdown", "json"), default="table",
        help="what to print on stdout (default: %(default)s)")
    add("--markdown", type=output_file(), default=None, metavar="PATH", help="also write Markdown here")
    add("--json", type=output_file(), default=None, metavar="PATH", help="also write JSON here")
    add("--title", default=None, help="heading of the Markdown output")
    add("--plots", type=output_dir(), default=None, metavar="DIR",
        help="also draw the plots of the bench reports into DIR")
    return parser


def _pairs(args: argparse.Namespace) -> tuple[list[tuple[Loaded, Loaded]], list[Loaded]]:
    reports = [load(p) for p in args.reports]
    if args.baseline is None:
        if len(reports) < 2:
            raise UsageError("compare needs BASE.json and at least one NEW.json "
                             "(or --baseline PATH|latest and one NEW.json)")
        base, news = reports[0], reports[1:]
        pairs = [(base, new) for new in news]
    elif args.baseline == "latest":
        pairs = [(latest_baseline(new, args.baseline_dir), new) for new in reports]
    else:
        base = load(args.baseline)
        pairs = [(base, new) for new in reports]
    for base, new in pairs:
        check_comparable(base, new)
    everything: list[Loaded] = []
    for base, new in pairs:
        for r in (base, new):
            if all(r.path.resolve() != o.path.resolve() for o in everything):
                everything.append(r)
    return pairs, everything


def _write(path: Path, text: str) -> None:
    try:
        write_atomic(path, text)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from None


def run_compare(args: argparse.Namespace) -> int:
    rules = parse_fail_on(args.fail_on)
    settings = CompareSettings(alpha=args.alpha, min_effect=args.min_effect,
                        min_effect_tail=args.min_effect_tail, resamples=args.resamples,
                        seed=args.seed)
    pairs, everything = _pairs(args)
    comparisons: list[Comparison] = []
    for base, new in pairs:
        comparison = compare(base, new, settings)
        apply(comparison, rules)
        comparison.problems = problems(comparison)
        comparison.untested = untested(comparison, rules)
        comparison.allow_untested = args.allow_untested
        comparisons.append(comparison)
    if args.fail_on is not None:
        check_rules_match(rules, comparisons)
    code = (EXIT_REGRESSION if any(c.failed for c in comparisons)
            else EXIT_INCONCLUSIVE if any(c.inconclusive for c in comparisons) else EXIT_OK)
    printed = {"table": lambda: render_table(comparisons),
               "markdown": lambda: render_markdown(comparisons, title=args.title),
               "json": lambda: render_json(comparisons, code)}[args.format]()
    if args.markdown is not None:
        _write(args.markdown, render_markdown(comparisons, title=args.title))
    if args.json is not None:
        _write(args.json, render_json(comparisons, code))
    if args.plots is not None:
        from .plots import plot_reports

        for path in plot_reports(everything, args.plots):
            print(f"plot: {path}", file=sys.stderr)
    sys.stdout.write(printed)
    sys.stdout.flush()
    return code


def add_plot_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("reports", nargs="+", metavar="REPORT", help="bench reports (.json)")
    parser.add_argument("--out", type=output_dir(), default=None, metavar="DIR",
                        help="where to write the PNGs (default: the first report's directory)")
    return parser


def run_plot(args: argparse.Namespace) -> int:
    from .plots import plot_reports

    reports = [load(p) for p in args.reports]
    for report in reports:
        if report.kind != "bench":
            raise UsageError(f"{report.path}: a {report.kind} report has nothing to plot; "
                             "plot takes bench reports")
    out = args.out if args.out is not None else writable_dir(reports[0].path.parent)
    for path in plot_reports(reports, out):
        print(path)
    return EXIT_OK
