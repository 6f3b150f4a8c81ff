"""Validate recorded traffic against the contract: a request, a JSON answer, an error body, a
raw SSE stream, or a harness transcript (its request and its answer), each recognised by its
shape (harness.recordings.kind_of), with every finding reported by path. JSON of no known shape
is an "unknown kind".

In strict mode a report also says which undocumented fields it met that real GLM is known to send
(notices, from the contract's `observed` markers): documented, observed, and unknown are three
different things, and only the last is drift.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ._files import read_input
from ._jsonload import JSONTooComplex, loads
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

UNKNOWN = "unknown kind"
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

    @property
    def known(self) -> bool:
        return self.kind != UNKNOWN


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
    raw = read_input(path)
    if raw.lstrip().startswith((b"data:", b":", b"event:", b"id:")):
        return FileReport(path, "stream", *_stream(raw, mode))
    try:
        data = loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{path} is neither JSON nor an SSE stream ({error})") from None
    except JSONTooComplex as error:
        raise UsageError(f"{path}: {error}") from None
    if _is_transcript(data):
        return FileReport(path, "transcript", _transcript(data, mode))
    kind = kind_of(data)
    if kind is None:
        return FileReport(path, UNKNOWN, [])
    checked: Validated[Any] = validate(_MODELS[str(kind)], data, mode)
    return FileReport(path, str(kind), checked.findings, checked.notices)


def _stream(raw: bytes, mode: Mode) -> tuple[list[Finding], list[Finding]]:
    """(findings, notices) of a raw SSE body: framing, each chunk's schema, the invariants."""
    events, violations = decode_all(raw)
    stream = read_stream(events)
    checked = chunk_schema(stream, mode)
    framing = [Finding(f"byte {v.offset}", v.kind, v.message) for v in violations]
    return framing + checked.findings + invariants(stream), checked.notices


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
        return findings + _prefixed("response", _stream(raw, mode)[0])
    try:
        body = loads(raw)
    except ValueError as error:
        return [*findings, Finding("response", "json", f"the answer is not JSON ({error})")]
    model = ChatCompletion if transcript.status == 200 else ErrorBody
    return findings + _prefixed("response", validate(model, body, mode).findings)


def _prefixed(prefix: str, findings: list[Finding]) -> list[Finding]:
    return [replace(f, path=f"{prefix}.{f.path}" if f.path else prefix) for f in findings]
