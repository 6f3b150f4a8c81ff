"""Validate recorded traffic against the contract: a request, a JSON answer, an error body, or a
raw SSE stream, each recognised by its shape, with every finding reported by path.

In strict mode a report also says which undocumented fields it met that real GLM is known to send
(notices, from the contract's `observed` markers): documented, observed, and unknown are three
different things, and only the last is drift.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .contract import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ErrorBody,
    ErrorDetail,
    Finding,
    Mode,
    Validated,
    validate,
)
from .errors import UsageError
from .recordings import kind_of, scan
from .sse import decode_all
from .stream import chunk_schema, invariants, read_stream

_MODELS: dict[str, type] = {
    "request": ChatCompletionRequest, "error body": ErrorBody, "error object (inner)": ErrorDetail,
    "chunk": ChatCompletionChunk, "completion": ChatCompletion,
}


@dataclass(frozen=True, slots=True)
class FileReport:
    path: Path
    kind: str
    findings: list[Finding]
    notices: list[Finding] = field(default_factory=list)


def validate_paths(paths: Iterable[Path | str], mode: Mode = Mode.LENIENT) -> list[FileReport]:
    """Every file named, and every recording in every folder named."""
    reports: list[FileReport] = []
    for path in map(Path, paths):
        if path.is_dir():
            reports += [validate_file(r.path, mode) for r in scan([path], [])]
        else:
            reports.append(validate_file(path, mode))
    return reports


def validate_file(path: Path, mode: Mode = Mode.LENIENT) -> FileReport:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    if raw.lstrip().startswith((b"data:", b":", b"event:", b"id:")):
        return _stream(path, raw, mode)
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{path} is neither JSON nor an SSE stream ({error})") from None
    kind = str(kind_of(data) or "completion")
    checked: Validated[Any] = validate(_MODELS[kind], data, mode)
    return FileReport(path, kind, checked.findings, checked.notices)


def _stream(path: Path, raw: bytes, mode: Mode) -> FileReport:
    events, violations = decode_all(raw)
    stream = read_stream(events)
    findings = [Finding(f"byte {v.offset}", v.kind, v.message) for v in violations]
    checked = chunk_schema(stream, mode)
    findings += checked.findings + invariants(stream)
    return FileReport(path, "stream", findings, checked.notices)
