"""Mutation testing of the checks, the stream reading and the SSE decoder, against a committed
list of equivalent mutants.

    python tools/mutation.py            # mutmut run, then the verdict (tox -e mutation does the same)
    python tools/mutation.py --no-run   # the verdict on the last run's results
    python tools/mutation.py --module harness/bench/metrics.py   # one module, with only its tests
    python tools/mutation.py --list-modules                      # the modules --module takes

mutmut (configured in pyproject.toml, [tool.mutmut]) mutates harness/checks.py, harness/stream.py,
harness/message_stream.py and harness/sse.py one change at a time and runs tests/checks and
tests/test_sse.py against each.
A mutant the tests do not notice ("survived") is either a gap in the tests or equivalent: a
change no caller can observe. The equivalent ones are listed, each with the reason, in
tools/mutation-survivors.json, matched by function and changed lines (not by mutmut's numbering,
which moves with every edit). Any other survivor fails this command, so a check switched off
by a refactor, or a new rule without its test, turns it red. A listed mutant that no longer
survives is reported too, so the list stays honest.

--module mutates one module of MODULE_TESTS with only the tests that exercise it, so a module
takes minutes instead of the whole suite's half hour. mutmut reads its configuration from the
pyproject.toml of the directory it runs in, so each module runs in a scratch copy of the
repository (.mutation/<module>/, kept between runs: mutmut only retests what changed) whose
[tool.mutmut] names that module and those tests.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SURVIVORS = ROOT / "tools" / "mutation-survivors.json"
TARGET_SCORE = 95.0
SCRATCH = ROOT / ".mutation"
# What a per-module run copies into its scratch directory, and from there (also_copy) into
# mutmut's mutants/ directory, where the tests run: the key-leak tests run the contract suites.
_ALSO_COPY = ["fixtures", "docs", "suites", "conftest.py"]
_COPIED = ("harness", "tests", *_ALSO_COPY, "pyproject.toml")
# The modules that produce numbers and verdicts, each with the tests that exercise it (run
# against every mutant, so only those: the whole suite would take hours).
MODULE_TESTS: dict[str, list[str]] = {
    "harness/bench/metrics.py": ["tests/bench/test_bench_metrics.py", "tests/bench/test_bench_metrics_exact.py",
                                 "tests/bench/test_token_sources.py"],
    "harness/bench/stats.py": ["tests/bench/test_bench_stats.py"],
    "harness/compare/stats.py": ["tests/compare/test_compare_stats.py", "tests/compare/test_compare_stats_exact.py"],
    "harness/compare/gate.py": ["tests/compare/test_gates.py", "tests/test_compare_verdicts.py"],
    "harness/scrub.py": ["tests/test_scrub_rules.py", "tests/test_scrub_encodings.py", "tests/test_key_leak.py",
                         "tests/test_transcript.py"],
    "harness/drift.py": ["tests/test_drift.py", "tests/test_drift_messages.py"],
}
_RESULT = re.compile(r"^\s*(?P<name>[\w.]+__mutmut_\d+): (?P<status>.+)$")


def mutmut(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        sys.exit(f"mutation: mutmut {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return done.stdout


def results(cwd: Path = ROOT) -> dict[str, str]:
    found = {}
    for line in mutmut("results", "--all", "true", cwd=cwd).splitlines():
        match = _RESULT.match(line)
        if match:
            found[match["name"]] = match["status"]
    if not found:
        sys.exit("mutation: no mutmut results; run without --no-run first")
    return found


def signature(name: str, cwd: Path = ROOT) -> dict[str, str]:
    """What identifies a mutant across edits: module, function, the line before and after."""
    diff = mutmut("show", name, cwd=cwd).splitlines()
    removed = [line[1:].strip() for line in diff if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].strip() for line in diff if line.startswith("+") and not line.startswith("+++")]
    # harness.checks.x_fn__mutmut_3 (x_ + the function's name, which may start with _ itself),
    # harness.sse.xǁClassǁmethod__mutmut_1
    module, _, rest = name.partition(".x")
    function = rest[1:].rsplit("__mutmut_", 1)[0].replace("ǁ", ".")
    return {"module": module.rsplit(".", 1)[0] if not rest else module, "function": function,
            "from": "\n".join(removed), "to": "\n".join(added)}


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


def scratch_copy(module: str) -> Path:
    """A copy of the repository whose [tool.mutmut] mutates `module` with its tests only."""
    where = SCRATCH / module.removesuffix(".py").replace("/", ".")
    where.mkdir(parents=True, exist_ok=True)
    for name in _COPIED:
        source, target = ROOT / name, where / name
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target)
    pyproject = (where / "pyproject.toml").read_text(encoding="utf-8")
    for key, value in (("only_mutate", [module]), ("pytest_add_cli_args_test_selection", MODULE_TESTS[module]),
                       ("also_copy", _ALSO_COPY)):
        pyproject, count = re.subn(rf"(?m)^{key} = .*$", lambda _m, k=key, v=value: f"{k} = {_toml_list(v)}",
                                   pyproject)
        if count != 1:
            sys.exit(f"mutation: pyproject.toml has no single `{key} = ...` line in [tool.mutmut]")
    (where / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    return where


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="report on the last run instead of running mutmut")
    parser.add_argument("--module", choices=sorted(MODULE_TESTS), metavar="PATH",
                        help="mutate this one module with only its tests (see --list-modules)")
    parser.add_argument("--list-modules", action="store_true", help="print the modules --module takes, and exit")
    args = parser.parse_args()
    if args.list_modules:
        for module, tests in MODULE_TESTS.items():
            print(f"{module}: {' '.join(tests)}")
        return 0
    cwd = ROOT
    if args.module:
        cwd = SCRATCH / args.module.removesuffix(".py").replace("/", ".") if args.no_run else scratch_copy(args.module)
    if not args.no_run:
        subprocess.run([sys.executable, "-m", "mutmut", "run"], cwd=cwd, check=False)
    statuses = results(cwd)
    listed = json.loads(SURVIVORS.read_text())["equivalent"]
    # only the entries of the modules this run mutated can be seen, so only they can be stale
    mutated = {name.split(".x", 1)[0] for name in statuses}
    listed = [e for e in listed if e["module"] in mutated]
    keys = {(e["module"], e["function"], e["from"], e["to"]): e for e in listed}
    seen_listed: set[tuple[str, str, str, str]] = set()
    unexplained: list[dict[str, str]] = []
    counts: dict[str, Counter[str]] = {}
    for name, status in sorted(statuses.items()):
        module = name.split(".x", 1)[0]
        tally = counts.setdefault(module, Counter())
        if status != "survived":
            tally["killed" if status in ("killed", "timeout") else status] += 1
            continue
        sig = signature(name, cwd)
        key = (sig["module"], sig["function"], sig["from"], sig["to"])
        if key in keys:
            tally["equivalent"] += 1
            seen_listed.add(key)
        else:
            tally["survived"] += 1
            unexplained.append({"name": name, **sig})
    total_killed = total_judged = 0
    for module, tally in sorted(counts.items()):
        judged = tally["killed"] + tally["survived"]
        total_killed, total_judged = total_killed + tally["killed"], total_judged + judged
        score = 100 * tally["killed"] / judged if judged else 100.0
        extra = ", ".join(f"{n} {k}" for k, n in sorted(tally.items()) if k not in ("killed", "survived", "equivalent"))
        print(f"{module}: {tally['killed']} killed, {tally['survived']} survived, {tally['equivalent']} equivalent"
              f"{', ' + extra if extra else ''} -> {score:.1f}% of non-equivalent mutants killed")
    score = 100 * total_killed / total_judged if total_judged else 100.0
    print(f"all: {total_killed}/{total_judged} non-equivalent mutants killed ({score:.1f}%; target {TARGET_SCORE}%)")
    for survivor in unexplained:
        print(f"\nsurvived, not listed as equivalent: {survivor['name']} ({survivor['function']})\n"
              f"  - {survivor['from']}\n  + {survivor['to']}")
    stale = [e for k, e in keys.items() if k not in seen_listed]
    for entry in stale:
        print(f"\nlisted as equivalent but did not survive (remove it): {entry['function']}: {entry['from']!r}")
    return 1 if unexplained or stale or score < TARGET_SCORE else 0


if __name__ == "__main__":
    sys.exit(main())
