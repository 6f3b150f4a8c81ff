"""Drift: do the twin's answers still have the shapes of the real API's recorded answers?

For every recorded exchange (a real request with the real answer) the same request is sent to
the twin, in-process, and the *shapes* of the two answers are compared, never their values:

- a JSON body: every field path (arrays as `[]`) with the JSON types seen there, `null` included;
- a stream: the order of chunk kinds (`reasoning`, `content`, `tool_calls`, `final`, collapsed
  runs, a leading whitespace-only `blank` chunk noted apart), which fields each kind carries,
  which kinds carry a `finish_reason`, where `usage` comes and with which fields, `[DONE]`;
- an error: the body's fields and types (the code's type above all) and the HTTP status, per
  business code, with the twin made to produce the same code.

On the Messages surface (the Anthropic-compatible API) a stream's shape is the order of its
events (blocks and deltas by their types, runs collapsed), the fields of each kind of event, which
events carry `usage` and with which fields, and `[DONE]`; the request goes to the twin's
`/api/anthropic/v1/messages`.

Recordings are read from any folder by what they hold (`harness.recordings`), and each answer is
compared with the twin speaking the same era of the API (a 2026 answer carries `object`), unless
`--profile` says which. Differences that are real but accepted are listed, each with its reason, in
`fixtures/drift/known-differences.json`, keyed by behaviour (aspect, field path, model, era), never
by file name; anything else is drift, and `glm-harness drift` exits 1. An entry that matches
nothing is reported, so a stale one does not linger.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._files import read_input
from ._resources import fixtures_dir
from .errors import UsageError
from .message_stream import assemble_message, read_message_stream
from .recordings import Kind, RecordedExchange, Recording, capture_key, exchanges, scan, sse_chunks
from .sse import decode_all
from .stream import EventKind, read_stream
from .surface import Surface

DEFAULT_KNOWN = fixtures_dir() / "drift" / "known-differences.json"
DEFAULT_TRANSCRIPTS = fixtures_dir() / "transcripts"
RECORDINGS_ENV = "GLM_HARNESS_REAL_TRAFFIC"
VENDORED_RECORDINGS = fixtures_dir() / "real"  # a copy of shared/real-traffic, with provenance; ships with the package
# the Messages surface's recordings of shared/real-traffic-2026, vendored the same way
VENDORED_MESSAGES_RECORDINGS = fixtures_dir() / "real-2026"

ABSENT = "absent"
Shape = dict[str, frozenset[str]]


# -- shapes of JSON values ------------------------------------------------------------------------
def json_type(value: Any) -> str:
    """The JSON type of a parsed value; integers and other numbers kept apart."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def json_shape(value: Any, path: str = "$") -> Shape:
    """Every field path in `value` (array items as `[]`) with the set of JSON types seen there."""
    found: dict[str, set[str]] = {}
    _collect(value, path, found)
    return {p: frozenset(t) for p, t in found.items()}


def _collect(value: Any, path: str, found: dict[str, set[str]]) -> None:
    found.setdefault(path, set()).add(json_type(value))
    if isinstance(value, dict):
        for key, item in value.items():
            _collect(item, f"{path}.{key}", found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, f"{path}[]", found)


def _merge(into: dict[str, set[str]], shape: Mapping[str, Iterable[str]]) -> None:
    for path, types in shape.items():
        into.setdefault(path, set()).update(types)


def _types(types: Iterable[str] | None) -> str:
    return "|".join(sorted(types)) if types else ABSENT


# -- shapes of streams ----------------------------------------------------------------------------
KINDS = ("blank", "reasoning", "content", "tool_calls", "final", "usage", "empty", "malformed")


@dataclass(frozen=True)
class StreamShape:
    """What a stream looks like, values aside. `order` leaves out a leading blank chunk."""

    order: tuple[str, ...]
    leading_blank: bool
    fields: dict[str, Shape]
    finish_reason: dict[str, frozenset[str]]
    usage_at: str
    usage_fields: Shape
    done: str
    framing: tuple[str, ...] = ()

    def describe_order(self) -> str:
        return " > ".join(self.order) or "(no chunks)"


