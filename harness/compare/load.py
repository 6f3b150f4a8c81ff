"""Read and vet the reports a comparison is given; anything wrong is one line of `UsageError`.

Two kinds are read: benchmark reports (`glm-harness.bench`, harness.bench.report) and contract
outcome reports (`contract`, harness.contract_report). Refused, each with its own message: a missing
or unreadable file, a file that is not JSON or not one of those kinds, a report of another
schema version than this harness writes, one that fails its schema, a bench report set against
a contract report, and two bench reports that ran different task sets. A report that lies is
refused too: NaN or Infinity anywhere, a number written as a string, a negative latency, and a
latency level that claims successes but holds no samples.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from .._files import read_input
from .._jsonload import JSONTooComplex, loads
from ..agent_bench import REPORT_KIND as AGENT_KIND
from ..agent_bench import REPORT_SCHEMA_VERSION as AGENT_SCHEMA_VERSION
from ..agent_bench import AgentBenchReport
from ..bench.report import COMPARABLE_SCHEMA_VERSIONS, REPORT_KIND, BenchReport
from ..contract_report import KIND as CONTRACT_KIND
from ..contract_report import SCHEMA_VERSION as CONTRACT_SCHEMA_VERSION
from ..errors import UsageError

Kind = Literal["bench", "contract", "agent-bench"]


class ContractTest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    nodeid: str
    outcome: str
    checks: list[str] = []
    violations: list[str] = []
    message: str = ""


class ContractReport(BaseModel):
    model_config = ConfigDict(extra="ignore")

    schema_version: str
    kind: Literal["contract"]
    target: str | None = None
    base_url: str | None = None
    model: str | None = None
    harness_version: str | None = None
    git_sha: str | None = None
    started_at: str = ""
    finished_at: str | None = None
    summary: dict[str, int] = {}
    tests: list[ContractTest]


@dataclass(frozen=True)
class Loaded:
    """One report as read: its path, its kind, and the parsed document."""

    path: Path
    kind: Kind
    bench: BenchReport | None = None
    contract: ContractReport | None = None
    agent: AgentBenchReport | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str:
        if self.bench is not None:
            return self.bench.meta.model
        if self.agent is not None:
            return self.agent.model
        return (self.contract.model if self.contract else None) or "?"

    @property
    def target(self) -> str:
        if self.bench is not None:
            return self.bench.meta.target
        if self.agent is not None:
            return self.agent.target
        return (self.contract.target if self.contract else None) or "?"

    @property
    def surface(self) -> str:
        """The API a bench report measured (`openai`, `anthropic`); other kinds say nothing."""
        return self.bench.meta.surface if self.bench is not None else ""

    @property
    def started_at(self) -> str:
        if self.bench is not None:
            return self.bench.meta.started_at
        if self.agent is not None:
            return self.agent.started_at
        return self.contract.started_at if self.contract else ""

    @property
    def name(self) -> str:
        return self.path.name

    def describe(self) -> str:
        return f"{self.path.name} ({self.model} on {self.target}, {self.started_at[:19] or '?'})"


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _where(error: ValidationError) -> str:
    first = error.errors()[0]
    where = "/".join(str(p) for p in first["loc"]) or "$"
    more = error.error_count() - 1
    return f"{where}: {_one_line(first['msg'], 120)}" + (f" (and {more} more)" if more else "")


def load(path: str | Path) -> Loaded:
    """Read one report of either kind, or raise UsageError with one line saying why not."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path}: is a directory, not a report")
    try:
        data = loads(read_input(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        where = (f" at line {error.lineno} column {error.colno}"
                 if isinstance(error, json.JSONDecodeError) else "")
        raise UsageError(f"{path}: not a JSON report (invalid JSON{where})") from None
    except JSONTooComplex as error:
        raise UsageError(f"{path}: not a glm-harness report ({error})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a glm-harness report (the JSON is not an object)")
    kind, version = data.get("kind"), data.get("schema_version")
    if kind == REPORT_KIND:
        if version not in COMPARABLE_SCHEMA_VERSIONS:
            raise UsageError(f"{path}: bench report schema version {version!r}, but this harness "
                             f"compares versions {', '.join(map(repr, COMPARABLE_SCHEMA_VERSIONS))} only")
        _refuse_non_finite(path, data)
        try:
            # the pydantic model is the source the report's JSON Schema is exported from, and
            # 100x faster than running jsonschema over thousands of samples; strict: a number
            # written as a string is not a number
            report = BenchReport.model_validate_json(json.dumps(data), strict=True)
        except ValidationError as error:
            raise UsageError(f"{path}: invalid bench report at {_where(error)}") from None
        _refuse_lies(path, report)
        return Loaded(path, "bench", bench=report)
    if kind == CONTRACT_KIND:
        if version != CONTRACT_SCHEMA_VERSION:
            raise UsageError(f"{path}: contract report schema version {version!r}, but this "
                             f"harness compares version {CONTRACT_SCHEMA_VERSION!r} only")
        try:
            contract = ContractReport.model_validate(data)
        except ValidationError as error:
            raise UsageError(f"{path}: invalid contract report at {_where(error)}") from None
        return Loaded(path, "contract", contract=contract)
    if kind == AGENT_KIND:
        if version != AGENT_SCHEMA_VERSION:
            raise UsageError(f"{path}: agent-bench report schema version {version!r}, but this "
                             f"harness compares version {AGENT_SCHEMA_VERSION!r} only")
        _refuse_non_finite(path, data, "agent-bench")
        try:  # strict: a number written as a string is not a number
            agent = AgentBenchReport.model_validate_json(json.dumps(data), strict=True)
        except ValidationError as error:
            raise UsageError(f"{path}: invalid agent-bench report at {_where(error)}") from None
        _refuse_negative_counts(path, agent)
        return Loaded(path, "agent-bench", agent=agent)
    raise UsageError(f"{path}: not a glm-harness bench, contract or agent-bench report (kind {kind!r})")


def _non_finite(value: Any, where: str) -> Iterator[str]:
    if isinstance(value, float) and not math.isfinite(value):
        yield f"{where or '$'} is {value}"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _non_finite(item, f"{where}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _non_finite(item, f"{where}/{i}")


def _refuse_non_finite(path: Path, data: Any, kind: str = "bench") -> None:
    found = next(_non_finite(data, ""), None)
    if found is not None:
        raise UsageError(f"{path}: invalid {kind} report at {found.lstrip('/')}: NaN and Infinity "
                         "are not measurements")


def _refuse_negative_counts(path: Path, report: AgentBenchReport) -> None:
    """Tokens, turns, seconds and dollars are never below zero: a report that says so lies."""
    for n, task in enumerate(report.tasks):
        counted = {**{f"usage/{k}": v for k, v in task.usage.model_dump().items()},
                   "turns": task.turns, "wall_s": task.wall_s, "cost_usd": task.cost_usd}
        for name, value in counted.items():
            if value is not None and value < 0:
                raise UsageError(f"{path}: invalid agent-bench report at tasks/{n}/{name}: a negative "
                                 f"value ({value:g})")


def _refuse_lies(path: Path, report: BenchReport) -> None:
    """What the schema lets through but no run can have measured."""
    for n, level in enumerate(report.levels):
        for name, values in level.samples:
            negative = next((v for v in values if v < 0), None)
            if negative is not None:
                raise UsageError(f"{path}: invalid bench report at levels/{n}/samples/{name}: a negative "
                                 f"value ({negative:g})")
        for name, summary in level.summaries.items():
            low = summary.min if summary.min is not None else summary.p50
            if name.endswith("_ms") and low is not None and low < 0:
                raise UsageError(f"{path}: invalid bench report at levels/{n}/summaries/{name}: a negative "
                                 f"latency ({low:g} ms)")
        if level.kind == "latency" and level.succeeded > 0 and not any(values for _, values in level.samples):
            raise UsageError(f"{path}: invalid bench report at levels/{n}: level {level.name} claims "
                             f"{level.succeeded} successful request(s) but holds no samples")
    for n, sample in enumerate(report.samples):
        for name in ("ttft_ms", "e2e_ms", "itl_token_ms", "tpot_ms", "first_byte_ms", "end_ms"):
            value = getattr(sample, name, None)
            if value is not None and value < 0:
                raise UsageError(f"{path}: invalid bench report at samples/{n}/{name}: a negative latency "
                                 f"({value:g} ms)")


def _task_set(report: Loaded) -> str:
    ts = report.bench.task_set if report.bench else None
    if ts is None:
        return "none"
    return f"{ts.name} v{ts.version} ({len(ts.task_ids)} tasks, sha256 {ts.sha256[:12]})"


def check_comparable(base: Loaded, new: Loaded) -> list[str]:
    """Raise UsageError if `new` cannot be compared with `base`; else notes for the reader."""
    if base.kind != new.kind:
        raise UsageError(f"cannot compare a {base.kind} report ({base.path}) with a {new.kind} "
                         f"report ({new.path})")
    notes: list[str] = []
    if base.bench is not None and new.bench is not None:
        a, b = base.bench.task_set, new.bench.task_set
        if a is not None and b is not None and (a.sha256 != b.sha256 or a.task_ids != b.task_ids):
            raise UsageError(f"{base.path} and {new.path} ran different task sets: "
                             f"{_task_set(base)} vs {_task_set(new)}")
        if (a is None) != (b is None):
            which = new.name if a is None else base.name
            notes.append(f"token efficiency not compared: only {which} ran a task set")
    if base.agent is not None and new.agent is not None:
        a_ids, b_ids = [t.id for t in base.agent.tasks], [t.id for t in new.agent.tasks]
        if sorted(a_ids) != sorted(b_ids):
            raise UsageError(f"{base.path} and {new.path} ran different agent tasks: "
                             f"{', '.join(a_ids)} vs {', '.join(b_ids)}")
        if base.agent.agent != new.agent.agent:
            notes.append(f"different agents: {base.agent.agent} vs {new.agent.agent}")
    if base.model != new.model:
        notes.append(f"different models: {base.model} vs {new.model}")
    if base.target != new.target:
        notes.append(f"different targets: {base.target} vs {new.target}")
    if base.surface != new.surface:
        notes.append(f"different surfaces: {base.surface} vs {new.surface}")
    return notes


def load_all(paths: list[str | Path]) -> list[Loaded]:
    reports = [load(p) for p in paths]
    for other in reports[1:]:
        check_comparable(reports[0], other)
    return reports


def latest_baseline(new: Loaded, directory: str | Path) -> Loaded:
    """The newest report in `directory` (searched recursively) of the same kind, model, target
    and surface."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UsageError(f"--baseline latest: no baseline directory {directory}")
    me = new.path.resolve()
    found: list[Loaded] = []
    for path in sorted(directory.rglob("*.json")):
        if path.resolve() == me:
            continue
        try:
            candidate = load(path)
        except UsageError:
            continue  # another schema version, a schema file, a compare result: not a candidate
        if ((candidate.kind, candidate.model, candidate.target, candidate.surface)
                == (new.kind, new.model, new.target, new.surface)):
            found.append(candidate)
    if not found:
        raise UsageError(f"--baseline latest: no {new.kind} report of {new.model} on "
                         f"{new.target} in {directory}")
    return max(found, key=lambda r: (r.started_at, str(r.path)))
