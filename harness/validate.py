"""Validate recorded traffic against the contract: a request, a JSON answer, an error body, a
raw SSE stream, or a harness transcript (its request and its answer), each recognised by its
shape (harness.recordings.kind_of), with every finding reported by path. JSON of no known shape
is an "unknown kind". A capture wrapper (harness.recordings.capture_exchanges) is read as the
requests and answers it holds; a file of another surface, or a folder's own notes, is "skipped",
with the reason.

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
from .recordings import (
    OPENAI,
    capture_exchanges,
    capture_stream,
    index_entry,
    is_capture_wrapper,
    is_folder_notes,
    kind_of,
    surface_of,
)
from .sse import decode_all
from .stream import chunk_schema, invariants, read_stream

UNKNOWN = "unknown kind"
SKIPPED = "skipped"
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
    reason: str = ""  # why a file was skipped

    @property
    def known(self) -> bool:
        return self.kind != UNKNOWN

    @property
    def skipped(self) -> bool:
        return self.kind == SKIPPED


def validate_paths(paths: Iterable[Path | str], mode: Mode = Mode.LENIENT) -> list[FileReport]:
    """Every file named, and every file in every folder named: none is left out unsaid (a
    folder's notes and files of another surface are reported as skipped, with the reason)."""
    reports: list[FileReport] = []
    for path in map(Path, paths):
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                if is_folder_notes(file) or file.name.startswith("."):
                    reports.append(FileReport(file, SKIPPED, [], reason="the folder's notes, not traffic"))
                    continue
                try:
                    reports.append(validate_file(file, mode))
                except UsageError as error:  # one unreadable file does not hide the others' results
                    reports.append(FileReport(file, UNKNOWN, [], reason=str(error)))
        else:
            reports.append(validate_file(path, mode))
    return reports


def validate_file(path: Path, mode: Mode = Mode.LENIENT) -> FileReport:
    raw = read_input(path)
    meta = index_entry(path, path.parent)
    raw = capture_stream(raw, meta)
    if raw.lstrip().startswith((b"data:", b":", b"event:", b"id:")):
        surface = surface_of(raw, None)
        if surface != OPENAI:
            return FileReport(path, SKIPPED, [], reason=f"{surface} stream, not read by this validator")
        return FileReport(path, "stream", *_stream(raw, mode))
    try:
        data = loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{path} is neither JSON nor an SSE stream ({error})") from None
    except JSONTooComplex as error:
        raise UsageError(f"{path}: {error}") from None
    surface = surface_of(raw, data)
    if surface != OPENAI:
        return FileReport(path, SKIPPED, [], reason=f"{surface} recording, not read by this validator")
    if _is_transcript(data):
        return FileReport(path, "transcript", _transcript(data, mode))
    if is_capture_wrapper(data):
        return FileReport(path, "capture", *_capture(path, data, meta, mode))
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


# -- capture wrappers: a request and its answer(s) in one file ---------------------------------------
def _capture(path: Path, data: dict[str, Any], meta: dict[str, Any],
             mode: Mode) -> tuple[list[Finding], list[Finding]]:
    """Each answer the wrapper holds, and each request the server accepted (one it refused, the
    point of an error scenario, is not held to the contract)."""
    findings: list[Finding] = []
    notices: list[Finding] = []
    parts = capture_exchanges(path, "", data, meta)
    for request, answer in zip(parts[::2], parts[1::2], strict=True):
        where = answer.label.lstrip("#")
        prefix = f"{where}." if where else ""
        model = _MODELS.get(str(answer.kind))
        if model is None:
            findings.append(Finding(f"{prefix}response", "kind", f"a {answer.kind} where an answer belongs"))
            continue
        checked: Validated[Any] = validate(model, answer.data, mode)
        findings += _prefixed(f"{prefix}response", checked.findings)
        notices += _prefixed(f"{prefix}response", checked.notices)
        if answer.status == 200:
            asked: Validated[Any] = validate(ChatCompletionRequest, request.data, mode)
            findings += _prefixed(f"{prefix}request", asked.findings)
            notices += _prefixed(f"{prefix}request", asked.notices)
    return findings, notices


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
