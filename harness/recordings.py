"""Folders of recorded traffic, read by what each file holds rather than by what it is called.

A recording is a request, a JSON answer, a raw SSE stream or an error body (whole, or the inner
object a client surfaced). An answer is paired with the request beside it: the file in the same
folder whose name is the answer's less `response`/`request` (`x.request.json` with
`x.response.sse`). `INDEX.jsonl` in a folder, where present, adds what a file cannot say about
itself (the HTTP status, the date); nothing else depends on a file's name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ._files import read_input
from .errors import UsageError

ERA_2025, ERA_2026 = "2025", "2026"
_SSE_START = (b"data:", b":", b"event:", b"id:")
_ROLE_SUFFIX = re.compile(r"[._-](request|response)$")
_STATUS_IN_NAME = re.compile(r"__(\d{3})_(\d{3,4})")


class Kind(StrEnum):
    REQUEST = "request"
    COMPLETION = "completion"
    STREAM = "stream"
    ERROR = "error body"
    INNER_ERROR = "error object (inner)"
    CHUNK = "chunk"

    @property
    def is_answer(self) -> bool:
        return self in (Kind.COMPLETION, Kind.STREAM, Kind.ERROR, Kind.INNER_ERROR)

    @property
    def is_error(self) -> bool:
        return self in (Kind.ERROR, Kind.INNER_ERROR)


@dataclass
class Recording:
    path: Path
    label: str
    kind: Kind
    raw: bytes
    data: Any = None
    meta: dict[str, Any] = field(default_factory=dict)
    chunks: list[Any] = field(default_factory=list)

    @property
    def pairing_key(self) -> tuple[Path, str]:
        """The folder and the name less its extension and its `request`/`response` role."""
        return self.path.parent, _without_role(self.path.name)

    @property
    def model(self) -> str | None:
        for source in (self.data, *self.chunks):
            if isinstance(source, dict) and isinstance(source.get("model"), str):
                return str(source["model"])
        return None

    @property
    def era(self) -> str | None:
        """2026 answers carry `object`; 2025 ones never do. Requests and errors say nothing."""
        if self.kind not in (Kind.COMPLETION, Kind.STREAM):
            return None
        sources = [self.data] if self.kind is Kind.COMPLETION else self.chunks
        return ERA_2026 if any(isinstance(s, dict) and "object" in s for s in sources) else ERA_2025

    @property
    def status(self) -> int | None:
        """The recorded HTTP status: INDEX.jsonl's, else one written in the name, else 200 for an
        answer that is not an error; None where nothing says."""
        for key in ("http_status", "status"):
            if isinstance(self.meta.get(key), int):
                return int(self.meta[key])
        match = _STATUS_IN_NAME.search(self.path.name)
        if match:
            return int(match.group(1))
        return None if self.kind.is_error else 200

    @property
    def error_code(self) -> str | None:
        inner = self.data.get("error", self.data) if isinstance(self.data, dict) else None
        return str(inner["code"]) if isinstance(inner, dict) and "code" in inner else None

    def error_body(self) -> Any:
        """As the API sends it: `{"error": {...}}` even where only the inner object was kept."""
        return {"error": self.data} if self.kind is Kind.INNER_ERROR else self.data


@dataclass
class Exchange:
    """An answer and, where one is beside it, the request that got it."""

    answer: Recording
    request: Recording | None

    @property
    def model(self) -> str | None:
        return (self.request.model if self.request else None) or self.answer.model


def scan(roots: Iterable[Path | str], notes: list[str]) -> list[Recording]:
    """Every recording under `roots` (files or folders), each recognised by its content."""
    found: list[Recording] = []
    for root in map(Path, roots):
        if not root.exists():
            raise UsageError(f"no such file or directory: {root}")
        # a FIFO or a device named here is read, and refused, as a file; one in a folder is skipped
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        base = root if root.is_dir() else root.parent
        for path in files:
            if path.name == "INDEX.jsonl" or path.suffix.lower() in (".md", ".txt", ".jsonl"):
                continue
            recording = read(path, base, notes)
            if recording is not None:
                found.append(recording)
    return found


def read(path: Path, base: Path, notes: list[str]) -> Recording | None:
    raw = read_input(path)
    meta = index_entry(path, base)
    relative = path.relative_to(base) if path != base else Path(path.name)
    label = _without_role((relative.parent / relative.name).as_posix())
    if raw.lstrip().startswith(_SSE_START):
        return Recording(path, label, Kind.STREAM, raw, meta=meta, chunks=sse_chunks(raw))
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        notes.append(f"{label}: neither JSON nor an SSE stream; skipped")
        return None
    kind = kind_of(data)
    if kind is None:
        notes.append(f"{label}: not a request, an answer or an error body; skipped")
        return None
    return Recording(path, label, kind, raw, data, meta)


def _without_role(name: str) -> str:
    for ending in (".json", ".sse"):
        name = name.removesuffix(ending)
    return _ROLE_SUFFIX.sub("", name)


def kind_of(data: Any) -> Kind | None:
    if not isinstance(data, dict):
        return None
    if "messages" in data:
        return Kind.REQUEST
    if isinstance(data.get("error"), dict):
        return Kind.ERROR
    if "code" in data and "message" in data:
        return Kind.INNER_ERROR
    choices = data.get("choices")
    if isinstance(choices, list):
        first = choices[0] if choices and isinstance(choices[0], dict) else {}
        return Kind.CHUNK if "delta" in first else Kind.COMPLETION
    return None


def exchanges(recordings: list[Recording]) -> Iterator[Exchange]:
    """Each answer with the request beside it (or None)."""
    requests = {r.pairing_key: r for r in recordings if r.kind is Kind.REQUEST}
    for recording in recordings:
        if recording.kind.is_answer:
            yield Exchange(recording, requests.get(recording.pairing_key))


def sse_chunks(raw: bytes) -> list[Any]:
    """The JSON of each data event of a raw SSE body, read by harness.stream (None: not JSON)."""
    from .sse import decode_all
    from .stream import read_stream

    return [event.data for event in read_stream(decode_all(raw)[0]).events]


def index_entry(path: Path, base: Path) -> dict[str, Any]:
    """The INDEX.jsonl entry for `path`, from its own folder or any folder above it up to `base`
    (an entry names the file relative to the INDEX that lists it)."""
    folder = path.parent
    while True:
        entries = _index(folder)
        relative = path.relative_to(folder).as_posix()
        if relative in entries:
            return entries[relative]
        if folder == base or folder.parent == folder or base not in folder.parents:
            return {}
        folder = folder.parent


def _index(folder: Path) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    path = folder / "INDEX.jsonl"
    lines = read_input(path).decode("utf-8", "replace").splitlines() if path.exists() else []
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("file"), str):
            entries[entry["file"]] = entry
    return entries
