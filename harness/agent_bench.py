"""`glm-harness agent-bench`: what a coding task costs through a real agent, in tokens and seconds.

Each task is a small project (files written to a temporary folder), an instruction, and checks
that inspect the files afterwards (`fixtures/agents/tasks-*.json`). The agent (Claude Code) runs
each task in its folder with its base URL pointed at a `glm-harness proxy` in this process, so
every exchange it makes is judged by the surface's named checks and counted. Per task: solved
(the checks' verdict), turns, input / output / cached / reasoning tokens, cache-hit share, cost,
wall time, TTFT per turn, contract violations; per run: tokens and seconds per solved task.

Offline (the default) the upstream is the twin, and each task's instruction carries the calls a
correct agent makes as `TWIN-CALL` directives, so the loop, the checks and the figures are proven
end to end without a model. With `--upstream` (e.g. https://api.z.ai) and `--model`, the model
does the work, with the key from `--api-key-env` (never written anywhere).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ._argtypes import output_file
from ._files import read_input, write_atomic
from ._resources import fixtures_dir
from .errors import UsageError
from .scrub import Scrubber, register

REPORT_KIND = "agent-bench"
REPORT_SCHEMA_VERSION = "1"
CLAUDE_ENV = "GLM_HARNESS_CLAUDE"
TASK_TIMEOUT_S = 300.0
CHECK_TIMEOUT_S = 30.0


# -- tasks -------------------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FileCheck(_Strict):
    """One thing true of the project afterwards: a file contains (or not) a text, or a Python
    snippet run in the project folder exits 0."""

    path: str | None = None
    contains: str | None = None
    not_contains: str | None = None
    python: str | None = None


class AgentTask(_Strict):
    id: str
    files: dict[str, str]
    instruction: str
    twin_calls: list[tuple[str, dict[str, Any]]] = Field(default_factory=list)
    checks: list[FileCheck]


class AgentTaskSet(_Strict):
    name: str
    description: str = ""
    tasks: list[AgentTask]

    @model_validator(mode="after")
    def _inside_the_project(self) -> AgentTaskSet:
        """A task set is input like any other: its ids name folders and its files are written, so
        neither may climb out of the run's temporary folder (an absolute path, `..`), repeat, or
        leave a task without a check (a task with nothing to check would count as solved)."""
        ids = [task.id for task in self.tasks]
        for task in self.tasks:
            for name in (task.id, *task.files, *(c.path for c in task.checks if c.path is not None)):
                if not name or Path(name).is_absolute() or ".." in Path(name).parts:
                    raise ValueError(f"task {task.id!r}: {name!r} is not a relative path inside the project")
            if not task.checks:
                raise ValueError(f"task {task.id!r} has no check: it could never fail")
        if len(set(ids)) != len(ids):
            raise ValueError(f"task ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
        return self


def load_tasks(name_or_path: str) -> AgentTaskSet:
    """`default` (fixtures/agents/tasks-default.json) or a path to such a file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = fixtures_dir() / "agents" / f"tasks-{name_or_path}.json"
    if not path.exists():
        raise UsageError(f"no agent task set {name_or_path!r} (looked for {path})")
    try:
        return AgentTaskSet.model_validate_json(read_input(path))  # a regular file, bounded
    except ValidationError as error:
        first = error.errors()[0]
        where = "/".join(map(str, first["loc"]))
        raise UsageError(f"agent task set {path} is invalid{' at ' + where if where else ''}: "
                         f"{first['msg'].removeprefix('Value error, ')}") from None
    except ValueError as error:
        raise UsageError(f"agent task set {path} is invalid: {str(error).splitlines()[0]}") from None


def prompt_for(task: AgentTask, project: Path, offline: bool) -> str:
    """The instruction; offline, followed by the directives that make the twin play the calls."""
    if not offline:
        return task.instruction
    calls = [f"TWIN-CALL {tool} {json.dumps(_placed(args, project))}" for tool, args in task.twin_calls]
    return "\n".join([task.instruction, *calls])


def _placed(value: Any, project: Path) -> Any:
    if isinstance(value, str):
        return value.replace("{project}", str(project))
    if isinstance(value, dict):
        return {k: _placed(v, project) for k, v in value.items()}
    return value


