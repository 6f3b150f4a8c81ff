"""One reading of a GLM stream: every data event read once into a typed `StreamEvent`.

Everything that looks at a stream reads it through here: assembly and the stream invariants (for
the checks), the benchmark's metrics and token split, drift's stream shapes, validation of
recordings. A chunk is read from plain JSON, never from the contract models, so that one bad
field cannot hide what the rest of the chunk carries and the benchmark can afford it; whether a
chunk matches the contract is the schema check's business (`chunk_schema`).

Reading rules, in one place:
- A chunk's token parts are non-empty `reasoning_content`, non-empty `content` and a non-empty
  `tool_calls` list of `choices[0].delta`. Whitespace is a token too, but content that is only
  whitespace is `blank`: GLM opens many streams with `content: "\\n"` before it reasons.
- A chunk with parts of two kinds is `mixed` (real GLM has never sent one; other servers do).
- No token but a `finish_reason` or `usage`: `final`. Nothing at all: `empty`.
- A JSON object with `error` and no `choices` is an error frame sent inside a 200 stream.
- Data that is not a JSON object is `malformed`; it is kept in place and reading goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from .contract import ChatCompletionChunk, Finding, Mode, validate
from .sse import ServerSentEvent


class EventKind(StrEnum):
    REASONING = "reasoning"
    CONTENT = "content"
    TOOL_CALLS = "tool_calls"
    MIXED = "mixed"
    BLANK = "blank"
    FINAL = "final"
    EMPTY = "empty"
    ERROR = "error"
    MALFORMED = "malformed"


TOKEN_KINDS = frozenset({EventKind.REASONING, EventKind.CONTENT, EventKind.TOOL_CALLS, EventKind.MIXED,
                         EventKind.BLANK})


@dataclass(frozen=True, slots=True)
class ToolCallFragment:
    """One `delta.tool_calls[]` entry: a whole call (GLM's default) or a piece of one."""

    index: int | None
    id: str | None
    name: str | None
    arguments: str


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One data event, read: what it carries, and when its last byte arrived (None: unknown)."""

    n: int
    at: float | None
    kind: EventKind
    data: Any = None
    role: str | None = None
    reasoning: str = ""
    content: str = ""
    tool_calls: tuple[ToolCallFragment, ...] = ()
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    problem: str = ""

    @property
    def carries_token(self) -> bool:
        return self.kind in TOKEN_KINDS

    @property
    def visible(self) -> bool:
        """Whether its content has a character a user would see."""
        return bool(self.content.strip())

    def get(self, name: str) -> Any:
        """A top-level field of the chunk (`id`, `model`, ...), None when absent or unreadable."""
        return self.data.get(name) if isinstance(self.data, dict) else None


def read_event(event: ServerSentEvent, n: int, at: float | None = None) -> StreamEvent:
    """Read one SSE data event (not `[DONE]`) into what it carries."""
    try:
        data = json.loads(event.data)
    except json.JSONDecodeError as problem:
        why = f"data is not JSON ({problem.msg}): {event.data[:80]!r}"
        return StreamEvent(n, at, EventKind.MALFORMED, problem=why)
    if not isinstance(data, dict):
        why = f"data is JSON but not an object: {event.data[:80]!r}"
        return StreamEvent(n, at, EventKind.MALFORMED, data, problem=why)
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else None
    if "error" in data and "choices" not in data:
        error = data["error"] if isinstance(data["error"], dict) else {"message": str(data["error"])}
        return StreamEvent(n, at, EventKind.ERROR, data, usage=usage, error=error)
    choice = _first(data.get("choices"))
    delta = as_dict(choice.get("delta"))
    reasoning, content = _text(delta.get("reasoning_content")), _text(delta.get("content"))
    calls = tuple(_fragment(c) for c in delta.get("tool_calls") or () if isinstance(c, dict))
    finish = choice.get("finish_reason")
    finish = finish if isinstance(finish, str) else None
    role = delta.get("role") if isinstance(delta.get("role"), str) else None
    kind = _kind(reasoning, content, calls, finish is not None or usage is not None)
    return StreamEvent(n, at, kind, data, role, reasoning, content, calls, finish, usage)


def _kind(reasoning: str, content: str, calls: tuple[ToolCallFragment, ...], ends: bool) -> EventKind:
    parts = [kind for kind, present in ((EventKind.REASONING, reasoning), (EventKind.CONTENT, content),
                                        (EventKind.TOOL_CALLS, calls)) if present]
    if len(parts) > 1:
        return EventKind.MIXED
    if parts == [EventKind.CONTENT] and not content.strip():
        return EventKind.BLANK
    if parts:
        return parts[0]
    return EventKind.FINAL if ends else EventKind.EMPTY


def _fragment(call: dict[str, Any]) -> ToolCallFragment:
    function = as_dict(call.get("function"))
    index = call.get("index")
    return ToolCallFragment(
        index if isinstance(index, int) and not isinstance(index, bool) else None,
        call.get("id") if isinstance(call.get("id"), str) else None,
        function.get("name") if isinstance(function.get("name"), str) else None,
        _text(function.get("arguments")),
    )


def _first(choices: Any) -> dict[str, Any]:
    return as_dict(choices[0]) if isinstance(choices, list) and choices else {}


def as_dict(value: Any) -> dict[str, Any]:
    """A JSON object the API sent, or {} for anything else (absent, null, the wrong type)."""
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def token_count(value: Any) -> int | None:
    """A token count as the API sends it: a non-negative integer (anything else: unknown)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@dataclass(slots=True)
class Stream:
    """A whole stream, read: its data events in order, and whether `[DONE]` came."""

    events: list[StreamEvent] = field(default_factory=list)
    done: bool = False

    def tokens(self) -> list[StreamEvent]:
        return [e for e in self.events if e.carries_token]

    def first(self, *kinds: EventKind) -> StreamEvent | None:
        return next((e for e in self.events if e.kind in kinds), None)

    @property
    def usage(self) -> dict[str, Any] | None:
        """The last usage sent: GLM sends it once, on the last chunk."""
        return next((e.usage for e in reversed(self.events) if e.usage is not None), None)

    @property
    def finish_reason(self) -> str | None:
        return next((e.finish_reason for e in reversed(self.events) if e.finish_reason), None)


def read_stream(events: Iterable[Any]) -> Stream:
    """Read decoded events: `ServerSentEvent`s, or anything with `.event` and `.at` (`TimedEvent`)."""
    stream = Stream()
    for item in events:
        event: ServerSentEvent = item if isinstance(item, ServerSentEvent) else item.event
        if event.is_done:
            stream.done = True
            continue
        stream.events.append(read_event(event, len(stream.events), getattr(item, "at", None)))
    return stream


# -- assembly ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Assembly:
    """What a client ends up with: the message the deltas add up to."""

    content: str
    reasoning_content: str
    tool_calls: list[dict[str, Any]]

    def message(self) -> dict[str, Any]:
        """The assembled message, shaped like a non-streamed `choices[0].message`."""
        message: dict[str, Any] = {"role": "assistant"}
        if self.content:
            message["content"] = self.content
        if self.reasoning_content:
            message["reasoning_content"] = self.reasoning_content
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        return message


def assemble(stream: Stream) -> Assembly:
    """Join the deltas: text in arrival order, tool-call pieces by their index. A piece without
    an index is placed by its position in the delta, and its call keeps `index: None`: the
    assembly never invents a value the server did not send."""
    calls: dict[int, dict[str, Any]] = {}
    for event in stream.events:
        for position, piece in enumerate(event.tool_calls):
            index = piece.index if piece.index is not None else position
            call = calls.setdefault(index, {"id": None, "index": piece.index, "type": "function",
                                            "function": {"name": None, "arguments": ""}})
            if piece.index is None:
                call["index"] = None
            call["id"] = call["id"] or piece.id
            call["function"]["name"] = call["function"]["name"] or piece.name
            call["function"]["arguments"] += piece.arguments
    return Assembly(
        content="".join(e.content for e in stream.events),
        reasoning_content="".join(e.reasoning for e in stream.events),
        tool_calls=[calls[i] for i in sorted(calls)],
    )


@dataclass(frozen=True, slots=True)
class ChunkSchema:
    """Every chunk held against `ChatCompletionChunk`. `findings` break the contract, with paths
    that say which event (`event[3].choices...`); `notices` (strict mode) are undocumented fields
    real GLM is known to send, once per field, at the first event that carried it."""

    findings: list[Finding]
    notices: list[Finding]


def chunk_schema(stream: Stream, mode: Mode = Mode.LENIENT) -> ChunkSchema:
    findings: list[Finding] = []
    notices: dict[str, Finding] = {}
    for e in stream.events:
        if e.kind is EventKind.MALFORMED:
            findings.append(Finding(f"event[{e.n}]", "malformed_json", e.problem))
        elif e.kind is not EventKind.ERROR:
            checked = validate(ChatCompletionChunk, e.data, mode)
            findings += [replace(f, path=f"event[{e.n}]{f.path[1:]}") for f in checked.findings]
            for notice in checked.notices:
                notices.setdefault(notice.path, replace(notice, path=f"event[{e.n}]{notice.path[1:]}"))
    return ChunkSchema(findings, list(notices.values()))


# -- invariants ----------------------------------------------------------------------------------
def invariants(stream: Stream) -> list[Finding]:
    """What every GLM stream does, whatever the content; each breach named and placed."""
    chunks = [e for e in stream.events if e.kind not in (EventKind.MALFORMED, EventKind.ERROR)]
    return [
        *_error_frames(stream.events),
        *_first_delta_has_role(chunks),
        *_constant("id", chunks),
        *_constant("model", chunks),
        *_one_finish_reason(chunks),
        *_usage_at_end(chunks),
        *_reasoning_before_content(chunks),
        *([] if stream.done else [Finding("stream", "missing_done", "the stream did not end with data: [DONE]")]),
    ]


def _error_frames(events: Sequence[StreamEvent]) -> list[Finding]:
    return [Finding(f"event[{e.n}]", "error_frame", f"an error inside a 200 stream: code "
                    f"{e.error.get('code')!r}, message {str(e.error.get('message'))[:120]!r}")
            for e in events if e.error is not None]


def _first_delta_has_role(chunks: Sequence[StreamEvent]) -> list[Finding]:
    if chunks and chunks[0].role != "assistant":
        return [Finding(f"event[{chunks[0].n}].choices[0].delta.role", "first_delta_without_role",
                        f"the first delta must carry role 'assistant'; it carried {chunks[0].role!r}")]
    return []


def _constant(name: str, chunks: Sequence[StreamEvent]) -> list[Finding]:
    if not chunks:
        return []
    first = chunks[0].get(name)
    changed = next((e for e in chunks if e.get(name) != first), None)
    if changed is not None:
        return [Finding(f"event[{changed.n}].{name}", f"{name}_changed",
                        f"{name} changed mid-stream from {first!r} to {changed.get(name)!r}")]
    return []


def _one_finish_reason(chunks: Sequence[StreamEvent]) -> list[Finding]:
    """One finish_reason, on the last chunk. Recorded exception (glm-4.5, Sept 2025): the
    tool-call chunks before it repeated the same value, so those are tolerated."""
    finishing = [e for e in chunks if e.finish_reason is not None]
    if not finishing:
        return [Finding("stream", "missing_finish_reason", "no chunk carried a finish_reason")]
    final, last = finishing[-1], chunks[-1]
    if final is not last:
        return [Finding(f"event[{final.n}]", "finish_reason_not_last",
                        f"the last finish_reason came in event {final.n}, not in the last chunk ({last.n})")]
    extra = [e for e in finishing[:-1] if e.finish_reason != final.finish_reason or e.kind is not EventKind.TOOL_CALLS]
    if extra:
        where = ", ".join(f"{e.n} ({e.finish_reason})" for e in extra)
        return [Finding("stream", "duplicate_finish_reason",
                        f"finish_reason also appeared in event {where}; expected once, in the last")]
    return []


def _usage_at_end(chunks: Sequence[StreamEvent]) -> list[Finding]:
    carrying = [e for e in chunks if e.usage is not None]
    if not carrying:
        return [Finding("stream", "missing_usage", "no chunk carried usage; GLM sends it in the last chunk")]
    if carrying[-1] is not chunks[-1]:
        return [Finding(f"event[{carrying[-1].n}]", "usage_not_last",
                        f"usage came in event {carrying[-1].n}, before the last chunk ({chunks[-1].n})")]
    if len(carrying) > 1:
        where = ", ".join(str(e.n) for e in carrying)
        return [Finding("stream", "usage_repeated", f"usage came in events {where}; expected once, in the last")]
    return []


def _reasoning_before_content(chunks: Sequence[StreamEvent]) -> list[Finding]:
    """Once visible text has started, reasoning must be over (whitespace-only content may lead)."""
    seen_text = False
    for e in chunks:
        if e.reasoning and seen_text:
            return [Finding(f"event[{e.n}].choices[0].delta.reasoning_content", "reasoning_after_content",
                            "reasoning_content arrived after visible content had started")]
        seen_text = seen_text or e.visible
    return []
