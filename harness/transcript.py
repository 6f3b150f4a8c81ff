"""Transcripts: one recorded exchange, scrubbed, as a JSON file a test can replay byte for byte.

A transcript keeps what was asked (the request JSON, or the raw bytes when they were not JSON,
and the request headers with credentials scrubbed), what came back (status, an allow-list of
headers) and how it came back: for a stream, every byte chunk as it arrived off the socket with
its arrival time in milliseconds after the request was sent; for a plain answer, the body and
the time it took. Scrubbing happens in `from_exchange`, before anything can be written.

File format (schema_version "1"), one JSON object:

    {"schema_version": "1", "recorded_at": "...", "scenario": "stream",
     "target": {"kind": "live", "base_url": "...", "model": "glm-4.6"},
     "request": {"method": "POST", "url": "...", "headers": {...}, "json": {...}, "raw": null},
     "status": 200, "headers": {"content-type": "text/event-stream;charset=UTF-8"},
     "stream": true,
     "chunks": [{"t_ms": 51.203, "data": "data: {...}\\n\\n"}, {"t_ms": 60.1, "b64": "..."}],
     "body": null, "body_b64": null, "body_ms": null,
     "ended_ms": 412.9, "transport_error": null, "scrubbed_fields": ["user_id"]}

A chunk carries `data` (UTF-8 text) or, when its bytes are not valid UTF-8 on their own (a
multi-byte character split across reads), `b64`. `body`/`body_b64` likewise.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from ._files import read_input, write_new
from .scrub import CREDENTIAL_HEADERS, Scrubber

if TYPE_CHECKING:
    from .client import Exchange

SCHEMA_VERSION = "1"
# Response headers worth keeping; anything else (cookies, auth, hop-by-hop, content-length and
# content-encoding, which no longer match the decoded bytes) is dropped.
HEADER_ALLOW = frozenset({
    "content-type", "cache-control", "retry-after", "x-request-id", "request-id", "x-log-id",
    "x-process-time", "openai-processing-ms",
})
HEADER_ALLOW_PREFIXES = ("x-ratelimit-", "ratelimit-")
NEVER_HEADERS = CREDENTIAL_HEADERS | {"content-length", "content-encoding", "transfer-encoding",
                                      "connection", "keep-alive"}


def _strict() -> ConfigDict:
    return ConfigDict(extra="forbid")


class TargetInfo(BaseModel):
    model_config = _strict()
    kind: str
    base_url: str
    model: str


class RecordedRequest(BaseModel):
    model_config = _strict()
    method: str = "POST"
    url: str = ""
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: dict[str, Any] | None = Field(default=None, alias="json")
    raw: str | None = None

    @property
    def path(self) -> str:
        return re.sub(r"^[a-z]+://[^/]+", "", self.url) or "/"


class Chunk(BaseModel):
    """Bytes that arrived together, `t_ms` after the request was sent."""

    model_config = _strict()
    t_ms: float
    data: str | None = None
    b64: str | None = None

    @model_validator(mode="after")
    def _one_payload(self) -> Chunk:
        if (self.data is None) == (self.b64 is None):
            raise ValueError("a chunk has exactly one of `data` and `b64`")
        return self

    @model_serializer(mode="plain")
    def _compact(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t_ms": self.t_ms}
        if self.data is not None:
            out["data"] = self.data
        else:
            out["b64"] = self.b64
        return out

    @classmethod
    def of(cls, t_ms: float, data: bytes) -> Chunk:
        text, b64 = _encode(data)
        return cls(t_ms=t_ms, data=text, b64=b64)

    @property
    def raw(self) -> bytes:
        return self.data.encode("utf-8") if self.data is not None else base64.b64decode(self.b64 or "")


class Transcript(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_version: Literal["1"] = "1"
    recorded_at: dt.datetime
    scenario: str | None = None
    target: TargetInfo
    request: RecordedRequest
    status: int | None
    headers: dict[str, str] = Field(default_factory=dict)
    stream: bool
    chunks: list[Chunk] | None = None
    body: str | None = None
    body_b64: str | None = None
    body_ms: float | None = None
    ended_ms: float | None = None
    transport_error: str | None = None
    transport_error_kind: str | None = None  # timeout, connect, protocol or network (harness.errors)
    scrubbed_fields: list[str] = Field(default_factory=list)

    @property
    def response_bytes(self) -> bytes:
        """The whole response body, as the client received it."""
        if self.chunks is not None:
            return b"".join(c.raw for c in self.chunks)
        if self.body_b64 is not None:
            return base64.b64decode(self.body_b64)
        return (self.body or "").encode("utf-8")

    @property
    def request_bytes(self) -> bytes:
        if self.request.raw is not None:
            return self.request.raw.encode("utf-8")
        return json.dumps(self.request.json_body, ensure_ascii=False, separators=(",", ":")).encode()

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, by_alias=True) + "\n"


def _encode(data: bytes) -> tuple[str | None, str | None]:
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, base64.b64encode(data).decode("ascii")


def _ms(at: float, since: float) -> float:
    return round((at - since) * 1000, 3)


def allowed_headers(headers: dict[str, str]) -> dict[str, str]:
    return {
        k.lower(): v for k, v in headers.items()
        if k.lower() not in NEVER_HEADERS
        and (k.lower() in HEADER_ALLOW or k.lower().startswith(HEADER_ALLOW_PREFIXES))
    }


def _scrub_chunks(chunks: list[tuple[float, bytes]], scrubber: Scrubber) -> list[tuple[float, bytes]]:
    """Scrub chunk by chunk, keeping the boundaries. A secret split across reads would slip
    through that, so while scrubbing the chunks one by one differs from scrubbing the whole,
    the reads around the first place they differ are merged (stamped with the later arrival)."""
    groups = list(chunks)
    while True:
        cleaned = [scrubber.scrub_bytes(data) for _, data in groups]
        if scrubber.scrub_bytes(b"".join(d for _, d in groups)) == b"".join(cleaned):
            return [(at, data) for (at, _), data in zip(groups, cleaned, strict=True)]
        prefix = expected = b""
        for k, (at, data) in enumerate(groups):
            prefix, expected = prefix + data, expected + cleaned[k]
            if k and scrubber.scrub_bytes(prefix) != expected:
                groups[k - 1:k + 1] = [(at, groups[k - 1][1] + data)]
                break
        else:  # not expected; never write what could not be scrubbed chunk by chunk
            whole = b"".join(d for _, d in groups)
            return [(groups[-1][0], scrubber.scrub_bytes(whole))] if groups else []


def _scrub_split_secrets(exchange: Exchange, scrubber: Scrubber) -> list[tuple[float, bytes]] | None:
    """The stream rewritten event by event (one chunk each, at its arrival) when a secret lies
    split over its events' text: each JSON string field (`choices[0].delta.content`, a tool
    call's arguments, an Anthropic `delta.text`) is joined over the events and scrubbed as one
    text (`Scrubber.scrub_pieces`). None when no field needed it: the reads are kept as read."""
    parsed: list[Any] = []
    for timed in exchange.events:
        try:
            parsed.append(None if timed.event.is_done else json.loads(timed.event.data))
        except ValueError:
            parsed.append(None)
    fields: dict[tuple[str | int, ...], list[tuple[int, str]]] = {}
    for n, data in enumerate(parsed):
        for path, value in _strings(data, ()):
            fields.setdefault(path, []).append((n, value))
    split = False
    for path, pieces in fields.items():
        values = [value for _, value in pieces]
        if len(pieces) < 2 or not scrubber.spans("".join(values)):
            continue
        cleaned = scrubber.scrub_pieces(values)
        for (n, value), new in zip(pieces, cleaned, strict=True):
            if new != scrubber.scrub_text(value):
                split = True
            _set_path(parsed[n], path, new)
    if not split:
        return None
    out = []
    for timed, data in zip(exchange.events, parsed, strict=True):
        text = timed.event.data if data is None else json.dumps(data, ensure_ascii=False)
        name = f"event: {timed.event.event}\n" if timed.event.event != "message" else ""
        out.append((timed.at, scrubber.scrub_bytes(f"{name}data: {text}\n\n".encode())))
    return out


def _strings(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i))


def _set_path(data: Any, path: tuple[str | int, ...], value: str) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def from_exchange(exchange: Exchange, scrubber: Scrubber | None = None,
                  scenario: str | None = None) -> Transcript:
    """A scrubbed transcript of `exchange`: keys, credential headers and the marked fields go."""
    target = exchange.target
    scrubber = scrubber or Scrubber.for_target(target)
    # A marked field's value goes wherever it is echoed (the API echoes request_id).
    scrubber = scrubber.with_values(scrubber.sensitive_values(exchange.request))
    if exchange.raw_request is not None:
        request = RecordedRequest(
            url=scrubber.scrub_text(exchange.url), headers=scrubber.scrub_headers(target.headers()),
            raw=scrubber.scrub_text(exchange.raw_request.decode("utf-8", "replace")))
    else:
        request = RecordedRequest(
            url=scrubber.scrub_text(exchange.url), headers=scrubber.scrub_headers(target.headers()),
            json=scrubber.scrub_json(exchange.request))
    headers = scrubber.scrub_headers(allowed_headers(exchange.headers))
    sent = exchange.sent_at
    stream = "text/event-stream" in exchange.headers.get("content-type", "").lower()
    fields: dict[str, Any] = {}
    if stream:
        chunks = _scrub_split_secrets(exchange, scrubber) or _scrub_chunks(exchange.chunks, scrubber)
        fields["chunks"] = [Chunk.of(_ms(at, sent), data) for at, data in chunks]
    elif exchange.chunks:
        body, body_b64 = _encode(scrubber.scrub_bytes(exchange.body))
        fields.update(body=body, body_b64=body_b64, body_ms=_ms(exchange.chunks[-1][0], sent))
    elif exchange.status is not None:
        fields.update(body="", body_ms=_ms(exchange.ended_at or sent, sent))
    return Transcript(
        recorded_at=dt.datetime.now(dt.UTC),
        scenario=scenario,
        target=TargetInfo(kind=target.kind, base_url=scrubber.scrub_text(target.base_url),
                          model=str(exchange.request.get("model") or target.model)),
        request=request,
        status=exchange.status,
        headers=headers,
        stream=stream,
        ended_ms=_ms(exchange.ended_at, sent) if exchange.ended_at is not None else None,
        transport_error=scrubber.scrub_text(str(exchange.transport_error)) if exchange.transport_error else None,
        transport_error_kind=exchange.transport_error.kind if exchange.transport_error else None,
        scrubbed_fields=sorted(scrubber.sensitive_fields),
        **fields,
    )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:80] or "exchange"


def file_name(transcript: Transcript) -> str:
    stamp = transcript.recorded_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    parts = [stamp, _slug(transcript.target.model)]
    if transcript.scenario:
        parts.append(_slug(transcript.scenario))
    return "-".join(parts) + ".json"


def save(transcript: Transcript, directory: str | os.PathLike[str]) -> Path:
    """Write atomically to `directory/<UTC time>-<model>-<scenario>.json`; never overwrites."""
    base = file_name(transcript)
    folder = Path(directory)
    names = [folder / (base if n == 1 else base.replace(".json", f"-{n}.json")) for n in range(1, 1000)]
    return write_new(names, transcript.to_json())


def load(path: str | os.PathLike[str]) -> Transcript:
    return Transcript.model_validate_json(read_input(path))


def load_all(paths: Iterable[str | os.PathLike[str]]) -> list[Transcript]:
    """Transcripts from files and directories (every `*.json` in a directory, sorted by name)."""
    found: list[Transcript] = []
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            found += [load(p) for p in sorted(path.glob("*.json"))]
        else:
            found.append(load(path))
    return found