def stream_shape(raw: bytes) -> StreamShape:
    """The shape of a raw SSE body (as recorded, or as the twin sent it), read by harness.stream."""
    events, violations = decode_all(raw)
    stream = read_stream(events)
    done = "missing"
    if events and events[-1].is_done:
        done = "last"
    elif any(e.is_done for e in events):
        done = "not last"
    fields: dict[str, dict[str, set[str]]] = {}
    finish: dict[str, set[str]] = {}
    usage_fields: dict[str, set[str]] = {}
    usage_positions: list[int] = []
    for event in stream.events:
        if not isinstance(event.data, dict):
            continue
        shape = json_shape(event.data)
        _merge(fields.setdefault(event.kind, {}),
               {p: t for p, t in shape.items() if not _is_finish_or_usage(p)})
        _merge(usage_fields, {p: t for p, t in shape.items() if p.startswith("$.usage")})
        if "usage" in event.data:
            usage_positions.append(event.n)
        for choice in event.data.get("choices") or ():
            if isinstance(choice, dict) and "finish_reason" in choice:
                finish.setdefault(event.kind, set()).add(json_type(choice["finish_reason"]))
    kinds = [e.kind for e in stream.events]
    order = tuple(str(k) for k, _ in itertools.groupby(k for k in kinds if k is not EventKind.BLANK))
    return StreamShape(
        order=order,
        leading_blank=bool(kinds) and kinds[0] is EventKind.BLANK,
        fields={str(k): {p: frozenset(t) for p, t in v.items()} for k, v in fields.items()},
        finish_reason={str(k): frozenset(v) for k, v in finish.items()},
        usage_at=_usage_at(usage_positions, len(stream.events)),
        usage_fields={p: frozenset(t) for p, t in usage_fields.items()},
        done=done,
        framing=tuple(sorted({v.kind for v in violations})),
    )


def _is_finish_or_usage(path: str) -> bool:
    return path.startswith("$.usage") or path == "$.choices[].finish_reason"


def _usage_at(positions: list[int], n: int) -> str:
    if not positions:
        return ABSENT
    if len(positions) > 1:
        return "several chunks"
    return "last chunk" if positions[0] == n - 1 else "before the last chunk"


# -- shapes of Messages streams -------------------------------------------------------------------
@dataclass(frozen=True)
class MessageStreamShape:
    """What a Messages stream looks like, values aside: the order of its event kinds (a block
    start by its block's type, a delta by its type, runs collapsed), each kind's fields, which
    kinds carry usage and with which fields."""

    order: tuple[str, ...]
    fields: dict[str, Shape]
    usage_fields: dict[str, Shape]
    done: str
    framing: tuple[str, ...] = ()

    def describe_order(self) -> str:
        return " > ".join(self.order) or "(no events)"

    @property
    def usage_at(self) -> str:
        return ", ".join(self.usage_fields) or ABSENT


def message_stream_shape(raw: bytes) -> MessageStreamShape:
    events, violations = decode_all(raw)
    stream = read_message_stream(events)
    kinds: list[str] = []
    fields: dict[str, dict[str, set[str]]] = {}
    usage_fields: dict[str, dict[str, set[str]]] = {}
    for event in stream.events:
        kind = _event_kind(event.type, event.data, event.delta_type) if not event.malformed else "malformed"
        kinds.append(kind)
        if not isinstance(event.data, dict):
            continue
        shape = json_shape(event.data)
        _merge(fields.setdefault(kind, {}), {p: t for p, t in shape.items() if ".usage" not in p})
        usage = {p: t for p, t in shape.items() if ".usage" in p}
        if usage:
            _merge(usage_fields.setdefault(str(event.type), {}), usage)
    done = "missing" if not stream.done else "last" if events and events[-1].is_done else "not last"
    return MessageStreamShape(
        order=tuple(k for k, _ in itertools.groupby(kinds)),
        fields={k: {p: frozenset(t) for p, t in v.items()} for k, v in fields.items()},
        usage_fields={k: {p: frozenset(t) for p, t in v.items()} for k, v in usage_fields.items()},
        done=done,
        framing=tuple(sorted({v.kind for v in violations})),
    )


def _event_kind(kind: str | None, data: Any, delta_type: str | None) -> str:
    if kind == "content_block_start" and isinstance(data, dict):
        block = data.get("content_block")
        return f"{kind}({block.get('type') if isinstance(block, dict) else '?'})"
    if kind == "content_block_delta":
        return f"{kind}({delta_type})"
    return str(kind)