def judge_files(task: AgentTask, project: Path) -> list[str]:
    """What the checks found wrong with the project; empty when the task is solved."""
    wrong: list[str] = []
    for check in task.checks:
        if check.path is not None:
            target = project / check.path
            # what the agent wrote is read like any input: a regular file, bounded, never a link
            text = (read_input(target).decode("utf-8", "replace")
                    if target.is_file() and not target.is_symlink() else None)
            if text is None:
                wrong.append(f"{check.path}: missing")
            elif check.contains is not None and check.contains not in text:
                wrong.append(f"{check.path}: does not contain {check.contains!r}")
            elif check.not_contains is not None and check.not_contains in text:
                wrong.append(f"{check.path}: still contains {check.not_contains!r}")
        if check.python is not None:
            try:
                run = subprocess.run([sys.executable, "-c", check.python], cwd=project, capture_output=True,
                                     text=True, timeout=CHECK_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                wrong.append(f"check timed out: {check.python}")
                continue
            if run.returncode != 0:
                last = (run.stderr.strip().splitlines() or ["exit status " + str(run.returncode)])[-1]
                wrong.append(f"{check.python}: {last}")
    return wrong


# -- the report, as `compare` reads it -----------------------------------------------------------
class AgentTaskUsage(BaseModel):
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int


class AgentTaskRow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    solved: bool
    usage: AgentTaskUsage
    turns: int = 0
    wall_s: float | None = None
    cost_usd: float | None = None
    violations: list[dict[str, Any]] = Field(default_factory=list)


class AgentBenchReport(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: str
    schema_version: str
    started_at: str = ""
    complete: bool = True
    agent: str
    model: str
    target: str
    task_set: str
    tasks: list[AgentTaskRow]


# -- agents ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ClaudeCode:
    """Claude Code in print mode: one task, its tools allowed to edit files in the task's folder."""

    binary: str

    @classmethod
    def find(cls) -> ClaudeCode:
        found = os.environ.get(CLAUDE_ENV) or shutil.which("claude")
        if not found or not os.access(found, os.X_OK):
            raise UsageError(f"no Claude Code binary: set ${CLAUDE_ENV} or put `claude` on PATH "
                             "(npm install @anthropic-ai/claude-code)")
        return cls(found)

    def command(self, prompt: str) -> list[str]:
        return [self.binary, "-p", prompt, "--output-format", "json", "--permission-mode", "acceptEdits"]

    def env(self, base_url: str, key: str, model: str, home: Path) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", ""), "HOME": str(home),
                "ANTHROPIC_BASE_URL": f"{base_url}/api/anthropic", "ANTHROPIC_AUTH_TOKEN": key,
                "ANTHROPIC_MODEL": model, "ANTHROPIC_SMALL_FAST_MODEL": model,
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}


AGENTS = {"claude-code": ClaudeCode}


# -- one run -----------------------------------------------------------------------------------------
def run_task(task: AgentTask, agent: ClaudeCode, proxy: Any, key: str, model: str, offline: bool,
             workdir: Path) -> dict[str, Any]:
    """Run one task through the agent and the proxy; its row of the report."""
    project, home = workdir / task.id / "project", workdir / task.id / "home"
    for name, text in task.files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    home.mkdir(parents=True)
    before = proxy.settle()
    started = time.perf_counter()
    error = None
    try:
        run = subprocess.run(agent.command(prompt_for(task, project, offline)), cwd=project,
                             env=agent.env(proxy.base_url, key, model, home), capture_output=True,
                             text=True, timeout=TASK_TIMEOUT_S)
        if run.returncode != 0:
            error = f"agent exit status {run.returncode}: {(run.stderr or run.stdout).strip()[-300:]}"
    except subprocess.TimeoutExpired:
        error = f"agent did not finish in {TASK_TIMEOUT_S:g} s"
    wall_s = time.perf_counter() - started
    exchanges = [e for e in proxy.report.exchanges[before:proxy.settle()] if e.get("surface")]
    wrong = judge_files(task, project)
    usage = {k: sum((e.get("usage") or {}).get(k, 0) for e in exchanges)
             for k in ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")}
    costs = [e["cost_usd"] for e in exchanges if e.get("cost_usd") is not None]
    return {
        "id": task.id,
        # an agent that never reached the model did not solve anything, whatever the files say
        "solved": not wrong and error is None and bool(exchanges),
        "why_not": wrong + ([error] if error else []) + ([] if exchanges else ["no exchange reached the proxy"]),
        "turns": len(exchanges),
        "usage": usage,
        "cache_hit_share": round(usage["cached_tokens"] / usage["input_tokens"], 4) if usage["input_tokens"] else None,
        "cost_usd": round(sum(costs), 8) if exchanges and len(costs) == len(exchanges) else None,
        "wall_s": round(wall_s, 3),
        "ttft_ms": [e["timings"].get("ttft_ms") for e in exchanges],
        "violations": [{"n": e["n"], **v} for e in exchanges for v in e.get("violations") or ()],
        "unchecked_exchanges": sum(1 for e in exchanges if not e.get("checked")),
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    solved = [r for r in rows if r["solved"]]
    tokens = sum(r["usage"]["input_tokens"] + r["usage"]["output_tokens"] for r in rows)
    seconds = sum(r["wall_s"] for r in rows)
    costs = [r["cost_usd"] for r in rows if r["cost_usd"] is not None]
    return {
        "tasks": len(rows), "solved": len(solved),
        "violations": sum(len(r["violations"]) for r in rows),
        "tokens": tokens, "seconds": round(seconds, 3),
        # per solved task: the whole run's cost spread over what it achieved; None (never 0)
        # when nothing was solved
        "tokens_per_solved_task": round(tokens / len(solved), 1) if solved else None,
        "seconds_per_solved_task": round(seconds / len(solved), 3) if solved else None,
        "cost_usd": round(sum(costs), 8) if costs and len(costs) == len(rows) else None,
    }


@contextmanager
def _upstream(url: str | None) -> Iterator[tuple[str, str | None]]:
    """The upstream to forward to, and the twin's key when it is the twin."""
    if url is not None:
        yield url, None
        return
    from .mock import TWIN_KEY
    from .mock.server import running_twin

    with running_twin() as twin:
        yield f"http://127.0.0.1:{twin.port}", TWIN_KEY


def run_agent_bench(args: argparse.Namespace) -> int:
    from .proxy import Proxy

    task_set = load_tasks(args.tasks)
    agent = AGENTS[args.agent].find()
    started = dt.datetime.now(dt.UTC).isoformat()
    offline = args.upstream is None
    with _upstream(args.upstream) as (upstream, twin_key):
        key = twin_key or os.environ.get(args.api_key_env, "").strip()
        if not key:
            raise UsageError(f"no key for {upstream}: set ${args.api_key_env}")
        register(key)
        proxy = Proxy(upstream, record=args.record, judge_apart=False)
        rows: list[dict[str, Any]] = []

        def document(complete: bool) -> dict[str, Any]:
            return {"kind": REPORT_KIND, "schema_version": REPORT_SCHEMA_VERSION, "started_at": started,
                    "complete": complete, "agent": args.agent, "model": args.model,
                    "target": "twin" if offline else "live", "upstream": "twin" if offline else args.upstream,
                    "task_set": task_set.name, "summary": summarize(rows),
                    "conformance": proxy.report.conformance.to_json(), "tasks": rows}

        with proxy.running(), tempfile.TemporaryDirectory(prefix="glm-agent-bench-") as workdir:
            for task in task_set.tasks:
                row = run_task(task, agent, proxy, key, args.model, offline, Path(workdir))
                rows.append(row)
                verdict = "solved" if row["solved"] else "NOT solved: " + "; ".join(row["why_not"])
                print(f"{task.id}: {verdict}; {row['turns']} turn(s), {row['usage']['input_tokens']} in "
                      f"({row['usage']['cached_tokens']} cached) / {row['usage']['output_tokens']} out, "
                      f"{row['wall_s']:.1f} s, {len(row['violations'])} violation(s)", flush=True)
                if args.out is not None:  # a run stopped midway keeps the tasks it finished
                    _write(args.out, document(complete=len(rows) == len(task_set.tasks)))
    summary = summarize(rows)
    print(f"agent-bench {args.agent} on {args.model} ({'twin' if offline else 'live'}): {summary['solved']}/"
          f"{summary['tasks']} solved, {summary['violations']} violation(s), "
          f"{summary['tokens_per_solved_task']} tokens and {summary['seconds_per_solved_task']} s per solved task")
    if args.out is not None:
        print(f"report: {args.out}")
    # nothing measured, a task not solved or a violation: never a success
    return 0 if rows and summary["solved"] == summary["tasks"] and not summary["violations"] else 1


def _write(path: Path, document: dict[str, Any]) -> None:
    write_atomic(path, Scrubber.for_target(None).scrub_text(json.dumps(document, indent=2)))


def add_agent_bench_arguments(parser: argparse.ArgumentParser) -> None:
    from ._argtypes import output_dir
    from .proxy import upstream_url

    add = parser.add_argument
    add("--agent", choices=sorted(AGENTS), default="claude-code", help="the agent to run (default %(default)s)")
    add("--tasks", default="default", metavar="SET", help="task set: a name under fixtures/agents "
        "(tasks-SET.json) or a path (default %(default)s)")
    add("--upstream", type=upstream_url, default=None, metavar="URL",
        help="where the proxy forwards (e.g. https://api.z.ai); default: the twin, offline")
    add("--model", default="glm-4.6", help="model the agent asks for (default %(default)s)")
    add("--api-key-env", default="ZAI_API_KEY", help="env variable holding the key for --upstream")
    add("--out", type=output_file(".json"), default=None, metavar="REPORT.json")
    add("--record", type=output_dir(), default=None, metavar="DIR",
        help="keep a scrubbed transcript of every exchange")
