"""Tests for harness.sse: WHATWG framing, chunk-boundary independence, and violation reporting."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import SSEError
from harness.sse import (
    VIOLATION_KINDS,
    ServerSentEvent,
    SSEDecoder,
    SSEViolation,
    _event_factory,
    _new_event,
    decode_all,
    iter_events,
)
from harness.stream import EventKind, read_stream

STREAMS_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "real" / "streams-and-bodies"
RECORDINGS = sorted(STREAMS_DIR.glob("*.response.sse"))


def recording_params() -> list[object]:
    assert RECORDINGS, f"no recorded GLM streams in {STREAMS_DIR}: fixtures/real is part of the repository"
    return [pytest.param(path, id=path.name.removesuffix(".response.sse")) for path in RECORDINGS]


def feed_chunks(chunks: Sequence[bytes]) -> tuple[list[ServerSentEvent], SSEDecoder]:
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    events += decoder.close()
    return events, decoder


def split_at(data: bytes, points: Sequence[int]) -> list[bytes]:
    bounds = [0, *sorted(points), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


def kinds(violations: Sequence[SSEViolation]) -> list[str]:
    return [violation.kind for violation in violations]


def datas(events: Sequence[ServerSentEvent]) -> list[str]:
    return [event.data for event in events]


# -- line endings -------------------------------------------------------------------------


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_line_endings(eol: str) -> None:
    stream = f"event: a{eol}data: 1{eol}data: 2{eol}{eol}data: 3{eol}{eol}".encode()
    events, violations = decode_all(stream)
    assert events == [ServerSentEvent("1\n2", event="a"), ServerSentEvent("3")]
    assert violations == []


def test_mixed_line_endings_in_one_stream() -> None:
    events, violations = decode_all(b"data: a\r\ndata: b\rdata: c\n\r\n")
    assert datas(events) == ["a\nb\nc"]
    assert violations == []


def test_cr_at_chunk_end_then_lf_is_one_line_break() -> None:
    # Were the CR and LF counted as two breaks, the blank line would split "a" and "b".
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\ndata: b\r\n\r\n") == [ServerSentEvent("a\nb")]
    assert decoder.close() == []
    assert decoder.violations == []


def test_lone_cr_at_chunk_end_dispatches_without_waiting() -> None:
    # Latency: the event is complete at the second CR; it must not wait for the next chunk.
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\r") == [ServerSentEvent("a")]
    assert decoder.feed(b"\ndata: b\r\r") == [ServerSentEvent("b")]
    assert decoder.close() == []
    assert decoder.violations == []


def test_every_split_of_a_crlf_stream() -> None:
    stream = b"data: x\r\n\r\nid: 7\r\ndata: y\r\r\n: c\r\ndata: z\r\n\r\n"
    expected, _ = decode_all(stream)
    assert datas(expected) == ["x", "y", "z"]
    for point in range(len(stream) + 1):
        events, decoder = feed_chunks(split_at(stream, [point]))
        assert events == expected, point
        assert decoder.violations == [], point


# -- bytes and UTF-8 ----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["余额", "🙂", "é€😀x"])
def test_multibyte_character_split_across_chunks(text: str) -> None:
    stream = f"data: {text}\n\n".encode()
    for point in range(len(stream) + 1):
        events, decoder = feed_chunks(split_at(stream, [point]))
        assert datas(events) == [text], point
        assert decoder.violations == [], point
    events, decoder = feed_chunks([bytes([byte]) for byte in stream])
    assert datas(events) == [text]
    assert decoder.violations == []


def test_bom_at_stream_start_is_skipped() -> None:
    events, violations = decode_all(b"\xef\xbb\xbfdata: a\n\n")
    assert datas(events) == ["a"]
    assert violations == []


def test_bom_split_byte_by_byte_is_skipped() -> None:
    events, decoder = feed_chunks([b"\xef", b"\xbb", b"\xbf", b"data: a\n\n"])
    assert datas(events) == ["a"]
    assert decoder.violations == []


def test_bom_later_in_stream_is_data() -> None:
    events, _ = decode_all(b"data: \xef\xbb\xbfa\n\n")
    assert datas(events) == ["\ufeffa"]


def test_bom_offsets_count_the_bom_bytes() -> None:
    _, violations = decode_all(b"\xef\xbb\xbffoo: 1\n")
    assert [(v.kind, v.offset) for v in violations] == [("unknown_field", 3)]


def test_invalid_utf8_is_replaced_and_reported() -> None:
    events, violations = decode_all(b"data: a\xffb\n\ndata: \xe4\xbd\n\n")
    assert datas(events) == ["a\ufffdb", "\ufffd"]
    assert [(v.kind, v.offset) for v in violations] == [("invalid_utf8", 7), ("invalid_utf8", 17)]


def test_invalid_utf8_reported_once_per_line_with_a_count() -> None:
    # A literal U+FFFD sent as valid UTF-8 is data, not a replacement, and is not counted.
    line = b"data: \xff\xfe\xef\xbf\xbd\xe4\xbd(" + b"\x80" * 1000
    events, violations = decode_all(line + b"\n\n")
    assert datas(events) == [line[6:].decode("utf-8", "replace")]
    assert len(violations) == 1
    assert violations[0].offset == 6
    assert violations[0].message.startswith("1003 invalid UTF-8 sequence(s)")


def test_invalid_utf8_offset_is_exact_across_chunks() -> None:
    events, decoder = feed_chunks([b"data: ok\n\ndata: ab", b"c\xc3", b"(\n\n"])
    assert datas(events) == ["ok", "abc\ufffd("]
    assert [(v.kind, v.offset) for v in decoder.violations] == [("invalid_utf8", 19)]


# -- fields -------------------------------------------------------------------------------


def test_comments_are_kept_not_dispatched() -> None:
    events, decoder = feed_chunks([b": ping\n:\ndata: a\n:  two spaces\n\n: bye\n"])
    assert datas(events) == ["a"]
    assert decoder.comments == ["ping", "", " two spaces", "bye"]
    assert decoder.violations == []


def test_multiline_data_and_space_stripping() -> None:
    events, violations = decode_all(b"data: a\ndata:b\ndata\ndata:  c\ndata: d:e\n\n")
    assert datas(events) == ["a\nb\n\n c\nd:e"]
    assert violations == []


def test_event_id_retry_fields() -> None:
    stream = b"event: delta\nid: 7\nretry: 1500\ndata: x\n\ndata: y\n\nid:\ndata: z\n\n"
    events, decoder = feed_chunks([stream])
    assert events == [
        ServerSentEvent("x", event="delta", id="7", retry=1500),
        ServerSentEvent("y", id="7"),  # the last event ID persists, retry does not
        ServerSentEvent("z", id=None),  # an empty id resets it
    ]
    assert decoder.last_event_id == ""
    assert decoder.reconnection_time == 1500
    assert decoder.violations == []


def test_empty_event_name_means_message() -> None:
    events, _ = decode_all(b"event:\ndata: x\n\n")
    assert events == [ServerSentEvent("x", event="message")]


def test_id_with_nul_is_ignored_and_reported() -> None:
    events, decoder = feed_chunks([b"id: 1\n\ndata: a\nid: 2\x003\n\n"])
    assert events == [ServerSentEvent("a", id="1")]
    assert decoder.last_event_id == "1"
    assert [(v.kind, v.offset) for v in decoder.violations] == [("invalid_id", 15)]


@pytest.mark.parametrize("value", ["10s", "-1", "", " 5", "1.5", "١٢"])
def test_invalid_retry_is_ignored_and_reported(value: str) -> None:
    events, decoder = feed_chunks([f"data: a\nretry: {value}\n\n".encode()])
    assert events == [ServerSentEvent("a", retry=None)]
    assert decoder.reconnection_time is None
    assert [(v.kind, v.offset) for v in decoder.violations] == [("invalid_retry", 8)]


def test_unknown_field_is_ignored_and_reported() -> None:
    events, violations = decode_all(b"data: a\nfoo: bar\nData: b\n\n")
    assert datas(events) == ["a"]
    assert [(v.kind, v.offset) for v in violations] == [
        ("unknown_field", 8),
        ("unknown_field", 17),
    ]


def test_line_without_colon_is_a_field_with_empty_value() -> None:
    events, violations = decode_all(b"data\n\nevent\ndata\n\n")
    assert events == [ServerSentEvent(""), ServerSentEvent("")]
    assert violations == []


# -- dispatch -----------------------------------------------------------------------------


def test_event_without_data_is_not_dispatched() -> None:
    events, decoder = feed_chunks([b"event: x\n\nid: 5\n\nretry: 9\n\n\n\n"])
    assert events == []
    assert decoder.last_event_id == "5"
    assert decoder.violations == []


def test_empty_data_line_is_dispatched() -> None:
    # Per spec the data buffer is "\n" before its trailing LF is removed, so this is an event.
    events, _ = decode_all(b"data:\n\n")
    assert events == [ServerSentEvent("")]


def test_event_type_does_not_leak_into_next_event() -> None:
    events, _ = decode_all(b"event: a\n\ndata: x\n\n")
    assert events == [ServerSentEvent("x", event="message")]


def test_final_event_without_blank_line() -> None:
    stream = b"data: a\n\ndata: b\n"
    decoder = SSEDecoder()
    assert datas(decoder.feed(stream)) == ["a"]
    assert decoder.close() == [ServerSentEvent("b", terminated=False)]
    # The offset is the end of the stream: where the missing blank line should have been.
    assert [(v.kind, v.offset) for v in decoder.violations] == [("unterminated_event", len(stream))]


def test_stream_cut_mid_line() -> None:
    stream = b'data: a\n\ndata: {"x'
    events, violations = decode_all(stream)
    assert events == [ServerSentEvent("a"), ServerSentEvent('{"x', terminated=False)]
    assert [(v.kind, v.offset) for v in violations] == [
        ("trailing_partial_line", 9),
        ("unterminated_event", len(stream)),
    ]
    assert read_stream(events).events[-1].kind is EventKind.MALFORMED  # what the stream reading makes of it


def test_partial_comment_line_at_close_is_reported_without_event() -> None:
    events, violations = decode_all(b"data: a\n\n: keep-al")
    assert datas(events) == ["a"]
    assert kinds(violations) == ["trailing_partial_line"]


def test_done_event() -> None:
    events, decoder = feed_chunks([b'data: {"a": 1}\n\ndata: [DONE]\n\n'])
    assert [event.is_done for event in events] == [False, True]
    assert read_stream(events).events[0].data == {"a": 1}
    assert decoder.done
    assert decoder.violations == []
    assert read_stream(events).done and len(read_stream(events).events) == 1


def test_data_after_done_is_dispatched_and_reported() -> None:
    stream = b"data: [DONE]\n\ndata: {}\n\ndata: [DONE]\n\n"
    events, violations = decode_all(stream)
    assert datas(events) == ["[DONE]", "{}", "[DONE]"]
    assert [(v.kind, v.offset) for v in violations] == [
        ("data_after_done", 23),
        ("data_after_done", 37),
    ]


def test_feed_after_close_raises_and_close_is_idempotent() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\n")
    assert len(decoder.close()) == 1
    assert decoder.close() == []
    with pytest.raises(SSEError):
        decoder.feed(b"data: b\n\n")


def test_empty_chunks_are_harmless() -> None:
    events, decoder = feed_chunks([b"", b"data: a\r", b"", b"\n", b"", b"\n", b""])
    assert datas(events) == ["a"]
    assert decoder.violations == []


def test_violation_kinds_are_all_declared() -> None:
    stream = b"data: [DONE]\n\nfoo\nid: \x00\nretry: x\ndata: \xff\n\ndata: late"
    _, violations = decode_all(stream)
    assert set(kinds(violations)) == VIOLATION_KINDS


def test_fast_event_constructor_matches_dataclass() -> None:
    built = _new_event("d", "e", "i", 5, False)
    assert built == ServerSentEvent("d", "e", "i", 5, False)
    assert type(built) is ServerSentEvent
    with pytest.raises(AttributeError):
        built.data = "x"  # type: ignore[misc]


def test_iter_events_and_decode_all_agree() -> None:
    stream = b"data: a\n\ndata: b\n"
    decoder = SSEDecoder()
    iterated = list(iter_events([stream[:5], stream[5:]], decoder))
    events, violations = decode_all(stream)
    assert iterated == events
    assert decoder.violations == violations
    assert kinds(violations) == ["unterminated_event"]


# -- exact messages, state and chunking of every violation ----------------------------------

# One stream that breaks every rule once, with a BOM in front and one inside the data.
_ALL_FAULTS = (
    b"\xef\xbb\xbfdata: [DONE]\n\nfoo: 1\r\nid: a\x00b\rretry: 1x\ndata: \xff\n\n"
    b"data: \xef\xbb\xbfx\r\n\r\ndata: late"
)
_ALL_FAULTS_EVENTS = [
    ServerSentEvent("[DONE]"),
    ServerSentEvent("\ufffd"),
    ServerSentEvent("\ufeffx"),
    ServerSentEvent("late", terminated=False),
]
_ALL_FAULTS_VIOLATIONS = [
    SSEViolation("unknown_field", "unknown field 'foo' ignored", 17),
    SSEViolation("invalid_id", "id 'a\\x00b' contains NUL; ignored", 25),
    SSEViolation("invalid_retry", "retry '1x' is not only ASCII digits; ignored", 33),
    SSEViolation(
        "invalid_utf8",
        "1 invalid UTF-8 sequence(s) in the line replaced with U+FFFD, the first b'\\xff'",
        49,
    ),
    SSEViolation("data_after_done", "event after [DONE]: '\ufffd'", 51),
    SSEViolation("data_after_done", "event after [DONE]: '\\ufeffx'", 64),
    SSEViolation(
        "trailing_partial_line", "stream ended inside a line (10 bytes with no line break)", 66
    ),
    SSEViolation(
        "unterminated_event",
        "stream ended before the blank line that dispatches the last event; "
        "dispatched anyway with terminated=False",
        76,
    ),
    SSEViolation("data_after_done", "event after [DONE]: 'late'", 76),
]


def test_every_violation_has_its_exact_message_and_offset() -> None:
    events, violations = decode_all(_ALL_FAULTS)
    assert events == _ALL_FAULTS_EVENTS
    assert violations == _ALL_FAULTS_VIOLATIONS
    assert set(kinds(violations)) == VIOLATION_KINDS


def test_every_split_of_a_faulty_stream_gives_the_same_events_and_violations() -> None:
    # Two- and three-chunk splits put a boundary everywhere: inside the BOM and the data BOM,
    # between CR and LF, inside the bad byte's line and inside the final partial line.
    for first, second in itertools.combinations_with_replacement(range(len(_ALL_FAULTS) + 1), 2):
        events, decoder = feed_chunks(split_at(_ALL_FAULTS, [first, second]))
        assert events == _ALL_FAULTS_EVENTS, (first, second)
        assert decoder.violations == _ALL_FAULTS_VIOLATIONS, (first, second)
    events, decoder = feed_chunks([bytes([byte]) for byte in _ALL_FAULTS])
    assert events == _ALL_FAULTS_EVENTS
    assert decoder.violations == _ALL_FAULTS_VIOLATIONS


def test_lf_completing_a_crlf_across_chunks_counts_in_offsets() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\nfoo: 1\n\n") == [ServerSentEvent("a")]
    assert decoder.violations == [SSEViolation("unknown_field", "unknown field 'foo' ignored", 9)]


def test_chunk_ending_mid_line_returns_every_event_its_cr_line_breaks_completed() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\rdata: b\r\rdata: c") == [
        ServerSentEvent("a"),
        ServerSentEvent("b"),
    ]
    assert decoder.feed(b"\r\r") == [ServerSentEvent("c")]
    assert decoder.close() == []
    assert decoder.violations == []


def test_bom_at_the_start_of_a_later_chunk_is_data() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: ") == []
    assert decoder.feed(b"\xef\xbb\xbfa\n\n") == [ServerSentEvent("\ufeffa")]


def test_partial_line_fed_in_pieces_is_flushed_whole() -> None:
    events, decoder = feed_chunks([b"data: a", b"b", b"c"])
    assert events == [ServerSentEvent("abc", terminated=False)]
    assert decoder.violations[0] == SSEViolation(
        "trailing_partial_line", "stream ended inside a line (9 bytes with no line break)", 0
    )


@pytest.mark.parametrize(("length", "clipped"), [(1, False), (60, False), (61, True), (500, True)])
def test_long_values_are_clipped_in_messages(length: int, clipped: bool) -> None:
    # A hostile value can be a megabyte: messages show its first 60 characters and "...".
    value, bad_id = "x" * length, "\0" + "x" * (length - 1)

    def shown(text: str) -> str:
        return repr(text[:60]) + "..." if clipped else repr(text)

    stream = f"{value}\nid: {bad_id}\nretry: {value}\ndata: [DONE]\n\ndata: {value}\n\n"
    _, violations = decode_all(stream.encode())
    assert [violation.message for violation in violations] == [
        f"unknown field {shown(value)} ignored",
        f"id {shown(bad_id)} contains NUL; ignored",
        f"retry {shown(value)} is not only ASCII digits; ignored",
        f"event after [DONE]: {shown(value)}",
    ]


def test_fresh_decoder_state() -> None:
    decoder = SSEDecoder()
    assert decoder.last_event_id == ""
    assert decoder.done is False
    assert decoder.reconnection_time is None
    assert decoder.violations == []
    assert decoder.comments == []
    assert decoder.close() == []
    assert decoder.violations == []


def test_feed_after_close_message() -> None:
    decoder = SSEDecoder()
    decoder.close()
    with pytest.raises(SSEError) as raised:
        decoder.feed(b"")
    assert str(raised.value) == "SSEDecoder.feed() called after close()"


def test_event_factory_builds_what_the_dataclass_builds() -> None:
    # _new_event is built at import; building afresh checks the factory itself.
    build = _event_factory()
    for args in [("d", "e", "i", 5, False), ("", "message", None, None, True)]:
        built = build(*args)
        assert type(built) is ServerSentEvent
        assert built == ServerSentEvent(*args)
        assert (built.data, built.event, built.id, built.retry, built.terminated) == args


def test_iter_events_makes_its_own_decoder() -> None:
    chunks = [b"data: a\n", b"\ndata: b"]
    assert list(iter_events(chunks)) == [ServerSentEvent("a"), ServerSentEvent("b", terminated=False)]


# -- property: rendering then decoding is the identity, whatever the chunking ----------------

_line_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"))


@dataclass(frozen=True)
class _Spec:
    data: str
    event: str | None
    id: str | None
    retry: int | None
    comment: str | None


_specs = st.builds(
    _Spec,
    data=st.lists(_line_text, min_size=1, max_size=4).map("\n".join),
    event=st.none() | _line_text,
    id=st.none() | _line_text.filter(lambda text: "\0" not in text),
    retry=st.none() | st.integers(min_value=0, max_value=10**12),
    comment=st.none() | _line_text,
)


def _render(specs: Sequence[_Spec], endings: st.DataObject) -> bytes:
    lines: list[str] = []
    for spec in specs:
        if spec.comment is not None:
            lines.append(f":{spec.comment}")
        if spec.event is not None:
            lines.append(f"event: {spec.event}")
        if spec.id is not None:
            lines.append(f"id: {spec.id}")
        if spec.retry is not None:
            lines.append(f"retry: {spec.retry}")
        lines.extend(f"data: {part}" for part in spec.data.split("\n"))
        lines.append("")
    out: list[str] = []
    previous = ""
    for line in lines:
        eol = endings.draw(st.sampled_from(["\n", "\r\n", "\r"]))
        if previous == "\r" and not line and eol == "\n":
            eol = "\r\n"  # CR then an empty line's LF would merge into one CRLF break
        out.append(line + eol)
        previous = eol
    return "".join(out).encode()


def _expected(specs: Sequence[_Spec]) -> list[ServerSentEvent]:
    events, last_id = [], ""
    for spec in specs:
        last_id = last_id if spec.id is None else spec.id
        events.append(
            ServerSentEvent(spec.data, spec.event or "message", last_id or None, spec.retry)
        )
    return events


@settings(max_examples=300, deadline=None, database=None)
@given(specs=st.lists(_specs, max_size=6), bom=st.booleans(), draw=st.data())
def test_render_split_decode_roundtrip(specs: list[_Spec], bom: bool, draw: st.DataObject) -> None:
    stream = (b"\xef\xbb\xbf" if bom else b"") + _render(specs, draw)
    points = draw.draw(st.lists(st.integers(0, len(stream)), max_size=8))
    events, decoder = feed_chunks(split_at(stream, points))
    assert events == _expected(specs)
    assert set(kinds(decoder.violations)) <= {"data_after_done"}  # only if data was "[DONE]"


# -- real GLM recordings ------------------------------------------------------------------


@pytest.mark.parametrize("path", recording_params())
def test_recorded_stream_decodes_cleanly(path: Path) -> None:
    events, violations = decode_all(path.read_bytes())
    assert violations == []
    assert events, "no events"
    assert events[-1].is_done
    assert all(event.terminated and event.event == "message" for event in events)
    for event in events[:-1]:
        assert not event.is_done
        assert event.data.startswith("{") and event.data.endswith("}")


@pytest.mark.parametrize("path", recording_params())
@pytest.mark.parametrize("size", [1, 7, 4096])
def test_recorded_stream_is_chunking_independent(path: Path, size: int) -> None:
    stream = path.read_bytes()
    expected, _ = decode_all(stream)
    chunks = [stream[start : start + size] for start in range(0, len(stream), size)]
    events, decoder = feed_chunks(chunks)
    assert events == expected
    assert decoder.violations == []


def test_every_split_point_of_a_recorded_stream() -> None:
    # The smallest recording with non-ASCII text, so some splits fall inside a character, cut at
    # event boundaries to its first two events, its first with non-ASCII text, and its end (the
    # usage chunk, [DONE]): every kind of byte a split can fall on, in a twelfth of the bytes, as
    # each split point decodes the whole stream again.
    with_multibyte = [path for path in RECORDINGS if any(b > 0x7F for b in path.read_bytes())]
    events = min(with_multibyte, key=lambda path: path.stat().st_size).read_bytes().split(b"\n\n")
    first_non_ascii = next(event for event in events if any(b > 0x7F for b in event))
    stream = b"\n\n".join([*events[:2], first_non_ascii, *events[-3:]])
    expected, _ = decode_all(stream)
    assert len(expected) == 5 and expected[-1].is_done
    for point in range(len(stream) + 1):
        events, decoder = feed_chunks([stream[:point], stream[point:]])
        assert events == expected, point
        assert decoder.violations == [], point


@pytest.mark.parametrize("path", recording_params())
def test_recorded_stream_matches_httpx_sse(path: Path) -> None:
    httpx_sse_decoders = pytest.importorskip("httpx_sse._decoders")
    stream = path.read_bytes()
    line_decoder = httpx_sse_decoders.SSELineDecoder()
    reference = httpx_sse_decoders.SSEDecoder()
    lines = [*line_decoder.decode(stream.decode()), *line_decoder.flush()]
    theirs = [sse for line in lines if (sse := reference.decode(line)) is not None]
    ours, _ = decode_all(stream)
    assert [(e.event, e.data) for e in ours] == [(e.event, e.data) for e in theirs]
