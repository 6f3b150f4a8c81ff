"""Validate recorded traffic against the contract: a request, a JSON answer, an error body, a
raw SSE stream, or a harness transcript (its request and its answer), each recognised by its
shape, with every finding reported by path. JSON of no known shape is an "unknown kind"."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ._jsonload import JSONTooComplex, loads
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
from .stream import assemble, invariants

UNKNOWN = "unknown kind"


@dataclass(frozen=True, slots=True)
class FileReport:
    path: Path
    kind: str
    findings: list[Finding]

    @property
    def known(self) -> bool:
        return self.kind != UNKNOWN


def validate_file(path: Path, mode: Mode = Mode.LENIENT) -> FileReport:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    if raw.lstrip().startswith((b"data:", b":", b"event:", b"id:")):
        return FileReport(path, "stream", _stream(raw, mode))
    try:
        data = loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{path} is neither JSON nor an SSE stream ({error})") from None
    except JSONTooComplex as error:
        raise UsageError(f"{path}: {error}") from None
    if _is_transcript(data):
        return FileReport(path, "transcript", _transcript(data, mode))
    kind, model = _kind(data)
    if model is None:
        return FileReport(path, UNKNOWN, [])
    return FileReport(path, kind, validate(model, data, mode).findings)


def _kind(data: Any) -> tuple[str, type | None]:
    if not isinstance(data, dict):
        return UNKNOWN, None
    if "messages" in data:
        return "request", ChatCompletionRequest
    if "error" in data:
        return "error body", ErrorBody
    if "code" in data and "message" in data:
        return "error object (inner)", ErrorDetail
    choices = data.get("choices")
    if not isinstance(choices, list):
        return UNKNOWN, None
    if choices and isinstance(choices[0], dict) and "delta" in choices[0]:
        return "chunk", ChatCompletionChunk
    return "completion", ChatCompletion


def _stream(raw: bytes, mode: Mode) -> list[Finding]:
    events, violations = decode_all(raw)
    assembly = assemble(events, mode)
    findings = [Finding(f"byte {v.offset}", v.kind, v.message) for v in violations]
    return findings + assembly.findings + invariants(assembly)


# -- transcripts: the harness's own recordings (harness.transcript) ---------------------------------
def _is_transcript(data: Any) -> bool:
    return isinstance(data, dict) and {"schema_version", "request", "stream", "status"} <= data.keys()


def _transcript(data: dict[str, Any], mode: Mode) -> list[Finding]:
    from .transcript import Transcript

    try:
        transcript = Transcript.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "$"
        return [Finding(where, "transcript", first["msg"])]
    findings = []
    request = transcript.request.json_body
    if request is not None:
        findings += _prefixed("request", validate(ChatCompletionRequest, request, mode).findings)
    if transcript.transport_error or transcript.status is None:
        return findings
    raw = transcript.response_bytes
    if transcript.stream and transcript.status == 200:
        return findings + _prefixed("response", _stream(raw, mode))
    try:
        body = loads(raw)
    except ValueError as error:
        return [*findings, Finding("response", "json", f"the answer is not JSON ({error})")]
    model = ChatCompletion if transcript.status == 200 else ErrorBody
    return findings + _prefixed("response", validate(model, body, mode).findings)


def _prefixed(prefix: str, findings: list[Finding]) -> list[Finding]:
    return [Finding(f"{prefix}.{f.path}" if f.path else prefix, f.kind, f.message) for f in findings]
