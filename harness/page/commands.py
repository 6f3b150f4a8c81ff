"""`glm-harness report FILE... [--out PAGE.html] [--trend]`: arguments and the glue.

Exit 0 when the page is written; bad input is one line and exit 2 (the CLI's `UsageError`).
The page is scrubbed of the key once more as a whole and written atomically.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .._argtypes import output_file, writable_file
from .._files import write_atomic
from ..scrub import scrub_text
from .inputs import read
from .render import build_page
from .trend import build_trend_page


def add_report_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add = parser.add_argument
    add("reports", nargs="+", metavar="FILE",
        help="bench, contract (pytest --glm-report), compare (--json), proxy or agent-bench reports, "
             "in any mix; two or more of one kind are compared, each later one with the first")
    add("--out", type=output_file(".html"), default=None, metavar="PAGE.html",
        help="where to write the page (default: report.html next to the first FILE)")
    add("--trend", action="store_true",
        help="the nightly's trend page: bench and contract reports of several models and nights, "
             "each metric per model over the nights, the last night's verdict on top")
    add("--title", default=None, help="the page's heading")
    return parser


def run_report(args: argparse.Namespace) -> int:
    inputs = [read(path) for path in args.reports]
    if args.trend:
        text = build_trend_page(inputs, args.title or "glm-harness nightly trend")
    else:
        text = build_page(inputs, args.title or "glm-harness report")
    out: Path = args.out if args.out is not None else writable_file(inputs[0].path.parent / "report.html")
    data = scrub_text(text)
    write_atomic(out, data)
    print(f"{out} ({len(data.encode()) / 1024:,.0f} KB)")
    return 0
