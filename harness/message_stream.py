"""One reading of a Messages API stream (the Anthropic-compatible surface): every event read once
into a typed `MessageEvent`, as `harness.stream` reads a chat-completions stream.

A Messages stream is SSE with `event:` lines: `message_start`, `ping`, then per content block
`content_block_start`, its `content_block_delta`s and `content_block_stop`, then `message_delta`
(stop_reason, usage) and `message_stop`. GLM sends no `data: [DONE]` on this surface. Everything
that looks at such a stream reads it through here: the checks (schema, order and nesting),
assembly of the message a client ends up with, validation of recordings and drift.

Reading rules, in one place:
- An event's data is read as plain JSON, never through the contract models, so that one bad field
  cannot hide the rest; whether an event matches the contract is `event_schema`'s business.
- A delta's token is its `text`, `thinking` or `partial_json` piece (`signature_delta` carries
  none): what a client sees arrive.
- A tool_use block's input is its `partial_json` pieces joined (GLM sends one piece with the whole
  JSON), or the `input` of its `content_block_start` when no piece came.
- The usage a client ends with is `message_start`'s, updated by `message_delta`'s: GLM sends zeros
  in `message_start` and every count in `message_delta`; Anthropic sends the input counts first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .contract import STREAM_EVENTS, Finding, Mode, validate
from .sse import ServerSentEvent
from .stream import as_dict

# The delta types each block type takes.
DELTAS_OF_BLOCK: dict[str, frozenset[str]] = {
    "text": frozenset({"text_delta", "citations_delta"}),
    "tool_use": frozenset({"input_json_delta"}),
    "thinking": frozenset({"thinking_delta", "signature_delta"}),
    "redacted_thinking": frozenset(),
}
_TOKEN_FIELD = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """One event, read: its SSE name, its data's `type`, and for a block event its index and the
    piece it carries; when its last byte arrived (None: unknown)."""

    n: int
    at: float | None
    name: str
    type: str | None = None
    data: Any = None
    index: int | None = None
    delta_type: str | None = None
    piece: str = ""
    problem: str = ""

    @property
    def malformed(self) -> bool:
        return bool(self.problem)

    @property
    def carries_token(self) -> bool:
        return bool(self.piece)

    def get(self, name: str) -> Any:
        return self.data.get(name) if isinstance(self.data, dict) else None


def read_message_event(event: ServerSentEvent, n: int, at: float | None = None) -> MessageEvent:
    try:
        data = json.loads(event.data)
    except json.JSONDecodeError as problem:
        return MessageEvent(n, at, event.event, problem=f"data is not JSON ({problem.msg}): {event.data[:80]!r}")
    if not isinstance(data, dict):
        return MessageEvent(n, at, event.event, data=data,
                            problem=f"data is JSON but not an object: {event.data[:80]!r}")
    kind = data.get("type") if isinstance(data.get("type"), str) else None
    index = data.get("index")
    index = index if isinstance(index, int) and not isinstance(index, bool) else None
    delta = as_dict(data.get("delta")) if kind == "content_block_delta" else {}
    delta_type = delta.get("type") if isinstance(delta.get("type"), str) else None
    piece = delta.get(_TOKEN_FIELD.get(delta_type or "", ""))
    return MessageEvent(n, at, event.event, kind, data, index, delta_type,
                        piece if isinstance(piece, str) else "")


@dataclass(slots=True)
class MessageStream:
    """A whole stream, read: its events in order, and whether a `data: [DONE]` came."""

    events: list[MessageEvent] = field(default_factory=list)
    done: bool = False

    def of_type(self, kind: str) -> list[MessageEvent]:
        return [e for e in self.events if e.type == kind]

    def tokens(self) -> list[MessageEvent]:
        return [e for e in self.events if e.carries_token]

    @property
    def start(self) -> dict[str, Any]:
        """`message_start.message`, {} when none came."""
        first = next(iter(self.of_type("message_start")), None)
        return as_dict(first.get("message")) if first else {}

    @property
    def start_usage(self) -> dict[str, Any] | None:
        usage = self.start.get("usage")
        return usage if isinstance(usage, dict) else None

    @property
    def delta_usage(self) -> dict[str, Any] | None:
        last = next(iter(reversed(self.of_type("message_delta"))), None)
        usage = last.get("usage") if last else None
        return usage if isinstance(usage, dict) else None

    @property
    def usage(self) -> dict[str, Any] | None:
        """The counts a client ends with: message_start's, updated by message_delta's."""
        start, delta = self.start_usage, self.delta_usage
        if start is None and delta is None:
            return None
        return {**(start or {}), **(delta or {})}

    @property
    def stop_reason(self) -> str | None:
        last = next(iter(reversed(self.of_type("message_delta"))), None)
        reason = as_dict(last.get("delta")).get("stop_reason") if last else None
        return reason if isinstance(reason, str) else None

    @property
    def stop_sequence(self) -> str | None:
        last = next(iter(reversed(self.of_type("message_delta"))), None)
        sequence = as_dict(last.get("delta")).get("stop_sequence") if last else None
        return sequence if isinstance(sequence, str) else None


def read_message_stream(events: Iterable[Any]) -> MessageStream:
    """Read decoded events: `ServerSentEvent`s, or anything with `.event` and `.at` (`TimedEvent`)."""
    stream = MessageStream()
    for item in events:
        event: ServerSentEvent = item if isinstance(item, ServerSentEvent) else item.event
        if event.is_done:
            stream.done = True
            continue
        stream.events.append(read_message_event(event, len(stream.events), getattr(item, "at", None)))
    return stream


def is_message_stream(events: Sequence[ServerSentEvent]) -> bool:
    """Whether decoded events are a Messages stream: named events, or data typed `message_start`."""
    first = next((e for e in events if not e.is_done), None)
    return first is not None and (first.event != "message" or '"message_start"' in first.data[:40])


# -- assembly ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MessageAssembly:
    """What a client ends up with: the `Message` the events add up to, and each tool_use block's
    input JSON as the pieces joined (by block position), before parsing."""

    message: dict[str, Any]
    tool_inputs: dict[int, str]


def assemble_message(stream: MessageStream) -> MessageAssembly:
    blocks: dict[int, dict[str, Any]] = {}
    inputs: dict[int, list[str]] = {}
    for e in stream.events:
        if e.type == "content_block_start" and e.index is not None:
            blocks[e.index] = dict(as_dict(e.get("content_block")))
        elif e.type == "content_block_delta" and e.index in blocks:
            block, delta = blocks[e.index], as_dict(e.get("delta"))
            if e.delta_type == "input_json_delta":
                inputs.setdefault(e.index, []).append(e.piece)
            elif e.delta_type in ("text_delta", "thinking_delta"):
                key = _TOKEN_FIELD[e.delta_type]
                block[key] = str(block.get(key) or "") + e.piece
            elif e.delta_type == "signature_delta" and isinstance(delta.get("signature"), str):
                block["signature"] = str(block.get("signature") or "") + delta["signature"]
    tool_inputs: dict[int, str] = {}
    for index, block in blocks.items():
        if block.get("type") != "tool_use":
            continue
        joined = "".join(inputs.get(index, ())) or json.dumps(block.get("input") or {})
        tool_inputs[index] = joined
        try:
            block["input"] = json.loads(joined)
        except json.JSONDecodeError:
            block["input"] = None
    message = {**stream.start, "content": [blocks[i] for i in sorted(blocks)],
               "stop_reason": stream.stop_reason, "stop_sequence": stream.stop_sequence,
               "usage": stream.usage}
    return MessageAssembly(message, {position: tool_inputs[i] for position, i in enumerate(sorted(blocks))
                                     if i in tool_inputs})


# -- schema --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EventSchema:
    """Every event held against its contract model (`STREAM_EVENTS`). `findings` break the
    contract, with paths that say which event; `notices` (strict mode) once per field."""

    findings: list[Finding]
    notices: list[Finding]


def event_schema(stream: MessageStream, mode: Mode = Mode.LENIENT) -> EventSchema:
    findings: list[Finding] = []
    notices: dict[str, Finding] = {}
    for e in stream.events:
        if e.malformed:
            findings.append(Finding(f"event[{e.n}]", "malformed_json", e.problem))
            continue
        model = STREAM_EVENTS.get(e.type or "")
        if model is None:
            findings.append(Finding(f"event[{e.n}].type", "unknown_event",
                                    f"{e.type!r} is not a Messages stream event"))
            continue
        checked = validate(model, e.data, mode)
        findings += [replace(f, path=f"event[{e.n}]{f.path[1:]}") for f in checked.findings]
        for notice in checked.notices:
            key = f"{e.type}{notice.path[1:]}"
            notices.setdefault(key, replace(notice, path=f"event[{e.n}]{notice.path[1:]}"))
    return EventSchema(findings, list(notices.values()))


# -- order and nesting ---------------------------------------------------------------------------
def event_order(stream: MessageStream) -> list[Finding]:
    """What every Messages stream does, whatever it says; each breach named and placed."""
    events = [e for e in stream.events if not e.malformed]
    return [*_names_match(events), *_starts_and_stops(events), *_blocks_nest(events),
            *_one_message_delta(events), *_error_events(events),
            *([Finding("stream", "done_sentinel", "the stream sent data: [DONE], which Messages streams "
                                                  "never send")] if stream.done else [])]


def _names_match(events: Sequence[MessageEvent]) -> Iterator[Finding]:
    for e in events:
        if e.name != e.type:
            yield Finding(f"event[{e.n}]", "event_name", f"the event is named {e.name!r} but its data's type "
                                                         f"is {e.type!r}")


def _starts_and_stops(events: Sequence[MessageEvent]) -> Iterator[Finding]:
    if events and events[0].type != "message_start":
        yield Finding(f"event[{events[0].n}]", "message_start_first",
                      f"the first event is {events[0].type!r}, not message_start")
    stop = next((e for e in events if e.type == "message_stop"), None)
    if stop is None:
        if not any(e.type == "error" for e in events):  # an error event ends a stream instead
            yield Finding("stream", "missing_message_stop", "no message_stop event ended the stream")
    elif stop is not events[-1]:
        late = next(e for e in events if e.n > stop.n)
        yield Finding(f"event[{late.n}]", "event_after_message_stop",
                      f"a {late.type!r} event came after message_stop (event {stop.n})")


def _blocks_nest(events: Sequence[MessageEvent]) -> Iterator[Finding]:
    """A block is started, takes deltas of its type, and is stopped before the next one starts."""
    started: dict[int, str] = {}
    open_blocks: set[int] = set()
    for e in events:
        if e.type == "content_block_start":
            if open_blocks:
                yield Finding(f"event[{e.n}]", "block_overlap",
                              f"block {e.index} started while block {min(open_blocks)} was still open")
            if e.index != len(started):
                yield Finding(f"event[{e.n}].index", "block_index",
                              f"block {e.index} started where block {len(started)} was next")
            if e.index is not None:
                started[e.index] = str(as_dict(e.get("content_block")).get("type"))
                open_blocks.add(e.index)
        elif e.type == "content_block_delta":
            if e.index not in open_blocks:
                yield Finding(f"event[{e.n}]", "delta_outside_block",
                              f"a delta for block {e.index}, which is not open")
            elif e.delta_type not in DELTAS_OF_BLOCK.get(started[e.index], frozenset()):
                yield Finding(f"event[{e.n}].delta.type", "delta_type",
                              f"a {e.delta_type!r} in a {started[e.index]!r} block")
        elif e.type == "content_block_stop":
            if e.index not in open_blocks:
                yield Finding(f"event[{e.n}]", "stop_outside_block",
                              f"content_block_stop for block {e.index}, which is not open")
            open_blocks.discard(e.index)  # type: ignore[arg-type]
        elif e.type in ("message_delta", "message_stop") and open_blocks:
            yield Finding(f"event[{e.n}]", "block_not_closed",
                          f"{e.type} came while block {min(open_blocks)} was still open")
            open_blocks.clear()


def _one_message_delta(events: Sequence[MessageEvent]) -> Iterator[Finding]:
    deltas = [e for e in events if e.type == "message_delta"]
    if not deltas and not any(e.type == "error" for e in events):
        yield Finding("stream", "missing_message_delta", "no message_delta carried the stop_reason and usage")
    elif len(deltas) > 1:
        where = ", ".join(str(e.n) for e in deltas)
        yield Finding("stream", "message_delta_repeated", f"message_delta came in events {where}; expected once")


def _error_events(events: Sequence[MessageEvent]) -> Iterator[Finding]:
    for e in events:
        if e.type == "error":
            error = as_dict(e.get("error"))
            yield Finding(f"event[{e.n}]", "error_event", f"an error event inside a 200 stream: "
                          f"{error.get('type')!r}, {str(error.get('message'))[:120]!r}")
