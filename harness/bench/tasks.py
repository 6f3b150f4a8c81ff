"""Benchmark task sets (fixtures/tasks/<set>.json) and their automatic graders.

A task is a prompt plus a grader that decides, without a human, whether the answer solves it:
an exact answer, a JSON document valid against a schema (and holding the expected values), code
that passes a unit test run in a subprocess, or the expected tool call. Long-context tasks build
their haystack deterministically from a seed, so the fixture stays small and every run sends
the same bytes.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field

from .._files import read_input
from .._resources import fixtures_dir
from ..errors import UsageError

TaskKind = Literal["coding", "reasoning", "extraction", "tool_use", "long_context"]


# -- graders ------------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExactGrader(_Strict):
    """The answer is the text after the last `ANSWER:`, else the last non-empty line."""

    type: Literal["exact"] = "exact"
    answer: str
    accept: list[str] = []


class JsonSchemaGrader(_Strict):
    """The reply holds one JSON object, valid against `json_schema`, with the `expected` values."""

    type: Literal["json_schema"] = "json_schema"
    json_schema: dict[str, Any]
    expected: dict[str, Any] = {}


class UnitTestGrader(_Strict):
    """The reply's Python code, followed by `test`, must exit 0 within `timeout_s`."""

    type: Literal["unit_test"] = "unit_test"
    test: str
    entrypoint: str
    timeout_s: float = 10.0


class ToolCallGrader(_Strict):
    """A call to `name` whose arguments hold `arguments` (strings compared case-insensitively)."""

    type: Literal["tool_call"] = "tool_call"
    name: str
    arguments: dict[str, Any] = {}
    match: Literal["subset", "exact"] = "subset"


Grader = Annotated[ExactGrader | JsonSchemaGrader | UnitTestGrader | ToolCallGrader,
                   Field(discriminator="type")]


class Haystack(_Strict):
    """Filler text with one needle sentence at `depth` (0 = start, 1 = end) of the haystack."""

    needle: str
    sentences: int = 200
    depth: float = Field(0.5, ge=0, le=1)
    seed: int = 0


class Task(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    kind: TaskKind
    prompt: str
    system: str | None = None
    tools: list[dict[str, Any]] | None = None
    response_format: dict[str, Any] | None = None
    max_tokens: int | None = None
    haystack: Haystack | None = None
    grader: Grader

    def messages(self) -> list[dict[str, Any]]:
        prompt = self.prompt
        if self.haystack is not None:
            prompt = prompt.replace("{haystack}", build_haystack(self.haystack))
        messages = [{"role": "system", "content": self.system}] if self.system else []
        return [*messages, {"role": "user", "content": prompt}]

    def body(self, thinking: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": self.messages(),
            "stream": True,
            "thinking": {"type": "enabled" if thinking else "disabled"},
        }
        if self.tools:
            body["tools"], body["tool_choice"] = self.tools, "auto"
        if self.response_format:
            body["response_format"] = self.response_format
        if self.max_tokens:
            body["max_tokens"] = self.max_tokens
        return body


class TaskSet(_Strict):
    name: str
    version: int = 1
    description: str = ""
    tasks: list[Task] = Field(min_length=1)

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.tasks]


def load_task_set(name: str, root: Path | None = None) -> TaskSet:
    """A set by name (fixtures/tasks/<name>.json) or by path; UsageError when unusable."""
    candidate = Path(name)
    path = candidate if candidate.suffix == ".json" else (root or fixtures_dir() / "tasks") / f"{name}.json"
    if not path.exists():
        known = sorted(p.stem for p in path.parent.glob("*.json")) if path.parent.is_dir() else []
        raise UsageError(f"no task set {name!r} at {path}" + (f"; known: {', '.join(known)}" if known else ""))
    try:
        task_set = TaskSet.model_validate_json(read_input(path))
    except ValueError as error:
        first = str(error).splitlines()
        raise UsageError(f"task set {path} is invalid: {' '.join(first[:3])}") from None
    ids = task_set.ids
    if len(set(ids)) != len(ids):
        raise UsageError(f"task set {path} repeats a task id")
    return task_set


# -- haystack ------------------------------------------------------------------------------------
_FILLER = (
    "The quarterly report listed the usual figures for the regional offices.",
    "A delivery of office chairs arrived on Tuesday and was stored in the basement.",
    "The committee postponed its decision on the new parking rules until spring.",
    "Several employees volunteered to organise the annual summer picnic.",
    "The library extended its opening hours during the examination period.",
    "Maintenance crews repainted the corridor on the third floor last weekend.",
    "The cafeteria introduced a vegetarian option on Wednesdays.",
    "A memo reminded staff to lock their screens when leaving their desks.",
    "The printer on the second floor was replaced after repeated paper jams.",
    "Visitors must sign in at the reception desk and wear a badge at all times.",
    "The heating system will be inspected before the start of the winter season.",
    "Training sessions on the new expense software are held every Thursday.",
)


def build_haystack(spec: Haystack) -> str:
    rng = random.Random(spec.seed)
    sentences = [rng.choice(_FILLER) for _ in range(spec.sentences)]
    sentences.insert(round(spec.depth * len(sentences)), spec.needle)
    return " ".join(sentences)


# -- grading ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Grade:
    passed: bool
    detail: str


def grade(task: Task, message: dict[str, Any]) -> Grade:
    """Grade an assembled assistant message (`content`, `tool_calls`)."""
    content = message.get("content") or ""
    grader = task.grader
    if isinstance(grader, ExactGrader):
        return grade_exact(grader, content)
    if isinstance(grader, JsonSchemaGrader):
        return grade_json(grader, content)
    if isinstance(grader, UnitTestGrader):
        return grade_unit_test(grader, content)
    return grade_tool_call(grader, message.get("tool_calls") or [])