def diff_message_streams(recording: str, recorded: MessageStreamShape, twin: MessageStreamShape) -> list[Difference]:
    out: list[Difference] = []

    def add(aspect: str, path: str, mine: str, theirs: str) -> None:
        if mine != theirs:
            out.append(Difference(recording, aspect, path, mine, theirs))

    add("event_order", "stream", recorded.describe_order(), twin.describe_order())
    for kind in sorted(set(recorded.fields) & set(twin.fields)):
        out += diff_shapes(recording, f"{kind}_event_fields", recorded.fields[kind], twin.fields[kind])
    add("usage", "events carrying it", recorded.usage_at, twin.usage_at)
    for kind in sorted(set(recorded.usage_fields) & set(twin.usage_fields)):
        out += diff_shapes(recording, f"{kind}_usage_fields", recorded.usage_fields[kind], twin.usage_fields[kind])
    add("done", "[DONE]", recorded.done, twin.done)
    add("sse_framing", "violations", ", ".join(recorded.framing) or "none", ", ".join(twin.framing) or "none")
    return out


# -- differences ----------------------------------------------------------------------------------
ANY_ERA = "any"


@dataclass
class Difference:
    """One way the twin's answer differs from the recorded one, for one recording."""

    recording: str
    aspect: str
    path: str
    recorded: str
    twin: str
    known: bool = False
    reason: str = ""
    model: str = ""
    era: str = ANY_ERA

    @property
    def where(self) -> str:
        return f"{self.recording} {self.aspect} {self.path}"

    def __str__(self) -> str:
        mark = "known" if self.known else "DRIFT"
        text = f"{mark}: {self.where} [{self.model or '?'}, {self.era}]: recorded {self.recorded}; twin {self.twin}"
        return text + (f" ({self.reason})" if self.reason else "")


