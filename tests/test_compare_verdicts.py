"""benchmarks/compare_verdicts.py, which decides whether a loaded run reached an idle run's
verdicts: it must see a changed outcome, a changed check and a failure that names no check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_verdicts.py"
CURL = "\n    reproduce: curl -sS -X POST http://127.0.0.1:1/v1/chat/completions"


def _test(nodeid: str, outcome: str, *violations: str) -> dict:
    return {"nodeid": nodeid, "outcome": outcome, "violations": [v + CURL for v in violations]}


IDLE = [_test("a", "failed", "[status_code_conformance] HTTP status: expected 400; got 200"),
        _test("b", "passed"),
        _test("c", "failed", "[stream_invariants] event[65]: expected usage once; got none")]


def _compare(tmp_path: Path, first: list[dict], second: list[dict]) -> subprocess.CompletedProcess[str]:
    paths = []
    for name, tests in (("idle", first), ("hog", second)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"tests": tests}))
        paths.append(str(path))
    return subprocess.run([sys.executable, str(SCRIPT), *paths], capture_output=True, text=True)


def test_same_checks_are_the_same_verdict_whatever_the_field(tmp_path: Path) -> None:
    loaded = [*IDLE[:2], _test("c", "failed", "[stream_invariants] event[81]: expected usage once; got none")]
    done = _compare(tmp_path, IDLE, loaded)
    assert done.returncode == 0, done.stdout
    assert "verdicts identical; every failure names a check" in done.stdout


@pytest.mark.parametrize(("loaded", "said"), [
    ([IDLE[0], _test("b", "failed", "[transport_completed] connection: x"), IDLE[2]], "DIFFERS b"),
    ([_test("a", "failed", "[echo_conformance] $.model: x"), *IDLE[1:]], "DIFFERS a"),
    ([*IDLE[:2], _test("c", "failed", "KeyError: 'tool_calls'")], "NO CHECK NAMED c"),
    (IDLE[:2], "DIFFERS c"),
], ids=["outcome", "check", "unnamed", "missing"])
def test_a_different_verdict_is_shown_and_fails(tmp_path: Path, loaded: list[dict], said: str) -> None:
    done = _compare(tmp_path, IDLE, loaded)
    assert done.returncode == 1
    assert said in done.stdout


def test_an_unreadable_report_is_exit_2(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "none.json"), str(tmp_path / "x.json")],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot read") and "Traceback" not in done.stderr
