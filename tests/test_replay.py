"""Replaying transcripts through the twin's two adapters: the same bytes, in the same order, with
the recorded status and headers. Timing is checked as arithmetic on the script (a fake clock),
never against the wall clock; the measured figures are in benchmarks/replay_timing.py."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from harness.client import AsyncGLMClient, Exchange, GLMClient
from harness.mock import GLMTwin, Style, Timing, TwinConfig, twin_router
from harness.mock._pacing import Pacer
from harness.mock.replay import ReplayTwin
from harness.mock.server import add_serve_arguments, main, running_twin, twin_from_args
from harness.targets import MOCK_BASE_URL, mock_target
from harness.transcript import Chunk, Transcript, from_exchange, load_all, save

MODEL = "glm-4.6"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "transcripts"


def ask(text: str, **params: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], "max_tokens": 256,
            "thinking": {"type": "disabled"}, **params}


STREAM = ask("Tell me about timing.", stream=True)
PLAIN = ask("Say hello.")
BAD = ask("Say hello.", temperature=7)


@pytest.fixture(scope="module")
def recorded() -> dict[str, Transcript]:
    """A stream, a plain answer and an error, recorded from the twin over real HTTP with known
    timing (TTFT 50 ms, gaps 10 ms, jitter 0.5, seed 1)."""
    config = TwinConfig(timing=Timing(ttft_ms=50, itl_ms=10, jitter=0.5, seed=1),
                        style=Style(reply_tokens=12))
    with running_twin(GLMTwin(config)) as running, \
            GLMClient(mock_target(MODEL, running.base_url)) as client:
        return {name: from_exchange(client.send(body), scenario=name)
                for name, body in (("stream", STREAM), ("plain", PLAIN), ("error", BAD))}


def via_respx(twin: ReplayTwin, *bodies: dict[str, Any]) -> list[Exchange]:
    with twin_router(twin, base_url=MOCK_BASE_URL), GLMClient(mock_target(MODEL)) as client:
        return [client.send(body) for body in bodies]


def events(exchange: Exchange) -> list[str]:
    return [e.event.data for e in exchange.events]


def assert_same_stream(exchange: Exchange, transcript: Transcript) -> None:
    assert exchange.transport_error is None
    assert exchange.status == transcript.status == 200
    assert exchange.content_type == transcript.headers["content-type"]
    assert exchange.body == transcript.response_bytes
    recorded = [e.decode() for e in transcript.response_bytes.split(b"\n\n") if e]
    assert ["data: " + d for d in events(exchange)] == recorded, "events differ or are out of order"
    arrivals = [at for at, _ in exchange.chunks]
    assert arrivals == sorted(arrivals)


# -- byte for byte through both adapters ---------------------------------------------------------
def test_recorded_stream_has_timed_chunks(recorded: dict[str, Transcript]) -> None:
    chunks = recorded["stream"].chunks or []
    assert recorded["stream"].stream and len(chunks) > 10
    times = [c.t_ms for c in chunks]
    assert times == sorted(times) and times[0] > 0


def test_respx_sync_replays_every_chunk_exactly(recorded: dict[str, Transcript]) -> None:
    transcript = recorded["stream"]
    (exchange,) = via_respx(ReplayTwin([transcript]), STREAM)
    assert_same_stream(exchange, transcript)
    assert [data for _, data in exchange.chunks] == [c.raw for c in transcript.chunks or []]


def test_respx_async_replays_every_chunk_exactly(recorded: dict[str, Transcript]) -> None:
    transcript = recorded["stream"]

    async def go() -> Exchange:
        with twin_router(ReplayTwin([transcript]), base_url=MOCK_BASE_URL):
            async with AsyncGLMClient(mock_target(MODEL)) as client:
                return await client.send(STREAM)

    exchange = asyncio.run(go())
    assert_same_stream(exchange, transcript)
    assert [data for _, data in exchange.chunks] == [c.raw for c in transcript.chunks or []]


def test_http_twin_replays_the_same_bytes_in_order(recorded: dict[str, Transcript]) -> None:
    transcript = recorded["stream"]
    with running_twin(ReplayTwin([transcript])) as running, \
            GLMClient(mock_target(MODEL, running.base_url)) as client:
        exchange = client.send(STREAM)
    assert_same_stream(exchange, transcript)


@pytest.mark.parametrize("name", ["plain", "error"])
def test_plain_and_error_answers_replay_status_headers_and_body(recorded: dict[str, Transcript], name: str) -> None:
    transcript = recorded[name]
    (via_router,) = via_respx(ReplayTwin([transcript]), {"anything": True})
    with running_twin(ReplayTwin([transcript])) as running, \
            GLMClient(mock_target(MODEL, running.base_url)) as client:
        via_http = client.send({"anything": True})
    for exchange in (via_router, via_http):
        assert exchange.status == transcript.status
        assert exchange.content_type == transcript.headers["content-type"]
        assert exchange.body == transcript.response_bytes


def test_a_replay_of_a_replay_is_the_same_transcript(recorded: dict[str, Transcript]) -> None:
    transcript = recorded["stream"]
    (exchange,) = via_respx(ReplayTwin([transcript], speed=50), STREAM)
    again = from_exchange(exchange)
    assert again.response_bytes == transcript.response_bytes
    assert [c.raw for c in again.chunks or []] == [c.raw for c in transcript.chunks or []]
    assert again.headers == transcript.headers


def test_serve_replay_options_build_a_replay_twin(recorded: dict[str, Transcript], tmp_path: Path) -> None:
    save(recorded["stream"], tmp_path)
    parser = add_serve_arguments(argparse.ArgumentParser())
    twin = twin_from_args(parser.parse_args(["--replay", str(tmp_path), "--replay-speed", "4",
                                             "--replay-match", "request"]))
    assert isinstance(twin, ReplayTwin)
    assert (twin.speed, twin.match, len(twin.transcripts)) == (4.0, "request", 1)
    assert isinstance(twin_from_args(parser.parse_args([])), GLMTwin)
    with running_twin(twin) as running, GLMClient(mock_target(MODEL, running.base_url)) as client:
        assert running.base_url.endswith("/api/paas/v4")
        assert client.send(STREAM).body == recorded["stream"].response_bytes


@pytest.mark.parametrize("argv", [["--replay", "/no/such/transcript.json"], ["--replay-speed", "0"]])
def test_serve_bad_replay_option_is_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "0", *argv]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_serve_unreadable_transcript_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["--port", "0", "--replay", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot replay" in err


# -- the script's timing, as arithmetic -----------------------------------------------------------
def _transcript(times_ms: list[float], status: int | None = 200, **extra: Any) -> Transcript:
    return Transcript(
        recorded_at="2025-01-01T00:00:00Z", target={"kind": "mock", "base_url": MOCK_BASE_URL, "model": MODEL},
        request={"url": MOCK_BASE_URL + "/chat/completions", "json": ask("x", stream=True)},
        status=status, headers={"content-type": "text/event-stream;charset=UTF-8"}, stream=True,
        chunks=[Chunk(t_ms=t, data=f"data: {i}\n\n") for i, t in enumerate(times_ms)], **extra)


def test_replay_gives_recorded_gaps_divided_by_speed_and_asks_for_precise_pacing() -> None:
    twin = ReplayTwin([_transcript([40.0, 50.0, 75.0, 75.0])], speed=2.0)
    reply = twin.reply_for(twin.transcripts[0])
    assert reply.script is not None and reply.precise
    assert [s.delay_s for s in reply.script] == pytest.approx([0.020, 0.005, 0.0125, 0.0])
    assert [s.data for s in reply.script] == [f"data: {i}\n\n".encode() for i in range(4)]


def test_pacer_deadlines_add_up_from_the_start_so_lateness_does_not() -> None:
    pacer = Pacer()
    start = pacer.deadline(0.0)
    assert [pacer.deadline(d) - start for d in (0.040, 0.010, 0.025)] == pytest.approx([0.040, 0.050, 0.075])


def test_a_reset_recording_ends_in_a_reset_and_a_timeout_in_a_longer_stall() -> None:
    reset = _transcript([10.0, 20.0], transport_error="RemoteProtocolError: peer closed", ended_ms=30.0)
    timeout = _transcript([10.0], transport_error="ReadTimeout: timed out", ended_ms=2010.0)
    twin = ReplayTwin([reset, timeout])
    reset_script = twin.reply_for(reset).script
    timeout_script = twin.reply_for(timeout).script
    assert reset_script is not None and timeout_script is not None
    assert [s.reset for s in reset_script] == [False, False, True]
    assert reset_script[-1].delay_s == pytest.approx(0.010)
    assert timeout_script[-1].reset and timeout_script[-1].delay_s == pytest.approx(2.0 + 1.0)



def test_the_recorded_kind_of_transport_error_decides_how_the_replay_ends() -> None:
    """A timeout is known by its kind (harness.errors), whatever the message says."""
    timeout = _transcript([10.0], transport_error="SomeProxyError: gave up", transport_error_kind="timeout",
                          ended_ms=2010.0)
    reset = _transcript([10.0], transport_error="RemoteProtocolError: read timeout in the proxy",
                        transport_error_kind="protocol", ended_ms=2010.0)
    twin = ReplayTwin([timeout, reset])
    timeout_script, reset_script = twin.reply_for(timeout).script, twin.reply_for(reset).script
    assert timeout_script is not None and reset_script is not None
    assert timeout_script[-1].delay_s == pytest.approx(2.0 + 1.0)
    assert reset_script[-1].delay_s == pytest.approx(2.0)


def test_a_replayed_reset_breaks_the_clients_stream(recorded: dict[str, Transcript]) -> None:
    broken = recorded["stream"].model_copy(update={
        "chunks": (recorded["stream"].chunks or [])[:3], "transport_error": "RemoteProtocolError: x",
        "ended_ms": (recorded["stream"].chunks or [])[2].t_ms})
    (exchange,) = via_respx(ReplayTwin([broken], speed=100), STREAM)
    assert exchange.transport_error is not None
    assert (exchange.transport_error.kind, exchange.transport_error.name) == ("protocol", "RemoteProtocolError")
    assert exchange.body == broken.response_bytes


# -- matching -------------------------------------------------------------------------------------
def _answer(text: str, body: str) -> Transcript:
    return Transcript(
        recorded_at="2025-01-01T00:00:00Z", target={"kind": "mock", "base_url": MOCK_BASE_URL, "model": MODEL},
        request={"url": MOCK_BASE_URL + "/chat/completions", "json": ask(text)},
        status=200, headers={"content-type": "application/json"}, stream=False, body=body, body_ms=0.0)


def test_sequence_matching_answers_in_order_and_cycles() -> None:
    twin = ReplayTwin([_answer("a", "A"), _answer("b", "B")])
    exchanges = via_respx(twin, ask("z"), ask("z"), ask("z"))
    assert [e.body for e in exchanges] == [b"A", b"B", b"A"]
    assert len(twin.requests) == 3


def test_request_matching_finds_the_recording_by_model_and_messages() -> None:
    twin = ReplayTwin([_answer("a", "A"), _answer("b", "B"), _answer("a", "A2")], match="request")
    exchanges = via_respx(twin, ask("b"), ask("a", max_tokens=1), ask("a"), ask("nothing like it"))
    assert [e.body for e in exchanges[:3]] == [b"B", b"A", b"A2"]
    assert exchanges[3].status == 404 and exchanges[3].json()["error"]["code"] == "replay_no_match"


def test_transcripts_without_a_response_are_skipped_and_none_at_all_refused() -> None:
    empty = _transcript([], status=None, transport_error="ConnectError: refused")
    twin = ReplayTwin([empty, _answer("a", "A")])
    assert len(twin.transcripts) == 1 and twin.skipped == [empty]
    with pytest.raises(ValueError, match="nothing to replay"):
        ReplayTwin([empty])
    with pytest.raises(ValueError, match="speed"):
        ReplayTwin([_answer("a", "A")], speed=0)


# -- the committed transcripts -------------------------------------------------------------------
def _committed() -> list[Transcript]:
    return load_all([FIXTURES]) if FIXTURES.is_dir() else []


def test_there_are_committed_transcripts() -> None:
    scenarios = {t.scenario for t in _committed()}
    assert {"stream", "thinking", "tool_stream", "error"} <= scenarios


@pytest.mark.parametrize("transcript", _committed(), ids=lambda t: t.scenario or "?")
def test_committed_transcript_replays_byte_for_byte(transcript: Transcript) -> None:
    (exchange,) = via_respx(ReplayTwin([transcript], speed=1000), transcript.request.json_body or {})
    assert exchange.status == transcript.status
    assert exchange.body == transcript.response_bytes
    if transcript.stream:
        assert [data for _, data in exchange.chunks] == [c.raw for c in transcript.chunks or []]
    assert "<scrubbed>" in json.dumps(transcript.request.headers), "the key must have been scrubbed"


# -- the handler the adapters call -----------------------------------------------------------------
def test_replay_twin_has_the_twins_handle_signature() -> None:
    from harness.mock.engine import Reply, WireRequest

    reply = ReplayTwin([_answer("a", "A")]).handle(WireRequest("POST", "/api/paas/v4/chat/completions", {}, b"{}"))
    assert isinstance(reply, Reply) and reply.status == 200 and reply.body == b"A"
