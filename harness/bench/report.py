"""The benchmark report: a versioned schema, a crash-safe sample log, an atomic writer, Markdown.

* `BenchReport` is the record of a run. Its JSON Schema is exported from the model
  (`export_report_schema`), never written by hand, and every report is validated against it
  before it is written. `REPORT_SCHEMA_VERSION` changes whenever a field changes meaning; a
  comparison refuses reports whose versions or task sets differ.
* `SampleLog` appends each sample to `NAME.samples.jsonl` as it finishes, flushed and fsynced by
  a writer thread (fsync would stall the event loop), so SIGINT or SIGKILL loses at most the
  samples still in flight. `read_sample_log` reads it back and tolerates a torn last line.
* `write_report` goes through a temporary file and `os.replace`, so a reader sees either the old
  report or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import queue
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import jsonschema_rs
from pydantic import BaseModel, ConfigDict

from ..scrub import scrub_text
from .efficiency import Efficiency
from .health import ClientHealth, WorkerHealth
from .metrics import (
    DEFINITIONS,
    PER_REQUEST_METRICS,
    REASONING_SPLIT_METHOD,
    TOKEN_SOURCE,
    MetricDef,
    Sample,
)
from .runner import LevelRun, StopInfo
from .stats import Summary, summarize
from .tasks import TaskSet

REPORT_SCHEMA_VERSION: Final = "1.2"  # 1.1: token_source and reasoning_source; 1.2: workers
# 1.1 and 1.2 only add fields: older reports still compare
COMPARABLE_SCHEMA_VERSIONS: Final = ("1.0", "1.1", "1.2")
REPORT_KIND: Final = "glm-harness.bench"
SCHEMA_FILENAME = "bench-report.schema.json"
SAMPLE_LOG_KIND = "glm-harness.bench.samples"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunMeta(_Strict):
    target: str
    base_url: str
    model: str
    surface: str = "openai"  # or "anthropic": the Messages API (bench --surface)
    harness_version: str
    git_sha: str | None
    python: str
    platform: str
    host: str
    cpu_count: int | None
    started_at: str
    ended_at: str | None = None
    duration_s: float | None = None
    options: dict[str, Any] = {}
    command: list[str] = []


class TaskSetRef(_Strict):
    name: str
    version: int
    task_ids: list[str]
    sha256: str


class TokenAccounting(_Strict):
    source: str = TOKEN_SOURCE
    reasoning_split: str = REASONING_SPLIT_METHOD
    multi_token_chunks: str = (
        "tokens_per_chunk = usage.completion_tokens / token-bearing chunks, per request. Above 1 "
        "the server packs several tokens in a chunk: itl_chunk_ms is then per chunk, not per "
        "token; itl_token_ms and tpot_ms divide by usage tokens and stay per token."
    )


class LevelSamples(_Strict):
    """Per-sample values of the successful measured requests, for statistical comparison."""

    ttft_ms: list[float] = []
    ttfr_ms: list[float] = []
    ttfc_ms: list[float] = []
    ttftool_ms: list[float] = []
    itl_chunk_ms: list[float] = []
    itl_token_ms: list[float] = []
    tpot_ms: list[float] = []
    e2e_ms: list[float] = []
    output_tps: list[float] = []


class LevelResult(_Strict):
    name: str
    kind: Literal["latency", "tasks"]
    concurrency: int
    rate: float | None
    arrival: str | None
    requests: int
    warmup: int
    started_at: str
    ended_at: str
    duration_s: float | None
    completed: int
    succeeded: int
    failed: int
    errors: dict[str, int]
    requests_per_s: float | None
    output_tokens_per_s: float | None
    tokens_per_chunk_mean: float | None
    summaries: dict[str, Summary]
    samples: LevelSamples
    health: ClientHealth | None
    workers: list[WorkerHealth] = []  # a level split over workers: each one's share and health
    interrupted: bool = False
    # the suites' checks on the level's 200 answers (up to runner.CHECKED_PER_LEVEL of them)
    checked: int = 0
    conformance: dict[str, int] = {}  # "check.rule" -> answers that broke it
    # successful requests by where their token counts came from (metrics.TokenSource); "none":
    # neither usage nor a token-bearing chunk, so their tokens are unknown
    token_sources: dict[str, int] = {}
    retried_stale: int = 0  # requests sent again on a fresh connection (not failures)


class StopRecord(_Strict):
    status: int | None
    code: str | None
    message: str
    meaning: str


class BenchReport(_Strict):
    schema_version: Literal["1.0", "1.1", "1.2"] = REPORT_SCHEMA_VERSION
    kind: Literal["glm-harness.bench"] = REPORT_KIND
    complete: bool
    meta: RunMeta
    task_set: TaskSetRef | None = None
    definitions: list[MetricDef]  # pydantic validates the metrics module's dataclass itself
    token_accounting: TokenAccounting = TokenAccounting()
    levels: list[LevelResult]
    efficiency: Efficiency | None = None
    client_bound: bool = False
    stopped: StopRecord | None = None
    # Why the run failed the gate (a level with no success, or too many errors); empty: passed.
    gate_failures: list[str] = []
    notes: list[str] = []
    sample_log: str | None = None
    samples: list[Sample]


# -- building -----------------------------------------------------------------------------------
def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def harness_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("glm-harness")
    except PackageNotFoundError:
        return "0+unknown"


def git_sha() -> str | None:
    """HEAD of the checkout the harness runs from (read-only: `git rev-parse`)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():  # an installed package: a repo around it is someone else's
        return None
    try:
        result = subprocess.run(["git", "--no-optional-locks", "rev-parse", "HEAD"], cwd=root,
                                capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    sha = result.stdout.strip()
    return sha if result.returncode == 0 and len(sha) == 40 else None


def run_meta(target: Any, options: dict[str, Any], started_at: str | None = None) -> RunMeta:
    return RunMeta(
        target=target.kind, base_url=target.base_url, model=target.model,
        surface=str(getattr(target, "surface", "openai")), harness_version=harness_version(), git_sha=git_sha(),
        python=f"{platform.python_implementation()} {platform.python_version()}",
        platform=platform.platform(), host=socket.gethostname(), cpu_count=os.cpu_count(),
        started_at=started_at or _utc_now(), options=options,
        command=[target.redact(a) for a in sys.argv],
    )


def task_set_ref(task_set: TaskSet) -> TaskSetRef:
    digest = hashlib.sha256(task_set.model_dump_json().encode()).hexdigest()
    return TaskSetRef(name=task_set.name, version=task_set.version, task_ids=task_set.ids,
                      sha256=digest)


def definitions() -> list[MetricDef]:
    return list(DEFINITIONS)


def stop_record(info: StopInfo | None) -> StopRecord | None:
    if info is None:
        return None
    return StopRecord(status=info.status, code=info.code, message=info.message,
                      meaning=info.meaning)


def _error_key(sample: Sample) -> str:
    error = sample.error
    if error is None:
        return "no tokens" if sample.status == 200 else f"http {sample.status}"
    if error.kind == "http":
        return f"http {sample.status}" + (f" code {error.code}" if error.code else "")
    return error.kind + (f" code {error.code}" if error.code else "")


def level_result(run: LevelRun, *, seed: int = 0) -> LevelResult:
    spec = run.spec
    samples = run.samples
    good = [s for s in samples if s.ok]
    values = LevelSamples(
        **{name: [v for s in good if (v := getattr(s, name)) is not None]
           for name in PER_REQUEST_METRICS},
        itl_chunk_ms=[gap for s in good for gap in s.itl_chunk_ms()],
    )
    summaries = {name: summarize(getattr(values, name), seed=seed)
                 for name in LevelSamples.model_fields}
    duration = None
    if samples:
        first = min(s.sent_s for s in samples)
        last = max(s.sent_s + (s.end_ms or 0) / 1000 for s in samples)
        duration = round(last - first, 6) if last > first else None
    counted = [s for s in good if s.completion_tokens is not None]
    tokens = sum(s.completion_tokens or 0 for s in counted)
    per_chunk = [s.tokens_per_chunk for s in good if s.tokens_per_chunk is not None]
    return LevelResult(
        name=spec.name, kind="tasks" if any(s.task_id for s in samples) else "latency",
        concurrency=spec.concurrency, rate=spec.rate,
        arrival=spec.arrival if spec.rate else None, requests=spec.requests,
        warmup=len(run.warmup), started_at=run.started_at, ended_at=run.ended_at,
        duration_s=duration, completed=len(samples), succeeded=len(good),
        failed=len(samples) - len(good),
        errors=dict(Counter(_error_key(s) for s in samples if not s.ok)),
        # no success: rates unknown, not zero
        requests_per_s=round(len(good) / duration, 4) if duration and good else None,
        # no request with a token count: unknown, not zero
        output_tokens_per_s=round(tokens / duration, 4) if duration and counted else None,
        tokens_per_chunk_mean=round(sum(per_chunk) / len(per_chunk), 4) if per_chunk else None,
        summaries=summaries, samples=values, health=run.health, workers=run.workers,
        interrupted=run.interrupted,
        checked=sum(o.checked for o in run.outcomes),
        conformance=dict(Counter(rule for s in samples for rule in s.violations)),
        token_sources=dict(Counter(s.token_source or "none" for s in good)),
        retried_stale=sum(s.retried_stale for s in samples),
    )


def token_source_phrase(sources: dict[str, int]) -> str:
    """Where a level's token figures came from, in words for the console and the markdown."""
    known = {k: v for k, v in sources.items() if k != "none" and v}
    if not known:
        return "unknown (no usage, no token-bearing chunk)"
    if set(known) == {"usage"}:
        said = "from usage"
    elif set(known) == {"chunks"}:
        said = "counted from chunks; the server sent no usage"
    else:
        said = f"from usage for {known.get('usage', 0)}, counted from chunks for {known['chunks']} " \
               "(no usage)"
    missing = sources.get("none", 0)
    return said + (f"; {missing} request(s) with no token count left out" if missing else "")


# -- schema ----------------------------------------------------------------------------------------
def report_json_schema() -> dict[str, Any]:
    schema = BenchReport.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://glm-harness.invalid/schemas/bench-report/{REPORT_SCHEMA_VERSION}",
        **schema,
        "title": f"glm-harness benchmark report, schema {REPORT_SCHEMA_VERSION}",
    }


