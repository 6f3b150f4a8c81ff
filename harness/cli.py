"""`glm-harness`: serve the twin, validate recorded traffic, export schemas, run and compare
benchmarks. Bad input is one line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from ._argtypes import output_dir
from ._signals import EXIT_SIGINT, EXIT_SIGTERM, Terminated, exit_on_sigterm
from .errors import HarnessError
from .scrub import scrubbed_stdio

Command = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _serve(args: argparse.Namespace) -> int:
    from .mock.server import serve, twin_from_args

    serve(twin_from_args(args), host=args.host, port=args.port)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from .contract import Mode
    from .validate import validate_file

    mode = Mode.STRICT if args.strict else Mode.LENIENT
    reports = [validate_file(Path(name), mode) for name in args.files]
    for report in reports:
        if not report.known:
            print(f"{report.path}: unknown kind (not a request, answer, error body, chunk, SSE "
                  "stream or transcript)")
            continue
        status = "ok" if not report.findings else f"{len(report.findings)} finding(s)"
        print(f"{report.path}: {report.kind}, {status}")
        for finding in report.findings:
            print(f"  {finding.path}: [{finding.kind}] {finding.message}")
    unknown = sum(1 for r in reports if not r.known)
    bad = sum(1 for r in reports if r.known and r.findings)
    print(f"{len(reports) - bad - unknown} valid, {bad} invalid"
          + (f", {unknown} of unknown kind" if unknown else "") + f" ({mode} mode)")
    return 2 if unknown else 1 if bad else 0


def _schema(args: argparse.Namespace) -> int:
    from .contract.schema import export_schemas

    for path in export_schemas(Path(args.out)):
        print(path)
    try:
        from .bench.report import export_report_schema
    except ImportError:
        return 0
    print(export_report_schema(Path(args.out)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="glm-harness", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    from .mock.server import add_serve_arguments

    serve = commands.add_parser("serve", help="run the GLM twin over HTTP on loopback")
    add_serve_arguments(serve)
    serve.set_defaults(run=_serve)

    validate = commands.add_parser("validate", help="validate recorded requests, answers, streams")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument("--strict", action="store_true",
                          help="also report unknown fields, nulls, missing always-sent fields")
    validate.set_defaults(run=_validate)

    schema = commands.add_parser("schema", help="export the contract's JSON Schemas")
    schema.add_argument("--out", type=output_dir(), default=Path("fixtures/schemas"),
                        help="directory (default %(default)s)")
    schema.set_defaults(run=_schema)

    from .drift import add_drift_arguments, run_drift
    from .record import add_record_arguments, run_record

    drift = commands.add_parser("drift", help="compare the twin's answer shapes with recorded real answers")
    add_drift_arguments(drift)
    drift.set_defaults(run=run_drift)

    record = commands.add_parser("record", help="record exchanges as scrubbed transcripts")
    add_record_arguments(record)
    record.set_defaults(run=run_record)

    _add_optional_commands(commands)
    return parser


def _add_optional_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from .compare import commands as compare
    from .compare import summary

    for name, helptext, add, run in (
        ("compare", "compare reports; exit 1 on a regression beyond the thresholds",
         compare.add_compare_arguments, compare.run_compare),
        ("plot", "plot benchmark reports (PNG)", compare.add_plot_arguments, compare.run_plot),
        ("summary", "bench and contract reports side by side as Markdown (e.g. one per model)",
         summary.add_summary_arguments, summary.run_summary),
    ):
        sub = commands.add_parser(name, help=helptext)
        add(sub)
        sub.set_defaults(run=run)
    from .bench import commands as bench

    for name, helptext, add, run in (
        ("bench", "run latency and token-efficiency benchmarks", bench.add_bench_arguments, bench.run_bench),
        ("calibrate", "measure the harness's own timing error against the twin",
         bench.add_calibrate_arguments, bench.run_calibrate),
    ):
        sub = commands.add_parser(name, help=helptext)
        add(sub)
        sub.set_defaults(run=run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or one line about bad arguments
        return exit_.code if isinstance(exit_.code, int) else 2
    with scrubbed_stdio():  # the one choke point for what a command prints
        return _run(args, f"glm-harness {args.command}")


def _run(args: argparse.Namespace, prog: str) -> int:
    try:
        with exit_on_sigterm():
            return int(args.run(args))
    except HarnessError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # an output that vanished or filled up mid-run
        where = f"{error.filename}: " if error.filename else ""
        print(f"{prog}: error: {where}{error.strerror or error}", file=sys.stderr)
        return 2
    except RecursionError:
        print(f"{prog}: error: input nested too deep to process", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_SIGINT
    except Terminated:
        print(f"{prog}: terminated", file=sys.stderr)
        return EXIT_SIGTERM


if __name__ == "__main__":
    raise SystemExit(main())