def glob_match(value: str, pattern: str) -> bool:
    """`*` is any text and `?` one character; everything else, brackets included, is literal
    (paths like `$.choices[].delta` and `chunk[0]` are matched as written)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


@dataclass(frozen=True)
class KnownDifference:
    """An accepted difference, by what differs: never by the name of a file."""

    aspect: str
    path: str
    reason: str
    model: str = "*"
    era: str = "*"
    recorded: str = "*"
    twin: str = "*"

    def matches(self, d: Difference) -> bool:
        return all(glob_match(value, pattern) for value, pattern in (
            (d.aspect, self.aspect), (d.path, self.path), (d.model, self.model), (d.era, self.era),
            (d.recorded, self.recorded), (d.twin, self.twin)))

    def __str__(self) -> str:
        return f"{self.aspect} {self.path} [model {self.model}, era {self.era}]"


@dataclass
class DriftReport:
    differences: list[Difference] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unused_known: list[KnownDifference] = field(default_factory=list)
    # (model, era) of every recording compared: an entry is stale only where it could have matched.
    seen: set[tuple[str, str]] = field(default_factory=set)

    @property
    def unknown(self) -> list[Difference]:
        return [d for d in self.differences if not d.known]

    @property
    def ok(self) -> bool:
        return not self.unknown


def diff_shapes(recording: str, aspect: str, recorded: Shape, twin: Shape) -> list[Difference]:
    """Field-by-field: a path on one side only, or with other types. Below a path that is absent
    on one side, nothing more is said (its children are absent too, by definition)."""
    out: list[Difference] = []
    missing_roots: list[str] = []
    for path in sorted(set(recorded) | set(twin), key=_path_key):
        if any(_under(path, root) for root in missing_roots):
            continue
        mine, theirs = recorded.get(path), twin.get(path)
        if mine == theirs:
            continue
        if mine is None or theirs is None:
            missing_roots.append(path)
        out.append(Difference(recording, aspect, path, _types(mine), _types(theirs)))
    return out


def _path_key(path: str) -> tuple[int, str]:
    return path.count(".") + path.count("[]"), path


def _under(path: str, root: str) -> bool:
    return path.startswith(root) and path[len(root):len(root) + 1] in (".", "[")


def diff_streams(recording: str, recorded: StreamShape, twin: StreamShape) -> list[Difference]:
    out: list[Difference] = []

    def add(aspect: str, path: str, mine: str, theirs: str) -> None:
        if mine != theirs:
            out.append(Difference(recording, aspect, path, mine, theirs))

    add("chunk_order", "stream", recorded.describe_order(), twin.describe_order())
    add("leading_blank", "chunk[0]", _yes(recorded.leading_blank), _yes(twin.leading_blank))
    for kind in [k for k in KINDS if k in recorded.fields or k in twin.fields]:
        if kind in recorded.fields and kind in twin.fields:
            out += diff_shapes(recording, f"{kind}_chunk_fields", recorded.fields[kind], twin.fields[kind])
    add("finish_reason", "chunks carrying it", _finish(recorded.finish_reason), _finish(twin.finish_reason))
    add("usage", "position", recorded.usage_at, twin.usage_at)
    if recorded.usage_fields and twin.usage_fields:
        out += diff_shapes(recording, "usage_fields", recorded.usage_fields, twin.usage_fields)
    add("done", "[DONE]", recorded.done, twin.done)
    add("sse_framing", "violations", ", ".join(recorded.framing) or "none", ", ".join(twin.framing) or "none")
    return out


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _finish(by_kind: Mapping[str, frozenset[str]]) -> str:
    parts = [f"{k}:{_types(by_kind[k])}" for k in KINDS if k in by_kind]
    return ", ".join(parts) or ABSENT




# -- known differences ----------------------------------------------------------------------------
_KNOWN_FIELDS = {"aspect", "path", "reason", "model", "era", "recorded", "twin"}


def load_known(path: Path | None) -> list[KnownDifference]:
    if path is None or not path.exists():
        return []
    try:
        data = json.loads(read_input(path))
        entries = data["differences"] if isinstance(data, dict) else data
        return [_known_entry(e) for e in entries]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UsageError(f"cannot read the known differences in {path}: {error}") from None


def _known_entry(entry: dict[str, Any]) -> KnownDifference:
    if "recording" in entry:
        raise ValueError("entries are keyed by behaviour (aspect, path, model, era), not by "
                         f"recording name: drop 'recording' from {entry}")
    unknown = set(entry) - _KNOWN_FIELDS
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)} in {entry}")
    return KnownDifference(**entry)


def _classify(differences: list[Difference], known: list[KnownDifference]) -> list[KnownDifference]:
    used: set[int] = set()
    for d in differences:
        for i, entry in enumerate(known):
            if entry.matches(d):
                d.known, d.reason = True, entry.reason
                used.add(i)
                break
    return [entry for i, entry in enumerate(known) if i not in used]


# -- the twin, in-process ------------------------------------------------------------------------
@dataclass
class TwinResponse:
    """What came back: status, content type, body bytes (JSON or raw SSE)."""

    status: int | None
    content_type: str
    body: bytes
    transport_error: str | None = None


class _Twin:
    """Sends requests to a fresh in-process twin (respx router, no sockets)."""

    def __enter__(self) -> _Twin:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def send(self, body: Mapping[str, Any] | bytes, *, model: str | None = None,
             key: str | bool | None = True, config: Any = None, times: int = 1,
             profile: str | None = None, surface: Surface = Surface.OPENAI,
             base_path: str | None = None) -> TwinResponse:
        """`key`: True for the twin's key, None for no Authorization header, or a key string.
        The request is sent `times` times (to reach a rate limit); the last answer counts.
        `surface`: the API it goes to (the Messages API at `/api/anthropic/v1/messages`);
        `base_path`: the recorded endpoint's (the Coding Plan's, say), where the twin serves it."""
        import dataclasses

        import httpx

        from .client import GLMClient
        from .contract import DEFAULT_MODEL
        from .mock import GLMTwin, TwinConfig, twin_router
        from .targets import MOCK_BASE_URL, Secret, mock_target

        twin = GLMTwin(config or TwinConfig(), profile=profile)
        target = mock_target(model or (body.get("model") if isinstance(body, Mapping) else None)
                             or DEFAULT_MODEL)
        if key is not True:
            target = dataclasses.replace(target, api_key=Secret(key) if isinstance(key, str) else None)
        path = None
        if surface is Surface.ANTHROPIC:
            host = str(httpx.URL(MOCK_BASE_URL).copy_with(path="/"))
            target = dataclasses.replace(target, base_url=host.rstrip("/") + surface.base_paths[0])
            path = surface.endpoint
        elif base_path is not None and base_path in twin.config.base_paths:
            target = dataclasses.replace(target, base_url=MOCK_BASE_URL.split("/api/")[0] + base_path)
        with twin_router(twin, base_url=MOCK_BASE_URL), GLMClient(target) as client:
            for _ in range(times):
                exchange = client.send(body, path)
        error = exchange.transport_error
        return TwinResponse(exchange.status, exchange.content_type, exchange.body, str(error) if error else None)


# -- comparing one recording ----------------------------------------------------------------------
@dataclass
class _Case:
    """One recorded answer to compare, with the request to send the twin."""

    label: str
    answer: Recording
    request: dict[str, Any] | None
    model: str
    era: str


# Errors a request's body causes: the twin is sent that body. Any other (the key, a quota, a rate
# limit) is provoked by its recipe (_twin_error_recipes), whatever body was recorded beside it.
_CAUSED_BY_THE_BODY = frozenset({"1210", "1211", "1212", "1213", "1214", "1261"})


def _case(exchange: RecordedExchange, notes: list[str]) -> _Case:
    answer = exchange.answer
    request = dict(exchange.request.data) if exchange.request is not None else None
    if answer.kind.is_error and answer.error_code not in _CAUSED_BY_THE_BODY:
        request = None
    if request is None and not answer.kind.is_error:
        request = standin_request(answer, notes)
    return _Case(answer.label, answer, request, exchange.model or "", answer.era or ANY_ERA)


def _compare(case: _Case, twin: _Twin, profile: str | None, notes: list[str]) -> list[Difference]:
    era = profile or (case.era if case.era != ANY_ERA else None)
    if case.request is None:
        found = _compare_error(case, twin, era, notes)
    else:
        found = _compare_exchange(case, twin, era, notes)
    for d in found:
        d.model, d.era = case.model, case.era
    return found


def _base_path(recording: Recording) -> str | None:
    """The recorded endpoint's base path (INDEX.jsonl `endpoint`), e.g. `/api/coding/paas/v4`."""
    endpoint = recording.meta.get("endpoint")
    if not isinstance(endpoint, str):
        return None
    path = "/" + endpoint.split("://", 1)[-1].partition("/")[2]
    return path.removesuffix("/").removesuffix("/chat/completions")