def export_report_schema(directory: str | Path) -> Path:
    """Write the report's JSON Schema to `directory/bench-report.schema.json`."""
    path = Path(directory) / SCHEMA_FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, (json.dumps(report_json_schema(), indent=2) + "\n").encode())
    return path


_validator: jsonschema_rs.Validator | None = None


def validate_report_data(data: Any) -> BenchReport:
    """Both checks a reader relies on: the exported JSON Schema and the pydantic model.

    The schema is checked with jsonschema-rs: on a report of 2,000 samples it takes 5 ms, where
    Python's jsonschema took 1.9 s (and 0.2 s on a report of 160).
    """
    global _validator
    if _validator is None:
        _validator = jsonschema_rs.validator_for(report_json_schema())
    error = next(iter(_validator.iter_errors(data)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.instance_path) or "$"
        raise ValueError(f"report does not match its schema at {where}: {error.message[:200]}")
    return BenchReport.model_validate(data)


def load_report(path: str | Path) -> BenchReport:
    return validate_report_data(json.loads(Path(path).read_bytes()))


# -- writing ---------------------------------------------------------------------------------------
def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_report(report: BenchReport, path: str | Path, *, markdown: bool = True) -> Path:
    """Validate, then write `path` (and `path` with .md) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = report.model_dump(mode="json")
    validate_report_data(data)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"
    _atomic_write(path, scrub_text(text).encode())
    if markdown:
        _atomic_write(path.with_suffix(".md"), scrub_text(render_markdown(report)).encode())
    return path


def sample_log_path(report_path: str | Path) -> Path:
    path = Path(report_path)
    return path.with_name(path.stem + ".samples.jsonl")


class SampleLog:
    """Append-only JSONL of samples; line 1 is a header. Writes and fsyncs on its own thread."""

    _STOP = object()

    def __init__(self, path: str | Path, header: dict[str, Any]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._write_lines([json.dumps({"kind": SAMPLE_LOG_KIND,
                                       "schema_version": REPORT_SCHEMA_VERSION, **header})])
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="bench-sample-log", daemon=True)
        self._thread.start()

    def write(self, sample: Sample) -> None:
        self._queue.put(sample)

    def _write_lines(self, lines: Sequence[str]) -> None:
        self._file.write(scrub_text("".join(line + "\n" for line in lines)))
        self._file.flush()
        os.fsync(self._file.fileno())

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            while True:  # group commit: one fsync for whatever queued up meanwhile
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is self._STOP for item in items)
            lines = [item.model_dump_json() for item in items if item is not self._STOP]
            if lines:
                self._write_lines(lines)
            if stop:
                return

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(self._STOP)
            self._thread.join()
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> SampleLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_sample_log(path: str | Path) -> tuple[dict[str, Any], list[Sample]]:
    """The header and every complete sample; a torn last line (killed mid-write) is skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not lines:
        raise ValueError(f"{path} is empty")
    header = json.loads(lines[0])
    samples = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            samples.append(Sample.model_validate_json(line))
        except ValueError:
            if number == len(lines):
                break
            raise
    return header, samples


# -- Markdown ---------------------------------------------------------------------------------------
def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _i(value: int | None) -> str:
    return "-" if value is None else str(value)


UNKNOWN_TOKENS = "unknown (no usage)"


def _tps(value: float | None) -> str:
    return UNKNOWN_TOKENS if value is None else f"{value:,.1f}"


def _known(value: float | int | None, digits: int | None = None) -> str:
    """A token count or a cost, or "unknown (no usage)": never a zero that means unknown."""
    if value is None:
        return UNKNOWN_TOKENS
    return str(value) if digits is None else f"{value:,.{digits}f}"


def level_tokens_line(level: LevelResult) -> str:
    """The console's token figure: its value or "unknown (no usage)", and where it came from."""
    return (f"{_tps(level.output_tokens_per_s)} output tokens/s "
            f"({token_source_phrase(level.token_sources)})" + _stale(level))


def _cost(value: float | None, eff: Efficiency) -> str:
    if eff.price is None:
        return "-"  # no price: said once, above the table
    return _known(value, 6)


def _stale(level: LevelResult) -> str:
    return (f", {level.retried_stale} sent again on a fresh connection (the reused one was closed "
            "while idle; not failures)" if level.retried_stale else "")


def _header(*names: str) -> list[str]:
    return ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]


