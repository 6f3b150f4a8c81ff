"""Benchmarks of the GLM API: latency under load, token efficiency, and the harness's own error.

    metrics     per-request figures from one exchange, with their formulas (DEFINITIONS)
    stats       summaries with vLLM's conventions and bootstrap 95% intervals
    runner      the asyncio load runner: concurrency, request rates, warm-up, 429 policy
    transport   the bench's own HTTP/1.1 client: reads stamped as they land, parsed after
    workers     a level split over worker processes, merged into one run (bench --workers)
    distributed the same workers as Ray tasks on a cluster (bench --ray)
    health      the load generator's own CPU, event-loop lag and start lateness
    tasks       task sets in fixtures/tasks and their automatic graders
    efficiency  tokens, pass rate and cost per task set, thinking on and off
    report      the versioned report schema, atomic writer, crash-safe JSONL, Markdown
    session     one run from start to report
    calibrate   the twin over HTTP with known timings vs what the harness measures
    commands    `glm-harness bench` and `glm-harness calibrate`
"""

from .efficiency import Efficiency, load_prices, run_efficiency
from .metrics import DEFINITIONS, Sample, build_sample
from .report import (
    REPORT_KIND,
    REPORT_SCHEMA_VERSION,
    BenchReport,
    SampleLog,
    export_report_schema,
    load_report,
    read_sample_log,
    validate_report_data,
    write_report,
)
from .runner import Job, LevelSpec, LoadRunner, RetryPolicy, schedule
from .session import BenchConfig, run_session
from .stats import Summary, summarize
from .tasks import Task, TaskSet, grade, load_task_set

__all__ = [
    "DEFINITIONS", "REPORT_KIND", "REPORT_SCHEMA_VERSION", "BenchConfig", "BenchReport",
    "Efficiency", "Job", "LevelSpec", "LoadRunner", "RetryPolicy", "Sample", "SampleLog",
    "Summary", "Task", "TaskSet", "build_sample", "export_report_schema", "grade",
    "load_prices", "load_report", "load_task_set", "read_sample_log", "run_efficiency",
    "run_session", "schedule", "summarize", "validate_report_data", "write_report",
]