def _compare_exchange(case: _Case, twin: _Twin, era: str | None, notes: list[str]) -> list[Difference]:
    assert case.request is not None
    mine = twin.send(case.request, profile=era, surface=case.answer.surface, base_path=_base_path(case.answer))
    recorded = case.answer
    out: list[Difference] = []
    if mine.transport_error:
        return [Difference(case.label, "transport", "exchange", "completed", mine.transport_error)]
    status = recorded.status
    if status is None:
        notes.append(f"{case.label}: HTTP status not recorded; status not compared")
    elif status != mine.status:
        return [Difference(case.label, "status", "HTTP status", str(status),
                           f"{mine.status} {mine.body[:160].decode('utf-8', 'replace')}")]
    content_type = str(recorded.meta.get("content_type") or "")
    if content_type and _media(content_type) != _media(mine.content_type):
        out.append(Difference(case.label, "content_type", "Content-Type", content_type, mine.content_type))
    if recorded.kind.is_error:
        out += _error_differences(case.label, recorded, mine)
    elif recorded.kind is Kind.STREAM and recorded.surface is Surface.ANTHROPIC:
        out += diff_message_streams(case.label, message_stream_shape(recorded.raw), message_stream_shape(mine.body))
    elif recorded.kind is Kind.STREAM:
        out += diff_streams(case.label, stream_shape(recorded.raw), stream_shape(mine.body))
    else:
        out += diff_shapes(case.label, "body", _json_shape_of(recorded.raw), _json_shape_of(mine.body))
    return out


def _media(content_type: str) -> str:
    """`text/event-stream;charset=UTF-8` and `text/event-stream; charset=utf-8` are one thing."""
    return re.sub(r"\s+", "", content_type).lower()


def _json_shape_of(raw: bytes) -> Shape:
    try:
        return json_shape(json.loads(raw))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"$": frozenset({"not JSON"})}


def standin_request(answer: Recording, notes: list[str]) -> dict[str, Any]:
    """A request that makes the twin answer like `answer`, for an answer recorded without its
    request: the same model (or the nearest one with a card), stream or not, the same tools
    called with arguments of the same types, thinking as the answer shows it."""
    from .contract import DEFAULT_MODEL, MODEL_CARDS

    if answer.surface is Surface.ANTHROPIC:
        return _messages_standin(answer)
    model = answer.model or DEFAULT_MODEL
    if model not in MODEL_CARDS:
        nearest = max((name for name in MODEL_CARDS if model.startswith(name)), key=len, default=DEFAULT_MODEL)
        notes.append(f"{answer.label}: the twin has no card for {model}; compared with its {nearest}")
        model = nearest
    messages, calls, reasoning = _answer_parts(answer)
    request: dict[str, Any] = {"model": model, "stream": answer.kind is Kind.STREAM,
                               "messages": [{"role": "user", "content": messages}]}
    if calls:
        request["tools"] = [_tool_for(name, arguments) for name, arguments in calls.items()]
        if len(calls) == 1:
            request["tool_choice"] = {"type": "function", "function": {"name": next(iter(calls))}}
    if not reasoning and MODEL_CARDS[model].accepts_thinking_disabled():
        request["thinking"] = {"type": "disabled"}
    return request