def _ci(pair: tuple[float, float] | None, digits: int = 1) -> str:
    return "-" if pair is None else f"[{pair[0]:,.{digits}f}, {pair[1]:,.{digits}f}]"


def _conformance_line(level: LevelResult) -> str:
    if not level.checked:
        return "Contract: no answer checked (none came back whole with HTTP 200)."
    broken = sum(level.conformance.values())
    if not broken:
        return f"Contract: all {level.checked} checked answers conform (the suites' checks)."
    rules = ", ".join(f"{rule}: {n}" for rule, n in sorted(level.conformance.items()))
    return f"Contract: {level.checked} answers checked with the suites' checks; rules broken: {rules}."


def render_markdown(report: BenchReport) -> str:
    meta = report.meta
    out = [
        f"# glm-harness bench: {meta.model} on {meta.target}"
        + (f" ({meta.surface} surface)" if meta.surface != "openai" else ""),
        "",
        f"- base URL: `{meta.base_url}`; {meta.started_at} to {meta.ended_at or '(unfinished)'}"
        + (f" ({meta.duration_s:.1f} s)" if meta.duration_s else ""),
        f"- harness {meta.harness_version} at {meta.git_sha or 'unknown commit'}, {meta.python}, "
        f"host {meta.host} ({meta.cpu_count} CPUs)",
        f"- report schema {report.schema_version}"
        + ("" if report.complete else "; **incomplete run** (interrupted or stopped)"),
        f"- tokens: {report.token_accounting.source} {report.token_accounting.reasoning_split}",
    ]
    if report.stopped:
        stop = report.stopped
        out.append(f"- **stopped**: HTTP {stop.status} code {stop.code} ({stop.meaning}): "
                   f"{stop.message}")
    out += [f"- **gate failed**: {reason}" for reason in report.gate_failures]
    if report.client_bound:
        out.append("- **the client was the bottleneck** in at least one level: its figures "
                   "include the load generator's own queueing (see Client health)")
    out += [f"- note: {n}" for n in report.notes]
    by_name = {d.name: d for d in report.definitions}
    for level in report.levels:
        mode = (f"{level.rate:g} req/s {level.arrival}" if level.rate else "closed loop")
        out += ["", f"## {level.name}: concurrency {level.concurrency}, {mode}", "",
                f"{level.succeeded}/{level.completed} succeeded, {level.warmup} warm-up excluded"
                f"{_stale(level)}; {_f(level.requests_per_s, 2)} req/s and "
                f"{_tps(level.output_tokens_per_s)} output tokens/s "
                f"({token_source_phrase(level.token_sources)}) over {_f(level.duration_s, 2)} s "
                f"(successful requests or sum of completion tokens / (last end - first send)); "
                f"{_f(level.tokens_per_chunk_mean, 2)} tokens per token-bearing chunk.", "",
                *_header("metric", "formula", "denominator", "n", "mean", "std", "p50", "p90",
                         "p95", "p99", "95% CI mean", "95% CI p50")]
        for name, summary in level.summaries.items():
            if not summary.n:
                continue
            d = by_name.get(name)
            formula = (d.formula if d else name).replace("|", "\\|")
            out.append(
                f"| {name} | {formula} | {d.denominator if d else '-'} | {summary.n} | "
                f"{_f(summary.mean)} | {_f(summary.std)} | {_f(summary.p50)} | {_f(summary.p90)} | "
                f"{_f(summary.p95)} | {_f(summary.p99)} | {_ci(summary.ci95_mean)} | "
                f"{_ci(summary.ci95_p50)} |")
        if level.errors:
            out += ["", "Errors: " + ", ".join(f"{k}: {v}" for k, v in sorted(level.errors.items()))]
        out += ["", _conformance_line(level)]
        if level.health:
            h = level.health
            verdict = ("**client-bound**: " + "; ".join(h.reasons)) if h.client_bound else "not client-bound"
            out += ["", f"Client health: CPU {h.cpu_percent:.0f}% of one core, event-loop lag "
                        f"p50/p99 {_f(h.loop_lag_ms.p50, 2)}/{_f(h.loop_lag_ms.p99, 2)} ms, start "
                        f"lateness p50/p99 {_f(h.lateness_ms.p50, 2)}/{_f(h.lateness_ms.p99, 2)} ms; "
                        f"{verdict}."]
            if h.workers_needed:
                out.append(f"It would have needed at least {h.workers_needed} workers (`--workers`).")
        out += _workers_markdown(level)
    if report.efficiency:
        out += _efficiency_markdown(report.efficiency)
    return "\n".join(out) + "\n"


