"""Folders of recorded traffic, read by what each file holds rather than by what it is called.

A recording is a request, a JSON answer, a raw SSE stream or an error body (whole, or the inner
object a client surfaced). An answer is paired with the request beside it: the file in the same
folder whose name is the answer's less `response`/`request` (`x.request.json` with
`x.response.sse`). `INDEX.jsonl` in a folder, where present, adds what a file cannot say about
itself (the HTTP status, the date, the endpoint); nothing else depends on a file's name.

Two capture layouts are read as what they hold (see `capture_exchanges`, `capture_stream`): a
wrapper `{protocol, streaming, scenario, model, request, response | rounds, tools_sent?, ...}`
holding a request and its answer(s), and a capture script's text of a stream. Files of the
Anthropic Messages surface are recognised and set aside with a reason (`surface_of`).
"""

from __future__ import annotations

import ast
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
    pair: str | None = None  # within a capture wrapper: which exchange of the file this is

    @property
    def pairing_key(self) -> tuple[Path, str]:
        """The folder and the name less its extension and its `request`/`response` role."""
        return self.path.parent, self.pair if self.pair is not None else _without_role(self.path.name)

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
    """Every recording under `roots` (files or folders), each recognised by its content; every
    file that is not one gets a note saying why."""
    found: list[Recording] = []
    for root in map(Path, roots):
        if not root.exists():
            raise UsageError(f"no such file or directory: {root}")
        # a FIFO or a device named here is read, and refused, as a file; one in a folder is skipped
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        base = root if root.is_dir() else root.parent
        for path in files:
            if is_folder_notes(path):
                continue
            found += read_all(path, base, notes)
    return found


def is_folder_notes(path: Path) -> bool:
    """A folder's own notes (its INDEX.jsonl, a README), not traffic."""
    return path.name == "INDEX.jsonl" or path.suffix.lower() in (".md", ".jsonl")


def read_all(path: Path, base: Path, notes: list[str]) -> list[Recording]:
    """The recordings a file holds: one, or a capture wrapper's requests and answers."""
    raw = read_input(path)
    meta = index_entry(path, base)
    relative = path.relative_to(base) if path != base else Path(path.name)
    label = _without_role((relative.parent / relative.name).as_posix())
    raw = capture_stream(raw, meta)
    data: Any = None
    if not raw.lstrip().startswith(_SSE_START):
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            notes.append(f"{label}: neither JSON nor an SSE stream; skipped")
            return []
    surface = surface_of(raw, data)
    if surface != OPENAI:
        notes.append(f"{label}: {surface} recording; not read here, skipped")
        return []
    if data is None:
        return [Recording(path, label, Kind.STREAM, raw, meta=meta, chunks=sse_chunks(raw))]
    if is_capture_wrapper(data):
        return capture_exchanges(path, label, data, meta)
    kind = kind_of(data)
    if kind is None:
        notes.append(f"{label}: not a request, an answer or an error body; skipped")
        return []
    return [Recording(path, label, kind, raw, data, meta)]


# -- the two surfaces -------------------------------------------------------------------------------
OPENAI = "OpenAI-compatible surface"
ANTHROPIC = "Anthropic Messages surface"
_ANTHROPIC_TYPES = ("message", "message_start", "error")


def surface_of(raw: bytes, data: Any) -> str:
    """Which API a recording is of: an Anthropic Messages body (`type`), stream (`event:
    message_start`) or capture wrapper (`protocol`), else the OpenAI-compatible one."""
    if data is None:
        first = raw.lstrip()[:200]
        return ANTHROPIC if first.startswith(b"event:") and b"message_start" in first else OPENAI
    if isinstance(data, dict):
        if data.get("protocol") == "anthropic":
            return ANTHROPIC
        if data.get("type") in _ANTHROPIC_TYPES and "choices" not in data:
            return ANTHROPIC
    return OPENAI


# -- capture layouts ----------------------------------------------------------------------------------
_WRAPPER_KEYS = {"protocol", "scenario", "model", "request"}


def is_capture_wrapper(data: Any) -> bool:
    """The CloseClaw capture layout: `{protocol, streaming, scenario, model, request, response |
    rounds | turns, tools_sent?, system_sent?, max_tokens_sent?, extra_body_sent?}`."""
    return isinstance(data, dict) and data.keys() >= _WRAPPER_KEYS and isinstance(data["request"], dict)


_ACTUAL_MODEL = re.compile(r'actual request model was "([^"]+)"')
_KEY_SENT = re.compile(r'sent with (?:invalid key|x-api-key) "([^"]+)"')


def _caveat(meta: dict[str, Any], pattern: re.Pattern[str]) -> str | None:
    for caveat in meta.get("caveats") or ():
        match = pattern.search(caveat) if isinstance(caveat, str) else None
        if match:
            return match.group(1)
    return None