def _messages_standin(answer: Recording) -> dict[str, Any]:
    """The Messages request for a Messages answer recorded alone: the model it names (the twin
    reads an unknown one as the generic card), the tools it used, forced when there is one."""
    message = (assemble_message(read_message_stream(decode_all(answer.raw)[0])).message
               if answer.kind is Kind.STREAM else answer.data if isinstance(answer.data, dict) else {})
    uses = [b for b in message.get("content") or () if isinstance(b, dict) and b.get("type") == "tool_use"]
    calls = {str(b.get("name")): json.dumps(b.get("input") or {}) for b in uses}
    prompt = ("Please use " + " and ".join(calls) + ".") if calls else "Say hello in one sentence."
    request: dict[str, Any] = {"model": answer.model or "glm-4.6", "max_tokens": 1024,
                               "stream": answer.kind is Kind.STREAM,
                               "messages": [{"role": "user", "content": prompt}]}
    if calls:
        tools = [_tool_for(name, arguments)["function"] for name, arguments in calls.items()]
        request["tools"] = [{"name": t["name"], "input_schema": t["parameters"]} for t in tools]
        if len(calls) == 1:
            request["tool_choice"] = {"type": "tool", "name": next(iter(calls))}
    return request


def _answer_parts(answer: Recording) -> tuple[str, dict[str, str], bool]:
    """A prompt naming the tools the answer called, those calls' arguments, and whether it
    reasoned."""
    if answer.kind is Kind.STREAM:
        deltas = [c["choices"][0].get("delta") or {} for c in answer.chunks
                  if isinstance(c, dict) and c.get("choices")]
    else:
        deltas = [c.get("message") or {} for c in answer.data.get("choices") or ()]
    calls: dict[str, str] = {}
    for delta in deltas:
        for call in delta.get("tool_calls") or ():
            function = call.get("function") or {}
            if function.get("name"):
                calls.setdefault(function["name"], function.get("arguments") or "{}")
    reasoning = any(d.get("reasoning_content") for d in deltas)
    prompt = ("Please use " + " and ".join(calls) + ".") if calls else "Say hello in one sentence."
    return prompt, calls, reasoning


def _tool_for(name: str, arguments: str) -> dict[str, Any]:
    try:
        values = json.loads(arguments)
    except json.JSONDecodeError:
        values = {}
    values = values if isinstance(values, dict) else {}
    kinds = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array", dict: "object"}
    properties = {k: {"type": kinds.get(type(v), "string")} for k, v in values.items()}
    return {"type": "function", "function": {
        "name": name, "parameters": {"type": "object", "properties": properties, "required": list(properties)}}}


# -- recorded errors ------------------------------------------------------------------------------
_UNKNOWN_KEY = "00000000000000000000000000000000.glmHarnessNoSuchKey"


def _twin_error_recipes() -> dict[str, dict[str, Any]]:
    """How to make the twin answer each business code: the body (model glm-4.6 unless it says),
    the key (True: the twin's own; None: no Authorization header), a config, how many sends."""
    from .mock import EMPTY_BALANCE_KEY, EXPIRED_KEY, Fault, FaultSpec, Limits, TwinConfig

    hello = {"messages": [{"role": "user", "content": "Say hi"}]}

    def fault(name: Fault) -> dict[str, Any]:
        return {"body": hello, "config": TwinConfig(faults=(FaultSpec(name),))}

    return {
        # the Coding Plan endpoint's 401, and the Messages surface's (which has no code)
        "401": {"body": hello, "key": "invalid_key_xxx"},
        "1000": {"body": hello, "key": _UNKNOWN_KEY},
        "1001": {"body": hello, "key": None},
        "1002": {"body": hello, "key": "not-a-key"},
        "1003": {"body": hello, "key": EXPIRED_KEY},
        "1113": {"body": hello, "key": EMPTY_BALANCE_KEY},
        "1210": {"body": {**hello, "model": "glm-4.7-flash", "max_tokens": 99999999}},
        "1211": {"body": {**hello, "model": "glm-nonexistent"}},
        "1214": {"body": {"messages": []}},
        "1261": {"body_factory": _overlong_prompt},
        "1301": fault(Fault.CONTENT_FILTER),
        "1302": {"body": hello, "config": TwinConfig(limits=Limits(requests=1, per_seconds=60)), "times": 2},
        "1305": fault(Fault.OVERLOADED),
        "1310": fault(Fault.PLAN_LIMIT),
        "1308": fault(Fault.FIVE_HOUR_LIMIT),
        "1234": fault(Fault.NETWORK_ERROR),
    }


