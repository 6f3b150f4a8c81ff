"""Validate recorded traffic against the contract: a request, a JSON answer, an error body, a
raw SSE stream, or a harness transcript (its request and its answer), each recognised by its
shape (harness.recordings.kind_of), with every finding reported by path. JSON of no known shape
is an "unknown kind".

In strict mode a report also says which undocumented fields it met that real GLM is known to send
(notices, from the contract's `observed` markers): documented, observed, and unknown are three
different things, and only the last is drift.

Both surfaces are read (`harness.recordings.documents` decides which contract model holds what):
a Messages answer, an `event:` stream, GLM's and Anthropic's error envelopes, and a capture
script's wrapper, every exchange in it (findings prefixed with the exchange: `round2.response`).
What a capture script added to a stream is undone and said as a notice. A request the server
rejected (HTTP 400) is expected to break the contract: its findings are notices.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ._jsonload import JSONTooComplex, loads
from .contract import ChatCompletion, ChatCompletionRequest, ErrorBody, Finding, Mode, Validated, validate
from .contract.validation import NOTICE
from .errors import UsageError
from .message_stream import event_order, event_schema, is_message_stream, read_message_stream
from .recordings import Kind, Recording, capture_recordings, documents, is_capture, kind_of, scan, undo_capture
from .sse import decode_all
from .stream import chunk_schema, invariants, read_stream
from .surface import Surface

UNKNOWN = "unknown kind"
CAPTURE_ARTIFACT = "capture_artifact"
REJECTED_REQUEST = "rejected_request"


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
    """Every file named, and every recording in every folder named (each file once)."""
    reports: list[FileReport] = []
    for path in map(Path, paths):
        if path.is_dir():
            files = dict.fromkeys(r.path for r in scan([path], []))
            reports += [validate_file(f, mode) for f in files]
        else:
            reports.append(validate_file(path, mode))
    return reports


def validate_file(path: Path, mode: Mode = Mode.LENIENT) -> FileReport:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    raw, artifacts = undo_capture(raw)
    undone = [Finding("file", CAPTURE_ARTIFACT, a, NOTICE) for a in artifacts]
    if raw.lstrip().startswith((b"data:", b":", b"event:", b"id:")):
        findings, notices = _stream(raw, mode)
        shown = "message stream" if is_message_stream(decode_all(raw)[0]) else "stream"
        return FileReport(path, shown, findings, undone + notices)
    try:
        data = loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{path} is neither JSON nor an SSE stream ({error})") from None
    except JSONTooComplex as error:
        raise UsageError(f"{path}: {error}") from None
    if _is_transcript(data):
        return FileReport(path, "transcript", _transcript(data, mode))
    if is_capture(data):
        return FileReport(path, f"capture ({data.get('protocol')})", *_capture(path, data, mode))
    kind = kind_of(data)
    if kind is None:
        return FileReport(path, UNKNOWN, [])
    recording = Recording(path, path.name, kind, raw, data)
    findings, notices = _recording(recording, mode)
    anthropic = recording.surface is Surface.ANTHROPIC and kind is not Kind.MESSAGE
    return FileReport(path, f"{kind} (anthropic)" if anthropic else str(kind), findings, notices)


def _recording(recording: Recording, mode: Mode) -> tuple[list[Finding], list[Finding]]:
    """(findings, notices) of one recorded document (a stream: its raw bytes)."""
    if recording.kind is Kind.STREAM:
        return _stream(recording.raw, mode)
    findings: list[Finding] = []
    notices: list[Finding] = []
    for model, data in documents(recording):
        checked: Validated[Any] = validate(model, data, mode)
        findings += checked.findings
        notices += checked.notices
    return findings, notices


def _capture(path: Path, data: dict[str, Any], mode: Mode) -> tuple[list[Finding], list[Finding]]:
    """Every exchange of a capture wrapper: its request (as sent, with what was sent beside it)
    and its answer. A request answered 400 was meant to be refused; what it breaks is a notice."""
    findings: list[Finding] = []
    notices: list[Finding] = []
    recordings = capture_recordings(path, path.name, data, {})
    rejected = {r.part for r in recordings if r.kind.is_error and r.status == 400}
    for recording in recordings:
        role = "request" if recording.kind is Kind.REQUEST else "response"
        found, seen = _recording(recording, mode)
        if role == "request" and recording.part in rejected:
            seen = seen + [replace(f, kind=REJECTED_REQUEST, severity=NOTICE,
                                   message=f"{f.message} (the server refused this request with HTTP 400)")
                           for f in found]
            found = []
        prefix = role if recording.part == "response" else f"{recording.part}.{role}"
        findings += _prefixed(prefix, found)
        notices += _prefixed(prefix, seen)
    return findings, notices


def _stream(raw: bytes, mode: Mode) -> tuple[list[Finding], list[Finding]]:
    """(findings, notices) of a raw SSE body: framing, each chunk's (event's) schema, the
    invariants (order and nesting, for a Messages stream)."""
    events, violations = decode_all(raw)
    framing = [Finding(f"byte {v.offset}", v.kind, v.message) for v in violations]
    if is_message_stream(events):
        messages = read_message_stream(events)
        schema = event_schema(messages, mode)
        return framing + schema.findings + event_order(messages), schema.notices
    stream = read_stream(events)
    checked = chunk_schema(stream, mode)
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