def _workers_markdown(level: LevelResult) -> list[str]:
    if not level.workers:
        return []
    out = ["", f"Split over {len(level.workers)} workers:", "",
           *_header("worker", "host", "node", "concurrency", "requests", "completed", "CPU %",
                    "loop lag p99 ms", "verdict")]
    for w in level.workers:
        h = w.health
        verdict = w.error or ("; ".join(h.reasons) if h and h.reasons else "kept up")
        out.append(f"| {w.worker} | {w.host} | {w.node or '-'} | {w.concurrency} | {w.requests} | "
                   f"{w.completed} | {_f(h.cpu_percent if h else None, 0)} | "
                   f"{_f(h.loop_lag_ms.p99 if h else None, 2)} | {verdict.replace('|', '/')} |")
    return out


def _efficiency_markdown(eff: Efficiency) -> list[str]:
    price = eff.price
    where = (f"{price.currency} {price.input}/{price.cached_input}/{price.output} per 1M "
             f"input/cached/output tokens, as of {price.as_of} ({price.source})"
             if price else "no price for this model")
    out = ["", f"## Token efficiency: task set `{eff.task_set}` ({len(eff.task_ids)} tasks "
               f"x {eff.repeats})", "", f"Prices: {where}. Reasoning tokens are estimates "
               "(chunk share of usage.completion_tokens).", "",
           *_header("thinking", "tasks", "solved", "pass rate", "prompt", "completion",
                    "reasoning (est.)", "cached", "completion tok/solved", "total tok/solved",
                    "cost", "cost/solved")]
    for s in eff.sets:
        out.append(f"| {'on' if s.thinking else 'off'} | {s.tasks} | {s.solved} | "
                   f"{s.pass_rate:.0%} | {_known(s.prompt_tokens)} | {_known(s.completion_tokens)} | "
                   f"{_known(s.reasoning_tokens_est)} | {s.cached_tokens} | "
                   f"{_f(s.completion_tokens_per_solved)} | {_f(s.total_tokens_per_solved)} | "
                   f"{_cost(s.cost_usd, eff)} | {_cost(s.cost_per_solved_usd, eff)} |")
    out += ["", *_header("task", "kind", "thinking", "passed", "prompt", "completion",
                         "reasoning (est.)", "cached", "cost", "grader")]
    for r in eff.rows:
        detail = (r.error or r.grade_detail).replace("|", "\\|")[:100]
        out.append(f"| {r.task_id} | {r.kind} | {'on' if r.thinking else 'off'} | "
                   f"{'yes' if r.passed else 'no'} | {_i(r.prompt_tokens)} | "
                   f"{_i(r.completion_tokens)}{' (chunks)' if r.token_source == 'chunks' else ''} | "
                   f"{_i(r.reasoning_tokens_est)} | {_i(r.cached_tokens)} | "
                   f"{_cost(r.cost_usd, eff) if r.ok else '-'} | {detail} |")
    out += [f"- note: {n}" for n in eff.notes]
    return out
