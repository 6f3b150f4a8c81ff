"""Every verdict in the contract suites goes through a named check (`glm_check`), which gives the
check's name, expected/got and a curl line, and lands in the --glm-report document. A bare
`assert` on response data gives none of that ("checks": [] and a Python error), so none is
allowed. suites/bench is exempt: its asserts are about the harness's own benchmark reports
(it is a benchmark of the harness, marked glm_bench), not about a server's answer."""

from __future__ import annotations

import ast
from pathlib import Path

SUITES = Path(__file__).resolve().parents[1] / "suites"
EXEMPT = (SUITES / "bench",)


def bare_asserts(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        if any(path.is_relative_to(folder) for folder in EXEMPT):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        found += [f"{path.relative_to(root.parent)}:{node.lineno}" for node in ast.walk(tree)
                  if isinstance(node, ast.Assert)]
    return found


def test_the_suites_have_no_bare_asserts() -> None:
    found = bare_asserts(SUITES)
    assert not found, "bare assert in the suites (use glm_check / a named check): " + ", ".join(found)


def test_the_scan_finds_a_bare_assert(tmp_path: Path) -> None:
    suite = tmp_path / "suites" / "contract"
    suite.mkdir(parents=True)
    (suite / "test_x.py").write_text("def test_x(r):\n    x = 1\n    assert r['tool_calls']\n")
    assert bare_asserts(tmp_path / "suites") == ["suites/contract/test_x.py:3"]
