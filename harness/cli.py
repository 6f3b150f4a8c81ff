"""`glm-harness`: serve the twin, validate recorded traffic, export schemas, run and compare
benchmarks. Bad input is one line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ._argtypes import output_dir
from ._extras import COMMAND_EXTRAS, missing, require_for_command
from ._signals import EXIT_SIGINT, EXIT_SIGTERM, Terminated, exit_on_sigterm, interrupt_as_keyboard_interrupt
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
    from collections import Counter

    from .contract import Mode
    from .validate import validate_paths

    mode = Mode.STRICT if args.strict else Mode.LENIENT
    reports = validate_paths(args.files, mode)
    for report in reports:
        if report.skipped:
            print(f"{report.path}: skipped ({report.reason})")
            continue
        if not report.known:
            why = report.reason or "not a request, answer, error body, chunk, SSE stream or transcript"
            print(f"{report.path}: unknown kind ({why})")
            continue
        status = "ok" if not report.findings else f"{len(report.findings)} finding(s)"
        notes = f", {len(report.notices)} notice(s)" if report.notices else ""
        print(f"{report.path}: {report.kind}, {status}{notes}")
        for finding in report.findings:
            print(f"  {finding.path}: [{finding.kind}] {finding.message}")
        for notice in report.notices:
            print(f"  notice {notice.path}: [{notice.kind}] {notice.message}")
    unknown = sum(1 for r in reports if not r.known)
    bad = sum(1 for r in reports if r.known and r.findings)
    skipped = Counter(r.reason for r in reports if r.skipped)
    print(f"{len(reports) - bad - unknown - skipped.total()} valid, {bad} invalid"
          + (f", {unknown} of unknown kind" if unknown else "")
          + (f", {skipped.total()} skipped: " + "; ".join(f"{n} {why}" for why, n in sorted(skipped.items()))
             if skipped else "") + f" ({mode} mode)")
    if mode is Mode.STRICT:
        print(_provenance_summary(reports))
    return 2 if unknown else 1 if bad or len(reports) == skipped.total() else 0


def _provenance_summary(reports: list[Any]) -> str:
    """Documented vs observed vs unknown, by field path (array indices collapsed)."""
    import re

    def field(path: str) -> str:
        path = re.sub(r"^(event|chunk)\[\d+\]", "$", path)
        path = path[path.index("$"):] if "$" in path else path  # a capture wrapper's `round1.response.$.x`
        return re.sub(r"\[\d+\]", "[]", path)

    def fields(kind: str, attr: str) -> set[str]:
        return {field(f.path) for r in reports for f in getattr(r, attr) if f.kind == kind}

    observed, unknown = fields("observed_field", "notices"), fields("unknown_field", "findings")
    return (f"fields beyond the documented contract: {len(observed)} observed in real traffic "
            f"({', '.join(sorted(observed)) or 'none'}); {len(unknown)} unknown "
            f"({', '.join(sorted(unknown)) or 'none'})")


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


def _add_validate_arguments(validate: argparse.ArgumentParser) -> None:
    validate.add_argument("files", nargs="+", metavar="FILE|DIR")
    validate.add_argument("--strict", action="store_true",
                          help="also report unknown fields, nulls, missing always-sent fields (drift), "
                               "and undocumented fields real GLM is known to send (notices)")


def _add_schema_arguments(schema: argparse.ArgumentParser) -> None:
    schema.add_argument("--out", type=output_dir(), default=Path("fixtures/schemas"),
                        help="directory (default %(default)s)")


# name: (help, where its arguments are added, what runs it), as "module:function" under harness.
# Only the command being run is imported: together they pull in numpy, scipy, the twin and
# uvicorn, seconds of start-up that every `glm-harness` call (and every bench worker) would pay.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "serve": ("run the GLM twin over HTTP on loopback", "mock.server:add_serve_arguments", "cli:_serve"),
    "validate": ("validate recorded requests, answers, streams", "cli:_add_validate_arguments",
                 "cli:_validate"),
    "schema": ("export the contract's JSON Schemas", "cli:_add_schema_arguments", "cli:_schema"),
    "drift": ("compare the twin's answer shapes with recorded real answers", "drift:add_drift_arguments",
              "drift:run_drift"),
    "learn": ("propose contract changes from a folder of new recordings", "learn:add_learn_arguments",
              "learn:run_learn"),
    "record": ("record exchanges as scrubbed transcripts", "record:add_record_arguments",
               "record:run_record"),
    "compare": ("compare reports; exit 1 on a regression beyond the thresholds",
                "compare.commands:add_compare_arguments", "compare.commands:run_compare"),
    "plot": ("plot benchmark reports (PNG)", "compare.commands:add_plot_arguments",
             "compare.commands:run_plot"),
    "summary": ("bench and contract reports side by side as Markdown (e.g. one per model)",
                "compare.summary:add_summary_arguments", "compare.summary:run_summary"),
    "report": ("one self-contained HTML page of reports, comparisons and nights",
               "page.commands:add_report_arguments", "page.commands:run_report"),
    "bench": ("run latency and token-efficiency benchmarks", "bench.commands:add_bench_arguments",
              "bench.commands:run_bench"),
    "calibrate": ("measure the harness's own timing error against the twin",
                  "bench.commands:add_calibrate_arguments", "bench.commands:run_calibrate"),
    "proxy": ("a checking proxy between an agent and GLM (or the twin)", "proxy:add_proxy_arguments",
              "proxy:run_proxy"),
    "agent-bench": ("tokens and seconds per coding task through a real agent (Claude Code)",
                    "agent_bench:add_agent_bench_arguments", "agent_bench:run_agent_bench"),
}


def _load(spec: str) -> Callable[..., Any]:
    module, name = spec.split(":")
    return getattr(importlib.import_module(f"harness.{module}"), name)  # type: ignore[no-any-return]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command listed (with the extra it needs, if one is missing); only `command`'s
    arguments loaded (`main` stops a command whose extra is missing with one line first)."""
    parser = _Parser(prog="glm-harness", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, (helptext, add, run) in COMMANDS.items():
        lacking = [extra for extra in COMMAND_EXTRAS.get(name, ()) if missing(extra)]
        if lacking:
            commands.add_parser(name, help=f"{helptext} (needs glm-harness[{','.join(lacking)}])",
                                add_help=False)
            continue
        sub = commands.add_parser(name, help=helptext)
        if name == command:
            _load(add)(sub)
            sub.set_defaults(run=_load(run))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        with interrupt_as_keyboard_interrupt():
            return _main(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:  # while the command's modules load, before _run's own guard
        print("glm-harness: interrupted", file=sys.stderr)
        return EXIT_SIGINT


def _main(argv: list[str]) -> int:
    try:
        require_for_command(argv)
    except HarnessError as error:
        print(f"glm-harness: error: {error}", file=sys.stderr)
        return 2
    parser = build_parser(argv[0] if argv else None)
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
