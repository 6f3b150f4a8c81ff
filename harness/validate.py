"""Validate recorded traffic against the contract: a request, a JSON answer, an error body, or a
raw SSE stream, each recognised by its shape, with every finding reported by path."""

from __future__ import annotations

import json
from dataclasses import dataclass
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
    validate,
)
from .errors import UsageError
from .sse import decode_all
from .stream import chunk_schema_findings, invariants, read_stream


@dataclass(frozen=True, slots=True)
class FileReport:
    path: Path
    kind: str
    findings: list[Finding]


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
    kind, model = _kind(data)
    return FileReport(path, kind, validate(model, data, mode).findings)


def _kind(data: Any) -> tuple[str, type]:
    if isinstance(data, dict):
        if "messages" in data:
            return "request", ChatCompletionRequest
        if "error" in data:
            return "error body", ErrorBody
        if "code" in data and "message" in data:
            return "error object (inner)", ErrorDetail
        choices = data.get("choices") or [{}]
        if isinstance(choices, list) and isinstance(choices[0], dict) and "delta" in choices[0]:
            return "chunk", ChatCompletionChunk
    return "completion", ChatCompletion


def _stream(path: Path, raw: bytes, mode: Mode) -> FileReport:
    events, violations = decode_all(raw)
    stream = read_stream(events)
    findings = [Finding(f"byte {v.offset}", v.kind, v.message) for v in violations]
    findings += chunk_schema_findings(stream, mode) + invariants(stream)
    return FileReport(path, "stream", findings)
