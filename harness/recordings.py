"""Folders of recorded traffic, read by what each file holds rather than by what it is called.

A recording is a request, a JSON answer, a raw SSE stream or an error body (whole, or the inner
object a client surfaced). An answer is paired with the request beside it: the file in the same
folder whose name is the answer's less `response`/`request` (`x.request.json` with
`x.response.sse`). `INDEX.jsonl` in a folder, where present, adds what a file cannot say about
itself (the HTTP status, the date, the endpoint, and a capture's caveats: the model and the key
actually sent, a `data: [DONE]` the capture script appended); nothing else depends on a file's name.

Both surfaces are read: chat completions and the Anthropic-compatible Messages API (a `message`
answer, an `event:` stream, GLM's and Anthropic's error envelopes), each recording saying which
surface it belongs to (`Recording.surface`) and which contract model holds each of its documents
(`documents`). A capture script's wrapper (`{protocol, streaming, scenario, model, request,
response | rounds | turns, tools_sent?, system_sent?, max_tokens_sent?}`, shared/real-traffic-2026)
is opened into the exchanges it holds, each a request as it went on the wire and its answer; a
captured stream kept as a Python literal `{'_raw': '...'}`, or with a `data: [DONE]` line the
script appended (where INDEX.jsonl says so), is read as the server sent it, and what was undone
is said (`Recording.artifacts`).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ._files import read_input
from ._jsonload import JSONTooComplex, loads
from .errors import UsageError
from .surface import Surface

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
    MESSAGE = "message"  # a Messages API answer (the Anthropic-compatible surface)

    @property
    def is_answer(self) -> bool:
        return self in (Kind.COMPLETION, Kind.STREAM, Kind.ERROR, Kind.INNER_ERROR, Kind.MESSAGE)

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
    # Which exchange of a capture wrapper this is ("round2", "2" for a repeat's second); "" for one.
    part: str = ""
    # The surface a capture wrapper declares (`protocol`); None: read from the content.
    declared_surface: Surface | None = None
    # What was undone to read a capture as the server sent it (a Python literal, an appended [DONE]).
    artifacts: list[str] = field(default_factory=list)

    @property
    def pairing_key(self) -> tuple[Path, str]:
        """The folder and the name less its extension and its `request`/`response` role (and,
        inside a capture wrapper, the exchange)."""
        return self.path.parent, _without_role(self.path.name) + (f"#{self.part}" if self.part else "")

    @property
    def surface(self) -> Surface:
        """Which API the recording belongs to: as its wrapper declares, else by its content."""
        if self.declared_surface is not None:
            return self.declared_surface
        return surface_of_document(self.kind, self.data, self.chunks)

    @property
    def model(self) -> str | None:
        for source in (self.data, *self.chunks):
            if isinstance(source, dict) and source.get("type") == "message_start":
                source = source.get("message")
            if isinstance(source, dict) and isinstance(source.get("model"), str):
                return str(source["model"])
        model = self.meta.get("model")  # an error body's, from its wrapper or INDEX.jsonl
        return model if isinstance(model, str) else None

    @property
    def era(self) -> str | None:
        """2026 answers carry `object`; 2025 ones never do. Requests and errors say nothing. On the
        Messages surface only an error body tells: GLM's own envelope is the older API's (the
        twin's 2025 profile; recorded until mid-2026), Anthropic's envelope the 2026 one."""
        if self.surface is Surface.ANTHROPIC:
            if self.kind is not Kind.ERROR or not isinstance(self.data, dict) or self.error_code is None:
                return None
            return ERA_2026 if self.data.get("type") == "error" else ERA_2025
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
class RecordedExchange:
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
    """Every recording a file holds: one, or a capture wrapper's requests and answers."""
    raw = read_input(path)
    meta = index_entry(path, base)
    relative = path.relative_to(base) if path != base else Path(path.name)
    label = _without_role((relative.parent / relative.name).as_posix())
    raw, artifacts = undo_capture(raw, meta)
    if raw.lstrip().startswith(_SSE_START):
        return [Recording(path, label, Kind.STREAM, raw, meta=meta, chunks=sse_chunks(raw), artifacts=artifacts)]
    try:
        data = loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        notes.append(f"{label}: neither JSON nor an SSE stream; skipped")
        return []
    except JSONTooComplex as error:
        notes.append(f"{label}: {error}; skipped")
        return []
    if is_capture_wrapper(data):
        return capture_recordings(path, label, data, meta)
    kind = kind_of(data)
    if kind is None:
        notes.append(f"{label}: not a request, an answer or an error body; skipped")
        return []
    return [Recording(path, label, kind, raw, data, meta)]


# -- what a capture script did to a stream ----------------------------------------------------------
_RAW_CAPTURE = b"{'_raw': "
_DONE = b"data: [DONE]"
MAX_RAW_CAPTURE = 64 * 1024 * 1024


def undo_capture(raw: bytes, meta: Mapping[str, Any] | None = None) -> tuple[bytes, list[str]]:
    """A captured stream as the server sent it, and what was undone: a Python literal
    `{'_raw': '<the stream>'}` opened, and the final `data: [DONE]` line dropped where the
    folder's INDEX.jsonl (`meta`) says the capture script appended it. Without that word a
    `[DONE]` is the server's, and stays for the checks to see. Anything else is returned as it is."""
    artifacts: list[str] = []
    if raw.startswith(_RAW_CAPTURE) and len(raw) <= MAX_RAW_CAPTURE:
        try:
            value = ast.literal_eval(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, SyntaxError, MemoryError, RecursionError):
            value = None
        if isinstance(value, dict) and isinstance(value.get("_raw"), str):
            raw = value["_raw"].encode("utf-8", "surrogateescape")
            artifacts.append("the stream was kept as a Python literal {'_raw': ...}; read as its text")
    if _script_appended_done(meta or {}) and raw.lstrip().startswith(_SSE_START):
        stripped = raw.rstrip()
        if stripped.endswith(_DONE):
            raw = stripped[:-len(_DONE)].rstrip(b"\n") + b"\n\n"
            artifacts.append("a final data: [DONE] line the capture script appended (INDEX.jsonl says so) "
                             "was dropped")
    return raw, artifacts


def _script_appended_done(meta: Mapping[str, Any]) -> bool:
    caveats = meta.get("caveats")
    return isinstance(caveats, list) and any(
        isinstance(c, str) and "APPENDED" in c and "[DONE]" in c for c in caveats)


# -- capture wrappers (shared/real-traffic-2026) ---------------------------------------------------
def is_capture_wrapper(data: Any) -> bool:
    """A capture script's wrapper (the CloseClaw layout): `{protocol, streaming, scenario, model,
    request, response | rounds | turns, tools_sent?, system_sent?, max_tokens_sent?,
    extra_body_sent?}`, the request and what came back, with how it was sent."""
    return (isinstance(data, dict) and {"protocol", "request"} <= data.keys()
            and isinstance(data["request"], dict) and any(k in data for k in ("response", "rounds", "turns")))


_ACTUAL_MODEL = re.compile(r'actual request model was "([^"]+)"')
_KEY_SENT = re.compile(r'sent with (?:invalid key|x-api-key) "([^"]+)"')
_BESIDE = (("max_tokens_sent", "max_tokens"), ("tools_sent", "tools"))


def _caveat(meta: Mapping[str, Any], pattern: re.Pattern[str]) -> str | None:
    for caveat in meta.get("caveats") or ():
        match = pattern.search(caveat) if isinstance(caveat, str) else None
        if match:
            return match.group(1)
    return None


def capture_key(meta: Mapping[str, Any]) -> str | None:
    """The placeholder key an error scenario sent (INDEX.jsonl: `sent with invalid key "..."`)."""
    return _caveat(meta, _KEY_SENT)


def capture_request(wrapper: dict[str, Any], messages: Any = None,
                    meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The request as it went on the wire: the wrapper's `request` omits what the script sent
    beside it (`max_tokens_sent`, `tools_sent`, `system_sent`: a top-level `system` on the
    Messages surface, a first system message on chat completions), so those are put back, with
    a round's own messages when given; and it shows the nominal model where INDEX.jsonl (`meta`)
    says another was sent (`actual request model was`). `extra_body_sent` is left out: the script
    posted it as a literal `extra_body` key, which the server ignored, so it changed nothing in
    the answer (no thinking or tool_stream applied)."""
    request = dict(wrapper["request"]) if isinstance(wrapper.get("request"), dict) else {}
    if meta is not None and (model := _caveat(meta, _ACTUAL_MODEL)) is not None:
        request["model"] = model
    if messages is not None:
        request["messages"] = messages
    for beside, key in _BESIDE:
        if wrapper.get(beside) is not None:
            request.setdefault(key, wrapper[beside])
    system = wrapper.get("system_sent")
    if system is not None:
        if wrapper.get("protocol") == Surface.ANTHROPIC:
            request.setdefault("system", system)
        elif not any(isinstance(m, dict) and m.get("role") == "system" for m in request.get("messages") or ()):
            request["messages"] = [{"role": "system", "content": system}, *(request.get("messages") or ())]
    if wrapper.get("streaming") is True:
        request.setdefault("stream", True)
    return request


def capture_exchanges(wrapper: dict[str, Any],
                      meta: Mapping[str, Any] | None = None) -> list[tuple[str, dict[str, Any], Any]]:
    """(part, request, answer) for each exchange a wrapper holds: each round (or turn) of a
    tool-result conversation with its own messages (`round1`, `round2`), each answer of a
    repeated request (`response` a list, the cache scenario: `1`, `2`), or the one answer (``)."""
    rounds = wrapper.get("rounds") or wrapper.get("turns")
    response = wrapper.get("response")
    if isinstance(rounds, list) and rounds:
        replies: dict[str, Any] = response if isinstance(response, dict) else {}
        out: list[tuple[str, dict[str, Any], Any]] = []
        for n, item in enumerate(rounds, 1):
            item = item if isinstance(item, dict) else {}
            number = item.get("round", item.get("turn", n))
            messages = item.get("request_messages", item.get("messages"))
            answer = item["response"] if "response" in item else replies.get(f"round{number}")
            out.append((f"round{number}", capture_request(wrapper, messages, meta), answer))
        return out
    if isinstance(response, list):
        return [(str(n), capture_request(wrapper, None, meta), answer) for n, answer in enumerate(response, 1)]
    if isinstance(response, dict) and response and all(re.fullmatch(r"round\d+", k) for k in response):
        return [(key, capture_request(wrapper, None, meta), answer) for key, answer in response.items()]
    return [("", capture_request(wrapper, None, meta), response)]


def capture_recordings(path: Path, label: str, wrapper: dict[str, Any], meta: dict[str, Any]) -> list[Recording]:
    """A wrapper's requests and answers, paired within the file (`Recording.part`). An answer is
    what came back: a Message or a completion, a captured stream's text, or the script's error
    record `{"error": true, "http_code": N, "reason", "body"}`, read as its body with that status."""
    surface = Surface(wrapper["protocol"]) if wrapper.get("protocol") in tuple(Surface) else None
    # INDEX.jsonl's status is the file's; each answer of the wrapper says its own
    meta = {k: v for k, v in meta.items() if k not in ("http_status", "status")}
    if isinstance(wrapper.get("model"), str):
        meta["model"] = wrapper["model"]
    found: list[Recording] = []
    for part, request, answer in capture_exchanges(wrapper, meta):
        where = f"{label}#{part}" if part else label
        found.append(Recording(path, where, Kind.REQUEST, _dumps(request), request, meta,
                               part=part, declared_surface=surface))
        if isinstance(answer, dict) and answer.get("error") is True:
            body = answer.get("body")
            found.append(Recording(path, where, kind_of(body) or Kind.ERROR, _dumps(body), body,
                                   {**meta, "http_status": answer.get("http_code")},
                                   part=part, declared_surface=surface))
        elif isinstance(answer, str):
            raw, artifacts = undo_capture(answer.encode("utf-8", "surrogateescape"), meta)
            found.append(Recording(path, where, Kind.STREAM, raw, meta={**meta, "http_status": 200},
                                   chunks=sse_chunks(raw), part=part, declared_surface=surface,
                                   artifacts=artifacts))
        else:
            # an answer of no known shape is still one: validating it says what it lacks
            kind = kind_of(answer) or (Kind.MESSAGE if surface is Surface.ANTHROPIC else Kind.COMPLETION)
            found.append(Recording(path, where, kind, _dumps(answer), answer, {**meta, "http_status": 200},
                                   part=part, declared_surface=surface))
    return found


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def _without_role(name: str) -> str:
    for ending in (".json", ".sse"):
        name = name.removesuffix(ending)
    return _ROLE_SUFFIX.sub("", name)


def kind_of(data: Any) -> Kind | None:
    if not isinstance(data, dict):
        return None
    if "messages" in data:
        return Kind.REQUEST
    if data.get("type") == "message" and "content" in data:
        return Kind.MESSAGE
    if isinstance(data.get("error"), dict):
        return Kind.ERROR
    if "code" in data and "message" in data:
        return Kind.INNER_ERROR
    choices = data.get("choices")
    if isinstance(choices, list):
        first = choices[0] if choices and isinstance(choices[0], dict) else {}
        return Kind.CHUNK if "delta" in first else Kind.COMPLETION
    return None


def surface_of_document(kind: Kind, data: Any, chunks: Iterable[Any] = ()) -> Surface:
    """Which API a document belongs to, by what it holds. Only what the Messages API alone has
    counts for it (a `message`, `event:` stream events, Anthropic's error envelope or the 401 body,
    a request only that API accepts); anything else is read as chat completions."""
    from .contract import STREAM_EVENTS, GLMErrorBody, error_body_model

    if kind is Kind.MESSAGE:
        return Surface.ANTHROPIC
    if kind is Kind.STREAM:
        typed = any(isinstance(c, dict) and c.get("type") in STREAM_EVENTS and "choices" not in c for c in chunks)
        return Surface.ANTHROPIC if typed else Surface.OPENAI
    if kind is Kind.ERROR:
        model = error_body_model(data)
        return Surface.ANTHROPIC if model is not GLMErrorBody else Surface.OPENAI
    if kind is Kind.REQUEST and is_messages_request(data):
        return Surface.ANTHROPIC
    return Surface.OPENAI


def is_messages_request(data: Any) -> bool:
    """A request only the Messages API takes: a top-level `system`, `stop_sequences` or
    `metadata`, tools with an `input_schema`, a `tool_choice` object of its types, thinking with
    a budget or adaptive, or content blocks only it has."""
    if not isinstance(data, dict):
        return False
    if any(key in data for key in ("system", "stop_sequences", "metadata", "top_k")):
        return True
    if any(isinstance(t, dict) and "input_schema" in t for t in data.get("tools") or ()):
        return True
    choice, thinking = data.get("tool_choice"), data.get("thinking")
    if isinstance(choice, dict) and choice.get("type") in ("auto", "any", "tool", "none"):
        return True
    if isinstance(thinking, dict) and ("budget_tokens" in thinking or thinking.get("type") == "adaptive"):
        return True
    contents = [m.get("content") for m in data.get("messages") or () if isinstance(m, dict)]
    blocks = {block.get("type") for content in contents if isinstance(content, list)
              for block in content if isinstance(block, dict)}
    return bool(blocks & {"tool_use", "tool_result", "thinking", "redacted_thinking", "image", "document"})


def documents(recording: Recording) -> list[tuple[type[Any], Any]]:
    """Each document of a recording with the contract model that holds it, by its surface: the
    one place that decides which model validates what (`validate`, `learn`)."""
    from . import contract

    anthropic = recording.surface is Surface.ANTHROPIC
    kind, data = recording.kind, recording.data
    if kind is Kind.REQUEST:
        return [(contract.MessagesRequest if anthropic else contract.ChatCompletionRequest, data)]
    if kind is Kind.MESSAGE:
        return [(contract.MessagesAnswer, data)]
    if kind is Kind.COMPLETION:
        return [(contract.ChatCompletion, data)]
    if kind is Kind.CHUNK:
        return [(contract.ChatCompletionChunk, data)]
    if kind is Kind.STREAM:
        if anthropic:
            return [(contract.STREAM_EVENTS[c["type"]], c) for c in recording.chunks
                    if isinstance(c, dict) and c.get("type") in contract.STREAM_EVENTS]
        return [(contract.ChatCompletionChunk, c) for c in recording.chunks if isinstance(c, dict)]
    body = recording.error_body()
    return [(contract.error_body_model(body), body)]


def exchanges(recordings: list[Recording]) -> Iterator[RecordedExchange]:
    """Each answer with the request beside it (or None)."""
    requests = {r.pairing_key: r for r in recordings if r.kind is Kind.REQUEST}
    for recording in recordings:
        if recording.kind.is_answer:
            yield RecordedExchange(recording, requests.get(recording.pairing_key))


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