def _normalize(text: str) -> str:
    text = text.strip().strip("*`_ ").rstrip(".").strip()
    return re.sub(r"\s+", " ", text).casefold()


def extract_answer(content: str) -> str:
    marked = re.findall(r"ANSWER\s*[:：]\s*(.+)", content, flags=re.IGNORECASE)
    if marked:
        return marked[-1]
    lines = [line for line in content.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def grade_exact(grader: ExactGrader, content: str) -> Grade:
    got = _normalize(extract_answer(content))
    wanted = {_normalize(a) for a in (grader.answer, *grader.accept)}
    if got in wanted:
        return Grade(True, f"answer {got!r}")
    return Grade(False, f"expected {grader.answer!r}, got {got[:80]!r}")


def extract_json(content: str) -> Any:
    """The first JSON object in the reply, fenced or bare."""
    fenced = re.findall(r"```(?:json)?\s*\n(.*?)```", content, flags=re.DOTALL)
    for candidate in (*fenced, content):
        start = candidate.find("{")
        if start < 0:
            continue
        try:
            return json.JSONDecoder().raw_decode(candidate[start:])[0]
        except json.JSONDecodeError:
            continue
    raise ValueError("no JSON object in the reply")


def grade_json(grader: JsonSchemaGrader, content: str) -> Grade:
    try:
        document = extract_json(content)
    except ValueError as error:
        return Grade(False, str(error))
    errors = sorted(jsonschema.Draft202012Validator(grader.json_schema).iter_errors(document),
                    key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].path) or "$"
        return Grade(False, f"schema: {where}: {errors[0].message[:120]}")
    for key, value in grader.expected.items():
        if not _same(document.get(key) if isinstance(document, dict) else None, value):
            return Grade(False, f"{key}: expected {value!r}, got {document.get(key)!r}")
    return Grade(True, "valid against the schema, expected values present")


def _same(got: Any, wanted: Any) -> bool:
    if isinstance(wanted, str) and isinstance(got, str):
        return got.strip().casefold() == wanted.strip().casefold()
    if isinstance(wanted, int | float) and isinstance(got, int | float) and not isinstance(got, bool):
        return abs(got - wanted) < 1e-9
    if isinstance(wanted, dict) and isinstance(got, dict):
        return all(_same(got.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list) and isinstance(got, list):
        return len(got) == len(wanted) and all(_same(g, w) for g, w in zip(got, wanted, strict=True))
    return got == wanted


def extract_code(content: str, entrypoint: str) -> str:
    """The fenced block that defines the entry point (the last one if several), else the text."""
    blocks = re.findall(r"```(?:python|py)?[^\n]*\n(.*?)```", content, flags=re.DOTALL)
    defining = [b for b in blocks if re.search(rf"\bdef {re.escape(entrypoint)}\b", b)]
    if defining:
        return defining[-1]
    return blocks[-1] if blocks else content


def _limit_resources(cpu_s: int) -> None:  # pragma: no cover - runs in the child
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def grade_unit_test(grader: UnitTestGrader, content: str) -> Grade:
    """Run the reply's code and the test in a fresh isolated interpreter in a temp directory.

    Not a sandbox: model-written code runs with this user's rights, bounded by a timeout and
    CPU/memory limits. Run live benchmarks in a container if that matters.
    """
    code = extract_code(content, grader.entrypoint)
    if not re.search(rf"\bdef {re.escape(grader.entrypoint)}\b", code):
        return Grade(False, f"no definition of {grader.entrypoint}() in the reply")
    with tempfile.TemporaryDirectory(prefix="glm-grade-") as tmp:
        script = Path(tmp) / "check.py"
        script.write_text(f"{code}\n\n# --- test ---\n{grader.test}\n", encoding="utf-8")
        limit = max(int(grader.timeout_s) + 1, 2)
        try:
            result = subprocess.run(
                [sys.executable, "-I", str(script)], cwd=tmp, capture_output=True, text=True,
                timeout=grader.timeout_s, env={"PATH": os.environ.get("PATH", "")},
                preexec_fn=(lambda: _limit_resources(limit)) if os.name == "posix" else None,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Grade(False, f"test timed out after {grader.timeout_s:g} s")
    if result.returncode == 0:
        return Grade(True, "unit test passed")
    last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
    return Grade(False, f"unit test failed: {last[:160]}")


def grade_tool_call(grader: ToolCallGrader, calls: list[Any]) -> Grade:
    seen = []
    for call in calls:
        function = call.get("function", {}) if isinstance(call, dict) else {}
        name = function.get("name")
        seen.append(name)
        if name != grader.name:
            continue
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except json.JSONDecodeError:
            return Grade(False, f"{name}: arguments are not JSON")
        if not isinstance(arguments, dict):
            return Grade(False, f"{name}: arguments are not an object")
        if grader.match == "exact" and set(arguments) != set(grader.arguments):
            return Grade(False, f"{name}: arguments {sorted(arguments)} != {sorted(grader.arguments)}")
        for key, value in grader.arguments.items():
            if not _same(arguments.get(key), value):
                return Grade(False, f"{name}.{key}: expected {value!r}, got {arguments.get(key)!r}")
        return Grade(True, f"called {name} with the expected arguments")
    return Grade(False, f"expected a call to {grader.name}, got {seen or 'no tool call'}")
