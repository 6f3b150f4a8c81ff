"""Replay recorded transcripts through the twin's adapters, byte for byte, on the recorded clock.

`ReplayTwin` has the twin's one method, `handle(WireRequest) -> Reply`, so `twin_router()` (respx,
in-process) and `twin_app()` (ASGI over uvicorn) serve it unchanged: a bug seen once on the live
API becomes an offline test.

Each reply carries the recorded status and headers, then the recorded chunks, exactly as they
arrived, each at its recorded time after the request (divided by `speed`). The replies are
marked `precise`: the adapters send each chunk at its absolute deadline from the start of the
reply and spin through the last millisecond, so timer lateness neither adds up nor shows.

A recording that ended in a transport error replays it: a reset where the connection broke, or,
for a timeout, a stall one second longer than the recorded wait, then a reset.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from ..surface import Surface
from ..transcript import Transcript, load_all
from .engine import Reply, WireRequest
from .render import Step

Match = Literal["sequence", "request"]
DEFAULT_BASE_PATH = "/api/paas/v4"
_TIMEOUT_GRACE_S = 1.0


class ReplayTwin:
    """Answers requests with recorded exchanges, in order (cycling) or matched by request."""

    def __init__(self, transcripts: Iterable[Transcript | str | Path], speed: float = 1.0,
                 match: Match = "sequence") -> None:
        if not speed > 0:
            raise ValueError(f"replay speed must be > 0, got {speed!r}")
        if match not in ("sequence", "request"):
            raise ValueError(f"match must be 'sequence' or 'request', got {match!r}")
        loaded: list[Transcript] = []
        for item in transcripts:
            loaded += [item] if isinstance(item, Transcript) else load_all([item])
        self.skipped = [t for t in loaded if t.status is None]
        self.transcripts = [t for t in loaded if t.status is not None]
        if not self.transcripts:
            raise ValueError("nothing to replay: no transcript with a response"
                             + (f" ({len(self.skipped)} had none: transport error)" if self.skipped else ""))
        self.speed = speed
        self.match = match
        self._lock = threading.Lock()
        self._next = itertools.count()
        self._by_request: dict[str, list[Transcript]] = {}
        self._request_turns: dict[str, itertools.count[int]] = {}
        for t in self.transcripts:
            self._by_request.setdefault(_request_key(t.request.json_body), []).append(t)
        self.requests: list[WireRequest] = []

    @classmethod
    def from_paths(cls, paths: Sequence[str | Path], **options: Any) -> ReplayTwin:
        """Files, or directories of `*.json` transcripts (sorted by name: the recording order)."""
        return cls(load_all(list(paths)), **options)

    @property
    def base_path(self) -> str:
        """The API prefix the first recording was made on (for the served URL)."""
        path = self.transcripts[0].request.path
        for suffix in (Surface.OPENAI.endpoint, Surface.ANTHROPIC.endpoint):
            if path.endswith(suffix) and path != suffix:
                return path[: -len(suffix)]
        return DEFAULT_BASE_PATH

    def reset(self) -> None:
        with self._lock:
            self._next = itertools.count()
            self._request_turns.clear()
            self.requests.clear()

    # -- the request path ---------------------------------------------------------------------
    def handle(self, request: WireRequest) -> Reply:
        self.requests.append(request)
        transcript = self._pick(request)
        if transcript is None:
            body = {"error": {"code": "replay_no_match",
                              "message": "no recorded exchange matches this request's model and messages"}}
            return Reply(404, {"content-type": "application/json; charset=UTF-8"},
                         json.dumps(body).encode())
        return self.reply_for(transcript)

    def _pick(self, request: WireRequest) -> Transcript | None:
        with self._lock:
            if self.match == "sequence":
                return self.transcripts[next(self._next) % len(self.transcripts)]
            try:
                body = json.loads(request.body)
            except (UnicodeDecodeError, json.JSONDecodeError):
                body = None
            key = _request_key(body if isinstance(body, dict) else None)
            candidates = self._by_request.get(key)
            if not candidates:
                return None
            turn = self._request_turns.setdefault(key, itertools.count())
            return candidates[next(turn) % len(candidates)]

    def reply_for(self, transcript: Transcript) -> Reply:
        """The reply that reproduces `transcript`: its bytes, each at its recorded time (divided
        by the speed), paced precisely by the adapter from the moment it starts sending."""
        status = transcript.status if transcript.status is not None else 502
        headers = dict(transcript.headers)
        timed = _timed_steps(transcript)
        if not transcript.stream and len(timed) == 1 and not timed[0][1].reset:
            offset, step = timed[0]
            return Reply(status, headers, step.data, delay_s=offset / self.speed, precise=True)
        offsets = [offset / self.speed for offset, _ in timed]
        gaps = [b - a for a, b in zip([0.0, *offsets], offsets, strict=False)]
        script = [Step(max(0.0, g), s.data, s.reset) for g, (_, s) in zip(gaps, timed, strict=True)]
        return Reply(status, headers, script=script, precise=True)


def _timed_steps(transcript: Transcript) -> list[tuple[float, Step]]:
    """(seconds after the request, step), in order; the speed is applied by the caller."""
    timed: list[tuple[float, Step]] = []
    if transcript.chunks is not None:
        timed = [(max(0.0, c.t_ms) / 1000, Step(0.0, c.raw)) for c in transcript.chunks]
    elif transcript.status is not None:
        timed = [((transcript.body_ms or 0.0) / 1000, Step(0.0, transcript.response_bytes))]
    # monotone offsets: chunks are recorded in arrival order, but be safe against edits
    for i in range(1, len(timed)):
        if timed[i][0] < timed[i - 1][0]:
            timed[i] = (timed[i - 1][0], timed[i][1])
    if transcript.transport_error:
        last = timed[-1][0] if timed else 0.0
        ended = max(last, (transcript.ended_ms or 0.0) / 1000)
        # transcripts written before transport_error_kind existed name the httpx exception
        kind = transcript.transport_error_kind or (
            "timeout" if "timeout" in transcript.transport_error.lower() else None)
        if kind == "timeout":
            ended += _TIMEOUT_GRACE_S
        timed.append((ended, Step(0.0, reset=True)))
    return timed


def _request_key(body: dict[str, Any] | None) -> str:
    if body is None:
        return "null"
    # stream too: a streamed and a plain request with the same turns want different answers
    # (and `system`, which the Messages API sends beside the turns)
    return json.dumps({"model": body.get("model"), "messages": body.get("messages"),
                       "stream": bool(body.get("stream")), "system": body.get("system")},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))