def capture_key(meta: dict[str, Any]) -> str | None:
    """The placeholder key an error scenario sent (INDEX.jsonl: `sent with invalid key "..."`)."""
    return _caveat(meta, _KEY_SENT)


def capture_request(wrapper: dict[str, Any], messages: list[Any] | None = None,
                    meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The request as it went on the wire: the wrapper's `request` omits what the script sent
    beside it (`tools_sent`, `system_sent`, `max_tokens_sent`), so those are put back, and shows
    the nominal model where INDEX.jsonl says another was sent (`actual request model was`).
    `extra_body_sent` is left out: the script posted it as a literal `extra_body` key, which the
    server ignored, so it changed nothing in the answer (no thinking or tool_stream applied)."""
    request = dict(wrapper["request"])
    if meta is not None and (model := _caveat(meta, _ACTUAL_MODEL)) is not None:
        request["model"] = model
    if messages is not None:
        request["messages"] = messages
    if wrapper.get("tools_sent"):
        request["tools"] = wrapper["tools_sent"]
    if wrapper.get("system_sent") and isinstance(request.get("messages"), list):
        request["messages"] = [{"role": "system", "content": wrapper["system_sent"]},
                               *request["messages"]]
    if wrapper.get("max_tokens_sent") is not None:
        request["max_tokens"] = wrapper["max_tokens_sent"]
    if wrapper.get("streaming"):
        request["stream"] = True
    return request


def capture_exchanges(path: Path, label: str, wrapper: dict[str, Any],
                      meta: dict[str, Any]) -> list[Recording]:
    """A wrapper's requests and answers, paired within the file: one exchange; one per repeat of
    the same request (`response` a list, the cache scenario); one per round of a tool-result
    conversation (`rounds`, each with its `request_messages` and `response`)."""
    response = wrapper.get("response")
    rounds = [r for r in wrapper.get("rounds") or () if isinstance(r, dict)]
    if rounds:
        parts = [(f"#round{r.get('round', i + 1)}", capture_request(wrapper, r.get("request_messages"), meta),
                  r.get("response")) for i, r in enumerate(rounds)]
    elif isinstance(response, list):
        parts = [(f"#{i + 1}", capture_request(wrapper, None, meta), answer) for i, answer in enumerate(response)]
    else:
        parts = [("", capture_request(wrapper, None, meta), response)]
    found: list[Recording] = []
    for suffix, request, answer in parts:
        pair = label + suffix
        raw_request = json.dumps(request, ensure_ascii=False).encode()
        found.append(Recording(path, pair, Kind.REQUEST, raw_request, request, meta, pair=pair))
        found.append(_capture_answer(path, pair, answer, meta))
    return found


def _capture_answer(path: Path, label: str, answer: Any, meta: dict[str, Any]) -> Recording:
    """An answer, or the script's error record `{"error": true, "http_code": N, "reason", "body"}`."""
    meta = {k: v for k, v in meta.items() if k not in ("http_status", "status")}
    if isinstance(answer, dict) and answer.get("error") is True:
        body = answer.get("body")
        meta["http_status"] = answer.get("http_code")
        kind = kind_of(body) or Kind.ERROR
        return Recording(path, label, kind, json.dumps(body, ensure_ascii=False).encode(), body, meta,
                         pair=label)
    meta["http_status"] = 200
    kind = kind_of(answer) or Kind.COMPLETION
    return Recording(path, label, kind, json.dumps(answer, ensure_ascii=False).encode(), answer, meta,
                     pair=label)


_REPR_START = b"{'_raw': "
_MAX_REPR_BYTES = 16 * 1024 * 1024


def capture_stream(raw: bytes, meta: dict[str, Any]) -> bytes:
    """A stream as the server sent it, from the text a capture script wrote: unwrapped where it
    is a Python repr `{'_raw': '<sse>'}`, and without the `data: [DONE]` line the script appended
    where the folder's INDEX.jsonl says it did (its caveat names the appended line). Anything
    else is returned as it is."""
    if raw.startswith(_REPR_START) and len(raw) <= _MAX_REPR_BYTES:
        try:
            value = ast.literal_eval(raw.decode("utf-8"))
        except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError):
            value = None
        if isinstance(value, dict) and isinstance(value.get("_raw"), str):
            raw = value["_raw"].encode("utf-8")
    if _script_appended_done(meta) and raw.lstrip().startswith(_SSE_START):
        stripped = raw.rstrip()
        if stripped.endswith(b"data: [DONE]"):
            raw = stripped[: -len(b"data: [DONE]")].rstrip(b"\n") + b"\n\n"
    return raw


def _script_appended_done(meta: dict[str, Any]) -> bool:
    caveats = meta.get("caveats")
    return isinstance(caveats, list) and any(
        isinstance(c, str) and "APPENDED" in c and "[DONE]" in c for c in caveats)


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
