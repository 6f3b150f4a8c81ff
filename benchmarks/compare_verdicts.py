"""Do two contract runs against the same server reach the same verdicts?

    python benchmarks/compare_verdicts.py reports/llama/idle/contract.json reports/llama/hog/contract.json

Reads two `--glm-report` documents and compares, per test, the outcome and the names of the
checks that failed (a machine's load may change timings, never a verdict). Prints the counts of
each run, the failures by check, and every test whose verdict differs; also lists failures that
name no check (a bare Python error where a named check belongs). Exits 0 when the verdicts are
identical and every failure names a check, 1 otherwise, 2 on a missing or unreadable report.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

Verdict = tuple[str, tuple[str, ...]]


# A violation reads "[check_name] field: expected ...; got ...\n    reproduce: curl ...".
_NAMED = re.compile(r"\[(\w+)\]")


def verdicts(report: dict) -> dict[str, Verdict]:
    """nodeid -> (outcome, sorted check names of its violations). Only the names: the fields
    (a chunk's index) and values (a length, a timing) may differ between runs."""
    out: dict[str, Verdict] = {}
    for test in report["tests"]:
        named = (_NAMED.match(v) for v in test.get("violations") or [])
        names = {m[1] if m else "(unnamed)" for m in named}
        out[test["nodeid"]] = (test["outcome"], tuple(sorted(names)))
    return out


def _load(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: cannot read {path}: {exc}") from None


def _describe(label: str, report: dict, found: dict[str, Verdict]) -> None:
    outcomes = Counter(outcome for outcome, _ in found.values())
    by_check = Counter(name for outcome, names in found.values() if outcome == "failed" for name in names)
    took = report.get("started_at", "?"), report.get("finished_at", "?")
    print(f"{label}: {dict(sorted(outcomes.items()))} ({took[0]} .. {took[1]})")
    print(f"  failures by check: {dict(sorted(by_check.items()))}")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: compare_verdicts.py FIRST.json SECOND.json", file=sys.stderr)
        return 2
    try:
        reports = [_load(path) for path in argv]
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    first, second = (verdicts(r) for r in reports)
    for path, report, found in zip(argv, reports, (first, second), strict=True):
        _describe(path, report, found)
    differ = sorted(n for n in first.keys() | second.keys() if first.get(n) != second.get(n))
    for nodeid in differ:
        print(f"  DIFFERS {nodeid}: {first.get(nodeid)} vs {second.get(nodeid)}")
    unnamed = sorted({n for found in (first, second) for n, (o, names) in found.items()
                      if o == "failed" and (not names or "(unnamed)" in names)})
    for nodeid in unnamed:
        print(f"  NO CHECK NAMED {nodeid}")
    print("verdicts identical" if not differ else f"verdicts differ in {len(differ)} test(s)",
          "; every failure names a check" if not unnamed else f"; {len(unnamed)} failure(s) name no check",
          sep="")
    return 0 if not differ and not unnamed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