def _overlong_prompt() -> dict[str, Any]:
    from .contract import model_card

    card = model_card("glm-4.5-flash")
    assert card is not None
    return {"model": "glm-4.5-flash",
            "messages": [{"role": "user", "content": "lorem ipsum " * (card.context_window // 2 + 1000)}]}


def _compare_error(case: _Case, twin: _Twin, era: str | None, notes: list[str]) -> list[Difference]:
    recorded = case.answer
    code = recorded.error_code or ("401" if recorded.status == 401 else "?")
    recipe = _twin_error_recipes().get(code)
    if recipe is None:
        return [Difference(case.label, "error_code", code, f"code {code}", "cannot produce it")]
    body = {"model": "glm-4.6", **(recipe["body_factory"]() if "body_factory" in recipe else recipe["body"])}
    surface = recorded.surface
    if surface is Surface.ANTHROPIC:
        body.setdefault("max_tokens", 1024)
    key = capture_key(recorded.meta) or recipe.get("key", True)
    mine = twin.send(body, key=key, config=recipe.get("config"), times=recipe.get("times", 1),
                     profile=era, surface=surface, base_path=_base_path(recorded))
    if mine.transport_error:
        return [Difference(case.label, "transport", "exchange", "completed", mine.transport_error)]
    out: list[Difference] = []
    if recorded.status is None:
        notes.append(f"{case.label}: HTTP status not recorded; status not compared")
    elif recorded.status != mine.status:
        out.append(Difference(case.label, "error_status", code, str(recorded.status), str(mine.status)))
    return out + _error_differences(case.label, recorded, mine)


def _error_differences(label: str, recorded: Recording, mine: TwinResponse) -> list[Difference]:
    code = recorded.error_code
    try:
        twin_body = json.loads(mine.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        twin_body = None
    error = twin_body.get("error") if isinstance(twin_body, dict) else None
    twin_code = error.get("code") if isinstance(error, dict) else None
    out = []
    if (None if twin_code is None else str(twin_code)) != code:
        out.append(Difference(label, "error_code", code or "?", repr(code), repr(twin_code)))
    return out + diff_shapes(label, "error_body", json_shape(recorded.error_body()), json_shape(twin_body))


# -- transcripts (harness.transcript) -----------------------------------------------------------
def _transcript_cases(folder: Path, notes: list[str]) -> Iterator[_Case]:
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        notes.append(f"transcripts: none in {folder}; skipped")
        return
    from .transcript import load

    for path in files:
        label = f"transcripts/{path.stem}"
        try:
            transcript = load(path)
        except (OSError, ValueError) as error:  # pydantic's ValidationError is a ValueError
            first = str(error).strip().splitlines()[0]
            notes.append(f"{label}: not a transcript ({type(error).__name__}: {first}); skipped")
            continue
        request = transcript.request.json_body
        if request is None or transcript.transport_error or transcript.status is None:
            notes.append(f"{label}: no JSON request or no complete answer recorded; skipped")
            continue
        raw = transcript.response_bytes
        meta = {"status": transcript.status, "content_type": transcript.headers.get("content-type", "")}
        answer = _answer_recording(path, label, raw, transcript.stream, transcript.status, meta)
        yield _Case(label, answer, dict(request), str(request.get("model") or ""), answer.era or ANY_ERA)


def _answer_recording(path: Path, label: str, raw: bytes, streamed: bool, status: int,
                      meta: dict[str, Any]) -> Recording:
    if streamed and status == 200:
        return Recording(path, label, Kind.STREAM, raw, meta=meta, chunks=sse_chunks(raw))
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        data = None
    return Recording(path, label, Kind.ERROR if status != 200 else Kind.COMPLETION, raw, data, meta)


# -- the report -----------------------------------------------------------------------------------
def drift_report(recordings: Path | str | Sequence[Path | str] | None,
                 transcripts_dir: Path | str | None = None,
                 known: Path | str | list[KnownDifference] | None = DEFAULT_KNOWN,
                 profile: str | None = None) -> DriftReport:
    """Compare the twin with every recording under `recordings` (one folder or several; and the
    transcripts in `transcripts_dir`, if given; either may be None, not both); each difference
    is marked known or not. `profile` makes the twin speak one era for every recording instead
    of the era each recording shows."""
    roots = [] if recordings is None else (
        [Path(recordings)] if isinstance(recordings, (str, Path)) else [Path(r) for r in recordings])
    if not roots and transcripts_dir is None:
        raise UsageError("nothing to compare: give recordings, transcripts or both")
    for root in roots:
        if not root.is_dir():
            raise UsageError(f"no recordings at {root} (expected a directory)")
    if transcripts_dir is not None and not Path(transcripts_dir).is_dir():
        raise UsageError(f"no transcripts at {transcripts_dir} (expected a directory)")
    entries = _known_entries(known)
    report = DriftReport()
    found = scan(roots, report.notes) if roots else []
    report.notes += [f"{r.label}: a lone chunk, not a whole answer; not compared" for r in found
                     if r.kind is Kind.CHUNK]
    cases = [_case(e, report.notes) for e in exchanges(found)]
    if transcripts_dir is not None:
        cases += list(_transcript_cases(Path(transcripts_dir), report.notes))
    with _Twin() as twin:
        for case in cases:
            report.compared.append(case.label)
            report.seen.add((case.model, case.era))
            report.differences += _compare(case, twin, profile, report.notes)
    if not report.compared:
        where = " or ".join(str(p) for p in (*roots, transcripts_dir) if p is not None)
        raise UsageError(f"nothing to compare in {where}: no recorded answers or transcripts")
    unused = _classify(report.differences, entries)
    report.unused_known = [e for e in unused if any(
        glob_match(model, e.model) and glob_match(era, e.era) for model, era in report.seen)]
    return report


def _known_entries(known: Path | str | list[KnownDifference] | None) -> list[KnownDifference]:
    if isinstance(known, list):
        return known
    if known is None:
        return []
    path = Path(known)
    if not path.exists() and path != DEFAULT_KNOWN:  # the default may be absent (an installed package)
        raise UsageError(f"no such file: {path}")
    return load_known(path)


# -- command line ---------------------------------------------------------------------------------
def default_recordings() -> list[Path]:
    """$GLM_HARNESS_REAL_TRAFFIC, else the vendored recordings of both surfaces (those present)."""
    env = os.environ.get(RECORDINGS_ENV)
    if env:
        return [Path(env)]
    return [p for p in (VENDORED_RECORDINGS, VENDORED_MESSAGES_RECORDINGS) if p.is_dir()]


def add_drift_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add = parser.add_argument
    add("recordings", nargs="*", default=[], metavar="DIR",
        help=f"folders of recorded real traffic: requests, JSON answers, SSE streams, error bodies, "
             f"whatever the files are called (default: ${RECORDINGS_ENV}, else fixtures/real and "
             f"fixtures/real-2026, the vendored copies; none when only --transcripts is given)")
    add("--transcripts", default=None, metavar="DIR",
        help="transcripts (harness.transcript) to compare as well (default, when no DIR is given: "
             "fixtures/transcripts)")
    add("--profile", choices=("2025", "2026"), default=None,
        help="the era the twin speaks for every recording (default: the era each recording shows)")
    add("--known", default=None, metavar="FILE",
        help="accepted differences, each with its reason (default: fixtures/drift/known-differences.json)")
    add("--no-known", action="store_true",
        help="list no difference as known (e.g. for recordings of a server that is not the official API)")
    add("--unknown-only", action="store_true", help="print only the differences not listed as known")
    return parser


def run_drift(args: argparse.Namespace) -> int:
    """Print every difference, one per line; 1 if any is not known, 0 if none, 2 on bad input."""
    given = [Path(d) for d in (args.recordings or [])]
    recordings = given or (default_recordings() if not args.transcripts else [])
    # With no DIR given, the transcripts that ship with the harness are compared as well.
    transcripts = Path(args.transcripts) if args.transcripts else (
        DEFAULT_TRANSCRIPTS if not given and DEFAULT_TRANSCRIPTS.is_dir() else None)
    if not recordings and transcripts is None:
        print(f"glm-harness drift: error: no recordings given, ${RECORDINGS_ENV} is not set, and "
              f"{VENDORED_RECORDINGS} does not exist", file=sys.stderr)
        return 2
    known: Path | None = None if getattr(args, "no_known", False) else (
        Path(args.known) if args.known else DEFAULT_KNOWN)
    try:
        report = drift_report(recordings or None, transcripts, known, getattr(args, "profile", None))
    except UsageError as error:
        print(f"glm-harness drift: error: {error}", file=sys.stderr)
        return 2
    for difference in report.differences:
        if difference.known and args.unknown_only:
            continue
        print(difference)
    for note in report.notes:
        print(f"note: {note}")
    for entry in report.unused_known:
        print(f"note: known difference matched nothing (stale?): {entry}")
    n_known = sum(1 for d in report.differences if d.known)
    print(f"{len(report.compared)} recording(s) compared: {len(report.unknown)} unknown difference(s), "
          f"{n_known} known")
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="glm-harness drift", description=__doc__.split("\n\n")[0])
    return run_drift(add_drift_arguments(parser).parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
