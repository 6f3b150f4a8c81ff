"""`glm-harness agent-bench` end to end against the twin, and `compare` on its reports.

Where the real Claude Code is installed (`$GLM_HARNESS_CLAUDE`, marked `claude_code`), it runs the
default task set. Everywhere else a stand-in agent takes its place: a few lines of the official
`anthropic` SDK with Claude Code's Read / Edit / Write tools, invoked the way Claude Code is
(`-p PROMPT --output-format json`, `ANTHROPIC_BASE_URL`, `ANTHROPIC_AUTH_TOKEN`), so the loop,
the task checkers and the figures are proven without node. An agent that does nothing proves
the checkers can fail, with what they found.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.agent_bench import AgentTask, FileCheck, judge_files, load_tasks

STAND_IN = '''
import json, os, sys
from pathlib import Path
import anthropic

TOOLS = [
    {"name": "Read", "description": "Read a file", "input_schema": {"type": "object",
     "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]}},
    {"name": "Edit", "description": "Replace a string in a file", "input_schema": {"type": "object",
     "properties": {"file_path": {"type": "string"}, "old_string": {"type": "string"},
                    "new_string": {"type": "string"}}, "required": ["file_path", "old_string", "new_string"]}},
    {"name": "Write", "description": "Write a file", "input_schema": {"type": "object",
     "properties": {"file_path": {"type": "string"}, "content": {"type": "string"}},
     "required": ["file_path", "content"]}},
]

def run(name, args):
    path = Path(args["file_path"])
    if name == "Read":
        return "".join(f"{n}\\t{line}" for n, line in enumerate(path.read_text().splitlines(True), 1))
    if name == "Edit":
        path.write_text(path.read_text().replace(args["old_string"], args["new_string"], 1))
    else:
        path.write_text(args["content"])
    return f"updated {path.name}"

client = anthropic.Anthropic(base_url=os.environ["ANTHROPIC_BASE_URL"],
                             auth_token=os.environ["ANTHROPIC_AUTH_TOKEN"], api_key=None, max_retries=0)
messages = [{"role": "user", "content": sys.argv[sys.argv.index("-p") + 1]}]
for turn in range(1, 20):
    with client.messages.stream(model=os.environ["ANTHROPIC_MODEL"], max_tokens=2048, tools=TOOLS,
                                messages=messages) as stream:
        answer = stream.get_final_message()
    uses = [b for b in answer.content if b.type == "tool_use"]
    if not uses:
        break
    messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in answer.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": u.id,
                                               "content": run(u.name, u.input)} for u in uses]}]
text = "".join(b.text for b in answer.content if b.type == "text")
print(json.dumps({"type": "result", "is_error": False, "num_turns": turn, "result": text}))
'''
DOES_NOTHING = 'import json; print(json.dumps({"type": "result", "is_error": False, "result": "done"}))\n'


def agent(tmp_path: Path, source: str) -> str:
    script = tmp_path / "agent"
    script.write_text(f"#!{sys.executable}\n{source}")
    script.chmod(0o755)
    return str(script)


def agent_bench(binary: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GLM_HARNESS_CLAUDE", "ZAI_API_KEY")}
    if binary is not None:
        env["GLM_HARNESS_CLAUDE"] = binary
    env["PATH"] = "/usr/bin:/bin"  # no `claude` found by chance
    return subprocess.run([sys.executable, "-m", "harness.cli", "agent-bench", *args], capture_output=True,
                          text=True, timeout=600, env=env)


def check_solved_report(path: Path, turns: int) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(path.read_text())
    assert (report["kind"], report["target"], report["agent"]) == ("agent-bench", "twin", "claude-code")
    tasks = report["tasks"]
    assert [t["id"] for t in tasks] == ["fix-typo", "add-function", "config-flag"]
    for task in tasks:
        assert task["solved"] is True and task["why_not"] == [], task
        assert task["turns"] == turns  # read, change, answer
        assert task["violations"] == [] and task["unchecked_exchanges"] == 0
        usage = task["usage"]
        assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
        assert set(usage) == {"input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens"}
        assert 0 <= task["cache_hit_share"] < 1 and task["wall_s"] > 0 and task["cost_usd"] > 0
        assert len(task["ttft_ms"]) == turns and all(t > 0 for t in task["ttft_ms"])
    summary = report["summary"]
    assert (summary["tasks"], summary["solved"], summary["violations"]) == (3, 3, 0)
    assert summary["tokens_per_solved_task"] == pytest.approx(
        sum(t["usage"]["input_tokens"] + t["usage"]["output_tokens"] for t in tasks) / 3, abs=0.1)
    return report


def test_the_default_tasks_are_solved_through_an_agent_and_measured(tmp_path: Path) -> None:
    out = tmp_path / "agent.json"
    run = agent_bench(agent(tmp_path, STAND_IN), "--out", str(out))
    assert run.returncode == 0, run.stdout + run.stderr
    check_solved_report(out, turns=3)
    assert "3/3 solved, 0 violation(s)" in run.stdout


def test_an_agent_that_changes_nothing_solves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "agent.json"
    run = agent_bench(agent(tmp_path, DOES_NOTHING), "--out", str(out))
    assert run.returncode == 1
    report = json.loads(out.read_text())
    assert [t["solved"] for t in report["tasks"]] == [False] * 3
    assert report["tasks"][0]["why_not"] == ["README.md: does not contain 'Hello, world!'",
                                             "README.md: still contains 'Helo'",
                                             "no exchange reached the proxy"]
    assert report["tasks"][1]["why_not"][0].endswith("AttributeError: module 'calc' has no attribute 'add'")
    assert report["summary"]["tokens_per_solved_task"] is None  # nothing solved: unknown, never 0
    assert "0/3 solved" in run.stdout


def compare(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", "compare", *args], capture_output=True,
                          text=True, timeout=120)


def test_compare_reads_two_agent_reports(tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    assert agent_bench(agent(tmp_path, STAND_IN), "--out", str(base)).returncode == 0
    other = json.loads(base.read_text())
    other["model"] = "glm-4.5-air"
    other["tasks"][1]["solved"] = False
    for task in other["tasks"]:
        task["usage"]["input_tokens"] *= 2
    new = tmp_path / "new.json"
    new.write_text(json.dumps(other))
    run = compare(str(base), str(new), "--format", "json", "--fail-on", "agent.solved_rate:-10pp")
    # three tasks cannot make a difference significant: reported, not gated
    assert run.returncode == 0, run.stdout + run.stderr
    [comparison] = json.loads(run.stdout)["comparisons"]
    rows = {r["metric"]: r for r in comparison["rows"]}
    assert (rows["agent.solved_rate"]["base"], rows["agent.solved_rate"]["new"]) == (1.0, pytest.approx(2 / 3))
    assert rows["agent.tokens_per_task"]["new"] > rows["agent.tokens_per_task"]["base"]
    assert rows["agent.tokens_per_solved_task"]["new"] > rows["agent.tokens_per_task"]["new"]
    assert "different models: glm-4.6 vs glm-4.5-air" in comparison["notes"]


def synthetic(tmp_path: Path, name: str, solved: int, tokens: int) -> Path:
    """An agent-bench report of 24 tasks, `solved` of them solved, each of about `tokens` tokens."""
    tasks = [{"id": f"t{i:02d}", "solved": i < solved, "turns": 3, "wall_s": 2.0 + i / 100, "cost_usd": 0.01,
              "violations": [], "usage": {"input_tokens": tokens + i, "output_tokens": 100,
                                          "cached_tokens": tokens // 2, "reasoning_tokens": 0}}
             for i in range(24)]
    path = tmp_path / name
    path.write_text(json.dumps({"kind": "agent-bench", "schema_version": "1", "started_at": name,
                                "agent": "claude-code", "model": "glm-4.6", "target": "live",
                                "task_set": "synthetic", "tasks": tasks}))
    return path


def test_the_compare_gate_fails_on_an_agent_regression(tmp_path: Path) -> None:
    base, worse = synthetic(tmp_path, "a.json", 24, 50_000), synthetic(tmp_path, "b.json", 10, 80_000)
    run = compare(str(base), str(worse), "--fail-on", "agent.solved_rate:-10pp,agent.tokens_per_task:+10%")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "2 regression(s) beyond the --fail-on thresholds" in run.stdout
    assert compare(str(base), str(base), "--fail-on", "agent.solved_rate:-10pp").returncode == 0
    mixed = compare(str(base), str(tmp_path / "c.json"))
    assert mixed.returncode == 2 and "no such file" in mixed.stderr


def test_the_cross_model_table_has_the_agent_rows(tmp_path: Path) -> None:
    reports = [synthetic(tmp_path, "a.json", 24, 50_000), synthetic(tmp_path, "b.json", 0, 80_000)]
    run = subprocess.run([sys.executable, "-m", "harness.cli", "summary", *map(str, reports)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stdout.splitlines() if line.startswith("| glm-4.6 | claude-code")]
    assert lines == ["| glm-4.6 | claude-code | live | 24/24 | 50,112 | 50% | 2.1 | 0 |",
                     "| glm-4.6 | claude-code | live | 0/24 | - | 50% | - | 0 |"]


def test_without_the_agent_it_is_one_line_and_exit_2(tmp_path: Path) -> None:
    run = agent_bench(None)
    assert run.returncode == 2
    assert run.stderr.startswith("glm-harness agent-bench: error: no Claude Code binary")
    assert run.stderr.count("\n") == 1
    bad = agent_bench(agent(tmp_path, DOES_NOTHING), "--tasks", "no-such-set")
    assert bad.returncode == 2 and "no agent task set 'no-such-set'" in bad.stderr


def test_the_checkers_say_what_is_wrong(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("old text")
    task = AgentTask(id="t", files={}, instruction="", checks=[
        FileCheck(path="a.txt", contains="new"), FileCheck(path="b.txt", contains="x"),
        FileCheck(path="a.txt", not_contains="old"), FileCheck(python="raise SystemExit(3)")])
    assert judge_files(task, tmp_path) == ["a.txt: does not contain 'new'", "b.txt: missing",
                                           "a.txt: still contains 'old'", "raise SystemExit(3): exit status 3"]
    assert len(load_tasks("default").tasks) >= 3


@pytest.mark.claude_code
def test_claude_code_solves_the_default_tasks(tmp_path: Path) -> None:
    binary = os.environ.get("GLM_HARNESS_CLAUDE")
    if not binary or not os.access(binary, os.X_OK):
        pytest.skip("no Claude Code binary ($GLM_HARNESS_CLAUDE; npm install @anthropic-ai/claude-code)")
    out = tmp_path / "agent.json"
    run = agent_bench(binary, "--out", str(out))
    assert run.returncode == 0, run.stdout + run.stderr
    report = check_solved_report(out, turns=3)
    assert all(t["usage"]["input_tokens"] > 30_000 for t in report["tasks"])  # Claude Code's real prompt


def test_the_gate_never_passes_an_agent_run_that_measured_nothing_or_broke(tmp_path: Path) -> None:
    base = synthetic(tmp_path, "a.json", 24, 50_000)
    none_solved = synthetic(tmp_path, "b.json", 0, 50_000)
    run = compare(str(base), str(none_solved), "--fail-on", "none")  # these fail whatever the thresholds
    assert run.returncode == 1 and "b.json solved none of its 24 task(s)" in run.stdout, run.stdout
    default = compare(str(base), str(synthetic(tmp_path, "c.json", 12, 50_000)))  # the default rules
    assert default.returncode == 1 and "agent.solved_rate" in default.stdout, default.stdout
    stopped = json.loads(base.read_text()) | {"complete": False}
    (tmp_path / "d.json").write_text(json.dumps(stopped))
    run = compare(str(base), str(tmp_path / "d.json"), "--fail-on", "none")
    assert run.returncode == 1 and "d.json is an incomplete agent-bench run" in run.stdout, run.stdout
    broken = json.loads(base.read_text())
    broken["tasks"][0]["violations"] = [{"check": "message_event_order", "rule": "missing_message_stop"}]
    (tmp_path / "e.json").write_text(json.dumps(broken))
    run = compare(str(base), str(tmp_path / "e.json"), "--fail-on", "none")
    assert run.returncode == 1 and "1 contract violation(s) in the agent's exchanges" in run.stdout, run.stdout
    empty = json.loads(base.read_text()) | {"tasks": []}
    (tmp_path / "f.json").write_text(json.dumps(empty))
    run = compare(str(base), str(tmp_path / "f.json"), "--fail-on", "none")  # not even the same tasks
    assert run.returncode == 2 and "task" in run.stderr, run.stdout + run.stderr


@pytest.mark.parametrize(("edit", "says"), [
    (lambda t: t["usage"].update(input_tokens="100000"), "tasks/0/usage/input_tokens"),
    (lambda t: t.update(cost_usd=float("nan")), "NaN and Infinity are not measurements"),
    (lambda t: t["usage"].update(output_tokens=-1000), "tasks/0/usage/output_tokens: a negative value (-1000)"),
    (lambda t: t.update(cost_usd=-5.0), "tasks/0/cost_usd: a negative value (-5)"),
], ids=["string-number", "nan", "negative-tokens", "negative-cost"])
def test_an_agent_report_that_lies_is_bad_input(tmp_path: Path, edit: Any, says: str) -> None:
    base = synthetic(tmp_path, "a.json", 24, 50_000)
    lying = json.loads(base.read_text())
    edit(lying["tasks"][0])
    (tmp_path / "b.json").write_text(json.dumps(lying))
    run = compare(str(base), str(tmp_path / "b.json"))
    assert run.returncode == 2 and says in run.stderr and run.stderr.count("\n") == 1, run.stderr


def _task_set(tmp_path: Path, **task: Any) -> Path:
    one = {"id": "t", "files": {"a.txt": "old"}, "instruction": "fix a.txt",
           "checks": [{"path": "a.txt", "contains": "new"}]} | task
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps({"name": "hostile", "tasks": [one, *task.pop("more", [])]}))
    return path


@pytest.mark.parametrize(("task", "says"), [
    ({"files": {"/tmp/escaped.txt": "x"}}, "'/tmp/escaped.txt' is not a relative path inside the project"),
    ({"id": "../../escaped"}, "'../../escaped' is not a relative path inside the project"),
    ({"checks": [{"path": "../../etc/passwd", "contains": "root"}]}, "'../../etc/passwd' is not a relative path"),
    ({"checks": []}, "task 't' has no check: it could never fail"),
], ids=["absolute-file", "climbing-id", "climbing-check", "no-check"])
def test_a_task_set_cannot_write_outside_its_project(tmp_path: Path, task: dict[str, Any], says: str) -> None:
    run = agent_bench(agent(tmp_path, DOES_NOTHING), "--tasks", str(_task_set(tmp_path, **task)))
    assert run.returncode == 2 and says in run.stderr and run.stderr.count("\n") == 1, run.stderr
    assert not Path("/tmp/escaped.txt").exists()


def test_repeated_task_ids_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    twice = {"id": "t", "files": {}, "instruction": "", "checks": [{"path": "a", "contains": "x"}]}
    path.write_text(json.dumps({"name": "twice", "tasks": [twice, twice]}))
    run = agent_bench(agent(tmp_path, DOES_NOTHING), "--tasks", str(path))
    assert run.returncode == 2 and "task ids repeat: ['t']" in run.stderr, run.stderr


def test_a_task_set_that_is_a_fifo_is_one_line_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "tasks.json"
    os.mkfifo(fifo)
    run = agent_bench(agent(tmp_path, DOES_NOTHING), "--tasks", str(fifo))  # the helper's timeout guards a hang
    assert run.returncode == 2 and "not a regular file" in run.stderr and run.stderr.count("\n") == 1, run.stderr


def test_an_agent_that_never_reached_the_model_solved_nothing(tmp_path: Path) -> None:
    already = _task_set(tmp_path, files={"a.txt": "new"})  # the checks hold before the agent runs
    out = tmp_path / "r.json"
    run = agent_bench(agent(tmp_path, DOES_NOTHING), "--tasks", str(already), "--out", str(out))
    assert run.returncode == 1, run.stdout + run.stderr
    [row] = json.loads(out.read_text())["tasks"]
    assert row["solved"] is False and "no exchange reached the proxy" in row["why_not"]
